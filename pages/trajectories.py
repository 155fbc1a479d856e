"""Trajectories: how scores change across the course of infusions, on average and per patient."""

import streamlit as st

from analytics.charts_trajectories import definition_text, plot_spaghetti, plot_time_course
from analytics.trajectory_stats import DEFAULT_SEED
from ui import cache, config, links
from ui import cache_responders as cr
from ui import format as fmt
from ui import report_widgets as rw
from ui import state as k
from ui.sidebar import current_definition
from ui.widgets import definitions_panel, filters_text, how_computed, page_start

view, outcomes, args = page_start("Trajectories")
inst = outcomes.instrument

min_cell = config.min_cell_size()
note = "synthetic demo data" if view.dataset.synthetic else ""
definition = definition_text(outcomes.resolved)
c = st.columns([2, 3, 2, 2])
choice = {}
for col, (key, (label, options, help_text)) in zip(c, cr.TRAJECTORY_CHOICES.items(), strict=False):
    first = next(iter(options))
    links.take(key, first, list(options), label=label)
    default = None if key in st.session_state else first
    choice[key] = col.segmented_control(
        label, list(options), format_func=options.get, default=default, key=key, help=help_text
    )
    choice[key] = choice[key] or first  # a deselected control falls back to its default
time, value, statistic = choice[k.TRAJ_TIME], choice[k.TRAJ_VALUE], choice[k.TRAJ_STATISTIC]
levels = cache.filter_levels(view.dataset_id)
links.take(k.TRAJ_BY, None, list(levels), label="split by")
by = c[3].selectbox(
    "Split by",
    [None, *levels],
    format_func=lambda x: "No split" if x is None else fmt.column_label(x),
    key=k.TRAJ_BY,
)
others: list[str] = []
if value == "pct_of_max":
    choices = [i for i in cr.outcome_instruments(view.dataset_id) if i != view.instrument]
    links.take(k.TRAJ_COMPARE, [], choices, many=True, label="compare with")
    others = st.multiselect(
        "Compare with other instruments (% of scale maximum)",
        choices,
        key=k.TRAJ_COMPARE,
        format_func=cr.instrument_label,
        placeholder="None",
        help="Each instrument uses its own outcome definition from the sidebar.",
    )
    if others and by:
        st.caption("The split is off while instruments are compared: colour shows the instrument.")
        by = None
bands = value == "score" and st.toggle("Severity bands", value=True, key=k.TRAJ_BANDS)

instruments = (view.instrument, *others)
definitions = (view.definition, *(current_definition(i) for i in others))
summary = cr.time_course(
    view.dataset_id,
    instruments,
    definitions,
    view.filters,
    time=time,
    value=value,
    statistic=statistic,
    by=by,
    min_cell_size=min_cell,
)
if summary.empty:
    st.info("No assessments with a day since the first infusion: choose the infusions axis.")
else:
    insts = [
        cache.outcomes(view.dataset_id, i, d, view.filters).instrument
        for i, d in zip(instruments, definitions, strict=True)
    ]
    n_base = int(outcomes.table["baseline_score"].notna().sum())
    fig = plot_time_course(
        summary,
        insts,
        value=value,
        statistic=statistic,
        time=time,
        n_patients=n_base,
        definition=definition,
        note=note,
        show_bands=bands,
        min_cell_size=min_cell,
        split_label=fmt.column_label(by) if by else ("Instrument" if others else None),
    )
    st.plotly_chart(fig, width="stretch", theme=None, key="trajectories_time_course")
    with st.expander("Numbers behind the chart (patients per point)", icon=":material/table:"):
        st.dataframe(cr.time_course_display(summary, min_cell), hide_index=True)

st.subheader("Individual patients")
points, n_patients = cr.spaghetti(*args, time=time)
if not config.patient_level_allowed():
    st.info("Patient-level views are switched off for this deployment.")
elif n_patients < min_cell:
    st.info(f"Individual patients are not shown for fewer than {min_cell} patients.")
elif points.empty:
    st.info("No assessments with a day since the first infusion: choose the infusions axis.")
else:
    fig = plot_spaghetti(
        points,
        inst,
        value=value,
        time=time,
        n_patients=n_patients,
        seed=DEFAULT_SEED,
        definition=definition,
        note=note,
        show_bands=bands,
        min_cell_size=min_cell,
    )
    st.plotly_chart(fig, width="stretch", theme=None, key="trajectories_spaghetti")

definitions_panel(outcomes, filters_text(view.filters))
how_computed("trajectories")
rw.section_exports(view, "trajectories", by=by)
rw.reproduce_panel(
    view,
    "report",
    options=rw.section_options("trajectories", by),
    what="Writes the mean trajectories (by infusions and by days) to a report; with `--json` "
    "it prints their numbers",
)
