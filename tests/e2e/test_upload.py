"""Upload journey in a real browser: the wide example workbook and its profile go in
through the file choosers, the mapping is confirmed, the dataset is stored, and the
Overview shows the new dataset's chart."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .harness import assert_no_exception, screenshot, wait_for_app, wait_for_charts

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_upload_wide_export_and_see_its_overview(page: Page, streamlit_server: str) -> None:
    page.goto(f"{streamlit_server}/data")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Data")).to_be_visible()
    choosers = page.get_by_test_id("stFileUploaderDropzoneInput")
    choosers.nth(0).set_input_files(ROOT / "sample_data/exports/wide_export.xlsx")
    expect(page.get_by_text("1 · Map the columns")).to_be_visible(timeout=60_000)
    choosers.nth(1).set_input_files(ROOT / "sample_data/profiles/wide_export.toml")
    expect(page.get_by_text("Starting from the uploaded import profile")).to_be_visible(
        timeout=60_000
    )
    expect(page.get_by_text("16,900 rows read, 16,900 loaded, 0 excluded")).to_be_visible(
        timeout=60_000
    )
    wait_for_app(page)
    # decide on every flagged column (if any): these example columns are not identifiers
    keep = page.get_by_text("Keep: it is not an identifier")
    for i in range(keep.count()):
        keep.nth(i).click()
        wait_for_app(page)
    name = page.get_by_label("Dataset name")
    name.fill("Wide example (synthetic)")
    name.press("Enter")
    wait_for_app(page)
    assert_no_exception(page)
    screenshot(page, "upload_mapped")
    page.get_by_role("button", name="Save dataset").click()
    expect(page.get_by_role("heading", name="Overview · PCL-5")).to_be_visible(timeout=60_000)
    wait_for_app(page)
    wait_for_charts(page, min_count=2)
    assert_no_exception(page)
    sidebar = page.get_by_test_id("stSidebar")
    dataset = sidebar.get_by_test_id("stSelectbox").filter(has_text="Dataset").locator("input")
    expect(dataset).to_have_value("Wide example (synthetic)")
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("720")
    screenshot(page, "upload_overview")
