"""Cached wrappers around the analytics library. The only place that calls
``st.cache_data`` / ``st.cache_resource``; arguments are hashable ids and frozen values.

A filter change is the click users wait for. The sidebar's filters are on patient-level
covariates, so a filter usually chooses patients: when every filtered column holds one
value per patient on all of the patient's rows (``patient_level``), the outcomes, counts
and trajectory of the filtered view are those of the whole dataset restricted to the
chosen patients (:func:`analytics.outcomes.restrict_outcomes`), computed once per dataset,
instrument and definition. Any other filter takes the general path over the filtered rows.
The results are the same either way (tests/test_bench_smoke.py checks it).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import streamlit as st

from analytics import schema as s
from analytics.codes import constant_within, first_rows
from analytics.covariates import categorical_levels, extra_columns, patient_covariates
from analytics.definitions import OutcomeDefinition
from analytics.filters import apply_filters
from analytics.instruments import Instrument, load_registry
from analytics.outcomes import PatientOutcomes, derive_patient_outcomes, restrict_outcomes
from analytics.profiles import parse_profile
from analytics.stats import count_cohort, patient_counts, sum_patient_counts, summarise_outcomes
from analytics.suppression import suppress_trajectory
from analytics.trajectories import summarise_points, summarise_trajectory, trajectory_points
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
    _patient_first_rows(dataset_id)  # found with the dataset, so no filter click waits
    return patient_covariates(dataset(dataset_id))


@st.cache_data(max_entries=8)
def filter_levels(dataset_id: str) -> dict[str, list[str]]:
    return categorical_levels(covariates(dataset_id))


@st.cache_data(max_entries=8, show_spinner=False)
def instruments_present(dataset_id: str) -> list[str]:
    return sorted(dataset(dataset_id)["instrument"].unique())


@st.cache_resource(max_entries=256, show_spinner=False)
def patient_level(dataset_id: str, column: str) -> bool:
    """Whether a filter on ``column`` chooses whole patients (see the module docstring):
    :func:`analytics.covariates.patient_level_columns` for one column, checked the first
    time it is filtered on against each row's patient's first row (found once per dataset)."""
    data = dataset(dataset_id)
    if column not in extra_columns(data) or data[s.PATIENT_ID].isna().any():
        return False
    return constant_within(data[column], _patient_first_rows(dataset_id))


@st.cache_resource(max_entries=8, show_spinner=False)
def _patient_first_rows(dataset_id: str) -> np.ndarray:
    return first_rows(dataset(dataset_id)[s.PATIENT_ID])


@st.cache_resource(max_entries=64, show_spinner=False)
def chosen_patients(dataset_id: str, filters: FilterKey) -> np.ndarray | None:
    """One flag per row of :func:`covariates` (the dataset's patients): chosen by
    ``filters``; None when a filter is not a choice of patients."""
    if not filters or not all(patient_level(dataset_id, c) for c, _ in filters):
        return None
    frame = _covariate_rows(dataset_id)
    kept = apply_filters(frame, dict(filters)).index.to_numpy()
    flags = np.zeros(len(frame), dtype=bool)
    flags[kept] = True
    return flags


@st.cache_resource(max_entries=8, show_spinner=False)
def _covariate_rows(dataset_id: str) -> pd.DataFrame:
    """:func:`covariates` with ``patient_id`` as a column and positions as the index."""
    return covariates(dataset_id).reset_index()


def _positions(dataset_id: str, ids: pd.Series) -> np.ndarray:
    """Each id's row in :func:`covariates` (every patient of the dataset has one)."""
    return covariates(dataset_id).index.get_indexer(ids)


@st.cache_resource(max_entries=16, show_spinner=False)
def _all_outcomes(
    dataset_id: str, instrument: str, definition: OutcomeDefinition
) -> tuple[PatientOutcomes, np.ndarray]:
    """The unfiltered outcomes (shared, read-only) and each row's patient position."""
    out = derive_patient_outcomes(
        dataset(dataset_id),
        instrument,
        definition,
        registry=registry(dataset_id),
        covariates=covariates(dataset_id),
    )
    return out, _positions(dataset_id, out.table[s.PATIENT_ID])


@st.cache_resource(max_entries=16, show_spinner=False)
def _all_points(
    dataset_id: str, instrument: str, definition: OutcomeDefinition
) -> tuple[pd.DataFrame, np.ndarray]:
    """The unfiltered trajectory points and each point's patient position."""
    points = trajectory_points(
        dataset(dataset_id), _all_outcomes(dataset_id, instrument, definition)[0]
    )
    return points, _positions(dataset_id, points[s.PATIENT_ID])


@st.cache_resource(max_entries=16, show_spinner=False)
def _all_counts(dataset_id: str, instrument: str) -> tuple[pd.DataFrame, np.ndarray]:
    counts = patient_counts(dataset(dataset_id), instrument)
    return counts, _positions(dataset_id, counts.index.to_series())


# Each entry is a copy of the filtered rows (up to the whole dataset, ~0.6 GB at 100,000
# patients), so few are kept: recomputing one costs a fraction of a second.
@st.cache_resource(max_entries=8)
def filtered(dataset_id: str, filters: FilterKey) -> pd.DataFrame:
    """The dataset's rows that pass ``filters`` (shared, read-only: never mutate it)."""
    return apply_filters(dataset(dataset_id), dict(filters))


# A resource, not data: the table of 100,000 patients costs ~70 ms to pickle on every new
# filter and ~25 ms to unpickle on every rerun as cache_data. Shared: never mutate it.
@st.cache_resource(max_entries=16, show_spinner=False)
def outcomes(
    dataset_id: str, instrument: str, definition: OutcomeDefinition, filters: FilterKey
) -> PatientOutcomes:
    """The patient outcomes table of a view (shared, read-only: never mutate it)."""
    chosen = chosen_patients(dataset_id, filters)
    if not filters or chosen is not None:
        out, where = _all_outcomes(dataset_id, instrument, definition)
        return out if chosen is None else restrict_outcomes(out, chosen[where])
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
    chosen = chosen_patients(dataset_id, filters)
    if not filters or chosen is not None:
        counts, where = _all_counts(dataset_id, instrument)
        return sum_patient_counts(counts if chosen is None else counts[chosen[where]])
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
    out = outcomes(dataset_id, instrument, definition, filters)
    chosen = chosen_patients(dataset_id, filters)
    if not filters or chosen is not None:
        points, where = _all_points(dataset_id, instrument, definition)
        if chosen is not None:
            points = points[chosen[where]]
        table = summarise_points(points, out, value=value, by=by)
    else:
        table = summarise_trajectory(filtered(dataset_id, filters), out, value=value, by=by)
    return suppress_trajectory(table, min_cell_size)
