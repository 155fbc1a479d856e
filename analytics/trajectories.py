"""Mean score trajectories across a course of infusions.

Each patient with a baseline contributes their baseline at 0 infusions and, for each
later infusion count k, their first assessment after k infusions (the one nearest the
infusion; later follow-ups without a further infusion belong on the day axis).

Output columns of :func:`summarise_trajectory`: ``infusions_received``, ``group`` (with
``by``), ``n``, ``mean``, ``sd``, ``ci95_low``, ``ci95_high`` (t-based CI of the mean),
``median``.
"""

from __future__ import annotations

import pandas as pd

from analytics import schema as s
from analytics.codes import is_in
from analytics.outcomes import PatientOutcomes
from analytics.stats import mean_ci


def trajectory_points(data: pd.DataFrame, outcomes: PatientOutcomes) -> pd.DataFrame:
    """One row per patient and infusion count: ``patient_id``, ``infusions_received``,
    ``score``, and ``pct_change`` from that patient's baseline."""
    inst = outcomes.instrument
    base = outcomes.table.loc[outcomes.table["baseline_score"].notna()]
    base = base[[s.PATIENT_ID, "baseline_score"]]
    d = data.loc[
        (data[s.INSTRUMENT] == inst.id) & (data[s.INFUSIONS] >= 1),
        [s.PATIENT_ID, s.INFUSIONS, s.DAY, s.SCORE],
    ]
    d = d[is_in(d[s.PATIENT_ID], base[s.PATIENT_ID])]
    d = d.sort_values([s.PATIENT_ID, s.INFUSIONS, s.DAY], kind="stable")
    d = d.drop_duplicates([s.PATIENT_ID, s.INFUSIONS], keep="first")
    b = base.rename(columns={"baseline_score": s.SCORE}).assign(**{s.INFUSIONS: 0})
    points = pd.concat([b, d[[s.PATIENT_ID, s.INFUSIONS, s.SCORE]]], ignore_index=True)
    points[s.INFUSIONS] = points[s.INFUSIONS].astype("int64")
    points = points.merge(base, on=s.PATIENT_ID, how="left")
    pct = (points[s.SCORE] - points["baseline_score"]) / points["baseline_score"] * 100.0
    points["pct_change"] = pct.where(points["baseline_score"] != 0)
    return points.drop(columns="baseline_score")


def summarise_trajectory(
    data: pd.DataFrame,
    outcomes: PatientOutcomes,
    *,
    value: str = s.SCORE,
    by: str | None = None,
) -> pd.DataFrame:
    """Mean (with 95% CI), SD, median and n of ``value`` (``score`` or ``pct_change``)
    per infusion count, optionally per level of the patient-level column ``by``."""
    return summarise_points(trajectory_points(data, outcomes), outcomes, value=value, by=by)


def summarise_points(
    points: pd.DataFrame,
    outcomes: PatientOutcomes,
    *,
    value: str = s.SCORE,
    by: str | None = None,
) -> pd.DataFrame:
    """:func:`summarise_trajectory` from :func:`trajectory_points` already computed: the
    points of a subset of patients (in their order) summarise as that subset would."""
    keys = [s.INFUSIONS]
    if by is not None:
        groups = outcomes.table.set_index(s.PATIENT_ID)[by].astype("string").fillna("(missing)")
        points = points.assign(group=points[s.PATIENT_ID].map(groups))
        keys.append("group")
    g = points.dropna(subset=[value]).groupby(keys, observed=True)[value]
    out = g.agg(n="size", mean="mean", sd="std", median="median").reset_index()
    low, high = mean_ci(out["mean"].to_numpy(), out["sd"].to_numpy(), out["n"].to_numpy())
    out["ci95_low"] = low
    out["ci95_high"] = high
    return out
