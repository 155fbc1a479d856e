"""Cached wrappers for the Trajectories and Responders pages.

Arguments are hashable: the dataset id, instrument ids, frozen outcome definitions, the
filter tuple and plain options; results are tables with small-cell suppression applied.
Also small display helpers that turn those tables into text for ``st.dataframe``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from analytics import responders as r
from analytics.definitions import OutcomeDefinition
from analytics.instruments import load_registry
from analytics.suppression import PRIMARY, display_counts, suppressed_label
from analytics.trajectory_stats import (
    DEFAULT_MAX_PATIENTS,
    DEFAULT_SEED,
    group_labels,
    patient_points,
    spaghetti_points,
    summarise_time_course,
    suppress_time_course,
)
from ui import cache
from ui import state as k
from ui.cache import FilterKey
from ui.format import p_value

# Trajectories page controls: key -> (label, {option: text} with the default first, help).
TRAJECTORY_CHOICES = {
    k.TRAJ_TIME: (
        "Time axis",
        {"infusions": "Infusions", "day": "Days"},
        "Infusions received, or days since the first infusion in bins (weekly during "
        "induction, then wider follow-up windows; see How this is computed).",
    ),
    k.TRAJ_VALUE: (
        "Show",
        {"score": "Score", "pct_change": "% change", "pct_of_max": "% of max"},
        "Total score; % change from each patient's baseline; or % of the scale's maximum "
        "(100 = worst), which puts instruments on different scales side by side.",
    ),
    k.TRAJ_STATISTIC: (
        "Average",
        {"mean": "Mean", "median": "Median"},
        "Mean with a t-based 95% CI, or median with a distribution-free 95% CI "
        "(order statistics, coverage at least 95%).",
    ),
}


def sentence(text: str) -> str:
    """First letter upper-case, the rest untouched (``str.capitalize`` lowers "PCL-5")."""
    return text[:1].upper() + text[1:]


def instrument_label(instrument: str) -> str:
    """``PHQ-9 · depression`` for a registry instrument, the id for a custom one."""
    inst = load_registry().get(instrument)
    return f"{inst.label} · {inst.construct}" if inst else instrument


def outcome_instruments(dataset_id: str) -> list[str]:
    """Instruments in the dataset that are outcomes (registry session measures such as
    CADSS are not; a custom instrument is)."""
    registry = load_registry()
    present = cache.instruments_present(dataset_id)
    return [i for i in present if i not in registry or registry[i].is_outcome]


@st.cache_data(max_entries=64, show_spinner=False)
def time_course(
    dataset_id: str,
    instruments: tuple[str, ...],
    definitions: tuple[OutcomeDefinition, ...],
    filters: FilterKey,
    *,
    time: str = "infusions",
    value: str = "score",
    statistic: str = "mean",
    by: str | None = None,
    min_cell_size: int = 11,
) -> pd.DataFrame:
    """Suppressed centre-and-CI table per time point; with several instruments ``group`` is
    the instrument's label (suppression is per instrument; ``by`` is then ignored)."""
    data = cache.filtered(dataset_id, filters)
    parts = []
    for instrument, definition in zip(instruments, definitions, strict=True):
        out = cache.outcomes(dataset_id, instrument, definition, filters)
        points = patient_points(data, out, time=time)
        if not (points["time"] > 0).any():  # e.g. no assessment carries a day
            continue
        groups = group_labels(out, by) if by is not None and len(instruments) == 1 else None
        summary = summarise_time_course(points, value=value, statistic=statistic, groups=groups)
        summary = suppress_time_course(summary, min_cell_size=min_cell_size)
        if len(instruments) > 1:
            summary["group"] = out.instrument.label
        parts.append(summary)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def time_course_display(summary: pd.DataFrame, min_cell_size: int) -> pd.DataFrame:
    """The numbers behind the chart, with suppressed values as their labels."""
    small = summary["suppressed"] == PRIMARY
    hidden = summary["suppressed"] != ""
    n = summary["n"].map("{:,}".format).mask(small, suppressed_label(min_cell_size))
    n = n.mask(hidden & ~small, "hidden")

    def num(col: str) -> pd.Series:
        return summary[col].map(lambda x: "—" if pd.isna(x) else f"{x:.1f}")

    return pd.DataFrame(
        {
            "Time": summary["time_label"].astype(str),
            "Group": summary["group"].astype(str),
            "Patients": n,
            "Centre": num("centre"),
            "95% CI low": num("ci95_low"),
            "95% CI high": num("ci95_high"),
        }
    )


@st.cache_data(max_entries=32, show_spinner=False)
def spaghetti(
    dataset_id: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    *,
    time: str = "infusions",
    max_patients: int = DEFAULT_MAX_PATIENTS,
    seed: int = DEFAULT_SEED,
) -> tuple[pd.DataFrame, int]:
    """(points of the sampled patients, number of patients with a baseline)."""
    out = cache.outcomes(dataset_id, instrument, definition, filters)
    pts = spaghetti_points(
        cache.filtered(dataset_id, filters), out, time=time, max_patients=max_patients, seed=seed
    )
    n_patients = int(pts.attrs.get("n_patients", 0))
    if time == "day" and pts[pts["time_label"] != "Baseline"].empty:
        return pts.iloc[0:0], n_patients  # no assessment carries a day
    return pts, n_patients


@st.cache_data(max_entries=64, show_spinner=False)
def waterfall(
    dataset_id: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    min_cell_size: int = 11,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = cache.outcomes(dataset_id, instrument, definition, filters)
    w = r.waterfall_table(out)
    return w, r.count_statuses(w, r.waterfall_statuses(out), min_cell_size=min_cell_size)


@st.cache_data(max_entries=64, show_spinner=False)
def rates(
    dataset_id: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    by: str | None = None,
    min_cell_size: int = 11,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rate table, between-group comparisons)."""
    out = cache.outcomes(dataset_id, instrument, definition, filters)
    table = r.rate_table(out, by=by, min_cell_size=min_cell_size)
    return table, r.compare_groups(table) if by is not None else pd.DataFrame()


def comparison_display(comparison: pd.DataFrame) -> pd.DataFrame:
    """Between-group comparisons as text."""

    def diff(row: pd.Series) -> str:
        if pd.isna(row.difference_pct):
            return "—"
        return (
            f"{row.difference_pct:+.1f} pp (95% CI {row.ci95_low:+.1f} to {row.ci95_high:+.1f})"
        ).replace("-", "−")

    def stat(row: pd.Series) -> str:
        if row.test.startswith("Fisher"):
            return f"odds ratio {row.statistic:.2f}"
        if np.isnan(row.statistic):
            return "—"
        return f"χ² = {row.statistic:.2f}, df = {int(row.dof)}"

    return pd.DataFrame(
        {
            "Measure": comparison["measure"],
            "Groups compared": comparison["groups"],
            "Difference (first − second)": comparison.apply(diff, axis=1),
            "Test": comparison["test"],
            "Statistic": comparison.apply(stat, axis=1),
            "p": comparison["p_value"].map(p_value),
            "Left out": comparison["excluded"].replace("", "—"),
        }
    )


@st.cache_data(max_entries=64, show_spinner=False)
def reliable_change(
    dataset_id: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    by: str | None = None,
    min_cell_size: int = 11,
) -> pd.DataFrame:
    out = cache.outcomes(dataset_id, instrument, definition, filters)
    return r.reliable_change_table(out, by=by, min_cell_size=min_cell_size)


@st.cache_data(max_entries=64, show_spinner=False)
def transitions(
    dataset_id: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    min_cell_size: int = 11,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = cache.outcomes(dataset_id, instrument, definition, filters)
    return r.band_transitions(out, min_cell_size=min_cell_size)


@st.cache_data(max_entries=64, show_spinner=False)
def cumulative(
    dataset_id: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    min_cell_size: int = 11,
) -> pd.DataFrame:
    out = cache.outcomes(dataset_id, instrument, definition, filters)
    return r.cumulative_response(out, min_cell_size=min_cell_size)


@st.cache_data(max_entries=64, show_spinner=False)
def early_signals(
    dataset_id: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    min_cell_size: int = 11,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(2x2 table as text with margins, metrics)."""
    out = cache.outcomes(dataset_id, instrument, definition, filters)
    table, status = r.early_signal_counts(out, min_cell_size=min_cell_size)
    metrics = r.early_signal_metrics(table, status)
    text = display_counts(table, status, min_cell_size=min_cell_size)
    text.index.name, text.columns.name = None, None
    return text, metrics


REVIEW_COLUMNS = {
    "patient_id": st.column_config.TextColumn("Patient"),
    "baseline_score": st.column_config.NumberColumn("Baseline", format="%.0f"),
    "latest_score": st.column_config.NumberColumn("Latest score", format="%.0f"),
    "latest_infusions": st.column_config.NumberColumn("Infusions at latest", format="%d"),
    "latest_day": st.column_config.NumberColumn("Day of latest", format="%.0f"),
    "latest_pct_change": st.column_config.NumberColumn("Change (%)", format="%+.0f%%"),
}


@st.cache_data(max_entries=32, show_spinner=False)
def review_list(
    dataset_id: str, instrument: str, definition: OutcomeDefinition, filters: FilterKey
) -> pd.DataFrame:
    out = cache.outcomes(dataset_id, instrument, definition, filters)
    return r.review_list(cache.filtered(dataset_id, filters), out)
