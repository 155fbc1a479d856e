"""Validation of a canonical long table (DESIGN.md §3).

:func:`validate_canonical` never raises for a bad row: it returns the clean rows and a
report of every problem. Errors exclude the row; warnings keep it. Only problems with the
whole file (no rows, a missing column) raise :class:`DataValidationError` at once.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
# Text columns of the clean rows: Arrow-backed ``string``, as the store loads them (one
# buffer per column instead of a Python object per cell).
TEXT = pd.StringDtype("pyarrow")


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

    def extend(self, chunks: list[pd.DataFrame]) -> None:
        """Issues built elsewhere (the duplicate rows'), in the same columns."""
        self._chunks.extend(chunks)

    def frame(self) -> pd.DataFrame:
        if not self._chunks:
            return pd.DataFrame(
                np.empty((0, len(ISSUE_COLUMNS)), dtype=object), columns=ISSUE_COLUMNS
            )
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


def _is_arrow_text(dtype: object) -> bool:
    """Arrow text in pandas: Arrow-backed ``string``, or ``ArrowDtype`` text as the fast
    CSV reader wraps it (no copy)."""
    if isinstance(dtype, pd.StringDtype):
        return dtype.storage == "pyarrow"
    if isinstance(dtype, pd.ArrowDtype):
        arrow = dtype.pyarrow_dtype
        return pa.types.is_string(arrow) or pa.types.is_large_string(arrow)
    return False


class _Text:
    """A text column as its distinct values and, per cell, a code into them (-1 = missing).

    Every check on a cell is a function of the cell alone, so it is computed once per
    distinct value and gathered back by code: a column of millions of rows with a few
    hundred distinct values costs one hashing pass instead of millions of Python string
    operations. The result is exactly that of applying the check to every cell.

    Arrow text (the fast CSV reader's, the upload reader's) is used as it is: Arrow finds
    the distinct values, per-cell codes are only built when a check needs them, and a
    text output that no check changed is the column itself, with no decoding.
    """

    def __init__(
        self,
        values: pd.Series,
        coded: bool = False,
        hashed: Callable[[], pa.Array | pa.ChunkedArray] | None = None,
    ) -> None:
        """``coded``: build the per-cell codes now (for Arrow text, in the same hashing
        pass that finds the distinct values: one pass instead of two). ``hashed``: for
        Arrow text, returns :func:`_hash` of the column (begun on a worker thread)."""
        self.index = values.index
        self._memo: dict = {}
        self._arrow: pa.ChunkedArray | None = None
        if _is_arrow_text(values.dtype):
            self._arrow = _chunked(values)
            found = hashed() if hashed is not None else _hash(self._arrow, coded)
            if coded:
                self._found, self._memo["codes"] = _decoded(found)
            else:
                self._found = found.drop_null()
            self._memo["occurring"] = np.ones(len(self._found), dtype=bool)
            uniques = self._found.to_pylist()
        elif isinstance(values.dtype, pd.CategoricalDtype):
            self._memo["codes"] = values.cat.codes.to_numpy().astype(np.intp)
            uniques = values.cat.categories.tolist()
        else:
            codes, found = pd.factorize(values, use_na_sentinel=True)
            self._memo["codes"] = codes
            self._memo["occurring"] = np.ones(len(found), dtype=bool)
            uniques = list(found)
        self.uniques = _objects(uniques)

    @property
    def codes(self) -> np.ndarray:
        """Per cell, the position of its value in :attr:`uniques` (-1 = missing)."""
        if "codes" not in self._memo:
            assert self._arrow is not None
            found = pc.index_in(self._arrow, value_set=self._found)
            # As the platform's index type: numpy converts any other on every take (7x
            # the cost of the take itself, for each of a dozen gathers).
            self._memo["codes"] = pc.fill_null(found, -1).to_numpy().astype(np.intp)
        return self._memo["codes"]

    def occurring(self) -> np.ndarray:
        """Which distinct values occur in the column."""
        if "occurring" not in self._memo:
            codes = self.codes[self.codes >= 0]
            self._memo["occurring"] = np.bincount(codes, minlength=len(self.uniques)) > 0
        return self._memo["occurring"]

    def has_missing(self) -> bool:
        if self._arrow is not None:
            return self._arrow.null_count > 0
        return bool((self.codes < 0).any())

    def has_values(self) -> bool:
        """Whether any cell is not missing."""
        if self._arrow is not None:
            return self._arrow.null_count < len(self._arrow)
        return bool((self.codes >= 0).any())

    def any_row(self, per_value: np.ndarray, missing: bool = False) -> bool:
        """Whether a cell has a True ``per_value`` (``missing`` for a missing cell)."""
        if missing and self.has_missing():
            return True
        if not per_value.any():
            return False
        if per_value.all():
            return self.has_values()
        return bool(per_value[self.occurring()].any())

    def mask(self, per_value: np.ndarray, missing: bool = False) -> np.ndarray | np.bool_:
        """Per cell, ``per_value`` of its value (``missing`` where missing); ``np.False_``
        when no cell is flagged, so a clean column costs no full-length mask."""
        if not self.any_row(per_value, missing):
            return np.False_
        return self.gather(per_value, missing)

    @staticmethod
    def applies(values: pd.Series) -> bool:
        """Text columns (string, categorical of text, or object holding only text)."""
        dtype = values.dtype
        if _is_arrow_text(dtype):
            return True
        if isinstance(dtype, pd.CategoricalDtype):
            return pd.api.types.infer_dtype(dtype.categories, skipna=True) in ("string", "empty")
        if isinstance(dtype, pd.StringDtype):
            return True
        if pd.api.types.is_object_dtype(dtype):
            return pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")
        return False

    def gather(self, per_value: np.ndarray, missing: object) -> np.ndarray:
        lut = np.append(np.asarray(per_value), np.asarray([missing], dtype=per_value.dtype))
        return lut.take(self.codes)  # code -1 picks the appended value for missing cells

    def blank_values(self) -> np.ndarray:
        """Per distinct value: whether it is only whitespace."""
        if "blank" not in self._memo:
            self._memo["blank"] = np.asarray(self.stripped_values() == "", dtype=bool)
        return self._memo["blank"]

    def numeric_values(self) -> np.ndarray:
        """Per distinct value: its number (see :func:`_numbers`), or NaN."""
        if "numeric" not in self._memo:
            self._memo["numeric"] = _numbers(self.stripped_values())
        return self._memo["numeric"]

    def blank(self) -> np.ndarray | np.bool_:
        return self.mask(self.blank_values(), True)

    def numeric(self) -> pd.Series:
        return pd.Series(self.gather(self.numeric_values(), np.nan), index=self.index)

    def text(self, per_value: np.ndarray, whole: bool = True) -> pd.Series:
        """A :data:`TEXT` column from one (text or missing) value per distinct value,
        decoded by Arrow from the codes (no Python string per cell). A column no value
        of which changed is the column itself: in one chunk if ``whole`` (for columns
        every analysis reads), else in the reader's chunks, with no copy."""
        if self._arrow is not None and per_value.tolist() == self.uniques.tolist():
            return _as_text(self._arrow, self.index, whole)
        dictionary = pa.array(per_value, type=pa.large_string(), from_pandas=True)
        encoded = pa.DictionaryArray.from_arrays(
            pa.array(self.codes, mask=self.codes < 0), dictionary
        )
        decoded = encoded.cast(pa.large_string())
        return pd.Series(pd.arrays.ArrowStringArray(decoded), index=self.index)

    def stripped_values(self, lower: bool = False) -> np.ndarray:
        """Each distinct value stripped (and lower-cased), computed once."""
        key = ("stripped", lower)
        if key not in self._memo:
            if lower:
                each = [v.lower() for v in self.stripped_values()]
            else:
                each = [v.strip() for v in self.uniques]
            self._memo[key] = _objects(each)
        return self._memo[key]

    def stripped(self, lower: bool = False) -> pd.Series:
        return self.text(self.stripped_values(lower))

    def stripped_codes(self, lower: bool = False) -> np.ndarray:
        """Codes equal exactly where the stripped (lower-cased) texts are equal; -1 missing."""
        codes, found = pd.factorize(self.stripped_values(lower), use_na_sentinel=True)
        if len(found) == len(self.uniques):
            return self.codes  # no two values strip to the same text: the codes as they are
        return self.gather(codes.astype(np.int64), -1)


def _chunked(values: pd.Series) -> pa.ChunkedArray:
    """The Arrow text in a Series (see :func:`_is_arrow_text`), as it is (no copy)."""
    arrow = values.array.__arrow_array__()
    return arrow if isinstance(arrow, pa.ChunkedArray) else pa.chunked_array([arrow])


def _hash(arrow: pa.ChunkedArray, coded: bool) -> pa.Array | pa.ChunkedArray:
    """One hashing pass over Arrow text: ``dictionary_encode`` (distinct values and
    codes, see :func:`_decoded`) if ``coded``, else ``unique``. One call into Arrow,
    which holds no GIL while it runs, so on a worker thread it overlaps with the checks."""
    return pc.dictionary_encode(arrow) if coded else pc.unique(arrow)


def _decoded(encoded: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """From a dictionary-encoded column: its distinct values (missing left out, in order
    of first occurrence) and, per cell, the position of its value among them (-1 =
    missing). Every chunk ``dictionary_encode`` returns shares one dictionary."""
    if encoded.num_chunks == 0:
        return pa.array([], type=encoded.type.value_type), np.empty(0, dtype=np.intp)
    found = encoded.chunk(0).dictionary
    codes = np.empty(len(encoded), dtype=np.intp)  # intp: see _Text.codes
    start = 0
    for chunk in encoded.chunks:
        indices = chunk.indices if chunk.null_count == 0 else pc.fill_null(chunk.indices, -1)
        codes[start : start + len(chunk)] = indices.to_numpy()  # one pass, widened as written
        start += len(chunk)
    return found, codes


def _numbers(stripped: np.ndarray) -> np.ndarray:
    """Each stripped text as a number (``pd.to_numeric``), NaN where it is not one."""
    return np.asarray(pd.to_numeric(stripped, errors="coerce"), dtype="float64")


def _as_text(arrow: pa.ChunkedArray, index: pd.Index, whole: bool) -> pd.Series:
    """Arrow text as a :data:`TEXT` column: in one chunk if ``whole``, else in its chunks
    (no copy)."""
    column = arrow if arrow.type == pa.large_string() else arrow.cast(pa.large_string())
    if whole:
        column = column.combine_chunks()
    return pd.Series(pd.arrays.ArrowStringArray(column), index=index)


def _objects(values: list) -> np.ndarray:
    """A list as a one-dimensional object array (never two-dimensional)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _text(values: pd.Series) -> _Text | None:
    return _Text(values) if _Text.applies(values) else None


def _blank(values: pd.Series, text: _Text | None = None) -> np.ndarray | np.bool_:
    """Per cell: missing or only whitespace (``np.False_`` when no cell is)."""
    text = text or _text(values)
    return text.blank() if text is not None else _blank_each(values).to_numpy(dtype=bool)


def _numeric(values: pd.Series, text: _Text | None = None) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    text = text or _text(values)
    return text.numeric() if text is not None else _numeric_each(values)


def _stripped(values: pd.Series, text: _Text | None = None) -> pd.Series:
    text = text or _text(values)
    return text.stripped() if text is not None else _stripped_each(values)


def _stripped_each(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().astype(TEXT)


_NOT_COVARIATES = frozenset({*s.CORE_COLUMNS, *s.BOOKKEEPING, *MAPPING_COLUMNS})


def kept_columns(columns: Iterable[str], covariates: Collection[str] | None) -> list[str]:
    """Of ``columns``, in order, those :func:`validate_canonical` reads when keeping the
    ``covariates`` named (all when None): every core, bookkeeping and mapping column, and
    those covariates."""
    wanted = None if covariates is None else set(covariates)
    return [c for c in columns if wanted is None or c in _NOT_COVARIATES or c in wanted]


def validate_canonical(
    raw: pd.DataFrame,
    *,
    source: str = "data",
    registry: Mapping[str, Instrument] | None = None,
    first_row: int = 2,
    column_labels: Mapping[str, str] | None = None,
    covariates: Collection[str] | None = None,
) -> ValidationResult:
    """Check a canonical long table and return typed clean rows plus a problem report.

    ``raw`` may hold strings (as read from CSV) or typed columns (Parquet). Row numbers in
    the report are ``first_row`` + position (2 for a file with one header row), unless
    ``raw`` carries a ``source_row`` column (rows mapped from an export keep theirs).
    ``column_labels`` names canonical columns as the user's file does (``score`` ->
    ``Total``) and a ``source_column`` column gives each row's score column (wide exports).
    ``covariates`` names the covariate columns to keep (all when None): a caller that reads
    none of the others (``summary`` without ``--by``) saves typing them; every row and
    problem stays the same, since covariates are typed, never checked.
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

    extras = [c for c in kept_columns(raw.columns, covariates) if c not in _NOT_COVARIATES]
    # On a long table the text columns are hashed (distinct values and codes) on worker
    # threads while the checks run here. A worker runs one Arrow call per column, which
    # holds no GIL; every Python step stays here. (Workers that ran Python too spent
    # their time waiting for the GIL, and slowed this thread as much as they helped.)
    workers = _workers(len(raw))
    texts = {
        c: _text_soon(raw[c], workers)
        for c in (s.PATIENT_ID, s.INSTRUMENT, s.SCORE, s.INFUSIONS, s.DAY)
        if c in raw.columns
    }
    typing_extras = _typed_extras_soon([raw[c] for c in extras], workers)

    bad = np.zeros(len(raw), dtype=bool)

    pid_raw = raw[s.PATIENT_ID]
    pid_text = texts[s.PATIENT_ID]()
    pid_missing = _blank(pid_raw, pid_text)
    issues.add(pid_missing, "error", label(s.PATIENT_ID), pid_raw, "patient id is missing")
    bad |= pid_missing
    pid = _stripped(pid_raw, pid_text)

    inst_raw = raw[s.INSTRUMENT]
    inst_text = texts[s.INSTRUMENT]()
    if inst_text is not None:
        inst = inst_text.stripped(lower=True)
    else:
        inst = _stripped_each(inst_raw).str.lower()
    inst_missing = _blank(inst_raw, inst_text)
    issues.add(inst_missing, "error", label(s.INSTRUMENT), inst_raw, "instrument is missing")
    unknown = ~inst_missing & ~_per_instrument(inst, inst_text, lambda i: i in registry, True)
    known = ", ".join(sorted(registry))
    issues.add(
        unknown, "error", label(s.INSTRUMENT), inst_raw, f"unknown instrument (known: {known})"
    )
    bad |= inst_missing | unknown

    score_raw = raw[s.SCORE]
    score_cells = _Numbers(score_raw, texts[s.SCORE]())
    score = score_cells.values()
    score_blank = score_cells.flag(score_cells.blank, True)
    issues.add(score_blank, "error", score_label, score_raw, "score is missing")
    not_num = score_cells.flag(~score_cells.blank & ~np.isfinite(score_cells.numbers))
    issues.add(not_num, "error", score_label, score_raw, "score is not a number")
    lo = _per_instrument(inst, inst_text, lambda i: _limit(registry, i, "min"), np.nan)
    hi = _per_instrument(inst, inst_text, lambda i: _limit(registry, i, "max"), np.nan)
    out = ((score < lo) | (score > hi)) & ~not_num  # NaN compares False: no score, no limits
    rng = {k: f"{v.label} scores range {v.min:g}-{v.max:g}" for k, v in registry.items()}
    message = _PerRow(inst, lambda v: "score out of range: " + v.map(rng).astype("string"))
    issues.add(out, "error", score_label, score_raw, message)
    bad |= score_blank | not_num | out

    inf_missing = np.ones(len(raw), dtype=bool)
    inf_zero: np.ndarray | np.bool_ = np.False_
    ints = np.zeros(len(raw), dtype=np.int64)
    time_codes: list[np.ndarray] = []  # the time point's parts of the duplicate key
    if s.INFUSIONS in raw.columns:
        inf_raw = raw[s.INFUSIONS]
        cells = _Numbers(inf_raw, texts[s.INFUSIONS]())
        numbers = cells.numbers
        finite = np.isfinite(numbers) | np.isnan(numbers)  # infinite is "not a number"
        checks = (
            (~cells.blank & ~np.isfinite(numbers), "is not a number"),
            (finite & (numbers < 0), "is negative"),
            (finite & (numbers != np.round(numbers)) & ~np.isnan(numbers), "is not whole"),
            (finite & (numbers > MAX_INFUSIONS), f"is implausibly large (over {MAX_INFUSIONS:,})"),
        )
        for per_value, what in checks:
            flagged = cells.flag(per_value)
            issues.add(flagged, "error", label(s.INFUSIONS), inf_raw, f"infusions received {what}")
            bad |= flagged
        # Excluded rows must not reach the integer column (inf or 1e30 cannot be cast).
        excluded = np.logical_or.reduce([c for c, _ in checks])
        whole = np.where(excluded, np.nan, np.round(numbers))
        missing = np.isnan(whole)
        inf_missing = cells.gather(missing, True)
        ints = cells.gather(np.where(missing, 0, whole).astype(np.int64), 0)
        inf_zero = cells.flag((whole == 0) & ~missing)
        time_codes.append(cells.codes(whole))
    day = np.full(len(raw), np.nan)
    if s.DAY in raw.columns:
        day_raw = raw[s.DAY]
        cells = _Numbers(day_raw, texts[s.DAY]())
        not_number = ~cells.blank & ~np.isfinite(cells.numbers)
        day_text = cells.flag(not_number)
        issues.add(day_text, "error", label(s.DAY), day_raw, "day is not a number")
        bad |= day_text
        day_each = np.where(not_number, np.nan, cells.numbers)
        day = cells.gather(day_each, np.nan)
        time_codes.append(cells.codes(day_each))
    if MAPPING_ERROR in raw.columns:
        as_text = lambda v: v.astype("string")  # noqa: E731
        mapped_bad = raw[MAPPING_ERROR].notna().to_numpy()
        issues.add(
            mapped_bad & ~bad,
            "error",
            _PerRow(raw[MAPPING_ERROR_COLUMN], as_text),
            raw[MAPPING_ERROR_VALUE],
            _PerRow(raw[MAPPING_ERROR], as_text),
        )
        bad |= mapped_bad

    no_time = inf_missing & np.isnan(day)
    time_col = s.INFUSIONS if s.INFUSIONS in raw.columns else s.DAY
    issues.add(
        no_time & ~bad,
        "error",
        label(time_col),
        raw[time_col],
        f"no time point: '{s.INFUSIONS}' and '{s.DAY}' are both missing",
    )
    bad |= no_time
    contradiction = inf_zero & (day > 0)
    issues.add(
        contradiction,
        "error",
        label(s.DAY),
        pd.Series(day),
        "0 infusions received but a positive day: a pre-treatment row must have day <= 0",
    )
    bad |= contradiction

    columns = {
        s.PATIENT_ID: pid,
        s.INSTRUMENT: inst,
        s.SCORE: pd.Series(score),
        s.INFUSIONS: pd.Series(pd.arrays.IntegerArray(ints, inf_missing)),
        s.DAY: pd.Series(day),
        s.SOURCE_ROW: rows.copy(),
    }
    for col, typing in zip(extras, typing_extras, strict=True):
        typed = typing()
        columns[col] = typed.copy() if typed is raw[col] else typed
    # The columns as they are, one block each: by default a DataFrame built from a dict,
    # or grown column by column, copies every column once more into consolidated blocks.
    typed = pd.DataFrame(columns, copy=False)

    key = None
    if pid_text is not None and inst_text is not None:
        # Patient, time, then instrument: an export in that order gives sorted keys.
        parts = [pid_text.stripped_codes(), *time_codes, inst_text.stripped_codes(lower=True)]
        key = _combined_key(parts)
    drop, dup_issues = _resolve_duplicates(typed, bad, score_label, key)
    issues.extend(dup_issues)
    # One filter for excluded rows and dropped repeats: each copies every column.
    keep = ~(bad | drop)
    clean = typed if keep.all() else _rows(typed, keep)
    if not clean.index.equals(pd.RangeIndex(len(clean))):
        clean.index = pd.RangeIndex(len(clean))  # reset_index(drop=True), without a copy
    return ValidationResult(
        data=clean,
        issues=issues.frame(),
        source=source,
        n_rows_read=len(raw),
    )


class _Numbers:
    """A column's cells read as numbers. For a text column ``numbers`` and ``blank`` are
    per distinct value (see :class:`_Text`), for a typed column per cell; :meth:`flag`
    and :meth:`gather` turn a per-value result into one per cell."""

    def __init__(self, values: pd.Series, text: _Text | None = None) -> None:
        """``text``: the column's :class:`_Text`, if already built."""
        if text is None and not pd.api.types.is_numeric_dtype(values):
            text = _text(values)
        self.text = text
        if self.text is not None:
            self.numbers = self.text.numeric_values()
            self.blank = self.text.blank_values()
        else:
            self.numbers = _numeric(values).to_numpy(dtype="float64", na_value=np.nan)
            # A number is never blank: only a missing cell is (text per cell otherwise).
            numeric = pd.api.types.is_numeric_dtype(values)
            blank = values.isna() if numeric else _blank_each(values)
            self.blank = blank.to_numpy(dtype=bool)

    def gather(self, per_value: np.ndarray, missing: object) -> np.ndarray:
        return per_value if self.text is None else self.text.gather(per_value, missing)

    def flag(self, per_value: np.ndarray, missing: bool = False) -> np.ndarray | np.bool_:
        """Per cell, ``per_value`` (``missing`` for a missing cell); ``np.False_`` when no
        cell is flagged."""
        if self.text is None:
            return per_value if per_value.any() else np.False_
        return self.text.mask(per_value, missing)

    def values(self) -> np.ndarray:
        return self.gather(self.numbers, np.nan)

    def codes(self, per_value: np.ndarray) -> np.ndarray:
        """Per cell, a code equal exactly where ``per_value`` numbers are equal (NaN and
        missing cells share -1), in the order of the numbers, factorised once per
        distinct value."""
        codes, _ = pd.factorize(per_value, sort=True, use_na_sentinel=True)
        return self.gather(codes.astype(np.int32), -1)


def _per_instrument(inst: pd.Series, text: _Text | None, fn, missing) -> np.ndarray:
    """``fn`` of each row's (stripped, lower-cased) instrument id, computed once per id."""
    if text is None:
        each = inst.map(lambda i: missing if pd.isna(i) else fn(i))
        return each.to_numpy(dtype=type(missing))
    ids = text.stripped_values(lower=True)
    per_value = np.asarray([fn(i) for i in ids], dtype=type(missing))
    return text.gather(per_value, missing)


def _limit(registry: Mapping[str, Instrument], inst: str, which: str) -> float:
    entry = registry.get(inst)
    return np.nan if entry is None else float(getattr(entry, which))


# Rows from which validation hashes on one worker thread, and from which on two (see
# :func:`_workers`).
PARALLEL_ROWS = 20_000
TWO_WORKERS_ROWS = 1_000_000


def _text_soon(values: pd.Series, workers: ThreadPoolExecutor | None) -> Callable[[], _Text | None]:
    """:func:`_text` of a core column, with the per-cell codes (every check needs them),
    as a function to call when the column is checked. With ``workers``, Arrow text is
    hashed now on a worker thread: the thread runs only that one Arrow call and every
    Python step stays on the calling thread, so no thread waits for the GIL."""
    if not _Text.applies(values):
        return lambda: None
    if workers is None or not _is_arrow_text(values.dtype):
        return lambda: _Text(values, coded=True)
    hashed = workers.submit(_hash, _chunked(values), True).result
    return lambda: _Text(values, coded=True, hashed=hashed)


Looks = Literal["text", "numeric", "empty"]


def _looks(firsts: list[str | None]) -> list[Looks]:
    """How each column looks from its first cell not missing: ``numeric`` when that is a
    number (the rule of :meth:`_Text.numeric_values`), ``text`` when not (a blank cell
    too), ``empty`` when there is none. One ``pd.to_numeric`` call for all columns."""
    shown = [cell.strip() for cell in firsts if cell is not None]
    numbers = iter(_numbers(_objects(shown)))
    return [
        "empty" if cell is None else "text" if np.isnan(next(numbers)) else "numeric"
        for cell in firsts
    ]


def _typed_extras_soon(
    columns: list[pd.Series], workers: ThreadPoolExecutor | None
) -> list[Callable[[], pd.Series]]:
    """:func:`_typed_extra` of each covariate column, as functions to call when a column
    is wanted. The first cell of each Arrow text column tells how it looks (read as
    numbers in one call for all columns); a numeric-looking column is hashed, on a
    worker thread if there are ``workers`` (see :func:`_text_soon`)."""
    arrows = {i: _chunked(v) for i, v in enumerate(columns) if _is_arrow_text(v.dtype)}
    looks = dict(zip(arrows, _looks([_first_cell(a) for a in arrows.values()]), strict=True))
    typing: list[Callable[[], pd.Series]] = []
    for i, values in enumerate(columns):
        if workers is not None and looks.get(i) in ("numeric", "empty"):
            hashed = workers.submit(_hash, arrows[i], looks[i] == "numeric").result
            typing.append(functools.partial(_typed_extra, values, looks[i], hashed))
        elif workers is not None:
            # Typed at once: this thread needs no hashing for it, and the worker starts
            # on the columns submitted before while this thread's NumPy calls let it run.
            typed = _typed_extra(values, looks.get(i))
            typing.append(lambda typed=typed: typed)
        else:
            typing.append(functools.partial(_typed_extra, values, looks.get(i)))
    return typing


def _workers(rows: int) -> ThreadPoolExecutor | None:
    """The worker threads that hash the columns of a table of ``rows``: none for a short
    table (handing work over costs more than it saves), one for a long one, two from a
    million rows. While the hashing is short beside the checks' Python steps, a second
    worker only competes with the checking thread for the two cores (1,000 patients:
    25 ms with one, 28 ms with two); past a million rows the hashing is the longer part
    and two share it (100,000 patients: 1.7 s against 2.3 s with one)."""
    if rows < PARALLEL_ROWS:
        return None
    two = rows >= TWO_WORKERS_ROWS and (os.cpu_count() or 1) >= 2
    return _pool(2 if two else 1)


@functools.cache
def _pool(threads: int) -> ThreadPoolExecutor:
    """Worker threads kept for the process: starting threads on every validation costs
    more than hashing a short column."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"hashing{threads}")


def _typed_extra(
    values: pd.Series,
    looks: Looks | None = None,
    hashed: Callable[[], pa.Array | pa.ChunkedArray] | None = None,
) -> pd.Series:
    """A covariate column: numeric when every non-blank value is a number, else text.

    For Arrow text, ``looks`` is :func:`_looks` of its first cell (found here when
    None); ``hashed`` returns the hashing of the column begun on a worker thread
    (:func:`_hash`, with codes when it looks numeric). When the first cell is no number
    and no cell changes on stripping (:func:`_untouched_by_strip`, which also rules out
    blank cells), the column is text as it stands, found without hashing."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values
    if _is_arrow_text(values.dtype):
        arrow = _chunked(values)
        if looks is None:
            (looks,) = _looks([_first_cell(arrow)])
        # No cell changes on stripping, so none is blank and the first is no number: the
        # column is text, as it stands.
        if looks == "text" and _untouched_by_strip(arrow):
            return _as_text(arrow, values.index, whole=False)
    # The numbers are gathered by code: for numeric-looking Arrow text, found in the
    # same hashing pass as the distinct values.
    coded = looks == "numeric"
    text = _Text(values, coded=coded, hashed=hashed) if _Text.applies(values) else None
    if text is not None:
        num_each = ~np.isnan(text.numeric_values())
        blank_each = text.blank_values()
        if not text.any_row(~(num_each | blank_each)) and text.any_row(num_each):
            return text.numeric()
        return text.text(np.where(blank_each, None, text.stripped_values()), whole=False)
    num = _numeric(values)
    blank = _blank_each(values)
    if (num.notna() | blank).all() and num.notna().any():
        return num
    return _stripped_each(values).where(~blank)


def _first_cell(arrow: pa.ChunkedArray) -> str | None:
    """The first cell that is not missing (None when every cell is)."""
    for chunk in arrow.chunks:
        if chunk.null_count == len(chunk):
            continue
        if chunk.null_count == 0:
            return chunk[0].as_py()
        # The first set bit of the validity bitmap (least significant bit first).
        bytes_ = np.frombuffer(chunk.buffers()[0], dtype=np.uint8)
        bits = np.unpackbits(bytes_, bitorder="little")[chunk.offset : chunk.offset + len(chunk)]
        return chunk[int(bits.argmax())].as_py()
    return None


def _untouched_by_strip(arrow: pa.ChunkedArray) -> bool:
    """Whether every cell not missing begins and ends with a printable ASCII character
    other than a space, read from the bytes without hashing the column. Such a cell is
    not blank and ``str.strip`` leaves it as it is: every byte of a multi-byte UTF-8
    character is 0x80 or above, so no other whitespace can sit at either end. False
    means "not shown" (an empty cell, whitespace or a non-ASCII character at an end)."""
    column = arrow.combine_chunks() if arrow.num_chunks != 1 else arrow.chunk(0)
    if column.null_count == len(column):
        return True
    _, offsets, data = column.buffers()
    if data is None or data.size == 0:
        return False  # every cell not missing is empty
    offset_type = np.int64 if pa.types.is_large_string(column.type) else np.int32
    n = len(column)
    bounds = np.frombuffer(offsets, dtype=offset_type)[column.offset : column.offset + n + 1]
    starts, ends = bounds[:-1], bounds[1:]
    raw = np.frombuffer(data, dtype=np.uint8)
    # (byte - 0x21) as uint8 wraps anything below 0x21 to 0xE0 and above: one comparison.
    printable = np.uint8(0x7F - 0x21)
    ok = (ends > starts) & (raw.take(starts, mode="clip") - np.uint8(0x21) < printable)
    ok &= raw.take(ends - 1, mode="clip") - np.uint8(0x21) < printable
    if column.null_count:
        ok |= ~column.is_valid().to_numpy(zero_copy_only=False)
    return bool(ok.all())


def _combined_key(parts: list[np.ndarray]) -> np.ndarray | None:
    """One 64-bit key per row, equal exactly where every part (integer codes, -1 for
    missing) is equal; None when the key would not fit in 62 bits."""
    sizes = [int(p.max(initial=-1)) + 2 for p in parts]
    if np.prod([float(n) for n in sizes]) >= 2.0**62:
        return None
    key = parts[0].astype(np.int64) + 1
    for part, size in zip(parts[1:], sizes[1:], strict=True):
        key *= size
        key += part
        key += 1
    return key


def _duplicated_key(key: np.ndarray) -> np.ndarray:
    """``pd.Series(key).duplicated(keep=False)``, by sorting: an export grouped by
    patient and time is already in order and costs one comparison pass; a hash table
    over millions of keys is ~10x slower."""
    if len(key) < 2:
        return np.zeros(len(key), dtype=bool)
    if (key[1:] >= key[:-1]).all():
        same = key[1:] == key[:-1]
        return np.r_[same, False] | np.r_[False, same]
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    same = ordered[1:] == ordered[:-1]
    dup = np.empty(len(key), dtype=bool)
    dup[order] = np.r_[same, False] | np.r_[False, same]
    return dup


def _resolve_duplicates(
    typed: pd.DataFrame,
    bad: np.ndarray,
    score_label: str | _PerRow = s.SCORE,
    codes: np.ndarray | None = None,
) -> tuple[np.ndarray, list[pd.DataFrame]]:
    """Among the rows not ``bad``: same patient, instrument and time point with
    conflicting scores are errors (all rows excluded); identical scores are a warning
    and kept once. Returns the rows to drop (a mask over ``typed``) and the issues (none,
    or a frame of :data:`ISSUE_COLUMNS` per kind).
    ``codes`` (one integer per row of ``typed``, equal exactly where the four are, see
    :func:`_combined_key`) find the duplicates without hashing millions of strings."""
    key = [s.PATIENT_ID, s.INSTRUMENT, s.INFUSIONS, s.DAY]
    good = np.flatnonzero(~bad)
    dup = np.zeros(len(typed), dtype=bool)
    if codes is not None:
        dup[good] = _duplicated_key(codes[good] if len(good) < len(codes) else codes)
    else:
        dup[good] = typed.iloc[good].duplicated(key, keep=False).to_numpy()
    if not dup.any():
        return dup, []
    d = typed[dup]
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
    drop = np.zeros(len(typed), dtype=bool)
    drop[typed.index.get_indexer(conflicts.index.union(repeats.index))] = True
    return drop, rows


def _rows(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """``frame[keep]`` (row labels kept), filtering each column's array once: a DataFrame
    takes the rows by position, and a Series filters its index again for every column,
    both several times slower than Arrow's filter on Arrow strings."""
    index = frame.index[keep]
    columns = [pd.Series(frame[c].array[keep], index=index, name=c, copy=False) for c in frame]
    return pd.concat(columns, axis=1, copy=False)
