"""Durability: how fast patients respond, and how long a response lasts (Kaplan–Meier).

Two time-to-event analyses, derived vectorised from the canonical long data and the
patient outcomes table (no per-patient Python loop), fitted with lifelines:

**Time to first response** (during treatment). Time 0 is the first infusion. The event is
the first post-baseline assessment, up to and including the endpoint in force, whose
percent reduction from baseline meets the response threshold (``first_response_day`` /
``first_response_infusions`` of :mod:`analytics.outcomes`). Patients who never meet it
are censored at their endpoint assessment (with the endpoint ``last``: their last
post-baseline assessment). Time is days since the first infusion or infusions received.

**Time to loss of response** (during follow-up), among patients who responded. Time 0 is
the first response. The event is the first later assessment (any time after the first
response, follow-up included) whose reduction from baseline is below the threshold again;
patients who keep their response are censored at their last assessment. Time is days
since the first response. Responders with no later assessment are not at risk.

Output columns of :func:`derive_time_to_response` and :func:`derive_loss_of_response`
------------------------------------------------------------------------------------
patient_id
duration          time to the event or to censoring (days, or infusions)
event             True when the event was observed, False when censored
included          whether the patient enters the Kaplan–Meier analysis
exclusion_reason  why not ("" when included)
group             the level of ``by`` ("(missing)" when empty), only with ``by``

:func:`fit_kaplan_meier` returns a :class:`KaplanMeierResult`; its tables are documented
there. Intervals: the survival curve's pointwise 95% CI is lifelines' default exponential
Greenwood ("log(-log)") interval; the median's CI is where that band crosses 50%
(Brookmeyer–Crowley style, ``lifelines.utils.median_survival_times``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import median_survival_times

from analytics import schema as s
from analytics.errors import DataValidationError
from analytics.outcomes import PatientOutcomes, _meets_pct
from analytics.suppression import (
    DEFAULT_MIN_CELL_SIZE,
    complementary_suppression,
    suppress_curve_tail,
)

TimeScale = Literal["day", "infusions"]
TIME_SCALES: tuple[TimeScale, ...] = ("day", "infusions")
MISSING_GROUP = "(missing)"
ALL = "All"
DURATION_COLUMNS = ("patient_id", "duration", "event", "included", "exclusion_reason")
CURVE_COLUMNS = (
    "group",
    "time",
    "survival",
    "ci95_low",
    "ci95_high",
    "n_at_risk",
    "n_events",
    "n_censored",
)
SUMMARY_COLUMNS = (
    "group",
    "n_patients",
    "n_events",
    "n_censored",
    "median",
    "median_ci95_low",
    "median_ci95_high",
)


def _check_time(time: str) -> None:
    if time not in TIME_SCALES:
        raise DataValidationError(f"time scale '{time}' is not 'day' or 'infusions'")


def _require_response(outcomes: PatientOutcomes) -> float:
    pct = outcomes.resolved.response_pct
    if pct is None:
        raise DataValidationError(
            f"response is not defined for {outcomes.instrument.label} (no sourced default): "
            "set a response threshold in the outcome definition"
        )
    return pct


def level_labels(values: pd.Series) -> pd.Series:
    """Covariate values as group labels: whole numbers without ``.0`` (as in the sidebar's
    filters), empty values as ``"(missing)"``."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        v = values.astype("float64")
        whole = bool((v.dropna() == v.dropna().round()).all())
        text = v.map(lambda x: f"{x:.0f}" if whole else f"{x:g}", na_action="ignore")
        return text.astype("string").fillna(MISSING_GROUP)
    return values.astype("string").fillna(MISSING_GROUP)


def group_order(labels: Sequence[str]) -> list[str]:
    """Levels in reading order: numerically when they are numbers, "(missing)" last."""

    def key(label: str) -> tuple[int, float, str]:
        if label == MISSING_GROUP:
            return (2, 0.0, label)
        try:
            return (0, float(label), label)
        except ValueError:
            return (1, 0.0, label)

    return sorted(set(labels), key=key)


def _with_group(table: pd.DataFrame, outcomes: PatientOutcomes, by: str | None) -> pd.DataFrame:
    if by is None:
        return table
    if by not in outcomes.table.columns:
        raise DataValidationError(f"cannot split by '{by}': no such patient-level column")
    groups = level_labels(outcomes.table.set_index(s.PATIENT_ID)[by])
    return table.assign(group=table[s.PATIENT_ID].map(groups).to_numpy())


def derive_time_to_response(
    outcomes: PatientOutcomes, *, time: TimeScale = "day", by: str | None = None
) -> pd.DataFrame:
    """One row per patient of ``outcomes``: time from the first infusion to the first
    response (event) or to the endpoint assessment (censored). Columns: see the module."""
    _check_time(time)
    _require_response(outcomes)
    t = outcomes.table
    first = t["first_response_day" if time == "day" else "first_response_infusions"]
    end = t["endpoint_day" if time == "day" else "endpoint_infusions"]
    first = first.to_numpy(dtype="float64", na_value=np.nan)
    end = end.to_numpy(dtype="float64", na_value=np.nan)
    event = ~np.isnan(first)
    duration = np.where(event, first, end)
    what = "day" if time == "day" else "infusion count"
    reason = np.select(
        [
            ~t["analysed"].to_numpy(),
            t["pct_change"].isna().to_numpy(),
            np.isnan(duration),
        ],
        [
            t["exclusion_reason"].to_numpy(dtype=object),
            "baseline of 0 (no percent change)",
            f"no {what} recorded",
        ],
        default="",
    )
    out = pd.DataFrame(
        {
            s.PATIENT_ID: t[s.PATIENT_ID].to_numpy(),
            "duration": duration,
            "event": event,
            "included": reason == "",
            "exclusion_reason": reason,
        }
    )
    return _with_group(out, outcomes, by)


def derive_loss_of_response(
    data: pd.DataFrame, outcomes: PatientOutcomes, *, by: str | None = None
) -> pd.DataFrame:
    """One row per patient who responded (has a first response): days from the first
    response to the first later assessment below the response threshold (event), or to
    the last assessment (censored). Columns: see the module."""
    pct = _require_response(outcomes)
    sign = 1.0 if outcomes.instrument.higher_is_worse else -1.0
    t = outcomes.table
    resp = t.loc[t["first_response_infusions"].notna() | t["first_response_day"].notna()]
    resp = pd.DataFrame(
        {
            s.PATIENT_ID: resp[s.PATIENT_ID].to_numpy(),
            "base": resp["baseline_score"].to_numpy(dtype="float64"),
            "fday": resp["first_response_day"].to_numpy(dtype="float64"),
            "finf": resp["first_response_infusions"].to_numpy(dtype="float64", na_value=np.nan),
        }
    )
    rows = data.loc[
        data[s.INSTRUMENT] == outcomes.instrument.id, [s.PATIENT_ID, s.SCORE, s.INFUSIONS, s.DAY]
    ]
    rows = rows.merge(resp, on=s.PATIENT_ID, how="inner")
    day = rows[s.DAY].to_numpy(dtype="float64")
    inf = rows[s.INFUSIONS].to_numpy(dtype="float64", na_value=np.nan)
    fday, finf = rows["fday"].to_numpy(), rows["finf"].to_numpy()
    later = (day > fday) | ((day == fday) & (inf > finf))
    base = rows["base"].to_numpy()
    improvement = -sign * (rows[s.SCORE].to_numpy(dtype="float64") - base)
    lost = later & ~_meets_pct(improvement, base, pct)
    since = day - fday
    pid = rows[s.PATIENT_ID]
    last = pd.Series(np.where(later, since, np.nan)).groupby(pid.to_numpy()).max()
    first_lost = pd.Series(np.where(lost, since, np.nan)).groupby(pid.to_numpy()).min()
    ids = resp[s.PATIENT_ID]
    last = last.reindex(ids).to_numpy()
    first_lost = first_lost.reindex(ids).to_numpy()
    event = ~np.isnan(first_lost)
    reason = np.select(
        [np.isnan(resp["fday"].to_numpy()), np.isnan(last)],
        ["no day recorded at first response", "no assessment after the first response"],
        default="",
    )
    out = pd.DataFrame(
        {
            s.PATIENT_ID: ids.to_numpy(),
            "duration": np.where(event, first_lost, last),
            "event": event,
            "included": reason == "",
            "exclusion_reason": reason,
        }
    )
    return _with_group(out, outcomes, by)


@dataclass(frozen=True)
class LogRankResult:
    """A log-rank test across the groups in ``groups``."""

    test_statistic: float
    degrees_of_freedom: int
    p_value: float
    groups: tuple[str, ...]


@dataclass(frozen=True)
class KaplanMeierResult:
    """Kaplan–Meier estimates, overall or per group.

    ``curves``: one row per group and time at which the estimate may change (time 0
    included): ``group``, ``time``, ``survival`` (proportion still without the event,
    0-1), ``ci95_low``, ``ci95_high``, ``n_at_risk`` (duration >= time), ``n_events``,
    ``n_censored`` (at that time).
    ``summary``: one row per group: ``group``, ``n_patients``, ``n_events``,
    ``n_censored``, ``median`` (NaN when the curve never reaches 50%), ``median_ci95_low``,
    ``median_ci95_high`` (NaN when not reached).
    ``at_risk``: ``group``, ``time``, ``n_at_risk`` at the chosen ``times``.
    ``logrank``: the test across groups (None with fewer than two groups).
    """

    curves: pd.DataFrame
    summary: pd.DataFrame
    at_risk: pd.DataFrame
    logrank: LogRankResult | None
    n_excluded: int

    @property
    def groups(self) -> list[str]:
        return list(self.summary["group"])


def _finite(x: float) -> float:
    return float(x) if np.isfinite(x) else float("nan")


def at_risk_times(max_time: float, time: TimeScale) -> np.ndarray:
    """Tick times for the number-at-risk table: every infusion, or a whole number of
    weeks chosen to give at most about eight columns."""
    if not np.isfinite(max_time) or max_time <= 0:
        return np.array([0.0])
    if time == "infusions":
        step = max(1, int(np.ceil(max_time / 12)))
    else:
        step = next((w for w in (7, 14, 21, 28, 56, 91, 182) if max_time / w <= 8), 364)
    return np.arange(0.0, max_time + 1e-9, step)


def fit_kaplan_meier(
    durations: pd.DataFrame,
    *,
    time: TimeScale = "day",
    times: Sequence[float] | None = None,
    logrank_groups: Sequence[str] | None = None,
) -> KaplanMeierResult:
    """Fit one Kaplan–Meier curve per ``group`` (or one overall, group ``"All"``) on the
    included rows of a durations table, and a log-rank test across ``logrank_groups``
    (default: every group) when there are at least two of them."""
    d = durations.loc[durations["included"]]
    n_excluded = int((~durations["included"]).sum())
    groups = d["group"].astype(str) if "group" in d.columns else pd.Series(ALL, index=d.index)
    if times is None:
        times = at_risk_times(float(d["duration"].max()) if len(d) else 0.0, time)
    times = np.asarray(times, dtype="float64")
    curves, summary, at_risk = [], [], []
    for name in group_order(groups.unique()):
        g = d.loc[groups == name]
        dur = g["duration"].to_numpy(dtype="float64")
        ev = g["event"].to_numpy(dtype=bool)
        kmf = KaplanMeierFitter(alpha=0.05).fit(dur, ev, label="s")
        table = kmf.event_table
        ci = kmf.confidence_interval_
        curves.append(
            pd.DataFrame(
                {
                    "group": name,
                    "time": kmf.survival_function_.index.to_numpy(dtype="float64"),
                    "survival": kmf.survival_function_["s"].to_numpy(),
                    "ci95_low": ci["s_lower_0.95"].to_numpy(),
                    "ci95_high": ci["s_upper_0.95"].to_numpy(),
                    "n_at_risk": table["at_risk"].to_numpy(dtype="int64"),
                    "n_events": table["observed"].to_numpy(dtype="int64"),
                    "n_censored": table["censored"].to_numpy(dtype="int64"),
                }
            )
        )
        median_ci = median_survival_times(ci)
        summary.append(
            {
                "group": name,
                "n_patients": len(g),
                "n_events": int(ev.sum()),
                "n_censored": int((~ev).sum()),
                "median": _finite(kmf.median_survival_time_),
                "median_ci95_low": _finite(median_ci.iloc[0, 0]),
                "median_ci95_high": _finite(median_ci.iloc[0, 1]),
            }
        )
        sorted_dur = np.sort(dur)
        n_at = len(dur) - np.searchsorted(sorted_dur, times, side="left")
        at_risk.append(pd.DataFrame({"group": name, "time": times, "n_at_risk": n_at}))
    logrank = None
    tested = group_order(logrank_groups if logrank_groups is not None else groups.unique())
    if len(tested) >= 2:
        keep = groups.isin(tested)
        res = multivariate_logrank_test(
            d.loc[keep, "duration"], groups[keep], d.loc[keep, "event"].astype(bool)
        )
        logrank = LogRankResult(
            float(res.test_statistic),
            int(res.degrees_of_freedom),
            float(res.p_value),
            tuple(tested),
        )

    def frame(parts: list[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
        out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        return out.reindex(columns=list(columns))

    return KaplanMeierResult(
        curves=frame(curves, CURVE_COLUMNS),
        summary=pd.DataFrame(summary).reindex(columns=list(SUMMARY_COLUMNS)),
        at_risk=frame(at_risk, ("group", "time", "n_at_risk")),
        logrank=logrank,
        n_excluded=n_excluded,
    )


def suppress_kaplan_meier(
    result: KaplanMeierResult,
    durations: pd.DataFrame,
    *,
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> KaplanMeierResult:
    """Small-cell suppression (DESIGN.md §7) of a Kaplan–Meier result.

    Groups of fewer than ``min_cell_size`` patients (and, by complementary suppression,
    enough further groups that none can be worked out from the total) are hidden: no
    curve, no at-risk row, and ``summary`` statistics blanked with ``suppressed`` True.
    Each remaining curve ends where fewer than ``min_cell_size`` patients are at risk.
    The log-rank test is recomputed across the groups still shown (None if fewer than 2).
    Counts stay in the tables; display them with :func:`analytics.suppression.count_label`.
    """
    summary = result.summary.copy()
    hidden = complementary_suppression(summary["n_patients"].to_numpy(), min_cell_size)
    summary["suppressed"] = hidden
    blank = ["median", "median_ci95_low", "median_ci95_high"]
    summary[blank] = summary[blank].astype("float64")
    summary.loc[hidden, blank] = np.nan
    shown = list(summary.loc[~hidden, "group"])
    curves = result.curves.loc[result.curves["group"].isin(shown)]
    curves = suppress_curve_tail(curves, min_cell_size=min_cell_size)
    at_risk = result.at_risk.loc[result.at_risk["group"].isin(shown)].reset_index(drop=True)
    logrank = result.logrank
    if logrank is not None and tuple(shown) != logrank.groups:
        logrank = (
            fit_kaplan_meier(durations, times=[0.0], logrank_groups=shown).logrank
            if len(shown) >= 2
            else None
        )
    return KaplanMeierResult(curves, summary, at_risk, logrank, result.n_excluded)
