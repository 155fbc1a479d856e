"""AppTest: every page runs headless on the demo data, and the Overview shows the same
numbers as ``python -m analytics summary`` for the same definition and filters."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics.cli import build_parser, run_summary
from ui import state as k
from ui.datasets import DEMO_PATH

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGES = sorted(p.stem for p in (ROOT / "pages").glob("*.py"))
TIMEOUT = 90


def app(**state: object) -> AppTest:
    """A fresh app with session state injected before the first run.

    AppTest drops the sidebar on a second run of an app that uses ``st.navigation`` (a
    test-harness quirk: the real browser keeps it, see tests/e2e), so each scenario
    sets its choices up front instead of clicking sidebar widgets between runs."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def cli_summary(*args: str) -> dict:
    ns = build_parser().parse_args(["summary", str(DEMO_PATH), *args, "--json"])
    return run_summary(ns)


def as_pct(x: float) -> str:
    return f"{x:.0f}%"


def as_signed(x: float) -> str:
    return f"{x:+,.1f}".replace("-", "−")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_without_exception(page):
    at = app().run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"page {page} shows no title"


def test_overview_defaults_match_the_command_line():
    at = app().run()
    assert not at.exception
    m = metrics(at)
    ref = cli_summary("--instrument", "pcl5")
    assert at.title[0].value == "Overview · PCL-5"
    assert m["Patients"] == f"{ref['n_patients_total']:,}"
    assert m["Baseline mean"] == f"{ref['baseline_mean']:,.1f}"
    assert m["Mean change"] == as_signed(ref["mean_change"])
    assert m["Responders"] == as_pct(ref["responders"]["pct"])
    assert m["Remitters"] == as_pct(ref["remitters"]["pct"])
    assert any("Synthetic demo data" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 2


def test_overview_with_filter_instrument_and_endpoint_matches_the_command_line():
    at = app(
        **{
            k.INSTRUMENT: "phq9",
            k.filter_key("site"): ["Clinic A"],
            k.ENDPOINT_KIND: "infusions",
        }
    ).run()
    assert not at.exception
    m = metrics(at)
    ref = cli_summary(
        "--instrument", "phq9", "--where", "site=Clinic A", "--endpoint", "infusions:6"
    )
    assert at.title[0].value == "Overview · PHQ-9"
    assert m["Patients"] == f"{ref['n_patients_total']:,}"
    assert m["Mean change"] == as_signed(ref["mean_change"])
    assert m["Responders"] == as_pct(ref["responders"]["pct"])
    help_text = next(x.help for x in at.metric if x.label == "Patients")
    assert f"{ref['n_patients']:,} have a baseline" in help_text
    unfiltered = cli_summary("--instrument", "phq9", "--endpoint", "infusions:6")
    assert ref["n_patients_total"] < unfiltered["n_patients_total"]


def test_response_threshold_change_updates_responders():
    at = app(**{f"{k.RESPONSE_PCT}__pcl5": 50.0}).run()
    ref = cli_summary("--instrument", "pcl5", "--response-pct", "50")
    assert metrics(at)["Responders"] == as_pct(ref["responders"]["pct"])


def empty_filter_combination() -> dict[str, str]:
    """Levels of two or three covariates that no demo patient has together."""
    patients = pd.read_csv(DEMO_PATH).drop_duplicates("patient_id")
    cols = ["site", "age_band", "trauma_type", "prior_failed_treatments", "route", "sex"]
    for size in (2, 3):
        for combo in itertools.combinations(cols, size):
            levels = [sorted(patients[c].astype(str).unique()) for c in combo]
            seen = set(map(tuple, patients[list(combo)].astype(str).to_numpy()))
            for values in itertools.product(*levels):
                if values not in seen:
                    return dict(zip(combo, values, strict=True))
    raise AssertionError("every combination of levels occurs in the demo data")


def test_empty_filter_result_says_so():
    chosen = empty_filter_combination()
    at = app(**{k.filter_key(c): [v] for c, v in chosen.items()}).run()
    assert not at.exception
    assert any("No patients" in i.value for i in at.info)
    assert not at.metric


def test_trajectory_split_and_percent_view_render():
    at = app(**{k.TRAJECTORY_BY: "site", k.TRAJECTORY_VALUE: "pct_change"}).run()
    assert not at.exception
    assert at.selectbox(key=k.TRAJECTORY_BY).value == "site"
    assert len(at.get("plotly_chart")) == 2
