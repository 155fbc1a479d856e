"""``python -m analytics mixed``: pinned JSON keys, the library's numbers, exit code 2 on bad
input with the message on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analytics.cli import COMMANDS, main
from analytics.filters import apply_filters
from analytics.io import load_canonical
from analytics.mixed import fit_mixed_model
from analytics.outcomes import derive_patient_outcomes

from .test_mixed import cohort

ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    "instrument",
    "file",
    "definition",
    "filters",
    "time",
    "method",
    "random_slope",
    "covariates",
    "reference_levels",
    "coefficients",
    "variance_components",
    "log_likelihood",
    "aic",
    "bic",
    "n_patients",
    "n_observations",
    "converged",
    "warnings",
}
COEFFICIENT_KEYS = ["term", "estimate", "se", "ci95_low", "ci95_high", "p_value"]


@pytest.fixture(scope="module")
def csv(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("mixed") / "cohort.csv"
    cohort(n=40, seed=5).to_csv(path, index=False)
    return str(path)


def run_json(capsys, *args: str) -> dict:
    assert main(["mixed", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_is_a_registered_command():
    assert "mixed" in COMMANDS


def test_json_keys_and_numbers_equal_the_library(csv, capsys):
    out = run_json(capsys, csv, "--instrument", "pcl5", "--covariates", "site,bmi")
    assert set(out) == KEYS
    assert out["instrument"] == "pcl5" and out["method"] == "ML" and out["time"] == "day"
    assert out["filters"] == {} and out["definition"]["endpoint"] == "last"
    assert all(list(c) == COEFFICIENT_KEYS for c in out["coefficients"])
    terms = [c["term"] for c in out["coefficients"]]
    assert terms[:3] == ["intercept", "day", "baseline"] and "bmi" in terms
    assert set(out["variance_components"]) == {"intercept_variance", "residual_variance"}
    data = load_canonical(csv).data
    ref = fit_mixed_model(
        data, derive_patient_outcomes(data, "pcl5"), covariates=["site", "bmi"], reml=False
    )
    for rec, (_, row) in zip(out["coefficients"], ref.coefficients.iterrows(), strict=True):
        assert rec["term"] == row["term"]
        assert rec["estimate"] == pytest.approx(row["estimate"], abs=1e-9)
        assert rec["se"] == pytest.approx(row["se"], abs=1e-9)
    assert out["log_likelihood"] == pytest.approx(ref.log_likelihood)
    assert out["aic"] == pytest.approx(ref.aic)
    assert (out["n_patients"], out["n_observations"]) == (40, 200)


def test_reml_random_slope_infusions_and_a_filter(csv, capsys):
    out = run_json(
        capsys,
        csv,
        "--instrument",
        "pcl5",
        "--time",
        "infusions",
        "--reml",
        "--random-slope",
        "--where",
        "sex=Female",
    )
    assert out["method"] == "REML" and out["aic"] is None and out["bic"] is None
    assert out["random_slope"] and out["filters"] == {"sex": ["Female"]}
    assert set(out["variance_components"]) == {
        "intercept_variance",
        "slope_variance",
        "intercept_slope_covariance",
        "residual_variance",
    }
    assert out["coefficients"][1]["term"] == "infusions_received"
    data = apply_filters(load_canonical(csv).data, {"sex": ["Female"]})
    assert out["n_patients"] == data["patient_id"].nunique() < 40


def test_text_output(csv, capsys):
    assert main(["mixed", csv, "--instrument", "pcl5", "--covariates", "site"]) == 0
    text = capsys.readouterr().out
    assert "Linear mixed model" in text and "baseline" in text and "site=" in text
    assert "Reference levels: site=" in text and "Log-likelihood" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--covariates", "nope"], "unknown covariate 'nope'"),
        (["--where", "patient_group=x"], "cannot filter on 'patient_group'"),
        (["--where", "site=nowhere"], "too few patients"),
        (["--time", "weeks"], None),
    ],
)
def test_bad_input_exits_2_with_a_message(csv, capsys, args, message):
    if message is None:
        with pytest.raises(SystemExit) as exc:
            main(["mixed", csv, "--instrument", "pcl5", *args])
        assert exc.value.code == 2
        return
    assert main(["mixed", csv, "--instrument", "pcl5", *args, "--json"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert captured.out == ""


def test_runs_as_a_module(csv):
    proc = subprocess.run(
        [sys.executable, "-m", "analytics", "mixed", csv, "--instrument", "pcl5", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["coefficients"][2]["term"] == "baseline"
