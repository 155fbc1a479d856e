"""Infusion Outcomes: entry point. Page config, navigation and the shared sidebar."""

import streamlit as st

from analytics.runtime import tune_memory
from ui import links
from ui.audit import record_view
from ui.auth import current_user, sidebar_badge
from ui.navigation import register
from ui.sidebar import render_sidebar

tune_memory()  # once per process: see analytics/runtime.py
st.set_page_config(
    page_title="Infusion Outcomes",
    page_icon=":material/monitor_heart:",
    layout="wide",
)
user = current_user()  # a sign-in screen or a polite refusal stops here
links.remember_link()

pages = {
    "Outcomes": [
        register(
            "overview",
            st.Page(
                "pages/overview.py", title="Overview", icon=":material/dashboard:", default=True
            ),
        ),
        st.Page("pages/trajectories.py", title="Trajectories", icon=":material/show_chart:"),
        st.Page("pages/responders.py", title="Responders", icon=":material/groups:"),
        st.Page("pages/durability.py", title="Durability", icon=":material/timeline:"),
        st.Page("pages/statistics.py", title="Statistics", icon=":material/functions:"),
    ],
    "Models": [
        st.Page("pages/prediction.py", title="Who responds", icon=":material/psychology:"),
    ],
    "Reports": [st.Page("pages/report.py", title="Report", icon=":material/description:")],
    "Data": [
        st.Page("pages/data.py", title="Upload and datasets", icon=":material/upload_file:"),
    ],
}
if user.is_admin:
    pages["Admin"] = [st.Page("pages/audit.py", title="Audit log", icon=":material/policy:")]
page = st.navigation(pages)
view = render_sidebar()
record_view(user, view.dataset_id if view else None, page.url_path or "overview")
page.run()
links.publish()
with st.sidebar:
    links.show_problems()
    links.copy_link_button()
    sidebar_badge(user)
