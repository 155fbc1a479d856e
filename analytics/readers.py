"""Reading uploaded exports of any everyday shape into a table of text cells.

CSV and TSV (encoding detected: UTF-8 with or without BOM, UTF-16 as Excel writes it,
Windows-1252/Latin-1 via ``charset-normalizer``; delimiter sniffed; decimal commas where
the delimiter is a semicolon), Excel ``.xlsx`` (a chosen sheet; a title block above the
header and a merged two-row header are handled) and Parquet.

Every cell comes back as text (or missing), so that nothing is guessed before the mapping
step, and each data row keeps the row number the user sees in their spreadsheet.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.errors import DataValidationError

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
NA_VALUES = (
    "",
    "NA",
    "N/A",
    "n/a",
    "na",
    "NaN",
    "nan",
    "null",
    "NULL",
    "None",
    "none",
    "-",
    ".",
    "#N/A",
)
TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
SUPPORTED = sorted(TEXT_SUFFIXES | EXCEL_SUFFIXES | PARQUET_SUFFIXES)
SOURCE_ROW = "source_row"
_DECIMAL_COMMA = re.compile(r"^\s*-?\d+,\d+\s*$")
_HEADER_SCAN_ROWS = 15
_NA_SET = frozenset(NA_VALUES)
# Encoding, binary check and delimiter are judged on the file's first bytes; a file at
# least this large is parsed by pyarrow when it can give exactly the cells pandas gives.
SAMPLE_BYTES = 1 << 20
FAST_PATH_MIN_BYTES = 1 << 20
# Steps of a read reported to a progress callback: (message, fraction of the read done).
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class RawTable:
    """An uploaded table: text cells, original row numbers, and how it was read.

    ``frame`` has one column per source column (names de-duplicated as ``name (2)``) and a
    ``source_row`` column with the 1-based row number in the file (spreadsheet numbering).
    """

    frame: pd.DataFrame
    source: str
    file_format: str
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str = "."
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    header_row: int = 1
    notices: tuple[str, ...] = field(default_factory=tuple)

    @property
    def columns(self) -> list[str]:
        return [c for c in self.frame.columns if c != SOURCE_ROW]


def _fail(message: str, name: str) -> DataValidationError:
    return DataValidationError(message, file=name)


def _as_bytes(data: bytes | str | Path, name: str) -> bytes:
    if isinstance(data, bytes):
        return data
    try:
        return Path(data).read_bytes()
    except OSError as exc:  # missing, a folder, unreadable
        why = exc.strerror or type(exc).__name__
        raise _fail(f"the file cannot be read ({why})", name) from None


def check_size(n_bytes: int, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    if n_bytes > max_bytes:
        raise _fail(
            f"the file is {n_bytes / 1e6:,.1f} MB, over the upload limit of "
            f"{max_bytes / 1e6:,.0f} MB (set OUTCOMES_MAX_UPLOAD_MB to change it)",
            name,
        )


def detect_encoding(raw: bytes) -> str:
    """BOMs first, then strict UTF-8, then UTF-16 without BOM, then charset-normalizer."""
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # UTF-16 without BOM first: ASCII text in UTF-16 is also valid UTF-8 (with NULs).
    head = raw[:4096]
    if len(head) >= 4 and head[1::2].count(0) > len(head) // 4:
        return "utf-16-le"
    if len(head) >= 4 and head[0::2].count(0) > len(head) // 4:
        return "utf-16-be"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    # Windows-1252 whenever it decodes: on a small export charset-normalizer's best
    # guess is often another code page (cp775, cp1250, johab) that garbles é, ü, ñ.
    try:
        raw.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:200_000]).best()
    if best is None:
        return "cp1252"
    enc = best.encoding.lower()
    return "cp1252" if enc in {"latin_1", "iso8859_1", "ascii"} else enc


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    if not sample:
        return False
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\r\n\t")
    return control / len(sample) > 0.05 or "\x00" in sample


def sniff_delimiter(text: str, suffix: str) -> str:
    if suffix in {".tsv", ".tab"}:
        return "\t"
    head = text[:SAMPLE_BYTES]
    first = head.splitlines()
    if len(first) <= 30 and len(head) < len(text):  # lines longer than the sample
        first = text.splitlines()
    lines = [ln for ln in first[:30] if ln.strip()]
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: sum(ln.count(d) for ln in lines) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _parse_text(text: str, delimiter: str, name: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Cells as text, every row kept (blank rows too, so row numbers stay true)."""
    kwargs = dict(
        sep=delimiter,
        header=None,
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=False,
        quotechar='"',
    )
    try:
        return pd.read_csv(io.StringIO(text), engine="c", **kwargs), ()
    except pd.errors.ParserError:
        pass
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    width = max((len(r) for r in rows), default=0)
    frame = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)
    return frame, ()


def _find_header(frame: pd.DataFrame) -> int:
    """Index of the header row: the first row, among the first few, whose filled cells
    cover most of the table's width and are mostly not numbers."""
    width = frame.shape[1]
    for i in range(min(_HEADER_SCAN_ROWS, len(frame))):
        cells = frame.iloc[i]
        filled = cells.notna() & (cells.astype(str).str.strip() != "")
        if filled.sum() == 0:
            continue
        text = cells[filled].astype(str)
        numeric = pd.to_numeric(text, errors="coerce").notna().mean()
        if filled.sum() >= max(2, 0.5 * width) and numeric < 0.5:
            return i
    return 0


def _header_names(frame: pd.DataFrame, header: int) -> tuple[list[str], int, tuple[str, ...]]:
    """Column names from the header row; a sparse row just above it (a merged group
    header such as "PCL-5" over "Baseline | Week 4") is forward-filled and joined."""
    notices: list[str] = []
    names = [("" if pd.isna(v) else str(v).strip()) for v in frame.iloc[header]]
    first = header
    if header > 0:
        above = frame.iloc[header - 1]
        filled = above.notna() & (above.astype(str).str.strip() != "")
        title = filled.sum() == 1 and bool(filled.iloc[0])  # "Generated: 2024-04-01"
        if 0 < filled.sum() < len(above) and not title:
            group = above.where(filled).ffill()
            joined = []
            for g, n in zip(group, names, strict=True):
                joined.append(f"{str(g).strip()} {n}".strip() if isinstance(g, str) else n)
            names = joined
            first = header - 1
            notices.append(f"a two-row header was combined (rows {header} and {header + 1})")
    if first > 0:
        notices.append(f"{first} line(s) above the header were skipped")
    names = [n or f"column {i + 1}" for i, n in enumerate(names)]
    out, seen, taken = [], {}, set(names)
    for n in names:
        if n in seen:
            k = seen[n] + 1
            while f"{n} ({k})" in taken:  # "Total", "Total", "Total (2)"
                k += 1
            seen[n] = k
            notices.append(f"duplicated column name '{n}' renamed to '{n} ({k})'")
            n = f"{n} ({k})"
            taken.add(n)
        else:
            seen[n] = 1
        out.append(n)
    return out, first, tuple(notices)


def _coded(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column of cells as (codes, distinct texts); code -1 is a missing cell."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    return codes, np.asarray([str(u) for u in uniques], dtype=object)


def _cell_text(text: str, decimal: str) -> object:
    """One distinct cell as the table keeps it: stripped, NA markers missing, and with a
    decimal-comma file a number such as ``12,5`` written ``12.5``."""
    s = text.strip()
    if s in _NA_SET:
        return pd.NA
    if decimal == "," and _DECIMAL_COMMA.match(s):
        return s.replace(",", ".")
    return s


def _delimited_table(
    frame: pd.DataFrame,
    name: str,
    encoding: str,
    delimiter: str,
    decimal: str,
    header_row: int,
    notices: list[str] | tuple[str, ...],
) -> RawTable:
    """The :class:`RawTable` of a CSV/TSV read, from either the pyarrow or the pandas path."""
    return RawTable(
        frame=frame,
        source=name,
        file_format="tsv" if delimiter == "\t" else "csv",
        encoding=encoding,
        delimiter=delimiter,
        decimal=decimal,
        header_row=header_row,
        notices=notices,
    )


def _tidy_coded(
    cells: list[tuple[np.ndarray, np.ndarray]], name: str, decimal: str
) -> tuple[pd.DataFrame, int, tuple]:
    """Header, blank rows and cell text of a table given as coded columns.

    Every step on a cell depends on the cell alone, so it runs once per distinct text and
    is gathered back by code: the same cells as applying it to every row.
    """
    n_rows = len(cells[0][0]) if cells else 0
    if n_rows == 0:
        raise _fail("the file has no rows", name)
    top = min(_HEADER_SCAN_ROWS, n_rows)
    head = pd.DataFrame(
        {i: [None if c < 0 else u[c] for c in codes[:top]] for i, (codes, u) in enumerate(cells)},
        dtype=object,
    )
    header = _find_header(head)
    columns, _, notices = _header_names(head, header)
    blank = np.ones(n_rows - header - 1, dtype=bool)
    for codes, uniques in cells:
        per_value = np.fromiter((u.strip() == "" for u in uniques), dtype=bool, count=len(uniques))
        blank &= np.append(per_value, True)[codes[header + 1 :]]
    keep = np.flatnonzero(~blank)
    if len(keep) == 0:
        raise _fail("the file has a header but no data rows", name)
    import pyarrow as pa

    body: dict[str, object] = {}
    for col, (codes, uniques) in zip(columns, cells, strict=True):
        # Each distinct text tidied once, then the column decoded by Arrow into an
        # Arrow-backed string column: no Python object per cell.
        tidy = [_cell_text(u, decimal) for u in uniques]
        dictionary = pa.array([None if t is pd.NA else t for t in tidy], type=pa.large_string())
        rows = codes[header + 1 :][keep]
        indices = pa.array(rows, mask=rows < 0)
        text = pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.large_string())
        body[col] = pd.arrays.ArrowStringArray(text)
    body[SOURCE_ROW] = keep.astype("int64") + header + 2
    return pd.DataFrame(body), header + 1, notices


def _tidy(frame: pd.DataFrame, name: str, decimal: str) -> tuple[pd.DataFrame, int, tuple]:
    if frame.empty:
        raise _fail("the file has no rows", name)
    cells = [_coded(frame.iloc[:, i]) for i in range(frame.shape[1])]
    return _tidy_coded(cells, name, decimal)


def _sample_text(raw: bytes) -> str | None:
    """The decoded start of a UTF-8 file (BOMs dropped), or None if it is not UTF-8."""
    sample = raw[:SAMPLE_BYTES]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:  # a character cut at the end of the sample is fine
        if exc.reason != "unexpected end of data" or exc.start < len(sample) - 3:
            return None
        text = sample[: exc.start].decode("utf-8")
    return text.lstrip("\ufeff")


def _read_text_fast(
    raw: bytes, name: str, suffix: str, progress: Progress | None
) -> RawTable | None:
    """The pyarrow read of a large UTF-8 delimited file, or None when it cannot promise
    exactly the cells of the exact path (then that path runs and reports any problem).

    Encoding, the binary check and the delimiter come from the first bytes (pyarrow
    checks that the rest is UTF-8); ragged rows, other encodings and any parse error go
    to the exact path, which keeps its row numbers and messages. Blank lines stay rows
    (of empty cells), so row numbers are those of the exact path."""
    if len(raw) < FAST_PATH_MIN_BYTES or raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    head = raw[:4096]
    if head[1::2].count(0) > len(head) // 4 or head[0::2].count(0) > len(head) // 4:
        return None  # UTF-16 without a BOM
    encoding = "utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8"
    text = _sample_text(raw)
    if text is None or _looks_binary(text):
        return None
    lines = text.splitlines()
    if len(lines) <= 30 and len(raw) > SAMPLE_BYTES:  # the sniffer sees whole lines only
        return None
    offset = 0
    while raw.startswith(codecs.BOM_UTF8, offset):
        offset += len(codecs.BOM_UTF8)
    body = memoryview(raw)[offset:]
    # A leading blank line would make pyarrow count one column (it fails, and the exact
    # path reads the file); a blank line further down is a row of empty cells in both.
    delimiter = sniff_delimiter(text, suffix)
    if progress is not None:
        progress("Parsing the file", 0.1)
    import pyarrow as pa
    import pyarrow.csv as pacsv

    width = lines[0].count(delimiter) + 1
    try:
        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(body)),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True, use_threads=True),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=b'"' in raw,
                ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(max(width, 1) + 1)},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
                check_utf8=True,
            ),
        )
    except (pa.ArrowException, ValueError, OSError):
        return None
    if table.num_columns < 2 or any(not pa.types.is_string(t) for t in table.schema.types):
        return None
    if progress is not None:
        progress("Tidying the cells", 0.5)
    decimal = "," if delimiter == ";" else "."
    cells = []
    for i in range(table.num_columns):
        encoded = table.column(i).combine_chunks().dictionary_encode()
        cells.append(
            (
                encoded.indices.to_numpy(zero_copy_only=False),
                np.asarray(encoded.dictionary.to_pylist(), dtype=object),
            )
        )
    del table
    # mimalloc keeps freed pages for reuse: hand the parsed text (hundreds of MB for a
    # large export) back to the system now that only the codes are needed.
    pa.default_memory_pool().release_unused()
    frame, header_row, notices = _tidy_coded(cells, name, decimal)
    return _delimited_table(frame, name, encoding, delimiter, decimal, header_row, notices)


def read_table(
    data: bytes | str | Path,
    *,
    name: str | None = None,
    sheet: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress | None = None,
) -> RawTable:
    """Read an uploaded file (bytes or a path) into a :class:`RawTable`.

    Raises :class:`DataValidationError` naming the file for anything that is not a
    readable table: empty, too large, binary, a zip archive, an unknown type.
    ``progress(message, fraction)`` is called as the read goes on (fraction of the read).
    """
    name = name or (Path(data).name if not isinstance(data, bytes) else "upload")
    raw = _as_bytes(data, name)
    check_size(len(raw), name, max_bytes)
    if not raw[:SAMPLE_BYTES].strip() and not raw.strip():
        raise _fail("the file is empty", name)
    suffix = Path(name).suffix.lower()
    is_zip = raw[:4] == b"PK\x03\x04"
    if is_zip and (suffix in EXCEL_SUFFIXES or _is_xlsx(raw)):
        return _read_excel(raw, name, sheet)
    if is_zip:
        raise _fail("this is a zip archive, not a table: unzip it and upload the file inside", name)
    if raw[:4] == b"PAR1" or suffix in PARQUET_SUFFIXES:
        return _read_parquet(raw, name)
    if suffix in EXCEL_SUFFIXES:
        raise _fail("this is not a valid .xlsx workbook (is it an old .xls? save as .xlsx)", name)
    if suffix and suffix not in TEXT_SUFFIXES:
        raise _fail(f"unsupported file type '{suffix}': use {', '.join(SUPPORTED)}", name)
    if progress is not None:
        progress("Detecting the encoding and delimiter", 0.0)
    fast = _read_text_fast(raw, name, suffix, progress)
    if fast is not None:
        return fast
    encoding = detect_encoding(raw)
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        encoding = "cp1252"
        text = raw.decode(encoding, errors="replace")
    text = text.lstrip("\ufeff")
    if _looks_binary(text):
        raise _fail("this is a binary file, not a text table (CSV, TSV) or workbook", name)
    delimiter = sniff_delimiter(text, suffix)
    decimal = "," if delimiter == ";" else "."
    if progress is not None:
        progress("Parsing the file", 0.1)
    frame, parse_notes = _parse_text(text, delimiter, name)
    if frame.shape[1] < 2:
        raise _fail(
            "only one column was found: is the file delimited by commas, semicolons or tabs?", name
        )
    if progress is not None:
        progress("Tidying the cells", 0.5)
    body, header_row, notices = _tidy(frame, name, decimal)
    return _delimited_table(
        body, name, encoding, delimiter, decimal, header_row, parse_notes + notices
    )


def _is_xlsx(raw: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            return "[Content_Types].xml" in z.namelist() and any(
                n.startswith("xl/") for n in z.namelist()
            )
    except zipfile.BadZipFile:
        return False


def excel_sheets(raw: bytes, name: str = "upload.xlsx") -> list[str]:
    """Sheet names of a workbook, in order."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise _fail(f"not a readable .xlsx workbook ({type(exc).__name__})", name) from None
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def _read_excel(raw: bytes, name: str, sheet: str | None) -> RawTable:
    sheets = excel_sheets(raw, name)
    if sheet is None:
        sheet = sheets[0]
    elif sheet not in sheets:
        raise _fail(f"no sheet named '{sheet}' (sheets: {', '.join(sheets)})", name)
    try:
        frame = pd.read_excel(io.BytesIO(raw), sheet_name=sheet, header=None, dtype=object)
    except Exception as exc:
        raise _fail(f"sheet '{sheet}' cannot be read ({type(exc).__name__})", name) from None
    frame = frame.map(_excel_cell)
    frame = frame.dropna(axis=1, how="all")
    if frame.empty or frame.shape[1] < 2:
        raise _fail(f"sheet '{sheet}' has no table (fewer than two filled columns)", name)
    body, header_row, notices = _tidy(frame.reset_index(drop=True), name, ".")
    if len(sheets) > 1:
        notices = (f"read sheet '{sheet}' of {len(sheets)}", *notices)
    return RawTable(
        frame=body,
        source=name,
        file_format="xlsx",
        sheet=sheet,
        sheets=tuple(sheets),
        header_row=header_row,
        notices=notices,
    )


def _excel_cell(v: object) -> object:
    """Excel cells as text: whole floats without '.0', dates as ISO dates."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, datetime.time):  # a time of day alone (10:30)
        return v.isoformat()
    if isinstance(v, pd.Timestamp | np.datetime64) or hasattr(v, "isoformat"):
        ts = pd.Timestamp(v)
        return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.isoformat()
    return str(v)


def _read_parquet(raw: bytes, name: str) -> RawTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(raw))
    except (pa.ArrowException, OSError) as exc:
        raise _fail(f"not a readable Parquet file ({exc})", name) from None
    frame = table.to_pandas()
    if any(n is not None for n in frame.index.names):  # e.g. written with patient_id as index
        frame = frame.reset_index()
    if frame.empty:
        raise _fail("the Parquet file has no rows", name)
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[str(col)] = s.dt.strftime("%Y-%m-%d").astype("string")
        elif pd.api.types.is_float_dtype(s):
            out[str(col)] = s.map(lambda x: None if pd.isna(x) else f"{x:.15g}").astype("string")
        else:
            out[str(col)] = s.astype("string").str.strip()
    out[SOURCE_ROW] = np.arange(len(out), dtype="int64") + 2
    return RawTable(frame=out.reset_index(drop=True), source=name, file_format="parquet")
