"""The shared sidebar: dataset, instrument, outcome definition and filters.

``render_sidebar()`` draws the widgets (app.py calls it before running the page);
``current_view()`` turns their state into the hashable choices pages pass to ``ui.cache``.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from analytics.definitions import OutcomeDefinition
from analytics.errors import DataValidationError
from ui import cache, links
from ui import state as k
from ui.datasets import DEMO_ID, DatasetInfo, available_datasets, dataset_info
from ui.format import column_label, escape_md

ENDPOINT_LABELS = {
    "last": "Latest assessment",
    "infusions": "After N infusions",
    "day": "Nearest a day",
}


@dataclass(frozen=True)
class View:
    """Everything that decides what a page shows."""

    dataset: DatasetInfo
    instrument: str
    definition: OutcomeDefinition
    filters: cache.FilterKey

    @property
    def dataset_id(self) -> str:
        return self.dataset.id


def _instrument_options(dataset_id: str) -> list[str]:
    registry = cache.registry(dataset_id)
    present = set(cache.instruments_present(dataset_id))
    return [i for i, inst in registry.items() if i in present and inst.is_outcome]


def _default(key: str, value: object) -> object:
    """A widget's default, or None when session state (e.g. a link) already holds its
    value (Streamlit warns when both are given)."""
    return None if key in st.session_state else value


def _response_key(instrument: str) -> str:
    return f"{k.RESPONSE_PCT}__{instrument}"


def _remission_key(instrument: str) -> str:
    return f"{k.REMISSION_BELOW}__{instrument}"


def render_sidebar() -> View | None:
    """Draw the sidebar and return the view, or None (with a message) when unusable."""
    ss = st.session_state
    with st.sidebar:
        datasets = {d.id: d for d in available_datasets()}
        links.take(
            k.DATASET, DEMO_ID, list(datasets), label="dataset (unknown, deleted or not shared)"
        )
        pending = ss.pop(k.PENDING_DATASET, None)
        if pending in datasets:
            ss[k.DATASET] = pending
        if ss.get(k.DATASET, DEMO_ID) not in datasets:
            if k.DATASET in ss:  # deleted while this session was looking at it
                st.warning("That dataset is no longer available; showing the demo cohort.")
            ss[k.DATASET] = DEMO_ID
        st.selectbox(
            "Dataset", options=list(datasets), format_func=lambda i: datasets[i].name, key=k.DATASET
        )
        dataset_id = ss.get(k.DATASET, DEMO_ID)
        if datasets[dataset_id].synthetic:
            st.caption(":orange-badge[Synthetic demo data] No real patients.")
        try:
            options = _instrument_options(dataset_id)
            registry = cache.registry(dataset_id)
        except (DataValidationError, KeyError, OSError) as exc:
            st.error(f"This dataset cannot be loaded: {exc}")
            return None
        if not options:
            st.warning("This dataset has no outcome instrument the app knows.")
            return None
        links.take(k.INSTRUMENT, options[0], options)
        if ss.get(k.INSTRUMENT) not in options:
            ss[k.INSTRUMENT] = options[0]
        st.selectbox(
            "Instrument",
            options=options,
            format_func=lambda i: f"{registry[i].label} · {registry[i].construct}",
            key=k.INSTRUMENT,
            help="The outcome scale analysed on every page.",
        )
        instrument = st.session_state[k.INSTRUMENT]
        inst = registry[instrument]
        _take_definition(inst)
        with st.expander("Outcome definition", icon=":material/rule:"):
            kind = st.radio(
                "Endpoint",
                options=list(ENDPOINT_LABELS),
                format_func=ENDPOINT_LABELS.get,
                key=k.ENDPOINT_KIND,
                help="Which post-baseline assessment counts as the outcome.",
            )
            if kind == "infusions":
                st.number_input(
                    "Infusions received",
                    1,
                    100,
                    value=_default(k.ENDPOINT_INFUSIONS, 6),
                    step=1,
                    key=k.ENDPOINT_INFUSIONS,
                )
            elif kind == "day":
                c1, c2 = st.columns(2)
                c1.number_input(
                    "Day", 1, 3650, value=_default(k.ENDPOINT_DAY, 45), step=1, key=k.ENDPOINT_DAY
                )
                c2.number_input(
                    "± days",
                    0,
                    365,
                    value=_default(k.ENDPOINT_WINDOW, 7),
                    step=1,
                    key=k.ENDPOINT_WINDOW,
                )
            st.radio(
                "Population",
                options=["all", "completers"],
                format_func={
                    "all": "All with baseline and follow-up",
                    "completers": "Completers of the endpoint",
                }.get,
                key=k.POPULATION,
                help=(
                    "All: every patient with a baseline and a post-baseline assessment; with a "
                    "fixed endpoint, those who did not reach it contribute their last assessment "
                    "before it. Completers: only patients assessed at the endpoint."
                ),
            )
            st.number_input(
                "Response: reduction of at least (%)",
                min_value=1.0,
                max_value=100.0,
                value=_default(_response_key(instrument), inst.response_pct),
                step=5.0,
                key=_response_key(instrument),
                help="Registry default for this instrument; a patient exactly at it responds.",
            )
            st.number_input(
                "Remission: score below",
                min_value=float(inst.min),
                max_value=float(inst.max) + 1,
                value=_default(_remission_key(instrument), inst.remission_below),
                step=1.0,
                key=_remission_key(instrument),
                help="Registry default for this instrument; empty when no cut-off is published.",
            )
        _render_filters(dataset_id)
    return current_view()


def _take_definition(inst) -> None:
    """Link values for the outcome definition, validated before the widgets draw."""
    links.take(k.ENDPOINT_KIND, "last", list(ENDPOINT_LABELS), label="endpoint")
    links.take(k.ENDPOINT_INFUSIONS, 6, links.number_in(1, 100), convert=lambda v: int(float(v)))
    links.take(k.ENDPOINT_DAY, 45, links.number_in(1, 3650), convert=lambda v: int(float(v)))
    links.take(k.ENDPOINT_WINDOW, 7, links.number_in(0, 365), convert=lambda v: int(float(v)))
    links.take(k.POPULATION, "all", ["all", "completers"], label="population")
    links.take(
        _response_key(inst.id),
        inst.response_pct,
        links.number_in(1, 100),
        convert=float,
        label=f"response threshold for {inst.label}",
    )
    links.take(
        _remission_key(inst.id),
        inst.remission_below,
        links.number_in(inst.min, inst.max + 1),
        convert=float,
        label=f"remission cut-off for {inst.label}",
    )


def _render_filters(dataset_id: str) -> None:
    levels = cache.filter_levels(dataset_id)
    if not levels:
        return
    for col, values in levels.items():
        links.take(k.filter_key(col), [], values, many=True, label=f"filter {column_label(col)}")
    for col, values in levels.items():  # drop choices a changed dataset no longer has
        chosen = st.session_state.get(k.filter_key(col))
        if chosen and any(v not in values for v in chosen):
            st.session_state[k.filter_key(col)] = [v for v in chosen if v in values]
    active = sum(bool(st.session_state.get(k.filter_key(c))) for c in levels)
    label = f"Filters ({active} active)" if active else "Filters"
    with st.expander(label, icon=":material/filter_alt:", expanded=bool(active)):
        for col, values in levels.items():
            st.multiselect(
                escape_md(column_label(col)),
                options=values,
                key=k.filter_key(col),
                placeholder="All",
            )


def current_definition(instrument: str) -> OutcomeDefinition:
    ss = st.session_state
    kind = ss.get(k.ENDPOINT_KIND, "last")
    if kind == "infusions":
        endpoint = f"infusions:{int(ss.get(k.ENDPOINT_INFUSIONS, 6))}"
    elif kind == "day":
        endpoint = f"day:{int(ss.get(k.ENDPOINT_DAY, 45))}+-{int(ss.get(k.ENDPOINT_WINDOW, 7))}"
    else:
        endpoint = "last"
    return OutcomeDefinition(
        endpoint=endpoint,
        population=ss.get(k.POPULATION, "all"),
        response_pct=ss.get(_response_key(instrument)),
        remission_below=ss.get(_remission_key(instrument)),
    )


def current_filters(dataset_id: str) -> cache.FilterKey:
    levels = cache.filter_levels(dataset_id)
    chosen = {c: st.session_state.get(k.filter_key(c)) or [] for c in levels}
    return tuple(sorted((c, tuple(sorted(v))) for c, v in chosen.items() if v))


def current_view() -> View | None:
    """The view from session state, or None when the sidebar has not set one up."""
    ss = st.session_state
    dataset_id = ss.get(k.DATASET, DEMO_ID)
    instrument = ss.get(k.INSTRUMENT)
    if instrument is None:
        return None
    try:
        info = dataset_info(dataset_id)
        definition = current_definition(instrument)
    except (KeyError, DataValidationError):
        return None
    return View(info, instrument, definition, current_filters(dataset_id))
