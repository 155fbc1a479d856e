"""AppTest: the Statistics page shows the command line's mixed model and the library's paired
statistics, with choices injected before the first run (see test_pages.py)."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from analytics.cli import build_parser, command
from analytics.io import load_canonical
from analytics.outcomes import derive_patient_outcomes
from analytics.paired import summarise_paired_change
from ui import state as k
from ui.datasets import DEMO_PATH

ROOT = Path(__file__).resolve().parents[2]
PAGE = "pages/statistics.py"


def run_page(**state: object) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def cli_mixed(*args: str) -> dict:
    ns = build_parser().parse_args(["mixed", str(DEMO_PATH), *args, "--json"])
    return command("mixed").run(ns)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def signed(x: float, digits: int = 3) -> str:
    return f"{x:,.{digits}f}".replace("-", "−")


def test_defaults_match_the_command_line():
    at = run_page()
    assert at.title[0].value == "Statistics · PCL-5"
    ref = cli_mixed("--instrument", "pcl5")
    m = metrics(at)
    assert m["Patients"] == f"{ref['n_patients']:,}"
    assert m["Assessments"] == f"{ref['n_observations']:,}"
    assert m["Log-likelihood"] == f"{ref['log_likelihood']:,.1f}"
    assert m["AIC"] == f"{ref['aic']:,.1f}"
    coef = at.dataframe[0].value
    assert list(coef["Term"]) == ["Intercept", "Time (per day)", "Baseline score (per point)"]
    for shown, rec in zip(coef["Estimate"], ref["coefficients"], strict=True):
        assert shown == signed(rec["estimate"])
    assert len(at.get("plotly_chart")) == 1
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert fig["layout"]["xaxis"]["title"]["text"] == "Days since first infusion"
    assert "synthetic demo data" in fig["layout"]["title"]["subtitle"]["text"]


def test_covariates_random_slope_reml_and_a_filter():
    at = run_page(
        **{
            k.INSTRUMENT: "phq9",
            k.filter_key("sex"): ["Female"],
            k.STATS_TIME: "infusions",
            k.STATS_COVARIATES: ["site", "bmi"],
            k.STATS_RANDOM_SLOPE: True,
            k.STATS_METHOD: "REML",
        }
    )
    ref = cli_mixed(
        "--instrument",
        "phq9",
        "--where",
        "sex=Female",
        "--time",
        "infusions",
        "--covariates",
        "site,bmi",
        "--random-slope",
        "--reml",
    )
    m = metrics(at)
    assert m["Patients"] == f"{ref['n_patients']:,}" and m["AIC"] == "—"
    coef = at.dataframe[0].value
    assert "site: Clinic B vs Clinic A" in set(coef["Term"])
    for shown, rec in zip(coef["Estimate"], ref["coefficients"], strict=True):
        assert shown == signed(rec["estimate"])
    variance = at.dataframe[1].value
    assert variance["Component"].str.contains("Slope per infusion").any()


def test_a_covariate_constant_after_filters_is_left_out_with_a_warning():
    at = run_page(**{k.filter_key("site"): ["Clinic A"], k.STATS_COVARIATES: ["site"]})
    assert any("'site'" in w.value for w in at.warning)
    assert not any(t.startswith("site") for t in at.dataframe[0].value["Term"])


def test_paired_statistics_by_group_with_suppression():
    at = run_page(**{k.STATS_PAIRED_BY: "prior_failed_treatments"})
    table = at.dataframe[-1].value.set_index("Group")
    demo = load_canonical(DEMO_PATH).data
    ref = summarise_paired_change(derive_patient_outcomes(demo, "pcl5")).iloc[0]
    assert table.loc["All", "N"] == f"{ref['n_patients']:,}"
    assert table.loc["All", "d_z"] == signed(ref["cohens_dz"], 2)
    assert table.loc["6", "N"] == "<11" and table.loc["5", "N"] == "hidden"
    assert table.loc["0", "Wilcoxon p from"] == "normal approx."
    assert any("zero_method" in c.value for c in at.caption)


def test_a_shared_link_restores_the_model_choices():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params[k.STATS_TIME] = "infusions"
    at.query_params[k.STATS_RANDOM_SLOPE] = "True"
    at.query_params[k.STATS_METHOD] = "REML"
    at.query_params[k.STATS_COVARIATES] = ["site"]
    at.query_params[k.STATS_PAIRED_BY] = "sex"
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.toggle(key=k.STATS_RANDOM_SLOPE).value is True
    assert at.radio(key=k.STATS_METHOD).value == "REML"
    assert at.multiselect(key=k.STATS_COVARIATES).value == ["site"]
    assert metrics(at)["AIC"] == "—"
    assert list(at.dataframe[-1].value["Group"]) == ["All", "Female", "Male"]
