"""Reading canonical long files (CSV, TSV, Parquet) into validated frames.

Messy exports in other shapes go through an import profile (a later layer); this module
reads files that are already in the canonical shape of DESIGN.md §3.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analytics.errors import DataValidationError
from analytics.instruments import Instrument
from analytics.validation import ValidationResult, validate_canonical

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": None}
PARQUET_SUFFIXES = {".parquet", ".pq"}
NA_VALUES = ["", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "-", "."]


def read_raw(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV (every column as text) or Parquet file, with a clear error for
    anything that is not a readable table."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise DataValidationError("file not found", file=name)
    if path.stat().st_size == 0:
        raise DataValidationError("the file is empty", file=name)
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        try:
            return pq.read_table(path).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise DataValidationError(f"not a readable Parquet file ({exc})", file=name) from None
    if suffix not in TEXT_SUFFIXES:
        raise DataValidationError(
            f"unsupported file type '{suffix}': use CSV, TSV or Parquet "
            "(or an import profile for other shapes)",
            file=name,
        )
    if zipfile.is_zipfile(path):
        raise DataValidationError("this is a zip archive, not a text table", file=name)
    head = path.read_bytes()[:4096]
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataValidationError("this is a binary file, not a text table", file=name)
    sep = TEXT_SUFFIXES[suffix]
    if sep is None:
        try:
            sep = csv.Sniffer().sniff(head.decode("utf-8", "replace"), ",;\t|").delimiter
        except csv.Error:
            sep = ","
    try:
        return pd.read_csv(
            path,
            sep=sep,
            dtype="string",
            keep_default_na=False,
            na_values=NA_VALUES,
            encoding="utf-8-sig",
            skip_blank_lines=True,
        )
    except pd.errors.EmptyDataError:
        raise DataValidationError("the file is empty", file=name) from None
    except UnicodeDecodeError as exc:
        raise DataValidationError(
            f"not UTF-8 text (byte {exc.start}); save the file as CSV UTF-8", file=name
        ) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataValidationError(
            f"not a readable {suffix[1:].upper()} table: {exc}", file=name
        ) from None


def load_canonical(
    path: str | Path,
    *,
    registry: Mapping[str, Instrument] | None = None,
) -> ValidationResult:
    """Read and validate a canonical long file. Returns clean rows and the report;
    call :meth:`ValidationResult.raise_for_errors` to refuse a file with any error."""
    raw = read_raw(path)
    return validate_canonical(raw, source=Path(path).name, registry=registry)
