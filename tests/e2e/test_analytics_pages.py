"""The analytics pages in a real browser on the demo data, with a sidebar filter applied:
each recomputes, draws every chart and shows no exception. Screenshots land in
tests/e2e/artifacts/."""

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


def filter_site(page: Page, site: str = "Clinic A") -> None:
    """Choose one site in the sidebar's Filters expander, as a user would."""
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Filters").click()
    sidebar.get_by_test_id("stMultiSelect").filter(has_text="Site").click()
    page.get_by_role("option", name=site).click()
    page.keyboard.press("Escape")
    expect(sidebar.get_by_text("Filters (1 active)")).to_be_visible()
    wait_for_app(page)


def open_page(page: Page, title: str) -> None:
    """Go to a page through the sidebar navigation (session state, filters kept). A fresh
    session starts at "/": Streamlit runs a directly requested /PAGE path as a bare script
    when the repository has a pages/ folder (MPA v1 fallback), without app.py's sidebar."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=f"{title} · PCL-5")).to_be_visible()
    wait_for_app(page)


def choose(page: Page, control: str, option: str) -> None:
    """Click an option of a segmented control (a radio group named by its label)."""
    group = page.get_by_role("radiogroup", name=control)
    group.get_by_role("radio", name=option, exact=True).click()
    expect(group.get_by_role("radio", name=option, exact=True)).to_be_checked()
    wait_for_app(page)


def test_trajectories_and_responders_with_a_filter(page: Page, streamlit_server: str) -> None:
    page.goto(streamlit_server)
    wait_for_app(page)
    open_page(page, "Trajectories")
    assert_page_found(page)
    wait_for_charts(page, min_count=2)

    filter_site(page)
    wait_for_charts(page, min_count=2)
    assert_no_exception(page)
    screenshot(page, "trajectories_clinic_a")

    choose(page, "Time axis", "Days")
    choose(page, "Average", "Median")
    wait_for_charts(page, min_count=2)
    assert_no_exception(page)
    expect(page.get_by_text("Filters (1 active)")).to_be_visible()
    screenshot(page, "trajectories_days_median_clinic_a")

    choose(page, "Show", "% of max")
    compare = page.get_by_test_id("stMultiSelect").filter(has_text="Compare with")
    compare.click()
    page.get_by_role("option", name="PHQ-9 · depression").click()
    page.keyboard.press("Escape")
    wait_for_app(page)
    wait_for_charts(page, min_count=2)
    assert_no_exception(page)
    screenshot(page, "trajectories_pct_of_max_clinic_a")

    open_page(page, "Responders")
    wait_for_charts(page, min_count=6)
    assert_no_exception(page)
    expect(page.get_by_text("Filters (1 active)")).to_be_visible()
    screenshot(page, "responders_clinic_a")


def test_responders_split_by_sex(page: Page, streamlit_server: str) -> None:
    page.goto(streamlit_server)
    wait_for_app(page)
    open_page(page, "Responders")
    assert_page_found(page)
    wait_for_charts(page, min_count=6)
    filter_site(page, "Clinic B")
    split = page.get_by_test_id("stSelectbox").filter(has_text="Compare groups by")
    split.click()
    page.get_by_role("option", name="Sex").click()
    wait_for_app(page)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(2)  # comparisons, review list
    wait_for_charts(page, min_count=6)
    assert_no_exception(page)
    screenshot(page, "responders_by_sex_clinic_b")
