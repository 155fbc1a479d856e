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
        column: str | pd.Series,
        values: pd.Series,
        message: str | pd.Series,
    ) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        msg = message[mask].to_numpy() if isinstance(message, pd.Series) else message
        if isinstance(column, pd.Series):
            column = column.to_numpy()[mask]
        self._chunks.append(
            pd.DataFrame(
                {
                    "severity": severity,
                    "row": self._rows.to_numpy()[mask],
                    "column": column,
                    "value": values.astype("string").to_numpy()[mask],
                    "message": msg,
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self._chunks:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in ISSUE_COLUMNS})
        out = pd.concat(self._chunks, ignore_index=True)
        return out.sort_values(["row", "severity"], kind="stable").reset_index(drop=True)


def _blank(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return values.isna() | text.isna() | (text == "")


def _numeric(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    text = values.astype("string").str.strip()
    return pd.to_numeric(text, errors="coerce").astype("float64")


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
    raw = raw.reset_index(drop=True)
    if s.SOURCE_ROW in raw.columns:
        rows = pd.Series(raw[s.SOURCE_ROW].to_numpy(dtype="int64"), index=raw.index)
    else:
        rows = pd.Series(np.arange(len(raw)) + first_row, index=raw.index)
    labels = dict(column_labels or {})
    if s.SOURCE_COLUMN in raw.columns:
        score_label: str | pd.Series = raw[s.SOURCE_COLUMN].astype("string").fillna(s.SCORE)
    else:
        score_label = labels.get(s.SCORE, s.SCORE)
    issues = _Issues(rows)

    def label(col: str) -> str:
        return labels.get(col, col)

    bad = np.zeros(len(raw), dtype=bool)

    pid_raw = raw[s.PATIENT_ID]
    pid_missing = _blank(pid_raw)
    issues.add(pid_missing, "error", label(s.PATIENT_ID), pid_raw, "patient id is missing")
    bad |= pid_missing.to_numpy()
    pid = pid_raw.astype("string").str.strip()

    inst_raw = raw[s.INSTRUMENT]
    inst = inst_raw.astype("string").str.strip().str.lower()
    inst_missing = _blank(inst_raw)
    issues.add(inst_missing, "error", label(s.INSTRUMENT), inst_raw, "instrument is missing")
    unknown = ~inst_missing & ~inst.isin(list(registry)).fillna(False)
    known = ", ".join(sorted(registry))
    issues.add(
        unknown, "error", label(s.INSTRUMENT), inst_raw, f"unknown instrument (known: {known})"
    )
    bad |= (inst_missing | unknown).to_numpy()

    score_raw = raw[s.SCORE]
    score = _numeric(score_raw)
    score_blank = _blank(score_raw)
    issues.add(score_blank, "error", score_label, score_raw, "score is missing")
    not_num = ~score_blank & (score.isna() | ~np.isfinite(score.fillna(0)))
    issues.add(not_num, "error", score_label, score_raw, "score is not a number")
    lo = inst.map({k: v.min for k, v in registry.items()}).astype("float64")
    hi = inst.map({k: v.max for k, v in registry.items()}).astype("float64")
    out = ~not_num & score.notna() & lo.notna() & ((score < lo) | (score > hi))
    rng = inst.map({k: f"{v.label} scores range {v.min:g}-{v.max:g}" for k, v in registry.items()})
    issues.add(out, "error", score_label, score_raw, "score out of range: " + rng.astype("string"))
    bad |= (score_blank | not_num | out).to_numpy()

    infusions = pd.Series(np.nan, index=raw.index)
    if s.INFUSIONS in raw.columns:
        inf_raw = raw[s.INFUSIONS]
        infusions = _numeric(inf_raw)
        finite = np.isfinite(infusions.fillna(0))
        inf_text = ~_blank(inf_raw) & (infusions.isna() | ~finite)
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
        day = _numeric(day_raw)
        day_text = ~_blank(day_raw) & (day.isna() | ~np.isfinite(day.fillna(0)))
        issues.add(day_text, "error", label(s.DAY), day_raw, "day is not a number")
        bad |= day_text.to_numpy()
        day = day.where(~day_text)
    if MAPPING_ERROR in raw.columns:
        msg = raw[MAPPING_ERROR].astype("string")
        mapped_bad = msg.notna()
        issues.add(
            mapped_bad & ~pd.Series(bad, index=raw.index),
            "error",
            raw[MAPPING_ERROR_COLUMN].astype("string"),
            raw[MAPPING_ERROR_VALUE].astype("string"),
            msg,
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
        day.astype("string"),
        "0 infusions received but a positive day: a pre-treatment row must have day <= 0",
    )
    bad |= contradiction.fillna(False).to_numpy()

    skip = {*s.CORE_COLUMNS, *s.BOOKKEEPING, *MAPPING_COLUMNS}
    extras = [c for c in raw.columns if c not in skip]
    clean = pd.DataFrame(
        {
            s.PATIENT_ID: pid,
            s.INSTRUMENT: inst,
            s.SCORE: score,
            s.INFUSIONS: infusions.round().astype("Int64"),
            s.DAY: day,
            s.SOURCE_ROW: rows,
        }
    )
    for col in extras:
        clean[col] = _typed_extra(raw[col])
    clean = clean[~bad]

    clean, dup_issues = _resolve_duplicates(clean, score_label)
    issue_frame = pd.concat([issues.frame(), dup_issues], ignore_index=True)
    if not dup_issues.empty:
        issue_frame = issue_frame.sort_values(["row", "severity"], kind="stable")
    clean = clean.reset_index(drop=True)
    return ValidationResult(
        data=clean,
        issues=issue_frame.reset_index(drop=True),
        source=source,
        n_rows_read=len(raw),
    )


def _typed_extra(values: pd.Series) -> pd.Series:
    """A covariate column: numeric when every non-blank value is a number, else text."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values
    num = _numeric(values)
    blank = _blank(values)
    if (num.notna() | blank).all() and num.notna().any():
        return num
    return values.astype("string").str.strip().where(~blank)


def _resolve_duplicates(
    clean: pd.DataFrame, score_label: str | pd.Series = s.SCORE
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Same patient, instrument and time point: conflicting scores are errors (all rows
    excluded); identical scores are a warning and kept once."""
    key = [s.PATIENT_ID, s.INSTRUMENT, s.INFUSIONS, s.DAY]
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
                        score_label[frame.index].to_numpy()
                        if isinstance(score_label, pd.Series)
                        else score_label
                    ),
                    "value": frame[s.SCORE].astype("string").to_numpy(),
                    "message": [f"{text} (first seen on row {r})" for r in first_row[frame.index]],
                }
            )
        )
    drop = conflicts.index.union(repeats.index)
    return clean.drop(index=drop), pd.concat(rows, ignore_index=True)
