"""Filters give the same rows whatever the text columns' dtype."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.filters import apply_filters


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 300
    return pd.DataFrame(
        {
            "patient_id": [f"p{i // 3}" for i in range(n)],
            "site": rng.choice(["North", "South", "East", None], n),
            "sex": rng.choice(["Female", "Male"], n),
            "age": rng.integers(20, 60, n).astype(float),
        }
    )


@pytest.mark.parametrize("kind", ["object", "string[python]", "string[pyarrow]", "category"])
def test_filters_choose_the_same_rows_for_every_text_dtype(kind):
    base = _frame()
    data = base.astype({"site": kind, "sex": kind})
    for filters in (
        {"site": ["North"]},
        {"site": ["North", "East"], "sex": ["Male"]},
        {"site": ["Nowhere"]},
        {"age": ["30", "41.0"], "sex": ["Female"]},
    ):
        want = np.ones(len(base), dtype=bool)
        for col, values in filters.items():
            if col == "age":
                want &= base[col].isin([float(v) for v in values]).to_numpy()
            else:
                want &= np.array([v in values for v in base[col]])
        got = apply_filters(data, filters)
        assert list(got.index) == list(np.flatnonzero(want))
