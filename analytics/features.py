"""The patient-level feature matrix for the response models (issue 5).

One row per patient whose outcome is defined (analysed, with a response threshold and a
percent change), the target ``responder`` under the outcome definition in force, and the
features a user may choose from:

- **pre-treatment**: patient-level covariates (site, sex, BMI, prior failed treatments, ...)
  and the baseline score of every outcome instrument in the data (``baseline_<id>``);
- **on-treatment** (opt-in, labelled): the percent improvement of each outcome instrument
  after 1 and after 2 infusions (``improvement_<id>_after_<k>``), and the first session's
  score of each session measure such as CADSS (``<id>_first_session``). These are known only
  once treatment has started.

Nothing computed from the outcome is ever a feature: the endpoint score, change, percent
change, responder and remitter flags and the rest of the outcomes table are refused by name,
and an on-treatment value is used for a patient only when its assessment came strictly before
that patient's endpoint (with endpoint ``last``, a patient who stopped after two infusions has
the assessment after two infusions as the endpoint: that value would *be* the outcome).

Output columns of :func:`feature_catalogue` (and of :attr:`FeatureMatrix.catalogue`)
-----------------------------------------------------------------------------------
feature        column name in ``X``
label          display label
kind           "pre-treatment" or "on-treatment"
dtype          "numeric" or "categorical"
source         "covariate", "baseline score", "early improvement" or "session measure"
n_missing      patients (with the outcome defined) without a value
pct_missing    n_missing as a percentage of them (0-100)
n_levels       distinct non-missing values
reference      for categorical features, the reference level of the odds-ratio table
               (the first level in sorted order); empty for numeric ones
unit           what "one unit" means for a numeric feature ("point", "%", "unit")
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics import schema as s
from analytics.covariates import patient_covariates
from analytics.definitions import OutcomeDefinition
from analytics.errors import DataValidationError
from analytics.instruments import Instrument, get_instrument, load_registry
from analytics.outcomes import derive_patient_outcomes

TARGET = "responder"
PRE_TREATMENT = "pre-treatment"
ON_TREATMENT = "on-treatment"
NUMERIC = "numeric"
CATEGORICAL = "categorical"
EARLY_INFUSIONS = (1, 2)
MAX_CATEGORICAL_LEVELS = s.MAX_FILTER_LEVELS
MISSING_LEVEL = "(missing)"

CATALOGUE_COLUMNS = (
    "feature",
    "label",
    "kind",
    "dtype",
    "source",
    "n_missing",
    "pct_missing",
    "n_levels",
    "reference",
    "unit",
)

# Columns of the patient outcomes table that are derived from the outcome (or are
# bookkeeping about it): never features, whatever a data file calls its columns.
OUTCOME_DERIVED = frozenset(
    {
        "endpoint_score",
        "endpoint_day",
        "endpoint_infusions",
        "endpoint_carried_forward",
        "analysed",
        "exclusion_reason",
        "change",
        "pct_change",
        "improvement_pct",
        "responder",
        "remitter",
        "reliable_change",
        "clinically_significant",
        "endpoint_band",
        "first_response_infusions",
        "first_response_day",
        "early_improvement",
        "early_non_improvement",
        "n_assessments",
        "baseline_day",
        "baseline_infusions",
        "baseline_score",
        "baseline_band",
    }
)
_BOOKKEEPING = frozenset({s.SOURCE_ROW, *getattr(s, "BOOKKEEPING", ())})


@dataclass(frozen=True)
class FeatureMatrix:
    """Features and target for one outcome definition.

    ``X`` is indexed by ``patient_id`` (columns in the order requested; categorical columns
    are text with missing values as NaN, numeric ones float); ``y`` is 1 for a responder and
    0 otherwise, aligned with ``X``; ``baseline`` is the outcome instrument's baseline score
    (the baseline-severity comparator uses it whether or not it is a chosen feature).
    """

    X: pd.DataFrame
    y: pd.Series
    baseline: pd.Series
    catalogue: pd.DataFrame
    instrument: str
    definition: OutcomeDefinition
    definition_text: tuple[str, ...]
    n_patients_total: int
    n_analysed: int
    notes: tuple[str, ...] = field(default=())

    @property
    def n_patients(self) -> int:
        """Patients with the outcome defined (the rows of ``X``)."""
        return len(self.y)

    @property
    def n_events(self) -> int:
        """Responders."""
        return int(self.y.sum())

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.X.columns)

    def dtype_of(self, feature: str) -> str:
        return str(self.catalogue.set_index("feature").at[feature, "dtype"])


def baseline_feature(instrument_id: str) -> str:
    return f"baseline_{instrument_id}"


def early_feature(instrument_id: str, infusions: int) -> str:
    return f"improvement_{instrument_id}_after_{infusions}"


def session_feature(instrument_id: str) -> str:
    return f"{instrument_id}_first_session"


def _label(column: str) -> str:
    words = str(column).replace("_", " ").split()
    acronyms = {"aud", "bmi", "mdd", "ptsd", "iv", "im", "mg", "kg"}
    out = [w.upper() if w.lower() in acronyms else w for w in words]
    if out and out[0] == words[0]:
        out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out)


def _sorted_levels(values: pd.Series) -> list[str]:
    present = values.dropna()
    return sorted(present.astype(str).unique())


def _is_categorical(values: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values))


def _as_text(values: pd.Series) -> pd.Series:
    """Categorical values as plain object strings with NaN for missing (sklearn-friendly)."""
    out = values.astype("string").astype(object)
    return out.where(values.notna(), np.nan)


def _time_before(
    day: np.ndarray, inf: np.ndarray, end_day: np.ndarray, end_inf: np.ndarray
) -> np.ndarray:
    """True where an assessment (day, infusions) came strictly before the endpoint."""
    both_days = ~np.isnan(day) & ~np.isnan(end_day)
    by_day = (day < end_day) | ((day == end_day) & (inf < end_inf))
    by_inf = ~np.isnan(inf) & ~np.isnan(end_inf) & (inf < end_inf)
    return np.where(both_days, by_day, by_inf)


def _first_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Each patient's earliest row (by day, then infusions received)."""
    ordered = rows.sort_values([s.PATIENT_ID, s.DAY, s.INFUSIONS], na_position="last")
    return ordered.drop_duplicates(s.PATIENT_ID, keep="first").set_index(s.PATIENT_ID)


@dataclass(frozen=True)
class _AllFeatures:
    values: pd.DataFrame  # every available feature, index patient_id (target patients)
    catalogue: pd.DataFrame
    y: pd.Series
    baseline: pd.Series
    definition_text: tuple[str, ...]
    n_patients_total: int
    n_analysed: int
    notes: tuple[tuple[str | None, str], ...]  # (feature or None for general, message)


def _collect(
    data: pd.DataFrame,
    instrument: str | Instrument,
    definition: OutcomeDefinition,
    registry: Mapping[str, Instrument] | None,
    covariates: pd.DataFrame | None,
) -> _AllFeatures:
    registry = load_registry() if registry is None else registry
    inst = (
        instrument if isinstance(instrument, Instrument) else get_instrument(instrument, registry)
    )
    cov = patient_covariates(data) if covariates is None else covariates
    outcomes = derive_patient_outcomes(data, inst, definition, registry=registry, covariates=cov)
    table = outcomes.table
    defined = table[table["analysed"] & table[TARGET].notna()].set_index(s.PATIENT_ID)
    patients = defined.index
    y = defined[TARGET].astype("int64").rename(TARGET)
    end_day = defined["endpoint_day"].to_numpy(dtype="float64", na_value=np.nan)
    end_inf = defined["endpoint_infusions"].to_numpy(dtype="float64", na_value=np.nan)

    columns: dict[str, pd.Series] = {}
    rows: list[dict[str, object]] = []
    notes: list[tuple[str | None, str]] = []

    def add(name: str, values: pd.Series, label: str, kind: str, source: str, unit: str) -> None:
        categorical = _is_categorical(values)
        v = _as_text(values) if categorical else values.astype("float64")
        columns[name] = v
        levels = _sorted_levels(v) if categorical else []
        rows.append(
            {
                "feature": name,
                "label": label,
                "kind": kind,
                "dtype": CATEGORICAL if categorical else NUMERIC,
                "source": source,
                "n_levels": len(levels) if categorical else int(v.nunique()),
                "reference": levels[0] if levels else "",
                "unit": "" if categorical else unit,
            }
        )

    # Pre-treatment: covariates.
    generated_prefixes = ("baseline_", "improvement_")
    for col in cov.columns:
        if col in OUTCOME_DERIVED or col in _BOOKKEEPING or col in s.CORE_COLUMNS:
            continue
        if col.startswith(generated_prefixes) or col.endswith("_first_session"):
            notes.append(
                (None, f"covariate '{col}' is not offered: its name clashes with a built feature")
            )
            continue
        values = cov[col].reindex(patients)
        if _is_categorical(values) and values.nunique() > MAX_CATEGORICAL_LEVELS:
            notes.append(
                (
                    None,
                    f"covariate '{col}' is not offered: {values.nunique()} distinct values "
                    f"(more than {MAX_CATEGORICAL_LEVELS}; an identifier or free text?)",
                )
            )
            continue
        add(col, values, _label(col), PRE_TREATMENT, "covariate", "unit")

    # Pre-treatment: baseline scores; on-treatment: early improvement and session measures.
    present = set(data[s.INSTRUMENT].unique())
    same_baseline = OutcomeDefinition(baseline_window_days=definition.baseline_window_days)
    for iid, other in registry.items():
        if iid not in present:
            continue
        rows_i = data.loc[data[s.INSTRUMENT] == iid, [s.PATIENT_ID, s.SCORE, s.INFUSIONS, s.DAY]]
        if other.is_outcome:
            if iid == inst.id:
                base = defined["baseline_score"]
            else:
                other_out = derive_patient_outcomes(
                    data, other, same_baseline, registry=registry, covariates=cov
                ).table.set_index(s.PATIENT_ID)
                base = other_out["baseline_score"].reindex(patients)
            add(
                baseline_feature(iid),
                base,
                f"Baseline {other.label}",
                PRE_TREATMENT,
                "baseline score",
                "point",
            )
            sign = 1.0 if other.higher_is_worse else -1.0
            for k in EARLY_INFUSIONS:
                early = _first_rows(rows_i[rows_i[s.INFUSIONS] == k]).reindex(patients)
                b = base.to_numpy(dtype="float64")
                score = early[s.SCORE].to_numpy(dtype="float64")
                with np.errstate(divide="ignore", invalid="ignore"):
                    impr = np.where(b != 0, -sign * (score - b) / b * 100.0, np.nan)
                before = _time_before(
                    early[s.DAY].to_numpy(dtype="float64", na_value=np.nan),
                    early[s.INFUSIONS].to_numpy(dtype="float64", na_value=np.nan),
                    end_day,
                    end_inf,
                )
                blanked = int((~np.isnan(impr) & ~before).sum())
                if blanked:
                    notes.append(
                        (
                            early_feature(iid, k),
                            f"{other.label} improvement after {k} infusion{'s' if k > 1 else ''}: "
                            f"not used for {blanked} patient{'s' if blanked != 1 else ''} whose "
                            "endpoint was at or before that assessment",
                        )
                    )
                impr = np.where(before, impr, np.nan)
                add(
                    early_feature(iid, k),
                    pd.Series(impr, index=patients),
                    f"{other.label} improvement after {k} infusion{'s' if k > 1 else ''} (%)",
                    ON_TREATMENT,
                    "early improvement",
                    "%",
                )
        else:
            first = _first_rows(rows_i).reindex(patients)
            before = _time_before(
                first[s.DAY].to_numpy(dtype="float64", na_value=np.nan),
                first[s.INFUSIONS].to_numpy(dtype="float64", na_value=np.nan),
                end_day,
                end_inf,
            )
            score = first[s.SCORE].where(before)
            add(
                session_feature(iid),
                score,
                f"{other.label} at the first session",
                ON_TREATMENT,
                "session measure",
                "point",
            )

    values = pd.DataFrame(columns, index=patients)
    catalogue = pd.DataFrame(rows)
    n = len(values)
    n_missing = values.isna().sum().reindex(catalogue["feature"]).to_numpy()
    catalogue["n_missing"] = n_missing.astype("int64")
    catalogue["pct_missing"] = n_missing / n * 100.0 if n else np.nan
    catalogue = catalogue.reindex(columns=list(CATALOGUE_COLUMNS))
    order = (catalogue["kind"] != PRE_TREATMENT).astype(int)
    catalogue = catalogue.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)
    return _AllFeatures(
        values=values,
        catalogue=catalogue,
        y=y,
        baseline=defined["baseline_score"].astype("float64").rename("baseline"),
        definition_text=tuple(outcomes.describe()),
        n_patients_total=len(table),
        n_analysed=int(table["analysed"].sum()),
        notes=tuple(notes),
    )


def feature_catalogue(
    data: pd.DataFrame,
    instrument: str | Instrument,
    definition: OutcomeDefinition | None = None,
    *,
    registry: Mapping[str, Instrument] | None = None,
    covariates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every feature available for this data and outcome definition, pre-treatment ones
    first. Columns: see :data:`CATALOGUE_COLUMNS` and the module docstring."""
    allf = _collect(data, instrument, definition or OutcomeDefinition(), registry, covariates)
    return allf.catalogue.copy()


def build_feature_matrix(
    data: pd.DataFrame,
    instrument: str | Instrument,
    features: Sequence[str],
    definition: OutcomeDefinition | None = None,
    *,
    registry: Mapping[str, Instrument] | None = None,
    covariates: pd.DataFrame | None = None,
) -> FeatureMatrix:
    """The feature matrix for the chosen ``features`` and the target ``responder``.

    Raises :class:`DataValidationError` for a feature computed from the outcome, an unknown
    feature, or no features. ``data`` (a validated canonical table, already filtered) is
    not modified.
    """
    definition = definition or OutcomeDefinition()
    features = list(dict.fromkeys(str(f).strip() for f in features if str(f).strip()))
    if not features:
        raise DataValidationError("choose at least one feature for the model")
    leaking = [f for f in features if f in OUTCOME_DERIVED]
    if leaking:
        raise DataValidationError(
            f"{', '.join(repr(f) for f in leaking)} "
            f"{'is' if len(leaking) == 1 else 'are'} computed from the outcome and cannot be "
            "a predictor (that would be leakage)"
        )
    allf = _collect(data, instrument, definition, registry, covariates)
    known = list(allf.catalogue["feature"])
    unknown = [f for f in features if f not in known]
    if unknown:
        raise DataValidationError(
            f"unknown feature{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(f) for f in unknown)}; available: {', '.join(known)}",
            column=unknown[0],
        )
    catalogue = allf.catalogue.set_index("feature").loc[features].reset_index()
    inst_id = instrument.id if isinstance(instrument, Instrument) else instrument
    relevant = tuple(msg for feat, msg in allf.notes if feat is None or feat in features)
    return FeatureMatrix(
        X=allf.values[features].copy(),
        y=allf.y.copy(),
        baseline=allf.baseline.copy(),
        catalogue=catalogue,
        instrument=inst_id,
        definition=definition,
        definition_text=allf.definition_text,
        n_patients_total=allf.n_patients_total,
        n_analysed=allf.n_analysed,
        notes=relevant,
    )


def default_features(catalogue: pd.DataFrame) -> list[str]:
    """The pre-treatment features, in catalogue order (the page's starting choice)."""
    return list(catalogue.loc[catalogue["kind"] == PRE_TREATMENT, "feature"])


def fingerprint(data: pd.DataFrame) -> str:
    """A content hash of a table (SHA-256 over column names, dtypes and row hashes): two
    tables with the same rows in the same order have the same fingerprint."""
    h = hashlib.sha256()
    h.update("\x1f".join(f"{c}:{t}" for c, t in data.dtypes.astype(str).items()).encode())
    rows = pd.util.hash_pandas_object(data, index=False).to_numpy()
    h.update(np.ascontiguousarray(rows).tobytes())
    return h.hexdigest()
