"""Tests for the synthetic demo cohort generator and the committed demo CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sample_data.generate_demo import (
    COLUMNS,
    DEFAULT_N_PATIENTS,
    SCORE_MAX,
    generate_cohort,
    main,
)

CSV_PATH = Path(__file__).resolve().parents[1] / "sample_data" / "demo_cohort.csv"
KEY = ["patient_id", "instrument", "infusions_received", "day"]
PATIENT_COVARIATES = [
    "site",
    "age_band",
    "sex",
    "veteran",
    "trauma_type",
    "comorbid_mdd",
    "prior_failed_treatments",
    "psychotherapy",
    "bmi",
    "substance_use_history",
    "family_history_aud",
    "route",
]


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    return pd.read_csv(CSV_PATH)


@pytest.fixture(scope="module")
def generated() -> pd.DataFrame:
    return generate_cohort()


def _percent_reduction(frame: pd.DataFrame, instrument: str, at: pd.Series) -> pd.Series:
    """Fractional reduction from the baseline (0 infusions) to the rows selected by ``at``."""
    rows = frame[frame["instrument"] == instrument]
    base = rows[rows["infusions_received"] == 0].set_index("patient_id")["score"]
    later = rows[at.loc[rows.index]].set_index("patient_id")["score"]
    base = base.reindex(later.index)
    ok = base.notna() & (base > 0)
    return (base[ok] - later[ok]) / base[ok]


def _post_induction(frame: pd.DataFrame) -> pd.Series:
    # The post-induction visit (PCL-5, PHQ-9, GAD-7) is 1-3 days after infusion 6, at most
    # day 21; the first follow-up is on day 38 or later. (CADSS rows with 6 infusions
    # received belong to a booster session.)
    return (
        (frame["instrument"] != "cadss") & (frame["infusions_received"] == 6) & (frame["day"] < 30)
    )


def test_deterministic_for_a_seed_and_different_for_another():
    first = generate_cohort(300, seed=7)
    second = generate_cohort(300, seed=7)
    pd.testing.assert_frame_equal(first, second)
    other = generate_cohort(300, seed=8)
    assert not first.equals(other)
    assert not first["score"].reset_index(drop=True).equals(other["score"].reset_index(drop=True))


def test_columns_and_ids(generated):
    assert list(generated.columns) == COLUMNS
    ids = generated["patient_id"].drop_duplicates()
    assert ids.str.fullmatch(r"DEMO-\d{4}").all()
    assert ids.tolist() == [f"DEMO-{i:04d}" for i in range(1, DEFAULT_N_PATIENTS + 1)]
    assert not any("date" in c.lower() or c.lower() == "age" for c in generated.columns)
    assert set(generated["instrument"]) == {"pcl5", "phq9", "gad7", "cadss"}


def test_scores_are_integers_within_range(generated):
    assert pd.api.types.is_integer_dtype(generated["score"])
    assert pd.api.types.is_integer_dtype(generated["infusions_received"])
    assert pd.api.types.is_integer_dtype(generated["day"])
    for instrument, hi in SCORE_MAX.items():
        scores = generated.loc[generated["instrument"] == instrument, "score"]
        assert len(scores) > 0
        assert scores.between(0, hi).all(), instrument


def test_committed_csv_matches_generator(demo, generated):
    left = demo.sort_values(KEY).reset_index(drop=True)
    right = generated.sort_values(KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right, check_dtype=False)


def test_cohort_shape(demo):
    assert demo["patient_id"].nunique() >= 600
    assert sorted(demo["site"].unique()) == ["Clinic A", "Clinic B", "Clinic C"]
    assert demo.drop_duplicates("patient_id")["site"].value_counts().nunique() == 3
    route = demo.drop_duplicates("patient_id")["route"].value_counts(normalize=True)
    assert 0.75 <= route["IV"] <= 0.95


def test_patient_covariates_constant_within_patient(demo):
    per_patient = demo.groupby("patient_id")[PATIENT_COVARIATES].nunique(dropna=False)
    assert (per_patient == 1).all().all()


def test_no_duplicate_time_points(demo):
    assert not demo.duplicated(KEY).any()
    assert not demo.duplicated(["patient_id", "instrument", "day"]).any()


def test_schedule(demo):
    # Pre-treatment rows never have a positive day; baseline falls in -7..0.
    baseline = demo[demo["infusions_received"] == 0]
    assert baseline["day"].between(-7, 0).all()
    # Days increase with infusions received within a patient and instrument.
    ordered = demo.sort_values(["patient_id", "instrument", "day"])
    steps = ordered.groupby(["patient_id", "instrument"])["infusions_received"].diff()
    assert (steps.dropna() >= 0).all()
    # Follow-ups around day 45 and day 100, some after booster infusions.
    assert demo["day"].max() <= 107
    assert (demo["infusions_received"] >= 7).any()
    # Dose on every CADSS (infusion session) row, titrated 0.5 -> ~1.0 mg/kg.
    cadss = demo[demo["instrument"] == "cadss"]
    assert cadss["dose_mg_per_kg"].notna().all()
    assert cadss["dose_mg_per_kg"].between(0.5, 1.1).all()
    first = cadss.loc[cadss["infusions_received"] == 0, "dose_mg_per_kg"]
    assert (first == 0.5).all()
    # No dose on screening baselines before day 0, nor at the post-induction visit.
    screening = demo[(demo["instrument"] != "cadss") & (demo["day"] < 0)]
    assert screening["dose_mg_per_kg"].isna().all()
    assert demo.loc[_post_induction(demo), "dose_mg_per_kg"].isna().all()


def test_pcl5_calibration(demo):
    pcl5 = demo[demo["instrument"] == "pcl5"]
    baseline = pcl5.loc[pcl5["infusions_received"] == 0, "score"]
    assert 45 <= baseline.mean() <= 52
    assert 9 <= baseline.std() <= 15
    post = pcl5.loc[_post_induction(pcl5), "score"]
    assert 25 <= post.mean() <= 32
    after_six = _percent_reduction(demo, "pcl5", _post_induction(demo))
    assert 0.55 <= (after_six >= 0.30).mean() <= 0.75
    assert 0.03 <= (after_six < 0).mean() <= 0.10  # some deteriorate
    after_one = _percent_reduction(demo, "pcl5", demo["infusions_received"] == 1)
    assert 0.18 <= (after_one >= 0.30).mean() <= 0.38


def test_depression_and_anxiety_calibration(demo):
    base = demo[demo["infusions_received"] == 0]
    assert 15 <= base.loc[base["instrument"] == "phq9", "score"].mean() <= 19
    assert 12 <= base.loc[base["instrument"] == "gad7", "score"].mean() <= 16
    phq9 = _percent_reduction(demo, "phq9", _post_induction(demo))
    assert 0.40 <= (phq9 >= 0.50).mean() <= 0.60
    wide = base.pivot_table(index="patient_id", columns="instrument", values="score")
    assert wide["pcl5"].corr(wide["phq9"]) > 0.3
    assert wide["pcl5"].corr(wide["gad7"]) > 0.3


def test_covariates_carry_signal(demo):
    responded = _percent_reduction(demo, "pcl5", _post_induction(demo)) >= 0.30
    covariates = demo.drop_duplicates("patient_id").set_index("patient_id")
    covariates = covariates.loc[responded.index]
    by_fh = responded.groupby(covariates["family_history_aud"]).mean()
    assert by_fh["Yes"] > by_fh["No"] + 0.05
    few = responded[covariates["prior_failed_treatments"] <= 1].mean()
    many = responded[covariates["prior_failed_treatments"] >= 4].mean()
    assert few > many + 0.05
    by_sud = responded.groupby(covariates["substance_use_history"]).mean()
    assert by_sud["No"] > by_sud["Yes"]


def test_dropout_and_missing_assessments(demo):
    pcl5 = demo[demo["instrument"] == "pcl5"]
    n_patients = demo["patient_id"].nunique()
    completers = demo.loc[demo["infusions_received"] >= 6, "patient_id"].nunique()
    assert 0.03 <= 1 - completers / n_patients <= 0.25
    with_baseline = pcl5.loc[pcl5["infusions_received"] == 0, "patient_id"].nunique()
    assert 0.95 <= with_baseline / n_patients < 1.0


def test_scales_roughly_linearly():
    small = generate_cohort(1_000, seed=3)
    large = generate_cohort(20_000, seed=3)
    assert large["patient_id"].nunique() == 20_000
    assert large["patient_id"].iloc[0] == "DEMO-00001"
    ratio = len(large) / len(small)
    assert 17 <= ratio <= 23
    assert not large.duplicated(KEY).any()


def test_cli_writes_csv_and_parquet(tmp_path, capsys):
    out = tmp_path / "cohort.csv"
    assert main(["--patients", "40", "--seed", "5", "--out", str(out)]) == 0
    written = pd.read_csv(out)
    expected = generate_cohort(40, seed=5)
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)
    assert "40 patients" in capsys.readouterr().out
    pytest.importorskip("pyarrow")
    parquet = tmp_path / "cohort.parquet"
    assert main(["--patients", "40", "--seed", "5", "--out", str(parquet)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), expected)


def test_rejects_empty_cohort():
    with pytest.raises(ValueError):
        generate_cohort(0)
    assert np.isfinite(generate_cohort(1)["score"]).all()
