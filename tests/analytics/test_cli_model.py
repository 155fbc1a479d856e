"""``python -m analytics model``: stable JSON keys, the library's numbers, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analytics.cli import COMMANDS, build_parser, command, main
from analytics.commands.model import KEYS
from analytics.features import build_feature_matrix
from analytics.io import load_canonical
from analytics.models import ModelSpec, fit_response_model

DEMO = str(Path(__file__).resolve().parents[2] / "sample_data" / "demo_cohort.csv")
FEATURES = "family_history_aud,bmi,prior_failed_treatments,psychotherapy,substance_use_history"


def run_model(*args: str) -> dict:
    ns = build_parser().parse_args(["model", DEMO, *args, "--json"])
    return command("model").run(ns)


@pytest.fixture(scope="module")
def result() -> dict:
    return run_model("--instrument", "pcl5", "--features", FEATURES, "--repeats", "2")


def test_model_is_a_registered_subcommand():
    assert "model" in COMMANDS


def test_json_keys_are_stable(result):
    assert tuple(result) == KEYS
    assert set(result["importance"][0]) == {"feature", "mean", "sd"}
    assert set(result["odds_ratios"][0]) == {
        "term",
        "odds_ratio",
        "ci95_low",
        "ci95_high",
        "p_value",
    }
    json.dumps(result)  # serialisable: no NaN objects, no numpy types


def test_numbers_equal_the_library_for_the_same_seed(result):
    data = load_canonical(DEMO).data
    fm = build_feature_matrix(data, "pcl5", FEATURES.split(","))
    model = fit_response_model(fm, ModelSpec(n_repeats=2))
    m = model.metric()
    for key in ("auroc", "auroc_ci95_low", "auroc_ci95_high", "brier", "balanced_accuracy"):
        assert result[key] == pytest.approx(m[key], abs=1e-12)
    assert (result["n_patients"], result["n_events"]) == (fm.n_patients, fm.n_events)
    assert [i["feature"] for i in result["importance"]] == list(model.importance["feature"])
    terms = model.odds_ratios.table.set_index("term")
    for o in result["odds_ratios"]:
        assert o["odds_ratio"] == pytest.approx(terms.at[o["term"], "odds_ratio"], abs=1e-12)
    assert result["auroc_ci95_low"] > 0.5
    assert result["n_repeats"] == 2 and result["model"] == "logistic"


def test_text_output_and_filters(capsys):
    code = main(
        [
            "model",
            DEMO,
            "--instrument",
            "pcl5",
            "--features",
            "bmi,site",
            "--repeats",
            "1",
            "--where",
            "route=IV",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "AUROC" in out and "not a clinical decision tool" in out
    assert "Filters: {'route': ['IV']}" in out


def test_unknown_feature_and_refusal_exit_2_with_a_message(capsys):
    code = main(["model", DEMO, "--instrument", "pcl5", "--features", "bmi,nope", "--json"])
    assert code == 2
    assert "unknown feature 'nope'" in capsys.readouterr().err
    code = main(
        ["model", DEMO, "--instrument", "pcl5", "--features", "bmi", "--where", "age_band=60+",
         "--where", "site=Clinic C", "--json"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "at least 40" in err or "in each group" in err
    code = main(["model", DEMO, "--instrument", "pcl5", "--features", "pct_change"])
    assert code == 2 and "computed from the outcome" in capsys.readouterr().err
