"""Durability: durations derived on hand-built frames, Kaplan–Meier against a hand-computed
case and lifelines, log-rank against a hand-written statistic, and small-cell suppression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test
from lifelines.utils import median_survival_times
from scipy import stats

from analytics.charts_durability import km_notes, km_summary_table, plot_kaplan_meier
from analytics.definitions import OutcomeDefinition
from analytics.durability import (
    DURATION_COLUMNS,
    SUMMARY_COLUMNS,
    at_risk_times,
    derive_loss_of_response,
    derive_time_to_response,
    fit_kaplan_meier,
    group_order,
    level_labels,
    suppress_kaplan_meier,
)
from analytics.errors import DataValidationError
from analytics.outcomes import derive_patient_outcomes
from analytics.suppression import complementary_suppression, count_label, suppress_curve_tail


def long_frame(visits: dict[str, list[tuple[int, float, float]]], **covariates) -> pd.DataFrame:
    """``{patient: [(infusions_received, day, score), ...]}`` -> canonical PCL-5 rows."""
    rows = [
        {"patient_id": p, "instrument": "pcl5", "infusions_received": i, "day": d, "score": s}
        for p, vs in visits.items()
        for i, d, s in vs
    ]
    df = pd.DataFrame(rows)
    df["infusions_received"] = df["infusions_received"].astype("Int64")
    df["score"] = df["score"].astype("float64")
    for col, values in covariates.items():
        df[col] = df["patient_id"].map(values)
    return df


# PCL-5: response = >= 30% reduction from baseline.
CASES = {
    # responds at the first post-baseline visit: 50 -> 35 is exactly 30%
    "first_visit": [(0, 0, 50), (1, 2, 35), (6, 20, 30), (6, 45, 32)],
    # never responds: censored at the last post-baseline assessment
    "never": [(0, -3, 50), (1, 2, 45), (3, 7, 40), (6, 20, 38)],
    # responds (day 5), then loses response at day 45 (40 -> 35 is 12.5%), regains later
    "loses": [(0, 0, 40), (2, 5, 25), (6, 20, 26), (6, 45, 35), (7, 100, 20)],
    # responds at day 10 and keeps it (day 45: 60 -> 42 is exactly 30%, still responding)
    "keeps": [(0, 0, 60), (1, 3, 60), (4, 10, 40), (6, 45, 42), (6, 100, 30)],
    # drops out after one assessment without responding
    "dropout": [(0, 0, 50), (1, 2, 48)],
    # responds at the last assessment: no follow-up after the first response
    "late": [(0, 0, 50), (1, 2, 48), (3, 7, 30)],
    # baseline only
    "no_follow_up": [(0, 0, 50)],
    # a baseline of 0 has no percent change
    "zero_base": [(0, 0, 0), (1, 2, 0)],
}


@pytest.fixture(scope="module")
def cases():
    data = long_frame(CASES)
    return data, derive_patient_outcomes(data, "pcl5")


def by_patient(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("patient_id")


def test_time_to_response_in_days(cases):
    _, outcomes = cases
    d = by_patient(derive_time_to_response(outcomes, time="day"))
    assert list(derive_time_to_response(outcomes).columns) == list(DURATION_COLUMNS)
    expected = {
        "first_visit": (2, True),
        "never": (20, False),
        "loses": (5, True),
        "keeps": (10, True),
        "dropout": (2, False),
        "late": (7, True),
    }
    for pid, (duration, event) in expected.items():
        assert d.loc[pid, "included"], pid
        assert d.loc[pid, "duration"] == duration, pid
        assert d.loc[pid, "event"] == event, pid
    assert not d.loc["no_follow_up", "included"]
    assert d.loc["no_follow_up", "exclusion_reason"] == "no post-baseline assessment"
    assert not d.loc["zero_base", "included"]
    assert "baseline of 0" in d.loc["zero_base", "exclusion_reason"]


def test_time_to_response_in_infusions(cases):
    _, outcomes = cases
    d = by_patient(derive_time_to_response(outcomes, time="infusions"))
    assert d.loc["first_visit", "duration"] == 1 and d.loc["first_visit", "event"]
    assert d.loc["loses", "duration"] == 2
    assert d.loc["keeps", "duration"] == 4
    assert d.loc["never", "duration"] == 6 and not d.loc["never", "event"]


def test_time_to_response_stops_at_a_fixed_endpoint(cases):
    data, _ = cases
    o = derive_patient_outcomes(data, "pcl5", OutcomeDefinition(endpoint="infusions:1"))
    d = by_patient(derive_time_to_response(o, time="day"))
    # "keeps" responds only after 4 infusions: censored at its endpoint (day 3)
    assert d.loc["keeps", "duration"] == 3 and not d.loc["keeps", "event"]
    assert d.loc["first_visit", "duration"] == 2 and d.loc["first_visit", "event"]


def test_loss_of_response(cases):
    data, outcomes = cases
    d = by_patient(derive_loss_of_response(data, outcomes))
    assert set(d.index) == {"first_visit", "loses", "keeps", "late"}
    assert d.loc["loses", "event"] and d.loc["loses", "duration"] == 40  # day 45 - day 5
    assert not d.loc["keeps", "event"] and d.loc["keeps", "duration"] == 90  # kept to day 100
    assert not d.loc["first_visit", "event"] and d.loc["first_visit", "duration"] == 43
    assert not d.loc["late", "included"]
    assert d.loc["late", "exclusion_reason"] == "no assessment after the first response"


def test_loss_of_response_on_a_higher_is_better_scale():
    from analytics.instruments import Instrument

    inst = Instrument(
        id="wellbeing",
        name="Wellbeing",
        short_name="WB",
        min=0,
        max=100,
        higher_is_worse=False,
        response_pct=50,
        custom=True,
    )
    data = long_frame({"p": [(0, 0, 20), (1, 3, 30), (2, 6, 25)]})
    data["instrument"] = "wellbeing"
    o = derive_patient_outcomes(data, inst)
    d = by_patient(derive_loss_of_response(data, o))
    assert d.loc["p", "event"] and d.loc["p", "duration"] == 3  # +50% at day 3, +25% at day 6


def test_without_a_response_threshold_says_so():
    data = long_frame({"p": [(0, 0, 50), (1, 2, 30)]})
    data["instrument"] = "ies_r"
    o = derive_patient_outcomes(data, "ies_r")
    with pytest.raises(DataValidationError, match="response is not defined"):
        derive_time_to_response(o)
    with pytest.raises(DataValidationError, match="response is not defined"):
        derive_loss_of_response(data, o)


def test_inputs_are_not_mutated(cases):
    data, outcomes = cases
    before_data, before_table = data.copy(), outcomes.table.copy()
    derive_loss_of_response(data, outcomes)
    fit_kaplan_meier(derive_time_to_response(outcomes))
    pd.testing.assert_frame_equal(data, before_data)
    pd.testing.assert_frame_equal(outcomes.table, before_table)


# --- Kaplan–Meier ----------------------------------------------------------------------------


def durations(t, e, group=None) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "patient_id": [f"p{i}" for i in range(len(t))],
            "duration": np.asarray(t, dtype=float),
            "event": np.asarray(e, dtype=bool),
            "included": True,
            "exclusion_reason": "",
        }
    )
    if group is not None:
        df["group"] = group
    return df


def test_kaplan_meier_small_case_by_hand():
    # 7 patients: events at 2, 3, 5, 8; censored at 3, 8, 10.
    t = [2, 3, 3, 5, 8, 8, 10]
    e = [1, 1, 0, 1, 1, 0, 0]
    r = fit_kaplan_meier(durations(t, e))
    c = r.curves.set_index("time")
    s2 = 6 / 7
    s3 = s2 * (5 / 6)
    s5 = s3 * (3 / 4)
    s8 = s5 * (2 / 3)
    assert c.loc[0.0, "survival"] == 1.0
    assert c.loc[2.0, "survival"] == pytest.approx(s2)
    assert c.loc[3.0, "survival"] == pytest.approx(s3)
    assert c.loc[5.0, "survival"] == pytest.approx(s5)
    assert c.loc[8.0, "survival"] == pytest.approx(s8)
    assert c.loc[10.0, "survival"] == pytest.approx(s8)
    assert list(c["n_at_risk"]) == [7, 7, 6, 4, 3, 1]
    # exponential Greenwood ("log(-log)") interval, by hand at t = 5
    var = 1 / (7 * 6) + 1 / (6 * 5) + 1 / (4 * 3)
    se = np.sqrt(var / np.log(s5) ** 2)
    z = stats.norm.ppf(0.975)
    assert c.loc[5.0, "ci95_low"] == pytest.approx(s5 ** np.exp(z * se))
    assert c.loc[5.0, "ci95_high"] == pytest.approx(s5 ** np.exp(-z * se))
    s = r.summary.iloc[0]
    assert s["median"] == 8.0  # S(5) = 0.536 > 0.5, S(8) = 0.357
    assert (s["n_patients"], s["n_events"], s["n_censored"]) == (7, 4, 3)
    assert list(r.summary.columns) == list(SUMMARY_COLUMNS)


def test_kaplan_meier_matches_lifelines():
    rng = np.random.default_rng(4)
    t = rng.integers(1, 60, 150)
    e = rng.random(150) < 0.7
    r = fit_kaplan_meier(durations(t, e))
    kmf = KaplanMeierFitter().fit(t, e)
    ref = median_survival_times(kmf.confidence_interval_)
    s = r.summary.iloc[0]
    assert s["median"] == kmf.median_survival_time_
    assert s["median_ci95_low"] == ref.iloc[0, 0]
    assert s["median_ci95_high"] == ref.iloc[0, 1]
    np.testing.assert_allclose(r.curves["survival"], kmf.survival_function_.iloc[:, 0])
    np.testing.assert_allclose(r.curves["ci95_low"], kmf.confidence_interval_.iloc[:, 0])
    # number at risk at the table's times = patients whose time is at or after it
    for _, row in r.at_risk.iterrows():
        assert row["n_at_risk"] == int((t >= row["time"]).sum())


def test_logrank_matches_a_hand_written_statistic_and_lifelines():
    rng = np.random.default_rng(7)
    ta, tb = rng.integers(1, 40, 60), rng.integers(5, 50, 50)
    ea, eb = rng.random(60) < 0.8, rng.random(50) < 0.6
    d = durations(np.r_[ta, tb], np.r_[ea, eb], group=["A"] * 60 + ["B"] * 50)
    r = fit_kaplan_meier(d)
    # Mantel's statistic: sum over event times of O - E for group A and its variance
    t, e, g = d["duration"].to_numpy(), d["event"].to_numpy(), d["group"].to_numpy()
    o_minus_e, var = 0.0, 0.0
    for time in np.unique(t[e]):
        at_risk = t >= time
        n, na = at_risk.sum(), (at_risk & (g == "A")).sum()
        dd = (e & (t == time)).sum()
        da = (e & (t == time) & (g == "A")).sum()
        o_minus_e += da - dd * na / n
        if n > 1:
            var += dd * (na / n) * (1 - na / n) * (n - dd) / (n - 1)
    chi2 = o_minus_e**2 / var
    ref = logrank_test(ta, tb, event_observed_A=ea, event_observed_B=eb)
    assert r.logrank.test_statistic == pytest.approx(chi2)
    assert r.logrank.test_statistic == pytest.approx(ref.test_statistic)
    assert r.logrank.p_value == pytest.approx(ref.p_value)
    assert r.logrank.degrees_of_freedom == 1 and r.logrank.groups == ("A", "B")


def test_one_patient():
    r = fit_kaplan_meier(durations([4], [True]))
    assert r.summary.iloc[0]["median"] == 4
    assert r.logrank is None
    s = suppress_kaplan_meier(r, durations([4], [True]))
    assert s.summary.iloc[0]["suppressed"] and s.curves.empty


def test_no_responders_median_not_reached():
    r = fit_kaplan_meier(durations([3, 5, 8] * 5, [False] * 15))
    s = r.summary.iloc[0]
    assert np.isnan(s["median"]) and np.isnan(s["median_ci95_high"])
    assert (r.curves["survival"] == 1).all()
    assert "not reached" in km_summary_table(r, unit="days").iloc[0, -1]


def test_all_responders_reach_zero():
    r = fit_kaplan_meier(durations(list(range(1, 16)), [True] * 15))
    assert r.curves["survival"].iloc[-1] == 0
    assert r.summary.iloc[0]["median"] == 8


def test_empty_durations():
    d = durations([], [])
    r = fit_kaplan_meier(d)
    assert r.summary.empty and r.curves.empty and r.logrank is None
    assert suppress_kaplan_meier(r, d).summary.empty


def test_at_risk_times():
    assert list(at_risk_times(6, "infusions")) == [0, 1, 2, 3, 4, 5, 6]
    assert list(at_risk_times(50, "day")) == [0, 7, 14, 21, 28, 35, 42, 49]
    assert list(at_risk_times(105, "day")) == [0, 14, 28, 42, 56, 70, 84, 98]
    assert list(at_risk_times(0, "day")) == [0]


def test_group_labels_and_order():
    assert list(level_labels(pd.Series([2.0, 10.0, np.nan]))) == ["2", "10", "(missing)"]
    assert list(level_labels(pd.Series([0.5, 1.0]))) == ["0.5", "1"]
    assert group_order(["10", "2", "(missing)", "1"]) == ["1", "2", "10", "(missing)"]
    assert group_order(["b", "A", "(missing)"]) == ["A", "b", "(missing)"]


# --- small-cell suppression ------------------------------------------------------------------


def split(n_small: int, n_large: int = 40, n_third: int = 0, **more: int) -> pd.DataFrame:
    """Random durations in groups "small", "large", "third" and any ``more``."""
    sizes = {"small": n_small, "large": n_large, "third": n_third, **more}
    groups = [g for g, n in sizes.items() for _ in range(n)]
    rng = np.random.default_rng(n_small)
    n = len(groups)
    return durations(rng.integers(1, 30, n), rng.random(n) < 0.7, group=groups)


@pytest.mark.parametrize(("n_small", "hidden"), [(10, True), (11, False)])
def test_group_just_below_and_at_the_threshold(n_small, hidden):
    d = split(n_small, n_third=30)
    s = suppress_kaplan_meier(fit_kaplan_meier(d), d, min_cell_size=11)
    summary = s.summary.set_index("group")
    assert bool(summary.loc["small", "suppressed"]) is hidden
    assert ("small" in set(s.curves["group"])) is not hidden
    table = km_summary_table(s, unit="days", min_cell_size=11).set_index("Group")
    if hidden:
        assert table.loc["small", "Patients"] == "<11"
        assert table.loc["small", "Events"] == ""
        assert np.isnan(summary.loc["small", "median"])
        # 10 hidden patients would follow from the total 80 - 40 - 30: "third" goes too
        assert table.loc["third", "Patients"] == "hidden"
        assert set(s.curves["group"]) == {"large"} and s.logrank is None
    else:
        assert table.loc["small", "Patients"] == "11"
        assert not summary["suppressed"].any()
        assert s.logrank.groups == ("large", "small", "third")


def test_logrank_uses_the_groups_shown():
    d = split(6, n_large=40, n_third=30, small2=7)  # two small groups, 13 hidden together
    s = suppress_kaplan_meier(fit_kaplan_meier(d), d, min_cell_size=11)
    assert s.logrank.groups == ("large", "third")
    shown = d[d["group"].isin(["large", "third"])]
    assert s.logrank.test_statistic == pytest.approx(fit_kaplan_meier(shown).logrank.test_statistic)


def test_complementary_group_is_hidden_with_two_groups():
    d = split(5, n_large=40)  # total 45 shown elsewhere: "large" would give "small" away
    s = suppress_kaplan_meier(fit_kaplan_meier(d), d, min_cell_size=11)
    assert s.summary["suppressed"].all() and s.curves.empty and s.logrank is None
    table = km_summary_table(s, unit="days", min_cell_size=11).set_index("Group")
    assert table.loc["small", "Patients"] == "<11"
    assert table.loc["large", "Patients"] == "hidden"


def test_curves_end_where_fewer_than_the_threshold_remain_at_risk():
    d = durations(list(range(1, 31)), [True] * 30)
    s = suppress_kaplan_meier(fit_kaplan_meier(d), d, min_cell_size=11)
    assert s.curves["n_at_risk"].min() >= 11
    assert s.curves["time"].max() == 20  # 11 still at risk at time 20


def test_small_event_counts_show_as_suppressed():
    d = durations(list(range(1, 21)), [True] * 3 + [False] * 17)
    table = km_summary_table(fit_kaplan_meier(d), unit="days", min_cell_size=11)
    assert table.loc[0, "Events"] == "<11" and table.loc[0, "Censored"] == "<11"


def test_suppression_helpers():
    assert list(complementary_suppression([300, 200, 8])) == [False, True, True]
    assert list(complementary_suppression([300, 6, 7])) == [False, True, True]
    assert list(complementary_suppression([300, 5, 4, 200])) == [False, True, True, True]
    assert list(complementary_suppression([0, 20, 30])) == [False, False, False]
    assert list(complementary_suppression([11, 12])) == [False, False]
    assert list(complementary_suppression([5])) == [True]
    assert count_label(10) == "<11" and count_label(11) == "11" and count_label(0) == "0"
    assert count_label(3, min_cell_size=5) == "<5" and count_label(1234) == "1,234"
    curves = pd.DataFrame({"n_at_risk": [30, 12, 11, 10, 2]})
    assert list(suppress_curve_tail(curves)["n_at_risk"]) == [30, 12, 11]


def test_kaplan_meier_figure_is_labelled_and_hides_small_groups():
    d = split(6, n_large=40, n_third=30, small2=7)
    s = suppress_kaplan_meier(fit_kaplan_meier(d), d, min_cell_size=11)
    fig = plot_kaplan_meier(
        s,
        title="Time to first PCL-5 response",
        x_title="Days since first infusion",
        y_title="Patients still without response (%)",
        subtitle="N = 70 · synthetic demo data",
        min_cell_size=11,
    )
    names = {t.name for t in fig.data if t.name}
    assert names == {"large (n = 40)", "third (n = 30)"}
    assert fig.layout.title.text == "Time to first PCL-5 response"
    assert "synthetic demo data" in fig.layout.title.subtitle.text
    assert fig.layout.xaxis2.title.text == "Days since first infusion"
    assert fig.layout.yaxis.title.text == "Patients still without response (%)"
    at_risk = [t for t in fig.data if t.mode == "text"]
    assert len(at_risk) == 2 and all("<11" not in t.text[0] for t in at_risk)
    assert "Log-rank test across 2 groups" in km_notes(s)
