"""Responders: who responds and remits, how reliably, how fast, and the early signals."""

import streamlit as st

from analytics import charts_responders as ch
from analytics.charts_trajectories import definition_text
from ui import cache, config, links
from ui import cache_responders as cr
from ui import format as fmt
from ui import report_widgets as rw
from ui import state as k
from ui.widgets import definitions_panel, filters_text, how_computed, page_start

view, outcomes, args = page_start("Responders")
inst, resolved = outcomes.instrument, outcomes.resolved
if outcomes.analysed.empty:
    st.info(
        f"No {inst.label} patients with a baseline and an endpoint match these filters "
        f"({filters_text(view.filters)}). Widen the filters or change the endpoint."
    )
    st.stop()

min_cell = config.min_cell_size()
opts = dict(
    definition=definition_text(resolved),
    min_cell_size=min_cell,
    note="synthetic demo data" if view.dataset.synthetic else "",
)
links.take(k.RESP_BY, None, list(cache.filter_levels(view.dataset_id)), label="compare by")
by = st.selectbox(
    "Compare groups by",
    [None, *cache.filter_levels(view.dataset_id)],
    format_func=lambda x: "No split" if x is None else fmt.column_label(x),
    key=k.RESP_BY,
    help="Rates and reliable change per level of a patient characteristic.",
)
split = fmt.column_label(by) if by else None

st.subheader("Response and remission")
rates, comparison = cr.rates(*args, by=by, min_cell_size=min_cell)
if rates.empty:
    st.info(f"{cr.sentence(resolved.describe_response())}; {resolved.describe_remission()}.")
else:
    fig = ch.plot_rate_forest(rates, resolved, split_label=split, **opts)
    st.plotly_chart(fig, width="stretch", theme=None, key="responders_rates")
    if by and not comparison.empty:
        st.dataframe(cr.comparison_display(comparison), hide_index=True)
    elif by:
        st.caption("Too few groups with numbers shown to compare.")
if not config.patient_level_allowed():
    st.info("Patient-level views (the waterfall, the review list) are off for this deployment.")
elif len(outcomes.analysed) < min_cell:
    st.info(f"Patient-level charts are not shown for fewer than {min_cell} patients.")
else:
    bars, counts = cr.waterfall(*args, min_cell_size=min_cell)
    fig = ch.plot_waterfall(bars, counts, resolved, **opts)
    st.plotly_chart(fig, width="stretch", theme=None, key="responders_waterfall")

st.subheader("Reliable change")
rc = cr.reliable_change(*args, by=by, min_cell_size=min_cell)
rule = outcomes.reliable_change
if rc.empty:
    st.info(cr.sentence(rule.describe()))
else:
    fig = ch.plot_reliable_change(rc, resolved, rule=rule, split_label=split, **opts)
    st.plotly_chart(fig, width="stretch", theme=None, key="responders_reliable_change")
    st.caption(cr.sentence(rule.describe()))

st.subheader("Severity before and after")
table, status = cr.transitions(*args, min_cell_size=min_cell)
if table.empty:
    st.info(f"{inst.label} has no severity bands or caseness cut-off to compare.")
else:
    fig = ch.plot_band_transitions(table, status, resolved, **opts)
    st.plotly_chart(fig, width="stretch", theme=None, key="responders_transitions")

st.subheader("How fast: cumulative response by infusion")
cum = cr.cumulative(*args, min_cell_size=min_cell)
if cum.empty:
    st.info("No response threshold, or no infusion counts, to build this curve from.")
else:
    fig = ch.plot_cumulative_response(cum, resolved, **opts)
    st.plotly_chart(fig, width="stretch", theme=None, key="responders_cumulative")

st.subheader("Early signals")
two_by_two, metrics = cr.early_signals(*args, min_cell_size=min_cell)
early_pct = view.definition.early_improvement_pct
left, right = st.columns([3, 2], vertical_alignment="center")
left.table(two_by_two)
right.caption(
    f"**Early improvement**: >= {early_pct:g}% reduction at an assessment after 1 or 2 "
    "infusions; patients with both an early assessment and an endpoint. '<11': fewer than 11 "
    "patients; 'hidden': withheld so that a small count cannot be worked out from the totals."
)
n_both = int(metrics["n_patients"].iloc[0] + metrics["n_patients"].iloc[1])
fig = ch.plot_early_metrics(metrics, resolved, n_patients=n_both, early_pct=early_pct, **opts)
st.plotly_chart(fig, width="stretch", theme=None, key="responders_early")


def review_treatment() -> None:
    """Patient-level worklist: its own section so that a deployment can switch it off."""
    st.subheader("Review treatment")
    review = cr.review_list(*args)
    st.caption(
        f"Patients with no >= {view.definition.early_improvement_pct:g}% reduction after 1 to "
        "4 infusions (known once assessed after 4), a published flag for likely non-response: "
        f"{len(review):,}. A patient-level list for the treating team (not an aggregate)."
    )
    st.dataframe(review, hide_index=True, column_config=cr.REVIEW_COLUMNS)


if config.patient_level_allowed():
    review_treatment()
definitions_panel(outcomes, filters_text(view.filters))
how_computed("responders")
rw.section_exports(view, "responders", by=by)
rw.reproduce_panel(
    view,
    "summary",
    options=(("--by", by),) if by else (),
    what="Prints the response, remission and reliable-change numbers (per group with `--by`)",
)
