"""Overview: headline figures, the mean trajectory and severity at baseline vs endpoint."""

import streamlit as st

from analytics.charts import plot_band_distribution, plot_trajectory
from ui import cache, config
from ui import format as fmt
from ui import state as k
from ui.sidebar import current_view
from ui.widgets import definitions_panel, filters_text, how_computed, synthetic_notice

view = current_view()
if view is None:
    st.info("Choose a dataset and an instrument in the sidebar to begin.")
    st.stop()

args = (view.dataset_id, view.instrument, view.definition, view.filters)
outcomes = cache.outcomes(*args)
inst = outcomes.instrument
st.title(f"Overview · {inst.label}")
synthetic_notice(view)
if outcomes.table.empty:
    st.info(
        f"No patients with a {inst.label} assessment match these filters "
        f"({filters_text(view.filters)}). Widen the filters in the sidebar."
    )
    st.stop()

row = cache.summary(*args).iloc[0]
counts = cache.cohort_counts(view.dataset_id, view.instrument, view.filters)
resolved = outcomes.resolved
endpoint = view.definition.endpoint_rule.describe()

c = st.columns(4)
c[0].metric(
    "Patients",
    f"{counts['n_patients']:,}",
    help=f"Patients with any {inst.label} assessment after filters. "
    f"{int(row.n_patients):,} have a baseline and an endpoint ({endpoint}) and are analysed.",
)
c[1].metric("Assessments", f"{counts['n_assessments']:,}", help=f"{inst.label} scores recorded.")
c[2].metric(
    "Infusions",
    f"{counts['n_infusions']:,}",
    help="Sum over these patients of the infusions received by their last assessment "
    "(a lower bound on infusions given).",
)
c[3].metric(
    "Baseline mean",
    fmt.num(row.baseline_mean),
    help=f"Mean {inst.label} at baseline (SD {fmt.num(row.baseline_sd)}) over "
    f"{int(row.n_patients):,} analysed patients; baseline = latest pre-treatment score.",
)
c = st.columns(4)
c[0].metric(
    "Mean change",
    fmt.signed(row.mean_change),
    delta=fmt.ci(row.mean_change_ci95_low, row.mean_change_ci95_high),
    delta_color="off",
    delta_arrow="off",
    help=f"Endpoint minus baseline, points (negative = fewer symptoms), t-based 95% CI. "
    f"Paired t = {fmt.num(row.t_statistic, 2)}, {fmt.p_value(row.p_value)}; "
    f"Cohen's d_z = {fmt.num(row.cohens_dz, 2)}. N = {int(row.n_patients):,}.",
)
for col, name, what in (
    (c[1], "responders", resolved.describe_response()),
    (c[2], "remitters", resolved.describe_remission()),
):
    col.metric(
        name.capitalize(),
        fmt.pct(row[f"{name}_pct"]),
        delta=f"{int(row[f'{name}_n'])}/{int(row[f'{name}_N'])} · "
        + fmt.ci(row[f"{name}_ci95_low"], row[f"{name}_ci95_high"], 0, "%"),
        delta_color="off",
        delta_arrow="off",
        help=f"{what.capitalize()}. Wilson score 95% CI. Denominator: analysed patients with "
        "a defined outcome (a baseline of 0 has no percent change and is excluded from response).",
    )
rc_n = int(row.reliable_change_N)
c[3].metric(
    "Reliably improved",
    fmt.pct(100 * row.reliably_improved_n / rc_n if rc_n else None),
    delta=f"{int(row.reliably_improved_n)}/{rc_n} · {int(row.reliably_deteriorated_n)} worse",
    delta_color="off",
    delta_arrow="off",
    help=outcomes.reliable_change.describe(),
)

left, right = st.columns([3, 2])
with left:
    o1, o2 = st.columns(2)
    value = o1.segmented_control(
        "Show",
        options=["score", "pct_change"],
        format_func={"score": "Score", "pct_change": "% change"}.get,
        default="score",
        key=k.TRAJECTORY_VALUE,
    )
    by = o2.selectbox(
        "Split by",
        options=[None, *cache.filter_levels(view.dataset_id)],
        format_func=lambda x: "No split" if x is None else fmt.column_label(x),
        key=k.TRAJECTORY_BY,
    )
    min_cell = config.min_cell_size()
    traj = cache.trajectory(*args, value=value or "score", by=by, min_cell_size=min_cell)
    n_base = int(outcomes.table["baseline_score"].notna().sum())
    note = " · synthetic demo data" if view.dataset.synthetic else ""
    fig = plot_trajectory(
        traj, inst, value=value or "score", n_patients=n_base, note=note, min_cell_size=min_cell
    )
    st.plotly_chart(fig, width="stretch", theme=None, key="overview_trajectory")
with right:
    st.plotly_chart(plot_band_distribution(outcomes, note=note), width="stretch", theme=None)
    st.caption(f"Endpoint: {endpoint}. {resolved.describe_response().capitalize()}.")

definitions_panel(outcomes, filters_text(view.filters))
how_computed("overview")
