"""Reading canonical long files (CSV, TSV, Parquet) into validated frames.

Messy exports in other shapes go through an import profile (a later layer); this module
reads files that are already in the canonical shape of DESIGN.md §3.
"""

from __future__ import annotations

import csv
import mmap
import warnings
import zipfile
from collections.abc import Collection, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from analytics.errors import DataValidationError
from analytics.instruments import Instrument
from analytics.schema import SOURCE_ROW
from analytics.validation import ValidationResult, kept_columns, validate_canonical

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": None}
PARQUET_SUFFIXES = {".parquet", ".pq"}
NA_VALUES = ["", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "-", "."]


def read_raw(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV (every column as text) or Parquet file, with a clear error for
    anything that is not a readable table."""
    frame = _as_text(_read(path))
    return frame[frame.drop(columns=SOURCE_ROW).notna().any(axis=1)]


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow text columns (from the fast reader) as Arrow-backed ``string``."""
    for col in frame.columns:
        values = frame[col]
        if isinstance(values.dtype, pd.ArrowDtype):
            text = values.array.__arrow_array__().cast(pa.large_string())
            frame[col] = pd.Series(pd.arrays.ArrowStringArray(text), index=frame.index)
    return frame


def _read(path: str | Path, covariates: Collection[str] | None = None) -> pd.DataFrame:
    """:func:`read_raw`, except that a CSV/TSV read by the fast reader keeps its text
    columns as Arrow arrays wrapped in pandas, which validation uses as they are, and
    leaves out the covariates not named in ``covariates`` (None: keeps all) when that
    changes nothing else (see :func:`_read_text_arrow`)."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise DataValidationError("file not found", file=name)
    if not path.is_file():
        raise DataValidationError("not a file (a folder?)", file=name)
    if path.stat().st_size == 0:
        raise DataValidationError("the file is empty", file=name)
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        try:
            # Text stays Arrow (wrapped, not turned into a Python object per cell).
            return pq.read_table(path).to_pandas(types_mapper=_arrow_text_type)
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
    # Mapped, not read: the page cache is the buffer, so a large file costs no copy. The
    # map is not closed by hand: Arrow's reader threads may hold a view of it a moment
    # longer, and the map goes when its last view does.
    with path.open("rb") as fh:
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    head = data[:4096]
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataValidationError("this is a binary file, not a text table", file=name)
    sep = TEXT_SUFFIXES[suffix] or _sniff(head)
    fast = _read_text_arrow(data, sep, covariates, path)
    del data
    if fast is not None:
        return fast
    return _read_text_pandas(path, sep)


def _arrow_text_type(arrow_type: pa.DataType) -> pd.ArrowDtype | None:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.ArrowDtype(arrow_type)
    return None


def _sniff(head: bytes) -> str:
    """The delimiter of a ``.txt`` table, from its first bytes (comma if unclear)."""
    try:
        return csv.Sniffer().sniff(head.decode("utf-8", "replace"), ",;\t|").delimiter
    except csv.Error:
        return ","


def _read_text_pandas(path: Path, sep: str) -> pd.DataFrame:
    """Every cell as text with pandas' reader: the exact rules for every file the fast
    reader leaves (see :func:`_read_text_arrow`)."""
    name, suffix = path.name, path.suffix.lower()
    try:
        # index_col=False: a row with more fields than the header must not silently turn
        # the first column(s) into the index and shift every value one column left
        # (trailing empty fields are dropped; extra values raise ParserWarning -> error).
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                path,
                sep=sep,
                dtype="string",
                keep_default_na=False,
                na_values=NA_VALUES,
                encoding="utf-8-sig",
                skip_blank_lines=False,
                index_col=False,
            )
        # keep spreadsheet row numbers true across blank lines, then drop empty rows
        frame[SOURCE_ROW] = np.arange(len(frame), dtype="int64") + 2
        frame = frame[frame.drop(columns=SOURCE_ROW).notna().any(axis=1)]
        dupes = _duplicated_header_names(path, sep)
    except pd.errors.ParserWarning:
        raise DataValidationError(
            "some rows have more values than the header has column names; "
            f"check the delimiter ({sep!r}) and remove the extra values",
            file=name,
        ) from None
    except pd.errors.EmptyDataError:
        raise DataValidationError("the file is empty", file=name) from None
    except UnicodeDecodeError:
        raise DataValidationError(
            f"not UTF-8 text ({_first_non_utf8(path)}); save the file as CSV UTF-8", file=name
        ) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataValidationError(
            f"not a readable {suffix[1:].upper()} table: {exc}", file=name
        ) from None
    if dupes:
        # pandas renames a repeated header to "name.1"; the copy would pass as a covariate.
        raise DataValidationError(f"duplicated column name(s): {dupes}", file=name)
    return frame


def _read_text_arrow(
    data: mmap.mmap,
    sep: str,
    covariates: Collection[str] | None = None,
    path: Path | None = None,
) -> pd.DataFrame | None:
    """Every cell as text with pyarrow's multi-threaded CSV reader, each column Arrow
    text wrapped in pandas, plus :data:`SOURCE_ROW`; ``None`` for any file that
    needs the exact rules of the pandas path (blank lines, which keep their row numbers
    there; rows of another length; empty or repeated header names; text that is not UTF-8).

    The cells are those of the pandas path: the same missing-value markers, quoted fields,
    a UTF-8 byte-order mark skipped, no other whitespace stripped; rows with every cell
    missing are dropped.

    Covariates not named in ``covariates`` (None: every column is read) are parsed but not
    converted, as DuckDB reads only the columns a query uses: every other check is the
    same, because the whole file is still checked for UTF-8 and a row missing in every
    column read is read again with all of them (it is an error row if a covariate is
    filled, not an empty row to drop)."""
    # A blank line is a row of one field here, so pyarrow refuses the file (wrong number of
    # columns) and the pandas path keeps the blank line's row number.
    start = 3 if data[:3] == b"\xef\xbb\xbf" else 0
    quoted = data.find(b'"', start) >= 0
    parse = pacsv.ParseOptions(
        delimiter=sep,
        quote_char='"',
        double_quote=True,
        escape_char=False,
        newlines_in_values=quoted,
        ignore_empty_lines=False,
    )
    end = data.find(b"\n", start)
    header = data[start:] if end < 0 else data[start : end + 1]
    try:
        names = pacsv.read_csv(pa.BufferReader(header), parse_options=parse).column_names
    except (pa.ArrowException, ValueError):
        return None
    if not names or any(not n for n in names) or len(set(names)) < len(names):
        return None
    # The whole file is checked for UTF-8 at once (the cells are then read unchecked):
    # one pass over the bytes instead of one check per cell, and columns left out are
    # checked too. The pandas path names the first byte that is not UTF-8.
    if not _is_utf8(data, start):
        return None
    read = names
    if covariates is not None:
        # The first column always: with quotes, the end-of-file row is checked there.
        kept = set(kept_columns(names, covariates))
        read = [n for i, n in enumerate(names) if i == 0 or n in kept]
    table = _read_cells(data, start, sep, names, parse, quoted, read, path)
    if table is None or table.column_names != read:
        return None
    if quoted:
        last = table.slice(table.num_rows - 1).column(0).cast(pa.string()).to_pylist()
        if last != [_END_OF_FILE.decode()]:
            return None
        table = table.slice(0, table.num_rows - 1)
    # Wrapped, not converted: validation reads the Arrow arrays as they are. Built from
    # the arrays with no copy and no consolidation (5x faster than ``to_pandas``).
    cells = {n: pd.arrays.ArrowExtensionArray(c) for n, c in zip(read, table.columns, strict=True)}
    cells[SOURCE_ROW] = np.arange(table.num_rows, dtype="int64") + 2
    frame = pd.DataFrame(cells, index=pd.RangeIndex(table.num_rows), copy=False)
    if any(column.null_count == 0 for column in table.columns):
        return frame  # a column with no missing cell: no row is empty
    filled = frame.drop(columns=SOURCE_ROW).notna().any(axis=1)
    if filled.all():
        return frame
    if len(read) < len(names):
        return _read_text_arrow(data, sep, None, path)  # rows filled in a column not read?
    return frame[filled]


def _is_utf8(data: mmap.mmap, start: int) -> bool:
    """Whether the bytes from ``start`` are UTF-8 (Arrow's validation, without a copy)."""
    body = pa.py_buffer(memoryview(data)[start:])
    offsets = pa.py_buffer(np.array([0, body.size], dtype=np.int64))
    try:
        pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, body]).cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def _read_cells(
    data: mmap.mmap,
    start: int,
    sep: str,
    names: list[str],
    parse: pacsv.ParseOptions,
    quoted: bool,
    read: list[str],
    path: Path | None = None,
) -> pa.Table | None:
    """The cells of the columns ``read`` after the byte-order mark (if any) as Arrow
    text (Arrow copies what it parses: the table holds no view of ``data``). A file with
    neither quotes nor a byte-order mark is read from ``path`` (when given): Arrow reads
    files in blocks ahead of its parser, 10-15% faster than parsing the mapped pages."""
    body = memoryview(data)[start:]
    try:
        # With quotes, a last row of its own: were it swallowed by a quoted field left
        # open, pyarrow would not say so (pandas refuses such a file: "EOF inside string").
        if quoted:
            newline = b"" if body[-1:] in (b"\n", b"\r") else b"\n"
            end_row = _END_OF_FILE + sep.encode() * (len(names) - 1) + b"\n"
            source = pa.py_buffer(b"".join((body, newline, end_row)))
        elif path is not None and start == 0:
            source = None
        else:
            source = pa.py_buffer(body)
        return pacsv.read_csv(
            str(path) if source is None else pa.BufferReader(source),
            # Blocks of 1-16 MB, about 32 per file: enough to keep every core busy,
            # few enough that the per-block overheads stay small.
            read_options=pacsv.ReadOptions(block_size=min(max(len(body) // 32, 1 << 20), 16 << 20)),
            parse_options=parse,
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(read, pa.large_string()),
                include_columns=read,
                null_values=NA_VALUES,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                check_utf8=False,  # the caller checked the whole file
            ),
        )
    except (pa.ArrowException, ValueError):
        return None


_END_OF_FILE = b"\x1e<end of file>\x1e"


def _first_non_utf8(path: Path) -> str:
    """Where the first byte that is not UTF-8 is, as "line L, byte B" of the whole file
    (pandas reports an offset inside its read buffer, which misleads on large files)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return f"line {line}, byte {exc.start}"
    return "an invalid byte"


def _duplicated_header_names(path: Path, sep: str) -> list[str]:
    """Non-empty names that occur more than once in the header line, as written."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        try:
            header = next((r for r in csv.reader(fh, delimiter=sep) if any(map(str.strip, r))), [])
        except csv.Error:
            return []
    seen: set[str] = set()
    dupes: list[str] = []
    for col in header:
        if col in seen and col not in dupes and col.strip():
            dupes.append(col)
        seen.add(col)
    return dupes


def load_canonical(
    path: str | Path,
    *,
    registry: Mapping[str, Instrument] | None = None,
    covariates: Collection[str] | None = None,
) -> ValidationResult:
    """Read and validate a canonical long file. Returns clean rows and the report;
    call :meth:`ValidationResult.raise_for_errors` to refuse a file with any error.
    ``covariates``: the covariate columns to keep (all when None; see
    :func:`~analytics.validation.validate_canonical`)."""
    raw = _read(path, covariates)
    return validate_canonical(raw, source=Path(path).name, registry=registry, covariates=covariates)
