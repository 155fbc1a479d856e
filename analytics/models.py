"""Response models: who responds, validated without leakage and frank about uncertainty.

Given a :class:`~analytics.features.FeatureMatrix` (target ``responder`` under the outcome
definition in force) and a :class:`ModelSpec`, :func:`fit_response_model` returns a
:class:`ResponseModel`: cross-validated metrics with 95% CIs for the model and two
comparators, out-of-fold predictions, calibration, permutation importance, an odds-ratio table
from an unpenalised logistic regression, partial dependence (tree model) and the fitted
pipelines for what-if predictions.

How it is computed
------------------
- **Models.** ``logistic``: L2-penalised logistic regression (``C`` = 1 by default);
  ``gbm``: ``HistGradientBoostingClassifier`` with fixed, conservative settings for small
  cohorts (:data:`GBM_PARAMS`; no tuning: tuning would need nested cross-validation). Each is
  a ``Pipeline(ColumnTransformer, model)``: numeric features median-imputed and standardised,
  categorical ones with a "(missing)" level and one-hot encoded; preprocessing is fitted
  inside each training fold, never on held-out patients. ``random_state`` = the spec's seed.
- **Comparators**, always fitted on the same folds: ``base_rate`` (the training fold's
  responder rate for everyone: AUROC 0.5 by construction) and ``baseline_only`` (the same
  logistic model on the outcome instrument's baseline score alone).
- **Validation.** ``RepeatedStratifiedKFold(n_splits, n_repeats, random_state=seed)``.
  ``auroc``, ``brier`` and ``balanced_accuracy`` (at a predicted probability above 0.5, as
  ``predict`` does) are the means over the held-out folds: exactly what
  ``sklearn.model_selection.cross_validate`` reports for the same splitter and seed.
- **95% CIs** come from a seeded, stratified patient bootstrap (``n_bootstrap`` resamples,
  percentile interval) of the *same statistic*: each resample reweights patients and the
  fold metrics are recomputed from the out-of-fold predictions (the spread across repeats is
  not a confidence interval). The fitted models are held fixed, so the interval covers the
  sampling of patients, not refitting; ``delta_auroc`` (model minus ``baseline_only``) uses
  the same resamples, so it is a paired comparison.
- **Plots** use each patient's out-of-fold probability averaged over the repeats.
- **Permutation importance**: on each held-out fold, each feature's column is permuted
  ``n_permutations`` times and the drop in AUROC recorded (identical to
  ``sklearn.inspection.permutation_importance`` with ``scoring="roc_auc"``); the mean and SD
  are over the ``n_splits x n_repeats`` folds.
- **Odds ratios**: ``statsmodels`` ``Logit`` without penalty on complete cases, numeric
  features per unit, categorical ones per level against the first level in sorted order;
  Wald 95% CIs and p-values.
- **Partial dependence** (``gbm``): for the top numeric features by importance, from the
  model refitted on all patients, with the range over the first repeat's fold refits.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

# scikit-learn, scipy.stats and threadpoolctl are imported where they are used, so that
# importing this module (for MODEL_KINDS, DEFAULT_SEED, ... at the command line) is cheap.
if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

from analytics import __version__
from analytics.errors import DataValidationError
from analytics.features import CATEGORICAL, MISSING_LEVEL, ON_TREATMENT, FeatureMatrix

ModelKind = Literal["logistic", "gbm"]
MODEL_KINDS: tuple[str, ...] = ("logistic", "gbm")
MODEL = "model"
BASELINE_ONLY = "baseline_only"
BASE_RATE = "base_rate"
MODEL_NAMES = (MODEL, BASELINE_ONLY, BASE_RATE)
MODEL_LABELS = {
    "logistic": "Regularised logistic regression (L2)",
    "gbm": "Gradient-boosted trees (HistGradientBoosting)",
}
COMPARATOR_LABELS = {
    BASELINE_ONLY: "Baseline severity only (logistic)",
    BASE_RATE: "Base rate (no features)",
}
DEFAULT_SEED = 2026
DEFAULT_C = 1.0
GBM_PARAMS: dict[str, Any] = {
    "learning_rate": 0.05,
    "max_iter": 100,
    "max_leaf_nodes": 8,
    "min_samples_leaf": 30,
    "l2_regularization": 1.0,
    "early_stopping": False,
}
# scipy.stats.norm.ppf(0.975), to the last digit (tested): written out, because importing
# scipy.special costs every command line start 0.12 s.
Z_95 = 1.959963984540054

# Guards (issue 5).
MIN_PATIENTS = 40
MIN_SMALLER_CLASS = 10
MIN_EVENTS_PER_PARAMETER = 10.0
RARE_CLASS_PCT = 20.0
MANY_MISSING_PCT = 20.0
SUSPICIOUS_AUROC = 0.95
NOT_A_DECISION_TOOL = (
    "This summarises this clinic's past patients; it is not a clinical decision tool."
)

Progress = Callable[[float, str], None]
METRICS = ("auroc", "brier", "balanced_accuracy")
METRIC_COLUMNS = (
    "model",
    "label",
    "auroc",
    "auroc_ci95_low",
    "auroc_ci95_high",
    "auroc_fold_sd",
    "brier",
    "brier_ci95_low",
    "brier_ci95_high",
    "balanced_accuracy",
    "balanced_accuracy_ci95_low",
    "balanced_accuracy_ci95_high",
)


class ModelRefusedError(DataValidationError):
    """The data cannot support a validated model (too few patients or events, no features)."""


@dataclass(frozen=True)
class ModelSpec:
    """How to fit and validate: hashable, so it can key a cache."""

    model: ModelKind = "logistic"
    n_splits: int = 5
    n_repeats: int = 5
    seed: int = DEFAULT_SEED
    c: float = DEFAULT_C
    n_permutations: int = 1
    n_bootstrap: int = 1000

    def __post_init__(self) -> None:
        if self.model not in MODEL_KINDS:
            raise DataValidationError(
                f"model '{self.model}' is not one of {', '.join(MODEL_KINDS)}"
            )
        if not 2 <= self.n_splits <= 10:
            raise DataValidationError("cross-validation needs 2 to 10 folds")
        if not 1 <= self.n_repeats <= 50:
            raise DataValidationError("cross-validation repeats must be 1 to 50")
        if not (math.isfinite(self.c) and self.c > 0):
            raise DataValidationError("the regularisation C must be a positive number")
        if self.n_permutations < 1 or self.n_bootstrap < 100:
            raise DataValidationError("need >= 1 permutation and >= 100 bootstrap resamples")

    @property
    def label(self) -> str:
        return MODEL_LABELS[self.model]

    def describe(self) -> str:
        return (
            f"{self.label}; {self.n_splits}-fold stratified cross-validation x "
            f"{self.n_repeats} repeats (seed {self.seed})"
        )

    def hyperparameters(self) -> dict[str, Any]:
        if self.model == "logistic":
            return {"C": self.c, "penalty": "L2", "solver": "lbfgs"}
        return dict(GBM_PARAMS)


# --------------------------------------------------------------------------------- guards


@dataclass(frozen=True)
class GuardReport:
    """Whether a model may be fitted, and what the user must know about it."""

    n_patients: int
    n_events: int
    refusal: str | None
    warnings: tuple[str, ...]
    notices: tuple[str, ...]
    features_used: tuple[str, ...]
    dropped: tuple[str, ...]
    n_parameters: int

    @property
    def ok(self) -> bool:
        return self.refusal is None

    @property
    def smaller_class(self) -> int:
        return min(self.n_events, self.n_patients - self.n_events)

    @property
    def events_per_parameter(self) -> float:
        return self.smaller_class / self.n_parameters if self.n_parameters else math.inf


def _n_parameters(X: pd.DataFrame, features: Sequence[str], dtypes: Mapping[str, str]) -> int:
    total = 0
    for f in features:
        if dtypes[f] == CATEGORICAL:
            levels = X[f].nunique(dropna=True) + int(X[f].isna().any())
            total += max(levels - 1, 1)
        else:
            total += 1
    return total


def _univariate_auroc(values: pd.Series, y: pd.Series, categorical: bool) -> float:
    known = values.notna()
    v, t = values[known], y[known]
    if t.nunique() < 2 or v.nunique() < 2:
        return float("nan")
    score = t.groupby(v).transform("mean") if categorical else v.astype("float64")
    auc = float(auroc(t.to_numpy(), score.to_numpy())[0])
    return float(max(auc, 1.0 - auc))


def check_guards(fm: FeatureMatrix, spec: ModelSpec | None = None) -> GuardReport:
    """Refusals (fewer than 40 patients with the outcome, fewer than 10 in the smaller
    class, no usable feature), warnings (events per parameter below 10, a rare class, a
    feature missing for more than 20% of patients, a feature that alone separates the
    outcome almost perfectly) and notices (constant features dropped, values not used)."""
    spec = spec or ModelSpec()
    n, events = fm.n_patients, fm.n_events
    smaller = min(events, n - events)
    smaller_name = "responders" if events <= n - events else "non-responders"
    dtypes = dict(zip(fm.catalogue["feature"], fm.catalogue["dtype"], strict=True))
    labels = dict(zip(fm.catalogue["feature"], fm.catalogue["label"], strict=True))
    warn: list[str] = []
    notes: list[str] = list(fm.notes)
    refusal = None
    if n < MIN_PATIENTS:
        refusal = (
            f"Only {n} patients have the outcome defined under this definition (a baseline, an "
            f"endpoint and a response threshold); at least {MIN_PATIENTS} are needed to fit and "
            "validate a model honestly. Widen the filters or choose another endpoint."
        )
    elif smaller < MIN_SMALLER_CLASS:
        refusal = (
            f"Only {smaller} {smaller_name} among {n} patients; at least {MIN_SMALLER_CLASS} in "
            "each group are needed, or the cross-validated estimates are noise. Widen the "
            "filters or change the response threshold."
        )
    constant = [f for f in fm.features if fm.X[f].nunique(dropna=True) <= 1]
    used = tuple(f for f in fm.features if f not in constant)
    for f in constant:
        notes.append(f"Dropped {labels[f]}: it has the same value for every patient.")
    if refusal is None and not used:
        refusal = "No usable feature: every chosen feature is constant. Choose other features."
    n_params = _n_parameters(fm.X, used, dtypes) if used else 0
    if refusal is None:
        epp = smaller / n_params
        if epp < MIN_EVENTS_PER_PARAMETER:
            warn.append(
                f"{epp:.1f} {smaller_name} per model parameter ({smaller} {smaller_name}, "
                f"{n_params} parameters including each category level): below "
                f"{MIN_EVENTS_PER_PARAMETER:g}, so the model may overfit and the odds ratios "
                "are unstable. Use fewer features."
            )
        if smaller / n * 100.0 < RARE_CLASS_PCT:
            warn.append(
                f"Only {smaller / n * 100.0:.0f}% of patients are {smaller_name}: discrimination "
                "(AUROC) is still meaningful, but balanced accuracy at 0.5 and calibration at "
                "the extremes rest on few patients."
            )
        for f in used:
            pct = float(fm.X[f].isna().mean() * 100.0)
            if pct > MANY_MISSING_PCT:
                how = "a '(missing)' category" if dtypes[f] == CATEGORICAL else "the median"
                warn.append(
                    f"{labels[f]} is missing for {pct:.0f}% of patients; missing values are "
                    f"filled with {how} inside each training fold. If missingness is related "
                    "to response, this can mislead."
                )
            auc = _univariate_auroc(fm.X[f], fm.y, dtypes[f] == CATEGORICAL)
            if auc > SUSPICIOUS_AUROC:
                warn.append(
                    f"{labels[f]} alone separates responders from non-responders almost "
                    f"perfectly (AUROC {auc:.2f}): check that it is known before the outcome "
                    "and not recorded from it."
                )
    return GuardReport(
        n_patients=n,
        n_events=events,
        refusal=refusal,
        warnings=tuple(warn),
        notices=tuple(notes),
        features_used=used,
        dropped=tuple(constant),
        n_parameters=n_params,
    )


# ------------------------------------------------------------------------------ pipelines


def make_pipeline(
    kind: str,
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    c: float = DEFAULT_C,
    seed: int = DEFAULT_SEED,
) -> Pipeline:
    """An unfitted ``Pipeline(ColumnTransformer, model)``: numeric features median-imputed
    and standardised, categorical ones given a "(missing)" level and one-hot encoded."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    steps = []
    if numeric:
        num = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
        steps.append(("numeric", num, list(numeric)))
    if categorical:
        cat = Pipeline(
            [
                ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_LEVEL)),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]
        )
        steps.append(("categorical", cat, list(categorical)))
    pre = ColumnTransformer(steps, remainder="drop", verbose_feature_names_out=True)
    if kind == "logistic":
        est: Any = LogisticRegression(C=c, max_iter=5000, random_state=seed)
    elif kind == "gbm":
        est = HistGradientBoostingClassifier(random_state=seed, **GBM_PARAMS)
    else:
        raise DataValidationError(f"model '{kind}' is not one of {', '.join(MODEL_KINDS)}")
    return Pipeline([("preprocess", pre), ("model", est)])


def _split_dtypes(fm: FeatureMatrix, features: Sequence[str]) -> tuple[list[str], list[str]]:
    dtypes = dict(zip(fm.catalogue["feature"], fm.catalogue["dtype"], strict=True))
    numeric = [f for f in features if dtypes[f] != CATEGORICAL]
    categorical = [f for f in features if dtypes[f] == CATEGORICAL]
    return numeric, categorical


def model_pipelines(fm: FeatureMatrix, spec: ModelSpec, features: Sequence[str]) -> dict[str, Any]:
    """Unfitted estimators for the model and the comparators, keyed by model name."""
    from sklearn.dummy import DummyClassifier

    numeric, categorical = _split_dtypes(fm, features)
    return {
        MODEL: make_pipeline(spec.model, numeric, categorical, c=spec.c, seed=spec.seed),
        BASELINE_ONLY: make_pipeline("logistic", ["baseline"], [], c=spec.c, seed=spec.seed),
        BASE_RATE: DummyClassifier(strategy="prior"),
    }


def model_inputs(fm: FeatureMatrix, features: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The input table each estimator of :func:`model_pipelines` is fitted on."""
    baseline = fm.baseline.to_frame("baseline")
    return {MODEL: fm.X[list(features)], BASELINE_ONLY: baseline, BASE_RATE: baseline}


def model_splits(y: pd.Series | np.ndarray, spec: ModelSpec) -> list[tuple[np.ndarray, np.ndarray]]:
    """All ``n_splits x n_repeats`` (train, test) position arrays, repeat by repeat."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    cv = RepeatedStratifiedKFold(
        n_splits=spec.n_splits, n_repeats=spec.n_repeats, random_state=spec.seed
    )
    y = np.asarray(y)
    return list(cv.split(np.zeros((len(y), 1)), y))


# ------------------------------------------------------------------------------- metrics


def auroc(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUROC (Mann-Whitney with average ranks for ties) of each row of ``scores`` (shape
    ``(n,)`` or ``(m, n)``) against the 0/1 outcome ``y``; equals
    ``sklearn.metrics.roc_auc_score`` row by row, computed in one vectorised pass."""
    from scipy.stats import rankdata

    y = np.asarray(y).astype(bool)
    s = np.atleast_2d(np.asarray(scores, dtype="float64"))
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return np.full(s.shape[0], np.nan)
    ranks = rankdata(s, axis=1)
    return (ranks[:, y].sum(axis=1) - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def fold_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUROC, Brier score and balanced accuracy (predicted responder: p > 0.5, as
    ``predict`` does) of one held-out fold; equal to sklearn's ``roc_auc_score``,
    ``brier_score_loss`` and ``balanced_accuracy_score``."""
    y = np.asarray(y).astype("float64")
    pred = p > 0.5
    pos = y == 1
    return {
        "auroc": float(auroc(y, p)[0]),
        "brier": float(np.mean((p - y) ** 2)),
        "balanced_accuracy": float((pred[pos].mean() + (~pred[~pos]).mean()) / 2.0),
    }


# -------------------------------------------------------------------- permutation importance


def _permutation_seed(seed: int) -> int:
    """The seed ``sklearn.inspection.permutation_importance`` derives from ``random_state``."""
    return int(np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1))


def _output_columns(pipe: Pipeline) -> dict[str, np.ndarray]:
    """The columns of the preprocessed matrix that each input feature produces."""
    pre = pipe.named_steps["preprocess"]
    out: dict[str, np.ndarray] = {}
    for name, trans, cols in pre.transformers_:
        if name not in pre.output_indices_ or trans == "drop" or name == "remainder":
            continue
        start = pre.output_indices_[name].start
        if name == "numeric":
            for i, col in enumerate(cols):
                out[col] = np.array([start + i])
        else:
            for col, cats in zip(cols, trans.named_steps["onehot"].categories_, strict=True):
                out[col] = np.arange(start, start + len(cats))
                start += len(cats)
    return out


def permutation_importance_auroc(
    pipe: Pipeline, X: pd.DataFrame, y: np.ndarray, *, n_repeats: int, seed: int
) -> np.ndarray:
    """Drop in AUROC when each column of ``X`` is permuted, shape ``(n_columns, n_repeats)``.

    The same permutations and scores as ``sklearn.inspection.permutation_importance(pipe,
    X, y, scoring="roc_auc", n_repeats=n_repeats, random_state=seed).importances``. As the
    preprocessing is row-wise, permuting an input column equals permuting the columns it
    produces after preprocessing, so ``X`` is transformed once and the model scores all
    permuted copies in one call."""
    y = np.asarray(y)
    Z = np.asarray(pipe[:-1].transform(X), dtype="float64")
    model = pipe[-1]
    base = auroc(y, model.predict_proba(Z)[:, 1])[0]
    n = len(X)
    columns = _output_columns(pipe)
    copies = []
    for col in X.columns:
        rs = np.random.RandomState(_permutation_seed(seed))
        idx = np.arange(n)
        perm = np.arange(n)
        out = columns[col]
        for _ in range(n_repeats):
            rs.shuffle(idx)
            perm = perm[idx]
            permuted = Z.copy()
            permuted[:, out] = Z[perm][:, out]
            copies.append(permuted)
    p = model.predict_proba(np.vstack(copies))[:, 1]
    scores = auroc(y, p.reshape(len(copies), n))
    return base - scores.reshape(len(X.columns), n_repeats)


# ------------------------------------------------------------------------ cross-validation


@dataclass(frozen=True)
class RepeatResult:
    """One repeat of k-fold cross-validation: out-of-fold predictions of the model and the
    comparators (``oof``: one column per model name, rows in ``FeatureMatrix`` order), the
    fold metrics, the fitted fold pipelines and the permutation importances
    (``importance``: folds x features)."""

    repeat: int
    test_indices: tuple[np.ndarray, ...]
    oof: pd.DataFrame
    folds: pd.DataFrame
    estimators: tuple[Any, ...]
    importance: np.ndarray
    features: tuple[str, ...]


def predicting() -> AbstractContextManager:
    """Thread limits for predictions: trees predict on every core (OpenMP splits the rows,
    and each row's prediction is the same on any number of threads), BLAS on one. Fits
    stay on one thread throughout (``threadpool_limits(limits=1)``): a parallel sum of
    gradients is summed in another order on another machine, which can change a split."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def cross_validate_repeat(
    fm: FeatureMatrix,
    spec: ModelSpec,
    repeat: int,
    *,
    features: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> RepeatResult:
    """Fit and evaluate every fold of repeat ``repeat`` (0-based) for the model and the
    comparators. ``features`` defaults to the guard's usable features."""
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    if features is None:
        guard = check_guards(fm, spec)
        if not guard.ok:
            raise ModelRefusedError(guard.refusal or "")
        features = guard.features_used
    features = tuple(features)
    y = fm.y.to_numpy()
    splits = model_splits(y, spec)[repeat * spec.n_splits : (repeat + 1) * spec.n_splits]
    pipes = model_pipelines(fm, spec, features)
    inputs = model_inputs(fm, features)
    oof = {name: np.full(len(y), np.nan) for name in MODEL_NAMES}
    rows, fitted, importance, tests = [], [], [], []
    for k, (train, test) in enumerate(splits):
        for name in MODEL_NAMES:
            X = inputs[name]
            with threadpool_limits(limits=1):
                est = clone(pipes[name]).fit(X.iloc[train], y[train])
            with predicting():
                p = est.predict_proba(X.iloc[test])[:, 1]
            oof[name][test] = p
            rows.append(
                {
                    "model": name,
                    "repeat": repeat,
                    "fold": k,
                    "n_test": len(test),
                    "n_events": int(y[test].sum()),
                    **fold_metrics(y[test], p),
                }
            )
            if name == MODEL:
                fitted.append(est)
                with predicting():
                    imp = permutation_importance_auroc(
                        est,
                        X.iloc[test],
                        y[test],
                        n_repeats=spec.n_permutations,
                        seed=spec.seed + repeat * spec.n_splits + k,
                    )
                importance.append(imp.mean(axis=1))
        tests.append(test)
        if progress is not None:
            progress((k + 1) / len(splits), f"repeat {repeat + 1}, fold {k + 1}")
    return RepeatResult(
        repeat=repeat,
        test_indices=tuple(tests),
        oof=pd.DataFrame(oof),
        folds=pd.DataFrame(rows),
        estimators=tuple(fitted),
        importance=np.vstack(importance),
        features=features,
    )


# --------------------------------------------------------------------- bootstrap metrics


def weighted_auroc(scores: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC (Mann-Whitney, ties count one half) with patient weights, one value per row of
    ``weights`` (shape ``(B, n)``); NaN where a class has no weight. With unit weights it
    equals ``sklearn.metrics.roc_auc_score``."""
    order = np.argsort(scores, kind="mergesort")
    s, yy = scores[order], y[order].astype(bool)
    w = np.atleast_2d(weights)[:, order]
    starts = np.r_[0, np.flatnonzero(np.diff(s) != 0) + 1]
    wpos = np.add.reduceat(np.where(yy, w, 0.0), starts, axis=1)
    wneg = np.add.reduceat(w, starts, axis=1) - wpos
    below = np.cumsum(wneg, axis=1) - wneg
    num = (wpos * (below + 0.5 * wneg)).sum(axis=1)
    den = wpos.sum(axis=1) * wneg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _weighted_fold_metrics(
    p: np.ndarray, y: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUROC, Brier score and balanced accuracy of one fold under each row of weights."""
    auc = weighted_auroc(p, y, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        brier = w @ (p - y) ** 2 / w.sum(axis=1)
        pred = p > 0.5
        pos, neg = y == 1, y == 0
        # Products with 0/1 vectors: no copy of the weights' columns per class.
        sens = w @ (pred & pos) / (w @ pos)
        spec = w @ (~pred & neg) / (w @ neg)
    return auc, brier, (sens + spec) / 2.0


def _bootstrap_weights(y: np.ndarray, n_boot: int, seed: int, chunk: int = 200):
    """Stratified bootstrap resamples as count weights, in chunks of ``(<=chunk, n)``."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        w = np.zeros((b, len(y)))
        w[:, pos] = rng.multinomial(len(pos), np.full(len(pos), 1.0 / len(pos)), size=b)
        w[:, neg] = rng.multinomial(len(neg), np.full(len(neg), 1.0 / len(neg)), size=b)
        done += b
        yield w


def _bootstrap_metrics(
    y: np.ndarray, repeats: Sequence[RepeatResult], n_boot: int, seed: int
) -> dict[str, np.ndarray]:
    """Bootstrap distribution of each model's mean fold metrics: ``{name_metric: (B,)}``.

    The resamples are drawn in order from one seeded generator; each chunk's metrics are
    then computed on one of two threads (numpy's array work releases the GIL), which
    changes no number: a chunk's result depends only on its weights."""
    from concurrent.futures import Future, ThreadPoolExecutor

    keys = [f"{name}_{m}" for name in MODEL_NAMES for m in METRICS]
    folds = [
        (test, {name: rep.oof[name].to_numpy()[test] for name in MODEL_NAMES})
        for rep in repeats
        for test in rep.test_indices
    ]

    def chunk_means(w: np.ndarray) -> dict[str, np.ndarray]:
        sums: dict[str, list[np.ndarray]] = {key: [] for key in keys}
        for test, p in folds:
            for name in MODEL_NAMES:
                metrics = _weighted_fold_metrics(p[name], y[test], w[:, test])
                for m, values in zip(METRICS, metrics, strict=True):
                    sums[f"{name}_{m}"].append(values)
        return {key: np.nanmean(np.vstack(values), axis=0) for key, values in sums.items()}

    chunks: list[dict[str, np.ndarray]] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        running: list[Future] = []
        for w in _bootstrap_weights(y, n_boot, seed):  # at most two chunks queued or running
            running.append(pool.submit(chunk_means, w))
            if len(running) == 2:
                chunks.append(running.pop(0).result())
        chunks.extend(f.result() for f in running)
    return {key: np.concatenate([c[key] for c in chunks]) for key in keys}


def corrected_fold_variance(fold_values: np.ndarray, n_splits: int) -> float:
    """Nadeau-Bengio corrected variance of a mean over ``n_splits x n_repeats`` fold
    results: ``(1 / J + n_test / n_train) x var(fold values)``, J folds in all. The
    ``n_test / n_train`` term (``1 / (n_splits - 1)``) accounts for the overlap of the
    training sets, which makes fold results positively correlated."""
    v = np.asarray(fold_values, dtype="float64")
    v = v[np.isfinite(v)]
    if v.size < 2:
        return 0.0
    return float((1.0 / v.size + 1.0 / (n_splits - 1)) * v.var(ddof=1))


def metric_ci(
    estimate: float,
    bootstrap: np.ndarray,
    fold_values: np.ndarray,
    n_splits: int,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> tuple[float, float]:
    """95% CI: ``estimate +/- 1.96 x sqrt(bootstrap variance + corrected fold variance)``,
    clipped to ``bounds``.

    The bootstrap variance (patients resampled, fitted models held fixed) covers the
    sampling of the patients evaluated; the corrected variance over folds covers refitting
    on other training patients. Either alone is too narrow under the null (a shuffled
    outcome): see docs/prediction.md for the simulation behind this choice."""
    b = bootstrap[np.isfinite(bootstrap)]
    if not np.isfinite(estimate) or not b.size:
        return float("nan"), float("nan")
    var = float(b.var(ddof=1)) if b.size > 1 else 0.0
    se = math.sqrt(var + corrected_fold_variance(fold_values, n_splits))
    low, high = estimate - Z_95 * se, estimate + Z_95 * se
    return float(max(low, bounds[0])), float(min(high, bounds[1]))


# ---------------------------------------------------------------------------- calibration


def wilson_interval(k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score 95% interval for k of n (NaN where n = 0), as proportions."""
    k = np.asarray(k, dtype="float64")
    n = np.asarray(n, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + Z_95**2 / n
        centre = (p + Z_95**2 / (2 * n)) / denom
        half = Z_95 * np.sqrt(p * (1 - p) / n + Z_95**2 / (4 * n**2)) / denom
    return np.where(n > 0, centre - half, np.nan), np.where(n > 0, centre + half, np.nan)


def calibration_table(y: np.ndarray, p: np.ndarray, *, n_bins: int = 10) -> pd.DataFrame:
    """Reliability table over equal-width bins of predicted probability.

    Columns: ``bin_low``, ``bin_high``, ``n_patients``, ``n_events``, ``mean_predicted``,
    ``observed`` (responder proportion), ``observed_ci95_low``, ``observed_ci95_high``
    (Wilson). Bins are closed on the left except the last, which includes 1; empty bins are
    kept with NaNs. Non-empty bins match ``sklearn.calibration.calibration_curve``.
    """
    y = np.asarray(y, dtype="float64")
    p = np.asarray(p, dtype="float64")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges[1:-1], p, side="right"), 0, n_bins - 1)
    n = np.bincount(idx, minlength=n_bins)
    k = np.bincount(idx, weights=y, minlength=n_bins)
    sp = np.bincount(idx, weights=p, minlength=n_bins)
    low, high = wilson_interval(k, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                "bin_low": edges[:-1],
                "bin_high": edges[1:],
                "n_patients": n.astype("int64"),
                "n_events": k.astype("int64"),
                "mean_predicted": np.where(n > 0, sp / n, np.nan),
                "observed": np.where(n > 0, k / n, np.nan),
                "observed_ci95_low": low,
                "observed_ci95_high": high,
            }
        )


def calibration_slope_intercept(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Calibration slope (logistic regression of the outcome on the logit of ``p``; 1 is
    ideal, below 1 means predictions too extreme) and calibration-in-the-large (intercept
    with the logit as offset; 0 is ideal)."""
    import statsmodels.api as sm

    eps = 1e-6
    lp = np.log(np.clip(p, eps, 1 - eps) / (1 - np.clip(p, eps, 1 - eps)))
    y = np.asarray(y, dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            slope = sm.Logit(y, sm.add_constant(lp)).fit(disp=0).params[1]
            fam = sm.families.Binomial()
            intercept = sm.GLM(y, np.ones_like(y), family=fam, offset=lp).fit().params[0]
        except (np.linalg.LinAlgError, ValueError):
            return float("nan"), float("nan")
    return float(slope), float(intercept)


# ---------------------------------------------------------------------------- odds ratios

ODDS_RATIO_COLUMNS = (
    "term",
    "feature",
    "label",
    "level",
    "reference",
    "unit",
    "odds_ratio",
    "ci95_low",
    "ci95_high",
    "p_value",
    "reading",
)


@dataclass(frozen=True)
class OddsRatios:
    """An unpenalised logistic regression on complete cases, as an odds-ratio table.

    ``table`` columns: see :data:`ODDS_RATIO_COLUMNS` (``term`` is ``feature`` for a
    numeric feature and ``feature=level`` for a category, compared with ``reference``).
    ``note`` explains an empty table (separation, collinearity, too few complete cases)."""

    table: pd.DataFrame
    n_used: int
    n_events: int
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.table.empty


def odds_ratio_design(
    fm: FeatureMatrix, features: Sequence[str]
) -> tuple[pd.DataFrame, pd.Series, list[dict[str, str]]]:
    """Complete cases as a design matrix (numeric features as they are, categories as 0/1
    indicators against the first level in sorted order), the outcome, and one record per
    column (term, feature, level, reference)."""
    data = fm.X[list(features)]
    keep = data.notna().all(axis=1)
    data, y = data[keep], fm.y[keep]
    dtypes = dict(zip(fm.catalogue["feature"], fm.catalogue["dtype"], strict=True))
    cols: dict[str, pd.Series] = {}
    terms: list[dict[str, str]] = []
    for f in features:
        if dtypes[f] == CATEGORICAL:
            levels = sorted(data[f].astype(str).unique())
            for level in levels[1:]:
                term = f"{f}={level}"
                cols[term] = (data[f].astype(str) == level).astype("float64")
                terms.append({"term": term, "feature": f, "level": level, "reference": levels[0]})
        else:
            cols[f] = data[f].astype("float64")
            terms.append({"term": f, "feature": f, "level": "", "reference": ""})
    return pd.DataFrame(cols, index=data.index), y, terms


def _reading(row: Mapping[str, Any], label: str, unit: str) -> str:
    orr, lo, hi = row["odds_ratio"], row["ci95_low"], row["ci95_high"]
    ci = f"95% CI {lo:.2f} to {hi:.2f}"
    if row["level"]:
        who = f"Patients with {label} = {row['level']} (vs {row['reference']})"
    else:
        per = {"point": "each additional point", "%": "each additional percentage point"}
        who = f"With {per.get(unit, 'each additional unit')} of {label}, patients"
    if lo <= 1 <= hi:
        return f"{who}: no clear difference in the odds of response (OR {orr:.2f}, {ci})."
    direction = "higher" if orr > 1 else "lower"
    return (
        f"{who} had {orr:.2f} times the odds of response ({ci}): {direction} odds, "
        "holding the other features fixed."
    )


def fit_odds_ratios(fm: FeatureMatrix, features: Sequence[str]) -> OddsRatios:
    """Odds ratios from an unpenalised ``statsmodels`` ``Logit`` on complete cases."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    design, y, terms = odds_ratio_design(fm, features)
    n_used, n_events = len(y), int(y.sum())
    empty = pd.DataFrame(columns=list(ODDS_RATIO_COLUMNS))
    if n_used < MIN_PATIENTS or min(n_events, n_used - n_events) < MIN_SMALLER_CLASS:
        return OddsRatios(empty, n_used, n_events, "too few complete cases for odds ratios")
    constant = [c for c in design.columns if design[c].nunique() <= 1]
    if constant:
        return OddsRatios(
            empty,
            n_used,
            n_events,
            f"not estimable: {', '.join(constant)} does not vary among complete cases",
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = sm.Logit(y.astype("float64"), sm.add_constant(design, has_constant="add")).fit(
                disp=0, maxiter=200
            )
        except (np.linalg.LinAlgError, ValueError) as exc:
            return OddsRatios(empty, n_used, n_events, f"not estimable: {exc}")
    bad = [w for w in caught if issubclass(w.category, PerfectSeparationWarning)]
    if bad or not np.all(np.isfinite(fit.bse)):
        return OddsRatios(
            empty,
            n_used,
            n_events,
            "not estimable: some feature or category separates the outcome perfectly "
            "(every patient in it responded, or none did)",
        )
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        return OddsRatios(empty, n_used, n_events, "not estimable: the fit did not converge")
    ci = fit.conf_int()
    labels = dict(zip(fm.catalogue["feature"], fm.catalogue["label"], strict=True))
    units = dict(zip(fm.catalogue["feature"], fm.catalogue["unit"], strict=True))
    rows = []
    for t in terms:
        name = t["term"]
        row = {
            **t,
            "label": labels[t["feature"]],
            "unit": units[t["feature"]] if not t["level"] else "",
            "odds_ratio": float(np.exp(fit.params[name])),
            "ci95_low": float(np.exp(ci.loc[name, 0])),
            "ci95_high": float(np.exp(ci.loc[name, 1])),
            "p_value": float(fit.pvalues[name]),
        }
        row["reading"] = _reading(row, row["label"], units[t["feature"]])
        rows.append(row)
    return OddsRatios(pd.DataFrame(rows, columns=list(ODDS_RATIO_COLUMNS)), n_used, n_events)


# ------------------------------------------------------------------------ partial dependence

PD_COLUMNS = ("feature", "label", "value", "probability", "refit_low", "refit_high")


def partial_dependence_table(
    fm: FeatureMatrix,
    final: Any,
    refits: Sequence[Any],
    features: Sequence[str],
    *,
    grid_points: int = 20,
    max_rows: int = 1000,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Partial dependence of the predicted probability of response on each numeric feature:
    for each value of a grid from its 5th to 95th percentile, the mean prediction when every
    patient (at most ``max_rows``, a seeded sample) is given that value. The same numbers as
    ``sklearn.inspection.partial_dependence(kind="average", method="brute")``, computed with
    one prediction call over all grid copies. For the final model, with the range over
    ``refits``. Columns: :data:`PD_COLUMNS`."""
    X = fm.X
    if len(X) > max_rows:
        X = X.sample(max_rows, random_state=seed)
    labels = dict(zip(fm.catalogue["feature"], fm.catalogue["label"], strict=True))
    frames = []
    for f in features:
        values = fm.X[f].dropna().to_numpy(dtype="float64")
        lo, hi = np.percentile(values, [5, 95])
        uniq = np.unique(values[(values >= lo) & (values <= hi)])
        grid = uniq if len(uniq) <= grid_points else np.linspace(lo, hi, grid_points)
        if len(grid) < 2:
            continue
        stacked = pd.concat([X.assign(**{f: float(v)}) for v in grid], ignore_index=True)
        curves = []
        with predicting():
            for est in (final, *refits):
                p = est.predict_proba(stacked)[:, 1].reshape(len(grid), len(X))
                curves.append(p.mean(axis=1))
        curves_arr = np.vstack(curves)
        frames.append(
            pd.DataFrame(
                {
                    "feature": f,
                    "label": labels[f],
                    "value": grid,
                    "probability": curves_arr[0],
                    "refit_low": curves_arr[1:].min(axis=0) if refits else np.nan,
                    "refit_high": curves_arr[1:].max(axis=0) if refits else np.nan,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=list(PD_COLUMNS))
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ResponseModel:
    """A validated response model. Tables:

    - ``metrics``: one row per model name (``model``, ``baseline_only``, ``base_rate``),
      columns :data:`METRIC_COLUMNS` (fold means with bootstrap 95% CIs; ``auroc_fold_sd``
      is the SD over folds, a measure of spread, not a CI);
    - ``folds``: every fold's metrics (model, repeat, fold, n_test, n_events, auroc, brier,
      balanced_accuracy);
    - ``predictions``: patient_id, outcome (1 = responder), probability (out-of-fold, mean
      over repeats), probability_sd (over repeats), baseline_only, base_rate;
    - ``calibration``: see :func:`calibration_table`;
    - ``importance``: feature, label, kind, mean, sd, n_folds (drop in AUROC, sorted);
    - ``odds_ratios``: see :class:`OddsRatios`; ``partial_dependence``: :data:`PD_COLUMNS`.
    """

    spec: ModelSpec
    guard: GuardReport
    features: tuple[str, ...]
    labels: Mapping[str, str]
    kinds: Mapping[str, str]
    dtypes: Mapping[str, str]
    metrics: pd.DataFrame
    delta_auroc: Mapping[str, float]
    folds: pd.DataFrame
    predictions: pd.DataFrame
    oof_by_repeat: np.ndarray
    calibration: pd.DataFrame
    calibration_slope: float
    calibration_intercept: float
    importance: pd.DataFrame
    odds_ratios: OddsRatios
    partial_dependence: pd.DataFrame
    final_estimator: Any
    estimators: tuple[Any, ...]
    profile_defaults: Mapping[str, Any]
    profile_levels: Mapping[str, tuple[str, ...]]
    profile_ranges: Mapping[str, tuple[float, float]]
    n_patients: int
    n_events: int
    warnings: tuple[str, ...] = field(default=())

    def metric(self, name: str = MODEL) -> pd.Series:
        return self.metrics.set_index("model").loc[name]

    @property
    def discriminates(self) -> bool:
        """Whether the AUROC's 95% CI lies above 0.5."""
        return bool(self.metric()["auroc_ci95_low"] > 0.5)


def _profile(fm: FeatureMatrix, features: Sequence[str], dtypes: Mapping[str, str]):
    defaults: dict[str, Any] = {}
    levels: dict[str, tuple[str, ...]] = {}
    ranges: dict[str, tuple[float, float]] = {}
    for f in features:
        v = fm.X[f].dropna()
        if dtypes[f] == CATEGORICAL:
            levels[f] = tuple(sorted(v.astype(str).unique()))
            counts = v.astype(str).value_counts()
            defaults[f] = sorted(counts[counts == counts.max()].index)[0]
        else:
            defaults[f] = float(v.median())
            ranges[f] = (float(v.min()), float(v.max()))
    return defaults, levels, ranges


def fit_response_model(
    fm: FeatureMatrix,
    spec: ModelSpec | None = None,
    *,
    progress: Progress | None = None,
    repeats: Sequence[RepeatResult] | None = None,
) -> ResponseModel:
    """Cross-validate, summarise and explain a response model (see the module docstring).

    Raises :class:`ModelRefusedError` when the guards refuse. ``repeats`` may pass results
    of :func:`cross_validate_repeat` computed earlier (the page caches them one by one);
    ``progress(fraction, message)`` is called as the work advances.
    """
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    spec = spec or ModelSpec()
    guard = check_guards(fm, spec)
    if not guard.ok:
        raise ModelRefusedError(guard.refusal or "")
    features = guard.features_used
    y = fm.y.to_numpy()
    R = spec.n_repeats

    def report(fraction: float, message: str) -> None:
        if progress is not None:
            progress(min(fraction, 1.0), message)

    if repeats is None:
        done: list[RepeatResult] = []
        for r in range(R):
            report(r / (R + 1), f"Cross-validating: repeat {r + 1} of {R}")
            done.append(cross_validate_repeat(fm, spec, r, features=features))
        repeats = done
    if len(repeats) != R or any(rep.features != features for rep in repeats):
        raise DataValidationError("the cross-validation repeats do not match this model")
    report(R / (R + 1), "Confidence intervals, explanation and final fit")

    folds = pd.concat([rep.folds for rep in repeats], ignore_index=True)
    boot = _bootstrap_metrics(y, repeats, spec.n_bootstrap, spec.seed)
    rows = []
    for name in MODEL_NAMES:
        f = folds[folds["model"] == name]
        row: dict[str, Any] = {
            "model": name,
            "label": spec.label if name == MODEL else COMPARATOR_LABELS[name],
        }
        for m in METRICS:
            row[m] = float(f[m].mean())
            row[f"{m}_ci95_low"], row[f"{m}_ci95_high"] = metric_ci(
                row[m], boot[f"{name}_{m}"], f[m].to_numpy(), spec.n_splits
            )
        row["auroc_fold_sd"] = float(f["auroc"].std(ddof=1)) if len(f) > 1 else float("nan")
        rows.append(row)
    metrics = pd.DataFrame(rows).reindex(columns=list(METRIC_COLUMNS))
    m_auc = metrics.set_index("model")["auroc"]
    fold_delta = (
        folds.loc[folds["model"] == MODEL, "auroc"].to_numpy()
        - folds.loc[folds["model"] == BASELINE_ONLY, "auroc"].to_numpy()
    )
    estimate = float(m_auc[MODEL] - m_auc[BASELINE_ONLY])
    d_low, d_high = metric_ci(
        estimate,
        boot[f"{MODEL}_auroc"] - boot[f"{BASELINE_ONLY}_auroc"],
        fold_delta,
        spec.n_splits,
        bounds=(-1.0, 1.0),
    )
    delta = {
        "estimate": estimate,
        "ci95_low": d_low,
        "ci95_high": d_high,
    }

    oof = np.vstack([rep.oof[MODEL].to_numpy() for rep in repeats])
    p_mean = oof.mean(axis=0)
    predictions = pd.DataFrame(
        {
            "patient_id": fm.y.index.astype(str),
            "outcome": y,
            "probability": p_mean,
            "probability_sd": oof.std(axis=0, ddof=1) if R > 1 else np.zeros(len(y)),
            BASELINE_ONLY: np.vstack([r.oof[BASELINE_ONLY] for r in repeats]).mean(axis=0),
            BASE_RATE: np.vstack([r.oof[BASE_RATE] for r in repeats]).mean(axis=0),
        }
    )
    slope, intercept = calibration_slope_intercept(y, p_mean)

    labels = dict(zip(fm.catalogue["feature"], fm.catalogue["label"], strict=True))
    kinds = dict(zip(fm.catalogue["feature"], fm.catalogue["kind"], strict=True))
    dtypes = dict(zip(fm.catalogue["feature"], fm.catalogue["dtype"], strict=True))
    imp = np.vstack([rep.importance for rep in repeats])
    importance = (
        pd.DataFrame(
            {
                "feature": list(features),
                "label": [labels[f] for f in features],
                "kind": [kinds[f] for f in features],
                "mean": imp.mean(axis=0),
                "sd": imp.std(axis=0, ddof=1) if len(imp) > 1 else np.zeros(len(features)),
                "n_folds": len(imp),
            }
        )
        .sort_values("mean", ascending=False, kind="stable")
        .reset_index(drop=True)
    )

    pipes = model_pipelines(fm, spec, features)
    with threadpool_limits(limits=1):
        final = clone(pipes[MODEL]).fit(fm.X[list(features)], y)
    odds = fit_odds_ratios(fm, features)
    pd_table = pd.DataFrame(columns=list(PD_COLUMNS))
    if spec.model == "gbm":
        numeric = [f for f in importance["feature"] if dtypes[f] != CATEGORICAL][:3]
        pd_table = partial_dependence_table(
            fm, final, repeats[0].estimators, numeric, seed=spec.seed
        )
    defaults, levels, ranges = _profile(fm, features, dtypes)
    report(1.0, "Done")
    return ResponseModel(
        spec=spec,
        guard=guard,
        features=features,
        labels=labels,
        kinds=kinds,
        dtypes=dtypes,
        metrics=metrics,
        delta_auroc=delta,
        folds=folds,
        predictions=predictions,
        oof_by_repeat=oof,
        calibration=calibration_table(y, p_mean),
        calibration_slope=slope,
        calibration_intercept=intercept,
        importance=importance,
        odds_ratios=odds,
        partial_dependence=pd_table,
        final_estimator=final,
        estimators=tuple(e for rep in repeats for e in rep.estimators),
        profile_defaults=defaults,
        profile_levels=levels,
        profile_ranges=ranges,
        n_patients=fm.n_patients,
        n_events=fm.n_events,
        warnings=guard.warnings,
    )


# --------------------------------------------------------------------- threshold, what-if


def threshold_summary(model: ResponseModel, threshold: float) -> pd.DataFrame:
    """Confusion counts and rates of the out-of-fold probabilities (mean over repeats) when
    "predicted responder" means probability >= ``threshold``.

    One row per statistic: ``statistic`` (true_positive, false_negative, false_positive,
    true_negative, sensitivity, specificity, ppv, npv), ``value`` (count, or proportion
    0-1), ``n`` and ``N`` (numerator and denominator of a rate), ``ci95_low``,
    ``ci95_high`` (Wilson, rates only)."""
    p = model.predictions["probability"].to_numpy()
    y = model.predictions["outcome"].to_numpy().astype(bool)
    pred = p >= threshold
    tp, fn = int((pred & y).sum()), int((~pred & y).sum())
    fp, tn = int((pred & ~y).sum()), int((~pred & ~y).sum())
    rows: list[dict[str, Any]] = [
        {"statistic": name, "value": float(v), "n": v, "N": np.nan}
        for name, v in (
            ("true_positive", tp),
            ("false_negative", fn),
            ("false_positive", fp),
            ("true_negative", tn),
        )
    ]
    for name, k, n in (
        ("sensitivity", tp, tp + fn),
        ("specificity", tn, tn + fp),
        ("ppv", tp, tp + fp),
        ("npv", tn, tn + fn),
    ):
        low, high = wilson_interval(np.array([k]), np.array([n]))
        rows.append(
            {
                "statistic": name,
                "value": k / n if n else np.nan,
                "n": k,
                "N": n,
                "ci95_low": float(low[0]),
                "ci95_high": float(high[0]),
            }
        )
    return pd.DataFrame(rows).reindex(
        columns=["statistic", "value", "n", "N", "ci95_low", "ci95_high"]
    )


@dataclass(frozen=True)
class WhatIf:
    """A what-if prediction: the model refitted on all patients, and the middle 95% of the
    cross-validation refits' predictions (model instability, not a prediction interval)."""

    probability: float
    refit_low: float
    refit_high: float
    refit_median: float
    n_refits: int


def profile_frame(model: ResponseModel, profile: Mapping[str, Any]) -> pd.DataFrame:
    """One patient as the model's input row; a missing or empty value is imputed."""
    row: dict[str, Any] = {}
    for f in model.features:
        v = profile.get(f, model.profile_defaults[f])
        if model.dtypes[f] == CATEGORICAL:
            row[f] = np.nan if v is None or v == "" else str(v)
        else:
            row[f] = np.nan if v is None or v == "" else float(v)
    frame = pd.DataFrame([row], columns=list(model.features))
    for f in model.features:
        if model.dtypes[f] == CATEGORICAL:
            frame[f] = frame[f].astype(object)
    return frame


def predict_what_if(model: ResponseModel, profile: Mapping[str, Any]) -> WhatIf:
    """Predicted probability of response for one profile (missing features imputed)."""
    from threadpoolctl import threadpool_limits

    X = profile_frame(model, profile)
    with threadpool_limits(limits=1):
        p = float(model.final_estimator.predict_proba(X)[0, 1])
        refits = np.array([e.predict_proba(X)[0, 1] for e in model.estimators])
    low, med, high = np.percentile(refits, [2.5, 50, 97.5])
    return WhatIf(p, float(low), float(high), float(med), len(refits))


# ---------------------------------------------------------------------------- model card


def json_value(x: Any) -> Any:
    """A JSON-safe scalar: numpy types to Python, NaN and infinity to None."""
    if x is None:
        return None
    if isinstance(x, (np.integer, np.floating)):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def metric_records(model: ResponseModel) -> list[dict[str, Any]]:
    """``metrics`` as JSON-ready records."""
    return [
        {k: json_value(v) for k, v in r.items()} for r in model.metrics.to_dict(orient="records")
    ]


def importance_records(model: ResponseModel) -> list[dict[str, Any]]:
    return [
        {"feature": r["feature"], "mean": json_value(r["mean"]), "sd": json_value(r["sd"])}
        for r in model.importance.to_dict(orient="records")
    ]


def odds_ratio_records(model: ResponseModel) -> list[dict[str, Any]]:
    return [
        {k: json_value(r[k]) for k in ("term", "odds_ratio", "ci95_low", "ci95_high", "p_value")}
        for r in model.odds_ratios.table.to_dict(orient="records")
    ]


def model_card(
    model: ResponseModel,
    fm: FeatureMatrix,
    *,
    dataset_id: str,
    dataset_name: str = "",
    content_hash: str = "",
    filtered_hash: str = "",
    filters: Mapping[str, Sequence[str]] | None = None,
    synthetic: bool = False,
    generated: datetime | None = None,
) -> dict[str, Any]:
    """Everything needed to judge the model later, as a JSON-ready dict."""
    generated = generated or datetime.now(UTC)
    m = model.metric()
    top = model.importance.head(10)
    return {
        "title": "Response model card",
        "generated": generated.isoformat(timespec="seconds"),
        "app_version": __version__,
        "intended_use": NOT_A_DECISION_TOOL,
        "data": {
            "dataset_id": dataset_id,
            "dataset_name": dataset_name,
            "content_sha256": content_hash,
            "filtered_sha256": filtered_hash,
            "synthetic": synthetic,
            "filters": {k: list(v) for k, v in (filters or {}).items()},
            "n_patients_with_assessment": fm.n_patients_total,
            "n_patients_analysed": fm.n_analysed,
            "n_patients": model.n_patients,
            "n_events": model.n_events,
            "event_rate_pct": json_value(model.n_events / model.n_patients * 100.0),
        },
        "outcome": {
            "target": "responder",
            "instrument": fm.instrument,
            "definition": list(fm.definition_text),
        },
        "features": [
            {
                "feature": f,
                "label": model.labels[f],
                "kind": model.kinds[f],
                "type": model.dtypes[f],
                "pct_missing": json_value(float(fm.X[f].isna().mean() * 100.0)),
                "reference_level": str(fm.catalogue.set_index("feature").at[f, "reference"] or ""),
            }
            for f in model.features
        ],
        "features_dropped": list(model.guard.dropped),
        "on_treatment_features": [f for f in model.features if model.kinds[f] == ON_TREATMENT],
        "model": {
            "kind": model.spec.model,
            "description": model.spec.label,
            "hyperparameters": model.spec.hyperparameters(),
            "preprocessing": "median imputation and standardisation (numeric); a '(missing)' "
            "level and one-hot encoding (categorical); fitted inside each training fold",
            "seed": model.spec.seed,
        },
        "validation": {
            "scheme": f"stratified {model.spec.n_splits}-fold cross-validation x "
            f"{model.spec.n_repeats} repeats (sklearn RepeatedStratifiedKFold, "
            f"random_state={model.spec.seed})",
            "ci_method": f"stratified patient bootstrap of the out-of-fold predictions "
            f"({model.spec.n_bootstrap} resamples, percentile 95% interval)",
            "metrics": metric_records(model),
            "delta_auroc_vs_baseline_only": {
                k: json_value(v) for k, v in model.delta_auroc.items()
            },
            "calibration_slope": json_value(model.calibration_slope),
            "calibration_intercept": json_value(model.calibration_intercept),
            "auroc": json_value(m["auroc"]),
            "auroc_ci95_low": json_value(m["auroc_ci95_low"]),
            "auroc_ci95_high": json_value(m["auroc_ci95_high"]),
        },
        "important_features": [
            {
                "feature": r["feature"],
                "label": r["label"],
                "mean": json_value(r["mean"]),
                "sd": json_value(r["sd"]),
            }
            for r in top.to_dict(orient="records")
        ],
        "odds_ratios": odds_ratio_records(model),
        "odds_ratio_note": model.odds_ratios.note,
        "warnings": list(model.warnings),
        "notices": list(model.guard.notices),
        "limitations": [
            "Associations in this clinic's past patients, not causes; unmeasured factors "
            "and who was treated shape them.",
            "Validated internally only (cross-validation); performance in other clinics or "
            "later patients is unknown.",
            "The confidence intervals treat the fitted models as fixed; they cover the "
            "sampling of patients, not refitting.",
        ],
    }


def model_card_json(card: Mapping[str, Any]) -> str:
    return json.dumps(card, indent=2, ensure_ascii=False)


def model_card_markdown(card: Mapping[str, Any]) -> str:
    """The model card as Markdown."""
    d, o, v = card["data"], card["outcome"], card["validation"]
    lines = [
        f"# {card['title']}",
        "",
        f"> {card['intended_use']}",
        "",
        f"Generated {card['generated']} by Infusion Outcomes {card['app_version']}.",
        "",
        "## Data",
        "",
        f"- Dataset: {d['dataset_name'] or d['dataset_id']} (id `{d['dataset_id']}`)"
        + (" — synthetic demo data, no real patients" if d["synthetic"] else ""),
        f"- Content hash (SHA-256): `{d['content_sha256']}`",
        f"- Hash of the filtered rows (SHA-256): `{d['filtered_sha256'] or '—'}`",
        "- Filters: "
        + ("; ".join(f"{k} = {' or '.join(x)}" for k, x in d["filters"].items()) or "none"),
        f"- Patients with the outcome defined: {d['n_patients']:,} "
        f"({d['n_events']:,} responders, {d['event_rate_pct']:.1f}%)",
        "",
        "## Outcome",
        "",
        *(f"- {line}" for line in o["definition"]),
        "",
        "## Features",
        "",
        "| feature | kind | type | missing | reference level |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {f['label']} | {f['kind']} | {f['type']} | {f['pct_missing']:.1f}% | "
            f"{f['reference_level'] or '—'} |"
            for f in card["features"]
        ),
        "",
        "## Model",
        "",
        f"- {card['model']['description']}; "
        + ", ".join(f"{k} = {x}" for k, x in card["model"]["hyperparameters"].items()),
        f"- Preprocessing: {card['model']['preprocessing']}",
        "",
        "## Validation",
        "",
        f"- {v['scheme']}; 95% CIs: {v['ci_method']}",
        "",
        "| model | AUROC (95% CI) | Brier (95% CI) | balanced accuracy (95% CI) |",
        "| --- | --- | --- | --- |",
    ]

    def fmt(r: Mapping[str, Any], m: str) -> str:
        if r[m] is None:
            return "—"
        return f"{r[m]:.3f} ({r[f'{m}_ci95_low']:.3f} to {r[f'{m}_ci95_high']:.3f})"

    for r in v["metrics"]:
        lines.append(
            f"| {r['label']} | {fmt(r, 'auroc')} | {fmt(r, 'brier')} | "
            f"{fmt(r, 'balanced_accuracy')} |"
        )
    dlt = v["delta_auroc_vs_baseline_only"]
    lines += [
        "",
        f"- AUROC gain over baseline severity alone: {dlt['estimate']:+.3f} "
        f"(95% CI {dlt['ci95_low']:+.3f} to {dlt['ci95_high']:+.3f})",
    ]
    if v["calibration_slope"] is not None:
        lines.append(
            f"- Calibration slope {v['calibration_slope']:.2f} (1 = ideal), "
            f"calibration-in-the-large {v['calibration_intercept']:+.2f} (0 = ideal)"
        )
    lines += [
        "",
        "## Important features (permutation importance: drop in AUROC)",
        "",
        *(
            f"- {r['label']}: {r['mean']:.3f} (SD {r['sd']:.3f} over folds)"
            for r in card["important_features"]
        ),
    ]
    if card["odds_ratios"]:
        lines += [
            "",
            "## Odds ratios (unpenalised logistic regression, complete cases)",
            "",
            "| term | OR | 95% CI | p |",
            "| --- | --- | --- | --- |",
            *(
                f"| {r['term']} | {r['odds_ratio']:.2f} | {r['ci95_low']:.2f} to "
                f"{r['ci95_high']:.2f} | {r['p_value']:.3g} |"
                for r in card["odds_ratios"]
            ),
        ]
    elif card["odds_ratio_note"]:
        lines += ["", f"Odds ratios: {card['odds_ratio_note']}."]
    for title, key in (
        ("Warnings", "warnings"),
        ("Notices", "notices"),
        ("Limitations", "limitations"),
    ):
        if card[key]:
            lines += ["", f"## {title}", "", *(f"- {x}" for x in card[key])]
    return "\n".join(lines) + "\n"


def with_outcome(fm: FeatureMatrix, y: pd.Series | np.ndarray) -> FeatureMatrix:
    """A copy of ``fm`` with another outcome vector (e.g. shuffled, for a null check)."""
    values = np.asarray(y).astype("int64")
    return replace(fm, y=pd.Series(values, index=fm.y.index, name=fm.y.name))
