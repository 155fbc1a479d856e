"""A real browser builds the report of a filtered view on the Report page and downloads it:
the HTML is the self-contained report of that view (headline numbers equal to
`summary --json`), and the PDF is a PDF."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from analytics.cli import build_parser, run_summary
from ui.datasets import DEMO_PATH

from .harness import assert_no_exception, screenshot, wait_for_app
from .test_analytics_pages import filter_site

pytestmark = pytest.mark.e2e


def test_build_and_download_the_report(page: Page, streamlit_server: str) -> None:
    page.goto(streamlit_server)
    wait_for_app(page)
    filter_site(page, "Clinic B")
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Report").click()
    expect(page.get_by_role("heading", name="Report · PCL-5")).to_be_visible()
    wait_for_app(page)
    page.get_by_role("button", name="Build report").click()
    expect(page.get_by_text("Report ready")).to_be_visible(timeout=180_000)
    wait_for_app(page)
    assert_no_exception(page)
    screenshot(page, "report_page")

    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("button", name="Download HTML").click()
    download = info.value
    assert download.suggested_filename.endswith(".html")
    html = Path(download.path()).read_text(encoding="utf-8")
    assert "Outcomes report · PCL-5" in html and "site = Clinic B" in html
    assert not re.search(r"<script[^>]*\ssrc=", html)
    numbers = dict(re.findall(r'<span class="num" data-key="(\w+)">([^<]*)</span>', html))
    ns = build_parser().parse_args(
        ["summary", str(DEMO_PATH), "--instrument", "pcl5", "--where", "site=Clinic B"]
    )
    ref = run_summary(ns)
    assert numbers["n_patients"] == f"{ref['n_patients']:,}"
    assert numbers["responders_pct"] == f"{ref['responders']['pct']:.1f}"
    assert numbers["mean_change"] == f"{ref['mean_change']:.1f}"

    with page.expect_download(timeout=180_000) as info:
        page.get_by_role("button", name="Download PDF").click()
    pdf = info.value
    assert pdf.suggested_filename.endswith(".pdf")
    assert Path(pdf.path()).read_bytes()[:5] == b"%PDF-"
