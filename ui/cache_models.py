"""Cached wrappers for the Prediction page (issue 5).

Fitted models are cached by dataset id and content hash, instrument, outcome definition,
filters, features and the :class:`~analytics.models.ModelSpec`: all hashable values.
Cross-validation is cached one repeat at a time, so that :func:`fit_with_progress` can
advance a progress bar between repeats (a cached function cannot draw into a container
created outside it) and so that a rerun interrupted between repeats keeps what it has done.
Fitted pipelines live in ``st.cache_resource``: shared, never copied, never mutated.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import pandas as pd
import streamlit as st

from analytics.definitions import OutcomeDefinition
from analytics.features import FeatureMatrix, build_feature_matrix, feature_catalogue, fingerprint
from analytics.instruments import Instrument, load_registry
from analytics.models import (
    GuardReport,
    ModelSpec,
    RepeatResult,
    ResponseModel,
    check_guards,
    cross_validate_repeat,
    fit_response_model,
)
from ui import cache

FilterKey = cache.FilterKey
Features = tuple[str, ...]


def _registry(dataset_id: str) -> Mapping[str, Instrument]:
    """The dataset's registry (with its profile's custom instruments) where the app has one."""
    getter = getattr(cache, "registry", None)
    return getter(dataset_id) if getter is not None else load_registry()


@st.cache_data(max_entries=16, show_spinner=False)
def content_hash(dataset_id: str, stored_hash: str = "") -> str:
    """The dataset's content hash: the store's when it has one, else a SHA-256 of the
    validated table (:func:`analytics.features.fingerprint`)."""
    return stored_hash or fingerprint(cache.dataset(dataset_id))


@st.cache_data(max_entries=64, show_spinner=False)
def filtered_hash(dataset_id: str, content: str, filters: FilterKey) -> str:
    """SHA-256 of the filtered rows the model is fitted on."""
    return fingerprint(cache.filtered(dataset_id, filters))


@st.cache_data(max_entries=64, show_spinner="Listing features…")
def catalogue(
    dataset_id: str,
    content: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
) -> pd.DataFrame:
    return feature_catalogue(
        cache.filtered(dataset_id, filters),
        instrument,
        definition,
        registry=_registry(dataset_id),
        covariates=cache.covariates(dataset_id),
    )


@st.cache_data(max_entries=32, show_spinner=False)
def feature_matrix(
    dataset_id: str,
    content: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    features: Features,
) -> FeatureMatrix:
    return build_feature_matrix(
        cache.filtered(dataset_id, filters),
        instrument,
        list(features),
        definition,
        registry=_registry(dataset_id),
        covariates=cache.covariates(dataset_id),
    )


@st.cache_data(max_entries=32, show_spinner=False)
def guard(
    dataset_id: str,
    content: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    features: Features,
    spec: ModelSpec,
) -> GuardReport:
    fm = feature_matrix(dataset_id, content, instrument, definition, filters, features)
    return check_guards(fm, spec)


@st.cache_resource(max_entries=64, show_spinner=False)
def cv_repeat(
    dataset_id: str,
    content: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    features: Features,
    spec: ModelSpec,
    repeat: int,
) -> RepeatResult:
    fm = feature_matrix(dataset_id, content, instrument, definition, filters, features)
    return cross_validate_repeat(fm, spec, repeat)


@st.cache_resource(max_entries=16, show_spinner=False)
def response_model(
    dataset_id: str,
    content: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    features: Features,
    spec: ModelSpec,
) -> ResponseModel:
    args = (dataset_id, content, instrument, definition, filters, features)
    fm = feature_matrix(*args)
    repeats = [cv_repeat(*args, spec, r) for r in range(spec.n_repeats)]
    return fit_response_model(fm, spec, repeats=repeats)


def fit_with_progress(
    dataset_id: str,
    content: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    features: Features,
    spec: ModelSpec,
) -> ResponseModel:
    """:func:`response_model` inside an ``st.status`` with a progress bar per repeat
    (instant when everything is cached)."""
    args = (dataset_id, content, instrument, definition, filters, features, spec)
    start = time.perf_counter()
    r_total = spec.n_repeats
    with st.status(f"Fitting: {spec.describe()}…", expanded=False) as status:
        bar = st.progress(0.0, text="Cross-validating…")
        for r in range(r_total):
            bar.progress(r / (r_total + 1), text=f"Cross-validating: repeat {r + 1} of {r_total}")
            cv_repeat(*args, r)
        bar.progress(r_total / (r_total + 1), text="Confidence intervals and explanation…")
        model = response_model(*args)
        bar.progress(1.0, text="Done")
        status.update(
            label=f"Fitted and validated: {spec.describe()} · {time.perf_counter() - start:.1f} s",
            state="complete",
        )
    return model
