"""Small-cell suppression (DESIGN.md §7): an aggregate over fewer than ``min_cell_size``
patients is not shown. The default follows the CMS convention (counts of 1-10 hidden)."""

from __future__ import annotations

import pandas as pd

DEFAULT_MIN_CELL_SIZE = 11
STAT_COLUMNS = ("mean", "sd", "median", "ci95_low", "ci95_high")


def suppressed_label(min_cell_size: int = DEFAULT_MIN_CELL_SIZE) -> str:
    return f"<{min_cell_size}"


def suppress_trajectory(
    trajectory: pd.DataFrame, min_cell_size: int = DEFAULT_MIN_CELL_SIZE
) -> pd.DataFrame:
    """Blank the statistics of trajectory points over fewer than ``min_cell_size`` patients.

    Adds a boolean ``suppressed`` column; ``n`` is kept for the check but must be shown as
    ``<min_cell_size`` where ``suppressed`` is true.
    """
    out = trajectory.copy()
    small = out["n"] < min_cell_size
    out["suppressed"] = small
    cols = [c for c in STAT_COLUMNS if c in out.columns]
    out.loc[small, cols] = float("nan")
    return out
