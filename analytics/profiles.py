"""Import profiles (DESIGN.md §5): how one clinic's export maps onto the canonical model.

A profile is a TOML file. :func:`parse_profile` reads and checks it (unknown keys are
errors); :func:`profile_to_toml` writes it; :func:`apply_profile` turns a
:class:`~analytics.readers.RawTable` into canonical long rows that keep their source row
numbers, ready for :func:`analytics.validation.validate_canonical`.

Keys beyond DESIGN.md's minimum:

- ``scores_before_infusion = true``: session numbers (a long export's ``infusions_column``
  or a wide entry's ``session = k``) count sessions whose scores were collected *before*
  that session's infusion, so session k means k - 1 infusions received;
- ``first_infusion_date_column``: a patient-level date of the first infusion; without it,
  day 0 is the date of the patient's latest pre-treatment assessment (0 infusions), or,
  with no infusion counts at all, the patient's earliest assessment;
- ``dayfirst = true``: read 03/04/2024 as 3 April (default: month first);
- ``instrument = "pcl5"``: a long export that holds one instrument and has no measure column;
- ``[recode.COLUMN]``: value recodes for a covariate (``"M" = "Male"``);
- ``[identifiers]``: ``drop = [...]`` and ``confirmed_safe = [...]`` from the identifier screen.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from analytics import schema as s
from analytics.errors import DataValidationError
from analytics.instruments import (
    Instrument,
    custom_instrument,
    normalise_label,
    with_custom,
)
from analytics.readers import SOURCE_ROW, RawTable
from analytics.validation import MAPPING_ERROR, MAPPING_ERROR_COLUMN, MAPPING_ERROR_VALUE

SCORE_COLUMN_LABEL = s.SOURCE_COLUMN  # per-row source column of the score (wide exports)
TOP_KEYS = {
    "name", "format", "patient_id", "scores", "instrument_column", "score_column",
    "infusions_column", "day_column", "date_column", "instrument", "instrument_values",
    "covariates", "instruments", "scores_before_infusion", "first_infusion_date_column",
    "dayfirst", "recode", "identifiers", "sheet",
}  # fmt: skip
SCORE_KEYS = {"column", "instrument", "day", "infusions_received", "session"}
TEXT_KEYS = (
    "name", "format", "patient_id", "instrument_column", "score_column", "infusions_column",
    "day_column", "date_column", "instrument", "first_infusion_date_column", "sheet",
)  # fmt: skip
COVARIATE_KINDS = ("categorical", "numeric")


@dataclass(frozen=True)
class ScoreColumn:
    """One score column of a wide export and the time point it holds."""

    column: str
    instrument: str
    day: float | None = None
    infusions_received: int | None = None
    session: int | None = None


@dataclass(frozen=True)
class ImportProfile:
    """The mapping of one export shape onto the canonical long table."""

    name: str
    format: Literal["wide", "long"]
    patient_id: str
    scores: tuple[ScoreColumn, ...] = ()
    instrument_column: str | None = None
    score_column: str | None = None
    infusions_column: str | None = None
    day_column: str | None = None
    date_column: str | None = None
    instrument: str | None = None
    instrument_values: Mapping[str, str] = field(default_factory=dict)
    covariates: Mapping[str, str] = field(default_factory=dict)
    instruments: tuple[Instrument, ...] = ()
    scores_before_infusion: bool = False
    first_infusion_date_column: str | None = None
    dayfirst: bool = False
    recode: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    identifiers_drop: tuple[str, ...] = ()
    identifiers_confirmed_safe: tuple[str, ...] = ()
    sheet: str | None = None

    def with_(self, **changes: Any) -> ImportProfile:
        return replace(self, **changes)

    @property
    def registry(self) -> Mapping[str, Instrument]:
        return with_custom(self.instruments)

    def source_columns(self) -> list[str]:
        """Every source column the profile names (a file lacking one is refused)."""
        cols = [self.patient_id]
        cols += [sc.column for sc in self.scores]
        for c in (
            self.instrument_column,
            self.score_column,
            self.infusions_column,
            self.day_column,
            self.date_column,
            self.first_infusion_date_column,
        ):
            if c:
                cols.append(c)
        cols += list(self.covariates)
        return list(dict.fromkeys(cols))


def _err(message: str, source: str) -> DataValidationError:
    return DataValidationError(message, file=source)


def parse_profile(text: str, *, source: str = "profile.toml") -> ImportProfile:
    """Read a profile from TOML text; unknown keys and inconsistent mappings are errors."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _err(f"not valid TOML: {exc}", source) from None
    return profile_from_dict(raw, source=source)


def profile_from_dict(raw: Mapping[str, Any], *, source: str = "profile") -> ImportProfile:
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise _err(f"unknown key(s) {unknown} (known: {sorted(TOP_KEYS)})", source)
    _check_types(raw, source)
    for key in ("name", "format", "patient_id"):
        if not raw.get(key):
            raise _err(f"'{key}' is required", source)
    fmt = raw["format"]
    if fmt not in ("wide", "long"):
        raise _err(f"format must be 'wide' or 'long', not '{fmt}'", source)
    try:
        instruments = tuple(custom_instrument(spec) for spec in raw.get("instruments", []))
    except (DataValidationError, TypeError, ValueError) as exc:
        raise _err(f"[[instruments]]: {exc}", source) from None
    registry = with_custom(instruments)
    scores = []
    for i, spec in enumerate(raw.get("scores", []), start=1):
        bad = sorted(set(spec) - SCORE_KEYS)
        if bad:
            raise _err(f"[[scores]] entry {i}: unknown key(s) {bad}", source)
        if "column" not in spec or "instrument" not in spec:
            raise _err(f"[[scores]] entry {i}: needs 'column' and 'instrument'", source)
        times = [k for k in ("day", "infusions_received", "session") if k in spec]
        if not times:
            raise _err(
                f"[[scores]] '{spec['column']}': give its time as day, infusions_received "
                "or session",
                source,
            )
        _check_instrument(spec["instrument"], registry, source, f"[[scores]] '{spec['column']}'")
        scores.append(
            ScoreColumn(
                column=str(spec["column"]),
                instrument=str(spec["instrument"]),
                day=float(spec["day"]) if "day" in spec else None,
                infusions_received=_whole(spec.get("infusions_received"), source),
                session=_whole(spec.get("session"), source),
            )
        )
    if fmt == "wide" and not scores:
        raise _err("a wide profile needs at least one [[scores]] entry", source)
    if fmt == "long":
        if not raw.get("score_column"):
            raise _err("a long profile needs 'score_column'", source)
        if not raw.get("instrument_column") and not raw.get("instrument"):
            raise _err("a long profile needs 'instrument_column' or 'instrument'", source)
        if not any(raw.get(k) for k in ("infusions_column", "day_column", "date_column")):
            raise _err(
                "a long profile needs a time: infusions_column, day_column or date_column", source
            )
    values = {str(k): str(v) for k, v in raw.get("instrument_values", {}).items()}
    for label, iid in values.items():
        _check_instrument(iid, registry, source, f"[instrument_values] '{label}'")
    if raw.get("instrument"):
        _check_instrument(raw["instrument"], registry, source, "'instrument'")
    covariates = {str(k): str(v) for k, v in raw.get("covariates", {}).items()}
    for col, kind in covariates.items():
        if kind not in COVARIATE_KINDS:
            raise _err(f"[covariates] '{col}' must be 'categorical' or 'numeric'", source)
    ident = raw.get("identifiers", {})
    bad = sorted(set(ident) - {"drop", "confirmed_safe"})
    if bad:
        raise _err(f"[identifiers]: unknown key(s) {bad}", source)
    return ImportProfile(
        name=str(raw["name"]),
        format=fmt,
        patient_id=str(raw["patient_id"]),
        scores=tuple(scores),
        instrument_column=raw.get("instrument_column"),
        score_column=raw.get("score_column"),
        infusions_column=raw.get("infusions_column"),
        day_column=raw.get("day_column"),
        date_column=raw.get("date_column"),
        instrument=raw.get("instrument"),
        instrument_values=values,
        covariates=covariates,
        instruments=instruments,
        scores_before_infusion=bool(raw.get("scores_before_infusion", False)),
        first_infusion_date_column=raw.get("first_infusion_date_column"),
        dayfirst=bool(raw.get("dayfirst", False)),
        recode={
            str(c): {str(k): str(v) for k, v in m.items()} for c, m in raw.get("recode", {}).items()
        },
        identifiers_drop=tuple(ident.get("drop", ())),
        identifiers_confirmed_safe=tuple(ident.get("confirmed_safe", ())),
        sheet=raw.get("sheet"),
    )


def _check_types(raw: Mapping[str, Any], source: str) -> None:
    """Each key holds the kind of value it must (TOML lets a user write anything)."""

    def fail(where: str, what: str) -> None:
        raise _err(f"{where} must be {what}", source)

    def is_number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)

    for key in TEXT_KEYS:
        if key in raw and not isinstance(raw[key], str):
            fail(f"'{key}'", "text in quotes")
    for key in ("scores_before_infusion", "dayfirst"):
        if key in raw and not isinstance(raw[key], bool):
            fail(f"'{key}'", "true or false")
    for key in ("instrument_values", "covariates", "recode", "identifiers"):
        if key in raw and not isinstance(raw[key], dict):
            fail(f"'{key}'", f"a table ([{key}])")
    for key in ("instrument_values", "covariates"):
        if not all(isinstance(v, str) for v in raw.get(key, {}).values()):
            fail(f"'{key}'", "a table of text values")
    if not all(isinstance(m, dict) for m in raw.get("recode", {}).values()):
        fail("'recode'", 'a table per column ([recode.COLUMN] with "old" = "new")')
    for key in ("drop", "confirmed_safe"):
        value = raw.get("identifiers", {}).get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            fail(f"'identifiers.{key}'", "a list of column names")
    for key in ("scores", "instruments"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            fail(f"'{key}'", f"a list of tables ([[{key}]])")
    for i, spec in enumerate(raw.get("scores", []), start=1):
        for key in ("column", "instrument"):
            if key in spec and not isinstance(spec[key], str):
                fail(f"[[scores]] entry {i}: '{key}'", "text in quotes")
        for key in ("day", "infusions_received", "session"):
            if key in spec and not is_number(spec[key]):
                fail(f"[[scores]] entry {i}: '{key}'", "a finite number")


def _whole(value: Any, source: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or float(value) != int(value) or value < 0:
        raise _err(f"infusions and sessions must be whole numbers >= 0, not {value}", source)
    return int(value)


def _check_instrument(iid: str, registry: Mapping[str, Instrument], source: str, where: str):
    if iid not in registry:
        raise _err(
            f"{where}: unknown instrument '{iid}' (known: {', '.join(sorted(registry))}; "
            "declare a custom one under [[instruments]])",
            source,
        )


def profile_to_dict(p: ImportProfile) -> dict[str, Any]:
    """The TOML-ready mapping (None values and defaults left out)."""
    out: dict[str, Any] = {"name": p.name, "format": p.format, "patient_id": p.patient_id}
    if p.sheet:
        out["sheet"] = p.sheet
    for key in (
        "instrument_column",
        "score_column",
        "infusions_column",
        "day_column",
        "date_column",
        "instrument",
        "first_infusion_date_column",
    ):
        if getattr(p, key):
            out[key] = getattr(p, key)
    if p.scores_before_infusion:
        out["scores_before_infusion"] = True
    if p.dayfirst:
        out["dayfirst"] = True
    if p.instrument_values:
        out["instrument_values"] = dict(p.instrument_values)
    if p.covariates:
        out["covariates"] = dict(p.covariates)
    if p.recode:
        out["recode"] = {c: dict(m) for c, m in p.recode.items()}
    if p.identifiers_drop or p.identifiers_confirmed_safe:
        out["identifiers"] = {
            "drop": list(p.identifiers_drop),
            "confirmed_safe": list(p.identifiers_confirmed_safe),
        }
    if p.instruments:
        out["instruments"] = [_instrument_dict(i) for i in p.instruments]
    if p.scores:
        rows = []
        for sc in p.scores:
            r: dict[str, Any] = {"column": sc.column, "instrument": sc.instrument}
            for k in ("day", "infusions_received", "session"):
                v = getattr(sc, k)
                if v is not None:
                    r[k] = round(v, 4) if isinstance(v, float) else v
            rows.append(r)
        out["scores"] = rows
    return out


def _instrument_dict(inst: Instrument) -> dict[str, Any]:
    d: dict[str, Any] = {"id": inst.id, "name": inst.name, "min": inst.min, "max": inst.max}
    if inst.short_name and inst.short_name != inst.name:
        d["short_name"] = inst.short_name
    if inst.construct:
        d["construct"] = inst.construct
    d["higher_is_worse"] = inst.higher_is_worse
    for k in (
        "response_pct",
        "remission_below",
        "caseness_cutoff",
        "rci_reliability",
        "rci_points",
    ):
        if getattr(inst, k) is not None:
            d[k] = getattr(inst, k)
    return d


def profile_to_toml(p: ImportProfile) -> str:
    import tomli_w

    return tomli_w.dumps(profile_to_dict(p))


# --- applying a profile ----------------------------------------------------------------


def check_columns(p: ImportProfile, table: RawTable) -> None:
    """Every column the profile names must be in the file."""
    missing = [c for c in p.source_columns() if c not in table.frame.columns]
    if missing:
        shown = ", ".join(f"'{c}'" for c in missing[:10])
        raise DataValidationError(
            f"the import profile '{p.name}' expects column(s) {shown} that the file lacks "
            f"(the file has: {', '.join(table.columns[:30])})",
            file=table.source,
            column=missing[0],
        )


def _session_to_infusions(values: pd.Series, before: bool) -> pd.Series:
    return values - 1 if before else values


def _per_distinct(values: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``fn(values)`` for an elementwise ``fn``, computed once per distinct value.

    ``fn`` sees each distinct value once (and one missing value if the column has any),
    in the column's own dtype, so its result, and the result's dtype (which may depend on
    which values occur, as ``pd.to_numeric``'s does), are those of ``fn`` over every row;
    the results are gathered back by code. A column of millions of rows with a few
    hundred distinct texts costs one hashing pass instead of millions of Python calls.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    missing = bool((codes < 0).any())
    distinct = pd.Series(uniques).reindex(range(len(uniques) + int(missing)))
    if distinct.dtype != values.dtype and not missing:
        distinct = distinct.astype(values.dtype)
    out = fn(distinct.reset_index(drop=True)).reset_index(drop=True)
    take = np.where(codes < 0, len(uniques), codes)
    return pd.Series(out.array.take(take), index=values.index, name=values.name)


def _labels_to_ids(labels: pd.Series, p: ImportProfile) -> pd.Series:
    """Measure labels -> instrument ids: the profile's own table first, then aliases."""
    return _per_distinct(labels, lambda each: _labels_to_ids_each(each, p))


def _labels_to_ids_each(labels: pd.Series, p: ImportProfile) -> pd.Series:
    registry = p.registry
    explicit = {normalise_label(k): v for k, v in p.instrument_values.items()}
    lookup = dict(explicit)
    for iid, inst in registry.items():
        for a in inst.aliases:
            lookup.setdefault(a, iid)
    norm = labels.astype("string").map(lambda x: x if pd.isna(x) else normalise_label(x))
    mapped = norm.map(lookup)
    # "PCL-5 Total score": try the longest alias that starts the label, but not one
    # followed by a digit ("PHQ-2", "GAD-2", "PHQ-15" are other scales, not PHQ-9/GAD-7)
    rest = mapped.isna() & norm.notna()
    if rest.any():
        aliases = sorted(lookup, key=len, reverse=True)

        def starts(x: str, a: str) -> bool:
            return len(a) >= 3 and x.startswith(a) and not x[len(a) : len(a) + 1].isdigit()

        def prefix(x: str) -> str | None:
            return next((lookup[a] for a in aliases if starts(x, a)), None)

        mapped[rest] = norm[rest].map(prefix)
    # unmapped labels stay as written so that validation names them
    return mapped.fillna(labels.astype("string"))


ISO_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y/%m/%d")
DAY_FIRST = ("%d/%m/%Y", "%d/%m/%y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%Y %H:%M")
MONTH_FIRST = ("%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y", "%m/%d/%Y %H:%M")
WORDS = ("%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y", "%b %d, %Y", "%B %d, %Y", "%d-%b-%Y")


def parse_dates(values: pd.Series, dayfirst: bool = False) -> pd.Series:
    """Dates written in any of several formats, even mixed in one column: each cell takes
    the first format that reads it (ISO first; then day/month or month/day by ``dayfirst``;
    then month names). Cells no format reads are missing."""
    return _per_distinct(values, lambda each: _parse_dates_each(each, dayfirst))


def _parse_dates_each(values: pd.Series, dayfirst: bool) -> pd.Series:
    text = values.astype("string").str.strip()
    slashes = DAY_FIRST + MONTH_FIRST if dayfirst else MONTH_FIRST + DAY_FIRST
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    for fmt in (*ISO_FORMATS, *slashes, *WORDS):
        todo = out.isna() & text.notna()
        if not todo.any():
            break
        out[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
    return out


_parse_dates = parse_dates


def apply_profile(table: RawTable, p: ImportProfile) -> tuple[pd.DataFrame, dict[str, str]]:
    """Canonical long rows from a raw table, with ``source_row`` and, for wide exports,
    the source column of each score. Returns the rows and a map from canonical column to
    the user's column name (for messages). Dates become ``day`` and are dropped."""
    check_columns(p, table)
    f = table.frame
    drop = set(p.identifiers_drop)
    covs = [c for c in p.covariates if c not in drop]
    labels = {s.PATIENT_ID: p.patient_id}
    if p.format == "wide":
        parts = []
        for sc in p.scores:
            part = pd.DataFrame(
                {
                    s.PATIENT_ID: f[p.patient_id],
                    s.INSTRUMENT: sc.instrument,
                    s.SCORE: f[sc.column],
                    SOURCE_ROW: f[SOURCE_ROW],
                    SCORE_COLUMN_LABEL: sc.column,
                }
            )
            inf = sc.infusions_received
            if inf is None and sc.session is not None:
                inf = sc.session - 1 if p.scores_before_infusion else sc.session
            part[s.INFUSIONS] = inf if inf is not None else pd.NA
            part[s.DAY] = sc.day if sc.day is not None else np.nan
            for c in covs:
                part[c] = f[c]
            part = part[part[s.SCORE].notna()]  # a blank cell is an assessment not done
            parts.append(part)
        long = pd.concat(parts, ignore_index=True)
        long = long.sort_values([SOURCE_ROW], kind="stable").reset_index(drop=True)
    else:
        long = pd.DataFrame({s.PATIENT_ID: f[p.patient_id], SOURCE_ROW: f[SOURCE_ROW]})
        if p.instrument_column:
            long[s.INSTRUMENT] = _labels_to_ids(f[p.instrument_column], p)
            labels[s.INSTRUMENT] = p.instrument_column
        else:
            long[s.INSTRUMENT] = p.instrument
        long[s.SCORE] = f[p.score_column]
        labels[s.SCORE] = p.score_column
        if p.infusions_column:
            long[s.INFUSIONS] = _per_distinct(
                f[p.infusions_column],
                lambda each: _infusions_text(each, p.scores_before_infusion),
            )
            labels[s.INFUSIONS] = p.infusions_column
        if p.day_column:
            long[s.DAY] = f[p.day_column]
            labels[s.DAY] = p.day_column
        for c in covs:
            long[c] = f[c]
        if p.date_column:
            long = _dates_to_days(long, f, p)
            labels[s.DAY] = p.date_column
    for col, mapping in p.recode.items():
        if col in long.columns:
            long[col] = long[col].replace(mapping)
    for c, kind in p.covariates.items():
        if c in long.columns and kind == "numeric":
            long[c] = _per_distinct(long[c], lambda each: pd.to_numeric(each, errors="coerce"))
    return long, labels


def _infusions_text(values: pd.Series, before: bool) -> pd.Series:
    """Infusions received as text; text that is not a number is kept so that validation
    reports it."""
    raw_inf = pd.to_numeric(values, errors="coerce")
    inf = _session_to_infusions(raw_inf, before)
    return inf.astype("string").where(raw_inf.notna(), values)


def _dates_to_days(long: pd.DataFrame, f: pd.DataFrame, p: ImportProfile) -> pd.DataFrame:
    """Assessment dates -> days since the patient's first infusion; the dates are dropped.

    Day 0 is the profile's first-infusion date column (the patient's most frequent value;
    a row that disagrees is an error), else the date of the latest pre-treatment
    assessment (0 infusions received), else the patient's earliest assessment."""
    dates = _parse_dates(f[p.date_column], p.dayfirst)
    # ``long`` is apply_profile's own frame: filled in place, not copied
    message = pd.Series(pd.NA, index=long.index, dtype="string")
    column = pd.Series(p.date_column, index=long.index, dtype="string")
    value = f[p.date_column].astype("string")
    message[dates.isna() & f[p.date_column].notna()] = "not a readable date"
    pid = long[s.PATIENT_ID]
    if p.first_infusion_date_column:
        first_raw = f[p.first_infusion_date_column]
        first = _parse_dates(first_raw, p.dayfirst)
        anchor = _mode_by_patient(first, pid)
        odd = first.notna() & anchor.notna() & (first != anchor)
        unread = first.isna() & first_raw.notna()
        for mask, text in (
            (unread, "not a readable date"),
            (odd, "first infusion date differs from this patient's other rows"),
        ):
            new = mask & message.isna()
            message[new] = text
            column[new] = p.first_infusion_date_column
            value[new] = first_raw.astype("string")[new]
    elif s.INFUSIONS in long.columns:
        inf = pd.to_numeric(long[s.INFUSIONS], errors="coerce")
        anchor = dates.where(inf == 0).groupby(pid).transform("max")
        anchor = anchor.fillna(dates.where(inf > 0).groupby(pid).transform("min"))
    else:
        anchor = dates.groupby(pid).transform("min")
    days = (dates - anchor).dt.days.astype("float64")
    if s.DAY in long.columns:
        have = pd.to_numeric(long[s.DAY], errors="coerce")
        days = have.where(have.notna(), days)
    long[s.DAY] = days
    long[MAPPING_ERROR] = message.to_numpy()
    long[MAPPING_ERROR_COLUMN] = column.to_numpy()
    long[MAPPING_ERROR_VALUE] = value.to_numpy()
    return long


def _mode_by_patient(dates: pd.Series, pid: pd.Series) -> pd.Series:
    """Each row's patient's most frequent date, the earliest among equally frequent ones
    (as ``Series.mode().iloc[0]``), NaT for a patient without dates or a missing id;
    counted with one group-by over (patient, date) instead of a Python call per patient."""
    codes, uniques = pd.factorize(pid, use_na_sentinel=True)
    when = dates.to_numpy(dtype="datetime64[ns]")
    ok = (codes >= 0) & ~np.isnat(when)
    pairs = pd.DataFrame({"p": codes[ok], "d": when[ok]})
    counts = pairs.groupby(["p", "d"], sort=False).size().reset_index(name="n")
    counts = counts.sort_values(["p", "n", "d"], ascending=[True, False, True], kind="stable")
    best = counts.drop_duplicates("p")
    lut = np.full(len(uniques) + 1, np.datetime64("NaT"), dtype="datetime64[ns]")
    lut[best["p"].to_numpy()] = best["d"].to_numpy(dtype="datetime64[ns]")
    return pd.Series(lut[np.where(codes < 0, len(uniques), codes)], index=dates.index)
