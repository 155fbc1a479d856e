"""Plain (pytest-free) helpers to run the app with `streamlit run` and drive it in Chromium.

Used by `tests/e2e/conftest.py` and by `scripts/screenshots.py`. Everything is loopback-only:
the server binds 127.0.0.1 on a free port and the browser is Debian's Chromium, launched
headless through Playwright's `executable_path` (never a Playwright-downloaded browser).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR: Final = REPO_ROOT / "tests" / "e2e" / "artifacts"
APP_ENV_VAR: Final = "OUTCOMES_E2E_APP"  # override the app script (e.g. a throwaway app)
DATA_DIR_ENV_VAR: Final = "OUTCOMES_DATA_DIR"
CHROMIUM_ENV_VAR: Final = "CHROMIUM_PATH"
CHROMIUM_CANDIDATES: Final = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
VIEWPORT: Final[ViewportSize] = {"width": 1400, "height": 1000}
STARTUP_TIMEOUT_S: Final = 60.0
APP_TIMEOUT_MS: Final = 60_000

STAPP: Final = '[data-testid="stApp"]'
EXCEPTION: Final = '[data-testid="stException"]'
SKELETON: Final = '[data-testid="stSkeleton"]'  # placeholder while a lazy element loads
STALE: Final = '[data-stale="true"]'  # elements left over from the previous run
PLOTLY_CHART: Final = '[data-testid="stPlotlyChart"]'
PLOTLY_DRAWN: Final = ".js-plotly-plot .main-svg"


class HarnessError(RuntimeError):
    """The server or the browser could not be started."""


# --- server ------------------------------------------------------------------------------


def default_app_path() -> Path:
    """The app under test: `$OUTCOMES_E2E_APP` if set, else the repository's `app.py`."""
    return Path(os.environ.get(APP_ENV_VAR) or REPO_ROOT / "app.py").resolve()


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (bind to port 0 and let the OS choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # loopback only
            return response.status == 200 and response.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(log_path: Path, n_chars: int = 4000) -> str:
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return text[-n_chars:] or "(empty)"


@contextmanager
def start_streamlit(
    app_path: Path,
    cwd: Path,
    *,
    data_dir: Path,
    log_path: Path,
    extra_args: Sequence[str] = (),
    timeout_s: float = STARTUP_TIMEOUT_S,
    port: int | None = None,
) -> Iterator[str]:
    """Run `streamlit run APP_PATH` on a free loopback port (or on `port`, e.g. one chosen
    with `free_port()` beforehand when a secrets file must name it); yield its base URL.

    The child gets a copy of `os.environ` with `OUTCOMES_DATA_DIR=data_dir`; its stdout and
    stderr go to `log_path`; `extra_args` are appended to the command line. Waits (polling
    every 0.25 s, at most `timeout_s`) until `/_stcore/health` answers "ok", else raises
    `HarnessError` quoting the log. The process is terminated (then killed if it lingers)
    when the block exits.
    """
    if not app_path.is_file():
        raise HarnessError(f"app script not found: {app_path} (set {APP_ENV_VAR} to override)")
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, DATA_DIR_ENV_VAR: str(data_dir)}
    # the project's launcher (ui/serve.py): `streamlit run` with its legacy pages/ mode off,
    # so that a deep link as the first request still runs app.py
    cmd = [
        sys.executable, "-m", "ui.serve", str(app_path),
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        *extra_args,
    ]  # fmt: skip
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        polls = int(timeout_s / 0.25)
        for _ in range(polls):
            if _health_ok(f"{base_url}/_stcore/health"):
                break
            try:  # the bounded wait doubles as the poll interval and notices an early exit
                code = proc.wait(timeout=0.25)
            except subprocess.TimeoutExpired:
                continue
            raise HarnessError(
                f"streamlit exited with code {code} before becoming healthy; "
                f"log {log_path}:\n{_log_tail(log_path)}"
            )
        else:
            raise HarnessError(
                f"streamlit not healthy at {base_url} after {timeout_s:.0f} s; "
                f"log {log_path}:\n{_log_tail(log_path)}"
            )
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def running_app(
    app_path: Path | None = None,
    *,
    log_name: str = "streamlit",
    data_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    port: int | None = None,
) -> Iterator[str]:
    """`start_streamlit` with defaults: the app from `default_app_path()`, cwd = its folder,
    a fresh temporary data dir (unless given), log at `artifacts/LOG_NAME.log`, a free port
    (unless given)."""
    app = (app_path or default_app_path()).resolve()
    with (
        tempfile.TemporaryDirectory(prefix="outcomes-e2e-data-") as tmp,
        start_streamlit(
            app,
            app.parent,
            data_dir=data_dir or Path(tmp),
            log_path=ARTIFACTS_DIR / f"{log_name}.log",
            extra_args=extra_args,
            port=port,
        ) as base_url,
    ):
        yield base_url


# --- browser -----------------------------------------------------------------------------


def find_chromium() -> str:
    """Path of the Chromium to drive: `$CHROMIUM_PATH`, else the first Debian path that exists.

    Raises `HarnessError` with an actionable message when there is none.
    """
    override = os.environ.get(CHROMIUM_ENV_VAR)
    candidates = [override] if override else list(CHROMIUM_CANDIDATES)
    for path in candidates:
        if Path(path).is_file():
            return path
    raise HarnessError(
        f"Chromium not found (looked at {', '.join(candidates)}). The e2e tests drive Debian's "
        "Chromium, which `make test` installs (apt-get install chromium); or set "
        f"{CHROMIUM_ENV_VAR} to a Chromium binary. Do not use `playwright install`."
    )


@contextmanager
def launch_chromium(executable: str | None = None) -> Iterator[Browser]:
    """Start Playwright and a headless Chromium (default: `find_chromium()`); close both on exit."""
    executable = executable or find_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser: Browser) -> BrowserContext:
    """A fresh, isolated browser context (no cookies/storage) with the standard viewport."""
    return browser.new_context(viewport=VIEWPORT)


# --- page helpers ------------------------------------------------------------------------


def wait_for_app(page: Page, *, timeout_ms: int = APP_TIMEOUT_MS) -> None:
    """Wait until the app is connected, its script run has finished, and every lazily loaded
    element (Plotly charts, dataframes: a `stSkeleton` placeholder meanwhile) has mounted.

    Call it after `page.goto`. After an interaction that triggers a rerun, first `expect` the
    change you are waiting for (the run may not have started yet when this is called).
    """
    app = page.locator(STAPP)
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=timeout_ms)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout_ms)
    running = page.get_by_test_id("stStatusWidget").filter(has_text=re.compile("running", re.I))
    expect(running).to_have_count(0, timeout=timeout_ms)
    expect(page.locator(SKELETON)).to_have_count(0, timeout=timeout_ms)
    expect(page.locator(STALE)).to_have_count(0, timeout=timeout_ms)


def wait_for_charts(page: Page, *, min_count: int = 1, timeout_ms: int = APP_TIMEOUT_MS) -> int:
    """Wait until at least `min_count` Plotly charts exist and every one has drawn its SVG.

    Stops early with `assert_no_exception`'s error if the page shows an exception instead.
    With `min_count=0` it only waits for charts that are present. Returns the chart count.
    """
    charts = page.locator(PLOTLY_CHART)
    if min_count > 0:
        chart_or_error = charts.nth(min_count - 1).or_(page.locator(EXCEPTION))
        expect(chart_or_error.first).to_be_attached(timeout=timeout_ms)
    assert_no_exception(page)
    count = charts.count()
    for i in range(count):
        expect(charts.nth(i).locator(PLOTLY_DRAWN).first).to_be_visible(timeout=timeout_ms)
    return count


def _strip_buttons(text: str) -> str:
    lines = text.strip().splitlines()
    return "\n".join(ln for ln in lines if ln.strip() not in {"Copy", "Ask Google", "Ask ChatGPT"})


def assert_no_exception(page: Page) -> None:
    """Raise `AssertionError` quoting the text of any `st.exception` box on the page."""
    __tracebackhide__ = True  # pytest: show the caller, not this helper
    boxes = page.locator(EXCEPTION)
    if boxes.count():
        texts = "\n---\n".join(_strip_buttons(t) for t in boxes.all_inner_texts())
        raise AssertionError(f"{boxes.count()} Streamlit exception(s) on {page.url}:\n{texts}")


def assert_page_found(page: Page) -> None:
    """Raise `AssertionError` if Streamlit says the requested URL path is not a page
    (it then runs the main page under a "Page not found" dialog)."""
    __tracebackhide__ = True  # pytest: show the caller, not this helper
    if page.get_by_role("dialog").filter(has_text="Page not found").count():
        raise AssertionError(f"Streamlit: page not found: {page.url}")


# Streamlit scrolls inside an inner container, so `full_page=True` alone stops at the viewport:
# this measures how much taller than the viewport the tallest scrolling element's content is.
_OVERFLOW_JS = """() => Math.max(0, ...Array.from(document.querySelectorAll('*'), (el) => {
    const style = getComputedStyle(el).overflowY;
    return style === 'auto' || style === 'scroll' ? el.scrollHeight - el.clientHeight : 0;
}))"""


def screenshot(page: Page, name: str, *, out_dir: Path = ARTIFACTS_DIR) -> Path:
    """Save a full-page PNG (the whole scrolled app, not just the viewport) as
    `OUT_DIR/NAME.png` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    viewport = page.viewport_size or VIEWPORT
    extra = int(page.evaluate(_OVERFLOW_JS))
    if extra > 0:
        page.set_viewport_size({"width": viewport["width"], "height": viewport["height"] + extra})
    try:
        page.screenshot(path=str(path), full_page=True)
    finally:
        if extra > 0:
            page.set_viewport_size(viewport)
    return path
