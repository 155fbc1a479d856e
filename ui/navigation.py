"""The app's pages, built once per run by app.py and reachable from any page by name
(``st.switch_page`` with the page object, so it always resolves within st.navigation)."""

from __future__ import annotations

import streamlit as st

_PAGES: dict[str, st.Page] = {}


def register(name: str, page: st.Page) -> st.Page:
    _PAGES[name] = page
    return page


def switch_to(name: str) -> None:
    st.switch_page(_PAGES[name])
