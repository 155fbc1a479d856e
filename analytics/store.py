"""The dataset store (DESIGN.md §7): uploaded datasets, import profiles and the audit log.

One small interface, :class:`DatasetStore`, so that the default :class:`LocalStore` (a
folder of Parquet files plus one SQLite database) can be replaced by a PostgreSQL + S3
implementation when the app runs as several replicas. ``docs/storage.md`` describes the
layout on disk, the guarantees and what a replacement must keep.

Datasets live under a random id of 128 bits (:func:`new_dataset_id`); every id that
comes from outside (a URL, a form) goes through :func:`validate_dataset_id` before it
touches a path or a query. Names are free text and never used in paths.

All errors are in the :class:`~analytics.errors.DataValidationError` family:
:class:`InvalidDatasetId`, :class:`DatasetNotFound`, :class:`ProfileNotFound` and
:class:`StoreError` (the disk or the database failed). :meth:`DatasetStore.record_event`
never raises: an audit event that cannot be written is logged instead.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import sqlite3
import threading
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics import schema as s
from analytics.errors import DataValidationError

try:  # POSIX: advisory locks tell a cleanup that a writer is still busy with a file
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "OUTCOMES_DATA_DIR"
DEFAULT_ROOT = Path(".data")
DATABASE_FILE = "outcomes.sqlite"
DATASETS_DIR = "datasets"
PARQUET_SUFFIX = ".parquet"
TEMP_SUFFIX = ".tmp"

ID_BYTES = 16  # 128 bits
ID_LENGTH = 2 * ID_BYTES  # lowercase hexadecimal
_ID_PATTERN = re.compile(rf"[0-9a-f]{{{ID_LENGTH}}}", re.ASCII)

MAX_NAME_LENGTH = 200
MAX_PROFILE_BYTES = 1_000_000
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 10.0
AUDIT_BUSY_TIMEOUT_S = 0.5

# Audit event kinds the app records. Any kind of 1-32 characters [a-z0-9_] is accepted.
EVENT_KINDS: tuple[str, ...] = (
    "sign_in",
    "sign_out",
    "access_denied",
    "upload",
    "view",
    "export",
    "rename",
    "delete",
    "profile_save",
    "profile_delete",
)
EVENT_COLUMNS: tuple[str, ...] = ("id", "at", "kind", "user", "dataset_id", "page", "detail")
_KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}", re.ASCII)
_EVENT_TEXT_LIMITS = {"user": 320, "dataset_id": 200, "page": 200, "detail": 4000}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

HASH_PREFIX = b"infusion-outcomes content hash v1\n"
# Rows are put in this order before hashing; the remaining columns break ties by name.
HASH_SORT_KEYS: tuple[str, ...] = (s.PATIENT_ID, s.INSTRUMENT, s.INFUSIONS, s.DAY)
# Provenance, not data: the same rows from a re-sorted export hash the same.
HASH_EXCLUDED: tuple[str, ...] = (s.SOURCE_ROW,)


# --- errors -------------------------------------------------------------------------------


class InvalidDatasetId(DataValidationError):
    """Text that is not a dataset id (wrong length or characters). The text is not echoed."""


class DatasetNotFound(DataValidationError):
    """A well-formed dataset id that is unknown or was deleted."""


class ProfileNotFound(DataValidationError):
    """No import profile is saved under that name."""


class StoreError(DataValidationError):
    """The store's folder or database could not be read or written."""


# --- values -------------------------------------------------------------------------------


def _frozen_mapping(values: Mapping[str, str] | None, what: str) -> Mapping[str, str]:
    values = {} if values is None else values
    if not isinstance(values, Mapping):
        raise DataValidationError(f"{what} must be a mapping of text to text")
    for key, value in values.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise DataValidationError(f"{what} must map text to text")
    return MappingProxyType(dict(sorted(values.items())))


@dataclass(frozen=True, kw_only=True)
class DatasetRecord:
    """What the store knows about one saved dataset (the data itself: :meth:`load`).

    ``uploaded_at`` is UTC ISO-8601 with microseconds (``2025-01-31T09:15:02.123456+00:00``);
    ``content_hash`` is :func:`content_hash` of the saved frame; ``extra`` holds further
    text fields (read-only).
    """

    id: str
    name: str
    n_rows: int
    n_patients: int
    instruments: tuple[str, ...]
    content_hash: str
    profile_name: str | None = None
    profile_toml: str | None = None
    source_file: str | None = None
    uploaded_by: str | None = None
    uploaded_at: str
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "instruments", tuple(self.instruments))
        object.__setattr__(self, "extra", _frozen_mapping(self.extra, "extra"))


@dataclass(frozen=True)
class ProfileRecord:
    """A saved import profile: its TOML text and the source columns it expects."""

    name: str
    toml_text: str
    columns: tuple[str, ...]
    saved_at: str


# --- ids, names, hashes -----------------------------------------------------------------


def new_dataset_id() -> str:
    """A fresh dataset id: 128 random bits from :mod:`secrets`, as 32 lowercase hex digits."""
    return secrets.token_hex(ID_BYTES)


def validate_dataset_id(text: object) -> str:
    """Return ``text`` if it is exactly a dataset id, else raise :class:`InvalidDatasetId`.

    Exactly 32 characters of ``0-9a-f``: no slashes, dots, NUL, whitespace, upper case or
    look-alike characters can reach a path or a query. The rejected text is not echoed.
    """
    if not isinstance(text, str) or _ID_PATTERN.fullmatch(text) is None:
        raise InvalidDatasetId(
            f"not a valid dataset id (expected {ID_LENGTH} lowercase hexadecimal characters)"
        )
    return text


def validate_name(name: object, *, what: str = "name") -> str:
    """A dataset or profile name: text, stripped, 1-200 characters, no control characters."""
    if not isinstance(name, str):
        raise DataValidationError(f"the {what} must be text")
    name = name.strip()
    if not name:
        raise DataValidationError(f"the {what} is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise DataValidationError(f"the {what} is longer than {MAX_NAME_LENGTH} characters")
    if _CONTROL.search(name):
        raise DataValidationError(f"the {what} contains control characters (e.g. a line break)")
    return name


def _optional_text(value: object, what: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataValidationError(f"{what} must be text")
    if len(value) > limit:
        raise DataValidationError(f"{what} is longer than {limit:,} characters")
    return value


def _canonical_column(values: pd.Series) -> tuple[str, pd.Series]:
    """(kind, values) with kind one of bool, int, float, string and a matching dtype
    (no copy when the column already has it)."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool", values.astype("boolean", copy=False)
    if pd.api.types.is_integer_dtype(dtype):
        return "int", values.astype("Int64", copy=False)
    if pd.api.types.is_float_dtype(dtype):
        return "float", values.astype("float64", copy=False)
    if isinstance(dtype, pd.StringDtype):
        return "string", values
    return "string", values.astype("string")


HASH_CHUNK_ROWS = 1 << 20  # rows hashed (and, in a save, written) per step


def _column_bytes(
    name: str, kind: str, values: pd.Series | pa.Array
) -> Iterator[bytes | memoryview]:
    """The serialisation of one column, rows already in hash order (docs/storage.md),
    in pieces of at most :data:`HASH_CHUNK_ROWS` rows: the byte stream, and so the
    digest, is the same as in one piece, and no piece copies the whole column. Text
    comes as an Arrow array, so no Python string is touched."""
    if isinstance(values, pa.Array):
        missing = values.is_null().to_numpy(zero_copy_only=False)
    else:
        missing = values.isna().to_numpy()
    n = len(values)
    steps = range(0, n, HASH_CHUNK_ROWS)
    yield json.dumps([name, kind]).encode("utf-8") + b"\n"
    for i in steps:
        yield missing[i : i + HASH_CHUNK_ROWS].astype(np.uint8).tobytes()
    if kind == "string":
        yield from _text_bytes(values, missing)
        return
    for i in steps:
        part = values.iloc[i : i + HASH_CHUNK_ROWS]
        gone = missing[i : i + HASH_CHUNK_ROWS]
        if kind == "float":
            numbers = part.to_numpy(dtype="float64", na_value=np.nan)
            numbers = np.where(gone | (numbers == 0.0), 0.0, numbers)  # one NaN, no -0.0
            yield numbers.astype("<f8").tobytes()
        elif kind == "int":
            yield part.fillna(0).to_numpy(dtype="int64").astype("<i8").tobytes()
        else:
            yield part.fillna(False).to_numpy(dtype=bool).astype(np.uint8).tobytes()


def _text_array(values: pd.Series) -> pa.Array:
    """A text column as one Arrow ``string`` array (``large_string`` past 2 GB); an
    Arrow-backed column in several chunks is joined into one."""
    try:
        arr = pa.array(values, type=pa.string(), from_pandas=True)
        return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    except pa.ArrowCapacityError:  # pragma: no cover - over 2 GB of text in one column
        arr = pa.array(values, type=pa.large_string(), from_pandas=True)
        return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _text_arrays(frame: pd.DataFrame) -> dict[str, pa.Array]:
    """Each pandas ``string`` column as Arrow text, converted once and shared by the
    content hash and the Parquet file (each conversion visits every Python string)."""
    return {
        c: _text_array(frame[c])
        for c in frame.columns
        if isinstance(frame[c].dtype, pd.StringDtype)
    }


def _text_bytes(arr: pa.Array, missing: np.ndarray) -> Iterator[bytes | memoryview]:
    """A text column's lengths (-1 where missing), then all its UTF-8 bytes, in pieces."""
    if len(arr) == 0:
        return
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=width, count=arr.offset + len(arr) + 1)
    offsets = offsets[arr.offset :].astype(np.int64)
    for i in range(0, len(arr), HASH_CHUNK_ROWS):
        lengths = np.diff(offsets[i : i + HASH_CHUNK_ROWS + 1])
        lengths[missing[i : i + HASH_CHUNK_ROWS]] = -1
        yield lengths.astype("<i8").tobytes()
    data = arr.buffers()[2]
    if data is None:
        return
    text = memoryview(data)[offsets[0] : offsets[-1]]
    step = 64 * HASH_CHUNK_ROWS
    for i in range(0, len(text), step):
        yield text[i : i + step]


def _sort_key(kind: str, values: pd.Series) -> pa.Array:
    """A column as an Arrow sort key that orders as pandas does: text by code point
    (UTF-8 byte order), -0.0 equal to 0.0, NaN and NA both missing (placed last)."""
    if kind == "float":
        numbers = values.to_numpy(dtype="float64", na_value=np.nan) + 0.0  # -0.0 -> 0.0
        return pa.array(numbers, from_pandas=True)
    if kind == "string":
        return _text_array(values)
    return pa.array(values, from_pandas=True)


def _hash_order(frame: pd.DataFrame, keys: list[str], texts: Mapping[str, pa.Array]) -> np.ndarray:
    """Row order for hashing: sorted by ``keys`` (missing last), ties in every key in any
    order (such rows serialise to the same bytes). Arrow sorts on the leading keys;
    only when rows tie on those too are the remaining keys added."""
    n = len(frame)
    for width in (min(4, len(keys)), len(keys)):
        try:
            table = pa.table(
                {
                    k: texts[k] if k in texts else _sort_key(*_canonical_column(frame[k]))
                    for k in keys[:width]
                }
            )
        except (pa.ArrowException, TypeError, ValueError):  # e.g. text Arrow cannot hold
            break
        order = pc.sort_indices(table, sort_keys=[(k, "ascending", "at_end") for k in keys[:width]])
        if width == len(keys) or n < 2:
            return order.to_numpy()
        tied = np.ones(n - 1, dtype=bool)
        for k in keys[:width]:
            v = table.column(k).take(order)
            a, b = v.slice(0, n - 1), v.slice(1)
            same = pc.fill_null(pc.equal(a, b), False)
            both = pc.and_(pc.is_null(a), pc.is_null(b))
            tied &= pc.or_(same, both).to_numpy(zero_copy_only=False)
            if not tied.any():
                return order.to_numpy()
    table = pd.DataFrame({c: _canonical_column(frame[c])[1].reset_index(drop=True) for c in keys})
    return table.sort_values(keys, kind="mergesort", na_position="last").index.to_numpy()


def content_hash(frame: pd.DataFrame) -> str:
    """SHA-256 (hex) of a canonical serialisation of ``frame``; see docs/storage.md.

    Equal data gives an equal hash whatever the row order, column order or index; any
    changed value, column name or column kind (text, integer, float, boolean) changes it.
    ``source_row`` is left out: it says where a row came from, not what it holds.
    Computed column by column in pieces, so it holds about one column's copy at a time.
    """
    _check_columns(frame)
    return _content_hash(frame, {})


def _content_hash(frame: pd.DataFrame, texts: Mapping[str, pa.Array]) -> str:
    """:func:`content_hash`, reusing text columns already converted to Arrow."""
    names = sorted(c for c in frame.columns if c not in HASH_EXCLUDED)
    keys = [c for c in HASH_SORT_KEYS if c in names] + [c for c in names if c not in HASH_SORT_KEYS]
    order = np.arange(len(frame))
    if keys and len(frame) > 1:
        order = _hash_order(frame, keys, texts)
    digest = hashlib.sha256(HASH_PREFIX)
    digest.update(f"{len(frame)} {len(names)}\n".encode())
    taker = pa.array(order)
    for name in names:
        kind, values = _canonical_column(frame[name])
        if kind == "string":
            column = (texts[name] if name in texts else _text_array(values)).take(taker)
        else:
            column = values.take(order)
        for chunk in _column_bytes(name, kind, column):
            digest.update(chunk)
    return digest.hexdigest()


def _check_columns(frame: object) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError("a dataset must be a pandas DataFrame")
    if not all(isinstance(c, str) for c in frame.columns):
        raise DataValidationError("every column name must be text")
    dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
    if dupes:
        raise DataValidationError(f"duplicated column name(s): {', '.join(dupes)}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _as_utc_text(value: datetime | str, what: str) -> str:
    """A bound for :meth:`events`: an aware datetime or ISO text; naive means UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise DataValidationError(f"{what} is not an ISO-8601 date and time") from exc
    if not isinstance(value, datetime):
        raise DataValidationError(f"{what} must be a datetime or ISO-8601 text")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _arrow_text(arrow_type: pa.DataType) -> pd.StringDtype | None:
    """Text columns load as Arrow-backed ``string`` (the same dtype family as python
    ``string``): one buffer per column instead of a Python object per cell, about a fifth
    of the memory for a 3-million-row dataset."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow")
    return None


# --- the interface ------------------------------------------------------------------------


@runtime_checkable
class DatasetStore(Protocol):
    """Datasets, import profiles and the audit log. Implementations are thread-safe."""

    def save(
        self,
        frame: pd.DataFrame,
        *,
        name: str,
        profile_name: str | None = None,
        profile_toml: str | None = None,
        source_file: str | None = None,
        uploaded_by: str | None = None,
        extra: Mapping[str, str] | None = None,
        progress: Callable[[str, float], None] | None = None,
    ) -> DatasetRecord:
        """Store a validated canonical frame under a new id, atomically.
        ``progress(message, fraction)`` is called as the save goes on."""
        ...

    def list(self) -> builtins.list[DatasetRecord]:
        """Every stored dataset, newest first."""
        ...

    def get(self, dataset_id: str) -> DatasetRecord:
        """The record of one dataset (:class:`DatasetNotFound` if unknown or deleted)."""
        ...

    def load(self, dataset_id: str) -> pd.DataFrame:
        """The frame as saved (same columns, values and dtypes, except text columns come
        back as Arrow-backed ``string``; a fresh RangeIndex)."""
        ...

    def rename(self, dataset_id: str, name: str) -> DatasetRecord:
        """Give a dataset a new name and return the updated record."""
        ...

    def delete(self, dataset_id: str) -> None:
        """Remove a dataset's record and data for good."""
        ...

    def save_profile(self, name: str, toml_text: str, *, columns: Sequence[str]) -> None:
        """Save (or replace) an import profile and the source columns it expects."""
        ...

    def list_profiles(self) -> builtins.list[ProfileRecord]:
        """Every saved import profile, newest first."""
        ...

    def get_profile(self, name: str) -> ProfileRecord:
        """One import profile (:class:`ProfileNotFound` if there is none by that name)."""
        ...

    def delete_profile(self, name: str) -> None:
        """Remove an import profile."""
        ...

    def find_profile_for_columns(self, columns: Sequence[str]) -> ProfileRecord | None:
        """The saved profile whose expected columns are all in ``columns``: most matched
        columns first, then the newest; ``None`` if no profile fits."""
        ...

    def record_event(
        self,
        kind: str,
        *,
        user: str | None = None,
        dataset_id: str | None = None,
        page: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append to the audit log. Never raises and never waits long: a failure is logged."""
        ...

    def events(
        self,
        *,
        kind: str | None = None,
        user: str | None = None,
        dataset_id: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int = 10_000,
    ) -> pd.DataFrame:
        """Audit events, newest first: columns id, at, kind, user, dataset_id, page, detail."""
        ...


# --- the local implementation -------------------------------------------------------------

_SCHEMA = f"""
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS datasets (
    id            TEXT PRIMARY KEY CHECK (length(id) = {ID_LENGTH}),
    name          TEXT NOT NULL,
    n_rows        INTEGER NOT NULL,
    n_patients    INTEGER NOT NULL,
    instruments   TEXT NOT NULL,  -- JSON array of instrument ids
    content_hash  TEXT NOT NULL,
    profile_name  TEXT,
    profile_toml  TEXT,
    source_file   TEXT,
    uploaded_by   TEXT,
    uploaded_at   TEXT NOT NULL,  -- UTC ISO-8601, microseconds
    extra         TEXT NOT NULL DEFAULT '{{}}'  -- JSON object of text
);
CREATE INDEX IF NOT EXISTS datasets_uploaded_at ON datasets (uploaded_at);
CREATE TABLE IF NOT EXISTS profiles (
    name       TEXT PRIMARY KEY,
    toml_text  TEXT NOT NULL,
    columns    TEXT NOT NULL,  -- JSON array of source column names
    saved_at   TEXT NOT NULL,
    seq        INTEGER NOT NULL  -- save order, for "newest"
);
CREATE TABLE IF NOT EXISTS events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    user_name   TEXT,
    dataset_id  TEXT,
    page        TEXT,
    detail      TEXT
);
CREATE INDEX IF NOT EXISTS events_at ON events (at);
CREATE INDEX IF NOT EXISTS events_dataset ON events (dataset_id);
COMMIT;
"""

_DATASET_FIELDS = (
    "id, name, n_rows, n_patients, instruments, content_hash, profile_name, profile_toml, "
    "source_file, uploaded_by, uploaded_at, extra"
)

# Files a save in this process is still writing: a cleanup must leave them alone. (POSIX
# advisory locks cover other processes; this set covers platforms without them.)
_in_flight: set[str] = set()
_in_flight_lock = threading.Lock()


@contextlib.contextmanager
def _claim(*paths: Path) -> Iterator[None]:
    keys = [os.fspath(p) for p in paths]
    with _in_flight_lock:
        _in_flight.update(keys)
    try:
        yield
    finally:
        with _in_flight_lock:
            _in_flight.difference_update(keys)


def _claimed(path: Path) -> bool:
    with _in_flight_lock:
        return os.fspath(path) in _in_flight


def _try_lock(fd: int) -> bool:
    """Take an exclusive advisory lock without waiting; False if another holder has it."""
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be fsynced on Windows
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_unless_busy(path: Path, keep: Callable[[], bool] | None = None) -> bool:
    """Delete a leftover file unless a writer still holds it or ``keep()`` says it is live."""
    if _claimed(path):
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        if not _try_lock(fd) or (keep is not None and keep()):
            return False
        path.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


@contextlib.contextmanager
def _store_errors(action: str) -> Iterator[None]:
    """Turn disk, database and Parquet failures into :class:`StoreError`."""
    try:
        yield
    except DataValidationError:
        raise
    except (OSError, sqlite3.Error, pa.ArrowException) as exc:
        raise StoreError(f"could not {action}: {exc}") from exc


def _prepare(frame: pd.DataFrame) -> tuple[pa.Schema, int, tuple[str, ...]]:
    """Checks, the Parquet schema (from the dtypes; object columns are scanned, not
    copied), the patient count and the instruments of a frame about to be saved."""
    _check_columns(frame)
    missing = [c for c in (s.PATIENT_ID, s.INSTRUMENT) if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"required column(s) missing: {', '.join(missing)}", column=missing[0]
        )
    if frame.empty:
        raise DataValidationError("the dataset has no rows: nothing to store")
    try:
        schema = pa.Schema.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise DataValidationError(f"the data cannot be stored as Parquet: {exc}") from exc
    n_patients = int(frame[s.PATIENT_ID].nunique(dropna=True))
    instruments = tuple(sorted({str(v) for v in frame[s.INSTRUMENT].dropna().unique()}))
    return schema, n_patients, instruments


def _row_groups(
    frame: pd.DataFrame, schema: pa.Schema, texts: Mapping[str, pa.Array]
) -> Iterator[pa.Table]:
    """The frame as Arrow tables of :data:`HASH_CHUNK_ROWS` rows, one Parquet row group
    each: a save holds one group's copy at a time, not a copy of the whole frame. Text
    columns are slices of the arrays the hash used; the rest is converted per group."""
    others = [c for c in frame.columns if c not in texts]
    partial = pa.schema([schema.field(c) for c in others])
    for start in range(0, len(frame), HASH_CHUNK_ROWS):
        part = frame.iloc[start : start + HASH_CHUNK_ROWS]
        try:
            rest = pa.Table.from_pandas(part[others], schema=partial, preserve_index=False)
            yield pa.Table.from_arrays(
                [
                    texts[c].slice(start, len(part)).cast(schema.field(c).type)
                    if c in texts
                    else rest.column(c)
                    for c in frame.columns
                ],
                schema=schema,
            )
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise DataValidationError(f"the data cannot be stored as Parquet: {exc}") from exc


def _write_parquet(
    frame: pd.DataFrame,
    schema: pa.Schema,
    where: object,
    progress: Callable[[str, float], None] | None = None,
    texts: Mapping[str, pa.Array] | None = None,
) -> None:
    """Write ``frame`` to the open file ``where`` as Parquet, one row group at a time."""
    texts = _text_arrays(frame) if texts is None else texts
    n_groups = max(1, -(-len(frame) // HASH_CHUNK_ROWS))
    with pq.ParquetWriter(where, schema, compression="zstd") as writer:
        for i, group in enumerate(_row_groups(frame, schema, texts)):
            if progress is not None:
                progress(f"Writing rows (part {i + 1} of {n_groups})", 0.3 + 0.7 * i / n_groups)
            writer.write_table(group)


def _record(row: sqlite3.Row) -> DatasetRecord:
    return DatasetRecord(
        id=row["id"],
        name=row["name"],
        n_rows=int(row["n_rows"]),
        n_patients=int(row["n_patients"]),
        instruments=tuple(json.loads(row["instruments"])),
        content_hash=row["content_hash"],
        profile_name=row["profile_name"],
        profile_toml=row["profile_toml"],
        source_file=row["source_file"],
        uploaded_by=row["uploaded_by"],
        uploaded_at=row["uploaded_at"],
        extra=json.loads(row["extra"]),
    )


def _profile(row: sqlite3.Row) -> ProfileRecord:
    return ProfileRecord(
        name=row["name"],
        toml_text=row["toml_text"],
        columns=tuple(json.loads(row["columns"])),
        saved_at=row["saved_at"],
    )


def _event_text(value: object, what: str) -> str | None:
    if value is None:
        return None
    text = _CONTROL.sub("\ufffd", str(value))
    return text[: _EVENT_TEXT_LIMITS[what]]


class LocalStore:
    """The default store: Parquet files in ``root/datasets`` and SQLite ``root/outcomes.sqlite``.

    Thread-safe (no shared connection: one per operation) and safe to open more than once
    on the same folder, also from several processes on one machine. Opening it creates the
    folder and tables if needed and removes what a crashed save left behind.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        busy_timeout: float = BUSY_TIMEOUT_S,
        audit_busy_timeout: float = AUDIT_BUSY_TIMEOUT_S,
    ) -> None:
        self.root = Path(root).absolute()
        self._datasets = self.root / DATASETS_DIR
        self._db = self.root / DATABASE_FILE
        self._busy_timeout = busy_timeout
        self._audit_busy_timeout = audit_busy_timeout
        with _store_errors(f"open the data folder {self.root}"):
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._datasets.mkdir(mode=0o700, exist_ok=True)
            fresh = self._create_tables()
        self._clean_up(orphans=not fresh)

    def __repr__(self) -> str:
        return f"LocalStore({os.fspath(self.root)!r})"

    # -- plumbing

    def _path(self, dataset_id: str) -> Path:
        return self._datasets / f"{validate_dataset_id(dataset_id)}{PARQUET_SUFFIX}"

    @contextlib.contextmanager
    def _connect(self, timeout: float | None = None) -> Iterator[sqlite3.Connection]:
        # mode=rw: never create an empty database behind the store's back.
        uri = f"{self._db.as_uri()}?mode=rw"
        timeout = self._busy_timeout if timeout is None else timeout
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def _transaction(self, timeout: float | None = None) -> Iterator[sqlite3.Connection]:
        with self._connect(timeout) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _create_tables(self) -> bool:
        """Create the database and tables if missing; True when they were just created."""
        conn = sqlite3.connect(self._db, timeout=self._busy_timeout, isolation_level=None)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self._db} was written by a newer version of the app "
                    f"(schema {version}, this version reads {SCHEMA_VERSION})"
                )
            existed = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'datasets'"
            ).fetchone()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            if version < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        finally:
            conn.close()
        with contextlib.suppress(OSError):
            os.chmod(self._db, 0o600)
        return existed is None

    def _clean_up(self, *, orphans: bool) -> None:
        """Remove temporary files of crashed saves and Parquet files without a record.

        Files another writer still holds are skipped. When the database was just created
        (lost or never there) orphans are kept: deleting them would turn a lost database
        into lost data. See docs/storage.md.
        """
        try:
            entries = builtins.list(self._datasets.iterdir())
            for path in entries:
                temporary = path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX)
                if temporary and _remove_unless_busy(path):
                    logger.info("removed the temporary file of an unfinished save: %s", path)
            parquet = {
                p.name[: -len(PARQUET_SUFFIX)]: p
                for p in entries
                if p.name.endswith(PARQUET_SUFFIX)
                and _ID_PATTERN.fullmatch(p.name[: -len(PARQUET_SUFFIX)])
            }
            if not parquet:
                return
            if not orphans:
                logger.warning(
                    "%s is a new database but %d dataset files exist in %s; they are kept "
                    "and not listed (restore the database from a backup)",
                    self._db,
                    len(parquet),
                    self._datasets,
                )
                return
            with self._connect() as conn:
                known = {r[0] for r in conn.execute("SELECT id FROM datasets")}
            for dataset_id, path in parquet.items():
                if dataset_id in known:
                    continue
                if _remove_unless_busy(path, keep=lambda i=dataset_id: self._has_record(i)):
                    logger.info("removed a dataset file without a record: %s", path)
        except (OSError, sqlite3.Error) as exc:
            logger.warning("could not clean up %s: %s", self._datasets, exc)

    def _has_record(self, dataset_id: str) -> bool:
        with self._connect() as conn:
            row = conn.execute("SELECT 1 FROM datasets WHERE id = ?", (dataset_id,)).fetchone()
        return row is not None

    def _get(self, conn: sqlite3.Connection, dataset_id: str) -> DatasetRecord:
        row = conn.execute(
            f"SELECT {_DATASET_FIELDS} FROM datasets WHERE id = ?", (dataset_id,)
        ).fetchone()
        if row is None:
            raise DatasetNotFound(f"no dataset with id {dataset_id} (unknown or deleted)")
        return _record(row)

    # -- datasets

    def save(
        self,
        frame: pd.DataFrame,
        *,
        name: str,
        profile_name: str | None = None,
        profile_toml: str | None = None,
        source_file: str | None = None,
        uploaded_by: str | None = None,
        extra: Mapping[str, str] | None = None,
        progress: Callable[[str, float], None] | None = None,
    ) -> DatasetRecord:
        name = validate_name(name, what="dataset name")
        schema, n_patients, instruments = _prepare(frame)
        if progress is not None:
            progress("Computing the content hash", 0.0)
        try:
            texts = _text_arrays(frame)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise DataValidationError(f"the data cannot be stored as Parquet: {exc}") from exc
        dataset_id = new_dataset_id()
        while self._path(dataset_id).exists():  # pragma: no cover - 1 in 2**128
            dataset_id = new_dataset_id()
        record = DatasetRecord(
            id=dataset_id,
            name=name,
            n_rows=len(frame),
            n_patients=n_patients,
            instruments=instruments,
            content_hash=_content_hash(frame, texts),
            profile_name=_optional_text(profile_name, "profile_name", MAX_NAME_LENGTH),
            profile_toml=_optional_text(profile_toml, "profile_toml", MAX_PROFILE_BYTES),
            source_file=_optional_text(source_file, "source_file", 1000),
            uploaded_by=_optional_text(uploaded_by, "uploaded_by", 320),
            uploaded_at=_now(),
            extra=_frozen_mapping(extra, "extra"),
        )
        with _store_errors("save the dataset"):
            self._write(record, frame, schema, texts, progress)
        del texts
        pa.default_memory_pool().release_unused()  # the Arrow copies, back to the system
        if progress is not None:
            progress("Saved", 1.0)
        return record

    def _write(
        self,
        record: DatasetRecord,
        frame: pd.DataFrame,
        schema: pa.Schema,
        texts: Mapping[str, pa.Array],
        progress: Callable[[str, float], None] | None = None,
    ) -> None:
        """Temporary file (written in row groups), fsync, rename, then the record; undo
        everything on failure.

        The temporary file is locked while it is written and, after the rename, until the
        record is committed, so a cleanup in another store or process never removes it.
        """
        final = self._path(record.id)
        temp = self._datasets / f".{record.id}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
        with _claim(temp, final):
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            handle = os.fdopen(os.open(temp, flags, 0o600), "wb")
            renamed = committed = False
            try:
                _try_lock(handle.fileno())
                _write_parquet(frame, schema, handle, progress, texts)
                handle.flush()
                os.fsync(handle.fileno())
                if fcntl is None:  # pragma: no cover - Windows cannot rename an open file
                    handle.close()
                os.replace(temp, final)
                renamed = True
                _fsync_dir(self._datasets)
                self._insert(record)
                committed = True
            finally:
                if not committed:
                    with contextlib.suppress(OSError):
                        temp.unlink(missing_ok=True)
                    if renamed:
                        with contextlib.suppress(OSError):
                            final.unlink(missing_ok=True)
                handle.close()

    def _insert(self, record: DatasetRecord) -> None:
        with self._transaction() as conn:
            conn.execute(
                f"INSERT INTO datasets ({_DATASET_FIELDS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    record.id,
                    record.name,
                    record.n_rows,
                    record.n_patients,
                    json.dumps(builtins.list(record.instruments)),
                    record.content_hash,
                    record.profile_name,
                    record.profile_toml,
                    record.source_file,
                    record.uploaded_by,
                    record.uploaded_at,
                    json.dumps(dict(record.extra)),
                ),
            )

    def list(self) -> builtins.list[DatasetRecord]:
        with _store_errors("list the datasets"), self._connect() as conn:
            rows = conn.execute(
                f"SELECT {_DATASET_FIELDS} FROM datasets ORDER BY uploaded_at DESC, rowid DESC"
            ).fetchall()
        return [_record(r) for r in rows]

    def get(self, dataset_id: str) -> DatasetRecord:
        dataset_id = validate_dataset_id(dataset_id)
        with _store_errors("read the dataset record"), self._connect() as conn:
            return self._get(conn, dataset_id)

    def load(self, dataset_id: str) -> pd.DataFrame:
        record = self.get(dataset_id)
        path = self._path(record.id)
        try:
            table = pq.read_table(path)
        except FileNotFoundError as exc:
            self.get(record.id)  # deleted meanwhile: DatasetNotFound
            raise StoreError(
                f"the data file of dataset {record.id} is missing from {self._datasets}"
            ) from exc
        except (OSError, pa.ArrowException) as exc:
            raise StoreError(f"could not read dataset {record.id}: {exc}") from exc
        return table.to_pandas(types_mapper=_arrow_text, self_destruct=True)

    def rename(self, dataset_id: str, name: str) -> DatasetRecord:
        dataset_id = validate_dataset_id(dataset_id)
        name = validate_name(name, what="dataset name")
        with _store_errors("rename the dataset"), self._transaction() as conn:
            cur = conn.execute("UPDATE datasets SET name = ? WHERE id = ?", (name, dataset_id))
            if cur.rowcount == 0:
                raise DatasetNotFound(f"no dataset with id {dataset_id} (unknown or deleted)")
            return self._get(conn, dataset_id)

    def delete(self, dataset_id: str) -> None:
        dataset_id = validate_dataset_id(dataset_id)
        path = self._path(dataset_id)
        with _store_errors("delete the dataset"):
            with self._transaction() as conn:
                cur = conn.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))
                if cur.rowcount == 0:
                    raise DatasetNotFound(f"no dataset with id {dataset_id} (unknown or deleted)")
            try:
                path.unlink(missing_ok=True)
                _fsync_dir(self._datasets)
            except OSError as exc:
                raise StoreError(
                    f"dataset {dataset_id} was removed from the list, but its file could not "
                    f"be deleted ({exc}); it will be removed when the store is next opened"
                ) from exc

    # -- import profiles

    def save_profile(self, name: str, toml_text: str, *, columns: Sequence[str]) -> None:
        name = validate_name(name, what="profile name")
        if not isinstance(toml_text, str) or not toml_text.strip():
            raise DataValidationError("the import profile is empty")
        if len(toml_text) > MAX_PROFILE_BYTES:
            raise DataValidationError(
                f"the import profile is longer than {MAX_PROFILE_BYTES:,} characters"
            )
        try:
            tomllib.loads(toml_text)
        except tomllib.TOMLDecodeError as exc:
            raise DataValidationError(f"the import profile is not valid TOML: {exc}") from exc
        if isinstance(columns, str | bytes) or not all(isinstance(c, str) for c in columns):
            raise DataValidationError("columns must be a list of column names")
        expected = builtins.list(dict.fromkeys(columns))
        if not expected:
            raise DataValidationError("an import profile must name at least one source column")
        with _store_errors("save the import profile"), self._transaction() as conn:
            conn.execute(
                "INSERT INTO profiles (name, toml_text, columns, saved_at, seq) "
                "VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM profiles)) "
                "ON CONFLICT (name) DO UPDATE SET toml_text = excluded.toml_text, "
                "columns = excluded.columns, saved_at = excluded.saved_at, seq = excluded.seq",
                (name, toml_text, json.dumps(expected), _now()),
            )

    def list_profiles(self) -> builtins.list[ProfileRecord]:
        with _store_errors("list the import profiles"), self._connect() as conn:
            rows = conn.execute(
                "SELECT name, toml_text, columns, saved_at FROM profiles ORDER BY seq DESC"
            ).fetchall()
        return [_profile(r) for r in rows]

    def get_profile(self, name: str) -> ProfileRecord:
        name = validate_name(name, what="profile name")
        with _store_errors("read the import profile"), self._connect() as conn:
            row = conn.execute(
                "SELECT name, toml_text, columns, saved_at FROM profiles WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            raise ProfileNotFound("no import profile is saved under that name")
        return _profile(row)

    def delete_profile(self, name: str) -> None:
        name = validate_name(name, what="profile name")
        with _store_errors("delete the import profile"), self._transaction() as conn:
            if conn.execute("DELETE FROM profiles WHERE name = ?", (name,)).rowcount == 0:
                raise ProfileNotFound("no import profile is saved under that name")

    def find_profile_for_columns(self, columns: Sequence[str]) -> ProfileRecord | None:
        present = {c for c in columns if isinstance(c, str)}
        best: ProfileRecord | None = None
        for profile in self.list_profiles():  # newest first: a tie keeps the newer one
            if set(profile.columns) <= present and (
                best is None or len(profile.columns) > len(best.columns)
            ):
                best = profile
        return best

    # -- audit log

    def record_event(
        self,
        kind: str,
        *,
        user: str | None = None,
        dataset_id: str | None = None,
        page: str | None = None,
        detail: str | None = None,
    ) -> None:
        try:
            if not isinstance(kind, str) or _KIND_PATTERN.fullmatch(kind) is None:
                raise DataValidationError("an event kind is 1-32 characters of a-z, 0-9 and _")
            row = (
                _now(),
                kind,
                _event_text(user, "user"),
                _event_text(dataset_id, "dataset_id"),
                _event_text(page, "page"),
                _event_text(detail, "detail"),
            )
            with self._transaction(timeout=self._audit_busy_timeout) as conn:
                conn.execute(
                    "INSERT INTO events (at, kind, user_name, dataset_id, page, detail) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    row,
                )
        except Exception as exc:
            # The page goes on; the event is at least in the server log.
            logger.error(
                "audit event not recorded (%s): kind=%r user=%r dataset_id=%r page=%r",
                exc,
                kind,
                user,
                dataset_id,
                page,
            )

    def events(
        self,
        *,
        kind: str | None = None,
        user: str | None = None,
        dataset_id: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int = 10_000,
    ) -> pd.DataFrame:
        """Audit events with ``since <= at < until``, newest first, at most ``limit``.

        Columns: ``id`` (int64), ``at`` (UTC ISO-8601 text), ``kind``, ``user``,
        ``dataset_id``, ``page``, ``detail`` (text, missing where not given).
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise DataValidationError("limit must be a whole number >= 0")
        where: builtins.list[str] = []
        params: builtins.list[object] = []
        for column, value in (("kind", kind), ("user_name", user), ("dataset_id", dataset_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(str(value))
        if since is not None:
            where.append("at >= ?")
            params.append(_as_utc_text(since, "since"))
        if until is not None:
            where.append("at < ?")
            params.append(_as_utc_text(until, "until"))
        sql = "SELECT id, at, kind, user_name, dataset_id, page, detail FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at DESC, id DESC LIMIT ?"
        with _store_errors("read the audit log"), self._connect() as conn:
            rows = conn.execute(sql, (*params, limit)).fetchall()
        out = pd.DataFrame([tuple(r) for r in rows], columns=builtins.list(EVENT_COLUMNS))
        out["id"] = out["id"].astype("int64")
        for column in EVENT_COLUMNS[1:]:
            out[column] = out[column].astype("string")
        return out


def open_store(root: Path | str | None = None) -> DatasetStore:
    """The store for this app: ``root``, else ``$OUTCOMES_DATA_DIR``, else ``./.data``.

    Open it once per process and share it (it is thread-safe); opening again is safe.
    """
    if root is None:
        root = os.environ.get(DATA_DIR_ENV) or DEFAULT_ROOT
    return LocalStore(root)
