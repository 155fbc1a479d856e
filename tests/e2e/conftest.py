"""Fixtures for the real-browser tests: one `streamlit run` server and one headless Chromium
per session, a fresh browser context (1400x1000) per page.

Fixtures: `streamlit_server` (base URL), `browser`, `new_page` (factory: a fresh, isolated
context each call, e.g. to open a shared link "in another browser"), `page` (= `new_page()`).
Helpers live in `tests/e2e/harness.py` (`wait_for_app`, `wait_for_charts`,
`assert_no_exception`, `assert_page_found`, `screenshot`). Set `OUTCOMES_E2E_APP` to test
another app script and `CHROMIUM_PATH` to use another Chromium binary.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from playwright.sync_api import Error as PlaywrightError

from .harness import (
    ARTIFACTS_DIR,
    HarnessError,
    default_app_path,
    find_chromium,
    launch_chromium,
    new_context,
    screenshot,
    start_streamlit,
)

_E2E_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e with `e2e` (so `-m "not e2e"` skips them)."""
    for item in items:
        if _E2E_DIR in item.path.resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember each phase's report on the item, so fixtures can tell a test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def streamlit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (`http://127.0.0.1:PORT`) of the app run by `streamlit run` with a fresh,
    empty `OUTCOMES_DATA_DIR`; its output goes to tests/e2e/artifacts/streamlit.log."""
    app = default_app_path()
    data_dir = tmp_path_factory.mktemp("outcomes_data")
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # one server (and log) per xdist worker
    log_path = ARTIFACTS_DIR / (f"streamlit-{worker}.log" if worker else "streamlit.log")
    failure = ""
    try:
        with start_streamlit(app, app.parent, data_dir=data_dir, log_path=log_path) as base_url:
            yield base_url
    except HarnessError as exc:  # raised only while starting, never by a test
        failure = str(exc)
    if failure:  # fail outside the `except` so the message is not repeated as chained
        pytest.fail(failure, pytrace=False)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """A headless Debian Chromium, shared by the session (tests get their own contexts)."""
    try:
        executable = find_chromium()
    except HarnessError as exc:
        failure = str(exc)
    else:
        with launch_chromium(executable) as chromium:
            yield chromium
        return
    pytest.fail(failure, pytrace=False)


@pytest.fixture
def new_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[[], Page]]:
    """Factory: each call opens a page in a fresh, isolated browser context.

    On test failure every page opened is saved as artifacts/TESTNAME-failure-N.png.
    """
    contexts: list[BrowserContext] = []

    def make() -> Page:
        context = new_context(browser)
        contexts.append(context)
        return context.new_page()

    yield make
    report = getattr(request.node, "rep_call", None)
    failed = report is not None and report.failed
    pages = [page for context in contexts for page in context.pages] if failed else []
    for i, page in enumerate(pages):
        with suppress(PlaywrightError):  # a crashed page must not hide the real failure
            screenshot(page, f"{request.node.name}-failure-{i}".replace("/", "_"))
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    """A page in a fresh browser context (viewport 1400x1000)."""
    return new_page()
