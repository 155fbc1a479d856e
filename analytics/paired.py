"""Paired change from baseline to endpoint, overall and by group: parametric and
rank-based.

Builds on :func:`analytics.stats.summarise_outcomes` (mean change with its t-based 95% CI,
paired t, Cohen's d_z, computed there and tested against scipy) and adds the median
change and the Wilcoxon signed-rank test (``scipy.stats.wilcoxon``) per group.

Wilcoxon settings, stated with every result:

- ``zero_method="wilcox"``: patients with no change (difference 0) are dropped before
  ranking (Wilcoxon 1945); ``wilcoxon_n`` counts the non-zero differences used.
- ``method``: ``"exact"`` (the exact null distribution) when there are at most 50 non-zero
  differences and no ties among their absolute values; with ties and at most 13
  differences, an exhaustive ``"permutation"`` test (every sign flip); otherwise
  ``"asymptotic"``: the normal approximation with the tie correction of the variance and
  no continuity correction. This is the rule of scipy's ``method="auto"``, written out so
  that the method used can be reported.
- two-sided; the statistic is the smaller of the sums of positive and negative ranks.

Output columns of :func:`summarise_paired_change`
-------------------------------------------------
group, n_patients (analysed: baseline and endpoint), baseline_mean, endpoint_mean,
mean_change, sd_change, mean_change_ci95_low, mean_change_ci95_high, t_statistic,
t_df (n - 1), t_p_value, cohens_dz, median_change, wilcoxon_n, wilcoxon_statistic,
wilcoxon_p_value, wilcoxon_method. Change is endpoint - baseline, in points (negative =
fewer symptoms on a higher-is-worse scale).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import stats as sps

from analytics.errors import DataValidationError
from analytics.outcomes import PatientOutcomes
from analytics.stats import ALL, summarise_outcomes

ZERO_METHOD = "wilcox"
EXACT_MAX_N = 50
PERMUTATION_MAX_N = 13
PAIRED_COLUMNS = (
    "group",
    "n_patients",
    "baseline_mean",
    "endpoint_mean",
    "mean_change",
    "sd_change",
    "mean_change_ci95_low",
    "mean_change_ci95_high",
    "t_statistic",
    "t_df",
    "t_p_value",
    "cohens_dz",
    "median_change",
    "wilcoxon_n",
    "wilcoxon_statistic",
    "wilcoxon_p_value",
    "wilcoxon_method",
)


def wilcoxon_method(differences: np.ndarray) -> str:
    """The p-value method used for these differences (see the module docstring)."""
    d = np.asarray(differences, dtype="float64")
    d = d[d != 0]
    magnitudes = np.abs(d)
    ties = len(np.unique(magnitudes)) < len(magnitudes)
    if len(d) <= EXACT_MAX_N and not ties:
        return "exact"
    if len(d) <= PERMUTATION_MAX_N:
        return "permutation"
    return "asymptotic"


def wilcoxon_signed_rank(differences: np.ndarray) -> tuple[int, float, float, str]:
    """``(n_nonzero, statistic, p_value, method)`` for one set of paired differences;
    NaN statistic and p-value when there is no non-zero difference."""
    d = np.asarray(differences, dtype="float64")
    d = d[~np.isnan(d) & (d != 0)]
    if len(d) == 0:
        return 0, float("nan"), float("nan"), ""
    method = wilcoxon_method(d)
    how = sps.PermutationMethod() if method == "permutation" else method
    res = sps.wilcoxon(d, zero_method=ZERO_METHOD, correction=False, method=how)
    return len(d), float(res.statistic), float(res.pvalue), method


def group_labels(table: pd.DataFrame, by: str) -> pd.Series:
    """The level of ``by`` for each patient as text: whole-number floats without ``.0``
    (as the filters show them), empty values as ``"(missing)"``."""
    if by not in table.columns:
        raise DataValidationError(f"cannot group by '{by}': no such patient-level column")
    column = table[by]
    if pd.api.types.is_float_dtype(column) and (column.dropna() % 1 == 0).all():
        column = column.astype("Int64")
    return column.astype("string").fillna("(missing)")


def _paired_row(outcomes: PatientOutcomes, group: str) -> dict[str, object]:
    row = summarise_outcomes(outcomes).iloc[0]
    n = int(row["n_patients"])
    change = outcomes.analysed["change"].to_numpy(dtype="float64")
    n_nonzero, w_stat, w_p, method = wilcoxon_signed_rank(change)
    return {
        "group": group,
        "n_patients": n,
        "baseline_mean": row.get("baseline_mean", np.nan),
        "endpoint_mean": row.get("endpoint_mean", np.nan),
        "mean_change": row.get("mean_change", np.nan),
        "sd_change": row.get("sd_change", np.nan),
        "mean_change_ci95_low": row.get("mean_change_ci95_low", np.nan),
        "mean_change_ci95_high": row.get("mean_change_ci95_high", np.nan),
        "t_statistic": row.get("t_statistic", np.nan),
        "t_df": max(n - 1, 0),
        "t_p_value": row.get("p_value", np.nan),
        "cohens_dz": row.get("cohens_dz", np.nan),
        "median_change": float(np.median(change)) if len(change) else np.nan,
        "wilcoxon_n": n_nonzero,
        "wilcoxon_statistic": w_stat,
        "wilcoxon_p_value": w_p,
        "wilcoxon_method": method,
    }


def summarise_paired_change(outcomes: PatientOutcomes, *, by: str | None = None) -> pd.DataFrame:
    """One row for all analysed patients (``group`` = "All") and, with ``by``, one per
    level of that patient-level column (sorted as text, as ``summarise_outcomes`` does).
    Each row's parametric statistics are :func:`analytics.stats.summarise_outcomes` on that
    group's patients. Columns: see the module docstring."""
    rows = [_paired_row(outcomes, ALL)]
    if by is not None:
        groups = group_labels(outcomes.table, by)
        for level in sorted(groups.unique()):
            subset = replace(outcomes, table=outcomes.table.loc[groups == level])
            rows.append(_paired_row(subset, str(level)))
    out = pd.DataFrame(rows, columns=list(PAIRED_COLUMNS))
    out["n_patients"] = out["n_patients"].astype("int64")
    out["t_df"] = out["t_df"].astype("int64")
    out["wilcoxon_n"] = out["wilcoxon_n"].astype("int64")
    return out
