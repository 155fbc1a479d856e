"""Responders, early signals, trajectories by time and small-cell suppression, against
independent references (scipy, statsmodels) and hand-computed small cases."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from analytics.definitions import OutcomeDefinition
from analytics.outcomes import derive_patient_outcomes
from analytics.responders import (
    BOTH,
    EARLY_NO,
    EARLY_YES,
    NEITHER,
    NON_RESPONDER,
    RC_CS,
    RC_IMPROVED_ALL,
    RC_NO_CHANGE,
    REMITTER_ONLY,
    RESP_NO,
    RESP_YES,
    RESPONDER,
    RESPONDER_ONLY,
    association_test,
    band_transitions,
    compare_groups,
    count_statuses,
    cumulative_response,
    early_signal_counts,
    early_signal_metrics,
    fisher_exact_2x2,
    newcombe_difference,
    pearson_chi_square,
    rate_table,
    reliable_change_table,
    review_list,
    waterfall_statuses,
    waterfall_table,
)
from analytics.stats import summarise_outcomes
from analytics.suppression import (
    COMPLEMENTARY,
    PRIMARY,
    display_counts,
    protect_cells,
    protect_cumulative,
    protect_table,
)
from analytics.trajectory_stats import (
    DAY_BINS,
    NO_OUTCOME,
    assign_day_bin,
    group_labels,
    median_ci,
    patient_points,
    pct_of_max,
    sample_patients,
    spaghetti_points,
    summarise_time_course,
    suppress_time_course,
)

# --- small hand-built cohorts ------------------------------------------------------------


def long_rows(
    patients: dict[str, list[tuple[int, float, float]]],
    instrument: str = "pcl5",
    **covariates: dict[str, str],
) -> pd.DataFrame:
    """{patient: [(infusions, day, score), ...]} -> canonical long table."""
    rows = []
    for pid, visits in patients.items():
        for inf, day, score in visits:
            row = {
                "patient_id": pid,
                "instrument": instrument,
                "score": float(score),
                "infusions_received": inf,
                "day": float(day),
            }
            for col, values in covariates.items():
                row[col] = values[pid]
            rows.append(row)
    df = pd.DataFrame(rows)
    df["infusions_received"] = df["infusions_received"].astype("Int64")
    return df


def simple(base: list[float], end: list[float], instrument: str = "pcl5", **cov) -> pd.DataFrame:
    pts = {
        f"p{i:03d}": [(0, 0, b), (6, 20, e)] for i, (b, e) in enumerate(zip(base, end, strict=True))
    }
    return long_rows(pts, instrument, **cov)


def cohort(n: int = 120, seed: int = 5) -> pd.DataFrame:
    """A synthetic PCL-5 cohort with six weekly-ish infusions and a follow-up."""
    rng = np.random.default_rng(seed)
    rows = {}
    site = {}
    for i in range(n):
        pid = f"q{i:03d}"
        site[pid] = ["A", "B", "C"][i % 3]
        b = float(rng.integers(30, 75))
        drop = rng.uniform(0, 0.12)
        visits = [(0, -2, b)]
        for k in range(1, 7):
            visits.append((k, 2 * k + 1, float(np.clip(round(b * (1 - drop * k)), 0, 80))))
        visits.append((6, 45, float(np.clip(round(b * (1 - drop * 4)), 0, 80))))
        rows[pid] = visits
    return long_rows(rows, site=site)


# --- suppression -------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "hidden"), [(10, True), (11, False), (1, True), (0, False)])
def test_a_count_just_below_the_threshold_is_suppressed_and_just_above_is_not(n, hidden):
    sup = protect_cells([n, 500, 500 + n], [[0, 1, 2]], published=[2])
    assert bool(sup[0]) is hidden


def test_one_suppressed_cell_in_a_line_with_a_total_takes_the_next_smallest_with_it():
    # 5 + 20 + 100 = 125 (total shown): hiding only 5 would leave it recoverable.
    sup = protect_cells([5, 20, 100, 125], [[0, 1, 2, 3]], published=[3])
    assert sup.tolist() == [True, True, False, False]


def test_two_small_cells_summing_below_the_threshold_take_a_third():
    # 1 + 1 = 2 is recoverable as "both are 1" -> the next smallest is hidden too.
    sup = protect_cells([1, 1, 50, 60, 112], [[0, 1, 2, 3, 4]], published=[4])
    assert sup.tolist() == [True, True, True, False, False]


def recoverable(table: pd.DataFrame, status: pd.DataFrame) -> bool:
    """Linear algebra, independent of the audit's chain-following: a hidden small cell is
    recoverable when its unit vector lies in the row space of the table's additive
    identities restricted to the hidden entries (rank test)."""
    values = table.to_numpy(dtype=float)
    nr, nc = values.shape
    idx = np.arange(nr * nc).reshape(nr, nc)
    lines = [idx[r] for r in range(nr)] + [idx[:, c] for c in range(nc)]
    rows = []
    for line in lines:  # cells - total = 0 (the total is the line's last entry)
        coef = np.zeros(nr * nc)
        coef[line[:-1]] = 1.0
        coef[line[-1]] = -1.0
        rows.append(coef)
    a = np.array(rows)
    unknown = np.flatnonzero((status.to_numpy() != "").ravel())
    sub = a[:, unknown]
    rank = np.linalg.matrix_rank(sub)
    for k, cell in enumerate(unknown):
        if 0 < values.ravel()[cell] < 11:
            unit = np.zeros(len(unknown))
            unit[k] = 1.0
            if np.linalg.matrix_rank(np.vstack([sub, unit])) == rank:
                return True
    return False


def test_recoverable_detects_a_lone_suppressed_cell():
    counts = pd.DataFrame({"a": [34, 14], "b": [6, 30]}, index=["x", "y"])
    table, status = protect_table(counts)
    naive = status.where(status == PRIMARY, "")  # only the primary cell hidden
    assert recoverable(table, naive)


def test_two_by_two_with_margins_cannot_be_backed_out():
    counts = pd.DataFrame({"a": [34, 14], "b": [6, 30]}, index=["x", "y"])
    table, status = protect_table(counts)
    assert status.loc["x", "b"] == PRIMARY
    assert (status.iloc[:2, :2] != "").sum().sum() == 4  # the classic 2x2 pattern
    assert not recoverable(table, status)
    assert (status.loc["Total"] == "").all()  # the grand total and column totals are shown


def test_three_by_three_chain_is_audited():
    counts = pd.DataFrame([[20, 3, 25], [30, 40, 12], [15, 22, 18]], columns=list("abc"))
    table, status = protect_table(counts)
    assert status.iloc[0, 1] == PRIMARY
    assert not recoverable(table, status)


@pytest.mark.parametrize("seed", range(40))
def test_random_tables_never_expose_a_small_cell(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(2, 5, 2))
    counts = pd.DataFrame(rng.choice([0, 1, 3, 7, 10, 11, 15, 40, 90], size=shape))
    table, status = protect_table(counts)
    values = table.to_numpy()
    assert ((status.to_numpy() == PRIMARY) == ((values > 0) & (values < 11))).all()
    assert not recoverable(table, status)


def test_display_counts_shows_labels():
    counts = pd.DataFrame({"a": [34, 14], "b": [6, 30]}, index=["x", "y"])
    table, status = protect_table(counts)
    text = display_counts(table, status)
    assert text.loc["x", "b"] == "<11"
    assert text.loc["x", "a"] == "hidden"
    assert text.loc["Total", "Total"] == "84"


def test_cumulative_steps_and_remainders_are_protected():
    hide = protect_cumulative([0, 5, 15, 30, 40, 45], 60)
    # 5 is small; 40 is 10 after 30; 45 leaves 15 and is 15 after 30.
    assert hide.tolist() == [False, True, False, False, True, False]
    assert protect_cumulative([12, 52], 55).tolist() == [False, True]  # 3 never respond


# --- statistics against scipy and statsmodels ---------------------------------------------


@pytest.mark.parametrize(
    ("k1", "n1", "k2", "n2"), [(30, 50, 20, 50), (5, 12, 9, 11), (0, 15, 4, 16), (20, 20, 3, 18)]
)
def test_newcombe_difference_matches_statsmodels(k1, n1, k2, n2):
    d, low, high = newcombe_difference(k1, n1, k2, n2)
    ref = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff")
    assert d == pytest.approx(k1 / n1 - k2 / n2)
    assert low == pytest.approx(ref[0], abs=1e-10)
    assert high == pytest.approx(ref[1], abs=1e-10)


@pytest.mark.parametrize(
    "table",
    [
        [[3, 9], [10, 2]],
        [[0, 7], [5, 5]],
        [[12, 1], [4, 11]],
        [[50, 30], [20, 60]],
        [[1, 0], [0, 1]],
    ],
)
def test_fisher_exact_matches_scipy(table):
    odds, p = fisher_exact_2x2(np.array(table))
    ref = stats.fisher_exact(table, alternative="two-sided")
    assert p == pytest.approx(ref.pvalue, rel=1e-9)
    assert odds == pytest.approx(ref.statistic)


@pytest.mark.parametrize(
    "table", [[[50, 30], [20, 60]], [[10, 20, 30], [25, 15, 12]], [[8, 2], [1, 9], [6, 6]]]
)
def test_pearson_chi_square_matches_scipy(table):
    stat, dof, p = pearson_chi_square(np.array(table))
    ref = stats.chi2_contingency(table, correction=False)
    assert stat == pytest.approx(ref.statistic)
    assert dof == ref.dof
    assert p == pytest.approx(ref.pvalue)


def test_association_test_chooses_fisher_only_for_small_expected_two_by_two():
    assert association_test(np.array([[1, 9], [6, 4]]))["test"] == "Fisher's exact test"
    assert association_test(np.array([[3, 9], [10, 2]]))["test"] == "Pearson chi-square"
    assert association_test(np.array([[50, 30], [20, 60]]))["test"] == "Pearson chi-square"
    wide = association_test(np.array([[8, 2], [1, 9], [6, 6]]))
    assert wide["test"].startswith("Pearson chi-square (expected counts < 5")


def test_median_ci_matches_scipy_quantile_test():
    rng = np.random.default_rng(1)
    for n in (6, 7, 11, 20, 57, 200):
        x = rng.normal(30, 10, n).round()
        low, high = median_ci(x)
        ref = stats.quantile_test(x, q=np.median(x), p=0.5).confidence_interval(0.95)
        assert (low, high) == (ref.low, ref.high)


def test_median_ci_hand_case_and_small_n():
    x = np.arange(1.0, 21.0)  # n = 20: ranks 6 and 15 (P(B <= 5) = 0.0207 <= 0.025)
    assert median_ci(x) == (6.0, 15.0)
    assert all(np.isnan(median_ci(np.arange(5.0))))  # n = 5: not estimable at 95%


# --- the rate table, comparisons and the waterfall ------------------------------------------


def test_rates_match_summary_and_wilson():
    df = cohort()
    o = derive_patient_outcomes(df, "pcl5")
    rates = rate_table(o, by="site")
    summary = summarise_outcomes(o, by="site").set_index("group")
    for _, row in rates.iterrows():
        prefix = "responders" if row.measure == "Response" else "remitters"
        ref = summary.loc[row.group]
        assert row.n_events == ref[f"{prefix}_n"] and row.n_patients == ref[f"{prefix}_N"]
        if row.suppressed == "":
            low, high = proportion_confint(row.n_events, row.n_patients, method="wilson")
            assert row.ci95_low == pytest.approx(100 * low)
            assert row.ci95_high == pytest.approx(100 * high)
    assert rates.groupby("measure")["group"].first().eq("All").all()


def test_two_level_comparison_matches_statsmodels_and_scipy():
    rng = np.random.default_rng(8)
    n = 200
    base = rng.integers(40, 70, n).astype(float)
    drug = np.arange(n) < n // 2
    end = base * np.where(drug, rng.uniform(0.3, 0.9, n), rng.uniform(0.5, 1.0, n))
    arm = {f"p{i:03d}": ("drug" if drug[i] else "control") for i in range(n)}
    o = derive_patient_outcomes(simple(list(base), list(end.round()), arm=arm), "pcl5")
    rates = rate_table(o, by="arm")
    comp = compare_groups(rates).set_index("measure").loc["Response"]
    r = rates[(rates.measure == "Response") & (rates.group != "All")].set_index("group")
    k1, n1 = r.loc["control", ["n_events", "n_patients"]]
    k2, n2 = r.loc["drug", ["n_events", "n_patients"]]
    ref = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff")
    assert (rates["suppressed"] == "").all()
    assert comp.groups == "control vs drug"
    assert comp.difference_pct == pytest.approx(100 * (k1 / n1 - k2 / n2))
    assert comp.ci95_low == pytest.approx(100 * ref[0])
    assert comp.ci95_high == pytest.approx(100 * ref[1])
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    expected_min = stats.contingency.expected_freq(table).min()
    if expected_min < 5:
        assert comp.p_value == pytest.approx(stats.fisher_exact(table).pvalue)
    else:
        assert comp.p_value == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue)


def test_group_below_threshold_is_suppressed_and_left_out_of_the_test():
    # group "small" has 10 patients (just below 11), "big1"/"big2" have 40 and 41.
    n_small, n1, n2 = 10, 40, 41
    n = n_small + n1 + n2
    base = [50.0] * n
    end = [25.0 if i % 2 else 45.0 for i in range(n)]
    grp = {
        f"p{i:03d}": "small" if i < n_small else "big1" if i < n_small + n1 else "big2"
        for i in range(n)
    }
    o = derive_patient_outcomes(simple(base, end, grp=grp), "pcl5")
    rates = rate_table(o, by="grp").query("measure == 'Response'").set_index("group")
    assert rates.loc["small", "suppressed"] == PRIMARY
    assert np.isnan(rates.loc["small", "pct"])
    # one big group must go too, or small = All - big1 - big2
    assert (rates.loc[["big1", "big2"], "suppressed"] == COMPLEMENTARY).sum() == 1
    assert rates.loc["All", "suppressed"] == ""
    comp = compare_groups(rate_table(o, by="grp"))
    assert comp.empty  # only one group left to compare


def test_groups_just_at_the_threshold_are_shown():
    # 11 patients per group: "a" all respond (11 events, 0 non-events), "b" none respond.
    grp = {f"p{i:03d}": "a" if i < 11 else "b" for i in range(22)}
    end = [20.0] * 11 + [45.0] * 11
    o = derive_patient_outcomes(simple([50.0] * 22, end, grp=grp), "pcl5")
    rates = rate_table(o, by="grp").query("measure == 'Response'").set_index("group")
    assert (rates["suppressed"] == "").all()
    assert rates["pct"].tolist() == [50.0, 100.0, 0.0]
    comp = compare_groups(rate_table(o, by="grp")).set_index("measure").loc["Response"]
    assert comp.difference_pct == pytest.approx(100.0)
    assert comp.p_value == pytest.approx(
        stats.chi2_contingency([[11, 0], [0, 11]], correction=False).pvalue
    )


def test_a_group_with_ten_non_responders_is_hidden():
    # 30 patients, 20 respond and 10 do not: the 10 is a small cell, so the rate goes.
    grp = {f"p{i:03d}": "a" if i < 30 else "b" for i in range(60)}
    end = [20.0] * 20 + [45.0] * 10 + [20.0] * 15 + [45.0] * 15
    o = derive_patient_outcomes(simple([50.0] * 60, end, grp=grp), "pcl5")
    rates = rate_table(o, by="grp").query("measure == 'Response'").set_index("group")
    assert rates.loc["a", "suppressed"] != ""
    assert rates.loc["b", "suppressed"] != ""  # else a = All - b
    assert rates.loc["All", "suppressed"] == ""


def test_waterfall_sorted_with_statuses():
    base = [40.0, 40.0, 40.0, 40.0, 40.0]
    end = [50.0, 28.0, 20.0, 36.0, 30.0]  # +25%, -30% (tie: responds), -50%, -10%, -25%
    # remission is a score below 33: 28, 20 and 30 remit
    o = derive_patient_outcomes(simple(base, end), "pcl5")
    w = waterfall_table(o)
    assert w["pct_change"].tolist() == pytest.approx([25.0, -10.0, -25.0, -30.0, -50.0])
    assert w["rank"].tolist() == [1, 2, 3, 4, 5]
    assert w["status"].tolist() == [NEITHER, NEITHER, REMITTER_ONLY, BOTH, BOTH]
    counts = count_statuses(w, waterfall_statuses(o)).set_index("status")
    assert counts["n"].tolist() == [2, 0, 1, 2]
    assert counts.loc[RESPONDER_ONLY, "suppressed"] == ""  # zero identifies no one
    assert (counts.drop(index=RESPONDER_ONLY)["suppressed"] == PRIMARY).all()


def test_instrument_without_remission_has_two_statuses_and_no_remission_rows():
    o = derive_patient_outcomes(simple([40.0, 40.0], [20.0, 39.0], "caps5"), "caps5")
    assert waterfall_statuses(o) == (RESPONDER, NON_RESPONDER)
    assert waterfall_table(o)["status"].tolist() == [NON_RESPONDER, RESPONDER]
    assert set(rate_table(o)["measure"]) == {"Response"}


def test_instrument_without_response_or_remission_has_no_rates():
    o = derive_patient_outcomes(simple([40.0] * 3, [20.0] * 3, "ies_r"), "ies_r")
    assert rate_table(o).empty
    assert cumulative_response(o).empty
    assert reliable_change_table(o).empty  # no sourced reliability for IES-R


def test_one_patient_all_suppressed():
    o = derive_patient_outcomes(simple([40.0], [20.0]), "pcl5")
    rates = rate_table(o)
    assert (rates["suppressed"] == PRIMARY).all() and rates["pct"].isna().all()
    assert cumulative_response(o)["suppressed"].all()


@pytest.mark.parametrize(("end", "pct"), [([20.0] * 30, 100.0), ([45.0] * 30, 0.0)])
def test_all_or_no_responders(end, pct):
    grp = {f"p{i:03d}": "a" if i < 15 else "b" for i in range(30)}
    o = derive_patient_outcomes(simple([50.0] * 30, end, grp=grp), "pcl5")
    rates = rate_table(o, by="grp").query("measure == 'Response'").set_index("group")
    assert rates.loc["All", "pct"] == pct  # 30 of 30 / 0 of 30: nothing small to protect
    comp = compare_groups(rate_table(o, by="grp")).set_index("measure").loc["Response"]
    assert comp.difference_pct == 0.0
    assert comp.test == "not testable (all or none)"


def test_baseline_without_follow_up_is_not_in_any_denominator():
    df = simple([50.0] * 12, [20.0] * 12)
    extra = long_rows({"lonely": [(0, 0, 60.0)]})
    o = derive_patient_outcomes(pd.concat([df, extra], ignore_index=True), "pcl5")
    assert len(o.table) == 13
    assert rate_table(o).set_index("measure").loc["Response", "n_patients"] == 12
    assert len(waterfall_table(o)) == 12


# --- reliable change, transitions, cumulative response ---------------------------------------


def test_reliable_change_partition_sums_to_patients():
    df = cohort(150)
    o = derive_patient_outcomes(df, "pcl5")
    rc = reliable_change_table(o, min_cell_size=1)
    a = o.analysed
    assert rc["n"].sum() == a["reliable_change"].notna().sum()
    assert rc.set_index("category").loc[RC_CS, "n"] == a["clinically_significant"].sum()
    assert rc["pct"].sum() == pytest.approx(100.0)


def test_reliable_change_without_caseness_has_three_categories():
    rng = np.random.default_rng(2)
    base = list(rng.integers(40, 70, 40).astype(float))
    end = list((np.array(base) * rng.uniform(0.2, 1.1, 40)).round())
    o = derive_patient_outcomes(simple(base, end, "caps5"), "caps5")
    rc = reliable_change_table(o, min_cell_size=1)
    assert rc["category"].tolist() == [RC_IMPROVED_ALL, RC_NO_CHANGE, "Reliably deteriorated"]


def test_reliable_change_by_group_suppresses_small_groups():
    df = cohort(150)
    o = derive_patient_outcomes(df, "pcl5")
    rc = reliable_change_table(o, by="site")
    assert set(rc["group"]) == {"All", "A", "B", "C"}
    assert rc.loc[rc["suppressed"] != "", "pct"].isna().all()
    small = rc[(rc["n"] > 0) & (rc["n"] < 11)]
    assert (small["suppressed"] == PRIMARY).all()


def test_band_transitions_counts_match_crosstab():
    df = cohort(150)
    o = derive_patient_outcomes(df, "pcl5")
    table, status = band_transitions(o, min_cell_size=1)
    a = o.analysed
    ref = pd.crosstab(a["baseline_band"].astype(str), a["endpoint_band"].astype(str))
    assert table.iloc[:-1, :-1].to_numpy().sum() == len(a)
    for r in ref.index:
        for c in ref.columns:
            assert table.loc[r, c] == ref.loc[r, c]
    assert (status == "").all().all()


def test_cumulative_response_by_hand():
    # first response: p0 at 1, p1 at 2, p2 at 2, p3 never; 4 analysed
    pts = {
        "p0": [(0, 0, 40), (1, 2, 20), (2, 4, 20)],
        "p1": [(0, 0, 40), (1, 2, 35), (2, 4, 25)],
        "p2": [(0, 0, 40), (1, 2, 38), (2, 4, 28)],
        "p3": [(0, 0, 40), (1, 2, 39), (2, 4, 38)],
    }
    o = derive_patient_outcomes(long_rows(pts), "pcl5")
    cum = cumulative_response(o, min_cell_size=1)
    assert cum["n_responded"].tolist() == [1, 3]
    assert cum["pct"].tolist() == [25.0, 75.0]
    low, high = proportion_confint(3, 4, method="wilson")
    assert cum["ci95_low"].iloc[1] == pytest.approx(100 * low)
    assert cum["ci95_high"].iloc[1] == pytest.approx(100 * high)


# --- early signals ----------------------------------------------------------------------------


def early_cohort() -> pd.DataFrame:
    """12 patients with a hand-set 2x2: TP 5, FP 2, FN 1, TN 4 (early = >= 20% by infusion 2)."""
    pts = {}
    spec = [("TP", 5), ("FP", 2), ("FN", 1), ("TN", 4)]
    i = 0
    for kind, count in spec:
        for _ in range(count):
            early = 30.0 if kind in ("TP", "FP") else 38.0  # baseline 40: -25% vs -5%
            end = 20.0 if kind in ("TP", "FN") else 36.0  # -50% responds, -10% does not
            pts[f"p{i:02d}"] = [(0, 0, 40.0), (1, 2, early), (4, 9, early), (6, 14, end)]
            i += 1
    return long_rows(pts)


def test_early_signal_two_by_two_and_metrics_by_hand():
    o = derive_patient_outcomes(early_cohort(), "pcl5")
    table, status = early_signal_counts(o, min_cell_size=1)
    assert table.loc[EARLY_YES, RESP_YES] == 5 and table.loc[EARLY_YES, RESP_NO] == 2
    assert table.loc[EARLY_NO, RESP_YES] == 1 and table.loc[EARLY_NO, RESP_NO] == 4
    m = early_signal_metrics(table, status).set_index("measure")
    assert m.loc["Sensitivity", "pct"] == pytest.approx(100 * 5 / 6)
    assert m.loc["Specificity", "pct"] == pytest.approx(100 * 4 / 6)
    assert m.loc["PPV", "pct"] == pytest.approx(100 * 5 / 7)
    assert m.loc["NPV", "pct"] == pytest.approx(100 * 4 / 5)
    low, high = proportion_confint(4, 5, method="wilson")
    assert m.loc["NPV", "ci95_low"] == pytest.approx(100 * low)
    assert m.loc["NPV", "ci95_high"] == pytest.approx(100 * high)


def test_early_signal_metrics_are_hidden_when_cells_are_small():
    o = derive_patient_outcomes(early_cohort(), "pcl5")
    table, status = early_signal_counts(o)  # every cell is below 11
    m = early_signal_metrics(table, status)
    assert m["suppressed"].all() and m["pct"].isna().all()


def test_review_list_lists_early_non_improvers_with_latest_score():
    pts = {
        "slow": [(0, 0, 40.0), (2, 4, 38.0), (4, 9, 36.0), (6, 14, 20.0)],  # flagged: -10% by 4
        "fast": [(0, 0, 40.0), (2, 4, 30.0), (4, 9, 25.0), (6, 14, 20.0)],
        "short": [(0, 0, 40.0), (2, 4, 39.0)],  # never reached 4 infusions: unknown
    }
    o = derive_patient_outcomes(long_rows(pts), "pcl5")
    r = review_list(long_rows(pts), o)
    assert r["patient_id"].tolist() == ["slow"]
    row = r.iloc[0]
    assert (row.baseline_score, row.latest_score, row.latest_infusions) == (40.0, 20.0, 6)
    assert row.latest_pct_change == pytest.approx(-50.0)


# --- trajectories by time ---------------------------------------------------------------------


def test_day_bins_are_contiguous_and_assign_edges_to_the_left_bin():
    for a, b in itertools.pairwise(DAY_BINS):
        assert a.high == b.low
    bins = assign_day_bin(pd.Series([0.5, 7.0, 7.5, 28.0, 29.0, 400.0, 0.0, np.nan]))
    assert bins.tolist()[:6] == [1, 1, 2, 4, 5, 10]
    assert bins.isna().tolist()[6:] == [True, True]


def test_day_points_keep_the_latest_assessment_per_bin():
    pts = {"p": [(0, -3, 40.0), (1, 2, 35.0), (2, 6, 30.0), (3, 9, 28.0), (6, 45, 20.0)]}
    df = long_rows(pts)
    o = derive_patient_outcomes(df, "pcl5")
    p = patient_points(df, o, time="day")
    assert p["time_label"].tolist() == ["Baseline", "Wk 1", "Wk 2", "Wk 5–8"]
    assert p["score"].tolist() == [40.0, 30.0, 28.0, 20.0]
    assert p["pct_change"].tolist() == pytest.approx([0.0, -25.0, -30.0, -50.0])
    assert p["pct_of_max"].tolist() == pytest.approx([50.0, 37.5, 35.0, 25.0])
    raw = patient_points(df, o, time="day", binned=False)
    assert len(raw) == 5


def test_time_course_mean_and_median_against_references():
    df = cohort(90)
    o = derive_patient_outcomes(df, "pcl5")
    pts = patient_points(df, o, time="infusions")
    mean = summarise_time_course(pts, statistic="mean")
    at3 = pts.loc[pts["time"] == 3, "score"].to_numpy()
    row = mean.set_index("time").loc[3]
    ref = stats.t.interval(0.95, len(at3) - 1, loc=at3.mean(), scale=stats.sem(at3))
    assert row.n == len(at3) and row.centre == pytest.approx(at3.mean())
    assert (row.ci95_low, row.ci95_high) == pytest.approx(ref)
    med = summarise_time_course(pts, statistic="median").set_index("time").loc[3]
    ci = stats.quantile_test(at3, q=np.median(at3)).confidence_interval()
    assert med.centre == np.median(at3)
    assert (med.ci95_low, med.ci95_high) == (ci.low, ci.high)


def test_time_course_groups_and_complementary_suppression():
    df = cohort(60)
    o = derive_patient_outcomes(df, "pcl5")
    groups = group_labels(o, "site").copy()
    groups.iloc[:5] = "tiny"  # 5 patients in their own group
    pts = patient_points(df, o, time="infusions")
    sm = suppress_time_course(summarise_time_course(pts, groups=groups))
    at0 = sm[sm["time"] == 0].set_index("group")
    assert at0.loc["tiny", "suppressed"] == PRIMARY
    assert (at0["suppressed"] == COMPLEMENTARY).sum() == 1  # n_time is shown
    assert at0.loc[at0["suppressed"] != "", "centre"].isna().all()
    assert (at0["n"].sum()) == at0["n_time"].iloc[0]


def test_pct_of_max_flips_a_higher_is_better_scale():
    from analytics.instruments import custom_instrument

    inst = custom_instrument(
        {"id": "wellbeing", "name": "Well", "min": 0, "max": 50, "higher_is_worse": False}
    )
    assert pct_of_max(np.array([0.0, 50.0, 10.0]), inst).tolist() == [100.0, 0.0, 80.0]


def test_sample_is_seeded_stable_and_capped():
    ids = [f"p{i:04d}" for i in range(1000)]
    a = sample_patients(ids, max_patients=200, seed=7)
    assert len(a) == 200 and a == sample_patients(list(reversed(ids)), max_patients=200, seed=7)
    assert a != sample_patients(ids, max_patients=200, seed=8)
    assert sample_patients(ids[:50], max_patients=200) == ids[:50]


def test_spaghetti_marks_status_under_the_definition():
    df = cohort(40)
    o = derive_patient_outcomes(df, "pcl5", OutcomeDefinition(response_pct=40))
    sp = spaghetti_points(df, o, time="day", max_patients=10)
    assert sp["patient_id"].nunique() == 10 and sp.attrs["n_patients"] == 40
    status = o.table.set_index("patient_id")["responder"]
    for pid, s in sp.groupby("patient_id")["status"].first().items():
        assert s == ("Responder" if status[pid] else "Non-responder")
    assert NO_OUTCOME not in set(sp["status"])
