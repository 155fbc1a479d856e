"""Guessing an import profile from an export's column names and values.

The guess is a starting point that the mapping screen shows for confirmation; nothing is
stored until the user accepts it. Column names are split into tokens (``PCL5_Total_Baseline``
-> ``pcl5 total baseline``; ``bdi.2m`` -> ``bdi 2 m``) and matched against the registry's
aliases and a small grammar of time points:

=======================================  =====================================
baseline, pre, screening, intake, t0, bl  0 infusions received (day 0)
inf3, infusion 3, after infusion 3        3 infusions received
session 2, visit 2, s2                    session 2 (before its infusion: 1 received)
week 4, wk4, w4                           day 28
month 2, 2m, m2, mo2                      day 60.9 (months x 30.4375)
day 45, d45                               day 45
=======================================  =====================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.instruments import Instrument, load_registry, normalise_label
from analytics.profiles import ImportProfile, ScoreColumn
from analytics.readers import RawTable

DAYS_PER_MONTH = 30.4375
ID_NAMES = (
    "patient_id", "patientid", "patient", "subject_id", "subjectid", "subject", "participant_id",
    "participant", "study_id", "studyid", "record_id", "pid", "id", "rownames", "client_id",
)  # fmt: skip
_SPLIT = re.compile(r"[^0-9a-zA-Z]+|(?<=[a-z])(?=[A-Z])")
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")
_TIME_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^(baseline|base|bl|pre|pretreatment|screen|screening|intake|t 0|v 0|0)$"),
        "base",
    ),
    (re.compile(r"^(?:after )?(?:inf|infusion|infusions|dose|tx|treatment) (\d+)$"), "inf"),
    (re.compile(r"^(?:session|sess|visit|v|s|t) (\d+)$"), "session"),
    (re.compile(r"^(?:week|weeks|wk|w) (\d+)$|^(\d+) (?:week|weeks|wk|w)$"), "week"),
    (re.compile(r"^(?:month|months|mo|m) (\d+)$|^(\d+) (?:month|months|mo|m)$"), "month"),
    (re.compile(r"^(?:day|days|d) (\d+)$|^(\d+) (?:day|days|d)$"), "day"),
)
_NOISE = {"total", "score", "scores", "sum", "raw", "tot", "sc", "value", "result"}
_SCORE_NAMES = ("score", "total", "value", "result", "sum")
_INFUSION_NAMES = ("infusion", "infusions", "session", "sessions", "visit", "inf")
_DAY_NAMES = ("day", "days", "daysfromstart", "study_day", "days_since")
_DATE_NAMES = ("date", "when", "completed", "timestamp", "time")


def tokens(name: str) -> list[str]:
    """``PCL5_Total_Baseline`` -> ``["pcl", "5", "total", "baseline"]``."""
    parts = [p for p in _SPLIT.split(str(name)) if p]
    out: list[str] = []
    for p in parts:
        out += [t for t in _LETTER_DIGIT.split(p.lower()) if t]
    return out


def match_instrument(
    toks: list[str], registry: Mapping[str, Instrument]
) -> tuple[str | None, list[str]]:
    """The instrument named by a run of tokens and the tokens left.

    Among the aliases found, one that leaves a readable time point wins (``bdi.2m`` is
    BDI at 2 months, not "BDI-2" and a stray "m"); then the longest alias."""
    lookup = {a: iid for iid, inst in registry.items() for a in inst.aliases}
    found: list[tuple[bool, int, str, list[str]]] = []
    for i in range(len(toks)):
        for j in range(i + 1, min(len(toks), i + 4) + 1):
            cand = "".join(toks[i:j])
            if cand in lookup:
                rest = toks[:i] + toks[j:]
                timed = match_time(rest) is not None
                if j < len(toks) and toks[j].isdigit() and not timed:
                    continue  # "phq 2 baseline" is the PHQ-2, not the PHQ-9
                found.append((timed, j - i, lookup[cand], rest))
    if not found:
        return None, toks
    _, _, iid, rest = max(found, key=lambda f: (f[0], f[1]))
    return iid, rest


@dataclass(frozen=True)
class TimeGuess:
    infusions_received: int | None = None
    day: float | None = None
    session: int | None = None

    def describe(self) -> str:
        if self.session is not None:
            return f"session {self.session}"
        if self.infusions_received is not None:
            return f"after {self.infusions_received} infusions"
        if self.day is not None:
            return f"day {self.day:g}"
        return "unknown"


def match_time(toks: list[str]) -> TimeGuess | None:
    """A time point from the tokens left after the instrument, or None."""
    words = " ".join(t for t in toks if t not in _NOISE)
    if not words:
        return None
    for pattern, kind in _TIME_PATTERNS:
        m = pattern.match(words)
        if not m:
            continue
        if kind == "base":
            return TimeGuess(infusions_received=0, day=0.0)
        n = next(int(g) for g in m.groups() if g is not None)
        if kind == "inf":
            return TimeGuess(infusions_received=n)
        if kind == "session":
            return TimeGuess(session=n)
        if kind == "week":
            return TimeGuess(day=7.0 * n)
        if kind == "month":
            return TimeGuess(day=round(DAYS_PER_MONTH * n, 1))
        return TimeGuess(day=float(n))
    return None


@dataclass(frozen=True)
class ColumnGuess:
    """What the guesser thinks one source column is."""

    column: str
    role: str  # id | score | instrument | score_value | infusions | day | date | covariate | drop
    instrument: str | None = None
    time: TimeGuess | None = None
    kind: str | None = None  # covariate kind: categorical | numeric
    note: str = ""


def _numeric_share(values: pd.Series) -> float:
    """The share of filled cells that read as numbers (each distinct text parsed once)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    if counts.sum() == 0:
        return 0.0
    numeric = pd.to_numeric(pd.Series(uniques), errors="coerce").notna().to_numpy()
    return float(counts[numeric].sum() / counts.sum())


def _first_filled(values: pd.Series, n: int) -> pd.Series:
    """The first ``n`` filled cells (``values.dropna().head(n)``) without scanning a
    long column to the end."""
    k = 4 * n
    while True:
        head = values.iloc[:k].dropna()
        if len(head) >= n or k >= len(values):
            return head.head(n)
        k *= 4


def _date_share(values: pd.Series) -> float:
    v = _first_filled(values, 200).astype(str)
    if v.empty or _numeric_share(v) > 0.9:
        return 0.0
    return float(pd.to_datetime(v, errors="coerce", format="mixed").notna().mean())


def _instrument_share(values: pd.Series, registry: Mapping[str, Instrument]) -> float:
    v = _first_filled(values, 500).astype(str)
    if v.empty:
        return 0.0
    hits = v.map(lambda x: match_instrument(tokens(x), registry)[0] is not None)
    return float(hits.mean())


def _guess_id(frame: pd.DataFrame, columns: list[str]) -> str:
    norm = {c: normalise_label(c) for c in columns}
    for want in ID_NAMES:
        for c in columns:
            if norm[c] == normalise_label(want):
                return c
    for c in columns:
        if "id" in tokens(c) or norm[c].endswith("id"):
            return c
    return columns[0]


def guess_columns(
    table: RawTable, registry: Mapping[str, Instrument] | None = None
) -> tuple[str, list[ColumnGuess]]:
    """The likely format ("wide" or "long") and a guess for every column."""
    registry = load_registry() if registry is None else registry
    f = table.frame
    cols = table.columns
    shares: dict[str, float] = {}

    def numeric_share(c: str) -> float:
        if c not in shares:
            shares[c] = _numeric_share(f[c])
        return shares[c]

    id_col = _guess_id(f, cols)
    guesses: dict[str, ColumnGuess] = {id_col: ColumnGuess(id_col, "id")}
    for c in cols:
        if c in guesses:
            continue
        iid, rest = match_instrument(tokens(c), registry)
        if iid is not None and numeric_share(c) >= 0.5:
            guesses[c] = ColumnGuess(c, "score", instrument=iid, time=match_time(rest))
    measure = [c for c in cols if c not in guesses and _instrument_share(f[c], registry) >= 0.6]
    fmt = "long" if measure and not any(g.role == "score" for g in guesses.values()) else "wide"
    if fmt == "long":
        guesses[measure[0]] = ColumnGuess(measure[0], "instrument")
    for c in cols:
        if c in guesses:
            continue
        name = normalise_label(c)
        toks = tokens(c)
        num = numeric_share(c)
        if fmt == "long" and num >= 0.8 and any(w in toks for w in _SCORE_NAMES):
            guesses[c] = ColumnGuess(c, "score_value")
        elif num >= 0.8 and any(w in toks for w in _INFUSION_NAMES):
            guesses[c] = ColumnGuess(
                c, "infusions", note="session numbers?" if "session" in toks else ""
            )
        elif num >= 0.8 and any(name.startswith(normalise_label(w)) for w in _DAY_NAMES):
            guesses[c] = ColumnGuess(c, "day")
        elif _date_share(f[c]) >= 0.8 or (
            any(w in toks for w in _DATE_NAMES) and _date_share(f[c]) >= 0.5
        ):
            role = "first_date" if "first" in toks else "date"
            guesses[c] = ColumnGuess(c, role, note="converted to days, then dropped")
        else:
            n_levels = f[c].nunique(dropna=True)
            if n_levels == 0:
                guesses[c] = ColumnGuess(c, "drop", note="empty")
            elif num >= 0.95 and n_levels > 2:
                guesses[c] = ColumnGuess(c, "covariate", kind="numeric")
            elif n_levels <= max(30, 0.05 * len(f)):
                guesses[c] = ColumnGuess(c, "covariate", kind="categorical")
            else:
                guesses[c] = ColumnGuess(c, "drop", note="free text or many distinct values")
    if fmt == "long" and not any(g.role == "score_value" for g in guesses.values()):
        numeric = [
            g.column for g in guesses.values() if g.role == "covariate" and g.kind == "numeric"
        ]
        if numeric:
            guesses[numeric[0]] = ColumnGuess(numeric[0], "score_value")
    return fmt, [guesses[c] for c in cols]


_SLASHED = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}")


def guess_dayfirst(values: pd.Series) -> bool:
    """True when slashed dates show a first part above 12 (31/12/2024) and none show a
    second part above 12 (12/31/2024)."""
    distinct = pd.Series(values.dropna().astype(str).unique())  # the answer is about which
    parts = distinct.str.extract(_SLASHED).dropna().astype(int)  # dates occur, not how often
    if parts.empty:
        return False
    return bool((parts[0] > 12).any() and not (parts[1] > 12).any())


def guess_profile(
    table: RawTable,
    *,
    name: str | None = None,
    registry: Mapping[str, Instrument] | None = None,
) -> tuple[ImportProfile, list[ColumnGuess]]:
    """A complete profile from the guesses. Wide score columns whose time could not be
    read get ``session = None`` and must be completed by the user (``unresolved_scores``)."""
    registry = load_registry() if registry is None else registry
    fmt, guesses = guess_columns(table, registry)
    by_role: dict[str, list[ColumnGuess]] = {}
    for g in guesses:
        by_role.setdefault(g.role, []).append(g)
    first = lambda role: by_role[role][0].column if by_role.get(role) else None  # noqa: E731
    covariates = {g.column: g.kind or "categorical" for g in by_role.get("covariate", [])}
    name = name or f"Profile for {table.source}"
    if fmt == "wide":
        scores = tuple(
            ScoreColumn(
                column=g.column,
                instrument=g.instrument or "",
                day=g.time.day if g.time else None,
                infusions_received=g.time.infusions_received if g.time else None,
                session=g.time.session if g.time else None,
            )
            for g in by_role.get("score", [])
        )
        profile = ImportProfile(
            name=name,
            format="wide",
            patient_id=first("id"),
            scores=scores,
            covariates=covariates,
            scores_before_infusion=any(sc.session is not None for sc in scores),
            sheet=table.sheet,
        )
    else:
        infusions = first("infusions")
        profile = ImportProfile(
            name=name,
            format="long",
            patient_id=first("id"),
            instrument_column=first("instrument"),
            score_column=first("score_value"),
            infusions_column=infusions,
            day_column=first("day"),
            date_column=first("date") if not first("day") else None,
            first_infusion_date_column=first("first_date"),
            dayfirst=bool(first("date")) and guess_dayfirst(table.frame[first("date")]),
            covariates=covariates,
            scores_before_infusion=bool(infusions and "session" in tokens(infusions)),
            sheet=table.sheet,
        )
    return profile, guesses


def unresolved_scores(profile: ImportProfile) -> list[str]:
    """Wide score columns with no time point yet (the user must set one)."""
    return [
        sc.column
        for sc in profile.scores
        if sc.day is None and sc.infusions_received is None and sc.session is None
    ]


def instrument_labels(
    values: pd.Series, registry: Mapping[str, Instrument]
) -> dict[str, str | None]:
    """Each distinct label of a long export's measure column and the instrument it names."""
    out: dict[str, str | None] = {}
    for label in values.dropna().astype(str).unique()[:200]:
        out[label] = match_instrument(tokens(label), registry)[0]
    return out


# --- the mapping table the user edits ----------------------------------------------------

ROLE_ID = "patient id"
ROLE_SCORE = "score (one time point)"
ROLE_MEASURE = "instrument name (long)"
ROLE_VALUE = "score (long)"
ROLE_INFUSIONS = "infusions received"
ROLE_SESSION = "session number"
ROLE_DAY = "days since first infusion"
ROLE_DATE = "assessment date"
ROLE_FIRST_DATE = "first infusion date"
ROLE_CATEGORICAL = "categorical covariate"
ROLE_NUMERIC = "numeric covariate"
ROLE_DROP = "drop"
ROLES = (
    ROLE_ID, ROLE_SCORE, ROLE_MEASURE, ROLE_VALUE, ROLE_INFUSIONS, ROLE_SESSION, ROLE_DAY,
    ROLE_DATE, ROLE_FIRST_DATE, ROLE_CATEGORICAL, ROLE_NUMERIC, ROLE_DROP,
)  # fmt: skip
TIME_UNITS = ("infusions", "session", "day", "week", "month")
MAPPING_COLUMNS = ("column", "role", "instrument", "time_unit", "time_value")
_UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": DAYS_PER_MONTH}


def mapping_table(profile: ImportProfile, table: RawTable) -> pd.DataFrame:
    """One editable row per source column: ``column``, ``role`` (one of :data:`ROLES`),
    ``instrument`` and, for wide score columns, ``time_unit`` and ``time_value``."""
    scores = {sc.column: sc for sc in profile.scores}
    single = {
        profile.patient_id: ROLE_ID,
        profile.instrument_column: ROLE_MEASURE,
        profile.score_column: ROLE_VALUE,
        profile.infusions_column: ROLE_SESSION
        if profile.scores_before_infusion
        else ROLE_INFUSIONS,
        profile.day_column: ROLE_DAY,
        profile.date_column: ROLE_DATE,
        profile.first_infusion_date_column: ROLE_FIRST_DATE,
    }
    rows = []
    for col in table.columns:
        role, inst, unit, value = ROLE_DROP, None, None, None
        if col in scores:
            sc = scores[col]
            role, inst = ROLE_SCORE, sc.instrument
            if sc.session is not None:
                unit, value = "session", float(sc.session)
            elif sc.day is not None and sc.day <= 0 and sc.infusions_received in (0, None):
                # a baseline at day <= 0: "day" keeps both (profile_from_mapping sets 0
                # infusions for day <= 0); "infusions 0" would lose the day
                unit, value = "day", float(sc.day)
            elif sc.infusions_received is not None:
                unit, value = "infusions", float(sc.infusions_received)
            elif sc.day is not None:
                unit, value = "day", float(sc.day)
        elif col in single and col is not None:
            role = single[col]
            if role == ROLE_VALUE and profile.instrument and not profile.instrument_column:
                inst = profile.instrument
        elif col in profile.covariates:
            role = ROLE_NUMERIC if profile.covariates[col] == "numeric" else ROLE_CATEGORICAL
        rows.append((col, role, inst, unit, value))
    return pd.DataFrame(rows, columns=list(MAPPING_COLUMNS))


def profile_from_mapping(
    mapping: pd.DataFrame,
    *,
    name: str,
    base: ImportProfile | None = None,
    scores_before_infusion: bool = False,
    dayfirst: bool = False,
    instrument_values: Mapping[str, str] | None = None,
    registry: Mapping[str, Instrument] | None = None,
) -> ImportProfile:
    """The profile a mapping table describes; a clear error for an impossible mapping.

    ``base`` carries what the table does not (custom instruments, recodes, identifier
    decisions, sheet)."""
    from analytics.errors import DataValidationError

    registry = registry if registry is not None else (base.registry if base else load_registry())
    m = mapping.copy()
    m["role"] = m["role"].fillna(ROLE_DROP)

    def only(role: str, required: bool = False) -> str | None:
        cols = m.loc[m["role"] == role, "column"].tolist()
        if len(cols) > 1:
            raise DataValidationError(f"only one column can be the {role}: {cols}")
        if required and not cols:
            raise DataValidationError(f"choose the column that holds the {role}")
        return cols[0] if cols else None

    pid = only(ROLE_ID, required=True)
    score_rows = m[m["role"] == ROLE_SCORE]
    value_col = only(ROLE_VALUE)
    if not score_rows.empty and value_col:
        raise DataValidationError(
            "mix of one-column-per-time-point scores and a long 'score' column: choose one shape"
        )
    if score_rows.empty and not value_col:
        raise DataValidationError("no score columns chosen")
    covariates = {
        r.column: ("numeric" if r.role == ROLE_NUMERIC else "categorical")
        for r in m.itertuples()
        if r.role in (ROLE_CATEGORICAL, ROLE_NUMERIC)
    }
    common = dict(
        name=name,
        patient_id=pid,
        covariates=covariates,
        dayfirst=dayfirst,
        instruments=base.instruments if base else (),
        recode=base.recode if base else {},
        identifiers_drop=base.identifiers_drop if base else (),
        identifiers_confirmed_safe=base.identifiers_confirmed_safe if base else (),
        sheet=base.sheet if base else None,
        first_infusion_date_column=only(ROLE_FIRST_DATE),
    )
    if not score_rows.empty:
        scores = []
        for r in score_rows.itertuples():
            if not r.instrument or r.instrument not in registry:
                raise DataValidationError(
                    f"choose the instrument of score column '{r.column}'", column=r.column
                )
            value = r.time_value
            if r.time_unit not in TIME_UNITS or value is None or pd.isna(value):
                raise DataValidationError(
                    f"give the time point of score column '{r.column}' "
                    "(infusions, session, day, week or month and a number)",
                    column=r.column,
                )
            if r.time_unit in ("infusions", "session"):
                if float(value) != int(value) or value < 0:
                    raise DataValidationError(
                        f"'{r.column}': {r.time_unit} must be a whole number", column=r.column
                    )
                key = "infusions_received" if r.time_unit == "infusions" else "session"
                scores.append(ScoreColumn(r.column, r.instrument, **{key: int(value)}))
            else:
                day = round(float(value) * _UNIT_DAYS[r.time_unit], 1)
                inf = 0 if day <= 0 else None
                scores.append(ScoreColumn(r.column, r.instrument, day=day, infusions_received=inf))
        return ImportProfile(
            format="wide",
            scores=tuple(scores),
            scores_before_infusion=scores_before_infusion,
            **common,
        )
    measure = only(ROLE_MEASURE)
    fixed = None
    if measure is None:
        fixed = m.loc[m["column"] == value_col, "instrument"].iloc[0]
        if not fixed or pd.isna(fixed) or fixed not in registry:
            raise DataValidationError(
                "a long export needs an instrument-name column, or an instrument chosen for "
                f"its score column '{value_col}'"
            )
    sessions = only(ROLE_SESSION)
    infusions = only(ROLE_INFUSIONS)
    if sessions and infusions:
        raise DataValidationError("choose either an infusions column or a session column")
    day_col, date_col = only(ROLE_DAY), only(ROLE_DATE)
    if not (sessions or infusions or day_col or date_col):
        raise DataValidationError(
            "a long export needs a time column: infusions received, session number, days "
            "since first infusion, or assessment date"
        )
    return ImportProfile(
        format="long",
        instrument_column=measure,
        instrument=fixed,
        score_column=value_col,
        infusions_column=sessions or infusions,
        scores_before_infusion=bool(sessions),
        day_column=day_col,
        date_column=date_col,
        instrument_values=dict(instrument_values or {}),
        **common,
    )
