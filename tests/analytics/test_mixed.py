"""The mixed model against a direct statsmodels formula fit on an independently built frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from analytics.charts_durability import coefficient_table, plot_model_trajectory, variance_table
from analytics.definitions import OutcomeDefinition
from analytics.errors import DataValidationError
from analytics.instruments import get_instrument
from analytics.mixed import (
    COEFFICIENT_COLUMNS,
    MixedModelError,
    covariate_kinds,
    fit_mixed_model,
    model_frame,
)
from analytics.outcomes import derive_patient_outcomes
from analytics.suppression import suppress_rows

VISITS = [(1, 2.0), (2, 5.0), (4, 11.0), (6, 20.0), (6, 45.0)]


def cohort(n: int = 60, seed: int = 1, u0_sd: float = 6.0, u1_sd: float = 0.08) -> pd.DataFrame:
    """Canonical long PCL-5 rows: a baseline and five post-baseline visits per patient."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"p{i:03d}" for i in range(n)])
    site = rng.choice(["A", "B", "C"], n, p=[0.3, 0.5, 0.2])
    sex = rng.choice(["Female", "Male"], n)
    bmi = rng.normal(28, 4, n).round(1)
    base = rng.integers(35, 70, n).astype(float)
    u0, u1 = rng.normal(0, u0_sd, n), rng.normal(0, u1_sd, n)
    site_effect = pd.Series({"A": 2.0, "B": 0.0, "C": -3.0})[site].to_numpy()
    inf = np.array([v[0] for v in VISITS])
    day = np.array([v[1] for v in VISITS])
    k = len(VISITS)
    mean = (
        8 + 0.6 * base[:, None] - (0.25 + u1[:, None]) * day[None, :] + site_effect[:, None]
    ) + u0[:, None]
    post = np.clip(np.round(mean + rng.normal(0, 4, (n, k))), 0, 80)
    scores = np.c_[base, post].ravel()
    return pd.DataFrame(
        {
            "patient_id": np.repeat(ids, k + 1),
            "instrument": "pcl5",
            "score": scores,
            "infusions_received": pd.array(np.tile(np.r_[0, inf], n), dtype="Int64"),
            "day": np.tile(np.r_[0.0, day], n),
            "site": np.repeat(site, k + 1),
            "sex": np.repeat(sex, k + 1),
            "bmi": np.repeat(bmi, k + 1),
        }
    )


def reference_frame(data: pd.DataFrame) -> pd.DataFrame:
    """Post-baseline rows with the baseline score beside them, built without the library."""
    base = data[data["infusions_received"] == 0].set_index("patient_id")["score"]
    post = data[data["infusions_received"] > 0].copy()
    post["baseline"] = post["patient_id"].map(base)
    post["infusions"] = post["infusions_received"].astype(float)
    return post


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return cohort()


@pytest.fixture(scope="module")
def outcomes(data):
    return derive_patient_outcomes(data, "pcl5")


def by_term(result) -> pd.DataFrame:
    return result.coefficients.set_index("term")


@pytest.mark.parametrize("reml", [False, True])
def test_random_intercept_matches_statsmodels(data, outcomes, reml):
    r = fit_mixed_model(data, outcomes, time="day", covariates=["site", "bmi"], reml=reml)
    ref = smf.mixedlm(
        "score ~ day + baseline + C(site, Treatment('B')) + bmi",
        reference_frame(data),
        groups="patient_id",
    ).fit(reml=reml)
    names = {
        "intercept": "Intercept",
        "day": "day",
        "baseline": "baseline",
        "site=A": "C(site, Treatment('B'))[T.A]",
        "site=C": "C(site, Treatment('B'))[T.C]",
        "bmi": "bmi",
    }
    c = by_term(r)
    assert list(c.index) == list(names)
    assert list(r.coefficients.columns) == list(COEFFICIENT_COLUMNS)
    ci = ref.conf_int()
    for term, ref_name in names.items():
        assert c.loc[term, "estimate"] == pytest.approx(ref.fe_params[ref_name], abs=1e-6)
        assert c.loc[term, "se"] == pytest.approx(ref.bse_fe[ref_name], abs=1e-6)
        assert c.loc[term, "p_value"] == pytest.approx(ref.pvalues[ref_name], abs=1e-6)
        assert c.loc[term, "ci95_low"] == pytest.approx(ci.loc[ref_name, 0], abs=1e-6)
        assert c.loc[term, "ci95_high"] == pytest.approx(ci.loc[ref_name, 1], abs=1e-6)
    vc = r.variance_components
    assert set(vc) == {"intercept_variance", "residual_variance"}
    assert vc["intercept_variance"] == pytest.approx(ref.cov_re.iloc[0, 0], rel=1e-6)
    assert vc["residual_variance"] == pytest.approx(ref.scale, rel=1e-6)
    assert r.log_likelihood == pytest.approx(ref.llf, rel=1e-9)
    assert (r.n_patients, r.n_observations) == (60, 300)
    assert r.converged and r.method == ("REML" if reml else "ML")
    if reml:
        assert r.aic is None and r.bic is None
    else:
        assert r.aic == pytest.approx(ref.aic) and r.bic == pytest.approx(ref.bic)


def test_random_slope_matches_statsmodels(data, outcomes):
    r = fit_mixed_model(
        data, outcomes, time="infusions", covariates=["sex"], random_slope=True, reml=False
    )
    ref_level = data.drop_duplicates("patient_id")["sex"].value_counts().idxmax()
    other = ({"Female", "Male"} - {ref_level}).pop()
    frame = reference_frame(data)
    frame["infusions_scaled"] = frame["infusions"] / frame["infusions"].abs().max()
    formula = f"score ~ infusions + baseline + C(sex, Treatment('{ref_level}'))"
    # the same random-effects design as the library (time / its maximum) fits to 1e-6 ...
    same = smf.mixedlm(formula, frame, groups="patient_id", re_formula="~infusions_scaled").fit(
        reml=False, method=["lbfgs"]
    )
    # ... and the textbook one (time in infusions) to the optimiser's tolerance
    plain = smf.mixedlm(formula, frame, groups="patient_id", re_formula="~infusions").fit(
        reml=False, method=["lbfgs"]
    )
    assert same.converged and plain.converged
    c = by_term(r)
    assert list(c.index) == ["intercept", "infusions_received", "baseline", f"sex={other}"]
    names = ["Intercept", "infusions", "baseline", f"C(sex, Treatment('{ref_level}'))[T.{other}]"]
    np.testing.assert_allclose(c["estimate"], same.fe_params[names], atol=1e-6)
    np.testing.assert_allclose(c["se"], same.bse_fe[names], atol=1e-6)
    np.testing.assert_allclose(c["estimate"], plain.fe_params[names], atol=1e-5)
    np.testing.assert_allclose(c["se"], plain.bse_fe[names], atol=1e-5)
    vc = r.variance_components
    unit = frame["infusions"].abs().max()
    assert vc["slope_variance"] == pytest.approx(same.cov_re.iloc[1, 1] / unit**2, rel=1e-6)
    assert vc["intercept_slope_covariance"] == pytest.approx(same.cov_re.iloc[0, 1] / unit)
    assert vc["slope_variance"] == pytest.approx(plain.cov_re.iloc[1, 1], rel=1e-3)
    assert vc["intercept_slope_covariance"] == pytest.approx(plain.cov_re.iloc[0, 1], rel=1e-3)
    assert vc["intercept_variance"] == pytest.approx(plain.cov_re.iloc[0, 0], rel=1e-3)
    assert r.log_likelihood == pytest.approx(plain.llf, rel=1e-8)


def test_reference_level_is_the_most_frequent(data, outcomes):
    r = fit_mixed_model(data, outcomes, covariates=["site", "sex"])
    site_counts = data.drop_duplicates("patient_id")["site"].value_counts()
    assert r.reference_levels["site"] == site_counts.idxmax() == "B"
    counts = r.level_counts.set_index("term")["n_patients"]
    assert counts["site=A"] + counts["site=B"] + counts["site=C"] == 60
    assert "baseline" in set(r.coefficients["term"])


def test_model_based_trajectory_uses_the_fixed_effects_covariance(data, outcomes):
    r = fit_mixed_model(data, outcomes, time="infusions", covariates=["site", "bmi"])
    t = r.trajectory
    assert list(t["time"]) == [1, 2, 3, 4, 5, 6]
    patients = data.drop_duplicates("patient_id")
    base = data[data["infusions_received"] == 0]["score"].mean()
    beta = by_term(r)["estimate"]
    x = pd.Series(0.0, index=beta.index)
    x[["intercept", "baseline", "bmi"]] = [1.0, base, patients["bmi"].mean()]
    x["infusions_received"] = 4.0
    row = t[t["time"] == 4].iloc[0]
    assert row["estimate"] == pytest.approx(float(x @ beta))
    half = stats.norm.ppf(0.975) * np.sqrt(x @ r.fe_covariance.loc[x.index, x.index] @ x)
    assert row["ci95_high"] - row["estimate"] == pytest.approx(half)


def test_rows_stop_at_the_endpoint_in_force(data):
    o = derive_patient_outcomes(data, "pcl5", OutcomeDefinition(endpoint="infusions:4"))
    frame = model_frame(data, o, time="day")
    assert frame["time"].max() == 11 and len(frame) == 60 * 3
    o = derive_patient_outcomes(data, "pcl5", OutcomeDefinition(endpoint="day:20"))
    assert model_frame(data, o, time="infusions")["time"].max() == 6
    assert len(model_frame(data, o, time="infusions")) == 60 * 4


def test_rows_missing_the_time_or_a_covariate_are_dropped(data):
    d = data.copy()
    d.loc[d.index[1], "day"] = np.nan  # p000's first post-baseline visit
    d.loc[d["patient_id"] == "p001", "bmi"] = np.nan
    o = derive_patient_outcomes(d, "pcl5")
    frame = model_frame(d, o, time="day", covariates=["bmi"])
    assert len(frame) == 300 - 1 - 5
    assert fit_mixed_model(d, o, covariates=["bmi"]).n_patients == 59


def test_unknown_covariate_is_a_clear_error(data, outcomes):
    with pytest.raises(DataValidationError, match="unknown covariate 'nope'"):
        fit_mixed_model(data, outcomes, covariates=["nope"])


def test_too_few_patients(data):
    small = data[data["patient_id"].isin(["p000", "p001"])]
    o = derive_patient_outcomes(small, "pcl5")
    with pytest.raises(MixedModelError, match="too few patients"):
        fit_mixed_model(small, o)


def test_one_patient(data):
    one = data[data["patient_id"] == "p000"]
    with pytest.raises(MixedModelError, match="too few patients"):
        fit_mixed_model(one, derive_patient_outcomes(one, "pcl5"))


def test_collinear_covariates_are_named(data):
    d = data.assign(clinic=data["site"].map({"A": "x", "B": "y", "C": "z"}))
    o = derive_patient_outcomes(d, "pcl5")
    with pytest.raises(MixedModelError, match=r"collinear.*clinic="):
        fit_mixed_model(d, o, covariates=["site", "clinic"])


def test_random_slope_needs_two_times_per_patient():
    d = cohort(n=20)
    keep = d["infusions_received"].eq(0) | (
        d["infusions_received"].eq(1 + d["patient_id"].str[-1].astype(int) % 2)
    )
    d = d[keep]  # one post-baseline visit each, at infusion 1 or 2
    o = derive_patient_outcomes(d, "pcl5")
    assert fit_mixed_model(d, o, time="infusions").n_observations == 20
    with pytest.raises(MixedModelError, match="random slope needs patients assessed at two"):
        fit_mixed_model(d, o, time="infusions", random_slope=True)


def test_a_constant_time_is_collinear():
    d = cohort(n=20)
    d = d[d["infusions_received"].isin([0, 1])]
    o = derive_patient_outcomes(d, "pcl5")
    with pytest.raises(MixedModelError, match=r"collinear in these data \(day is determined"):
        fit_mixed_model(d, o)


def test_a_covariate_with_one_level_is_left_out_with_a_note(data):
    d = data[data["site"] == "B"]
    o = derive_patient_outcomes(d, "pcl5")
    r = fit_mixed_model(d, o, covariates=["site", "bmi"])
    assert "site" not in r.covariates and "bmi" in r.covariates
    assert any("'site'" in w for w in r.warnings)
    assert not any(t.startswith("site=") for t in r.coefficients["term"])


def test_no_between_patient_variance_is_a_clear_message():
    # every patient's post-baseline residuals are a permutation of the same zero-sum set:
    # no between-patient variance at all, so the optimum is on the boundary
    d = cohort(n=40, seed=3)
    rng = np.random.default_rng(0)
    post = d["infusions_received"] > 0
    noise = np.concatenate([rng.permutation([-6.0, -3, 0, 3, 6]) for _ in range(40)])
    base = d.loc[~post, "score"].to_numpy().repeat(5)
    d.loc[post, "score"] = np.round(10 + 0.5 * base + noise)
    o = derive_patient_outcomes(d, "pcl5")
    try:
        r = fit_mixed_model(d, o)
    except MixedModelError as exc:
        assert "did not converge (often a variance at or near zero" in str(exc)
    else:
        assert any("zero" in w for w in r.warnings)
    r = fit_mixed_model(d, o, allow_nonconverged=True)
    ratio = r.variance_components["intercept_variance"] / r.variance_components["residual_variance"]
    assert ratio < 0.02
    assert r.converged or r.warnings[0].startswith("The optimiser did not converge")


def test_covariate_kinds():
    cov = pd.DataFrame(
        {
            "site": ["A", "B", "A"],
            "bmi": [20.5, 30.1, 25.0],
            "constant": ["x", "x", "x"],
            "count": [0, 1, 2],
            "flag": [True, False, True],
        }
    )
    assert covariate_kinds(cov) == {
        "site": "categorical",
        "bmi": "numeric",
        "count": "numeric",
        "flag": "categorical",
    }


def test_display_tables_and_figure(data, outcomes):
    r = fit_mixed_model(data, outcomes, covariates=["site"], random_slope=True)
    table = coefficient_table(r, min_cell_size=11)
    assert list(table["Term"]) == [
        "Intercept",
        "Time (per day)",
        "Baseline score (per point)",
        "site: A vs B",
        "site: C vs B",
    ]
    counts = r.level_counts.set_index("term")["n_patients"]
    # with a threshold above site C's patients, its coefficient is suppressed
    hidden = coefficient_table(r, min_cell_size=int(counts["site=C"]) + 1)
    assert hidden.loc[4, "Estimate"] == f"<{int(counts['site=C']) + 1}"
    assert hidden.loc[4, "95% CI"] == "" and hidden.loc[3, "Estimate"] != ""
    vt = variance_table(r)
    assert vt["Component"].str.contains("Slope per day").any()
    assert vt["Component"].str.contains("cov. \\(r = ").sum() == 1
    fig = plot_model_trajectory(
        r, get_instrument("pcl5"), endpoint="latest", note=" · synthetic demo data"
    )
    assert "N = 60 patients, 300 assessments · synthetic demo data" in (
        fig.layout.title.subtitle.text
    )
    observed = next(t for t in fig.data if t.name == "Observed mean (95% CI)")
    assert len(observed.x) == len(r.observed) and r.observed["n_patients"].max() == 60
    small = suppress_rows(
        r.observed, n_column="n_patients", value_columns=["mean"], min_cell_size=61
    )
    fig = plot_model_trajectory(r, get_instrument("pcl5"), endpoint="latest", observed=small)
    assert not any(t.name == "Observed mean (95% CI)" for t in fig.data)  # all hidden
    assert fig.layout.xaxis.title.text == "Days since first infusion"
    assert fig.layout.yaxis.title.text.startswith("PCL-5 total score (points")
    assert fig.layout.title.text == "Model-based mean PCL-5 over time"


def test_inputs_are_not_mutated(data, outcomes):
    before, table = data.copy(), outcomes.table.copy()
    fit_mixed_model(data, outcomes, covariates=["site", "bmi"])
    pd.testing.assert_frame_equal(data, before)
    pd.testing.assert_frame_equal(outcomes.table, table)


def test_demo_data_fits():
    from analytics.io import load_canonical
    from ui.datasets import DEMO_PATH

    demo = load_canonical(DEMO_PATH).data
    o = derive_patient_outcomes(demo, "pcl5")
    r = fit_mixed_model(demo, o, covariates=["site"])
    assert r.converged and r.n_patients > 700 and r.n_observations > 4500
    assert by_term(r).loc["day", "estimate"] < 0
