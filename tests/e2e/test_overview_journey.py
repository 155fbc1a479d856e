"""A clinical lead's first minutes: switch instrument, filter to one clinic, and the
Overview recomputes with the sidebar intact and no exception."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .harness import assert_no_exception, screenshot, wait_for_app, wait_for_charts

pytestmark = pytest.mark.e2e


def metric_value(page: Page, label: str) -> str:
    tile = page.get_by_test_id("stMetric").filter(has=page.get_by_text(label, exact=True))
    return tile.get_by_test_id("stMetricValue").inner_text()


def test_switch_instrument_and_filter(page: Page, streamlit_server: str) -> None:
    page.goto(streamlit_server)
    wait_for_app(page)
    wait_for_charts(page, min_count=2)
    expect(page.get_by_role("heading", name="Overview · PCL-5")).to_be_visible()
    all_patients = metric_value(page, "Patients")

    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stSelectbox").filter(has_text="Instrument").click()
    page.get_by_role("option", name="PHQ-9 · depression").click()
    expect(page.get_by_role("heading", name="Overview · PHQ-9")).to_be_visible()
    wait_for_app(page)

    sidebar.get_by_text("Filters").click()
    site = sidebar.get_by_test_id("stMultiSelect").filter(has_text="Site")
    site.click()
    page.get_by_role("option", name="Clinic A").click()
    page.keyboard.press("Escape")
    expect(sidebar.get_by_text("Filters (1 active)")).to_be_visible()
    wait_for_app(page)
    wait_for_charts(page, min_count=2)
    assert_no_exception(page)
    expect(sidebar.get_by_text("Instrument")).to_be_visible()
    filtered = metric_value(page, "Patients")
    assert int(filtered.replace(",", "")) < int(all_patients.replace(",", ""))
    screenshot(page, "overview_phq9_clinic_a")
