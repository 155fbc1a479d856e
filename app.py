"""Infusion Outcomes: entry point. Page config, navigation and the shared sidebar."""

import streamlit as st

from ui.navigation import register
from ui.sidebar import render_sidebar

st.set_page_config(
    page_title="Infusion Outcomes",
    page_icon=":material/monitor_heart:",
    layout="wide",
)

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
    "Data": [
        st.Page("pages/data.py", title="Upload and datasets", icon=":material/upload_file:"),
    ],
}
page = st.navigation(pages)
render_sidebar()
page.run()
