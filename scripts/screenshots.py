"""Take full-page screenshots of the running app's pages for the docs.

Starts the app with `streamlit run` on a free loopback port (same harness as the e2e tests,
with a fresh empty data dir unless --data-dir is given), opens each URL path in headless
Debian Chromium, waits for the script run and every Plotly chart, and writes OUT/NAME.png.

    python scripts/screenshots.py                          # "/" -> docs/screenshots/overview.png
    python scripts/screenshots.py --out docs/screenshots / trajectories responders=resp

A path may be given as PATH or PATH=NAME; by default "/" is named "overview" and any other
path is named after itself ("/data/import" -> "data_import"). Exits 1 if a page shows an
exception or is not found (its screenshot is still written, so you can see why).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.e2e.harness import (  # noqa: E402  (needs the repo root on sys.path)
    HarnessError,
    assert_no_exception,
    assert_page_found,
    default_app_path,
    launch_chromium,
    new_context,
    running_app,
    screenshot,
    wait_for_app,
    wait_for_charts,
)

ROOT_NAME = "overview"


def parse_target(arg: str) -> tuple[str, str]:
    """`"trajectories"` -> `("/trajectories", "trajectories")`; `"/=home"` -> `("/", "home")`."""
    path, _, name = arg.partition("=")
    path = "/" + path.strip("/")
    default = path.strip("/").replace("/", "_") or ROOT_NAME
    return path, name or default


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=["/"], help="URL paths, PATH or PATH=NAME")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshots")
    parser.add_argument("--app", type=Path, default=default_app_path(), help="app script")
    parser.add_argument("--data-dir", type=Path, help="OUTCOMES_DATA_DIR (default: fresh)")
    args = parser.parse_args(argv)

    failures = 0
    with (
        running_app(
            args.app,
            log_name="screenshots-streamlit",
            data_dir=args.data_dir,
            extra_args=["--client.toolbarMode", "minimal"],
        ) as url,
        launch_chromium() as browser,
    ):
        for path, name in map(parse_target, args.paths):
            context = new_context(browser)
            page = context.new_page()
            page.goto(url + path)
            try:
                wait_for_app(page)
                n_charts = wait_for_charts(page, min_count=0)
                assert_no_exception(page)
                assert_page_found(page)
            except AssertionError as exc:
                failures += 1
                print(f"FAILED {path}: {exc}", file=sys.stderr)
                n_charts = -1
            out = screenshot(page, name, out_dir=args.out)
            print(f"{path} -> {out}" + (f" ({n_charts} charts)" if n_charts >= 0 else " (ERROR)"))
            context.close()
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HarnessError as exc:  # no app, no Chromium, or the server did not start
        sys.exit(f"error: {exc}")
