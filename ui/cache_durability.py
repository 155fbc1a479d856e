"""Cached wrappers for the Durability and Statistics pages. Arguments are hashable ids,
the frozen outcome definition, the filters tuple and the page's options; suppression is
applied here, so pages only ever see what may be shown."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from analytics.definitions import OutcomeDefinition
from analytics.durability import (
    KaplanMeierResult,
    TimeScale,
    derive_loss_of_response,
    derive_time_to_response,
    fit_kaplan_meier,
    suppress_kaplan_meier,
)
from analytics.mixed import CovariateKind, MixedModelResult, covariate_kinds, fit_mixed_model
from analytics.paired import summarise_paired_change
from analytics.suppression import suppress_rows
from ui import cache
from ui.cache import FilterKey


@st.cache_data(max_entries=64, show_spinner=False)
def time_to_response(
    dataset_id: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    time: TimeScale = "day",
    by: str | None = None,
    min_cell_size: int = 11,
) -> KaplanMeierResult:
    """Kaplan–Meier of time to first response, suppressed for display."""
    out = cache.outcomes(dataset_id, instrument, definition, filters)
    durations = derive_time_to_response(out, time=time, by=by)
    result = fit_kaplan_meier(durations, time=time)
    return suppress_kaplan_meier(result, durations, min_cell_size=min_cell_size)


@st.cache_data(max_entries=64, show_spinner=False)
def loss_of_response(
    dataset_id: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    by: str | None = None,
    min_cell_size: int = 11,
) -> KaplanMeierResult:
    """Kaplan–Meier of time from first response to loss of response (days), suppressed."""
    data = cache.filtered(dataset_id, filters)
    out = cache.outcomes(dataset_id, instrument, definition, filters)
    durations = derive_loss_of_response(data, out, by=by)
    result = fit_kaplan_meier(durations, time="day")
    return suppress_kaplan_meier(result, durations, min_cell_size=min_cell_size)


@st.cache_data(max_entries=8, show_spinner=False)
def model_covariates(dataset_id: str) -> dict[str, CovariateKind]:
    """Patient-level covariates the mixed model can use, with their kind."""
    return covariate_kinds(cache.covariates(dataset_id))


@st.cache_data(max_entries=32, show_spinner="Fitting the mixed model…")
def mixed_model(
    dataset_id: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    time: TimeScale = "day",
    covariates: tuple[str, ...] = (),
    random_slope: bool = False,
    reml: bool = False,
    min_cell_size: int = 11,
) -> MixedModelResult:
    """The mixed model; observed means over fewer than ``min_cell_size`` patients are
    suppressed (``observed.suppressed``)."""
    data = cache.filtered(dataset_id, filters)
    out = cache.outcomes(dataset_id, instrument, definition, filters)
    kinds = model_covariates(dataset_id)
    result = fit_mixed_model(
        data,
        out,
        time=time,
        covariates=covariates,
        random_slope=random_slope,
        reml=reml,
        kinds={c: kinds[c] for c in covariates if c in kinds},
    )
    observed = suppress_rows(
        result.observed,
        n_column="n_patients",
        value_columns=("mean", "sd", "ci95_low", "ci95_high"),
        min_cell_size=min_cell_size,
    )
    return replace(result, observed=observed)


@st.cache_data(max_entries=64, show_spinner=False)
def paired_change(
    dataset_id: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    by: str | None = None,
) -> pd.DataFrame:
    return summarise_paired_change(
        cache.outcomes(dataset_id, instrument, definition, filters), by=by
    )
