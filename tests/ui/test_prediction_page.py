"""AppTest for the Prediction page: state is injected before the first run (AppTest drops
the sidebar on later runs of an ``st.navigation`` app), with ``prediction_fit_requested`` set
so that the fit happens on that run. Numbers are compared with the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.cli import build_parser, command
from analytics.features import build_feature_matrix
from analytics.io import load_canonical
from analytics.models import ModelSpec, fit_response_model, predict_what_if, threshold_summary
from ui import state as k

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
DEMO = str(ROOT / "sample_data" / "demo_cohort.csv")
FEATURES = ["family_history_aud", "bmi", "prior_failed_treatments", "psychotherapy", "site"]
TIMEOUT = 180


def prediction_page(**state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("pages/prediction.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def fitted(**extra: object) -> AppTest:
    state = {k.PRED_FIT: True, k.PRED_FEATURES: FEATURES, k.PRED_REPEATS: 2, **extra}
    return prediction_page(**state)


def metrics(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


@pytest.fixture(scope="module")
def cli() -> dict:
    ns = build_parser().parse_args(
        ["model", DEMO, "--instrument", "pcl5", "--features", ",".join(FEATURES),
         "--repeats", "2", "--json"]
    )  # fmt: skip
    return command("model").run(ns)


def test_before_fit_the_page_asks_for_a_fit_and_shows_no_model():
    at = prediction_page()
    assert at.title[0].value.startswith("Who responds")
    assert any("Fit model" in i.value for i in at.info)
    assert not at.metric
    assert any("not a clinical decision tool" in c.value for c in at.caption)


def test_fitted_page_shows_validation_equal_to_the_command_line(cli):
    at = fitted(**{k.PRED_THRESHOLD: 60})
    m = metrics(at)
    assert m["AUROC"] == (
        f"{cli['auroc']:.2f}",
        f"95% CI {cli['auroc_ci95_low']:.2f}–{cli['auroc_ci95_high']:.2f}",
    )
    assert m["Brier score"][0] == f"{cli['brier']:.3f}"
    assert m["Balanced accuracy"][0] == f"{cli['balanced_accuracy']:.2f}"
    d = cli["delta_auroc_vs_baseline_only"]["estimate"]
    assert m["Gain over baseline severity"][0] == f"{d:+.2f}"
    charts = at.get("plotly_chart")
    assert len(charts) >= 5  # ROC, calibration, distribution, importance, odds ratios
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"Model card (Markdown)", "Model card (JSON)"} <= set(labels)
    # the comparators are always shown beside the model
    table = at.dataframe[0].value
    assert list(table["Model"]) == [
        "Regularised logistic regression (L2)",
        "Baseline severity only (logistic)",
        "Base rate (no features)",
    ]
    # the threshold table equals the library at the chosen threshold
    data = load_canonical(DEMO).data
    model = fit_response_model(build_feature_matrix(data, "pcl5", FEATURES), ModelSpec(n_repeats=2))
    ref = threshold_summary(model, 0.6).set_index("statistic")
    rates = at.dataframe[2].value.set_index("statistic")
    assert rates.at["Sensitivity", "value"] == f"{ref.at['sensitivity', 'value'] * 100:.0f}%"
    # the what-if starts at the cohort's medians and modes, beside the note
    what_if = predict_what_if(model, model.profile_defaults)
    assert m["Predicted probability of response"][0] == f"{what_if.probability:.0%}"
    assert any("not a clinical decision tool" in i.value for i in at.info)


def test_what_if_answers_for_the_profile_in_the_form():
    at = fitted(**{f"{k.PRED_WHAT_IF_PREFIX}family_history_aud": "Yes"})
    data = load_canonical(DEMO).data
    model = fit_response_model(build_feature_matrix(data, "pcl5", FEATURES), ModelSpec(n_repeats=2))
    profile = {**model.profile_defaults, "family_history_aud": "Yes"}
    expected = predict_what_if(model, profile)
    assert metrics(at)["Predicted probability of response"][0] == f"{expected.probability:.0%}"


def test_gbm_with_on_treatment_features_shows_partial_dependence():
    at = fitted(
        **{
            k.PRED_MODEL: "gbm",
            k.PRED_ON_TREATMENT: True,
            k.PRED_FEATURES: ["bmi", "prior_failed_treatments", "improvement_pcl5_after_1"],
        }
    )
    assert "AUROC" in metrics(at)
    keys = [c.proto.id for c in at.get("plotly_chart")]
    assert len(keys) >= 5  # ROC, calibration, distribution, importance, partial dependence
    assert any("not used for" in c.value for c in at.caption)  # early values at the endpoint


def test_on_treatment_features_are_dropped_when_not_offered():
    at = fitted(**{k.PRED_FEATURES: ["bmi", "improvement_pcl5_after_1"]})
    assert at.session_state[k.PRED_FEATURES] == ["bmi"]


def test_too_few_patients_refuses_with_an_explanation():
    at = fitted(**{k.filter_key("site"): ["Clinic C"], k.filter_key("age_band"): ["60+"]})
    assert any("No model fitted" in e.value for e in at.error)
    assert not at.get("plotly_chart")
