"""Summary statistics against independent references: scipy and statsmodels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from analytics.definitions import OutcomeDefinition
from analytics.outcomes import derive_patient_outcomes
from analytics.stats import SUMMARY_COLUMNS, count_cohort, summarise_outcomes, wilson_ci
from analytics.trajectories import summarise_trajectory


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (7, 10), (10, 10), (33, 120), (1, 1)])
def test_wilson_matches_statsmodels(k, n):
    low, high = wilson_ci(np.array([k]), np.array([n]))
    ref_low, ref_high = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert low[0] == pytest.approx(ref_low, abs=1e-12)
    assert high[0] == pytest.approx(ref_high, abs=1e-12)


def test_wilson_empty_denominator_is_nan():
    low, high = wilson_ci(np.array([0]), np.array([0]))
    assert np.isnan(low[0]) and np.isnan(high[0])


def cohort(n: int = 80, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.integers(25, 80, n)
    end = np.clip(base - rng.normal(15, 12, n).round(), 0, 80)
    site = rng.choice(["A", "B", "C"], n)
    rows = pd.DataFrame(
        {
            "patient_id": np.repeat([f"p{i}" for i in range(n)], 2),
            "instrument": "pcl5",
            "score": np.column_stack([base, end]).ravel().astype(float),
            "infusions_received": pd.array(np.tile([0, 6], n), dtype="Int64"),
            "day": np.tile([0.0, 16.0], n),
            "site": np.repeat(site, 2),
        }
    )
    return rows


def reference(base: np.ndarray, end: np.ndarray) -> dict[str, float]:
    change = end - base
    t = stats.ttest_rel(end, base)
    ci = DescrStatsW(change).tconfint_mean(alpha=0.05)
    responders = int(((base - end) / base >= 0.30).sum())
    remitters = int((end < 33).sum())
    return {
        "mean_change": change.mean(),
        "ci": ci,
        "t": t.statistic,
        "p": t.pvalue,
        "dz": change.mean() / change.std(ddof=1),
        "responders": responders,
        "remitters": remitters,
        "n": len(base),
    }


def test_overall_summary_matches_scipy_and_statsmodels():
    df = cohort()
    o = derive_patient_outcomes(df, "pcl5")
    s = summarise_outcomes(o).iloc[0]
    base = df["score"].to_numpy()[0::2]
    end = df["score"].to_numpy()[1::2]
    ref = reference(base, end)
    assert list(summarise_outcomes(o).columns) == list(SUMMARY_COLUMNS)
    assert s.group == "All" and s.n_patients == ref["n"] == s.n_patients_total
    assert s.mean_change == pytest.approx(ref["mean_change"])
    assert s.mean_change_ci95_low == pytest.approx(ref["ci"][0])
    assert s.mean_change_ci95_high == pytest.approx(ref["ci"][1])
    assert s.t_statistic == pytest.approx(ref["t"])
    assert s.p_value == pytest.approx(ref["p"])
    assert s.cohens_dz == pytest.approx(ref["dz"])
    assert s.baseline_mean == pytest.approx(base.mean())
    assert s.endpoint_sd == pytest.approx(end.std(ddof=1))
    assert s.responders_n == ref["responders"] and s.responders_N == ref["n"]
    low, high = proportion_confint(ref["responders"], ref["n"], method="wilson")
    assert s.responders_ci95_low == pytest.approx(100 * low)
    assert s.responders_ci95_high == pytest.approx(100 * high)
    assert s.responders_pct == pytest.approx(100 * ref["responders"] / ref["n"])
    assert s.remitters_n == ref["remitters"]
    rc = s.reliably_improved_n + s.no_reliable_change_n + s.reliably_deteriorated_n
    assert rc == s.reliable_change_N == ref["n"]


def test_by_group_equals_separate_fits():
    df = cohort(120, seed=9)
    o = derive_patient_outcomes(df, "pcl5")
    by = summarise_outcomes(o, by="site")
    assert by["group"].tolist() == ["All", "A", "B", "C"]
    assert by["n_patients"].iloc[1:].sum() == by["n_patients"].iloc[0]
    for site in ("A", "B", "C"):
        g = df[df["site"] == site]
        ref = reference(g["score"].to_numpy()[0::2], g["score"].to_numpy()[1::2])
        s = by.set_index("group").loc[site]
        assert s.n_patients == ref["n"]
        assert s.mean_change_ci95_low == pytest.approx(ref["ci"][0])
        assert s.p_value == pytest.approx(ref["p"])
        assert s.responders_n == ref["responders"]


def test_edge_cases_one_patient_all_and_no_responders():
    one = pd.DataFrame(
        {
            "patient_id": ["a", "a"],
            "instrument": "pcl5",
            "score": [50.0, 20.0],
            "infusions_received": pd.array([0, 6], dtype="Int64"),
            "day": [0.0, 16.0],
        }
    )
    s = summarise_outcomes(derive_patient_outcomes(one, "pcl5")).iloc[0]
    assert s.n_patients == 1 and s.mean_change == -30
    assert np.isnan(s.mean_change_ci95_low) and np.isnan(s.p_value)  # not estimable
    assert s.responders_pct == 100
    assert s.responders_ci95_low == pytest.approx(
        100 * proportion_confint(1, 1, method="wilson")[0]
    )

    none = one.assign(score=[50.0, 49.0])
    s = summarise_outcomes(derive_patient_outcomes(none, "pcl5")).iloc[0]
    assert s.responders_n == 0 and s.responders_ci95_low == 0


def test_empty_table_summarises_to_zero_patients():
    df = cohort(5).iloc[0:0]
    s = summarise_outcomes(derive_patient_outcomes(df, "pcl5")).iloc[0]
    assert s.n_patients == 0 and s.n_patients_total == 0


def test_trajectory_mean_ci_matches_statsmodels():
    df = cohort(40, seed=5)
    o = derive_patient_outcomes(df, "pcl5")
    t = summarise_trajectory(df, o).set_index("infusions_received")
    end = df["score"].to_numpy()[1::2]
    low, high = DescrStatsW(end).tconfint_mean()
    assert t.loc[6, "n"] == 40 and t.loc[6, "mean"] == pytest.approx(end.mean())
    assert (t.loc[6, "ci95_low"], t.loc[6, "ci95_high"]) == pytest.approx((low, high))
    pct = summarise_trajectory(df, o, value="pct_change").set_index("infusions_received")
    assert pct.loc[0, "mean"] == 0
    base = df["score"].to_numpy()[0::2]
    assert pct.loc[6, "mean"] == pytest.approx(((end - base) / base * 100).mean())


def test_trajectory_takes_first_assessment_per_infusion_count():
    df = pd.DataFrame(
        {
            "patient_id": ["a"] * 4,
            "instrument": "pcl5",
            "score": [50.0, 30.0, 40.0, 20.0],
            "infusions_received": pd.array([0, 6, 6, 8], dtype="Int64"),
            "day": [0.0, 16.0, 45.0, 100.0],
        }
    )
    t = summarise_trajectory(df, derive_patient_outcomes(df, "pcl5"))
    assert t.set_index("infusions_received")["mean"].to_dict() == {0: 50, 6: 30, 8: 20}


def test_count_cohort():
    df = cohort(10)
    assert count_cohort(df, "pcl5") == {"n_patients": 10, "n_assessments": 20, "n_infusions": 60}


def test_count_cohort_by_hand():
    """Infusions by the last assessment of any instrument; patients without the
    instrument are not counted; no recorded infusions count as none."""
    df = pd.DataFrame(
        {
            "patient_id": ["A", "A", "A", "B", "B", "C", "D"],
            "instrument": ["pcl5", "pcl5", "phq9", "pcl5", "pcl5", "phq9", "pcl5"],
            "infusions_received": pd.array([0, 4, 6, None, None, 9, 2], dtype="Int64"),
            "site": ["x"] * 7,
        },
        index=[10, 3, 7, 1, 2, 5, 4],  # rows of a filtered table keep their labels
    ).astype({"patient_id": "string[pyarrow]", "instrument": "string[pyarrow]"})
    # A: 3 rows, 2 of pcl5, 6 infusions (phq9 row); B: 2 rows, none recorded; D: 2.
    assert count_cohort(df, "pcl5") == {"n_patients": 3, "n_assessments": 5, "n_infusions": 8}
    assert count_cohort(df, "phq9") == {"n_patients": 2, "n_assessments": 2, "n_infusions": 15}
    assert count_cohort(df, "gad7") == {"n_patients": 0, "n_assessments": 0, "n_infusions": 0}


def test_by_whole_number_covariate_labels_groups_as_the_filters_do():
    df = cohort(30, seed=4)
    df["prior"] = np.repeat(np.arange(30) % 3, 2).astype(float)
    by = summarise_outcomes(derive_patient_outcomes(df, "pcl5"), by="prior")
    assert by["group"].tolist() == ["All", "0", "1", "2"]


def test_by_group_with_gaps_equals_a_loop_over_groups():
    """Groups with no or one analysed patient, a missing group value, unanalysed patients,
    zero baselines and carried-forward endpoints: each row equals the statistics of that
    group's patients computed on their own with pandas, scipy and statsmodels."""
    rng = np.random.default_rng(12)
    rows = []
    for p in range(150):
        site = ["A", "B", "C", None][p % 4] if p != 7 else "Solo"
        base = float(rng.integers(0, 80)) if p % 11 else 0.0
        rows.append((f"p{p}", base, 0, 0.0, site))
        for k in range(1, int(rng.integers(0, 7))):
            rows.append((f"p{p}", float(rng.integers(0, 80)), k, 2.0 * k, site))
    df = pd.DataFrame(rows, columns=["patient_id", "score", "infusions_received", "day", "site"])
    df.insert(1, "instrument", "pcl5")
    df["infusions_received"] = df["infusions_received"].astype("Int64")
    o = derive_patient_outcomes(df, "pcl5", OutcomeDefinition(endpoint="infusions:4"))
    got = summarise_outcomes(o, by="site").set_index("group")
    table = o.table.assign(group=o.table["site"].astype("string").fillna("(missing)"))
    for name, g in [("All", table), *table.groupby("group")]:
        s = got.loc[name]
        a = g[g["analysed"]]
        assert s.n_patients_total == len(g) and s.n_patients == len(a)
        assert s.n_zero_baseline == int((a["baseline_score"] == 0).sum())
        assert s.n_carried_forward == int(a["endpoint_carried_forward"].sum())
        for col, mean, sd in (
            ("baseline_score", "baseline_mean", "baseline_sd"),
            ("change", "mean_change", "sd_change"),
        ):
            np.testing.assert_allclose([s[mean], s[sd]], [a[col].mean(), a[col].std()])
        if len(a) >= 2 and a["change"].std() > 0:
            t = stats.ttest_rel(a["endpoint_score"], a["baseline_score"])
            assert s.t_statistic == pytest.approx(t.statistic)
            assert s.p_value == pytest.approx(t.pvalue)
        else:
            assert np.isnan(s.t_statistic)
        for flag, prefix in (("responder", "responders"), ("remitter", "remitters")):
            known = a[flag].dropna().astype(bool)
            assert s[f"{prefix}_n"] == known.sum() and s[f"{prefix}_N"] == len(known)
            if len(known):
                low, _ = proportion_confint(known.sum(), len(known), method="wilson")
                assert s[f"{prefix}_ci95_low"] == pytest.approx(100 * low)
        rc = a["reliable_change"]
        assert s.reliably_improved_n == int((rc == "improved").sum())
        assert s.reliable_change_N == int(rc.notna().sum())
        assert s.clinically_significant_n == int(a["clinically_significant"].fillna(False).sum())
