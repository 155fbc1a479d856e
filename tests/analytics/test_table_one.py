"""Table 1 on small hand-built frames: n (%), mean (SD) and median [Q1, Q3] computed by hand,
missing values, and small-cell suppression (primary, complementary, small groups combined)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.table_one import MEAN_SD, MEDIAN_IQR, is_categorical, summarise_cohort


def cohort(n_a: int = 30, n_b: int = 20, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_a + n_b
    return pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(n)],
            "site": ["A"] * n_a + ["B"] * n_b,
            "sex": (["Female", "Male"] * n)[:n],
            "bmi": rng.normal(28, 4, n).round(1),
            "days_ill": np.r_[rng.exponential(30, n - 1), 4000.0],  # skewed
        }
    )


def cell(table: pd.DataFrame, variable: str, level: str, column: str) -> str:
    """The text of one cell, finding a level under its variable's header row."""
    rows = table.to_dict(orient="records")
    col = next(c for c in table.columns if c.startswith(column))
    current = None
    for r in rows:
        if r["variable"]:
            current = r["variable"]
        if current and current.startswith(variable) and r["level"] == level:
            return r[col]
    raise KeyError((variable, level))


def test_counts_percentages_and_numeric_summaries_match_hand_computation():
    df = cohort()
    t1 = summarise_cohort(df, columns=["sex", "bmi", "days_ill"], by="site", min_cell_size=5)
    t = t1.table
    assert list(t.columns) == ["variable", "level", "A (n = 30)", "B (n = 20)", "Overall (n = 50)"]
    assert cell(t, "Patients", "n", "A") == "30"
    females_a = int((df[df.site == "A"].sex == "Female").sum())
    assert cell(t, "sex", "Female", "A") == f"{females_a} ({100 * females_a / 30:.1f})"
    assert cell(t, "sex", "Male", "Overall") == "25 (50.0)"
    bmi_b = df.loc[df.site == "B", "bmi"]
    assert cell(t, "bmi, mean (SD)", "", "B") == f"{bmi_b.mean():.1f} ({bmi_b.std(ddof=1):.1f})"
    q1, med, q3 = np.percentile(df["days_ill"], [25, 50, 75])
    assert cell(t, "days_ill, median", "", "Overall") == f"{med:.1f} [{q1:.1f}, {q3:.1f}]"
    assert t1.kinds == {"sex": "categorical", "bmi": MEAN_SD, "days_ill": MEDIAN_IQR}


def test_nonnormal_forces_the_median_and_missing_values_are_counted():
    df = cohort()
    df.loc[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], "bmi"] = np.nan
    df.loc[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], "sex"] = None
    t = summarise_cohort(df, columns=["sex", "bmi"], nonnormal=["bmi"], min_cell_size=5).table
    assert cell(t, "sex", "Missing", "Overall") == "12 (24.0)"
    assert cell(t, "bmi", "Missing, n (%)", "Overall") == "12 (24.0)"
    assert any(v.startswith("bmi, median") for v in t["variable"])


def test_a_small_count_is_suppressed_and_its_complement_hidden():
    df = cohort(n_a=50, n_b=0)
    df["veteran"] = ["Yes"] * 4 + ["No"] * 46
    t = summarise_cohort(df, columns=["veteran"], min_cell_size=11).table
    assert cell(t, "veteran", "Yes", "Overall") == "<11"
    # 50 patients are shown: 46 "No" would give the 4 "Yes" away
    assert cell(t, "veteran", "No", "Overall") == "hidden"


def test_complementary_suppression_across_groups():
    df = cohort(n_a=30, n_b=30)
    df["veteran"] = "No"
    df.loc[df.index[:3], "veteran"] = "Yes"  # 3 veterans, all at site A
    t = summarise_cohort(df, columns=["veteran"], by="site", min_cell_size=11).table
    shown = [cell(t, "veteran", lv, c) for lv in ("Yes", "No") for c in ("A", "B", "Overall")]
    assert cell(t, "veteran", "Yes", "A") == "<11"
    assert cell(t, "veteran", "Yes", "Overall") in ("<11", "hidden")
    # no shown row or column lets the 3 be worked out
    assert "27 (90.0)" not in shown or cell(t, "veteran", "Yes", "Overall") != "3 (5.0)"
    assert cell(t, "veteran", "No", "A") == "hidden"


def test_a_small_group_is_combined_with_the_next_smallest():
    df = cohort(n_a=40, n_b=30)
    df.loc[df.index[:6], "site"] = "C"  # 6 patients at C: too few for a column
    t1 = summarise_cohort(df, columns=["sex"], by="site", min_cell_size=11)
    assert t1.combined == ("B", "C")
    assert t1.groups == ("A", "Other (2 groups combined)")
    assert any(c.startswith("Other (2 groups combined) (n = 36)") for c in t1.table.columns)
    assert "combined" in " ".join(t1.describe())


def test_too_few_patients_show_nothing_but_the_label():
    t = summarise_cohort(cohort(n_a=6, n_b=0), columns=["sex", "bmi"], min_cell_size=11).table
    assert list(t.columns) == ["variable", "level", "Overall"]
    assert t.to_dict(orient="records") == [{"variable": "Patients", "level": "n", "Overall": "<11"}]


def test_numeric_statistics_over_few_values_are_not_shown():
    df = cohort(n_a=40, n_b=0)
    df.loc[df.index[15:], "bmi"] = np.nan  # 15 distinct values: numeric, but fewer than 20
    t = summarise_cohort(df, columns=["bmi"], min_cell_size=20).table
    assert cell(t, "bmi", "", "Overall") == "n <20"


def test_categorical_detection_and_unknown_columns():
    assert is_categorical(pd.Series(["a", "b"]))
    assert is_categorical(pd.Series([0, 1, 2, 3]))
    assert not is_categorical(pd.Series(np.arange(50, dtype=float)))
    with pytest.raises(ValueError, match="no such patient-level column: nope"):
        summarise_cohort(cohort(), columns=["nope"])
