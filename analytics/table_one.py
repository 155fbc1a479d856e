"""Table 1: the cohort described by its patient-level covariates, overall and by group.

One row per patient in, a text table out (the shape of a paper's "Table 1"):

- categorical covariates (text, yes/no, or numbers with at most 10 distinct values, as the
  sidebar's filters treat them): ``n (%)`` per level, the percentage of the column's
  patients; a missing value is its own level, ``Missing``, so each variable sums to 100%;
- numeric covariates: ``mean (SD)``, or ``median [Q1, Q3]`` when the distribution is skewed
  (absolute sample skewness over all patients > 1, pandas' adjusted Fisher-Pearson
  coefficient) or the caller lists it in ``nonnormal``; a ``Missing, n (%)`` row when any value
  is missing. Quartiles are pandas' linear interpolation (``numpy.percentile``'s default).

Small-cell suppression (DESIGN.md §7): counts of 1 to ``min_cell_size`` - 1 patients show as
"<11", and further counts are hidden ("hidden") where a small count could be worked out from
the totals shown beside it (:func:`analytics.suppression.protect_cells`, with the group sizes
and the overall column as the margins). A group of fewer than ``min_cell_size`` patients is
not shown as a column of its own: it is combined with the next smallest groups, enough that
the combined column holds at least ``min_cell_size`` patients
(:func:`analytics.suppression.complementary_suppression`), so that no group's numbers can be
worked out from the overall column. A numeric statistic over fewer than ``min_cell_size``
patients with a value is not shown.

Columns of :attr:`TableOne.table`: ``variable``, ``level`` (the level of a categorical
variable, the statistic of a numeric one, or ``""``), one column per group shown (with its
size in the header), and ``Overall``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics import schema as s
from analytics.suppression import (
    COMPLEMENTARY,
    DEFAULT_MIN_CELL_SIZE,
    PRIMARY,
    complementary_suppression,
    protect_cells,
    suppressed_label,
)

OVERALL = "Overall"
MISSING = "Missing"
MISSING_GROUP = "(missing)"
HIDDEN = "hidden"
MAX_CATEGORICAL_DISTINCT = 10
SKEW_LIMIT = 1.0
MEAN_SD = "mean (SD)"
MEDIAN_IQR = "median [Q1, Q3]"
N_PCT = "n (%)"


@dataclass(frozen=True)
class TableOne:
    """Table 1 as text, with what it was built from.

    ``table``: see the module docstring. ``groups``: the group columns shown, in order
    (labels as in ``table``, without the size). ``combined``: the groups folded into the
    combined column (empty when none). ``kinds``: variable -> ``"categorical"`` or the
    numeric statistic used (:data:`MEAN_SD` or :data:`MEDIAN_IQR`). ``n_patients``: patients
    described.
    """

    table: pd.DataFrame
    by: str | None
    groups: tuple[str, ...]
    combined: tuple[str, ...]
    kinds: dict[str, str]
    n_patients: int
    min_cell_size: int

    def describe(self) -> list[str]:
        """The definitions behind the table, one sentence each."""
        lines = [
            "Categorical characteristics: n (%) of the column's patients; a missing value is "
            "its own level.",
            "Numeric characteristics: mean (SD), or median [Q1, Q3] when skewed (|skewness| > "
            f"{SKEW_LIMIT:g}); statistics over fewer than {self.min_cell_size} patients are "
            "not shown.",
            f"'{suppressed_label(self.min_cell_size)}': 1 to {self.min_cell_size - 1} patients; "
            "'hidden': withheld so that a small count cannot be worked out from the totals.",
        ]
        if self.combined:
            lines.append(
                f"Groups with fewer than {self.min_cell_size} patients are combined with the "
                f"next smallest ones into one column: {', '.join(self.combined)}."
            )
        return lines


def is_categorical(values: pd.Series) -> bool:
    """Text, booleans and numbers with at most 10 distinct values are categorical."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return True
    return values.nunique(dropna=True) <= MAX_CATEGORICAL_DISTINCT


def level_text(values: pd.Series) -> pd.Series:
    """Values as level labels (whole numbers without ``.0``), missing as :data:`MISSING`."""
    present = values.dropna()
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        whole = bool((present == present.round()).all())
        text = values.map(lambda v: "" if pd.isna(v) else (f"{v:.0f}" if whole else f"{v:g}"))
    else:
        text = values.astype("string").fillna("").astype(str)
    return text.where(values.notna(), MISSING)


def _level_order(labels: pd.Series, values: pd.Series) -> list[str]:
    present = values.dropna()
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        order = list(dict.fromkeys(level_text(pd.Series(sorted(present.unique())))))
    else:
        order = sorted(present.astype(str).unique())
    return order + ([MISSING] if (labels == MISSING).any() else [])


def protect_counts(
    counts: np.ndarray,
    column_totals: np.ndarray,
    *,
    hidden_rows: Sequence[int] = (),
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Suppression status of a levels x groups count table and of its overall column.

    The group sizes (``column_totals``, shown in the table's header) and the grand total are
    published; rows in ``hidden_rows`` are never displayed but can be derived (a variable's
    non-missing count). Returns ``(cells, overall)`` arrays of ``""``, ``"primary"`` or
    ``"complementary"``.
    """
    c = np.asarray(counts, dtype="float64")
    n_rows, n_cols = c.shape
    body = np.column_stack([c, c.sum(axis=1)])
    full = np.vstack([body, np.r_[column_totals, column_totals.sum()]])
    idx = np.arange(full.size).reshape(full.shape)
    lines = [list(idx[r]) for r in range(n_rows + 1)] + [list(idx[:, j]) for j in range(n_cols + 1)]
    hidden = [int(idx[r, j]) for r in hidden_rows for j in range(n_cols + 1)]
    published = [int(i) for i in idx[-1]]
    margin = np.zeros(full.shape, dtype=bool)
    margin[:, -1] = True
    cost = full.ravel() + margin.ravel() * (full.sum() + 1)  # hide cells before the overall
    sup = protect_cells(
        full.ravel(),
        lines,
        min_cell_size=min_cell_size,
        hidden=hidden,
        published=published,
        cost=cost,
    ).reshape(full.shape)
    small = (full > 0) & (full < min_cell_size)
    status = np.where(sup & small, PRIMARY, np.where(sup, COMPLEMENTARY, ""))
    return status[:-1, :-1], status[:-1, -1]


def _count_cell(n: float, total: float, status: str, min_cell_size: int) -> str:
    if status == PRIMARY:
        return suppressed_label(min_cell_size)
    if status == COMPLEMENTARY:
        return HIDDEN
    pct = 100.0 * n / total if total else float("nan")
    return f"{int(n):,} ({pct:.1f})" if np.isfinite(pct) else f"{int(n):,}"


def _numeric_text(values: pd.Series, kind: str, min_cell_size: int) -> str:
    v = values.dropna().astype("float64")
    if len(v) == 0:
        return "—"
    if len(v) < min_cell_size:
        return f"n {suppressed_label(min_cell_size)}"
    if kind == MEAN_SD:
        sd = v.std(ddof=1)
        return f"{v.mean():.1f} ({sd:.1f})" if np.isfinite(sd) else f"{v.mean():.1f} (—)"
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return f"{med:.1f} [{q1:.1f}, {q3:.1f}]"


def summarise_cohort(
    patients: pd.DataFrame,
    *,
    columns: Sequence[str],
    by: str | None = None,
    nonnormal: Sequence[str] = (),
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> TableOne:
    """Table 1 of ``columns`` in ``patients`` (one row per patient), overall and by ``by``.

    ``by`` is left out of the variables. Raises ``ValueError`` for a column that is not in
    ``patients``.
    """
    missing = [c for c in [*columns, *([by] if by else [])] if c not in patients.columns]
    if missing:
        raise ValueError(f"no such patient-level column: {', '.join(map(str, missing))}")
    t = patients.reset_index(drop=True)
    n_all = len(t)
    if by is None:
        labels = pd.Series(OVERALL, index=t.index)
        groups: list[str] = []
    else:
        labels = level_text(t[by]).replace(MISSING, MISSING_GROUP)
        groups = [g for g in _level_order(labels, t[by]) if g != MISSING]
        if (labels == MISSING_GROUP).any():
            groups.append(MISSING_GROUP)
    sizes = np.array([(labels == g).sum() for g in groups], dtype="float64")
    hide = complementary_suppression(sizes, min_cell_size) if len(groups) else np.array([])
    combined = tuple(g for g, h in zip(groups, hide, strict=True) if h)
    shown = [g for g, h in zip(groups, hide, strict=True) if not h]
    column_of = {g: g for g in shown}
    other = ""
    if combined and len(combined) < len(groups):
        other = f"Other ({len(combined)} groups combined)"
        column_of.update({g: other for g in combined})
    cols = [*shown, *([other] if other else [])]
    col_labels = labels.map(column_of) if cols else pd.Series("", index=t.index)
    if n_all == 0 or 0 < n_all < min_cell_size:
        cols = []  # nothing can be shown per group; the overall column says "<11"
    col_sizes = np.array([(col_labels == c).sum() for c in cols], dtype="float64")

    rows: list[dict[str, str]] = []
    kinds: dict[str, str] = {}
    small_total = 0 < n_all < min_cell_size

    def header(variable: str, level: str = "") -> dict[str, str]:
        return {"variable": variable, "level": level}

    first = header("Patients", "n")
    for c, n in zip(cols, col_sizes, strict=True):
        first[c] = f"{int(n):,}"
    first[OVERALL] = suppressed_label(min_cell_size) if small_total else f"{n_all:,}"
    rows.append(first)
    if small_total or n_all == 0:
        table = pd.DataFrame(rows).reindex(columns=["variable", "level", OVERALL]).fillna("")
        return TableOne(table, by, (), combined, kinds, n_all, min_cell_size)

    def count_rows(variable: str, level_labels: pd.Series, order: list[str], show: list[str]):
        counts = np.array(
            [[((level_labels == lv) & (col_labels == c)).sum() for c in cols] for lv in order],
            dtype="float64",
        ).reshape(len(order), len(cols))
        overall = np.array([(level_labels == lv).sum() for lv in order], dtype="float64")
        if cols:
            status, overall_status = protect_counts(
                counts,
                col_sizes,
                hidden_rows=[i for i, lv in enumerate(order) if lv not in show],
                min_cell_size=min_cell_size,
            )
        else:
            status = np.full((len(order), 0), "", dtype=object)
            _, o = protect_counts(
                overall[:, None],
                np.array([float(n_all)]),
                hidden_rows=[i for i, lv in enumerate(order) if lv not in show],
                min_cell_size=min_cell_size,
            )
            overall_status = o
        for i, lv in enumerate(order):
            if lv not in show:
                continue
            row = header(variable, lv)
            for j, c in enumerate(cols):
                row[c] = _count_cell(counts[i, j], col_sizes[j], status[i, j], min_cell_size)
            row[OVERALL] = _count_cell(overall[i], n_all, overall_status[i], min_cell_size)
            rows.append(row)

    for col in columns:
        if col == by or col in s.CORE_COLUMNS:
            continue
        values = t[col]
        if is_categorical(values):
            kinds[col] = "categorical"
            lv = level_text(values)
            order = _level_order(lv, values)
            rows.append(header(f"{col}, {N_PCT}"))
            count_rows("", lv, order, order)
            continue
        numeric = pd.to_numeric(values, errors="coerce")
        skew = numeric.dropna().skew()
        kind = (
            MEDIAN_IQR
            if col in nonnormal or (np.isfinite(skew) and abs(skew) > SKEW_LIMIT)
            else MEAN_SD
        )
        kinds[col] = kind
        row = header(f"{col}, {kind}")
        for c in cols:
            row[c] = _numeric_text(numeric[col_labels == c], kind, min_cell_size)
        row[OVERALL] = _numeric_text(numeric, kind, min_cell_size)
        rows.append(row)
        if numeric.isna().any():
            present = numeric.notna().map({True: "present", False: MISSING})
            count_rows("", present, [MISSING, "present"], [MISSING])
            rows[-1]["level"] = f"{MISSING}, {N_PCT}"

    table = pd.DataFrame(rows)
    named = {c: f"{c} (n = {int(n):,})" for c, n in zip(cols, col_sizes, strict=True)}
    named[OVERALL] = f"{OVERALL} (n = {n_all:,})"
    table = table.reindex(columns=["variable", "level", *cols, OVERALL]).fillna("")
    table = table.rename(columns=named)
    return TableOne(table, by, tuple(cols), combined, kinds, n_all, min_cell_size)
