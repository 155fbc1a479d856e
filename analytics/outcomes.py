"""The patient outcomes table: one row per patient for one instrument and definition.

Everything is vectorised over arrays sorted once by patient and time; there is no
per-patient Python loop. Time order within a patient follows DESIGN.md §3: by ``day``,
then by ``infusions_received``; a patient whose rows of this instrument do not all have a
``day`` is ordered by ``infusions_received`` first instead.

Output columns of :attr:`PatientOutcomes.table`
------------------------------------------------
patient_id, instrument
baseline_score, baseline_day, baseline_infusions
endpoint_score, endpoint_day, endpoint_infusions
endpoint_carried_forward   True when population "all" used the last assessment before a
                           fixed endpoint the patient did not reach
analysed                   has a baseline and an endpoint under the definition
exclusion_reason           why not analysed ("" when analysed)
change                     endpoint - baseline (points; negative = fewer symptoms)
pct_change                 change / baseline x 100 (missing for a baseline of 0)
improvement_pct            percent reduction of symptoms (-pct_change on a
                           higher-is-worse scale)
responder                  improvement_pct >= response threshold (boolean, missing when
                           the threshold or the percent change is undefined)
remitter                   endpoint beyond the remission cut-off (boolean or missing)
reliable_change            "improved", "no reliable change", "deteriorated" or missing
clinically_significant     reliably improved and crossed the caseness cut-off
baseline_band, endpoint_band  severity bands (or caseness categories)
first_response_infusions, first_response_day   first post-baseline assessment, up to and
                           including the endpoint, that met the response threshold
early_improvement          >= 20% reduction at an assessment after 1 or 2 infusions
early_non_improvement      no >= 20% reduction after 1 to 4 infusions, among patients
                           assessed after at least 4 infusions
n_assessments              assessments of this instrument
then the patient-level covariates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from analytics import schema as s
from analytics.codes import equals, sorted_codes
from analytics.covariates import patient_covariates
from analytics.definitions import OutcomeDefinition, ResolvedDefinition
from analytics.instruments import Instrument, assign_band, get_instrument

RC_IMPROVED = "improved"
RC_NONE = "no reliable change"
RC_DETERIORATED = "deteriorated"
RC_CATEGORIES = (RC_IMPROVED, RC_NONE, RC_DETERIORATED)
Z_95 = 1.96
_TOL = 1e-9


@dataclass(frozen=True)
class ReliableChangeRule:
    """The reliable-change threshold in force and where it came from."""

    method: Literal["fixed", "jacobson_truax", "unavailable"]
    threshold: float | None = None
    reliability: float | None = None
    sd: float | None = None
    source: str = ""

    def describe(self) -> str:
        if self.method == "fixed":
            return (
                f"reliable change: a change of >= {self.threshold:g} points "
                f"(published threshold, {self.source})"
            )
        if self.method == "jacobson_truax":
            return (
                f"reliable change: Jacobson-Truax, > {self.threshold:.1f} points "
                f"(1.96 x sqrt(2) x SD {self.sd:.2f} x sqrt(1 - r), r = {self.reliability:g} "
                f"from {self.source}; SD of baseline scores of the analysed patients)"
            )
        return f"reliable change: not available ({self.source})"


@dataclass(frozen=True)
class PatientOutcomes:
    """The outcomes table and the definition that produced it."""

    table: pd.DataFrame
    resolved: ResolvedDefinition
    reliable_change: ReliableChangeRule

    @property
    def instrument(self) -> Instrument:
        return self.resolved.instrument

    @property
    def analysed(self) -> pd.DataFrame:
        return self.table[self.table["analysed"]]

    def describe(self) -> list[str]:
        """The definition in force, one line per element."""
        lines = self.resolved.describe()
        return [*lines, self.reliable_change.describe()]


def _last_per_group(codes: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the last True row per code, for rows sorted by code."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return idx, idx
    c = codes[idx]
    last = np.r_[c[1:] != c[:-1], True]
    return c[last], idx[last]


def _first_per_group(codes: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return idx, idx
    c = codes[idx]
    first = np.r_[True, c[1:] != c[:-1]]
    return c[first], idx[first]


def _scatter(n: int, codes: np.ndarray, values: np.ndarray, fill: float = np.nan) -> np.ndarray:
    out = np.full(n, fill, dtype="float64")
    out[codes] = values
    return out


def _any_per_group(n: int, codes: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.bincount(codes[mask], minlength=n) > 0


def _meets_pct(improvement: np.ndarray, baseline: np.ndarray, pct: float) -> np.ndarray:
    """improvement / baseline x 100 >= pct, computed as a product so that a patient
    exactly at the threshold responds despite floating point."""
    with np.errstate(invalid="ignore"):
        return improvement * 100.0 - pct * baseline >= -_TOL * np.maximum(1.0, pct * baseline)


def _floats(column: pd.Series, rows: np.ndarray) -> np.ndarray:
    """The values at ``rows`` as float64, missing as NaN (numeric or nullable dtypes)."""
    values = column.array
    if isinstance(values, pd.arrays.IntegerArray | pd.arrays.FloatingArray):
        out = values._data[rows].astype("float64")
        out[values._mask[rows]] = np.nan
        return out
    return column.to_numpy(dtype="float64", na_value=np.nan)[rows]


def _is_sorted(codes: np.ndarray, k1: np.ndarray, k2: np.ndarray) -> bool:
    """Whether rows are already in ``np.lexsort((k2, k1, codes))`` order (missing keys
    last), so that the stable sort would leave them where they are."""
    if len(codes) < 2:
        return True
    if np.isinf(k1).any() or np.isinf(k2).any():
        return False
    dc = np.diff(codes)
    if (dc < 0).any():
        return False
    a1, a2 = np.nan_to_num(k1, nan=np.inf), np.nan_to_num(k2, nan=np.inf)
    same = dc == 0
    if (same & (a1[1:] < a1[:-1])).any():
        return False
    tie = same & (a1[1:] == a1[:-1])
    return not (tie & (a2[1:] < a2[:-1])).any()


def _ints(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Whole numbers held as float (NaN = missing) as a nullable Int64 array."""
    missing = np.isnan(values)
    return pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing)


def _bools(values: np.ndarray) -> pd.arrays.BooleanArray:
    """0/1 held as float (NaN = missing) as a nullable boolean array."""
    missing = np.isnan(values)
    return pd.arrays.BooleanArray(np.where(missing, 0, values).astype(bool), missing)


def reliable_change_rule(
    inst: Instrument, definition: OutcomeDefinition, baseline_scores: pd.Series
) -> ReliableChangeRule:
    """The threshold in force: the definition's own, else the registry's published fixed
    threshold, else Jacobson-Truax from the registry's test-retest reliability."""
    if definition.rci_points is not None:
        return ReliableChangeRule("fixed", definition.rci_points, source="set by the user")
    reliability, source = definition.rci_reliability, "the outcome definition"
    if reliability is None and inst.rci_points is not None:
        return ReliableChangeRule("fixed", inst.rci_points, source=f"{inst.label} registry")
    if reliability is None:
        reliability, source = inst.rci_reliability, f"the {inst.label} registry entry"
    if reliability is None:
        return ReliableChangeRule("unavailable", source=f"no sourced reliability for {inst.label}")
    sd = float(baseline_scores.std(ddof=1)) if baseline_scores.count() >= 2 else float("nan")
    if not np.isfinite(sd) or sd == 0:
        return ReliableChangeRule(
            "unavailable", reliability=reliability, source="fewer than 2 distinct baselines"
        )
    s_diff = np.sqrt(2.0) * sd * np.sqrt(1.0 - reliability)
    return ReliableChangeRule("jacobson_truax", Z_95 * s_diff, reliability, sd, source)


def derive_patient_outcomes(
    data: pd.DataFrame,
    instrument: str | Instrument,
    definition: OutcomeDefinition | None = None,
    *,
    registry: Mapping[str, Instrument] | None = None,
    covariates: pd.DataFrame | None = None,
) -> PatientOutcomes:
    """Derive one row per patient with any assessment of ``instrument``.

    ``data`` is a validated canonical long table. ``covariates`` (one row per patient,
    index ``patient_id``) is computed from ``data`` when not given.
    """
    inst = (
        instrument if isinstance(instrument, Instrument) else get_instrument(instrument, registry)
    )
    definition = definition or OutcomeDefinition()
    resolved = definition.resolve(inst)
    rule = definition.endpoint_rule
    sign = 1.0 if inst.higher_is_worse else -1.0

    rows = np.flatnonzero(equals(data[s.INSTRUMENT], inst.id))
    codes, patients = sorted_codes(data[s.PATIENT_ID], rows)
    n = len(patients)
    score = _floats(data[s.SCORE], rows)
    inf = _floats(data[s.INFUSIONS], rows)
    day = _floats(data[s.DAY], rows)

    size = np.bincount(codes, minlength=n)
    day_complete = (np.bincount(codes, weights=~np.isnan(day), minlength=n) == size)[codes]
    k1 = np.where(day_complete, day, inf)
    k2 = np.where(day_complete, inf, day)
    if not _is_sorted(codes, k1, k2):
        order = np.lexsort((k2, k1, codes))
        codes, score, inf, day = codes[order], score[order], inf[order], day[order]

    pre = (inf == 0) | (np.isnan(inf) & (day <= 0))
    in_window = np.isnan(day) | (day >= -definition.baseline_window_days)
    b_codes, b_pos = _last_per_group(codes, pre & in_window)
    has_pre = _any_per_group(n, codes, pre)
    base = _scatter(n, b_codes, score[b_pos])
    has_base = ~np.isnan(base)
    post = ~pre & has_base[codes]

    carried = np.zeros(n, dtype=bool)
    if rule.kind == "last":
        e_codes, e_pos = _last_per_group(codes, post)
    elif rule.kind == "infusions":
        e_codes, e_pos = _last_per_group(codes, post & (inf == rule.value))
        fallback = post & (inf < rule.value)
    else:
        dist = np.abs(day - rule.value)
        cand = post & (dist <= rule.window)
        idx = np.flatnonzero(cand)
        pick = idx[np.lexsort((-idx, dist[idx], codes[idx]))]
        first = np.r_[True, codes[pick][1:] != codes[pick][:-1]] if pick.size else pick
        e_codes, e_pos = codes[pick][first], pick[first]
        fallback = post & (day < rule.value - rule.window)
    end_pos = _scatter(n, e_codes, e_pos, fill=-1).astype(np.int64)
    if rule.kind != "last" and definition.population == "all":
        f_codes, f_pos = _last_per_group(codes, fallback)
        use = end_pos[f_codes] < 0
        end_pos[f_codes[use]] = f_pos[use]
        carried[f_codes[use]] = True
    has_end = end_pos >= 0
    safe = np.where(has_end, end_pos, 0)

    def at_end(values: np.ndarray) -> np.ndarray:
        return np.where(has_end, values[safe], np.nan)

    b_day = _scatter(n, b_codes, day[b_pos])
    b_inf = _scatter(n, b_codes, inf[b_pos])
    endpoint = at_end(score)
    analysed = has_base & has_end
    reason = np.select(
        [~has_pre, ~has_base, ~_any_per_group(n, codes, post), ~has_end],
        [
            "no baseline",
            f"no baseline within {definition.baseline_window_days:g} days",
            "no post-baseline assessment",
            "not assessed at the endpoint",
        ],
        default="",
    )

    change = np.where(analysed, endpoint - base, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct_change = np.where(base != 0, change / base * 100.0, np.nan)
    improvement = -sign * change
    improvement_pct = -sign * pct_change

    # Row-level improvement against the patient's baseline, for first response and early flags.
    row_base = base[codes]
    row_impr = -sign * (score - row_base)
    row_defined = post & (row_base != 0)
    response_pct = resolved.response_pct
    responder = np.full(n, np.nan)
    first_inf = np.full(n, np.nan)
    first_day = np.full(n, np.nan)
    if response_pct is not None:
        ok = analysed & ~np.isnan(pct_change)
        responder[ok] = _meets_pct(improvement[ok], base[ok], response_pct)
        reached = row_defined & _meets_pct(row_impr, row_base, response_pct)
        reached &= np.arange(len(codes)) <= end_pos[codes]
        reached &= analysed[codes]
        r_codes, r_pos = _first_per_group(codes, reached)
        first_inf[r_codes] = inf[r_pos]
        first_day[r_codes] = day[r_pos]

    remitter = np.full(n, np.nan)
    if resolved.remission_below is not None:
        cut = resolved.remission_below
        below = endpoint < cut if inst.higher_is_worse else endpoint > cut
        remitter[analysed] = below[analysed]

    early_pct = definition.early_improvement_pct
    early_rows = row_defined & ((inf == 1) | (inf == 2))
    early_hit = early_rows & _meets_pct(row_impr, row_base, early_pct)
    early = np.where(
        _any_per_group(n, codes, early_rows), _any_per_group(n, codes, early_hit), np.nan
    )
    by4_rows = row_defined & (inf >= 1) & (inf <= 4)
    by4_hit = by4_rows & _meets_pct(row_impr, row_base, early_pct)
    reached4 = _any_per_group(n, codes, row_defined & (inf >= 4))
    early_non = np.where(reached4, ~_any_per_group(n, codes, by4_hit), np.nan)

    table = pd.DataFrame(
        {
            s.PATIENT_ID: patients.astype("string"),
            s.INSTRUMENT: inst.id,
            "baseline_score": base,
            "baseline_day": b_day,
            "baseline_infusions": _ints(b_inf),
            "endpoint_score": endpoint,
            "endpoint_day": at_end(day),
            "endpoint_infusions": _ints(at_end(inf)),
            "endpoint_carried_forward": carried & analysed,
            "analysed": analysed,
            "exclusion_reason": reason,
            "change": change,
            "pct_change": pct_change,
            "improvement_pct": improvement_pct,
            "responder": _bools(responder),
            "remitter": _bools(remitter),
        }
    )
    rc = reliable_change_rule(inst, definition, table.loc[analysed, "baseline_score"])
    table["reliable_change"] = _reliable_category(rc, improvement, analysed)
    table["clinically_significant"] = _clinically_significant(
        inst, table["reliable_change"], base, endpoint, analysed
    )
    table["baseline_band"] = assign_band(table["baseline_score"], inst)
    table["endpoint_band"] = assign_band(table["endpoint_score"], inst)
    table["first_response_infusions"] = _ints(first_inf)
    table["first_response_day"] = first_day
    table["early_improvement"] = _bools(early)
    table["early_non_improvement"] = _bools(early_non)
    table["n_assessments"] = size

    cov = patient_covariates(data) if covariates is None else covariates
    if not cov.empty and len(cov.columns):
        cov = cov.reindex(pd.Index(table[s.PATIENT_ID], name=s.PATIENT_ID))
        for col in cov.columns:
            if col not in table.columns:
                table[col] = cov[col].to_numpy()
    return PatientOutcomes(table=table, resolved=resolved, reliable_change=rc)


def restrict_outcomes(outcomes: PatientOutcomes, keep: np.ndarray) -> PatientOutcomes:
    """The outcomes of the patients where ``keep`` (one flag per row of ``outcomes.table``)
    is true: the same as deriving them from those patients' rows alone.

    Every column but two belongs to one patient; the reliable-change threshold uses the SD
    of the analysed patients' baselines, so ``reliable_change`` and
    ``clinically_significant`` are recomputed for the subset."""
    keep = np.asarray(keep, dtype=bool)
    # take, then a new index: reset_index would copy every column a second time.
    table = outcomes.table.take(np.flatnonzero(keep))
    table.index = pd.RangeIndex(len(table))
    inst = outcomes.instrument
    definition = outcomes.resolved.definition
    sign = 1.0 if inst.higher_is_worse else -1.0
    analysed = table["analysed"].to_numpy(dtype=bool)
    base = table["baseline_score"].to_numpy(dtype="float64")
    endpoint = table["endpoint_score"].to_numpy(dtype="float64")
    improvement = -sign * table["change"].to_numpy(dtype="float64")
    rc = reliable_change_rule(inst, definition, table.loc[analysed, "baseline_score"])
    table["reliable_change"] = _reliable_category(rc, improvement, analysed)
    table["clinically_significant"] = _clinically_significant(
        inst, table["reliable_change"], base, endpoint, analysed
    )
    return PatientOutcomes(table=table, resolved=outcomes.resolved, reliable_change=rc)


def _reliable_category(
    rc: ReliableChangeRule, improvement: np.ndarray, analysed: np.ndarray
) -> pd.Categorical:
    codes = np.full(len(improvement), -1)
    if rc.method != "unavailable":
        thr = rc.threshold
        if rc.method == "fixed":
            up, down = improvement >= thr - _TOL, -improvement >= thr - _TOL
        else:
            up, down = improvement > thr, -improvement > thr
        codes = np.select([up, down], [0, 2], default=1)
        codes = np.where(analysed, codes, -1)
    return pd.Categorical.from_codes(codes, categories=list(RC_CATEGORIES), ordered=True)


def _clinically_significant(
    inst: Instrument,
    rc: pd.Series,
    base: np.ndarray,
    endpoint: np.ndarray,
    analysed: np.ndarray,
) -> pd.Series:
    out = np.full(len(base), np.nan)
    cut = inst.caseness_cutoff
    known = analysed & rc.notna().to_numpy()
    if cut is not None:
        if inst.higher_is_worse:
            crossed = (base >= cut) & (endpoint < cut)
        else:
            crossed = (base < cut) & (endpoint >= cut)
        out[known] = ((rc.to_numpy() == RC_IMPROVED) & crossed)[known]
    return pd.Series(_bools(out))
