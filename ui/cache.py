"""Cached wrappers around the analytics library. The only place that calls
``st.cache_data`` / ``st.cache_resource``; arguments are hashable ids and frozen values."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st

from analytics.covariates import categorical_levels, patient_covariates
from analytics.definitions import OutcomeDefinition
from analytics.filters import apply_filters
from analytics.instruments import Instrument, load_registry
from analytics.outcomes import PatientOutcomes, derive_patient_outcomes
from analytics.profiles import parse_profile
from analytics.stats import count_cohort, summarise_outcomes
from analytics.suppression import suppress_trajectory
from analytics.trajectories import summarise_trajectory
from ui.datasets import dataset_profile_toml, load_dataset

FilterKey = tuple[tuple[str, tuple[str, ...]], ...]


@st.cache_resource(show_spinner="Loading dataset…", max_entries=8)
def dataset(dataset_id: str) -> pd.DataFrame:
    """The validated canonical table (shared, read-only: never mutate it). Datasets are
    immutable under their id: a new upload gets a new id."""
    return load_dataset(dataset_id)


@st.cache_resource(max_entries=8)
def registry(dataset_id: str) -> Mapping[str, Instrument]:
    """The instrument registry plus the custom instruments of the dataset's profile."""
    profile_toml = dataset_profile_toml(dataset_id)
    if not profile_toml:
        return load_registry()
    return parse_profile(profile_toml).registry


@st.cache_resource(max_entries=8)
def covariates(dataset_id: str) -> pd.DataFrame:
    return patient_covariates(dataset(dataset_id))


@st.cache_data(max_entries=8)
def filter_levels(dataset_id: str) -> dict[str, list[str]]:
    return categorical_levels(covariates(dataset_id))


def instruments_present(dataset_id: str) -> list[str]:
    return sorted(dataset(dataset_id)["instrument"].unique())


@st.cache_resource(max_entries=64)
def filtered(dataset_id: str, filters: FilterKey) -> pd.DataFrame:
    return apply_filters(dataset(dataset_id), dict(filters))


@st.cache_data(max_entries=64, show_spinner=False)
def outcomes(
    dataset_id: str, instrument: str, definition: OutcomeDefinition, filters: FilterKey
) -> PatientOutcomes:
    return derive_patient_outcomes(
        filtered(dataset_id, filters),
        instrument,
        definition,
        registry=registry(dataset_id),
        covariates=covariates(dataset_id),
    )


@st.cache_data(max_entries=64, show_spinner=False)
def summary(
    dataset_id: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    by: str | None = None,
) -> pd.DataFrame:
    return summarise_outcomes(outcomes(dataset_id, instrument, definition, filters), by=by)


@st.cache_data(max_entries=64, show_spinner=False)
def cohort_counts(dataset_id: str, instrument: str, filters: FilterKey) -> dict[str, int]:
    return count_cohort(filtered(dataset_id, filters), instrument)


@st.cache_data(max_entries=64, show_spinner=False)
def trajectory(
    dataset_id: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    value: str = "score",
    by: str | None = None,
    min_cell_size: int = 11,
) -> pd.DataFrame:
    data = filtered(dataset_id, filters)
    out = outcomes(dataset_id, instrument, definition, filters)
    return suppress_trajectory(summarise_trajectory(data, out, value=value, by=by), min_cell_size)
