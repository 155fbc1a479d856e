"""Infusion Outcomes: entry point. Page config, navigation and the shared sidebar."""

import streamlit as st

from ui.sidebar import render_sidebar

st.set_page_config(
    page_title="Infusion Outcomes",
    page_icon=":material/monitor_heart:",
    layout="wide",
)

pages = {
    "Outcomes": [
        st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("pages/durability.py", title="Durability", icon=":material/timeline:"),
        st.Page("pages/statistics.py", title="Statistics", icon=":material/functions:"),
    ],
}
page = st.navigation(pages)
render_sidebar()
page.run()
