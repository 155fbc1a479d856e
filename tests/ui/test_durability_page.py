"""AppTest: the Durability page on the demo data, with choices injected before the first run
(AppTest drops the sidebar on a second run of an st.navigation app; see test_pages.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.durability import derive_time_to_response, fit_kaplan_meier
from analytics.filters import apply_filters
from analytics.io import load_canonical
from analytics.outcomes import derive_patient_outcomes
from ui import state as k
from ui.datasets import DEMO_PATH

ROOT = Path(__file__).resolve().parents[2]
PAGE = "pages/durability.py"


def run_page(**state: object) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def curve_names(fig: dict) -> set[str]:
    return {t["name"] for t in fig["data"] if t.get("name")}


@pytest.fixture(scope="module")
def demo():
    return load_canonical(DEMO_PATH).data


def test_defaults_show_both_curves_and_the_library_medians(demo):
    at = run_page()
    assert at.title[0].value == "Durability · PCL-5"
    assert [s.value for s in at.subheader] == ["Time to first response", "Time to loss of response"]
    figs = figures(at)
    assert len(figs) == 2 and len(at.dataframe) == 2
    assert figs[0]["layout"]["yaxis"]["title"]["text"] == "Patients still without response (%)"
    assert figs[1]["layout"]["xaxis2"]["title"]["text"] == "Days since first response"
    assert "synthetic demo data" in figs[0]["layout"]["title"]["subtitle"]["text"]
    ref = fit_kaplan_meier(derive_time_to_response(derive_patient_outcomes(demo, "pcl5")))
    row = at.dataframe[0].value.iloc[0]
    s = ref.summary.iloc[0]
    assert row["Patients"] == f"{s['n_patients']:,}"
    assert row["Median, days (95% CI)"].startswith(f"{s['median']:g} (")
    assert any("Synthetic demo data" in c.value for c in at.caption)


def test_filter_and_infusions_scale(demo):
    at = run_page(**{k.filter_key("site"): ["Clinic B"], k.DURABILITY_TIME: "infusions"})
    data = apply_filters(demo, {"site": ["Clinic B"]})
    ref = fit_kaplan_meier(
        derive_time_to_response(derive_patient_outcomes(data, "pcl5"), time="infusions"),
        time="infusions",
    )
    table = at.dataframe[0].value
    assert "Median, infusions (95% CI)" in table.columns
    assert table.iloc[0]["Patients"] == f"{ref.summary.iloc[0]['n_patients']:,}"
    assert figures(at)[0]["layout"]["xaxis2"]["title"]["text"] == "Infusions received"


def test_split_suppresses_small_groups():
    at = run_page(**{k.DURABILITY_BY: "prior_failed_treatments", k.DURABILITY_TIME: "infusions"})
    table = at.dataframe[0].value.set_index("Group")
    assert table.loc["6", "Patients"] == "<11"  # 10 patients with 6 failed treatments
    assert table.loc["5", "Patients"] == "hidden"  # else 6's size follows from the total
    assert table.loc["0", "Patients"] != "<11"
    names = curve_names(figures(at)[0])
    assert not any(n.startswith(("5 ", "6 ")) for n in names) and len(names) == 5
    assert any("Log-rank test across 5 groups" in c.value for c in at.caption)


def test_split_by_site_has_a_log_rank_test():
    at = run_page(**{k.DURABILITY_BY: "site", k.INSTRUMENT: "phq9"})
    assert at.title[0].value == "Durability · PHQ-9"
    assert len(curve_names(figures(at)[0])) == 3
    assert sum("Log-rank test across 3 groups" in c.value for c in at.caption) == 2


def test_no_matching_patients_says_so():
    at = run_page(
        **{
            k.filter_key("site"): ["Clinic A"],
            k.filter_key("route"): ["IM"],
            k.filter_key("age_band"): ["60+"],
            k.filter_key("sex"): ["Female"],
            k.filter_key("trauma_type"): ["Combat"],
        }
    )
    messages = [i.value for i in at.info]
    assert messages and ("No patients" in messages[0] or "Fewer than 11" in messages[0])


def test_a_shared_link_restores_the_split_and_time_scale():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params[k.DURABILITY_BY] = "site"
    at.query_params[k.DURABILITY_TIME] = "infusions"
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key=k.DURABILITY_BY).value == "site"
    assert "Median, infusions (95% CI)" in at.dataframe[0].value.columns
    assert len(curve_names(figures(at)[0])) == 3
