"""Durability and Statistics in a real browser on the demo data, with a filter applied in
the sidebar: the Kaplan–Meier charts, the mixed model and the paired table render, the
filter survives the move between pages, and no exception element appears."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .harness import (
    assert_no_exception,
    assert_page_found,
    screenshot,
    wait_for_app,
    wait_for_charts,
)

pytestmark = pytest.mark.e2e


def apply_site_filter(page: Page, site: str) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Filters").click()
    sidebar.get_by_test_id("stMultiSelect").filter(has_text="Site").click()
    page.get_by_role("option", name=site).click()
    page.keyboard.press("Escape")
    expect(sidebar.get_by_text("Filters (1 active)")).to_be_visible()


def test_durability_and_statistics_with_a_filter(page: Page, streamlit_server: str) -> None:
    page.goto(f"{streamlit_server}/durability")
    wait_for_app(page)
    assert_page_found(page)
    expect(page.get_by_role("heading", name="Durability · PCL-5")).to_be_visible()
    wait_for_charts(page, min_count=2)
    apply_site_filter(page, "Clinic A")
    wait_for_app(page)
    wait_for_charts(page, min_count=2)
    assert_no_exception(page)
    expect(page.get_by_role("heading", name="Time to first response")).to_be_visible()
    expect(page.get_by_text("At risk", exact=True).first).to_be_attached()
    screenshot(page, "durability_clinic_a")

    page.get_by_test_id("stSidebarNav").get_by_text("Statistics").click()
    expect(page.get_by_role("heading", name="Statistics · PCL-5")).to_be_visible()
    wait_for_app(page)
    wait_for_charts(page, min_count=1)
    assert_no_exception(page)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Filters (1 active)")).to_be_visible()
    expect(page.get_by_text("Paired change from baseline to endpoint")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame")).to_have_count(3)
    screenshot(page, "statistics_clinic_a")
