"""From an uploaded file to validated canonical rows: read, map, validate, screen.

:func:`ingest` is the one path every upload takes, in the app and on the command line
(``--profile``). It returns everything the mapping screen shows; it stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analytics import schema as s
from analytics.errors import DataValidationError
from analytics.profiles import ImportProfile, apply_profile, parse_profile
from analytics.readers import DEFAULT_MAX_BYTES, RawTable, read_table
from analytics.validation import ValidationResult, validate_canonical


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


def ingest_table(table: RawTable, profile: ImportProfile | None) -> Ingested:
    """Map (when a profile is given) and validate an already-read table."""
    if profile is None:
        if not is_canonical(table):
            raise DataValidationError(
                "this file is not in the canonical long form (patient_id, instrument, score, "
                "infusions_received and/or day): map its columns with an import profile",
                file=table.source,
            )
        mapped, labels, registry = table.frame, {}, None
    else:
        mapped, labels = apply_profile(table, profile)
        registry = profile.registry
    if mapped.empty:
        raise DataValidationError("no scores found in the mapped columns", file=table.source)
    result = validate_canonical(
        mapped, source=table.source, registry=registry, column_labels=labels
    )
    return Ingested(table, profile, result, screen(table, profile))


def ingest(
    data: bytes | str | Path,
    *,
    name: str | None = None,
    profile: ImportProfile | None = None,
    sheet: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Ingested:
    """Read any supported file and map it with ``profile`` (or take it as canonical)."""
    sheet = sheet or (profile.sheet if profile is not None else None)
    table = read_table(data, name=name, sheet=sheet, max_bytes=max_bytes)
    return ingest_table(table, profile)


def load_profile(path: str | Path) -> ImportProfile:
    path = Path(path)
    if not path.is_file():
        raise DataValidationError("import profile not found", file=path.name)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataValidationError("the profile is not UTF-8 text", file=path.name) from None
    return parse_profile(text, source=path.name)
