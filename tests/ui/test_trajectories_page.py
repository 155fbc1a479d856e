"""AppTest: the Trajectories page on the demo data with choices injected before the first
run (see tests/ui/test_pages.py for why), its charts checked against the library."""

from __future__ import annotations

import base64
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics.definitions import OutcomeDefinition
from analytics.io import load_canonical
from analytics.outcomes import derive_patient_outcomes
from analytics.trajectory_stats import patient_points, summarise_time_course
from ui import state as k
from ui.datasets import DEMO_PATH

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGE = "pages/trajectories.py"


def run_page(**state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def values(v: object) -> np.ndarray:
    """A plotly array from the figure JSON (plotly encodes numpy arrays as base64 bdata)."""
    if isinstance(v, dict) and "bdata" in v:
        out = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        return out.reshape(v["shape"]) if "shape" in v else out
    return np.array([np.nan if x is None else x for x in v], dtype=float)


def demo() -> pd.DataFrame:
    return load_canonical(DEMO_PATH).data


def small_filter(low: int = 3, high: int = 10) -> dict[str, str]:
    """Levels of covariates that between ``low`` and ``high`` demo patients share."""
    patients = pd.read_csv(DEMO_PATH).drop_duplicates("patient_id")
    for combo in itertools.combinations(["site", "age_band", "trauma_type", "sex"], 3):
        sizes = patients.groupby(list(combo)).size()
        hits = sizes[(sizes >= low) & (sizes <= high)]
        if len(hits):
            return dict(zip(combo, hits.index[0], strict=True))
    raise AssertionError("no small group in the demo data")


def test_defaults_show_mean_by_infusions_with_n_from_the_library():
    at = run_page()
    assert at.title[0].value == "Trajectories · PCL-5"
    main, spaghetti = figures(at)
    assert main["layout"]["title"]["text"] == "PCL-5: mean score by infusions received"
    data = demo()
    outcomes = derive_patient_outcomes(data, "pcl5")
    n_base = int(outcomes.table["baseline_score"].notna().sum())
    assert f"N = {n_base:,} patients with a baseline" in main["layout"]["title"]["subtitle"]["text"]
    assert "Response: >= 30% reduction" in main["layout"]["title"]["subtitle"]["text"]
    assert "synthetic demo data" in main["layout"]["title"]["subtitle"]["text"]
    ref = summarise_time_course(patient_points(data, outcomes))
    line = next(t for t in main["data"] if t.get("mode") == "lines+markers")
    shown = dict(zip(values(line["x"]), values(line["y"]), strict=True))
    for row in ref[ref["n"] >= 11].itertuples():
        assert shown[row.x] == pytest.approx(row.centre)
    assert main["layout"]["xaxis"]["title"]["text"] == "Infusions received (0 = baseline)"
    assert "n = " in main["layout"]["xaxis"]["ticktext"][0]
    assert "Random sample of 200" in spaghetti["layout"]["title"]["subtitle"]["text"]
    assert {t["name"] for t in spaghetti["data"]} <= {
        "Responder",
        "Non-responder",
        "No response status",
    }


def test_days_median_split_and_percent_change():
    at = run_page(
        **{
            k.TRAJ_TIME: "day",
            k.TRAJ_STATISTIC: "median",
            k.TRAJ_BY: "site",
            k.TRAJ_VALUE: "pct_change",
        }
    )
    main = figures(at)[0]
    assert main["layout"]["title"]["text"] == (
        "PCL-5: median % change from baseline by days since first infusion"
    )
    names = {t["name"] for t in main["data"] if t.get("mode") == "lines+markers"}
    assert names == {"Clinic A", "Clinic B", "Clinic C"}
    assert main["layout"]["yaxis"]["ticksuffix"] == "%"
    assert "Wk 1" in main["layout"]["xaxis"]["ticktext"]
    table = at.dataframe[0].value
    assert set(table["Group"]) == {"Clinic A", "Clinic B", "Clinic C"}


def test_percent_of_maximum_compares_instruments():
    at = run_page(
        **{k.TRAJ_VALUE: "pct_of_max", k.TRAJ_COMPARE: ["phq9", "gad7"], k.TRAJ_BY: "site"}
    )
    main = figures(at)[0]
    assert main["layout"]["title"]["text"].startswith("PCL-5, PHQ-9 and GAD-7: mean % of scale")
    names = {t["name"] for t in main["data"] if t.get("mode") == "lines+markers"}
    assert names == {"PCL-5", "PHQ-9", "GAD-7"}  # the split gives way to the instruments
    assert main["layout"]["yaxis"]["range"] == [0, 100]
    assert any("split is off" in c.value for c in at.caption)


def test_severity_bands_are_drawn_for_phq9_scores():
    at = run_page(**{k.INSTRUMENT: "phq9"})
    main = figures(at)[0]
    labels = {a["text"] for a in main["layout"]["annotations"]}
    assert {"None-minimal", "Mild", "Moderate", "Moderately severe", "Severe"} <= labels
    assert len(main["layout"]["shapes"]) == 5
    off = figures(run_page(**{k.INSTRUMENT: "phq9", k.TRAJ_BANDS: False}))[0]
    assert not off["layout"].get("shapes")


def test_a_group_below_the_threshold_is_suppressed():
    chosen = small_filter()
    at = run_page(**{k.filter_key(c): [v] for c, v in chosen.items()})
    assert any("not shown for fewer than 11" in i.value for i in at.info)
    main = figures(at)[0]
    line = next(t for t in main["data"] if t.get("mode") == "lines+markers")
    assert np.isnan(values(line["y"])).all()  # every point hidden
    assert "N <11" in main["layout"]["title"]["subtitle"]["text"]
    assert set(at.dataframe[0].value["Patients"]) == {"<11"}
    assert len(figures(at)) == 1


def test_empty_filter_says_so():
    from tests.ui.test_pages import empty_filter_combination

    at = run_page(**{k.filter_key(c): [v] for c, v in empty_filter_combination().items()})
    assert any("No patients" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_day_axis_without_days_says_so(monkeypatch):
    """A dataset whose rows carry infusion counts but no days."""
    from ui import cache_responders as cr

    data = demo().assign(day=np.nan)
    monkeypatch.setattr(cr.cache, "filtered", lambda dataset_id, filters: data)
    monkeypatch.setattr(  # uncached, so no other test sees these outcomes
        cr.cache, "outcomes", lambda _id, inst, d, _f: derive_patient_outcomes(data, inst, d)
    )
    pts, n = cr.spaghetti.__wrapped__("demo", "pcl5", OutcomeDefinition(), (), time="day")
    assert pts.empty and n > 0
    summary = cr.time_course.__wrapped__("demo", ("pcl5",), (OutcomeDefinition(),), (), time="day")
    assert summary.empty
