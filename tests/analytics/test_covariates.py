"""Patient covariates and patient-level columns against pandas' groupby, for every dtype."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.covariates import patient_covariates, patient_level_columns

DTYPES = ["object", "string[python]", "string[pyarrow]", "category"]


def _frame(shuffled: bool, text_dtype: str) -> pd.DataFrame:
    """Forty patients of 1-6 rows: constant columns (some cells missing), and columns
    that change within a patient, of text, whole-number and float kinds."""
    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 7, 40)
    ids = np.repeat([f"p{i:02d}" for i in range(40)], sizes)
    per_patient = {
        "site": rng.choice(["A", "B", "C"], 40),
        "band": rng.choice(["18-29", "30-39"], 40),
        "prior": rng.integers(0, 4, 40).astype(float),
        "count": rng.integers(0, 9, 40),
    }
    frame = pd.DataFrame({"patient_id": ids})
    for col, values in per_patient.items():
        frame[col] = np.repeat(values, sizes)
    n = len(frame)
    frame["dose"] = rng.normal(0.5, 0.1, n)  # varies within patients
    frame["note"] = rng.choice(["x", "y"], n)  # varies within patients
    holes = rng.random(n) < 0.25
    frame["site"] = frame["site"].where(~holes)  # missing on some rows, constant otherwise
    frame.loc[frame["patient_id"] == "p03", "band"] = None  # missing for a whole patient
    frame["prior"] = frame["prior"].where(rng.random(n) > 0.2)
    frame["count"] = frame["count"].astype("Int64")
    for col in ("patient_id", "site", "band", "note"):
        frame[col] = frame[col].astype(text_dtype)
    frame["instrument"] = "pcl5"
    frame["score"] = 10.0
    frame["day"] = 0.0
    return frame.sample(frac=1, random_state=3) if shuffled else frame


def _reference(frame: pd.DataFrame) -> pd.DataFrame:
    extras = ["site", "band", "prior", "count", "dose", "note"]
    grouped = frame.groupby("patient_id", sort=True, observed=True)
    constant = grouped[extras].nunique(dropna=True).max() <= 1
    keep = [c for c in extras if constant[c]]
    return grouped[keep].first()


@pytest.mark.parametrize("text_dtype", DTYPES)
@pytest.mark.parametrize("shuffled", [False, True])
def test_patient_covariates_equal_groupby_first_of_constant_columns(text_dtype, shuffled):
    frame = _frame(shuffled, text_dtype)
    got = patient_covariates(frame)
    ref = _reference(frame)
    assert list(got.columns) == ["site", "band", "prior", "count"]
    assert list(got.columns) == list(ref.columns)
    assert list(got.index.astype(str)) == list(ref.index.astype(str))
    for col in got.columns:
        mine = got[col].astype(object).where(got[col].notna(), None).tolist()
        theirs = ref[col].astype(object).where(ref[col].notna(), None).tolist()
        assert mine == theirs, col


@pytest.mark.parametrize("text_dtype", DTYPES)
def test_patient_level_columns_are_those_constant_and_missing_alike_within_patients(text_dtype):
    frame = _frame(False, text_dtype)
    # "site" and "prior" have holes within patients: a filter on them would split patients.
    assert patient_level_columns(frame) == ["band", "count"]
