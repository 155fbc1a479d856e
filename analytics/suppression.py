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


# --- Cell suppression with complementary suppression (tables, rates, cumulative series) ---
#
# Primary suppression hides every count of 1 to ``min_cell_size - 1`` patients (zero is
# shown: it identifies no one). Complementary suppression then hides further values so that
# no hidden count can be worked out from the values shown. Values are linked in *lines*:
# counts tied by an additive identity the reader can see, the last member being the total of
# the others (the cells of a table row and the row total; a rate's events, non-events and
# denominator). The audit is linear algebra: a hidden value can be recovered exactly when
# it is constant over every solution of the identities given the values shown (its
# component of the null space of the identities restricted to the hidden values is zero).
# While a small count is recoverable, the cheapest value still shown whose hiding makes it
# unrecoverable is hidden too; in every line holding a small count, the hidden values must
# also sum to at least ``min_cell_size``. Complements that turn out to protect nothing are
# shown again. This stops exact recovery (not narrow bounds on a hidden count), and it does
# not audit differences between different views.

PRIMARY = "primary"
COMPLEMENTARY = "complementary"


def _identity_matrix(lines: list[list[int]], n: int) -> np.ndarray:
    a = np.zeros((len(lines), n))
    for r, line in enumerate(lines):
        a[r, line[:-1]] = 1.0
        a[r, line[-1]] = -1.0
    return a


def _recoverable(a: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """True for values shown or exactly determined by the identities ``a x = 0``."""
    out = ~unknown
    cols = np.flatnonzero(unknown)
    if cols.size == 0:
        return out
    sub = a[:, cols]
    if not sub.any():
        return out
    _, sing, vt = np.linalg.svd(sub)
    rank = int((sing > 1e-9 * max(1.0, float(sing.max()))).sum())
    null = vt[rank:]
    out = out.copy()
    out[cols] = np.all(np.abs(null) < 1e-9, axis=0) if len(null) else True
    return out


def protect_cells(
    values: Sequence[float] | np.ndarray,
    lines: Sequence[Sequence[int]],
    *,
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
    hidden: Sequence[int] = (),
    published: Sequence[int] = (),
    cost: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """Which of ``values`` (non-negative patient counts) must not be shown.

    ``lines`` lists index groups tied by an additive identity: the last index is the total
    of the others. ``hidden`` are values never displayed but derivable (a rate's
    non-events): a small one still needs protecting, but hiding it protects nothing.
    ``published`` values are shown elsewhere (the overall N of a page) and are never chosen
    as a complement. Complements are chosen by lowest ``cost`` (default: the value itself,
    so the smallest count goes first). Returns a boolean array: True = show a suppression
    label instead of the value (always False for ``hidden`` indices).
    """
    v = np.asarray(values, dtype="float64")
    n = len(v)
    hid = np.zeros(n, dtype=bool)
    hid[list(hidden)] = True
    pub = np.zeros(n, dtype=bool)
    pub[list(published)] = True
    price = v if cost is None else np.asarray(cost, dtype="float64")
    sensitive = is_small(v, min_cell_size)
    sup = sensitive & ~hid
    line_list = [list(line) for line in lines if len(line) >= 2]
    a = _identity_matrix(line_list, n)

    def options() -> list[int]:
        free = np.flatnonzero(~(sup | hid | pub) & (v > 0))
        return [int(i) for i in free[np.lexsort((free, price[free]))]]

    def thin_line(known: np.ndarray) -> list[int] | None:
        for line in line_list:
            unknown = [i for i in line if not known[i]]
            if any(sensitive[i] for i in unknown) and v[unknown].sum() < min_cell_size:
                return line
        return None

    for _ in range(n + 1):
        known = _recoverable(a, sup | hid)
        leaks = np.flatnonzero(sensitive & known)
        changed = False
        if leaks.size:
            k = leaks[0]
            candidates = options()
            for j in candidates:
                sup[j] = True
                if not _recoverable(a, sup | hid)[k]:
                    changed = True
                    break
                sup[j] = False
            if not changed and candidates:  # no single value suffices: hide one, go on
                near = [j for j in candidates if any(k in ln and j in ln for ln in line_list)]
                sup[(near or candidates)[0]] = True
                changed = True
        else:
            line = thin_line(known)
            if line is not None:
                free = [j for j in options() if j in line]
                if free:
                    sup[free[0]] = True
                    changed = True
        if not changed:
            break

    def exposed() -> bool:
        known = _recoverable(a, sup | hid)
        return bool((sensitive & known).any()) or thin_line(known) is not None

    extra = np.flatnonzero(sup & ~sensitive)
    for j in extra[np.argsort(-price[extra], kind="stable")]:  # show what protects nothing
        sup[j] = False
        if exposed():
            sup[j] = True
    return sup


def protect_table(
    counts: pd.DataFrame,
    *,
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
    hidden_columns: Sequence[str] = (),
    published_rows: Sequence[str] = (),
    total_label: str = "Total",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A count table with its margins, and where each value must be suppressed.

    Returns ``(table, status)``: ``table`` is ``counts`` with a ``total_label`` row and column
    added; ``status`` has the same shape, with ``""`` (show), ``"primary"`` (a count of 1 to
    ``min_cell_size - 1``: show ``"<11"``) or ``"complementary"`` (hidden so that a small count
    cannot be recovered from the totals). Columns in ``hidden_columns`` are never displayed
    (e.g. non-events beside events); the grand total and the rows in ``published_rows`` are
    shown elsewhere (the page's N, the overall rates) and are never chosen as complements.
    """
    body = counts.astype("float64")
    table = body.copy()
    table[total_label] = body.sum(axis=1)
    table.loc[total_label] = table.sum(axis=0)
    nr, nc = table.shape
    idx = np.arange(nr * nc).reshape(nr, nc)
    lines = [list(idx[r]) for r in range(nr)] + [list(idx[:, c]) for c in range(nc)]
    cols = list(table.columns)
    rows = list(table.index)
    hidden = [idx[r, cols.index(c)] for r in range(nr) for c in hidden_columns]
    published = [idx[rows.index(r), c] for r in published_rows if r in rows for c in range(nc)]
    published.append(idx[-1, -1])
    values = table.to_numpy().ravel()
    margin = np.zeros((nr, nc), dtype=bool)
    margin[-1, :] = margin[:, -1] = True
    cost = values + margin.ravel() * (values.sum() + 1)  # hide cells before totals
    sup = protect_cells(
        values,
        lines,
        min_cell_size=min_cell_size,
        hidden=hidden,
        published=published,
        cost=cost,
    ).reshape(nr, nc)
    primary = is_small(table.to_numpy(), min_cell_size) & sup
    status = np.where(primary, PRIMARY, np.where(sup, COMPLEMENTARY, ""))
    return table, pd.DataFrame(status, index=table.index, columns=table.columns)


def protect_cumulative(
    cumulative: Sequence[float] | np.ndarray,
    total: float,
    *,
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> np.ndarray:
    """Which points of a non-decreasing cumulative count (out of ``total``) to hide.

    A point is shown only when its count, the count still to come (``total`` minus it) and
    the step from the previous shown point are each 0 or at least ``min_cell_size``, so
    that no small count (nor the number who joined between two shown points) can be read
    off the curve. Returns a boolean array, True = hide.
    """
    c = np.asarray(cumulative, dtype="float64")
    hide = np.ones(len(c), dtype=bool)
    previous = 0.0
    for i, value in enumerate(c):
        parts = np.array([value, total - value, value - previous])
        if not is_small(parts, min_cell_size).any():
            hide[i] = False
            previous = value
    return hide


def display_counts(
    table: pd.DataFrame,
    status: pd.DataFrame,
    *,
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
    hidden_label: str = "hidden",
) -> pd.DataFrame:
    """The table as text: counts with thousands separators, ``"<11"`` for primary and
    ``hidden_label`` for complementary suppression."""
    text = table.map(lambda x: "" if pd.isna(x) else f"{x:,.0f}")
    text = text.mask(status == PRIMARY, suppressed_label(min_cell_size))
    return text.mask(status == COMPLEMENTARY, hidden_label)


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
