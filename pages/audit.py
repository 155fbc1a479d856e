"""Audit log (admins): who uploaded, viewed, exported or deleted what, and when."""

import datetime as dt

import streamlit as st

from analytics.exports import to_csv_bytes
from ui.auth import current_user
from ui.datasets import store

user = current_user()
st.title("Audit log")
if not user.is_admin:
    st.info("The audit log is for administrators.")
    st.stop()
st.caption(
    "Sign-ins, refusals, uploads, dataset views (dataset and page), exports, renames and "
    "deletions, newest first. Times are UTC."
)
c1, c2, c3, c4 = st.columns(4)
kind = c1.selectbox(
    "Event",
    [None, "sign_in", "access_denied", "upload", "view", "export", "rename", "delete"],
    format_func=lambda x: "All" if x is None else x,
    key="audit_kind",
)
who = c2.text_input("User (exact e-mail)", key="audit_user") or None
since = c3.date_input("From", value=None, key="audit_since")
until = c4.date_input("To (inclusive)", value=None, key="audit_until")
events = store().events(
    kind=kind,
    user=who,
    since=dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC) if since else None,
    until=dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    if until
    else None,
)
st.metric("Events", f"{len(events):,}")
st.dataframe(events, hide_index=True, width="stretch")
st.download_button(
    "Download (CSV)",
    to_csv_bytes(events),
    file_name="audit_log.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click=lambda: store().record_event("export", user=user.email, detail="audit log"),
)
