"""Audit-log glue: views recorded once per session, dataset and page; exports on click.
Audit writes never block or break a page (the store's record_event never raises)."""

from __future__ import annotations

import streamlit as st

from ui import state as k
from ui.auth import User
from ui.datasets import store


def record_view(user: User, dataset_id: str | None, page: str) -> None:
    seen: set = st.session_state.setdefault(k.VIEWS_RECORDED, set())
    if (dataset_id, page) in seen:
        return
    seen.add((dataset_id, page))
    store().record_event("view", user=user.email, dataset_id=dataset_id, page=page)


def record_export(user: User, dataset_id: str | None, what: str) -> None:
    """Use as a download button's ``on_click`` (with ``args=``)."""
    store().record_event("export", user=user.email, dataset_id=dataset_id, detail=what)
