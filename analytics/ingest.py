"""From an uploaded file to validated canonical rows: read, map, validate, screen.

:func:`ingest` is the one path every upload takes, in the app and on the command line
(``--profile``). It returns everything the mapping screen shows; it stores nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analytics import schema as s
from analytics.errors import DataValidationError
from analytics.profiles import ImportProfile, apply_profile, parse_profile
from analytics.readers import DEFAULT_MAX_BYTES, RawTable, read_table
from analytics.validation import ValidationResult, validate_canonical

Progress = Callable[[str, float], None]
# The steps of an upload, in order, as reported to a progress callback.
STEP_READ = "Reading the file"
STEP_MAP = "Mapping the columns"
STEP_VALIDATE = "Checking every row"
STEP_SCREEN = "Screening for identifiers"
STEP_DONE = "Checked"


def scaled(progress: Progress | None, low: float, high: float, prefix: str = "") -> Progress | None:
    """A callback reporting a sub-step's fraction as the part [low, high] of the whole."""
    if progress is None:
        return None

    def report(message: str, fraction: float) -> None:
        progress(f"{prefix}{message}", low + (high - low) * min(max(fraction, 0.0), 1.0))

    return report


@dataclass(frozen=True)
class Ingested:
    """The outcome of one upload: the raw table, the mapping used (``None`` for a file
    already in canonical form), the validation result and the identifier findings."""

    table: RawTable
    profile: ImportProfile | None
    result: ValidationResult
    identifier_findings: tuple = ()

    @property
    def data(self) -> pd.DataFrame:
        return self.result.data

    @property
    def notices(self) -> tuple[str, ...]:
        return self.table.notices


def is_canonical(table: RawTable) -> bool:
    cols = set(table.columns)
    return set(s.REQUIRED_COLUMNS) <= cols and bool(cols & set(s.TIME_COLUMNS))


def screen(table: RawTable, profile: ImportProfile | None) -> tuple:
    """Identifier findings for the columns that would be kept (all columns of a canonical
    file; the mapped ones of a profiled file)."""
    from analytics.identifiers import screen_identifiers

    frame = table.frame.drop(columns=[s.SOURCE_ROW])
    if profile is not None:
        # only what would be stored: the mapped columns, less those the user dropped
        kept = [c for c in profile.source_columns() if c not in profile.identifiers_drop]
        frame = frame[[c for c in kept if c in frame.columns]]
        id_column = profile.patient_id
        dates = [c for c in (profile.date_column, profile.first_infusion_date_column) if c]
    else:
        id_column, dates = s.PATIENT_ID, []
    return tuple(screen_identifiers(frame, id_column=id_column, date_columns_used_for_time=dates))


def ingest_table(
    table: RawTable, profile: ImportProfile | None, *, progress: Progress | None = None
) -> Ingested:
    """Map (when a profile is given) and validate an already-read table.

    ``progress(message, fraction)`` is called before each step (:data:`STEP_MAP`,
    :data:`STEP_VALIDATE`, :data:`STEP_SCREEN`) and with :data:`STEP_DONE` at the end.
    """
    report = progress or (lambda message, fraction: None)
    if profile is None:
        if not is_canonical(table):
            raise DataValidationError(
                "this file is not in the canonical long form (patient_id, instrument, score, "
                "infusions_received and/or day): map its columns with an import profile",
                file=table.source,
            )
        mapped, labels, registry = table.frame, {}, None
    else:
        report(STEP_MAP, 0.0)
        mapped, labels = apply_profile(table, profile)
        registry = profile.registry
    if mapped.empty:
        raise DataValidationError("no scores found in the mapped columns", file=table.source)
    report(STEP_VALIDATE, 0.35)
    result = validate_canonical(
        mapped, source=table.source, registry=registry, column_labels=labels
    )
    del mapped
    report(STEP_SCREEN, 0.85)
    findings = screen(table, profile)
    report(STEP_DONE, 1.0)
    return Ingested(table, profile, result, findings)


def ingest(
    data: bytes | str | Path,
    *,
    name: str | None = None,
    profile: ImportProfile | None = None,
    sheet: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress | None = None,
) -> Ingested:
    """Read any supported file and map it with ``profile`` (or take it as canonical).

    ``progress(message, fraction of the whole upload)`` is called before each step:
    :data:`STEP_READ` (and the read's own steps, prefixed ``"Reading the file: "``),
    then those of :func:`ingest_table`."""
    sheet = sheet or (profile.sheet if profile is not None else None)
    if progress is not None:
        progress(STEP_READ, 0.0)
    table = read_table(
        data,
        name=name,
        sheet=sheet,
        max_bytes=max_bytes,
        progress=scaled(progress, 0.0, 0.5, f"{STEP_READ}: "),
    )
    return ingest_table(table, profile, progress=scaled(progress, 0.5, 1.0))


def load_profile(path: str | Path) -> ImportProfile:
    path = Path(path)
    if not path.is_file():
        raise DataValidationError("import profile not found", file=path.name)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataValidationError("the profile is not UTF-8 text", file=path.name) from None
    return parse_profile(text, source=path.name)
