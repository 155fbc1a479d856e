"""Static charts and the PDF report, through a headless Chromium driven by Playwright.

The browser is the one the project already installs (Debian's ``chromium``; set
``CHROMIUM_PATH`` to use another): Playwright launches it by path and never downloads a
browser of its own. One :class:`StaticRenderer` session loads plotly.js once, turns any
number of figures into PNG or SVG with ``Plotly.toImage`` (what kaleido does), and prints
HTML to PDF (``page.pdf``). Nothing leaves the machine: the page is built from strings.

>>> with StaticRenderer() as r:  # doctest: +SKIP
...     png = r.image(fig, "png")
...     pdf = r.pdf(html)
"""

from __future__ import annotations

import base64
import html
import os
import shutil
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import unquote

import plotly.graph_objects as go
import plotly.io as pio

from analytics.errors import DataValidationError
from analytics.report import SYNTHETIC_NOTE, Report, figure_keys, render_html

CHROMIUM_ENV = "CHROMIUM_PATH"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DEFAULT_WIDTH = 900
DEFAULT_HEIGHT = 500
PNG_SCALE = 2
ImageFormat = Literal["png", "svg"]


class StaticExportError(DataValidationError):
    """No Chromium to draw static charts or print the PDF with, or it failed."""


def find_chromium() -> str | None:
    """``$CHROMIUM_PATH``, else Debian's Chromium, else ``chromium`` on the PATH."""
    override = os.environ.get(CHROMIUM_ENV)
    if override:
        return override if Path(override).is_file() else None
    for path in CHROMIUM_CANDIDATES:
        if Path(path).is_file():
            return path
    return shutil.which("chromium") or shutil.which("chromium-browser")


def static_export_available() -> bool:
    """Whether PNG, SVG and PDF can be made here (Playwright and a Chromium)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return find_chromium() is not None


def _size(fig: go.Figure, width: int | None, height: int | None) -> tuple[int, int]:
    w = width or fig.layout.width or DEFAULT_WIDTH
    h = height or fig.layout.height or DEFAULT_HEIGHT
    return int(w), int(h)


class StaticRenderer:
    """A headless Chromium page with plotly.js loaded. Use as a context manager."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable or find_chromium()
        self._pw = None
        self._browser = None
        self._page = None

    def __enter__(self) -> StaticRenderer:
        if self.executable is None:
            raise StaticExportError(
                "static charts and PDF need Chromium: install Debian's chromium "
                f"(apt-get install chromium) or set {CHROMIUM_ENV} to a Chromium binary"
            )
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as exc:  # pragma: no cover - a runtime dependency
            raise StaticExportError("static charts and PDF need the playwright package") from exc
        from plotly.offline import get_plotlyjs

        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(
                executable_path=self.executable, headless=True, args=CHROMIUM_ARGS
            )
            self._page = self._browser.new_page()
            self._page.route("**/*", _block_network)
            self._page.set_content("<!DOCTYPE html><html><head></head><body></body></html>")
            self._page.add_script_tag(content=get_plotlyjs())
        except Exception as exc:
            self.__exit__(None, None, None)
            raise StaticExportError(f"Chromium could not be started: {exc}") from exc
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._pw is not None:
            self._pw.stop()
        self._browser = self._pw = self._page = None

    def image(
        self,
        fig: go.Figure,
        fmt: ImageFormat = "png",
        *,
        width: int | None = None,
        height: int | None = None,
        scale: float = PNG_SCALE,
    ) -> bytes:
        """The figure as PNG (at ``scale`` times its pixel size) or SVG bytes."""
        if self._page is None:
            raise StaticExportError("use StaticRenderer as a context manager")
        w, h = _size(fig, width, height)
        spec = {"figure": pio.to_json(fig, validate=False), "format": fmt, "w": w, "h": h}
        spec["scale"] = scale if fmt == "png" else 1
        url: str = self._page.evaluate(
            """(s) => Plotly.toImage(JSON.parse(s.figure),
                {format: s.format, width: s.w, height: s.h, scale: s.scale})""",
            spec,
        )
        head, _, payload = url.partition(",")
        if ";base64" in head:
            return base64.b64decode(payload)
        return unquote(payload).encode("utf-8")

    def pdf(self, document: str, *, header: str = "", footer_note: str = "") -> bytes:
        """Print an HTML document to an A4 PDF with a header line and page numbers."""
        if self._page is None:
            raise StaticExportError("use StaticRenderer as a context manager")
        self._page.set_content(document, wait_until="load")
        small = "font-size:8px;color:#555;width:100%;padding:0 12mm;font-family:sans-serif;"
        note = f" · {html.escape(footer_note)}" if footer_note else ""
        return self._page.pdf(
            format="A4",
            print_background=True,
            display_header_footer=True,
            header_template=f'<div style="{small}">{html.escape(header)}</div>',
            footer_template=(
                f'<div style="{small}text-align:right">Page <span class="pageNumber"></span> of '
                f'<span class="totalPages"></span>{note}</div>'
            ),
            margin={"top": "18mm", "bottom": "16mm", "left": "12mm", "right": "12mm"},
        )


def _block_network(route) -> None:
    """Allow only the page's own content: nothing is fetched from anywhere."""
    if route.request.url.startswith(("data:", "about:")):
        route.continue_()
    else:
        route.abort()


def figure_image(fig: go.Figure, fmt: ImageFormat = "png") -> bytes:
    """One figure as PNG or SVG (starts and stops a browser: use :class:`StaticRenderer`
    for several)."""
    with StaticRenderer() as r:
        return r.image(fig, fmt)


def render_pdf(report: Report, *, renderer: StaticRenderer | None = None) -> bytes:
    """The report as a PDF: the HTML report with each chart as a static PNG image."""
    if renderer is None:
        with StaticRenderer() as r:
            return render_pdf(report, renderer=r)
    images = {}
    for key, fig in zip(figure_keys(report), report.figures, strict=True):
        png = renderer.image(fig.figure, "png", width=DEFAULT_WIDTH)
        images[key] = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    document = render_html(report, images=images)
    p = report.provenance
    header = f"{report.title} · {p.dataset_name} · generated {p.generated}"
    return renderer.pdf(document, header=header, footer_note=SYNTHETIC_NOTE if p.synthetic else "")
