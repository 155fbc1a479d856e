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
