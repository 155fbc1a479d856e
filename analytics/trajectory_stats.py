"""Score trajectories for the Trajectories page: by infusions received or by days since the
first infusion (binned), mean or median with a 95% CI, optionally per group, on the score,
percent change or percent-of-scale-maximum scale; and the individual-patient series.

Time axes
---------
- ``infusions``: each patient with a baseline contributes the baseline at 0 and, for each
  infusion count k >= 1, the first assessment after k infusions
  (:func:`analytics.trajectories.trajectory_points`, as on the Overview).
- ``day``: the baseline, then the post-baseline assessments (day > 0) binned by
  :data:`DAY_BINS` (weekly during a four-week induction, then widening follow-up windows);
  a patient contributes the *latest* assessment in each bin, so one patient counts once per
  bin. A bin is plotted at the median day of the assessments in it (over all groups, so
  that groups line up). Rows without a day are left out of this axis.

Statistics
----------
- mean: t-based 95% CI (n - 1 degrees of freedom);
- median: distribution-free 95% CI from order statistics: with B ~ Binomial(n, 1/2),
  the CI is (x_(j), x_(n+1-j)) with j the largest rank such that P(B <= j - 1) <= 0.025,
  so the coverage is at least 95% (the interval of ``scipy.stats.quantile_test``); not
  estimable for n < 6.

Percent of scale maximum (POMP) = (score - min) / (max - min) x 100, flipped for a
higher-is-better scale, so that 100 always means the worst possible score on every scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from analytics import schema as s
from analytics.codes import is_in
from analytics.instruments import Instrument
from analytics.outcomes import PatientOutcomes
from analytics.stats import mean_ci
from analytics.suppression import DEFAULT_MIN_CELL_SIZE, protect_cells
from analytics.trajectories import trajectory_points

TIME = "time"
TIME_LABEL = "time_label"
VALUES = ("score", "pct_change", "pct_of_max")
STATISTICS = ("mean", "median")
TIME_AXES = ("infusions", "day")
BASELINE_LABEL = "Baseline"
MISSING_GROUP = "(missing)"
DEFAULT_MAX_PATIENTS = 200
DEFAULT_SEED = 20240607

RESPONDER = "Responder"
NON_RESPONDER = "Non-responder"
NO_OUTCOME = "No response status"
STATUS_ORDER = (RESPONDER, NON_RESPONDER, NO_OUTCOME)


@dataclass(frozen=True)
class DayBin:
    """Days since the first infusion in ``(low, high]`` (``high`` may be infinite)."""

    label: str
    low: float
    high: float


DAY_BINS: tuple[DayBin, ...] = (
    DayBin("Wk 1", 0, 7),
    DayBin("Wk 2", 7, 14),
    DayBin("Wk 3", 14, 21),
    DayBin("Wk 4", 21, 28),
    DayBin("Wk 5–8", 28, 56),
    DayBin("Wk 9–12", 56, 84),
    DayBin("Wk 13–18", 84, 126),
    DayBin("Wk 19–26", 126, 182),
    DayBin("Wk 27–52", 182, 364),
    DayBin("After 1 y", 364, float("inf")),
)


def describe_bins(bins: Sequence[DayBin] = DAY_BINS) -> pd.DataFrame:
    """The bins as a table: ``time``, ``time_label``, ``first_day``, ``last_day``."""
    rows = [(0, BASELINE_LABEL, np.nan, 0.0)]
    rows += [(i + 1, b.label, b.low, b.high) for i, b in enumerate(bins)]
    return pd.DataFrame(rows, columns=[TIME, TIME_LABEL, "after_day", "up_to_day"])


def assign_day_bin(days: pd.Series, bins: Sequence[DayBin] = DAY_BINS) -> pd.Series:
    """Bin index (1-based, 0 is the baseline) for days > 0; missing outside every bin."""
    d = days.to_numpy(dtype="float64", na_value=np.nan)
    out = np.full(len(d), np.nan)
    for i, b in enumerate(bins):
        out[(d > b.low) & (d <= b.high)] = i + 1
    return pd.Series(pd.array(out, dtype="Float64").astype("Int64"), index=days.index)


def pct_of_max(scores: pd.Series | np.ndarray, inst: Instrument) -> np.ndarray:
    """Percent of the scale's range, 100 = worst possible score (flipped if higher is better)."""
    x = (np.asarray(scores, dtype="float64") - inst.min) / (inst.max - inst.min) * 100.0
    return x if inst.higher_is_worse else 100.0 - x


def _baseline_rows(outcomes: PatientOutcomes) -> pd.DataFrame:
    t = outcomes.table
    b = t.loc[t["baseline_score"].notna(), [s.PATIENT_ID, "baseline_score", "baseline_day"]]
    return b.rename(columns={"baseline_score": s.SCORE, "baseline_day": s.DAY})


def patient_points(
    data: pd.DataFrame,
    outcomes: PatientOutcomes,
    *,
    time: str = "infusions",
    binned: bool = True,
    bins: Sequence[DayBin] = DAY_BINS,
) -> pd.DataFrame:
    """One row per patient and time point, for patients with a baseline.

    Columns: ``patient_id``, ``time`` (infusions received, or the day-bin index with 0 =
    baseline), ``time_label``, ``day`` (the assessment's day; missing on the infusions axis),
    ``score``, ``pct_change`` (from that patient's baseline; missing for a baseline of 0) and
    ``pct_of_max``. With ``time="day"`` and ``binned=False`` every post-baseline assessment
    with a day is kept (for individual lines), ``time`` is then the bin of each.
    """
    if time not in TIME_AXES:
        raise ValueError(f"time axis '{time}' is not one of {', '.join(TIME_AXES)}")
    inst = outcomes.instrument
    base = _baseline_rows(outcomes)
    if time == "infusions":
        pts = trajectory_points(data, outcomes)
        pts = pts.rename(columns={s.INFUSIONS: TIME})
        pts[s.DAY] = np.nan
        pts[TIME_LABEL] = pts[TIME].astype(str)
        pts.loc[pts[TIME] == 0, TIME_LABEL] = BASELINE_LABEL
    else:
        d = data.loc[
            (data[s.INSTRUMENT] == inst.id)
            & (data[s.DAY] > 0)
            & (data[s.INFUSIONS].fillna(1) != 0)
            & is_in(data[s.PATIENT_ID], base[s.PATIENT_ID]),
            [s.PATIENT_ID, s.DAY, s.INFUSIONS, s.SCORE],
        ]
        d = d.assign(**{TIME: assign_day_bin(d[s.DAY], bins)}).dropna(subset=[TIME])
        d = d.sort_values([s.PATIENT_ID, s.DAY, s.INFUSIONS], kind="stable")
        if binned:
            d = d.drop_duplicates([s.PATIENT_ID, TIME], keep="last")
        b = base.assign(**{TIME: 0})
        # An empty frame in the concatenation would decide nothing but warn (pandas 2.x).
        later = [d[[s.PATIENT_ID, TIME, s.DAY, s.SCORE]]] if len(d) else []
        pts = pd.concat([b, *later], ignore_index=True).astype({TIME: "int64"})
        labels = dict(zip(*describe_bins(bins)[[TIME, TIME_LABEL]].T.to_numpy(), strict=True))
        pts[TIME_LABEL] = pts[TIME].map(labels)
        baseline = base.set_index(s.PATIENT_ID)[s.SCORE]
        b0 = pts[s.PATIENT_ID].map(baseline)
        pts["pct_change"] = ((pts[s.SCORE] - b0) / b0 * 100.0).where(b0 != 0)
    pts[s.PATIENT_ID] = pts[s.PATIENT_ID].astype("string")
    pts["pct_of_max"] = pct_of_max(pts[s.SCORE], inst)
    cols = [s.PATIENT_ID, TIME, TIME_LABEL, s.DAY, s.SCORE, "pct_change", "pct_of_max"]
    return pts[cols].sort_values([s.PATIENT_ID, TIME, s.DAY], kind="stable", ignore_index=True)


def median_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Distribution-free CI of the median from order statistics (NaN when n < 6 at 95%)."""
    x = np.sort(np.asarray(values, dtype="float64")[~np.isnan(values)])
    n = len(x)
    if n == 0:
        return np.nan, np.nan
    alpha = (1 - level) / 2
    bd = sps.binom(n, 0.5)
    lo = int(bd.ppf(alpha)) - 1
    hi = int(bd.isf(alpha))
    return (x[lo] if lo >= 0 else np.nan), (x[hi] if hi < n else np.nan)


def group_labels(outcomes: PatientOutcomes, by: str) -> pd.Series:
    """Each patient's level of the patient-level column ``by`` as text (index patient_id)."""
    t = outcomes.table
    if by not in t.columns:
        raise ValueError(f"cannot split by '{by}': no such patient-level column")
    col = t[by]
    if pd.api.types.is_float_dtype(col) and bool((col.dropna() == col.dropna().round()).all()):
        col = col.astype("Int64")
    return pd.Series(
        col.astype("string").fillna(MISSING_GROUP).to_numpy(),
        index=t[s.PATIENT_ID].astype("string"),
        name="group",
    )


def summarise_time_course(
    points: pd.DataFrame,
    *,
    value: str = s.SCORE,
    statistic: str = "mean",
    groups: pd.Series | None = None,
) -> pd.DataFrame:
    """Centre (mean or median) with its 95% CI per time point (and group).

    ``points`` is :func:`patient_points`; ``groups`` maps patient_id -> group label.
    Columns: ``time``, ``time_label``, ``group`` (``"All"`` without groups), ``n``,
    ``n_time`` (patients at that time over all groups), ``mean``, ``sd``, ``median``,
    ``centre``, ``ci95_low``, ``ci95_high``, ``x`` (plot position: infusions, or the median
    day of the bin's assessments with the baseline at its median day, 0 when unknown).
    """
    if value not in VALUES:
        raise ValueError(f"value '{value}' is not one of {', '.join(VALUES)}")
    if statistic not in STATISTICS:
        raise ValueError(f"statistic '{statistic}' is not one of {', '.join(STATISTICS)}")
    p = points.dropna(subset=[value])
    p = p.assign(group="All" if groups is None else p[s.PATIENT_ID].map(groups).to_numpy())
    keys = [TIME, TIME_LABEL, "group"]
    g = p.groupby(keys, observed=True, sort=True)[value]
    out = g.agg(n="size", mean="mean", sd="std", median="median").reset_index()
    low, high = mean_ci(out["mean"].to_numpy(), out["sd"].to_numpy(), out["n"].to_numpy())
    if statistic == "median":
        cis = g.apply(lambda v: median_ci(v.to_numpy())).reindex(
            pd.MultiIndex.from_frame(out[keys])
        )
        low = np.array([c[0] for c in cis], dtype="float64")
        high = np.array([c[1] for c in cis], dtype="float64")
    out["centre"] = out[statistic]
    out["ci95_low"] = low
    out["ci95_high"] = high
    out["n_time"] = out[TIME].map(p.groupby(TIME)[s.PATIENT_ID].nunique()).astype("int64")
    days = p.groupby(TIME)[s.DAY].median()
    out["x"] = out[TIME].map(days).where(out[TIME].map(days).notna(), out[TIME]).astype(float)
    if p[s.DAY].notna().any():  # the day axis: the baseline sits at its median day, else 0
        out.loc[out[TIME] == 0, "x"] = float(np.nan_to_num(days.get(0, 0.0)))
    cols = [TIME, TIME_LABEL, "group", "n", "n_time", "mean", "sd", "median", "centre"]
    return out[[*cols, "ci95_low", "ci95_high", "x"]]


def suppress_time_course(
    summary: pd.DataFrame, *, min_cell_size: int = DEFAULT_MIN_CELL_SIZE
) -> pd.DataFrame:
    """Hide points over fewer than ``min_cell_size`` patients and, per time point, a further
    group when one small group could be recovered from the number at that time.

    Adds ``suppressed`` ("" / "primary" / "complementary"); statistics of suppressed rows are
    blanked. ``n_time`` is treated as shown (it is the ungrouped chart's n).
    """
    out = summary.copy()
    status = np.full(len(out), "", dtype=object)
    for _, idx in out.groupby(TIME, sort=False).indices.items():
        n = out["n"].to_numpy()[idx]
        grouped = len(idx) > 1 or out["group"].iloc[idx[0]] != "All"
        values = np.r_[n, out["n_time"].to_numpy()[idx[0]]] if grouped else n
        lines = [list(range(len(values)))] if grouped else []
        published = [len(values) - 1] if grouped else []
        sup = protect_cells(values, lines, min_cell_size=min_cell_size, published=published)
        small = (n > 0) & (n < min_cell_size)
        status[idx] = np.where(small, "primary", np.where(sup[: len(n)], "complementary", ""))
    out["suppressed"] = status
    stats_cols = ["mean", "sd", "median", "centre", "ci95_low", "ci95_high"]
    out.loc[out["suppressed"] != "", stats_cols] = np.nan
    return out


def sample_patients(
    patient_ids: Sequence[str] | pd.Series,
    *,
    max_patients: int = DEFAULT_MAX_PATIENTS,
    seed: int = DEFAULT_SEED,
) -> list[str]:
    """All ids when there are at most ``max_patients``, else a seeded random sample
    (without replacement), sorted; the same ids and seed always give the same sample."""
    ids = sorted(pd.unique(pd.Series(patient_ids, dtype="string").dropna()))
    if len(ids) <= max_patients:
        return ids
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(ids), size=max_patients, replace=False)
    return [ids[i] for i in sorted(pick)]


def response_status(outcomes: PatientOutcomes) -> pd.Series:
    """Responder / Non-responder / No response status per patient_id (under the definition)."""
    t = outcomes.table
    r = t["responder"]
    status = np.where(r.isna(), NO_OUTCOME, np.where(r.fillna(False), RESPONDER, NON_RESPONDER))
    return pd.Series(status, index=t[s.PATIENT_ID].astype("string"), name="status")


def spaghetti_points(
    data: pd.DataFrame,
    outcomes: PatientOutcomes,
    *,
    time: str = "infusions",
    max_patients: int = DEFAULT_MAX_PATIENTS,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Individual series of a seeded sample of patients with a baseline.

    Columns: ``patient_id``, ``x`` (infusions received, or the assessment's day with the
    baseline at its own day, 0 when unknown), ``time_label``, ``score``, ``pct_change``,
    ``pct_of_max`` and ``status`` (:data:`STATUS_ORDER`). ``attrs["n_patients"]`` holds
    how many patients had a baseline (the sample is drawn from them).
    """
    pts = patient_points(data, outcomes, time=time, binned=False)
    ids = pts[s.PATIENT_ID].unique()
    keep = sample_patients(ids, max_patients=max_patients, seed=seed)
    pts = pts[is_in(pts[s.PATIENT_ID], keep)].copy()
    pts["x"] = pts[TIME].astype(float) if time == "infusions" else pts[s.DAY].fillna(0.0)
    pts["status"] = pts[s.PATIENT_ID].map(response_status(outcomes)).fillna(NO_OUTCOME)
    pts = pts.sort_values([s.PATIENT_ID, "x"], kind="stable", ignore_index=True)
    cols = [s.PATIENT_ID, "x", TIME_LABEL, s.SCORE, "pct_change", "pct_of_max", "status"]
    out = pts[cols]
    out.attrs["n_patients"] = len(ids)
    return out
