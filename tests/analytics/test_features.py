"""The feature matrix: known answers on a hand-built cohort, and no leakage from the outcome."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.definitions import OutcomeDefinition
from analytics.errors import DataValidationError
from analytics.features import (
    CATALOGUE_COLUMNS,
    ON_TREATMENT,
    OUTCOME_DERIVED,
    PRE_TREATMENT,
    build_feature_matrix,
    default_features,
    feature_catalogue,
    fingerprint,
)
from analytics.io import load_canonical
from analytics.models import check_guards
from analytics.outcomes import derive_patient_outcomes

DEMO_PATH = Path(__file__).resolve().parents[2] / "sample_data" / "demo_cohort.csv"

# patient, instrument, score, infusions received, day
ROWS = [
    ("P1", "pcl5", 50, 0, -2),
    ("P1", "pcl5", 40, 1, 2),
    ("P1", "pcl5", 30, 2, 4),
    ("P1", "pcl5", 20, 6, 20),
    ("P1", "phq9", 20, 0, -2),
    ("P1", "cadss", 20, 0, 0),
    ("P2", "pcl5", 40, 0, -1),
    ("P2", "pcl5", 36, 1, 3),
    ("P2", "pcl5", 32, 2, 5),  # P2's endpoint under "last": after 2 infusions
    ("P2", "phq9", 10, 0, -1),
    ("P2", "cadss", 10, 0, 0),
    ("P3", "pcl5", 60, 0, 0),
    ("P3", "pcl5", 30, 1, 2),  # P3 stopped after 1 infusion: this is the endpoint
    ("P3", "cadss", 15, 0, 0),
]
COVARIATES = {"P1": ("Clinic A", 30.0), "P2": ("Clinic B", 25.0), "P3": ("Clinic A", 35.0)}


def canonical(rows=ROWS, covariates=COVARIATES) -> pd.DataFrame:
    df = pd.DataFrame(
        rows, columns=["patient_id", "instrument", "score", "infusions_received", "day"]
    )
    df["patient_id"] = df["patient_id"].astype("string")
    df["instrument"] = df["instrument"].astype("string")
    df["score"] = df["score"].astype("float64")
    df["infusions_received"] = df["infusions_received"].astype("Int64")
    df["day"] = df["day"].astype("float64")
    df["site"] = df["patient_id"].map({k: v[0] for k, v in covariates.items()}).astype(object)
    df["bmi"] = df["patient_id"].map({k: v[1] for k, v in covariates.items()}).astype("float64")
    return df


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    result = load_canonical(DEMO_PATH)
    result.raise_for_errors()
    return result.data


def test_catalogue_lists_covariates_baselines_and_labelled_on_treatment_features():
    cat = feature_catalogue(canonical(), "pcl5")
    assert list(cat.columns) == list(CATALOGUE_COLUMNS)
    kinds = dict(zip(cat["feature"], cat["kind"], strict=True))
    for f in ("site", "bmi", "baseline_pcl5", "baseline_phq9"):
        assert kinds[f] == PRE_TREATMENT
    for f in (
        "improvement_pcl5_after_1",
        "improvement_pcl5_after_2",
        "improvement_phq9_after_1",
        "cadss_first_session",
    ):
        assert kinds[f] == ON_TREATMENT
    assert "baseline_cadss" not in kinds  # a session measure has no baseline
    # pre-treatment first, then on-treatment
    assert list(cat["kind"]) == sorted(cat["kind"], key=lambda k: k != PRE_TREATMENT)
    row = cat.set_index("feature").loc["site"]
    assert (row["dtype"], row["reference"], row["n_levels"]) == ("categorical", "Clinic A", 2)
    assert cat.set_index("feature").at["bmi", "dtype"] == "numeric"
    assert default_features(cat) == ["site", "bmi", "baseline_pcl5", "baseline_phq9"]


def test_known_values_and_on_treatment_values_at_or_after_the_endpoint_are_not_used():
    data = canonical()
    before = data.copy()
    fm = build_feature_matrix(
        data,
        "pcl5",
        [
            "bmi",
            "site",
            "baseline_pcl5",
            "baseline_phq9",
            "improvement_pcl5_after_1",
            "improvement_pcl5_after_2",
            "cadss_first_session",
        ],
    )
    pd.testing.assert_frame_equal(data, before)  # input not modified
    X = fm.X
    assert list(X.index) == ["P1", "P2", "P3"]
    assert list(fm.y) == [1, 0, 1]  # 60% and 50% reductions respond; 20% does not
    assert fm.n_patients == 3 and fm.n_events == 2
    np.testing.assert_allclose(X["baseline_pcl5"], [50, 40, 60])
    np.testing.assert_allclose(X["baseline_phq9"], [20, 10, np.nan])
    np.testing.assert_allclose(X["cadss_first_session"], [20, 10, 15])
    # P3's assessment after 1 infusion is its endpoint; P2's after 2 is its endpoint
    np.testing.assert_allclose(X["improvement_pcl5_after_1"], [20, 10, np.nan])
    np.testing.assert_allclose(X["improvement_pcl5_after_2"], [40, np.nan, np.nan])
    assert list(X["site"]) == ["Clinic A", "Clinic B", "Clinic A"]
    assert any("after 1 infusion: not used for 1 patient" in n for n in fm.notes)
    assert any("after 2 infusions: not used for 1 patient" in n for n in fm.notes)
    np.testing.assert_allclose(fm.baseline, [50, 40, 60])


def test_target_is_the_responder_flag_under_the_definition_in_force(demo):
    definition = OutcomeDefinition(endpoint="infusions:6", response_pct=50)
    fm = build_feature_matrix(demo, "phq9", ["bmi"], definition)
    table = derive_patient_outcomes(demo, "phq9", definition).table
    expected = table[table["analysed"] & table["responder"].notna()].set_index("patient_id")
    assert list(fm.y.index) == list(expected.index)
    assert (fm.y.to_numpy() == expected["responder"].astype(int).to_numpy()).all()
    assert fm.n_patients_total == len(table)
    assert any("50% reduction" in line for line in fm.definition_text)


def test_no_feature_computed_from_the_outcome_is_available(demo):
    cat = feature_catalogue(demo, "pcl5")
    assert not set(cat["feature"]) & OUTCOME_DERIVED
    for name in ("responder", "pct_change", "endpoint_score", "change", "remitter"):
        with pytest.raises(DataValidationError, match="computed from the outcome"):
            build_feature_matrix(demo, "pcl5", ["bmi", name])


def test_an_uploaded_outcome_column_is_not_offered_and_a_disguised_one_is_flagged(demo):
    outcomes = derive_patient_outcomes(demo, "pcl5").table.set_index("patient_id")
    leaky = demo.copy()
    leaky["responder"] = leaky["patient_id"].map(outcomes["responder"].astype("string"))
    leaky["followup_status"] = leaky["patient_id"].map(
        outcomes["responder"].map({True: "better", False: "same"})
    )
    cat = feature_catalogue(leaky, "pcl5")
    assert "responder" not in set(cat["feature"])  # the outcome's own name is refused
    fm = build_feature_matrix(leaky, "pcl5", ["bmi", "followup_status"])
    warnings = check_guards(fm).warnings
    assert any("Followup status alone separates" in w for w in warnings)


def test_a_fixed_early_endpoint_makes_same_time_features_unavailable(demo):
    definition = OutcomeDefinition(endpoint="infusions:2")
    fm = build_feature_matrix(
        demo, "pcl5", ["improvement_pcl5_after_1", "improvement_pcl5_after_2"], definition
    )
    assert fm.X["improvement_pcl5_after_2"].isna().all()  # the endpoint itself
    assert fm.X["improvement_pcl5_after_1"].notna().sum() > 0.8 * fm.n_patients


def test_with_endpoint_last_no_early_value_comes_from_the_endpoint_assessment(demo):
    fm = build_feature_matrix(demo, "pcl5", ["improvement_pcl5_after_1"])
    table = derive_patient_outcomes(demo, "pcl5").table.set_index("patient_id")
    end_inf = table.loc[fm.X.index, "endpoint_infusions"].astype("float64")
    has_value = fm.X["improvement_pcl5_after_1"].notna()
    assert (end_inf[has_value] > 1).all()
    assert ((end_inf <= 1) & ~has_value).sum() > 0  # dropouts after one infusion exist


def test_unknown_and_empty_feature_lists_are_refused(demo):
    with pytest.raises(DataValidationError, match="unknown feature 'nope'"):
        build_feature_matrix(demo, "pcl5", ["bmi", "nope"])
    with pytest.raises(DataValidationError, match="at least one feature"):
        build_feature_matrix(demo, "pcl5", [])


def test_identifier_like_text_covariates_are_not_offered():
    rows = [(f"Q{i}", "pcl5", 40 + i % 7, inf, inf * 3 - 1) for i in range(40) for inf in (0, 3)]
    data = canonical(rows, {f"Q{i}": ("Clinic A", 20.0 + i) for i in range(40)})
    data["free_text"] = data["patient_id"].map(lambda p: f"note about {p}")
    cat = feature_catalogue(data, "pcl5")
    assert "free_text" not in set(cat["feature"])
    fm = build_feature_matrix(data, "pcl5", ["bmi"])
    assert any("free_text" in n and "not offered" in n for n in fm.notes)


def test_fingerprint_is_stable_and_content_sensitive():
    a, b = canonical(), canonical()
    assert fingerprint(a) == fingerprint(b)
    assert len(fingerprint(a)) == 64
    b.loc[0, "score"] = 49.0
    assert fingerprint(a) != fingerprint(b)
