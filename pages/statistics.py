"""Statistics: a linear mixed model of post-baseline scores, and paired change tests."""

import streamlit as st

from analytics.charts_durability import (
    PAIRED_NOTE,
    coefficient_note,
    coefficient_table,
    paired_table,
    plot_model_trajectory,
    variance_table,
)
from analytics.errors import DataValidationError
from ui import cache, config, links
from ui import cache_durability as cd
from ui import format as fmt
from ui import report_widgets as rw
from ui import state as k
from ui.widgets import definitions_panel, filters_text, how_computed, page_start

TIME_OPTIONS = {"day": "Days", "infusions": "Infusions"}

view, outcomes, args = page_start("Statistics")
inst = outcomes.instrument
min_cell = config.min_cell_size()
note = " · synthetic demo data" if view.dataset.synthetic else ""

st.subheader("Mixed model of post-baseline scores")
kinds = cd.model_covariates(view.dataset_id)
links.take(k.STATS_TIME, "day", list(TIME_OPTIONS), label="time")
links.take(k.STATS_RANDOM_SLOPE, False, ["True", "False"], convert="True".__eq__)
links.take(k.STATS_METHOD, "ML", ["ML", "REML"], label="estimation")
links.take(k.STATS_COVARIATES, [], list(kinds), many=True, label="covariates")
c = st.columns([2, 1.3, 1.3])
time = (
    c[0].segmented_control(
        "Time since first infusion, counted in",
        list(TIME_OPTIONS),
        format_func=TIME_OPTIONS.get,
        default=None if k.STATS_TIME in st.session_state else "day",
        key=k.STATS_TIME,
    )
    or "day"
)
slope = c[1].toggle("Random slope for time", key=k.STATS_RANDOM_SLOPE)
method = c[2].radio("Estimation", ["ML", "REML"], key=k.STATS_METHOD, horizontal=True)
covariates = st.multiselect(
    "Covariates",
    options=list(kinds),
    format_func=lambda col: f"{fmt.column_label(col)} ({kinds[col]})",
    key=k.STATS_COVARIATES,
    placeholder="None: time and baseline score only",
)
try:
    model = cd.mixed_model(
        *args,
        time=time,
        covariates=tuple(covariates),
        random_slope=slope,
        reml=method == "REML",
        min_cell_size=min_cell,
    )
except DataValidationError as exc:
    st.error(f"The mixed model cannot be fitted: {exc}")
    model = None
if model is not None and model.n_patients < min_cell:
    st.info(
        f"Fewer than {min_cell} patients here: the model is not shown (small-cell suppression)."
    )
elif model is not None:
    for warning in model.warnings:
        st.warning(warning, icon=":material/warning:")
    tiles = [
        ("Patients", f"{model.n_patients:,}", None),
        ("Assessments", f"{model.n_observations:,}", "Post-baseline, up to the endpoint."),
        ("Log-likelihood", fmt.num(model.log_likelihood, 1), f"{model.method} fit."),
        ("AIC", fmt.num(model.aic, 1), "Maximum likelihood only (— under REML)."),
        ("BIC", fmt.num(model.bic, 1), "Maximum likelihood only (— under REML)."),
    ]
    for col, (label, value, help_text) in zip(st.columns(5), tiles, strict=True):
        col.metric(label, value, help=help_text)
    left, right = st.columns([4, 3])
    left.dataframe(
        coefficient_table(model, min_cell_size=min_cell), hide_index=True, width="stretch"
    )
    left.caption(coefficient_note(model))
    right.dataframe(variance_table(model), hide_index=True, width="stretch")
    endpoint = view.definition.endpoint_rule.describe()
    fig = plot_model_trajectory(model, inst, endpoint=endpoint, note=note)
    st.plotly_chart(fig, width="stretch", theme=None, key="statistics_trajectory")

st.subheader("Paired change from baseline to endpoint")
group_options = [None, *cache.filter_levels(view.dataset_id)]
links.take(k.STATS_PAIRED_BY, None, [str(o) for o in group_options[1:]], label="paired by")
by = st.selectbox(
    "By group",
    options=group_options,
    format_func=lambda x: "All patients only" if x is None else fmt.column_label(x),
    key=k.STATS_PAIRED_BY,
)
paired = cd.paired_change(*args, by=by)
st.dataframe(paired_table(paired, min_cell_size=min_cell), hide_index=True, width="stretch")
st.caption(PAIRED_NOTE)

definitions_panel(outcomes, filters_text(view.filters))
how_computed("statistics")
rw.reproduce_panel(
    view,
    "mixed",
    options=rw.mixed_options(
        time,
        covariates,
        bool(st.session_state.get(k.STATS_RANDOM_SLOPE)),
        st.session_state.get(k.STATS_METHOD, "ML") == "REML",
    ),
    what="Prints the mixed model's numbers",
)
