"""(d) Every page under AppTest on a stored dataset, cold and warm, in its own process.

``python -m bench.pages --parquet FILE --repeats R`` stores the cohort with
``analytics.store.open_store(tmpdir).save`` (``OUTCOMES_DATA_DIR`` points at the folder),
injects its id as the session's dataset and runs each page:

- cold: Streamlit's caches emptied first (modules already imported, as in a running
  server), so the page loads the dataset from the store and computes everything;
- warm: the same page again with the caches full (a rerun after any widget change that
  does not change the view).

It then times the Overview after a filter not seen before, with the dataset loaded, both
as the page's own computation (:func:`overview_page`: every tile and figure, the target
row) and as a whole AppTest run (plus Streamlit's script and rendering), and prints one
JSON object (timings and this process's peak RSS, whole and per phase: storing the
dataset, then serving the pages) on stdout.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGES = sorted(p.stem for p in (ROOT / "pages").glob("*.py"))
TIMEOUT = 900


def _clear_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


def run_page(page: str, state: dict) -> tuple[float, str | None, list[str]]:
    """One full AppTest run of ``page``: seconds, its title, any exceptions."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(f"pages/{page}.py")
    t0 = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - t0
    title = at.title[0].value if at.title else None
    return seconds, title, [str(e.value)[:300] for e in at.exception]


def overview_page(dataset_id: str, filters: tuple, definition) -> dict:
    """What ``pages/overview.py`` computes for a view, without drawing: the outcomes
    (``page_start``), :func:`ui.headline.overview_results` (summary, counts, tiles,
    trajectory, both figures), the figures serialised as ``st.plotly_chart`` sends them,
    the definitions panel and the downloads' tables. Streamlit's own rendering is in the
    whole-AppTest row."""
    import plotly.io as pio

    from analytics import report as rp
    from bench.library import INSTRUMENT
    from ui import cache
    from ui.headline import overview_results
    from ui.report_widgets import trajectory_table
    from ui.widgets import filters_text

    min_cell = 11
    args = (dataset_id, INSTRUMENT, definition, filters)
    outcomes = cache.outcomes(*args)
    cache.filter_levels(dataset_id)
    res = overview_results(args, outcomes, value="score", by=None, min_cell=min_cell)
    specs = [pio.to_json(f, validate=False) for f in (res.trajectory_figure, res.severity_figure)]
    lines = [*outcomes.describe(), filters_text(filters)]
    numbers = rp.outcome_numbers(res.row, outcomes, min_cell)
    table = trajectory_table(res.trajectory, min_cell)
    return {"results": res, "specs": specs, "lines": lines, "numbers": numbers, "table": table}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages")
    parser.add_argument("--parquet", required=True, type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--filters", type=int, default=5, help="new filters on the Overview")
    args = parser.parse_args(argv)

    warnings.filterwarnings("ignore")
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    tmp = tempfile.mkdtemp(prefix="bench-pages-")
    os.environ["OUTCOMES_DATA_DIR"] = tmp

    import pandas as pd

    from analytics.definitions import OutcomeDefinition
    from analytics.io import load_canonical
    from analytics.store import open_store
    from bench.context import peak_rss_mb, reset_peak_rss
    from bench.library import INSTRUMENT, filter_sequence
    from ui import cache
    from ui import state as k

    result = load_canonical(args.parquet)
    result.raise_for_errors()
    t0 = time.perf_counter()
    record = open_store(tmp).save(result.data, name=f"bench {args.parquet.stem}")
    store_seconds = time.perf_counter() - t0
    dataset_id = record.id
    del result
    gc.collect()
    out_setup_peak = peak_rss_mb()
    reset_peak = reset_peak_rss()
    state = {k.DATASET: dataset_id, k.INSTRUMENT: INSTRUMENT}

    out: dict = {
        "dataset_id": dataset_id,
        "store_save_seconds": store_seconds,
        "peak_rss_setup_mb": out_setup_peak,
        "pages": {},
    }
    run_page("overview", {})  # imports and plotly warmed on the demo cohort
    for page in args.pages.split(","):
        _clear_caches()
        cold, title, errors = run_page(page, state)
        warm = [run_page(page, state)[0] for _ in range(args.repeats)]
        out["pages"][page] = {
            "cold": cold,
            "warm": statistics.median(warm),
            "warm_runs": warm,
            "title": title,
            "errors": errors,
        }

    # A filter change on the Overview, warm: dataset, registry and covariates cached.
    _clear_caches()
    run_page("overview", state)
    covariates = cache.covariates(dataset_id)
    chosen = filter_sequence(covariates)
    definition = OutcomeDefinition()

    def new_filter(filters: dict[str, list[str]]) -> float:
        key = tuple(sorted((c, tuple(sorted(v))) for c, v in filters.items()))
        t0 = time.perf_counter()
        overview_page(dataset_id, key, definition)
        return time.perf_counter() - t0

    page_runs = [new_filter(next(chosen)) for _ in range(args.filters)]
    app_runs = []
    for _ in range(args.filters):
        filters = next(chosen)
        s = dict(state)
        s.update({k.filter_key(c): v for c, v in filters.items()})
        app_runs.append(run_page("overview", s)[0])
    out["overview_filter_page"] = {"median": statistics.median(page_runs), "runs": page_runs}
    out["overview_filter_app"] = {"median": statistics.median(app_runs), "runs": app_runs}
    out["n_rows"] = len(cache.dataset(dataset_id))
    out["peak_rss_pages_mb"] = peak_rss_mb() if reset_peak else None
    out["peak_rss_mb"] = max(out_setup_peak, peak_rss_mb())
    del pd
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
