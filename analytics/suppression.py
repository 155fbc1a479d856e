"""Small-cell suppression (DESIGN.md §7): an aggregate over fewer than ``min_cell_size``
patients is not shown. The default follows the CMS convention (counts of 1-10 hidden).

Library functions return numbers; suppression is applied to their output tables by the
functions here, so that every page, report and export can apply the same rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

DEFAULT_MIN_CELL_SIZE = 11
STAT_COLUMNS = ("mean", "sd", "median", "ci95_low", "ci95_high")


def suppressed_label(min_cell_size: int = DEFAULT_MIN_CELL_SIZE) -> str:
    return f"<{min_cell_size}"


def is_small(n: int | float | np.ndarray | pd.Series, min_cell_size: int = DEFAULT_MIN_CELL_SIZE):
    """True where a count of patients is above 0 and below the threshold."""
    return (np.asarray(n) > 0) & (np.asarray(n) < min_cell_size)


def suppress_rows(
    table: pd.DataFrame,
    *,
    n_column: str,
    value_columns: Sequence[str],
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> pd.DataFrame:
    """Blank ``value_columns`` in rows whose ``n_column`` is below the threshold.

    Adds a boolean ``suppressed`` column. The count itself stays in the table for checks,
    but must be displayed as ``suppressed_label()`` where ``suppressed`` is true.
    """
    out = table.copy()
    small = out[n_column] < min_cell_size
    out["suppressed"] = small
    cols = [c for c in value_columns if c in out.columns]
    out[cols] = out[cols].astype("float64")
    out.loc[small, cols] = np.nan
    return out


def suppress_trajectory(
    trajectory: pd.DataFrame, min_cell_size: int = DEFAULT_MIN_CELL_SIZE
) -> pd.DataFrame:
    """Blank the statistics of trajectory points over fewer than ``min_cell_size`` patients."""
    return suppress_rows(
        trajectory, n_column="n", value_columns=STAT_COLUMNS, min_cell_size=min_cell_size
    )


# --- Added for the Durability and Statistics pages ------------------------------------------


def count_label(n: int | float, min_cell_size: int = DEFAULT_MIN_CELL_SIZE) -> str:
    """A patient count as displayed: ``"<11"`` for 1 to ``min_cell_size`` - 1, else the number."""
    if n is None or (isinstance(n, float) and np.isnan(n)):
        return "—"
    if is_small(n, min_cell_size):
        return suppressed_label(min_cell_size)
    return f"{int(n):,}"


def complementary_suppression(
    n: Sequence[float] | np.ndarray | pd.Series, min_cell_size: int = DEFAULT_MIN_CELL_SIZE
) -> np.ndarray:
    """Which groups to hide so that no small group can be worked out from a total.

    Groups of 1 to ``min_cell_size`` - 1 patients are hidden (primary suppression). When the
    hidden groups add up to fewer than ``min_cell_size`` patients, the total shown beside the
    groups would give them away, so the smallest shown groups are hidden as well until the
    hidden groups add up to at least ``min_cell_size`` (or every group is hidden).
    Returns a boolean array aligned with ``n``.
    """
    counts = np.asarray(n, dtype="float64")
    hidden = is_small(counts, min_cell_size)
    while hidden.any() and counts[hidden].sum() < min_cell_size:
        shown = np.flatnonzero(~hidden & (counts > 0))
        if shown.size == 0:
            break
        hidden[shown[np.argmin(counts[shown])]] = True
    return hidden


def suppress_curve_tail(
    curves: pd.DataFrame,
    *,
    n_column: str = "n_at_risk",
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> pd.DataFrame:
    """Drop the points of a survival curve estimated from fewer than ``min_cell_size``
    patients at risk: each curve ends where its number at risk falls below the threshold."""
    return curves.loc[curves[n_column] >= min_cell_size].reset_index(drop=True)
