"""Summary statistics over a patient outcomes table, overall and by group.

Formulas (reference/instruments.md):

- mean change: mean of (endpoint - baseline) with a t-based 95% CI (n - 1 df);
- paired t-test: t = mean change / (SD of change / sqrt(n)), two-sided p;
- Cohen's d_z = mean change / SD of change;
- proportions: Wilson score 95% interval.

They are written out here, vectorised over groups, and tested against scipy
(``ttest_rel``) and statsmodels (``proportion_confint(method="wilson")``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from analytics.codes import equals, sorted_codes
from analytics.errors import DataValidationError
from analytics.outcomes import RC_DETERIORATED, RC_IMPROVED, RC_NONE, PatientOutcomes

# scipy.stats.norm.ppf(0.975); the t quantiles and tails below are scipy.special's stdtrit
# and stdtr, the functions scipy.stats.t calls (equal results), without importing
# scipy.stats (~0.6 s of the command line's start-up).
Z_95 = float(special.ndtri(0.975))
ALL = "All"

SUMMARY_COLUMNS = (
    "group",
    "n_patients_total",
    "n_patients",
    "n_zero_baseline",
    "n_carried_forward",
    "baseline_mean",
    "baseline_sd",
    "endpoint_mean",
    "endpoint_sd",
    "mean_change",
    "sd_change",
    "mean_change_ci95_low",
    "mean_change_ci95_high",
    "t_statistic",
    "p_value",
    "cohens_dz",
    "responders_n",
    "responders_N",
    "responders_pct",
    "responders_ci95_low",
    "responders_ci95_high",
    "remitters_n",
    "remitters_N",
    "remitters_pct",
    "remitters_ci95_low",
    "remitters_ci95_high",
    "reliably_improved_n",
    "no_reliable_change_n",
    "reliably_deteriorated_n",
    "reliable_change_N",
    "clinically_significant_n",
)


def wilson_ci(
    successes: np.ndarray, n: np.ndarray, z: float = Z_95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes out of n (NaN where n = 0), as proportions."""
    k = np.asarray(successes, dtype="float64")
    n = np.asarray(n, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


def mean_ci(mean: np.ndarray, sd: np.ndarray, n: np.ndarray, level: float = 0.95):
    """t-based confidence interval for a mean (NaN where n < 2)."""
    n = np.asarray(n, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(n >= 2, n - 1, np.nan)
        crit = special.stdtrit(df, 0.5 + level / 2)
        half = crit * np.asarray(sd) / np.sqrt(n)
    return np.asarray(mean) - half, np.asarray(mean) + half


def _flag_counts(flag: pd.Series, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group: rows where ``flag`` is true, and rows where it is known (not missing)."""
    known = ~np.asarray(flag.isna(), dtype=bool)
    true = np.asarray(flag.fillna(False), dtype=bool) & known
    return np.bincount(codes[true], minlength=k), np.bincount(codes[known], minlength=k)


def _proportion(flag: pd.Series, codes: np.ndarray, prefix: str, index: pd.Index) -> dict:
    k, n = _flag_counts(flag, codes, len(index))
    low, high = wilson_ci(k, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(n > 0, k / n * 100.0, np.nan)
    return {
        f"{prefix}_n": k,
        f"{prefix}_N": n,
        f"{prefix}_pct": pct,
        f"{prefix}_ci95_low": low * 100.0,
        f"{prefix}_ci95_high": high * 100.0,
    }


def _mean_sd(values: np.ndarray, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group: mean and SD (ddof 1) of the non-missing values (NaN when too few)."""
    ok = ~np.isnan(values)
    c, x = codes[ok], values[ok]
    n = np.bincount(c, minlength=k).astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(c, weights=x, minlength=k) / n
        dev = x - mean[c]
        sd = np.sqrt(np.bincount(c, weights=dev * dev, minlength=k) / (n - 1))
    return np.where(n > 0, mean, np.nan), np.where(n > 1, sd, np.nan)


def _summarise(table: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """The summary row of each group (groups in order of first appearance), with numpy
    reductions over integer group codes (one pass per statistic, no pandas groupby)."""
    codes = pd.factorize(groups)[0]
    index = pd.Index(pd.unique(groups.dropna()), name="group")
    k = len(index)
    a = table["analysed"].to_numpy(dtype=bool) & (codes >= 0)
    t = table[a]
    ga = codes[a]
    agg: dict[str, np.ndarray] = {
        "n_patients_total": np.bincount(codes[codes >= 0], minlength=k),
        "n_patients": np.bincount(ga, minlength=k),
    }

    def count(mask) -> np.ndarray:
        return np.bincount(ga[np.asarray(mask, dtype=bool)], minlength=k)

    base = t["baseline_score"].to_numpy(dtype="float64", na_value=np.nan)
    agg["n_zero_baseline"] = count(base == 0)
    agg["n_carried_forward"] = count(t["endpoint_carried_forward"].to_numpy(dtype=bool))
    for col, name in (("baseline_score", "baseline"), ("endpoint_score", "endpoint")):
        values = t[col].to_numpy(dtype="float64", na_value=np.nan)
        agg[f"{name}_mean"], agg[f"{name}_sd"] = _mean_sd(values, ga, k)
    n = agg["n_patients"].astype("float64")
    mean, sd = _mean_sd(t["change"].to_numpy(dtype="float64", na_value=np.nan), ga, k)
    agg["mean_change"] = mean
    agg["sd_change"] = sd
    agg["mean_change_ci95_low"], agg["mean_change_ci95_high"] = mean_ci(mean, sd, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat = np.where((n >= 2) & (sd > 0), mean / (sd / np.sqrt(n)), np.nan)
        agg["t_statistic"] = tstat
        agg["p_value"] = np.where(np.isnan(tstat), np.nan, 2 * special.stdtr(n - 1, -np.abs(tstat)))
        agg["cohens_dz"] = np.where(sd > 0, mean / sd, np.nan)
    agg.update(_proportion(t["responder"], ga, "responders", index))
    agg.update(_proportion(t["remitter"], ga, "remitters", index))
    rc = t["reliable_change"]
    for cat, name in (
        (RC_IMPROVED, "reliably_improved_n"),
        (RC_NONE, "no_reliable_change_n"),
        (RC_DETERIORATED, "reliably_deteriorated_n"),
    ):
        agg[name] = count((rc == cat).to_numpy(dtype=bool))
    agg["reliable_change_N"] = count(rc.notna().to_numpy(dtype=bool))
    agg["clinically_significant_n"] = _flag_counts(t["clinically_significant"], ga, k)[0]
    out = pd.DataFrame(agg, index=index)
    return out.reset_index()


def summarise_outcomes(outcomes: PatientOutcomes, *, by: str | None = None) -> pd.DataFrame:
    """One row for all patients (``group`` = "All") and, with ``by``, one row per level.

    Columns: see :data:`SUMMARY_COLUMNS`. Percentages are 0-100; ``*_N`` are the
    denominators (patients with a defined outcome), ``*_n`` the counts.
    ``n_patients_total`` counts patients with any assessment of the instrument;
    ``n_patients`` those analysed (baseline and endpoint under the definition).
    """
    table = outcomes.table
    overall = _summarise(table, pd.Series(ALL, index=table.index))
    if not len(table):
        overall = pd.DataFrame({"group": [ALL], "n_patients_total": [0], "n_patients": [0]})
    parts = [overall]
    if by is not None:
        if by not in table.columns:
            raise DataValidationError(f"cannot group by '{by}': no such patient-level column")
        column = table[by]
        if pd.api.types.is_float_dtype(column) and (column.dropna() % 1 == 0).all():
            column = column.astype("Int64")  # 6.0 -> "6", as the filters show it
        groups = column.astype("string").fillna("(missing)")
        parts.append(_summarise(table, groups).sort_values("group", kind="stable"))
    out = pd.concat(parts, ignore_index=True).reindex(columns=list(SUMMARY_COLUMNS))
    int_cols = [c for c in SUMMARY_COLUMNS if c.endswith(("_n", "_N")) or c.startswith("n_")]
    out[int_cols] = out[int_cols].fillna(0).astype("int64")
    return out


def patient_counts(data: pd.DataFrame, instrument: str) -> pd.DataFrame:
    """What :func:`count_cohort` adds up, one row per patient with any assessment of
    ``instrument`` (index ``patient_id``): ``n_assessments`` of it and ``max_infusions``,
    the most infusions received at any of the patient's assessments (missing when none
    says). A subset of its rows adds up to the counts of those patients' rows."""
    inst = equals(data["instrument"], instrument)
    codes, patients = sorted_codes(data["patient_id"])
    n_assess = np.bincount(codes[inst & (codes >= 0)], minlength=len(patients))
    infusions = data["infusions_received"].to_numpy(dtype="float64", na_value=np.nan)
    ok = (codes >= 0) & ~np.isnan(infusions)
    top = np.full(len(patients), -np.inf)
    np.maximum.at(top, codes[ok], infusions[ok])
    has = n_assess > 0
    missing = np.isinf(top)
    max_inf = pd.arrays.IntegerArray(np.where(missing, 0, top).astype(np.int64), missing)
    return pd.DataFrame(
        {"n_assessments": n_assess[has], "max_infusions": max_inf[has]},
        index=pd.Index(patients[has], name="patient_id", dtype="string"),
    )


def sum_patient_counts(counts: pd.DataFrame) -> dict[str, int]:
    """:func:`count_cohort`'s figures from (some rows of) :func:`patient_counts`."""
    return {
        "n_patients": len(counts),
        "n_assessments": int(counts["n_assessments"].sum()),
        "n_infusions": int(counts["max_infusions"].fillna(0).sum()),
    }


def count_cohort(data: pd.DataFrame, instrument: str) -> dict[str, int]:
    """Headline counts for one instrument: ``n_patients`` with any assessment of it,
    ``n_assessments`` of it, and ``n_infusions``: the infusions those patients had
    received by their last assessment of any instrument (a lower bound on infusions given)."""
    # Three columns grouped once by patient: selecting rows of the whole table would copy
    # every covariate column (0.7 GB and 3 s on 3 million rows, against 50 MB and 0.1 s).
    rows = data["instrument"] == instrument
    per_patient = (
        pd.DataFrame({"has": rows, "top": data["infusions_received"]})
        .groupby(data["patient_id"], observed=True)
        .agg(has=("has", "any"), top=("top", "max"))
    )
    mine = per_patient[per_patient["has"]]
    return {
        "n_patients": len(mine),
        "n_assessments": int(rows.sum()),
        "n_infusions": int(mine["top"].fillna(0).sum()),
    }
