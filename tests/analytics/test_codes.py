"""Integer codes for text columns: the same answers for every text dtype, against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.codes import constant_within, equals, first_rows, is_in, sorted_codes
from analytics.covariates import patient_level_columns

KINDS = ["object", "string[python]", "string[pyarrow]", "category"]


def _ids(rng: np.random.Generator, n: int, shuffled: bool) -> list[str]:
    ids = sorted(f"p{i}" for i in rng.integers(0, 40, n))
    return list(rng.permutation(ids)) if shuffled else ids


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shuffled", [False, True])
def test_sorted_codes_and_equals_match_pandas(kind, shuffled):
    rng = np.random.default_rng(1)
    raw = pd.Series(_ids(rng, 500, shuffled))
    col = raw.astype(kind)
    rows = np.flatnonzero(rng.random(500) < 0.6)
    codes, uniques = sorted_codes(col, rows)
    ref_codes, ref_uniques = pd.factorize(raw.iloc[rows].to_numpy(dtype=object), sort=True)
    assert list(uniques) == list(ref_uniques)
    np.testing.assert_array_equal(codes, ref_codes)
    np.testing.assert_array_equal(equals(col, "p7"), (raw == "p7").to_numpy())
    assert not equals(col, "nobody").any()


@pytest.mark.parametrize("kind", [*KINDS, "large_string[pyarrow]"])
@pytest.mark.parametrize(
    "wanted_kind", ["list", "set", "numpy", "object", "string[pyarrow]", "with missing"]
)
def test_is_in_matches_a_python_loop(kind, wanted_kind):
    rng = np.random.default_rng(3)
    ids, missing = rng.integers(0, 40, 300), rng.random(300) < 0.1
    cells = [None if m else f"p{i}" for i, m in zip(ids, missing, strict=True)]
    raw = pd.Series(cells, dtype=object)
    if kind == "large_string[pyarrow]":
        import pyarrow as pa

        col = raw.astype(pd.ArrowDtype(pa.large_string()))
    else:
        col = raw.astype(kind)
    picks = [f"p{i}" for i in rng.integers(0, 60, 15)]  # some occur, some do not
    wanted = {
        "list": picks,
        "set": set(picks),
        "numpy": np.array(picks),
        "object": pd.Series(picks, dtype=object),
        "string[pyarrow]": pd.Series(picks, dtype="string[pyarrow]"),
        "with missing": pd.Series([*picks, None, 5], dtype=object),
    }[wanted_kind]
    expected = np.array([c is not None and c in set(picks) for c in cells])
    got = is_in(col, wanted)
    assert got.dtype == bool and len(got) == len(cells)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shuffled", [False, True])
def test_constant_within_patients_equals_patient_level_columns(kind, shuffled):
    rng = np.random.default_rng(2)
    n = 400
    ids = pd.Series(_ids(rng, n, shuffled))
    per_patient = {p: rng.choice(["A", "B", "C"]) for p in ids.unique()}
    data = pd.DataFrame({"patient_id": ids.astype(kind)})
    data["level"] = ids.map(per_patient).astype(kind)  # one value per patient
    varies = ids.map(per_patient).to_numpy(dtype=object)
    varies[rng.integers(0, n)] = "Z"  # one row differs from its patient's others
    data["varies"] = pd.Series(varies).astype(kind)
    gaps = ids.map(per_patient).to_numpy(dtype=object)
    gaps[rng.integers(0, n)] = None  # missing on one row only: not a choice of patients
    data["gaps"] = pd.Series(gaps).astype(kind)
    whole = ids.map({p: (None if i % 3 else v) for i, (p, v) in enumerate(per_patient.items())})
    data["whole"] = whole.astype(kind)  # missing on all of a patient's rows or none
    data["number"] = ids.map({p: float(len(p)) for p in per_patient})
    first = first_rows(data["patient_id"])
    got = [c for c in data.columns[1:] if constant_within(data[c], first)]
    assert got == patient_level_columns(data)
    assert got == ["level", "whole", "number"]
