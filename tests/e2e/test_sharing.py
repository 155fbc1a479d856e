"""Sharing in a real browser (issue 6): choose a view, copy its link from the sidebar's
"Copy link" popover, open the link in a fresh browser context (no cookies, no session) and
see the same page, headline numbers and charts; the same for an uploaded dataset; a
malformed link falls back to the demo with a message and no exception."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pandas as pd
import pytest
from playwright.sync_api import Locator, Page, expect

from analytics.store import open_store

from .harness import (
    PLOTLY_CHART,
    assert_no_exception,
    assert_page_found,
    running_app,
    screenshot,
    wait_for_app,
    wait_for_charts,
)

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
DEMO_CSV = ROOT / "sample_data" / "demo_cohort.csv"
UPLOADED_NAME = "Clinics A and B export"


# --- helpers -----------------------------------------------------------------------------


def sidebar(page: Page) -> Locator:
    return page.get_by_test_id("stSidebar")


def expect_in_url(page: Page, key: str, value: str) -> None:
    """Wait until the app has written `key=value` to the URL: it does so at the end of the
    run a choice triggers, so after this `wait_for_app` waits for that run, not an old one."""
    expect(page).to_have_url(re.compile(r"[?&]" + re.escape(urlencode({key: value})) + "(&|$)"))


def choose(page: Page, box: Locator, option: str, *, key: str, value: str) -> None:
    """Pick `option` in the selectbox `box`; wait for the rerun (the URL gets key=value)."""
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    expect_in_url(page, key, value)
    wait_for_app(page)


def choose_filter(page: Page, column: str, value: str) -> None:
    """Open the sidebar's Filters expander (if closed) and pick one value of a column."""
    side = sidebar(page)
    expander = side.get_by_test_id("stExpander").filter(has_text="Filters")
    box = expander.get_by_test_id("stMultiSelect").filter(has_text=column)
    if not box.is_visible():
        expander.get_by_text("Filters").click()
        # the expander grows in an animation during which it scrolls itself, and a scroll
        # closes an open list: wait until it has stopped growing
        page.wait_for_function(
            "el => el.open && el.scrollHeight <= el.clientHeight + 1",
            arg=expander.locator("details").element_handle(),
        )
    # type to narrow the list to the one value and take it with Enter: clicking an option
    # low in the sidebar scrolls it, which can close the list before the click lands
    field = box.locator("input")  # the box's middle can be the gap under its label
    field.click()
    field.press_sequentially(value)
    expect(page.get_by_role("option")).to_have_text([value])
    field.press("Enter")
    page.keyboard.press("Escape")
    expect_in_url(page, f"f.{column.lower()}", value)
    expect(side.get_by_text("Filters (1 active)")).to_be_visible()
    wait_for_app(page)


def go_to(page: Page, title: str, heading: str) -> None:
    """Follow the sidebar navigation link `title` and wait for the page's heading."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    wait_for_app(page)


def copy_link(page: Page) -> str:
    """Open the "Copy link" popover and read the link from its code block."""
    sidebar(page).get_by_test_id("stPopover").get_by_role("button", name="Copy link").click()
    code = page.get_by_test_id("stPopoverBody").get_by_test_id("stCode").locator("code")
    expect(code).to_contain_text("http://127.0.0.1:")
    link = code.inner_text().strip()
    page.keyboard.press("Escape")  # close the popover again
    return link


def query(link: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link).query)


@dataclass(frozen=True)
class Snapshot:
    """What a reader compares: the page's title, its headline tiles and every chart's text
    (titles, subtitles with their N, legend entries, axis ticks, annotations)."""

    title: str
    metrics: tuple[str, ...]
    charts: tuple[tuple[str, ...], ...]


def snapshot(page: Page, *, min_charts: int) -> Snapshot:
    wait_for_app(page)
    assert_page_found(page)
    count = wait_for_charts(page, min_count=min_charts)
    assert_no_exception(page)
    main = page.get_by_test_id("stMain")
    charts = page.locator(PLOTLY_CHART)
    return Snapshot(
        title=main.locator("h1").first.inner_text(),
        metrics=tuple(main.get_by_test_id("stMetric").all_inner_texts()),
        charts=tuple(
            tuple(charts.nth(i).locator(".main-svg text").all_text_contents()) for i in range(count)
        ),
    )


def open_fresh(new_page: Callable[[], Page], link: str) -> Page:
    """The link in a new, isolated browser context: no cookies, no session state."""
    page = new_page()
    page.goto(link)
    wait_for_app(page)
    return page


def sidebar_box(page: Page, label: str) -> Locator:
    return sidebar(page).get_by_test_id("stSelectbox").filter(has_text=label)


def main_box(page: Page, label: str) -> Locator:
    return page.get_by_test_id("stMain").get_by_test_id("stSelectbox").filter(has_text=label)


def sidebar_value(page: Page, label: str) -> Locator:
    return sidebar_box(page, label).locator("input")


# --- the demo ------------------------------------------------------------------------------


def test_demo_link_restores_instrument_filter_grouping_and_page(
    page: Page, new_page: Callable[[], Page], streamlit_server: str
) -> None:
    page.goto(streamlit_server)
    wait_for_app(page)
    wait_for_charts(page, min_count=2)
    choose(page, sidebar_box(page, "Instrument"), "GAD-7 · anxiety", key="instrument", value="gad7")
    expect(page.get_by_role("heading", name="Overview · GAD-7")).to_be_visible()
    choose_filter(page, "Site", "Clinic A")
    choose(page, main_box(page, "Split by"), "Sex", key="split", value="sex")
    overview = snapshot(page, min_charts=2)
    assert overview.title == "Overview · GAD-7"
    assert any(m.startswith("Patients") for m in overview.metrics)
    assert any("Female" in t for t in overview.charts[0]), "the trajectory is split by sex"
    screenshot(page, "sharing_demo_overview")

    link = copy_link(page)
    assert urlsplit(link).path in ("", "/")  # the Overview is the app root
    # defaults (the demo dataset, the default endpoint...) stay out of the link
    assert query(link) == {"instrument": ["gad7"], "f.site": ["Clinic A"], "split": ["sex"]}
    fresh = open_fresh(new_page, link)
    assert snapshot(fresh, min_charts=2) == overview
    expect(sidebar_value(fresh, "Instrument")).to_have_value("GAD-7 · anxiety")
    expect(sidebar(fresh).get_by_text("Filters (1 active)")).to_be_visible()
    expect(main_box(fresh, "Split by").locator("input")).to_have_value("Sex")
    expect(sidebar(fresh).get_by_test_id("stAlert")).to_have_count(0)  # every setting applied
    screenshot(fresh, "sharing_demo_overview_fresh")

    # another page: the instrument and the filter travel with the navigation and the link
    go_to(page, "Responders", "Responders · GAD-7")
    responders = snapshot(page, min_charts=3)
    assert any("N = " in t for chart in responders.charts for t in chart)
    link = copy_link(page)
    assert urlsplit(link).path == "/responders"
    assert query(link) == {"instrument": ["gad7"], "f.site": ["Clinic A"]}
    fresh = open_fresh(new_page, link)
    assert snapshot(fresh, min_charts=3) == responders
    expect(sidebar_value(fresh, "Instrument")).to_have_value("GAD-7 · anxiety")
    expect(sidebar(fresh).get_by_text("Filters (1 active)")).to_be_visible()
    screenshot(fresh, "sharing_demo_responders_fresh")


def test_overview_grouping_survives_a_visit_to_another_page(
    page: Page, streamlit_server: str
) -> None:
    page.goto(f"{streamlit_server}/?split=sex")
    wait_for_app(page)
    split_by = main_box(page, "Split by").locator("input")
    expect(split_by).to_have_value("Sex")
    go_to(page, "Responders", "Responders · PCL-5")
    go_to(page, "Overview", "Overview · PCL-5")
    assert query(copy_link(page)) == {"split": ["sex"]}
    expect(split_by).to_have_value("Sex", timeout=5_000)


# --- an uploaded dataset -----------------------------------------------------------------


@dataclass(frozen=True)
class UploadServer:
    base_url: str
    dataset_id: str


@pytest.fixture(scope="module")
def upload_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UploadServer]:
    """A server of its own whose store holds one dataset (the demo's Clinics A and B),
    saved through the store's own interface as the upload page would."""
    data_dir = tmp_path_factory.mktemp("sharing_data")
    demo = pd.read_csv(DEMO_CSV)
    record = open_store(data_dir).save(
        demo[demo["site"].isin(["Clinic A", "Clinic B"])],
        name=UPLOADED_NAME,
        source_file="clinics_a_b.csv",
    )
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    log_name = f"streamlit-sharing-{worker}" if worker else "streamlit-sharing"
    with running_app(log_name=log_name, data_dir=data_dir) as base_url:
        yield UploadServer(base_url, record.id)


def test_uploaded_dataset_link_restores_the_view(
    page: Page, new_page: Callable[[], Page], upload_server: UploadServer
) -> None:
    page.goto(upload_server.base_url)
    wait_for_app(page)
    wait_for_charts(page, min_count=2)
    choose(
        page,
        sidebar_box(page, "Dataset"),
        UPLOADED_NAME,
        key="dataset",
        value=upload_server.dataset_id,
    )
    expect(sidebar(page).get_by_text("Synthetic demo data")).to_have_count(0)
    choose(
        page, sidebar_box(page, "Instrument"), "PHQ-9 · depression", key="instrument", value="phq9"
    )
    expect(page.get_by_role("heading", name="Overview · PHQ-9")).to_be_visible()
    choose_filter(page, "Sex", "Female")
    choose(page, main_box(page, "Split by"), "Site", key="split", value="site")
    overview = snapshot(page, min_charts=2)
    assert any("Clinic B" in t for t in overview.charts[0]), "the trajectory is split by site"
    screenshot(page, "sharing_upload_overview")

    link = copy_link(page)
    assert query(link) == {
        "dataset": [upload_server.dataset_id],
        "instrument": ["phq9"],
        "f.sex": ["Female"],
        "split": ["site"],
    }
    fresh = open_fresh(new_page, link)
    assert snapshot(fresh, min_charts=2) == overview
    expect(sidebar_value(fresh, "Dataset")).to_have_value(UPLOADED_NAME)
    expect(sidebar_value(fresh, "Instrument")).to_have_value("PHQ-9 · depression")
    expect(sidebar(fresh).get_by_text("Filters (1 active)")).to_be_visible()
    expect(sidebar(fresh).get_by_test_id("stAlert")).to_have_count(0)
    screenshot(fresh, "sharing_upload_overview_fresh")


# --- a malformed link ----------------------------------------------------------------------


def test_malformed_link_falls_back_to_the_demo_with_a_message(
    page: Page, streamlit_server: str
) -> None:
    page.goto(f"{streamlit_server}/?dataset=../../etc/passwd&instrument=nope&f.site=Nowhere")
    wait_for_app(page)
    warning = sidebar(page).get_by_test_id("stAlert").filter(has_text="could not be applied")
    expect(warning).to_be_visible()
    for note in ("dataset", "passwd", "instrument: 'nope'", "filter Site: 'Nowhere'"):
        expect(warning).to_contain_text(note)
    view = snapshot(page, min_charts=2)
    assert view.title == "Overview · PCL-5"
    assert "Patients\n\n720" in view.metrics  # the whole demo cohort, unfiltered
    expect(sidebar_value(page, "Dataset")).to_have_value("Demo cohort (synthetic, 3 clinics)")
    expect(sidebar(page).get_by_text("Filters (1 active)")).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    assert "passwd" not in page.url and "nope" not in page.url  # the bad values are dropped
    screenshot(page, "sharing_malformed_link")
