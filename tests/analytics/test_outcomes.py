"""Known-answer tests for the patient outcomes table on small hand-built frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analytics.definitions import OutcomeDefinition, parse_endpoint
from analytics.errors import OutcomeDefinitionError
from analytics.instruments import custom_instrument, load_registry, with_custom
from analytics.outcomes import derive_patient_outcomes


def frame(rows: list[tuple], instrument: str = "pcl5", **cov: list) -> pd.DataFrame:
    """rows: (patient_id, score, infusions_received, day)."""
    df = pd.DataFrame(rows, columns=["patient_id", "score", "infusions_received", "day"])
    df.insert(1, "instrument", instrument)
    df["score"] = df["score"].astype(float)
    df["infusions_received"] = df["infusions_received"].astype("Int64")
    df["day"] = df["day"].astype(float)
    for k, v in cov.items():
        df[k] = v
    return df


def row(outcomes, pid: str) -> pd.Series:
    t = outcomes.table.set_index("patient_id")
    return t.loc[pid]


def test_baseline_is_latest_pre_treatment_within_window():
    df = frame(
        [
            ("a", 60, 0, -20),
            ("a", 50, 0, -2),  # latest pre-treatment: baseline
            ("a", 40, 1, 3),
            ("b", 55, 0, -40),  # outside the 30-day window
            ("b", 40, 2, 5),
            ("c", 44, pd.NA, -1),  # no infusion count: day <= 0 is pre-treatment
            ("c", 30, pd.NA, 10),
        ]
    )
    o = derive_patient_outcomes(df, "pcl5")
    assert row(o, "a").baseline_score == 50
    assert row(o, "a").baseline_day == -2
    assert math.isnan(row(o, "b").baseline_score)
    assert row(o, "b").exclusion_reason == "no baseline within 30 days"
    assert row(o, "c").baseline_score == 44 and row(o, "c").endpoint_score == 30
    wider = derive_patient_outcomes(df, "pcl5", OutcomeDefinition(baseline_window_days=45))
    assert row(wider, "b").baseline_score == 55


def test_endpoint_rules():
    df = frame(
        [
            ("a", 50, 0, 0),
            ("a", 45, 1, 2),
            ("a", 40, 6, 16),
            ("a", 30, 6, 44),  # follow-up with no further infusion, still 6 received
            ("a", 35, 7, 52),
            ("a", 20, 8, 100),
        ]
    )
    last = derive_patient_outcomes(df, "pcl5", OutcomeDefinition(endpoint="last"))
    assert row(last, "a").endpoint_score == 20
    inf6 = derive_patient_outcomes(df, "pcl5", OutcomeDefinition(endpoint="infusions:6"))
    assert row(inf6, "a").endpoint_score == 30  # the latest of the two with 6 received
    assert row(inf6, "a").endpoint_day == 44
    d45 = derive_patient_outcomes(df, "pcl5", OutcomeDefinition(endpoint="day:45"))
    assert row(d45, "a").endpoint_score == 30  # day 44 is nearest 45 within 7
    # equally near (44 and 52 are 4 days from 48): the later assessment wins
    d48 = derive_patient_outcomes(df, "pcl5", OutcomeDefinition(endpoint="day:48+-7"))
    assert row(d48, "a").endpoint_score == 35


def test_completers_versus_all_with_a_fixed_endpoint():
    df = frame(
        [
            ("done", 50, 0, 0),
            ("done", 30, 6, 16),
            ("gone", 50, 0, 0),
            ("gone", 45, 2, 5),
            ("gone", 40, 4, 9),  # dropped out after 4 infusions
            ("late", 50, 0, 0),
            ("late", 20, 8, 60),  # only assessed after the endpoint
        ]
    )
    d_all = OutcomeDefinition(endpoint="infusions:6", population="all")
    o = derive_patient_outcomes(df, "pcl5", d_all)
    assert row(o, "gone").analysed and row(o, "gone").endpoint_score == 40
    assert row(o, "gone").endpoint_carried_forward
    assert not row(o, "done").endpoint_carried_forward
    assert not row(o, "late").analysed  # nothing at or before the endpoint to carry
    comp = derive_patient_outcomes(df, "pcl5", d_all.with_(population="completers"))
    assert comp.table["analysed"].tolist() == [True, False, False]
    assert row(comp, "gone").exclusion_reason == "not assessed at the endpoint"


def test_response_exactly_at_threshold_and_remission():
    df = frame(
        [
            ("at", 50, 0, 0),
            ("at", 35, 6, 16),  # exactly 30% reduction: responds
            ("below", 50, 0, 0),
            ("below", 36, 6, 16),  # 28%: does not
            ("odd", 33, 0, 0),
            ("odd", 23.1, 6, 16),  # 30% in floating point (0.3 * 33 = 9.899999...)
            ("remit", 40, 0, 0),
            ("remit", 32, 6, 16),  # 20% reduction, but below the cut-off of 33
        ]
    )
    o = derive_patient_outcomes(df, "pcl5")
    assert bool(row(o, "at").responder) is True
    assert bool(row(o, "below").responder) is False
    assert bool(row(o, "odd").responder) is True
    assert row(o, "at")["pct_change"] == pytest.approx(-30.0)
    assert row(o, "at").improvement_pct == pytest.approx(30.0)
    assert bool(row(o, "remit").remitter) is True
    assert bool(row(o, "remit").responder) is False
    assert bool(row(o, "at").remitter) is False  # 35 is not below 33


def test_zero_baseline_has_no_percent_change_and_no_response():
    df = frame([("z", 0, 0, 0), ("z", 4, 6, 16), ("n", 40, 0, 0), ("n", 20, 6, 16)], "phq9")
    o = derive_patient_outcomes(df, "phq9")
    z = row(o, "z")
    assert z.analysed and z.change == 4
    assert math.isnan(z["pct_change"])
    assert pd.isna(z.responder)
    assert bool(z.remitter) is True  # 4 < 5: remission needs no percent change
    assert bool(row(o, "n").responder) is True


def test_missing_endpoint_and_missing_baseline():
    df = frame(
        [("only_base", 50, 0, 0), ("only_post", 40, 3, 7), ("ok", 50, 0, 0), ("ok", 20, 1, 2)]
    )
    o = derive_patient_outcomes(df, "pcl5")
    assert row(o, "only_base").exclusion_reason == "no post-baseline assessment"
    assert row(o, "only_post").exclusion_reason == "no baseline"
    assert o.table["analysed"].sum() == 1
    assert pd.isna(row(o, "only_base").responder)


def test_reliable_change_jacobson_truax_by_hand():
    # Baselines 40, 50, 60: SD = 10. r = .82 -> SE = 10 * sqrt(.18) = 4.2426,
    # S_diff = sqrt(2) * SE = 6.0, threshold = 1.96 * 6.0 = 11.76 points.
    df = frame(
        [
            ("a", 40, 0, 0),
            ("a", 28, 6, 16),  # 12-point reduction > 11.76: improved
            ("b", 50, 0, 0),
            ("b", 39, 6, 16),  # 11 points: no reliable change
            ("c", 60, 0, 0),
            ("c", 72, 6, 16),  # 12 points worse: deteriorated
        ]
    )
    o = derive_patient_outcomes(df, "pcl5")
    rc = o.reliable_change
    assert rc.method == "jacobson_truax"
    assert rc.sd == pytest.approx(10.0)
    assert rc.threshold == pytest.approx(1.96 * math.sqrt(2) * 10 * math.sqrt(1 - 0.82))
    assert rc.threshold == pytest.approx(11.76, abs=0.01)
    assert o.table["reliable_change"].tolist() == ["improved", "no reliable change", "deteriorated"]
    # clinically significant: reliably improved and crossed 33 from >= 33 to below
    assert o.table["clinically_significant"].tolist() == [True, False, False]


def test_reliable_change_fixed_published_threshold():
    # PHQ-9: reliable improvement is a change of >= 6 points (inclusive).
    df = frame([("a", 20, 0, 0), ("a", 14, 6, 16), ("b", 20, 0, 0), ("b", 15, 6, 16)], "phq9")
    o = derive_patient_outcomes(df, "phq9")
    assert o.reliable_change.method == "fixed" and o.reliable_change.threshold == 6
    assert o.table["reliable_change"].tolist() == ["improved", "no reliable change"]
    # the user's own reliability replaces the published points
    mine = derive_patient_outcomes(df, "phq9", OutcomeDefinition(rci_reliability=0.9))
    assert mine.reliable_change.method == "unavailable"  # both baselines 20: SD 0
    assert mine.table["reliable_change"].isna().all()


def test_instrument_without_remission_or_reliability():
    df = frame([("a", 40, 0, 0), ("a", 20, 6, 16)], "ies_r")
    o = derive_patient_outcomes(df, "ies_r")
    assert pd.isna(row(o, "a").responder)  # no sourced response default
    assert pd.isna(row(o, "a").remitter)
    assert o.reliable_change.method == "unavailable"
    o2 = derive_patient_outcomes(df, "ies_r", OutcomeDefinition(response_pct=50))
    assert bool(row(o2, "a").responder) is True


def test_first_response_and_early_signals():
    df = frame(
        [
            ("fast", 50, 0, 0),
            ("fast", 39, 1, 2),  # 22% after 1 infusion: early improvement
            ("fast", 34, 2, 4),  # 32%: first response
            ("fast", 30, 6, 16),
            ("slow", 50, 0, 0),
            ("slow", 48, 1, 2),
            ("slow", 45, 4, 9),  # never 20% by 4 infusions: flag
            ("slow", 30, 6, 16),  # responds later
            ("short", 50, 0, 0),
            ("short", 48, 2, 4),  # dropped before the 4th: flag unknown
        ]
    )
    o = derive_patient_outcomes(df, "pcl5")
    fast, slow, short = row(o, "fast"), row(o, "slow"), row(o, "short")
    assert fast.first_response_infusions == 2 and fast.first_response_day == 4
    assert bool(fast.early_improvement) is True and bool(fast.early_non_improvement) is False
    assert slow.first_response_infusions == 6
    assert bool(slow.early_improvement) is False and bool(slow.early_non_improvement) is True
    assert bool(short.early_improvement) is False
    assert pd.isna(short.early_non_improvement)
    assert pd.isna(short.first_response_infusions)


def test_first_response_is_bounded_by_the_endpoint():
    df = frame([("a", 50, 0, 0), ("a", 45, 6, 16), ("a", 20, 8, 60)])
    o = derive_patient_outcomes(df, "pcl5", OutcomeDefinition(endpoint="infusions:6"))
    assert pd.isna(row(o, "a").first_response_infusions)
    assert bool(row(o, "a").responder) is False


def test_time_order_uses_infusions_when_days_are_incomplete():
    # b's rows lack a day except one: ordered by infusions received instead
    df = frame([("b", 50, 0, np.nan), ("b", 40, 3, 20), ("b", 30, 5, np.nan)])
    o = derive_patient_outcomes(df, "pcl5")
    assert row(o, "b").endpoint_score == 30


def test_severity_bands_and_caseness_fallback():
    df = frame([("a", 22, 0, 0), ("a", 4, 6, 16)], "phq9")
    o = derive_patient_outcomes(df, "phq9")
    assert row(o, "a").baseline_band == "Severe" and row(o, "a").endpoint_band == "None-minimal"
    p = derive_patient_outcomes(frame([("a", 33, 0, 0), ("a", 32, 6, 16)]), "pcl5")
    assert row(p, "a").baseline_band.startswith(">= 33")
    assert row(p, "a").endpoint_band == "Below 33"


def test_higher_is_better_custom_instrument():
    wellbeing = custom_instrument(
        {"id": "wemwbs", "name": "Wellbeing", "min": 14, "max": 70, "higher_is_worse": False}
    )
    reg = with_custom([wellbeing])
    df = frame([("a", 30, 0, 0), ("a", 45, 6, 16), ("b", 30, 0, 0), ("b", 40, 6, 16)], "wemwbs")
    o = derive_patient_outcomes(df, "wemwbs", registry=reg)
    assert row(o, "a").improvement_pct == pytest.approx(50.0)
    assert o.table["responder"].tolist() == [True, False]  # custom default: 50%


def test_covariates_attached_and_counts():
    df = frame(
        [("a", 50, 0, 0), ("a", 30, 6, 16), ("b", 40, 0, 0), ("b", 39, 6, 16)],
        site=["X", "X", "Y", "Y"],
        dose=[0.5, 0.75, 0.5, 0.75],  # varies within patient: not a covariate
        bmi=[31.0, np.nan, 24.5, np.nan],  # recorded once: a covariate
    )
    o = derive_patient_outcomes(df, "pcl5")
    assert o.table["site"].tolist() == ["X", "Y"]
    assert "dose" not in o.table.columns
    assert o.table["bmi"].tolist() == [31.0, 24.5]
    assert o.table["n_assessments"].tolist() == [2, 2]


def test_rows_of_other_instruments_are_ignored():
    df = pd.concat([frame([("a", 50, 0, 0), ("a", 30, 6, 16)]), frame([("a", 20, 0, 0)], "phq9")])
    o = derive_patient_outcomes(df, "pcl5")
    assert len(o.table) == 1 and row(o, "a").n_assessments == 2


@pytest.mark.parametrize(
    ("text", "kind", "value", "window"),
    [
        ("last", "last", None, None),
        ("infusions:6", "infusions", 6, None),
        ("day:45", "day", 45, 7),
        ("day:100+-14", "day", 100, 14),
        ("day:100±14", "day", 100, 14),
    ],
)
def test_parse_endpoint(text, kind, value, window):
    rule = parse_endpoint(text)
    assert (rule.kind, rule.value, rule.window) == (kind, value, window)


@pytest.mark.parametrize("bad", ["first", "infusions:0", "infusions:x", "day:-3", "day:"])
def test_parse_endpoint_rejects(bad):
    with pytest.raises(OutcomeDefinitionError):
        parse_endpoint(bad)


@pytest.mark.parametrize(
    "kwargs",
    [{"population": "some"}, {"response_pct": 0}, {"response_pct": 120}, {"rci_reliability": 1}],
)
def test_definition_rejects(kwargs):
    with pytest.raises(OutcomeDefinitionError):
        OutcomeDefinition(**kwargs)


def test_remission_override_outside_range():
    with pytest.raises(OutcomeDefinitionError):
        OutcomeDefinition(remission_below=200).resolve(load_registry()["pcl5"])


def test_vectorised_matches_a_plain_loop_on_random_data():
    """Independent reference: a deliberately naive per-patient loop."""
    rng = np.random.default_rng(7)
    rows = []
    for p in range(150):
        n_post = rng.integers(0, 8)
        if rng.random() > 0.1:
            rows.append((f"p{p}", rng.integers(0, 81), 0, -rng.integers(0, 10)))
        for k in range(1, n_post + 1):
            rows.append((f"p{p}", rng.integers(0, 81), k, 2 * k + rng.integers(0, 2)))
    df = frame(rows)
    o = derive_patient_outcomes(df, "pcl5").table.set_index("patient_id")
    for pid, g in df.groupby("patient_id"):
        g = g.sort_values(["day", "infusions_received"])
        pre = g[g["infusions_received"] == 0]
        post = g[g["infusions_received"] > 0]
        if pre.empty or post.empty:
            assert not o.loc[pid, "analysed"]
            continue
        b, e = pre["score"].iloc[-1], post["score"].iloc[-1]
        assert o.loc[pid, "baseline_score"] == b and o.loc[pid, "endpoint_score"] == e
        if b > 0:
            assert bool(o.loc[pid, "responder"]) == ((b - e) / b >= 0.3 - 1e-12)
        assert bool(o.loc[pid, "remitter"]) == (e < 33)


def _messy_frame(seed: int, n_patients: int = 160) -> pd.DataFrame:
    """Random assessments of two instruments with missing days or infusion counts, repeated
    rows (the same score twice at one time point), pre-treatment rows outside the window,
    patient ids whose text order differs from their numeric order, and covariates."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        pid = f"p{rng.integers(0, 10_000)}-{p}"
        site = ["North", "South", "East"][p % 3]
        for instrument in ("pcl5", "phq9"):
            if rng.random() < 0.2:
                continue
            top = 80 if instrument == "pcl5" else 27
            seen = set()  # one score per time point: a tie of two scores is invalid input
            for k in range(-1, int(rng.integers(0, 9))):
                inf = max(k, 0)
                day = -float(rng.integers(0, 45)) if k <= 0 else 2.0 * k + rng.integers(0, 3)
                if rng.random() < 0.15:
                    day = np.nan
                elif k > 0 and rng.random() < 0.1:
                    inf = None
                if (inf, None if np.isnan(day) else day) in seen:
                    continue
                seen.add((inf, None if np.isnan(day) else day))
                score = float(rng.integers(0, top + 1))
                rows.append((pid, instrument, score, inf, day, site))
                if rng.random() < 0.1:
                    rows.append((pid, instrument, score, inf, day, site))
    df = pd.DataFrame(
        rows, columns=["patient_id", "instrument", "score", "infusions_received", "day", "site"]
    )
    df["infusions_received"] = df["infusions_received"].astype("Int64")
    df["day"] = df["day"].astype(float)
    return df


def _naive(df: pd.DataFrame, instrument: str, definition: OutcomeDefinition) -> pd.DataFrame:
    """Per-patient loop in plain Python: DESIGN.md §3's order, baseline and endpoint."""
    rule = definition.endpoint_rule
    out = {}
    for pid, g in df[df["instrument"] == instrument].groupby("patient_id"):
        recs = [
            (r.score, None if pd.isna(r.infusions_received) else int(r.infusions_received), r.day)
            for r in g.itertuples()
        ]
        by_day = all(not math.isnan(d) for _, _, d in recs)

        def key(rec, by_day=by_day):
            inf = math.inf if rec[1] is None else rec[1]
            day = math.inf if math.isnan(rec[2]) else rec[2]
            return (day, inf) if by_day else (inf, day)

        recs.sort(key=key)
        pre = [r for r in recs if r[1] == 0 or (r[1] is None and r[2] <= 0)]
        windowed = [r for r in pre if math.isnan(r[2]) or r[2] >= -30]
        base = windowed[-1] if windowed else None
        post = [r for r in recs if r not in pre] if base else []
        if rule.kind == "last":
            end = post[-1] if post else None
        else:  # infusions:N, population "all": the last before N when N was not reached
            at = [r for r in post if r[1] == rule.value]
            before = [r for r in post if r[1] is not None and r[1] < rule.value]
            end = at[-1] if at else (before[-1] if before else None)
        out[pid] = {
            "baseline_score": base[0] if base else np.nan,
            "endpoint_score": end[0] if base and end else np.nan,
            "analysed": bool(base and end),
            "n_assessments": len(recs),
        }
    return pd.DataFrame.from_dict(out, orient="index").sort_index()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("endpoint", ["last", "infusions:3"])
def test_derivation_equals_a_plain_loop_with_missing_times_and_repeats(seed, endpoint):
    df = _messy_frame(seed)
    definition = OutcomeDefinition(endpoint=endpoint)
    ref = _naive(df, "pcl5", definition)
    got = derive_patient_outcomes(df, "pcl5", definition).table.set_index("patient_id")
    assert list(got.index) == list(ref.index)
    for col in ref.columns:
        np.testing.assert_array_equal(got[col].to_numpy(dtype=float), ref[col].to_numpy(float))


def _text_as(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    out = df.copy()
    for col in ("patient_id", "instrument", "site"):
        if kind == "categorical":  # categories deliberately not in text order
            levels = list(pd.unique(out[col]))[::-1]
            out[col] = pd.Categorical(out[col], categories=levels)
        else:
            out[col] = out[col].astype(kind)
    return out


@pytest.mark.parametrize("kind", ["object", "string[python]", "string[pyarrow]", "categorical"])
@pytest.mark.parametrize("order", ["sorted", "shuffled"])
def test_derivation_is_the_same_for_every_text_dtype_and_row_order(kind, order):
    """The canonical frame comes sorted by patient and time (a fast path skips the sort);
    any other order, and any text dtype, must give the same table."""
    df = _messy_frame(4)
    definition = OutcomeDefinition(endpoint="infusions:4")
    ref = derive_patient_outcomes(df, "pcl5", definition).table
    data = df.sort_values(["patient_id", "instrument", "day", "infusions_received"])
    if order == "shuffled":
        data = data.sample(frac=1.0, random_state=5)
    data = _text_as(data.reset_index(drop=True), kind)
    got = derive_patient_outcomes(data, "pcl5", definition).table
    got["site"] = got["site"].astype(object)
    pd.testing.assert_frame_equal(got, ref.assign(site=ref["site"].astype(object)))
