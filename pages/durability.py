"""Durability: how fast patients respond, and how long the response lasts (Kaplan–Meier)."""

import streamlit as st

from analytics.charts_durability import (
    km_notes,
    km_summary_table,
    plot_kaplan_meier,
    shown_patients,
)
from ui import cache, config, links
from ui import cache_durability as cd
from ui import format as fmt
from ui import report_widgets as rw
from ui import state as k
from ui.widgets import definitions_panel, filters_text, how_computed, page_start

TIME_OPTIONS = {"day": "Days since first infusion", "infusions": "Infusions received"}

view, outcomes, args = page_start("Durability")
inst, resolved = outcomes.instrument, outcomes.resolved
if resolved.response_pct is None:
    st.info(
        f"Response is not defined for {inst.label} (no sourced default). Set a response "
        "threshold under “Outcome definition” in the sidebar."
    )
    st.stop()

split_options = [None, *cache.filter_levels(view.dataset_id)]
links.take(k.DURABILITY_TIME, "day", list(TIME_OPTIONS), label="time to response in")
links.take(k.DURABILITY_BY, None, [str(o) for o in split_options[1:]], label="split by")
c1, c2 = st.columns(2)
time = (
    c1.segmented_control(
        "Time to response counted in",
        options=list(TIME_OPTIONS),
        format_func=TIME_OPTIONS.get,
        default=None if k.DURABILITY_TIME in st.session_state else "day",
        key=k.DURABILITY_TIME,
    )
    or "day"
)
by = c2.selectbox(
    "Split by",
    options=split_options,
    format_func=lambda x: "No split" if x is None else fmt.column_label(x),
    key=k.DURABILITY_BY,
    help="One curve per level, with a log-rank test across the levels shown.",
)
min_cell = config.min_cell_size()
note = " · synthetic demo data" if view.dataset.synthetic else ""
definition = (
    f"{resolved.describe_response().capitalize()} · endpoint: "
    f"{view.definition.endpoint_rule.describe()}"
)


def show(result, *, title, what, x_title, y_title, unit, key):
    """One Kaplan–Meier chart, its summary table and its notes."""
    n = shown_patients(result)
    if n == 0:
        st.info(f"Fewer than {min_cell} patients here: not shown (small-cell suppression).")
        return
    subtitle = f"{what} · N = {n:,} patients{note}<br>{definition}"
    fig = plot_kaplan_meier(
        result,
        title=title,
        x_title=x_title,
        y_title=y_title,
        subtitle=subtitle,
        group_title=fmt.column_label(by) if by else "",
        min_cell_size=min_cell,
    )
    st.plotly_chart(fig, width="stretch", theme=None, key=key)
    st.dataframe(
        km_summary_table(result, unit=unit, min_cell_size=min_cell),
        hide_index=True,
        width="stretch",
    )
    st.caption(km_notes(result, min_cell_size=min_cell))


st.subheader("Time to first response")
show(
    cd.time_to_response(*args, time=time, by=by, min_cell_size=min_cell),
    title=f"Time to first {inst.label} response",
    what="Kaplan–Meier with 95% CI; censored at the endpoint assessment",
    x_title=TIME_OPTIONS[time],
    y_title="Patients still without response (%)",
    unit="days" if time == "day" else "infusions",
    key="durability_response",
)

st.subheader("Time to loss of response")
show(
    cd.loss_of_response(*args, by=by, min_cell_size=min_cell),
    title=f"Time from first {inst.label} response to loss of response",
    what="Responders; Kaplan–Meier with 95% CI; censored at the last assessment",
    x_title="Days since first response",
    y_title="Patients still responding (%)",
    unit="days",
    key="durability_loss",
)

definitions_panel(outcomes, filters_text(view.filters))
how_computed("durability")
rw.section_exports(view, "durability", by=by)
rw.reproduce_panel(
    view,
    "report",
    options=rw.section_options("durability", by),
    what="Writes these curves and tables (in days) to a report; with `--json` it prints them",
)
