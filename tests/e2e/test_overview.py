"""Overview page in a real browser: it renders charts, no exceptions, the demo-data notice."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .harness import assert_no_exception, screenshot, wait_for_app, wait_for_charts

pytestmark = pytest.mark.e2e


def test_overview_renders(page: Page, streamlit_server: str) -> None:
    page.goto(streamlit_server)
    wait_for_app(page)
    wait_for_charts(page, min_count=1, timeout_ms=60_000)
    assert_no_exception(page)
    notice = page.get_by_text(re.compile("synthetic demo data", re.IGNORECASE)).first
    expect(notice).to_be_visible()
    screenshot(page, "overview")
