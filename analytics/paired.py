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


def summarise_paired_change(outcomes: PatientOutcomes, *, by: str | None = None) -> pd.DataFrame:
    """One row for all analysed patients (``group`` = "All") and, with ``by``, one per
    level of that patient-level column. Columns: see the module docstring."""
    summary = summarise_outcomes(outcomes, by=by)
    out = summary[
        [
            "group",
            "n_patients",
            "baseline_mean",
            "endpoint_mean",
            "mean_change",
            "sd_change",
            "mean_change_ci95_low",
            "mean_change_ci95_high",
            "t_statistic",
            "p_value",
            "cohens_dz",
        ]
    ].rename(columns={"p_value": "t_p_value"})
    out.insert(out.columns.get_loc("t_p_value"), "t_df", (out["n_patients"] - 1).clip(lower=0))
    analysed = outcomes.analysed
    if by is not None and by not in analysed.columns:
        raise DataValidationError(f"cannot group by '{by}': no such patient-level column")
    groups = (
        pd.Series(ALL, index=analysed.index)
        if by is None
        else analysed[by].astype("string").fillna("(missing)")
    )
    change = analysed["change"]
    medians = change.groupby(groups).median()
    overall = change.median() if len(change) else np.nan
    out["median_change"] = out["group"].map(medians).where(out["group"] != ALL, overall)
    tests = [wilcoxon_signed_rank(change.to_numpy())]
    tests += [wilcoxon_signed_rank(change[groups == g].to_numpy()) for g in out["group"][1:]]
    n, stat, p, method = zip(*tests, strict=True)
    out["wilcoxon_n"] = np.asarray(n, dtype="int64")
    out["wilcoxon_statistic"] = stat
    out["wilcoxon_p_value"] = p
    out["wilcoxon_method"] = method
    return out.reindex(columns=list(PAIRED_COLUMNS)).reset_index(drop=True)
