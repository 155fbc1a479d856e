"""Report: one click builds a board-ready HTML/PDF report of the current view."""

import uuid

import streamlit as st

from analytics.report import DEFAULT_SECTIONS, SECTIONS
from analytics.report_pdf import static_export_available
from ui import cache, config
from ui import format as fmt
from ui import report_widgets as rw
from ui import state as k
from ui.sidebar import current_view
from ui.widgets import filters_text, synthetic_notice

ss = st.session_state
view = current_view()
if view is None:
    st.info("Choose a dataset and an instrument in the sidebar to begin.")
    st.stop()
outcomes = cache.outcomes(view.dataset_id, view.instrument, view.definition, view.filters)
st.title(f"Report · {outcomes.instrument.label}")
synthetic_notice(view)
st.caption(
    f"Dataset **{fmt.escape_md(view.dataset.name)}** · filters: "
    f"{fmt.escape_md(filters_text(view.filters))} · the outcome definition of the sidebar. "
    "The report states every number's definition and the data's provenance."
)
if outcomes.table.empty:
    st.info("No patients match these filters: widen them in the sidebar to build a report.")
    st.stop()

model = rw.model_request()
offered = [s for s in SECTIONS if s != "model" or model is not None]
ss[k.REPORT_SECTIONS] = [s for s in ss.get(k.REPORT_SECTIONS, DEFAULT_SECTIONS) if s in offered]
c1, c2 = st.columns([3, 1])
sections = c1.multiselect("Sections", offered, format_func=SECTIONS.get, key=k.REPORT_SECTIONS)
by = c2.selectbox(
    "Group by",
    [None, *cache.filter_levels(view.dataset_id)],
    format_func=lambda x: "No grouping" if x is None else fmt.column_label(x),
    key=k.REPORT_BY,
    help="Columns of Table 1, and outcomes, rates and curves per group.",
)
if model is None:
    st.caption("Fit a model on the *Who responds* page to add its validation and model card.")
if st.button("Build report", type="primary", icon=":material/description:", disabled=not sections):
    ss[k.REPORT_BUILT] = uuid.uuid4().hex
if not ss.get(k.REPORT_BUILT):
    st.stop()

min_cell = config.min_cell_size()
key = (view.dataset_id, view.instrument, view.definition, view.filters, tuple(sections), by,
       min_cell, model if "model" in sections else None, ss[k.REPORT_BUILT])  # fmt: skip
report = rw.build_report(*key)
st.success(
    f"Report ready: {len(report.sections)} sections, {len(report.tables)} tables, "
    f"{len(report.figures)} charts · generated {report.provenance.generated}.",
    icon=":material/check_circle:",
)
name = f"report_{rw.slug(view.dataset.name)}_{view.instrument}"
d1, d2 = st.columns(2)
d1.download_button(
    "Download HTML",
    rw.report_html(key),
    file_name=f"{name}.html",
    mime="text/html",
    icon=":material/download:",
    key="report_download_html",
    on_click=rw._audit,
    args=(view.dataset_id, "report (html)"),
    help="One self-contained file with interactive charts; opens offline.",
)
if static_export_available():
    d2.download_button(
        "Download PDF",
        lambda: rw.report_pdf(key),
        file_name=f"{name}.pdf",
        mime="application/pdf",
        icon=":material/picture_as_pdf:",
        key="report_download_pdf",
        on_click=rw._audit,
        args=(view.dataset_id, "report (pdf)"),
        help="Static charts, A4; drawn when you click (a few seconds).",
    )
else:
    d2.caption("PDF needs Chromium on the server (apt-get install chromium, or CHROMIUM_PATH).")
with st.expander("Provenance", icon=":material/fact_check:", expanded=True):
    st.table({"": [r[0] for r in report.provenance.rows()],
              "value": [r[1] for r in report.provenance.rows()]})  # fmt: skip
rw.exports_panel(
    view,
    outcomes,
    key="report_exports",
    tables={t.title: t.frame for t in report.tables},
)
rw.reproduce_panel(
    view,
    "report",
    options=rw.report_options(sections, by, model),
    what="Writes this report",
)
