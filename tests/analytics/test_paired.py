"""Paired change statistics against scipy (ttest_rel, wilcoxon) on the same differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics.charts_durability import paired_table
from analytics.outcomes import derive_patient_outcomes
from analytics.paired import PAIRED_COLUMNS, summarise_paired_change, wilcoxon_method
from analytics.stats import summarise_outcomes


def cohort(n: int = 80, seed: int = 3, sites=("A", "B", "C")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.integers(25, 80, n).astype(float)
    end = np.clip(base - rng.normal(12, 12, n).round(), 0, 80)
    end[:4] = base[:4]  # a few patients with no change (zero differences)
    site = np.resize(np.asarray(sites), n)
    return pd.DataFrame(
        {
            "patient_id": np.repeat([f"p{i:03d}" for i in range(n)], 2),
            "instrument": "pcl5",
            "score": np.column_stack([base, end]).ravel(),
            "infusions_received": pd.array(np.tile([0, 6], n), dtype="Int64"),
            "day": np.tile([0.0, 16.0], n),
            "site": np.repeat(site, 2),
        }
    )


def changes(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    s = df["score"].to_numpy()
    return s[0::2], s[1::2]


def test_overall_matches_scipy():
    df = cohort()
    out = summarise_paired_change(derive_patient_outcomes(df, "pcl5"))
    assert list(out.columns) == list(PAIRED_COLUMNS)
    r = out.iloc[0]
    base, end = changes(df)
    d = end - base
    t = stats.ttest_rel(end, base)
    assert r["group"] == "All" and r["n_patients"] == 80 and r["t_df"] == 79
    assert r["mean_change"] == pytest.approx(d.mean())
    assert r["t_statistic"] == pytest.approx(t.statistic)
    assert r["t_p_value"] == pytest.approx(t.pvalue)
    ci = t.confidence_interval()
    assert r["mean_change_ci95_low"] == pytest.approx(ci.low)
    assert r["mean_change_ci95_high"] == pytest.approx(ci.high)
    assert r["cohens_dz"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert r["median_change"] == np.median(d)
    w = stats.wilcoxon(d, zero_method="wilcox", correction=False, method="asymptotic")
    assert r["wilcoxon_method"] == "asymptotic"  # over 50 non-zero differences, with ties
    assert r["wilcoxon_n"] == int((d != 0).sum()) >= 70
    assert r["wilcoxon_statistic"] == pytest.approx(w.statistic)
    assert r["wilcoxon_p_value"] == pytest.approx(w.pvalue)
    # scipy's own "auto" choice gives the same answer
    auto = stats.wilcoxon(d, zero_method="wilcox", correction=False)
    assert r["wilcoxon_p_value"] == pytest.approx(auto.pvalue)


def test_by_group_matches_scipy_per_group():
    df = cohort(n=90)
    out = summarise_paired_change(derive_patient_outcomes(df, "pcl5"), by="site")
    assert list(out["group"]) == ["All", "A", "B", "C"]
    for site in ("A", "B", "C"):
        base, end = changes(df[df["site"] == site])
        r = out.set_index("group").loc[site]
        t = stats.ttest_rel(end, base)
        w = stats.wilcoxon(end - base, zero_method="wilcox", correction=False)
        assert r["n_patients"] == 30
        assert r["t_statistic"] == pytest.approx(t.statistic)
        assert r["t_p_value"] == pytest.approx(t.pvalue)
        assert r["wilcoxon_statistic"] == pytest.approx(w.statistic)
        assert r["wilcoxon_p_value"] == pytest.approx(w.pvalue)
        assert r["median_change"] == np.median(end - base)


def test_exact_wilcoxon_without_ties():
    rng = np.random.default_rng(1)
    base = np.arange(40.0, 60.0)
    end = base - rng.permutation(np.arange(-5, 15)) - 0.25  # distinct, non-zero differences
    df = pd.DataFrame(
        {
            "patient_id": np.repeat([f"p{i}" for i in range(20)], 2),
            "instrument": "pcl5",
            "score": np.column_stack([base, end]).ravel(),
            "infusions_received": pd.array(np.tile([0, 3], 20), dtype="Int64"),
            "day": np.tile([0.0, 7.0], 20),
        }
    )
    r = summarise_paired_change(derive_patient_outcomes(df, "pcl5")).iloc[0]
    assert r["wilcoxon_method"] == "exact"
    w = stats.wilcoxon(end - base, method="exact")
    assert r["wilcoxon_statistic"] == w.statistic
    assert r["wilcoxon_p_value"] == pytest.approx(w.pvalue)


def test_wilcoxon_method_rule():
    assert wilcoxon_method(np.arange(1.0, 51.0)) == "exact"
    assert wilcoxon_method(np.arange(1.0, 52.0)) == "asymptotic"
    assert wilcoxon_method(np.array([1.0, -1, 2, 3, 0])) == "permutation"
    assert wilcoxon_method(np.r_[np.ones(14), np.arange(2.0, 10)]) == "asymptotic"
    d = np.array([-3.0, -1, -1, 2, -5, -4, 0, -2])
    rng_free = stats.wilcoxon(d, zero_method="wilcox", method=stats.PermutationMethod())
    auto = stats.wilcoxon(d[d != 0], zero_method="wilcox")
    assert auto.pvalue == pytest.approx(rng_free.pvalue)


def test_one_patient_and_no_change():
    df = cohort(n=1)
    r = summarise_paired_change(derive_patient_outcomes(df, "pcl5")).iloc[0]
    assert r["n_patients"] == 1 and r["wilcoxon_n"] == 0  # the one patient did not change
    assert np.isnan(r["t_statistic"]) and np.isnan(r["wilcoxon_p_value"])
    assert r["wilcoxon_method"] == ""


def test_input_not_mutated():
    df = cohort()
    o = derive_patient_outcomes(df, "pcl5")
    before = o.table.copy()
    summarise_paired_change(o, by="site")
    pd.testing.assert_frame_equal(o.table, before)


@pytest.mark.parametrize(("n_small", "shown"), [(10, False), (11, True)])
def test_small_group_is_suppressed_in_the_table(n_small, shown):
    sites = ["big"] * 40 + ["mid"] * 30 + ["small"] * n_small
    df = cohort(n=len(sites), sites=sites)
    out = summarise_paired_change(derive_patient_outcomes(df, "pcl5"), by="site")
    table = paired_table(out, min_cell_size=11).set_index("Group")
    if shown:
        assert table.loc["small", "N"] == "11"
        assert table.loc["small", "Mean change (95% CI)"] != ""
        assert (table["N"] != "hidden").all()
    else:
        assert table.loc["small", "N"] == "<11"
        assert table.loc["small", "Mean change (95% CI)"] == ""
        # "mid" is hidden too: All - big - mid would otherwise give the small group away
        assert table.loc["mid", "N"] == "hidden"
        assert table.loc["big", "N"] == "40"
    assert table.loc["All", "N"] == f"{70 + n_small}"
    assert "Wilcoxon W, p" in table.columns and "wilcoxon_n" not in table.columns


def test_whole_number_groups_display_without_decimals():
    df = cohort()
    df["prior"] = df["patient_id"].str[-1].astype(int) % 2 * 1.0
    out = summarise_paired_change(derive_patient_outcomes(df, "pcl5"), by="prior")
    assert list(paired_table(out)["Group"]) == ["All", "0", "1"]


def test_group_rows_agree_with_summarise_outcomes_and_scipy_for_number_covariates():
    # regression: float covariates with whole values (6.0) are labelled "6" by
    # summarise_outcomes; every per-group statistic must still be computed
    df = cohort()
    df["prior"] = df["patient_id"].str[-1].astype(int) % 3 * 1.0
    o = derive_patient_outcomes(df, "pcl5")
    out = summarise_paired_change(o, by="prior").set_index("group")
    ref = summarise_outcomes(o, by="prior").set_index("group")
    assert list(out.index) == list(ref.index) == ["All", "0", "1", "2"]
    for level in ("0", "1", "2"):
        base, end = changes(df[df["prior"] == float(level)])
        w = stats.wilcoxon(end - base, zero_method="wilcox", correction=False)
        assert out.loc[level, "t_statistic"] == pytest.approx(ref.loc[level, "t_statistic"])
        assert out.loc[level, "median_change"] == np.median(end - base)
        assert out.loc[level, "wilcoxon_p_value"] == pytest.approx(w.pvalue)
