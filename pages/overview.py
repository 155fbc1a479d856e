"""Overview: headline figures, the mean trajectory and severity at baseline vs endpoint."""

import streamlit as st

from analytics.charts import plot_band_distribution, plot_trajectory
from ui import cache, config, links
from ui import format as fmt
from ui import state as k
from ui.headline import headline_tiles
from ui.report_widgets import overview_exports, reproduce_panel
from ui.widgets import definitions_panel, filters_text, how_computed, page_start

view, outcomes, args = page_start("Overview")
inst = outcomes.instrument

row = cache.summary(*args).iloc[0]
counts = cache.cohort_counts(view.dataset_id, view.instrument, view.filters)
resolved = outcomes.resolved
endpoint = view.definition.endpoint_rule.describe()

min_cell = config.min_cell_size()
tiles = headline_tiles(row, counts, outcomes, endpoint, min_cell)
for i, tile in enumerate(tiles):
    if i % 4 == 0:
        cols = st.columns(4)
    cols[i % 4].metric(
        tile.label,
        tile.value,
        delta=tile.delta,
        delta_color="off",
        delta_arrow="off",
        help=tile.help,
    )

left, right = st.columns([3, 2])
with left:
    o1, o2 = st.columns(2)
    split_options = [None, *cache.filter_levels(view.dataset_id)]
    links.take(k.TRAJECTORY_VALUE, "score", ["score", "pct_change"], label="show")
    links.take(k.TRAJECTORY_BY, None, [str(o) for o in split_options[1:]], label="split by")
    value = o1.segmented_control(
        "Show",
        options=["score", "pct_change"],
        format_func={"score": "Score", "pct_change": "% change"}.get,
        default=None if k.TRAJECTORY_VALUE in st.session_state else "score",
        key=k.TRAJECTORY_VALUE,
    )
    by = o2.selectbox(
        "Split by",
        options=split_options,
        format_func=lambda x: "No split" if x is None else fmt.column_label(x),
        key=k.TRAJECTORY_BY,
    )
    traj = cache.trajectory(*args, value=value or "score", by=by, min_cell_size=min_cell)
    n_base = int(outcomes.table["baseline_score"].notna().sum())
    note = " · synthetic demo data" if view.dataset.synthetic else ""
    fig = plot_trajectory(
        traj, inst, value=value or "score", n_patients=n_base, note=note, min_cell_size=min_cell
    )
    st.plotly_chart(fig, width="stretch", theme=None, key="overview_trajectory")
with right:
    st.plotly_chart(
        plot_band_distribution(outcomes, note=note, min_cell_size=min_cell),
        width="stretch",
        theme=None,
    )
    st.caption(f"Endpoint: {endpoint}. {resolved.describe_response().capitalize()}.")

definitions_panel(outcomes, filters_text(view.filters))
how_computed("overview")
overview_exports(view, outcomes, row, traj, fig)
reproduce_panel(view, "summary")
