"""Linear mixed-effects model of post-baseline scores (statsmodels ``MixedLM``).

    score_ij = b0 + b1 * time_ij + b2 * baseline_i + covariates_i' g + u_0i (+ u_1i * time_ij)
               + e_ij

for assessment j of patient i: a random intercept per patient (and optionally a random slope
for time, correlated with it), fitted by REML or maximum likelihood.

Which rows: the post-baseline assessments of patients analysed under the outcome definition
(a baseline and an endpoint), up to and including the endpoint in force (with the endpoint
``last``: every post-baseline assessment), that have the chosen time (``day``: days since
the first infusion, or ``infusions``: infusions received) and every chosen covariate.

Covariates are patient-level columns: numeric ones enter as they are (one coefficient per
unit), text ones by treatment coding against their most frequent level (by patients; ties
go to the first in sorted order), the reference level, with one term per other level, in
sorted order, named ``column=level``. Term names:
``intercept``, ``day`` or ``infusions_received``, ``baseline``, then the covariate terms.

Tests compare every number with a direct ``statsmodels.formula.api.mixedlm`` fit.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats as sps

from analytics import schema as s
from analytics.errors import DataValidationError
from analytics.outcomes import PatientOutcomes
from analytics.stats import mean_ci

TimeScale = Literal["day", "infusions"]
CovariateKind = Literal["categorical", "numeric"]
TIME_TERMS: dict[str, str] = {"day": "day", "infusions": "infusions_received"}
TIME_LABELS: dict[str, str] = {
    "day": "Days since first infusion",
    "infusions": "Infusions received",
}
COEFFICIENT_COLUMNS = ("term", "estimate", "se", "ci95_low", "ci95_high", "p_value")
TRAJECTORY_COLUMNS = ("time", "estimate", "ci95_low", "ci95_high")
MIN_PATIENTS = 3
Z_95 = float(sps.norm.ppf(0.975))
_BASE = "baseline"
_TIME = "time"


class MixedModelError(DataValidationError):
    """A mixed model that cannot be fitted to these data (too few patients, collinear
    covariates, a singular or non-converging fit): the message says what to change."""


def covariate_kinds(
    covariates: pd.DataFrame, *, max_levels: int = s.MAX_FILTER_LEVELS
) -> dict[str, CovariateKind]:
    """The patient-level columns usable in the model: numeric columns (non-constant) as
    ``numeric``, text columns with 2 to ``max_levels`` levels as ``categorical``."""
    out: dict[str, CovariateKind] = {}
    for col in covariates.columns:
        values = covariates[col].dropna()
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if numeric and values.nunique() >= 2:
            out[col] = "numeric"
        elif not numeric and 2 <= values.astype(str).nunique() <= max_levels:
            out[col] = "categorical"
    return out


def model_frame(
    data: pd.DataFrame,
    outcomes: PatientOutcomes,
    *,
    time: TimeScale = "day",
    covariates: Sequence[str] = (),
) -> pd.DataFrame:
    """The rows the model uses, one per assessment: ``patient_id``, ``score``, ``time``,
    ``baseline`` and the covariate columns (patient-level, from the outcomes table).

    Rows missing the time or a covariate are dropped (complete cases)."""
    if time not in TIME_TERMS:
        raise DataValidationError(f"time scale '{time}' is not 'day' or 'infusions'")
    t = outcomes.table
    unknown = [c for c in covariates if c not in t.columns or c in _RESERVED]
    if unknown:
        raise DataValidationError(
            f"unknown covariate {', '.join(map(repr, unknown))}: not a patient-level column "
            "of these data"
        )
    patients = t.loc[t["analysed"], [s.PATIENT_ID, "baseline_score", "endpoint_day"]]
    patients = patients.assign(
        endpoint_infusions=t.loc[t["analysed"], "endpoint_infusions"].astype("float64")
    )
    rows = data.loc[
        data[s.INSTRUMENT] == outcomes.instrument.id, [s.PATIENT_ID, s.SCORE, s.INFUSIONS, s.DAY]
    ].merge(patients, on=s.PATIENT_ID, how="inner")
    day = rows[s.DAY].to_numpy(dtype="float64")
    inf = rows[s.INFUSIONS].to_numpy(dtype="float64", na_value=np.nan)
    e_day = rows["endpoint_day"].to_numpy(dtype="float64")
    e_inf = rows["endpoint_infusions"].to_numpy(dtype="float64")
    pre = (inf == 0) | (np.isnan(inf) & (day <= 0))
    with np.errstate(invalid="ignore"):
        by_day = np.isnan(day) | np.isnan(e_day) | (day <= e_day)
        by_inf = np.isnan(inf) | np.isnan(e_inf) | (inf <= e_inf)
    keep = ~pre & by_day & by_inf
    frame = pd.DataFrame(
        {
            s.PATIENT_ID: rows[s.PATIENT_ID].astype(str).to_numpy(),
            s.SCORE: rows[s.SCORE].to_numpy(dtype="float64"),
            _TIME: day if time == "day" else inf,
            _BASE: rows["baseline_score"].to_numpy(dtype="float64"),
        }
    )[keep]
    cov = t.set_index(s.PATIENT_ID)[list(covariates)]
    for col in covariates:
        frame[col] = frame[s.PATIENT_ID].map(cov[col]).to_numpy()
    return frame.dropna(subset=[_TIME, *covariates]).reset_index(drop=True)


_RESERVED = {
    s.PATIENT_ID,
    s.INSTRUMENT,
    "baseline_score",
    "endpoint_score",
    "analysed",
    "responder",
    "remitter",
}


@dataclass(frozen=True)
class MixedModelResult:
    """A fitted mixed model.

    ``coefficients`` (also ``summary``): ``term``, ``estimate``, ``se``, ``ci95_low``,
    ``ci95_high`` (Wald, normal quantile, as statsmodels), ``p_value`` (two-sided z-test).
    ``variance_components``: ``intercept_variance`` (between-patient variance of the
    random intercept), with a random slope also ``slope_variance`` and
    ``intercept_slope_covariance``, and ``residual_variance`` (within-patient).
    ``trajectory``: ``time``, ``estimate``, ``ci95_low``, ``ci95_high``: the model-based
    mean score over the observed time range for a patient at the mean baseline score, the
    reference level of every categorical covariate and the mean of every numeric one
    (patient-level means), with a 95% CI from the fixed effects' covariance.
    ``observed``: ``time`` (each infusion count, or the mean day of each week since the first
    infusion), ``n_patients``, ``n``, ``mean``, ``sd``, ``ci95_low``, ``ci95_high``: the raw
    mean score of the rows in the model at each time, to judge the fit of a line.
    ``level_counts``: ``term``, ``n_patients`` for each categorical level (reference
    included, named ``column=level``), for small-cell suppression.
    ``aic``/``bic`` are None under REML (the likelihood is not comparable across fixed
    effects). ``warnings`` are plain-language notes about the fit.
    """

    coefficients: pd.DataFrame
    variance_components: dict[str, float]
    log_likelihood: float
    aic: float | None
    bic: float | None
    n_patients: int
    n_observations: int
    converged: bool
    warnings: tuple[str, ...]
    method: Literal["REML", "ML"]
    time: TimeScale
    random_slope: bool
    covariates: tuple[str, ...]
    reference_levels: Mapping[str, str] = field(default_factory=dict)
    level_counts: pd.DataFrame = field(default_factory=pd.DataFrame)
    trajectory: pd.DataFrame = field(default_factory=pd.DataFrame)
    observed: pd.DataFrame = field(default_factory=pd.DataFrame)
    fe_covariance: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def summary(self) -> pd.DataFrame:
        return self.coefficients

    @property
    def time_term(self) -> str:
        return TIME_TERMS[self.time]


def _design(
    frame: pd.DataFrame, covariates: Sequence[str], kinds: Mapping[str, CovariateKind], time: str
) -> tuple[pd.DataFrame, dict[str, str], pd.DataFrame, list[str], list[str]]:
    """Fixed-effects design: intercept, time, baseline, numeric covariates, dummies."""
    x = pd.DataFrame(
        {"intercept": 1.0, TIME_TERMS[time]: frame[_TIME], _BASE: frame[_BASE]},
        index=frame.index,
    )
    references: dict[str, str] = {}
    counts: list[dict[str, object]] = []
    notes: list[str] = []
    used: list[str] = []
    patients = frame.drop_duplicates(s.PATIENT_ID)
    for col in covariates:
        kind = kinds.get(col, "numeric")
        if frame[col].nunique() < 2:
            notes.append(f"'{col}' takes one value in these data and was left out")
            continue
        if kind == "numeric":
            x[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
            used.append(col)
            continue
        labels = frame[col].astype(str)
        levels = sorted(labels.unique())
        used.append(col)
        per_level = patients[col].astype(str).value_counts().reindex(levels, fill_value=0)
        reference = str(per_level.idxmax())  # the most frequent level; ties: first sorted
        references[col] = reference
        for level in levels:
            counts.append({"term": f"{col}={level}", "n_patients": int(per_level[level])})
        for level in levels:
            if level != reference:
                x[f"{col}={level}"] = (labels == level).astype("float64")
    level_counts = pd.DataFrame(counts, columns=["term", "n_patients"])
    return x, references, level_counts, notes, used


def _check_rank(x: pd.DataFrame) -> None:
    rank = np.linalg.matrix_rank(x.to_numpy())
    if rank == x.shape[1]:
        return
    redundant, independent = [], []
    for j in range(x.shape[1]):
        candidate = [*independent, j]
        if np.linalg.matrix_rank(x.iloc[:, candidate].to_numpy()) == len(candidate):
            independent.append(j)
        else:
            redundant.append(str(x.columns[j]))
    names = ", ".join(redundant) or "some terms"
    raise MixedModelError(
        f"the model's terms are collinear in these data ({names} is determined by the "
        "other terms): remove a covariate or widen the filters"
    )


_WARNING_TEXT = (
    (
        "Hessian matrix at the estimated parameter values is not positive definite",
        "The Hessian is not positive definite: standard errors of the variance components "
        "are unreliable.",
    ),
    (
        "Random effects covariance is singular",
        "The random-effects covariance is singular (a variance at zero or a correlation of "
        "±1): the data do not support this random-effects structure.",
    ),
)
BOUNDARY_RATIO = 1e-3


def _translate(messages: Sequence[str]) -> list[str]:
    out: list[str] = []
    for msg in messages:
        for needle, text in _WARNING_TEXT:
            if needle in msg and text not in out:
                out.append(text)
    return out


def _boundary_notes(cov_re: np.ndarray, residual: float) -> list[str]:
    """Plain-language notes when a random-effect variance is at zero or the intercept-
    slope correlation at ±1 (relative to the residual variance, so unit-free; the slope's
    variance is on the SD-of-time scale)."""
    notes = []
    names = ("random intercept", "random slope")
    for i in range(cov_re.shape[0]):
        if cov_re[i, i] < BOUNDARY_RATIO * residual:
            notes.append(
                f"The {names[i]} variance is estimated at (or near) zero: the data do not "
                f"support a {names[i]}."
            )
    if cov_re.shape[0] == 2 and not notes:
        corr = cov_re[0, 1] / np.sqrt(cov_re[0, 0] * cov_re[1, 1])
        if abs(corr) > 0.99:
            notes.append(
                f"The random intercept and slope are almost perfectly correlated ({corr:.2f}): "
                "the data do not support a separate random slope."
            )
    return notes


DEFAULT_METHODS = ("bfgs", "lbfgs", "cg")  # statsmodels' own default sequence


def _fit(
    model: sm.MixedLM, reml: bool, random_slope: bool
) -> tuple[object, list[warnings.WarningMessage]]:
    """Fit with statsmodels' default optimisers (a random slope: L-BFGS first, which is
    faster and more reliable there); the first converged fit wins, else the last one.
    Fitting errors become :class:`MixedModelError`."""
    res = None
    caught: list[warnings.WarningMessage] = []
    attempts = [("lbfgs",), DEFAULT_METHODS] if random_slope else [DEFAULT_METHODS]
    for methods in attempts:
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            try:
                res = model.fit(reml=reml, method=list(methods))
            except (np.linalg.LinAlgError, ValueError, ZeroDivisionError) as exc:
                raise MixedModelError(
                    f"the mixed model could not be fitted ({exc}): try fewer covariates, no "
                    "random slope, or maximum likelihood"
                ) from None
        caught = list(record)
        if res.converged:
            break
    return res, caught


def fit_mixed_model(
    data: pd.DataFrame,
    outcomes: PatientOutcomes,
    *,
    time: TimeScale = "day",
    covariates: Sequence[str] = (),
    random_slope: bool = False,
    reml: bool = True,
    kinds: Mapping[str, CovariateKind] | None = None,
    allow_nonconverged: bool = False,
) -> MixedModelResult:
    """Fit the model described in the module docstring.

    ``kinds`` says which covariates are ``categorical`` or ``numeric`` (default:
    :func:`covariate_kinds` of the outcomes table). Raises :class:`MixedModelError` when
    the model cannot be fitted, and when it does not converge unless
    ``allow_nonconverged`` (the result then has ``converged`` False and says so).
    """
    covariates = tuple(dict.fromkeys(covariates))
    frame = model_frame(data, outcomes, time=time, covariates=covariates)
    kinds = dict(covariate_kinds(outcomes.table[list(covariates)]) if kinds is None else kinds)
    unusable = [c for c in covariates if c not in kinds and frame[c].nunique() >= 2]
    if unusable:
        raise MixedModelError(
            f"covariate {', '.join(map(repr, unusable))} is neither numeric nor categorical "
            f"with at most {s.MAX_FILTER_LEVELS} levels"
        )
    n_patients = int(frame[s.PATIENT_ID].nunique())
    label = outcomes.instrument.label
    if n_patients < MIN_PATIENTS:
        raise MixedModelError(
            f"too few patients for a mixed model: {n_patients} with a baseline and a "
            f"post-baseline {label} assessment (at least {MIN_PATIENTS} needed)"
        )
    x, references, level_counts, notes, used = _design(frame, covariates, kinds, time)
    if len(frame) <= x.shape[1] + 1:
        raise MixedModelError(
            f"too few assessments ({len(frame)}) for {x.shape[1]} fixed effects: "
            "use fewer covariates or widen the filters"
        )
    _check_rank(x)
    groups = frame[s.PATIENT_ID].to_numpy()
    if random_slope:
        spread = frame.groupby(s.PATIENT_ID)[_TIME].nunique()
        if int((spread >= 2).sum()) < MIN_PATIENTS:
            raise MixedModelError(
                "a random slope needs patients assessed at two or more times: too few here "
                "(fit without the random slope)"
            )
        # The random slope's design column is time divided by its largest absolute value:
        # the same model (the covariance is rescaled back below), but far better
        # conditioned for the optimiser, which then converges fast and to the optimum.
        time_unit = float(frame[_TIME].abs().max()) or 1.0
        exog_re = pd.DataFrame(
            {"intercept": 1.0, "time": frame[_TIME] / time_unit}, index=frame.index
        )
    else:
        time_unit = 1.0
        exog_re = pd.DataFrame({"intercept": 1.0}, index=frame.index)
    model = sm.MixedLM(frame[s.SCORE], x, groups=groups, exog_re=exog_re)
    res, caught = _fit(model, reml, random_slope)
    fe = res.fe_params
    k = len(fe)
    cov = res.cov_params().iloc[:k, :k]
    se = np.sqrt(np.diag(cov.to_numpy()))
    if not (np.all(np.isfinite(fe)) and np.all(np.isfinite(se)) and np.isfinite(res.llf)):
        raise MixedModelError(
            "the mixed model fit is degenerate (non-finite estimates or standard errors): "
            "try fewer covariates, no random slope, or maximum likelihood"
        )
    converged = bool(res.converged)
    notes_out = [*notes, *_translate([str(w.message) for w in caught])]
    boundary = _boundary_notes(np.asarray(res.cov_re), float(res.scale))
    if not converged:
        if not allow_nonconverged:
            raise MixedModelError(
                " ".join(
                    [
                        "the mixed model did not converge (often a variance at or near zero:",
                        "the data do not support a random effect): try without the random",
                        "slope, maximum likelihood instead of REML, or fewer covariates.",
                        *boundary,
                    ]
                )
            )
        notes_out.insert(0, "The optimiser did not converge: the estimates are not reliable.")
    z = fe.to_numpy() / se
    coefficients = pd.DataFrame(
        {
            "term": list(fe.index),
            "estimate": fe.to_numpy(),
            "se": se,
            "ci95_low": fe.to_numpy() - Z_95 * se,
            "ci95_high": fe.to_numpy() + Z_95 * se,
            "p_value": 2 * sps.norm.sf(np.abs(z)),
        }
    )
    cov_re = np.asarray(res.cov_re)
    components = {"intercept_variance": float(cov_re[0, 0])}
    if random_slope:
        components["slope_variance"] = float(cov_re[1, 1]) / time_unit**2
        components["intercept_slope_covariance"] = float(cov_re[0, 1]) / time_unit
    components["residual_variance"] = float(res.scale)
    notes_out += boundary
    aic = None if reml else float(res.aic)
    bic = None if reml else float(res.bic)
    return MixedModelResult(
        coefficients=coefficients,
        variance_components=components,
        log_likelihood=float(res.llf),
        aic=aic,
        bic=bic,
        n_patients=n_patients,
        n_observations=len(frame),
        converged=converged,
        warnings=tuple(notes_out),
        method="REML" if reml else "ML",
        time=time,
        random_slope=random_slope,
        covariates=tuple(used),
        reference_levels=references,
        level_counts=level_counts,
        trajectory=_trajectory(frame, x, fe, cov, time, list(references)),
        observed=observed_means(frame, time),
        fe_covariance=cov,
    )


def _trajectory(
    frame: pd.DataFrame,
    x: pd.DataFrame,
    fe: pd.Series,
    cov: pd.DataFrame,
    time: str,
    categorical: Sequence[str],
) -> pd.DataFrame:
    """Model-based mean over the observed time range at the mean baseline, reference
    levels and mean numeric covariates (patient-level means)."""
    lo, hi = float(frame[_TIME].min()), float(frame[_TIME].max())
    grid = np.arange(lo, hi + 1) if time == "infusions" else np.linspace(lo, hi, 60)
    per_patient = x.assign(**{s.PATIENT_ID: frame[s.PATIENT_ID]}).groupby(s.PATIENT_ID).first()
    profile = per_patient.mean()
    dummies = [c for c in x.columns if any(c.startswith(f"{col}=") for col in categorical)]
    profile[dummies] = 0.0
    rows = np.tile(profile[x.columns].to_numpy(), (len(grid), 1))
    rows[:, list(x.columns).index(TIME_TERMS[time])] = grid
    estimate = rows @ fe[x.columns].to_numpy()
    var = np.einsum("ij,jk,ik->i", rows, cov.loc[x.columns, x.columns].to_numpy(), rows)
    half = Z_95 * np.sqrt(np.maximum(var, 0.0))
    return pd.DataFrame(
        {
            "time": grid,
            "estimate": estimate,
            "ci95_low": estimate - half,
            "ci95_high": estimate + half,
        }
    )


def observed_means(frame: pd.DataFrame, time: TimeScale) -> pd.DataFrame:
    """Raw mean score (t-based 95% CI) of model rows per infusion count, or per week since
    the first infusion (at the week's mean day). Columns: see :class:`MixedModelResult`."""
    key = frame[_TIME] if time == "infusions" else np.floor(frame[_TIME] / 7.0)
    g = frame.assign(_bin=key.to_numpy()).groupby("_bin")
    out = pd.DataFrame(
        {
            "time": g[_TIME].mean(),
            "n_patients": g[s.PATIENT_ID].nunique(),
            "n": g[s.SCORE].size(),
            "mean": g[s.SCORE].mean(),
            "sd": g[s.SCORE].std(ddof=1),
        }
    ).reset_index(drop=True)
    low, high = mean_ci(out["mean"].to_numpy(), out["sd"].to_numpy(), out["n"].to_numpy())
    return out.assign(ci95_low=low, ci95_high=high)
