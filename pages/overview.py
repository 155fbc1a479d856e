"""Overview: headline figures, the mean trajectory and severity at baseline vs endpoint."""

import streamlit as st

from ui import cache, config, links
from ui import format as fmt
from ui import state as k
from ui.headline import overview_results
from ui.report_widgets import overview_exports, reproduce_panel
from ui.widgets import definitions_panel, filters_text, how_computed, page_start

view, outcomes, args = page_start("Overview")
resolved = outcomes.resolved
endpoint = view.definition.endpoint_rule.describe()
min_cell = config.min_cell_size()
note = " · synthetic demo data" if view.dataset.synthetic else ""

tiles_area = st.container()
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

res = overview_results(args, outcomes, value=value or "score", by=by, min_cell=min_cell, note=note)
with tiles_area:
    for i, tile in enumerate(res.tiles):
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
with left:
    st.plotly_chart(res.trajectory_figure, width="stretch", theme=None, key="overview_trajectory")
with right:
    st.plotly_chart(res.severity_figure, width="stretch", theme=None)
    st.caption(f"Endpoint: {endpoint}. {resolved.describe_response().capitalize()}.")

definitions_panel(outcomes, filters_text(view.filters))
how_computed("overview")
overview_exports(
    view, outcomes, res.row, res.trajectory, res.trajectory_figure, severity=res.severity_figure
)
reproduce_panel(view, "summary")
