"""Response models against independent references (scikit-learn, statsmodels), the signal
the demo generator put in, a shuffled-outcome null, leakage and the guards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from sklearn.base import clone
from sklearn.calibration import calibration_curve
from sklearn.exceptions import NotFittedError
from sklearn.inspection import permutation_importance
from sklearn.metrics import balanced_accuracy_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import cross_val_predict, cross_validate
from sklearn.utils.validation import check_is_fitted

from analytics import __version__
from analytics.definitions import OutcomeDefinition
from analytics.features import FeatureMatrix, build_feature_matrix, feature_catalogue
from analytics.io import load_canonical
from analytics.models import (
    BASELINE_ONLY,
    MODEL,
    Z_95,
    ModelRefusedError,
    ModelSpec,
    auroc,
    calibration_table,
    check_guards,
    corrected_fold_variance,
    cross_validate_repeat,
    fit_odds_ratios,
    fit_response_model,
    model_card,
    model_card_json,
    model_card_markdown,
    model_inputs,
    model_pipelines,
    model_splits,
    permutation_importance_auroc,
    predict_what_if,
    threshold_summary,
    weighted_auroc,
    with_outcome,
)

DEMO_PATH = Path(__file__).resolve().parents[2] / "sample_data" / "demo_cohort.csv"
SIGNAL = [
    "family_history_aud",
    "bmi",
    "prior_failed_treatments",
    "psychotherapy",
    "substance_use_history",
    "baseline_pcl5",
]
FAST = ModelSpec(n_repeats=2)


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    result = load_canonical(DEMO_PATH)
    result.raise_for_errors()
    return result.data


@pytest.fixture(scope="module")
def fm(demo) -> FeatureMatrix:
    """Every pre-treatment feature of the demo cohort, PCL-5 response (latest endpoint)."""
    cat = feature_catalogue(demo, "pcl5")
    return build_feature_matrix(
        demo, "pcl5", list(cat.loc[cat["kind"] == "pre-treatment", "feature"])
    )


@pytest.fixture(scope="module")
def logistic(fm):
    """The default: 5-fold x 5 repeats, as the issue asks."""
    return fit_response_model(fm, ModelSpec())


@pytest.fixture(scope="module")
def logistic_fast(fm):
    """5-fold x 2 repeats: enough for the reference checks, at a fraction of the cost."""
    return fit_response_model(fm, FAST)


@pytest.fixture(scope="module")
def gbm(fm):
    return fit_response_model(fm, ModelSpec(model="gbm", n_repeats=2))


@pytest.fixture(scope="module")
def shuffled(fm) -> FeatureMatrix:
    rng = np.random.default_rng(1)
    return with_outcome(fm, rng.permutation(fm.y.to_numpy()))


# ------------------------------------------------------------------- signal and the null


def test_logistic_finds_the_generators_signal(logistic):
    m = logistic.metric()
    assert m["auroc"] > 0.68 and m["auroc_ci95_low"] > 0.6
    assert logistic.discriminates
    base = logistic.metric("base_rate")
    assert m["brier"] < base["brier"] - 0.02
    assert logistic.delta_auroc["ci95_low"] > 0  # beats baseline severity alone
    top = set(logistic.importance["feature"].head(6))
    assert {"prior_failed_treatments", "substance_use_history", "family_history_aud"} <= top
    ors = logistic.odds_ratios.table.set_index("term")
    assert ors.at["family_history_aud=Yes", "ci95_low"] > 1
    assert ors.at["psychotherapy=Yes", "ci95_low"] > 1
    assert ors.at["bmi", "ci95_low"] > 1
    assert ors.at["substance_use_history=Yes", "ci95_high"] < 1
    assert ors.at["prior_failed_treatments", "ci95_high"] < 1


def test_gbm_finds_the_signal(gbm):
    m = gbm.metric()
    assert m["auroc"] > 0.65 and m["auroc_ci95_low"] > 0.55
    assert {"prior_failed_treatments", "bmi"} <= set(gbm.importance["feature"].head(4))
    pdp = gbm.partial_dependence
    assert set(pdp["feature"]) >= {"prior_failed_treatments", "bmi"}
    prior = pdp[pdp["feature"] == "prior_failed_treatments"]["probability"].to_numpy()
    assert prior[0] > prior[-1]  # more failed treatments, lower predicted response
    assert (pdp["refit_low"] <= pdp["refit_high"]).all()


@pytest.mark.parametrize("kind", ["logistic", "gbm"])
def test_a_shuffled_outcome_shows_no_signal(shuffled, kind):
    spec = ModelSpec(model=kind, n_repeats=5 if kind == "logistic" else 2)
    m = fit_response_model(shuffled, spec).metric()
    assert m["auroc_ci95_low"] < 0.5 < m["auroc_ci95_high"]
    assert abs(m["auroc"] - 0.5) < 0.05


# ------------------------------------------------------------- independent references


def test_cv_metrics_equal_sklearn_cross_validate_with_the_same_splitter(fm, logistic_fast):
    from sklearn.model_selection import RepeatedStratifiedKFold

    logistic = logistic_fast
    spec = logistic.spec
    pipe = model_pipelines(fm, spec, logistic.features)[MODEL]
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=spec.seed)
    ref = cross_validate(
        pipe,
        model_inputs(fm, logistic.features)[MODEL],
        fm.y.to_numpy(),
        cv=cv,
        scoring=["roc_auc", "neg_brier_score", "balanced_accuracy"],
    )
    folds = logistic.folds[logistic.folds["model"] == MODEL]
    np.testing.assert_allclose(folds["auroc"], ref["test_roc_auc"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(folds["brier"], -ref["test_neg_brier_score"], atol=1e-12)
    np.testing.assert_allclose(
        folds["balanced_accuracy"], ref["test_balanced_accuracy"], atol=1e-12
    )
    m = logistic.metric()
    assert m["auroc"] == pytest.approx(ref["test_roc_auc"].mean(), abs=1e-12)
    assert m["brier"] == pytest.approx(-ref["test_neg_brier_score"].mean(), abs=1e-12)
    assert m["balanced_accuracy"] == pytest.approx(ref["test_balanced_accuracy"].mean(), abs=1e-12)


def test_out_of_fold_predictions_equal_cross_val_predict_per_repeat(fm, logistic_fast):
    logistic = logistic_fast
    spec = logistic.spec
    splits = model_splits(fm.y, spec)
    X, y = model_inputs(fm, logistic.features)[MODEL], fm.y.to_numpy()
    pipe = model_pipelines(fm, spec, logistic.features)[MODEL]
    for r in (0, spec.n_repeats - 1):
        ref = cross_val_predict(pipe, X, y, cv=splits[r * 5 : (r + 1) * 5], method="predict_proba")[
            :, 1
        ]
        np.testing.assert_allclose(logistic.oof_by_repeat[r], ref, atol=1e-12)
    np.testing.assert_allclose(
        logistic.predictions["probability"], logistic.oof_by_repeat.mean(axis=0)
    )


def test_odds_ratios_equal_a_direct_statsmodels_logit(fm):
    features = ["family_history_aud", "bmi", "prior_failed_treatments", "site", "baseline_gad7"]
    ours = fit_odds_ratios(fm, features).table.set_index("term")
    d = fm.X[features].assign(y=fm.y).dropna()
    fit = smf.logit(
        "y ~ C(family_history_aud, Treatment('No')) + bmi + prior_failed_treatments"
        " + C(site, Treatment('Clinic A')) + baseline_gad7",
        data=d,
    ).fit(disp=0)
    ci = np.exp(fit.conf_int())
    names = {
        "family_history_aud=Yes": "C(family_history_aud, Treatment('No'))[T.Yes]",
        "bmi": "bmi",
        "prior_failed_treatments": "prior_failed_treatments",
        "site=Clinic B": "C(site, Treatment('Clinic A'))[T.Clinic B]",
        "site=Clinic C": "C(site, Treatment('Clinic A'))[T.Clinic C]",
        "baseline_gad7": "baseline_gad7",
    }
    assert set(ours.index) == set(names)
    for term, ref in names.items():
        assert round(ours.at[term, "odds_ratio"], 4) == round(np.exp(fit.params[ref]), 4)
        assert round(ours.at[term, "ci95_low"], 4) == round(ci.loc[ref, 0], 4)
        assert round(ours.at[term, "ci95_high"], 4) == round(ci.loc[ref, 1], 4)
        assert round(ours.at[term, "p_value"], 4) == round(fit.pvalues[ref], 4)
    assert fit_odds_ratios(fm, features).n_used == len(d)
    assert ours.at["site=Clinic C", "reference"] == "Clinic A"
    assert "odds of response" in ours.at["family_history_aud=Yes", "reading"]


def test_permutation_importance_equals_sklearn(fm):
    features = ("family_history_aud", "bmi", "site")
    spec = ModelSpec(n_repeats=1)
    pipe = model_pipelines(fm, spec, features)[MODEL]
    X, y = model_inputs(fm, features)[MODEL], fm.y.to_numpy()
    train, test = model_splits(y, spec)[0]
    fitted = clone(pipe).fit(X.iloc[train], y[train])
    ours = permutation_importance_auroc(fitted, X.iloc[test], y[test], n_repeats=3, seed=11)
    ref = permutation_importance(
        fitted, X.iloc[test], y[test], scoring="roc_auc", n_repeats=3, random_state=11
    )
    np.testing.assert_allclose(ours, ref.importances, atol=1e-12)


def test_partial_dependence_equals_sklearn(fm, gbm):
    from sklearn.inspection import partial_dependence

    from analytics.models import partial_dependence_table

    table = partial_dependence_table(fm, gbm.final_estimator, [], ["bmi"], grid_points=7)
    grid = table["value"].to_numpy()
    ref = partial_dependence(
        gbm.final_estimator,
        fm.X[list(gbm.features)],
        ["bmi"],
        kind="average",
        method="brute",
        custom_values={"bmi": grid},
    )
    np.testing.assert_allclose(table["probability"], ref["average"][0], atol=1e-12)


def test_fast_metrics_equal_sklearn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    p = np.round(rng.random(200), 1)  # many ties
    assert auroc(y, p)[0] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert weighted_auroc(p, y, np.ones((1, 200)))[0] == pytest.approx(roc_auc_score(y, p))
    w = rng.integers(0, 3, 200).astype(float)
    assert weighted_auroc(p, y, w[None, :])[0] == pytest.approx(
        roc_auc_score(y, p, sample_weight=w)
    )
    from analytics.models import fold_metrics

    m = fold_metrics(y, p)
    assert m["brier"] == pytest.approx(brier_score_loss(y, p))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, p > 0.5))


def test_calibration_table_matches_sklearn_calibration_curve():
    rng = np.random.default_rng(5)
    p = rng.random(500)
    y = (rng.random(500) < p).astype(int)
    table = calibration_table(y, p)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    filled = table[table["n_patients"] > 0]
    np.testing.assert_allclose(filled["observed"], prob_true)
    np.testing.assert_allclose(filled["mean_predicted"], prob_pred)
    assert table["n_patients"].sum() == 500
    assert (table["observed_ci95_low"] <= table["observed"]).all()


def test_calibration_chart_suppresses_small_bins_and_labels_complements(logistic):
    from analytics.charts_models import hidden_counts, plot_calibration

    assert list(hidden_counts([9, 56, 24, 0], 11)) == [True, False, True, False]
    assert list(hidden_counts([5, 8, 56], 11)) == [True, True, False]  # 13 hidden: enough
    fig = plot_calibration(logistic, subtitle="s", min_cell_size=11)
    bars = next(t for t in fig.data if t.type == "bar")
    counts = logistic.calibration["n_patients"].to_numpy()
    for n, text in zip(counts, bars.text, strict=True):
        if 0 < n < 11:
            assert text == "<11"
        elif text == "hidden":
            assert n >= 11
        else:
            assert text == f"{n:,}"
    points = next(t for t in fig.data if t.name == "Observed responders (95% CI)")
    assert len(points.x) == sum(
        t not in ("<11", "hidden") and n > 0 for n, t in zip(counts, bars.text, strict=True)
    )


def test_confusion_display_hides_small_cells_their_row_partner_and_rates():
    from analytics.charts_models import confusion_display

    summary = pd.DataFrame(
        {
            "statistic": [
                *("true_positive", "false_negative", "false_positive", "true_negative"),
                *("sensitivity", "specificity", "ppv", "npv"),
            ],
            "value": [5, 300, 40, 200, 5 / 305, 200 / 240, 5 / 45, 200 / 500],
            "ci95_low": [np.nan] * 4 + [0.01, 0.78, 0.05, 0.36],
            "ci95_high": [np.nan] * 4 + [0.04, 0.88, 0.24, 0.44],
        }
    )
    matrix, rates = confusion_display(summary, min_cell_size=11)
    assert matrix.loc["Responders"].tolist() == ["<11", "hidden"]
    assert matrix.loc["Non-responders"].tolist() == ["40", "200"]
    r = rates.set_index("statistic")["value"]
    assert r["Sensitivity"].startswith("hidden") and r["Specificity"] == "83%"
    assert r["Positive predictive value"].startswith("hidden")


def test_corrected_fold_variance_known_answer():
    values = np.array([0.6, 0.7, 0.8, 0.7])
    # (1/4 + 1/(5-1)) x sample variance 0.00666...
    assert corrected_fold_variance(values, 5) == pytest.approx(0.5 * np.var(values, ddof=1))


# ------------------------------------------------------------------------------ leakage


def test_the_pipelines_handed_to_cross_validation_are_unfitted(fm):
    for est in model_pipelines(fm, FAST, ("bmi", "site")).values():
        with pytest.raises(NotFittedError):
            check_is_fitted(est)


def test_preprocessing_is_fitted_inside_each_training_fold(fm):
    features = ("bmi", "prior_failed_treatments", "baseline_phq9")  # baseline_phq9 has gaps
    rep = cross_validate_repeat(fm, FAST, 0, features=features)
    splits = model_splits(fm.y, FAST)[:5]
    X = fm.X[list(features)]
    means = []
    for est, (train, test) in zip(rep.estimators, splits, strict=True):
        num = est.named_steps["preprocess"].named_transformers_["numeric"]
        imputed = X.iloc[train].fillna(X.iloc[train].median())
        np.testing.assert_allclose(num.named_steps["impute"].statistics_, X.iloc[train].median())
        np.testing.assert_allclose(num.named_steps["scale"].mean_, imputed.mean())
        np.testing.assert_array_equal(np.sort(rep.test_indices[len(means)]), np.sort(test))
        means.append(num.named_steps["scale"].mean_)
    assert len({tuple(np.round(m, 10)) for m in means}) == 5  # every fold its own statistics
    full = X.fillna(X.median()).mean().to_numpy()
    assert all(not np.allclose(m, full, rtol=0, atol=1e-12) for m in means)


def test_input_feature_matrix_is_not_modified(fm):
    X, y = fm.X.copy(), fm.y.copy()
    fit_response_model(fm, ModelSpec(n_repeats=1))
    pd.testing.assert_frame_equal(fm.X, X)
    pd.testing.assert_series_equal(fm.y, y)


# ------------------------------------------------------------------------------- guards


def small_fm(n: int, events: int, **columns) -> FeatureMatrix:
    rng = np.random.default_rng(0)
    idx = pd.Index([f"P{i}" for i in range(n)], name="patient_id")
    X = pd.DataFrame({"x": rng.normal(size=n), **columns}, index=idx)
    cat = pd.DataFrame(
        {
            "feature": list(X.columns),
            "label": [c.upper() for c in X.columns],
            "kind": "pre-treatment",
            "dtype": ["numeric" if X[c].dtype.kind in "fi" else "categorical" for c in X.columns],
            "source": "covariate",
            "reference": "",
            "unit": "unit",
        }
    )
    y = pd.Series([1] * events + [0] * (n - events), index=idx, name="responder")
    return FeatureMatrix(
        X=X,
        y=y,
        baseline=pd.Series(rng.normal(40, 10, n), index=idx),
        catalogue=cat,
        instrument="pcl5",
        definition=OutcomeDefinition(),
        definition_text=("instrument: PCL-5 (x)", "response: >= 30% reduction from baseline"),
        n_patients_total=n,
        n_analysed=n,
    )


def test_refuses_fewer_than_40_patients_with_the_outcome():
    g = check_guards(small_fm(39, 20))
    assert not g.ok and "Only 39 patients" in g.refusal and "at least 40" in g.refusal
    with pytest.raises(ModelRefusedError, match="at least 40"):
        fit_response_model(small_fm(39, 20), FAST)
    assert check_guards(small_fm(40, 20)).ok


def test_refuses_fewer_than_10_in_the_smaller_class():
    g = check_guards(small_fm(100, 91))
    assert not g.ok and "Only 9 non-responders" in g.refusal
    g = check_guards(small_fm(100, 9))
    assert not g.ok and "Only 9 responders" in g.refusal
    assert check_guards(small_fm(100, 10)).ok


def test_warns_on_few_events_per_parameter_rare_class_and_missing_values():
    rng = np.random.default_rng(1)
    many = {f"z{i}": rng.normal(size=100) for i in range(4)}
    g = check_guards(small_fm(100, 15, **many))
    assert any("per model parameter" in w for w in g.warnings)  # 15 / 5 = 3
    assert any("Only 15% of patients are responders" in w for w in g.warnings)
    gappy = rng.normal(size=100)
    gappy[:30] = np.nan
    g = check_guards(small_fm(100, 50, gappy=gappy))
    assert any("GAPPY is missing for 30%" in w for w in g.warnings)
    assert not any("per model parameter" in w for w in check_guards(small_fm(400, 200)).warnings)


def test_constant_features_are_dropped_with_a_notice_and_all_constant_is_refused():
    g = check_guards(small_fm(100, 50, flat=np.ones(100)))
    assert g.ok and g.dropped == ("flat",) and g.features_used == ("x",)
    assert any("Dropped FLAT" in n for n in g.notices)
    only_flat = small_fm(100, 50).X.assign(x=1.0)
    fm = small_fm(100, 50)
    fm = FeatureMatrix(**{**fm.__dict__, "X": only_flat})
    assert not check_guards(fm).ok and "No usable feature" in check_guards(fm).refusal


def test_odds_ratios_report_separation_instead_of_numbers():
    n = 100
    fm = small_fm(n, 50, group=np.array(["a"] * 50 + ["b"] * 50, dtype=object))
    fm.catalogue.loc[fm.catalogue["feature"] == "group", "reference"] = "a"
    res = fit_odds_ratios(fm, ["x", "group"])
    assert not res.ok and "separates the outcome perfectly" in res.note


# --------------------------------------------------------------------- what-if, card


def test_what_if_uses_the_refits_and_moves_with_a_strong_feature(fm, logistic_fast):
    model = logistic_fast
    base = predict_what_if(model, model.profile_defaults)
    assert base.n_refits == 10
    assert 0 < base.refit_low <= base.refit_median <= base.refit_high < 1
    assert model.profile_defaults["family_history_aud"] == "No"  # the commoner level
    assert model.profile_defaults["bmi"] == pytest.approx(fm.X["bmi"].median())
    yes = predict_what_if(model, {**model.profile_defaults, "family_history_aud": "Yes"})
    assert yes.probability > base.probability + 0.05
    missing = predict_what_if(model, {**model.profile_defaults, "bmi": None})
    assert 0 < missing.probability < 1  # imputed


def test_threshold_summary_counts_and_rates(logistic_fast):
    t = threshold_summary(logistic_fast, 0.6).set_index("statistic")
    p = logistic_fast.predictions
    pred, y = p["probability"] >= 0.6, p["outcome"] == 1
    assert t.at["true_positive", "value"] == (pred & y).sum()
    assert t.at["true_negative", "value"] == (~pred & ~y).sum()
    assert t.at["sensitivity", "value"] == pytest.approx((pred & y).sum() / y.sum())
    assert t.at["specificity", "value"] == pytest.approx((~pred & ~y).sum() / (~y).sum())
    assert t.loc[
        ["true_positive", "false_negative", "false_positive", "true_negative"], "value"
    ].sum() == len(p)


def test_model_card_states_data_definition_model_metrics_and_version(fm, logistic):
    from datetime import UTC, datetime

    card = model_card(
        logistic,
        fm,
        dataset_id="demo",
        dataset_name="Demo",
        content_hash="abc123",
        filtered_hash="def456",
        filters={"site": ["Clinic A"]},
        synthetic=True,
        generated=datetime(2026, 11, 28, tzinfo=UTC),
    )
    assert json.loads(model_card_json(card)) == card
    assert card["app_version"] == __version__
    assert card["data"]["content_sha256"] == "abc123"
    assert card["data"]["n_patients"] == fm.n_patients and card["data"]["n_events"] == fm.n_events
    assert card["validation"]["auroc"] == pytest.approx(logistic.metric()["auroc"])
    assert card["validation"]["auroc_ci95_low"] < card["validation"]["auroc"]
    assert {r["model"] for r in card["validation"]["metrics"]} == {
        MODEL,
        BASELINE_ONLY,
        "base_rate",
    }
    assert card["important_features"][0]["feature"] == logistic.importance["feature"].iloc[0]
    assert any("30% reduction" in line for line in card["outcome"]["definition"])
    text = model_card_markdown(card)
    for needle in (
        "not a clinical decision tool",
        "abc123",
        "def456",
        "Clinic A",
        __version__,
        "2026-11-28",
        "AUROC",
    ):
        assert needle in text


def test_z_95_is_the_normal_quantile():
    from scipy import stats

    assert stats.norm.ppf(0.975) == Z_95
