"""Validation of a canonical long table (DESIGN.md §3).

:func:`validate_canonical` never raises for a bad row: it returns the clean rows and a
report of every problem. Errors exclude the row; warnings keep it. Only problems with the
whole file (no rows, a missing column) raise :class:`DataValidationError` at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics import schema as s
from analytics.errors import DataValidationError
from analytics.instruments import Instrument, load_registry

ISSUE_COLUMNS = ("severity", "row", "column", "value", "message")
# Set by an import profile where a cell could not be mapped (an unreadable date, say):
# the message, the user's column and the cell as written.
MAPPING_ERROR = "mapping_error"
MAPPING_ERROR_COLUMN = "mapping_error_column"
MAPPING_ERROR_VALUE = "mapping_error_value"
MAPPING_COLUMNS = (MAPPING_ERROR, MAPPING_ERROR_COLUMN, MAPPING_ERROR_VALUE)
MAX_MESSAGES = 20
# An infusion count above this is a typo or a unit mix-up, not a treatment course.
MAX_INFUSIONS = 10_000


@dataclass(frozen=True)
class ValidationResult:
    """Clean canonical rows (``data``) and the problems found (``issues``).

    ``issues`` columns: ``severity`` (``error`` = row excluded, ``warning`` = row kept),
    ``row`` (source row number, header = row 1), ``column``, ``value``, ``message``.
    """

    data: pd.DataFrame
    issues: pd.DataFrame
    source: str
    n_rows_read: int

    @property
    def errors(self) -> pd.DataFrame:
        return self.issues[self.issues["severity"] == "error"]

    @property
    def warnings(self) -> pd.DataFrame:
        return self.issues[self.issues["severity"] == "warning"]

    @property
    def ok(self) -> bool:
        return self.errors.empty

    def summary_line(self) -> str:
        n_excluded = self.errors["row"].nunique()
        return (
            f"{self.n_rows_read:,} rows read, {len(self.data):,} loaded, "
            f"{n_excluded:,} excluded, {len(self.warnings):,} warnings"
        )

    def raise_for_errors(self) -> None:
        """Raise one :class:`DataValidationError` listing the first errors."""
        if self.ok:
            return
        errs = self.errors
        first = errs.iloc[0]
        lines = [
            f"{self.source}, row {int(r.row)}, column '{r.column}': {r.message}"
            for r in errs.head(MAX_MESSAGES).itertuples()
        ]
        more = len(errs) - MAX_MESSAGES
        if more > 0:
            lines.append(f"... and {more:,} more errors")
        err = DataValidationError(
            f"{len(errs):,} invalid rows\n" + "\n".join(lines),
            file=self.source,
            row=int(first["row"]),
            column=str(first["column"]),
        )
        raise err


class _Issues:
    """Collects problems as vectorised chunks, one chunk per check."""

    def __init__(self, rows: pd.Series) -> None:
        self._rows = rows
        self._chunks: list[pd.DataFrame] = []

    def add(
        self,
        mask: pd.Series | np.ndarray,
        severity: str,
        column: str | pd.Series | _PerRow,
        values: pd.Series,
        message: str | pd.Series | _PerRow,
    ) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        # Only the flagged rows are turned into text: on a file of millions of rows with a
        # handful of problems, converting whole columns would cost more than the checks.
        msg = _pick(message, mask) if not isinstance(message, str) else message
        if not isinstance(column, str):
            column = _pick(column, mask)
        self._chunks.append(
            pd.DataFrame(
                {
                    "severity": severity,
                    "row": self._rows.to_numpy()[mask],
                    "column": column,
                    "value": values[mask].astype("string").to_numpy(),
                    "message": msg,
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self._chunks:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in ISSUE_COLUMNS})
        out = pd.concat(self._chunks, ignore_index=True)
        return out.sort_values(["row", "severity"], kind="stable").reset_index(drop=True)


class _PerRow:
    """A per-row text column (an issue's column or message) computed only for the rows an
    issue is reported on: ``fn`` turns the selected values into text."""

    def __init__(self, values: pd.Series, fn) -> None:
        self.values, self.fn = values, fn

    def pick(self, mask: np.ndarray) -> np.ndarray:
        return self.fn(self.values[mask]).to_numpy()

    def at(self, index: pd.Index) -> np.ndarray:
        return self.fn(self.values.loc[index]).to_numpy()


def _pick(values: pd.Series | _PerRow, mask: np.ndarray) -> np.ndarray:
    return values.pick(mask) if isinstance(values, _PerRow) else values.to_numpy()[mask]


def _blank_each(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return values.isna() | text.isna() | (text == "")


def _numeric_each(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return pd.to_numeric(text, errors="coerce").astype("float64")


class _Text:
    """A text column as codes into its distinct values (-1 = missing).

    Every check on a cell is a function of the cell alone, so it is computed once per
    distinct value and gathered back by code: a column of millions of rows with a few
    hundred distinct values costs one hashing pass instead of millions of Python string
    operations. The result is exactly that of applying the check to every cell.
    """

    def __init__(self, values: pd.Series) -> None:
        self.index = values.index
        self._memo: dict = {}
        if isinstance(values.dtype, pd.CategoricalDtype):
            # A category may not occur (see occurring()); codes stay in their int type.
            self.codes = values.cat.codes.to_numpy()
            uniques = values.cat.categories
        else:
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            self.codes = codes
            self._memo["occurring"] = np.ones(len(uniques), dtype=bool)
        self.uniques = pd.Series(np.asarray(uniques, dtype=object), dtype=object)

    def occurring(self) -> np.ndarray:
        """Which distinct values occur in the column (all, unless it was categorical)."""
        if "occurring" not in self._memo:
            codes = self.codes[self.codes >= 0]
            self._memo["occurring"] = np.bincount(codes, minlength=len(self.uniques)) > 0
        return self._memo["occurring"]

    def any_row(self, per_value: np.ndarray) -> bool:
        """Whether a non-missing cell has a True ``per_value``."""
        if not per_value.any():
            return False
        if per_value.all():
            return bool((self.codes >= 0).any())
        return bool(per_value[self.occurring()].any())

    @staticmethod
    def applies(values: pd.Series) -> bool:
        """Text columns (string, categorical of text, or object holding only text)."""
        dtype = values.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            return pd.api.types.infer_dtype(dtype.categories, skipna=True) in ("string", "empty")
        if isinstance(dtype, pd.StringDtype):
            return True
        if pd.api.types.is_object_dtype(dtype):
            return pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")
        return False

    def gather(self, per_value: np.ndarray, missing: object) -> np.ndarray:
        lut = np.append(np.asarray(per_value), np.asarray([missing], dtype=per_value.dtype))
        return lut[self.codes]  # code -1 picks the appended value for missing cells

    def blank(self) -> pd.Series:
        per_value = _blank_each(self.uniques).to_numpy(dtype=bool)
        return pd.Series(self.gather(per_value, True), index=self.index)

    def numeric(self) -> pd.Series:
        per_value = _numeric_each(self.uniques).to_numpy(dtype="float64")
        return pd.Series(self.gather(per_value, np.nan), index=self.index)

    def text(self, per_value: pd.Series) -> pd.Series:
        """A ``string`` column from one (text or missing) value per distinct value."""
        arr = pd.array(per_value.astype("string").to_numpy(dtype=object), dtype="string")
        return pd.Series(arr.take(self.codes, allow_fill=True), index=self.index)

    def stripped_values(self, lower: bool = False) -> pd.Series:
        """Each distinct value stripped (and lower-cased), computed once."""
        key = ("stripped", lower)
        if key not in self._memo:
            per_value = self.uniques.astype("string").str.strip()
            self._memo[key] = per_value.str.lower() if lower else per_value
        return self._memo[key]

    def stripped(self, lower: bool = False) -> pd.Series:
        return self.text(self.stripped_values(lower))

    def stripped_codes(self, lower: bool = False) -> np.ndarray:
        """Codes equal exactly where the stripped (lower-cased) texts are equal; -1 missing."""
        codes, _ = pd.factorize(self.stripped_values(lower), use_na_sentinel=True)
        return self.gather(codes.astype(np.int64), -1)


def _text(values: pd.Series) -> _Text | None:
    return _Text(values) if _Text.applies(values) else None


def _blank(values: pd.Series, text: _Text | None = None) -> pd.Series:
    text = text or _text(values)
    return text.blank() if text is not None else _blank_each(values)


def _numeric(values: pd.Series, text: _Text | None = None) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    text = text or _text(values)
    return text.numeric() if text is not None else _numeric_each(values)


def _stripped(values: pd.Series, text: _Text | None = None) -> pd.Series:
    text = text or _text(values)
    return text.stripped() if text is not None else values.astype("string").str.strip()


def validate_canonical(
    raw: pd.DataFrame,
    *,
    source: str = "data",
    registry: Mapping[str, Instrument] | None = None,
    first_row: int = 2,
    column_labels: Mapping[str, str] | None = None,
) -> ValidationResult:
    """Check a canonical long table and return typed clean rows plus a problem report.

    ``raw`` may hold strings (as read from CSV) or typed columns (Parquet). Row numbers in
    the report are ``first_row`` + position (2 for a file with one header row), unless
    ``raw`` carries a ``source_row`` column (rows mapped from an export keep theirs).
    ``column_labels`` names canonical columns as the user's file does (``score`` ->
    ``Total``) and a ``source_column`` column gives each row's score column (wide exports).
    """
    registry = load_registry() if registry is None else registry
    if raw.shape[0] == 0:
        raise DataValidationError("the file has no data rows", file=source)
    missing = [c for c in s.REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise DataValidationError(
            f"required column(s) missing: {', '.join(missing)} "
            f"(found: {', '.join(map(str, raw.columns))})",
            file=source,
            column=missing[0],
        )
    if not any(c in raw.columns for c in s.TIME_COLUMNS):
        raise DataValidationError(
            f"needs a time column: '{s.INFUSIONS}' or '{s.DAY}' (or both)", file=source
        )
    dupes = raw.columns[raw.columns.duplicated()].tolist()
    if dupes:
        raise DataValidationError(f"duplicated column name(s): {dupes}", file=source)

    # Positions, not labels: a typed frame (e.g. Parquet with a stored index) may carry a
    # non-unique index, which would make duplicate removal drop unrelated rows.
    if not raw.index.equals(pd.RangeIndex(len(raw))):
        raw = raw.reset_index(drop=True)
    if s.SOURCE_ROW in raw.columns:
        rows = pd.Series(raw[s.SOURCE_ROW].to_numpy(dtype="int64"), index=raw.index)
    else:
        rows = pd.Series(np.arange(len(raw)) + first_row, index=raw.index)
    labels = dict(column_labels or {})
    if s.SOURCE_COLUMN in raw.columns:
        score_label: str | _PerRow = _PerRow(
            raw[s.SOURCE_COLUMN], lambda v: v.astype("string").fillna(s.SCORE)
        )
    else:
        score_label = labels.get(s.SCORE, s.SCORE)
    issues = _Issues(rows)

    def label(col: str) -> str:
        return labels.get(col, col)

    bad = np.zeros(len(raw), dtype=bool)

    pid_raw = raw[s.PATIENT_ID]
    pid_text = _text(pid_raw)
    pid_missing = _blank(pid_raw, pid_text)
    issues.add(pid_missing, "error", label(s.PATIENT_ID), pid_raw, "patient id is missing")
    bad |= pid_missing.to_numpy()
    pid = _stripped(pid_raw, pid_text)

    inst_raw = raw[s.INSTRUMENT]
    inst_text = _text(inst_raw)
    if inst_text is not None:
        inst = inst_text.stripped(lower=True)
    else:
        inst = inst_raw.astype("string").str.strip().str.lower()
    inst_missing = _blank(inst_raw, inst_text)
    issues.add(inst_missing, "error", label(s.INSTRUMENT), inst_raw, "instrument is missing")
    unknown = ~inst_missing & ~_per_instrument(inst, inst_text, lambda i: i in registry, False)
    known = ", ".join(sorted(registry))
    issues.add(
        unknown, "error", label(s.INSTRUMENT), inst_raw, f"unknown instrument (known: {known})"
    )
    bad |= (inst_missing | unknown).to_numpy()

    score_raw = raw[s.SCORE]
    score_text = None if pd.api.types.is_numeric_dtype(score_raw) else _text(score_raw)
    score = _numeric(score_raw, score_text)
    score_blank = _blank(score_raw, score_text)
    issues.add(score_blank, "error", score_label, score_raw, "score is missing")
    not_num = ~score_blank & (score.isna() | ~np.isfinite(score.fillna(0)))
    issues.add(not_num, "error", score_label, score_raw, "score is not a number")
    lo = _per_instrument(inst, inst_text, lambda i: _limit(registry, i, "min"), np.nan)
    hi = _per_instrument(inst, inst_text, lambda i: _limit(registry, i, "max"), np.nan)
    out = ~not_num & score.notna() & lo.notna() & ((score < lo) | (score > hi))
    rng = {k: f"{v.label} scores range {v.min:g}-{v.max:g}" for k, v in registry.items()}
    message = _PerRow(inst, lambda v: "score out of range: " + v.map(rng).astype("string"))
    issues.add(out, "error", score_label, score_raw, message)
    bad |= (score_blank | not_num | out).to_numpy()

    infusions = pd.Series(np.nan, index=raw.index)
    if s.INFUSIONS in raw.columns:
        inf_raw = raw[s.INFUSIONS]
        inf_cells = None if pd.api.types.is_numeric_dtype(inf_raw) else _text(inf_raw)
        infusions = _numeric(inf_raw, inf_cells)
        finite = np.isfinite(infusions.fillna(0))
        inf_text = ~_blank(inf_raw, inf_cells) & (infusions.isna() | ~finite)
        issues.add(
            inf_text, "error", label(s.INFUSIONS), inf_raw, "infusions received is not a number"
        )
        negative = finite & (infusions < 0)
        issues.add(negative, "error", label(s.INFUSIONS), inf_raw, "infusions received is negative")
        fractional = finite & infusions.notna() & (infusions != np.round(infusions))
        issues.add(
            fractional, "error", label(s.INFUSIONS), inf_raw, "infusions received is not whole"
        )
        too_large = finite & (infusions > MAX_INFUSIONS)
        issues.add(
            too_large,
            "error",
            label(s.INFUSIONS),
            inf_raw,
            f"infusions received is implausibly large (over {MAX_INFUSIONS:,})",
        )
        inf_bad = inf_text | negative | fractional | too_large
        bad |= inf_bad.to_numpy()
        # Excluded rows must not reach the Int64 cast below (inf or 1e30 cannot be cast).
        infusions = infusions.where(~inf_bad)
    day = pd.Series(np.nan, index=raw.index)
    if s.DAY in raw.columns:
        day_raw = raw[s.DAY]
        day_cells = None if pd.api.types.is_numeric_dtype(day_raw) else _text(day_raw)
        day = _numeric(day_raw, day_cells)
        day_text = ~_blank(day_raw, day_cells) & (day.isna() | ~np.isfinite(day.fillna(0)))
        issues.add(day_text, "error", label(s.DAY), day_raw, "day is not a number")
        bad |= day_text.to_numpy()
        day = day.where(~day_text)
    if MAPPING_ERROR in raw.columns:
        as_text = lambda v: v.astype("string")  # noqa: E731
        mapped_bad = raw[MAPPING_ERROR].notna()
        issues.add(
            mapped_bad & ~pd.Series(bad, index=raw.index),
            "error",
            _PerRow(raw[MAPPING_ERROR_COLUMN], as_text),
            raw[MAPPING_ERROR_VALUE],
            _PerRow(raw[MAPPING_ERROR], as_text),
        )
        bad |= mapped_bad.to_numpy()

    no_time = infusions.isna() & day.isna()
    time_col = s.INFUSIONS if s.INFUSIONS in raw.columns else s.DAY
    issues.add(
        no_time & ~bad,
        "error",
        label(time_col),
        raw[time_col],
        f"no time point: '{s.INFUSIONS}' and '{s.DAY}' are both missing",
    )
    bad |= no_time.to_numpy()
    contradiction = (infusions == 0) & (day > 0)
    issues.add(
        contradiction,
        "error",
        label(s.DAY),
        day,
        "0 infusions received but a positive day: a pre-treatment row must have day <= 0",
    )
    bad |= contradiction.fillna(False).to_numpy()

    skip = {*s.CORE_COLUMNS, *s.BOOKKEEPING, *MAPPING_COLUMNS}
    extras = [c for c in raw.columns if c not in skip]
    columns = {
        s.PATIENT_ID: pid,
        s.INSTRUMENT: inst,
        s.SCORE: score,
        s.INFUSIONS: _whole_numbers(infusions.round()),
        s.DAY: day,
        s.SOURCE_ROW: rows.copy(),
    }
    for col in extras:
        typed = _typed_extra(raw[col])
        columns[col] = typed.copy() if typed is raw[col] else typed
    # One concatenation of the columns as they are: a DataFrame built from a dict, or
    # grown column by column, copies every column once more into consolidated blocks.
    named = [values.rename(name, copy=False) for name, values in columns.items()]
    clean = pd.concat(named, axis=1, copy=False)
    if bad.any():
        clean = clean[~bad]

    keys = None
    if pid_text is not None and inst_text is not None:
        keys = (pid_text.stripped_codes()[~bad], inst_text.stripped_codes(lower=True)[~bad])
    clean, dup_issues = _resolve_duplicates(clean, score_label, keys)
    issue_frame = pd.concat([issues.frame(), dup_issues], ignore_index=True)
    if not dup_issues.empty:
        issue_frame = issue_frame.sort_values(["row", "severity"], kind="stable")
    if not clean.index.equals(pd.RangeIndex(len(clean))):
        clean.index = pd.RangeIndex(len(clean))  # reset_index(drop=True), without a copy
    return ValidationResult(
        data=clean,
        issues=issue_frame.reset_index(drop=True),
        source=source,
        n_rows_read=len(raw),
    )


def _whole_numbers(values: pd.Series) -> pd.Series:
    """``values.astype("Int64")`` for whole floats (missing as NaN), built directly."""
    numbers = values.to_numpy(dtype="float64")
    missing = np.isnan(numbers)
    ints = np.where(missing, 0.0, numbers).astype(np.int64)
    return pd.Series(pd.arrays.IntegerArray(ints, missing), index=values.index)


def _per_instrument(inst: pd.Series, text: _Text | None, fn, missing) -> pd.Series:
    """``fn`` of each row's (stripped, lower-cased) instrument id, computed once per id."""
    if text is None:
        return inst.map(lambda i: missing if pd.isna(i) else fn(i)).astype(type(missing))
    ids = text.stripped_values(lower=True)
    per_value = np.asarray([fn(i) for i in ids], dtype=type(missing))
    return pd.Series(text.gather(per_value, missing), index=inst.index)


def _limit(registry: Mapping[str, Instrument], inst: str, which: str) -> float:
    entry = registry.get(inst)
    return np.nan if entry is None else float(getattr(entry, which))


def _typed_extra(values: pd.Series) -> pd.Series:
    """A covariate column: numeric when every non-blank value is a number, else text."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values
    text = _text(values)
    if text is not None:
        num_each = _numeric_each(text.uniques).notna().to_numpy()
        blank_each = _blank_each(text.uniques).to_numpy(dtype=bool)
        if not text.any_row(~(num_each | blank_each)) and text.any_row(num_each):
            return text.numeric()
        return text.text(text.stripped_values().where(~blank_each))
    num = _numeric(values)
    blank = _blank(values)
    if (num.notna() | blank).all() and num.notna().any():
        return num
    return values.astype("string").str.strip().where(~blank)


def _duplicated_codes(
    clean: pd.DataFrame, patient: np.ndarray, instrument: np.ndarray
) -> pd.Series | None:
    """``clean.duplicated([patient, instrument, infusions, day], keep=False)`` from integer
    codes combined into one 64-bit key (None when the key would not fit)."""
    parts = [patient.astype(np.int64) + 1, instrument.astype(np.int64) + 1]
    for col in (s.INFUSIONS, s.DAY):
        codes, _ = pd.factorize(clean[col], use_na_sentinel=True)
        parts.append(codes.astype(np.int64) + 1)
    sizes = [int(p.max(initial=0)) + 1 for p in parts]
    if np.prod([float(n) for n in sizes]) >= 2.0**62:
        return None
    key = parts[0]
    for part, size in zip(parts[1:], sizes[1:], strict=True):
        key = key * size + part
    # Sorting the keys (stable: fast on rows already grouped by patient) puts equal keys
    # side by side; a hash table over millions of keys is ~10x slower.
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    same = ordered[1:] == ordered[:-1]
    dup = np.empty(len(key), dtype=bool)
    dup[order] = np.r_[same, False] | np.r_[False, same]
    return pd.Series(dup, index=clean.index)


def _resolve_duplicates(
    clean: pd.DataFrame,
    score_label: str | _PerRow = s.SCORE,
    codes: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Same patient, instrument and time point: conflicting scores are errors (all rows
    excluded); identical scores are a warning and kept once. ``codes`` (patient and
    instrument as integer codes of the same rows) find the duplicates without hashing
    millions of strings."""
    key = [s.PATIENT_ID, s.INSTRUMENT, s.INFUSIONS, s.DAY]
    dup = _duplicated_codes(clean, *codes) if codes is not None else None
    if dup is None:
        dup = clean.duplicated(key, keep=False)
    if not dup.any():
        return clean, pd.DataFrame(columns=list(ISSUE_COLUMNS))
    d = clean[dup]
    n_scores = d.groupby(key, dropna=False)[s.SCORE].transform("nunique")
    conflict = n_scores > 1
    first_row = d.groupby(key, dropna=False)[s.SOURCE_ROW].transform("min")
    conflicts = d[conflict]
    repeats = d[~conflict & d.duplicated(key, keep="first")]
    rows = []
    for frame, severity, text in (
        (conflicts, "error", "conflicting scores for the same patient, instrument and time"),
        (repeats, "warning", "the same score repeated for one time point: kept once"),
    ):
        if frame.empty:
            continue
        rows.append(
            pd.DataFrame(
                {
                    "severity": severity,
                    "row": frame[s.SOURCE_ROW].to_numpy(),
                    "column": (
                        score_label.at(frame.index)
                        if isinstance(score_label, _PerRow)
                        else score_label
                    ),
                    "value": frame[s.SCORE].astype("string").to_numpy(),
                    "message": [f"{text} (first seen on row {r})" for r in first_row[frame.index]],
                }
            )
        )
    drop = conflicts.index.union(repeats.index)
    return clean.drop(index=drop), pd.concat(rows, ignore_index=True)
