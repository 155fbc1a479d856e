"""AppTest: the Report page builds the report of the view and offers it as HTML and PDF,
with every table as CSV/XLSX and the patient outcomes table; the "Reproduce" command of
the Overview (and the Report page), run in a subprocess, prints the page's numbers.

Choices are injected before the first run (see tests/ui/test_pages.py for why).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.test_pages import APP, ROOT, as_pct, as_signed, metrics
from ui import state as k

REPORT = "pages/report.py"


def run_page(page: str | None = None, **state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def commands(at: AppTest) -> list[str]:
    return [c.value for c in at.code if c.value.startswith("python -m analytics")]


def run_command(text: str, *extra: str) -> dict:
    argv = shlex.split(text)
    assert argv[:3] == ["python", "-m", "analytics"]
    done = subprocess.run(
        [sys.executable, *argv[1:], *extra, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_report_page_builds_and_offers_every_download():
    at = run_page(REPORT, **{k.REPORT_BUILT: "build-1", k.REPORT_BY: "site"})
    assert at.title[0].value == "Report · PCL-5"
    assert "Report ready: 5 sections" in at.success[0].value
    labels = [b.label for b in at.get("download_button")]
    assert labels[:2] == ["Download HTML", "Download PDF"] or labels[0] == "Download HTML"
    assert "Table 1. Patient characteristics · CSV" in labels
    assert "Table 1. Patient characteristics · XLSX" in labels
    assert "Patient outcomes table · CSV" in labels
    (cmd,) = commands(at)
    assert cmd == (
        "python -m analytics report sample_data/demo_cohort.csv --instrument pcl5 "
        "--by site --out report.html"
    )


def test_report_page_waits_for_the_button():
    at = run_page(REPORT)
    assert not at.success
    assert [b.label for b in at.button] == ["Build report"]
    assert at.multiselect(key=k.REPORT_SECTIONS).value == [
        "cohort",
        "outcomes",
        "trajectories",
        "responders",
        "durability",
    ]


def test_patient_level_exports_follow_the_deployment_switch(monkeypatch):
    monkeypatch.setenv("OUTCOMES_PATIENT_LEVEL", "off")
    at = run_page(REPORT, **{k.REPORT_BUILT: "build-2", k.REPORT_SECTIONS: ["outcomes"]})
    labels = [b.label for b in at.get("download_button")]
    assert "Patient outcomes table · CSV" not in labels
    assert any("switched off" in c.value for c in at.caption)


def test_overview_reproduce_command_prints_the_pages_numbers():
    state = {
        k.INSTRUMENT: "phq9",
        k.filter_key("site"): ["Clinic A"],
        k.ENDPOINT_KIND: "infusions",
        f"{k.RESPONSE_PCT}__phq9": 40.0,
    }
    at = run_page(**state)
    assert at.title[0].value == "Overview · PHQ-9"
    (cmd,) = commands(at)
    assert cmd == (
        "python -m analytics summary sample_data/demo_cohort.csv --instrument phq9 "
        "--endpoint infusions:6 --response-pct 40 --where 'site=Clinic A'"
    )
    ref = run_command(cmd)
    m = metrics(at)
    assert m["Patients"] == f"{ref['n_patients_total']:,}"
    assert m["Baseline mean"] == f"{ref['baseline_mean']:,.1f}"
    assert m["Mean change"] == as_signed(ref["mean_change"])
    assert m["Responders"] == as_pct(ref["responders"]["pct"])
    assert m["Remitters"] == as_pct(ref["remitters"]["pct"])
    labels = [b.label for b in at.get("download_button")]
    assert {"Headline outcomes · CSV", "Headline outcomes · XLSX", "Trajectory · CSV"} <= set(
        labels
    )
    assert "Patient outcomes table · CSV" in labels


@pytest.mark.parametrize(
    ("page", "subcommand"),
    [("pages/durability.py", "report"), ("pages/statistics.py", "mixed")],
)
def test_other_pages_show_their_command(page, subcommand):
    at = run_page(page, **{k.filter_key("sex"): ["Female"]})
    (cmd,) = commands(at)
    assert cmd.startswith(f"python -m analytics {subcommand} sample_data/demo_cohort.csv ")
    assert "--where sex=Female" in cmd


def test_responders_reproduce_command_prints_the_pages_rates():
    from tests.ui.test_responders_page import figures, values

    at = run_page("pages/responders.py", **{k.RESP_BY: "sex", k.filter_key("site"): ["Clinic A"]})
    (cmd,) = commands(at)
    assert cmd == (
        "python -m analytics summary sample_data/demo_cohort.csv --instrument pcl5 "
        "--where 'site=Clinic A' --by sex"
    )
    ref = run_command(cmd)
    forest = figures(at)["response and remission rates"]
    response, remission = (t for t in forest["data"] if t.get("mode") == "markers")
    want = [ref["responders"]["pct"], *(g["responders"]["pct"] for g in ref["groups"])]
    assert values(response["x"]) == pytest.approx(want)
    want = [ref["remitters"]["pct"], *(g["remitters"]["pct"] for g in ref["groups"])]
    assert values(remission["x"]) == pytest.approx(want)
    labels = [b.label for b in at.get("download_button")]
    assert "Response and remission rates · CSV" in labels
    assert "Reliable change · PNG" in labels or any("PNG needs" in c.value for c in at.caption)


def test_trajectories_page_offers_its_report_command():
    at = run_page("pages/trajectories.py")
    (cmd,) = commands(at)
    assert cmd == (
        "python -m analytics report sample_data/demo_cohort.csv --instrument pcl5 "
        "--sections trajectories --out trajectories.html"
    )


def test_prediction_reproduce_command_prints_the_models_numbers():
    state = {
        k.PRED_FIT: True,
        k.PRED_FEATURES: ["baseline_pcl5", "age_band"],
        k.PRED_REPEATS: 1,
        k.PRED_MODEL: "logistic",
    }
    at = run_page("pages/prediction.py", **state)
    (cmd,) = commands(at)
    assert cmd == (
        "python -m analytics model sample_data/demo_cohort.csv --instrument pcl5 "
        "--features baseline_pcl5,age_band --model logistic --repeats 1"
    )
    ref = run_command(cmd)
    assert metrics(at)["AUROC"] == f"{ref['auroc']:.2f}"
    labels = [b.label for b in at.get("download_button")]
    assert "Validation · CSV" in labels


def test_a_model_fitted_in_the_session_is_offered_as_a_section():
    state = {
        k.PRED_FIT: True,
        k.PRED_FEATURES: ["baseline_pcl5", "age_band"],
        k.PRED_REPEATS: 1,
        k.REPORT_SECTIONS: ["outcomes", "model"],
        k.REPORT_BUILT: "build-model",
    }
    at = run_page(REPORT, **state)
    assert "Response model" in at.multiselect(key=k.REPORT_SECTIONS).options
    assert "Report ready: 2 sections" in at.success[0].value
    (cmd,) = commands(at)
    assert cmd.endswith(
        "--features baseline_pcl5,age_band --model logistic --repeats 1 "
        "--sections outcomes,model --out report.html"
    )
