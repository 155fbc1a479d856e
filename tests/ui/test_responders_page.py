"""AppTest: the Responders page on the demo data with choices injected before the first
run (see tests/ui/test_pages.py for why); its numbers equal the command line's and the
library's, and small groups are suppressed."""

from __future__ import annotations

import json

import pytest
from scipy import stats
from streamlit.testing.v1 import AppTest

from analytics.io import load_canonical
from analytics.outcomes import derive_patient_outcomes
from tests.ui.test_pages import APP, cli_summary
from tests.ui.test_trajectories_page import small_filter, values
from ui import state as k
from ui.datasets import DEMO_PATH

PAGE = "pages/responders.py"


def run_page(**state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def figures(at: AppTest) -> dict[str, dict]:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {s["layout"]["title"]["text"].split(": ", 1)[1]: s for s in specs}


def test_defaults_match_the_command_line():
    at = run_page()
    assert at.title[0].value == "Responders · PCL-5"
    figs = figures(at)
    assert set(figs) == {
        "response and remission rates",
        "change in each patient",
        "reliable change",
        "severity at baseline and endpoint",
        "cumulative response by infusion",
        "how well early improvement predicts response",
    }
    ref = cli_summary("--instrument", "pcl5")
    forest = figs["response and remission rates"]
    response, remission = (t for t in forest["data"] if t.get("mode") == "markers")
    assert values(response["x"])[0] == pytest.approx(ref["responders"]["pct"])
    assert values(remission["x"])[0] == pytest.approx(ref["remitters"]["pct"])
    low = values(response["x"])[0] - values(response["error_x"]["arrayminus"])[0]
    assert low == pytest.approx(ref["responders"]["ci95_low"])
    waterfall = figs["change in each patient"]
    assert sum(len(values(t["x"])) for t in waterfall["data"]) == ref["n_patients"]
    names = [t["name"] for t in waterfall["data"]]
    assert any(n.startswith("Responder and remitter (n = ") for n in names)
    for fig in figs.values():
        sub = fig["layout"]["title"]["subtitle"]["text"]
        assert "Response: >= 30% reduction" in sub and "synthetic demo data" in sub
    rc = figs["reliable change"]
    assert "r = 0.82" in rc["layout"]["title"]["subtitle"]["text"]
    assert any("Jacobson-Truax" in c.value for c in at.caption)


def test_split_by_sex_compares_groups_like_scipy():
    at = run_page(**{k.RESP_BY: "sex"})
    ref = {
        g["group"]: g["responders"]
        for g in cli_summary("--instrument", "pcl5", "--by", "sex")["groups"]
    }
    table = [[ref[s]["n"], ref[s]["N"] - ref[s]["n"]] for s in ("Female", "Male")]
    p = stats.chi2_contingency(table, correction=False).pvalue
    comparison = at.dataframe[0].value.set_index("Measure")
    assert comparison.loc["Response", "Groups compared"] == "Female vs Male"
    assert comparison.loc["Response", "p"] == f"p = {p:.3f}"
    assert comparison.loc["Response", "Test"] == "Pearson chi-square"
    forest = figures(at)["response and remission rates"]
    rows = forest["layout"]["yaxis"]["categoryarray"]
    assert rows[-1].startswith("All patients") and any(r.startswith("Female (N = ") for r in rows)


def test_phq9_uses_severity_bands_and_fixed_reliable_change():
    at = run_page(**{k.INSTRUMENT: "phq9", k.filter_key("site"): ["Clinic A"]})
    figs = figures(at)
    heat = figs["severity at baseline and endpoint"]
    assert "severity band" in heat["layout"]["title"]["subtitle"]["text"]
    assert len(heat["layout"]["xaxis"]["categoryarray"]) == 5
    rc = figs["reliable change"]["layout"]["title"]["subtitle"]["text"]
    assert ">= 6 points (PHQ-9 registry)" in rc
    waterfall = figs["change in each patient"]
    threshold = [
        s for s in waterfall["layout"]["shapes"] if s.get("line", {}).get("dash") == "dash"
    ]
    assert threshold and threshold[0]["y0"] == -50


def test_a_group_below_the_threshold_is_suppressed():
    chosen = small_filter()
    at = run_page(**{k.filter_key(c): [v] for c, v in chosen.items()})
    assert any("Patient-level charts are not shown" in i.value for i in at.info)
    figs = figures(at)
    assert "change in each patient" not in figs
    forest = figs["response and remission rates"]
    assert not any(len(values(t["x"])) for t in forest["data"] if t.get("mode") == "markers")
    assert {a["text"] for a in forest["layout"]["annotations"]} >= {"<11"}
    assert all("N <11" in r for r in forest["layout"]["yaxis"]["categoryarray"])
    two_by_two = at.table[0].value
    assert set(two_by_two.to_numpy().ravel()) <= {"<11", "hidden", "0"}


def test_review_list_matches_the_library():
    at = run_page(**{k.filter_key("site"): ["Clinic B"]})
    from analytics.filters import apply_filters

    data = apply_filters(load_canonical(DEMO_PATH).data, {"site": ["Clinic B"]})
    out = derive_patient_outcomes(data, "pcl5")
    flagged = set(out.table.loc[out.table["early_non_improvement"].fillna(False), "patient_id"])
    review = at.dataframe[-1].value
    assert set(review["patient_id"]) == flagged
    assert any(f"likely non-response: {len(flagged)}." in c.value for c in at.caption)
