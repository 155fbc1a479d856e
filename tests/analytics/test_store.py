"""The dataset store (analytics/store.py, docs/storage.md): round trips, ids that cannot
escape the folder, atomic writes under concurrency and crashes, profiles and the audit log.
No sleeps and no timings: threads meet on events, crashes are real process exits."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from analytics import store as st
from analytics.errors import DataValidationError
from analytics.store import (
    DatasetNotFound,
    DatasetStore,
    InvalidDatasetId,
    LocalStore,
    ProfileNotFound,
    StoreError,
    content_hash,
    new_dataset_id,
    open_store,
    validate_dataset_id,
)

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30  # seconds; only a safety net for a hung thread, never reached when things work


def assert_loaded_equal(loaded: pd.DataFrame, saved: pd.DataFrame) -> None:
    """The store loads text columns as Arrow-backed ``string`` (compact in memory); every
    other column, and every value, comes back as saved."""
    text = [c for c in saved.columns if isinstance(saved[c].dtype, pd.StringDtype)]
    for c in text:
        assert loaded[c].dtype == pd.StringDtype("pyarrow"), c
    pd.testing.assert_frame_equal(loaded, saved.astype({c: "string[pyarrow]" for c in text}))


def canonical(n_patients: int = 4, shift: float = 0.0) -> pd.DataFrame:
    """A small validated-looking canonical frame with every dtype the store must keep."""
    rows = []
    for p in range(n_patients):
        for k, (inf, day) in enumerate([(0, -2.0), (1, 1.0), (3, 8.0), (None, 30.0)]):
            rows.append(
                {
                    "patient_id": f"P{p:03d}",
                    "instrument": "pcl5" if k % 2 == 0 or p % 2 else "phq9",
                    "score": 50.0 - 6 * k + p + shift,
                    "infusions_received": inf,
                    "day": day,
                    "site": None if p == 1 else f"Site {'AB'[p % 2]}",
                    "dose_mg_per_kg": 0.5 + 0.05 * k if k else float("nan"),
                }
            )
    frame = pd.DataFrame(rows)
    frame["patient_id"] = frame["patient_id"].astype("string")
    frame["instrument"] = frame["instrument"].astype("string")
    frame["infusions_received"] = frame["infusions_received"].astype("Int64")
    frame["site"] = frame["site"].astype("string")
    frame["source_row"] = range(2, len(frame) + 2)
    return frame


def files(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "datasets").iterdir())


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path)


# --- round trip -------------------------------------------------------------------------


def test_save_list_get_load_round_trip(store, tmp_path):
    frame = canonical()
    rec = store.save(
        frame,
        name="  March export  ",
        profile_name="Clinic EHR",
        profile_toml='name = "Clinic EHR"\n',
        source_file="march.csv",
        uploaded_by="lead@clinic.org",
        extra={"note": "first upload"},
    )
    assert isinstance(store, DatasetStore)
    assert rec.name == "March export"
    assert (rec.n_rows, rec.n_patients, rec.instruments) == (16, 4, ("pcl5", "phq9"))
    assert rec.content_hash == content_hash(frame)
    assert (rec.profile_name, rec.source_file, rec.uploaded_by) == (
        "Clinic EHR",
        "march.csv",
        "lead@clinic.org",
    )
    assert rec.profile_toml == 'name = "Clinic EHR"\n'
    assert dict(rec.extra) == {"note": "first upload"}
    at = datetime.fromisoformat(rec.uploaded_at)
    assert at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - at) < timedelta(days=1)

    assert store.list() == [rec]
    assert store.get(rec.id) == rec
    loaded = store.load(rec.id)
    assert_loaded_equal(loaded, frame)
    assert loaded["infusions_received"].dtype == "Int64"
    assert loaded["patient_id"].dtype == "string"
    assert loaded["score"].dtype == "float64"
    assert files(tmp_path) == [f"{rec.id}.parquet"]
    # A different index on the way in is not data: the frame comes back with a RangeIndex.
    rec2 = store.save(frame.set_axis(range(100, 116)), name="Shifted index")
    assert_loaded_equal(store.load(rec2.id), frame)


def test_list_is_newest_first_and_records_are_frozen(store):
    first = store.save(canonical(), name="first")
    second = store.save(canonical(shift=1), name="second")
    assert [r.name for r in store.list()] == ["second", "first"]
    with pytest.raises(FrozenInstanceError):
        first.name = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        second.extra["x"] = "y"  # type: ignore[index]


@pytest.mark.parametrize(
    ("frame", "name"),
    [
        (canonical(), ""),
        (canonical(), "   "),
        (canonical(), "x" * 201),
        (canonical(), "two\nlines"),
        (canonical().iloc[0:0], "empty"),
        (canonical().drop(columns="patient_id"), "no ids"),
        (canonical().rename(columns={"site": 7}), "numeric column name"),
        ("not a frame", "text"),
        (canonical().assign(site=[object()] * 16), "unstorable values"),
    ],
)
def test_bad_saves_are_refused_and_store_nothing(store, tmp_path, frame, name):
    with pytest.raises(DataValidationError):
        store.save(frame, name=name)
    assert store.list() == []
    assert files(tmp_path) == []


# --- ids --------------------------------------------------------------------------------


def test_ids_are_unique_random_128_bit_hex():
    ids = {new_dataset_id() for _ in range(2000)}
    assert len(ids) == 2000
    for dataset_id in ids:
        assert validate_dataset_id(dataset_id) == dataset_id
        assert len(dataset_id) == 32 and int(dataset_id, 16) < 2**128  # 32 hex = 128 bits
    assert len({i[:8] for i in ids}) > 1900  # not a counter or a clock


REAL = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "text",
    [
        "../etc/passwd",
        "a/b",
        "",
        REAL[:31],
        REAL + "0",
        REAL[:31] + "\x00",
        REAL[:16] + "/" + REAL[17:],
        REAL[:31] + ".",
        REAL.upper(),
        "０" * 32,  # fullwidth digits
        REAL[:31] + "а",  # Cyrillic a
        REAL[:31] + "\n",
        " " + REAL[:31],
        "..\\" + REAL[3:],
        None,
        12345,
    ],
)
def test_validate_dataset_id_rejects_anything_but_an_id(text):
    with pytest.raises(InvalidDatasetId) as err:
        validate_dataset_id(text)
    assert isinstance(err.value, DataValidationError)
    if isinstance(text, str) and text:
        assert text not in str(err.value)


def test_validate_dataset_id_accepts_a_real_id():
    assert validate_dataset_id(REAL) == REAL


def test_malformed_ids_never_reach_the_disk(store, tmp_path):
    (tmp_path / "secret.parquet").write_bytes(b"not for you")
    for method in (store.get, store.load, store.delete):
        with pytest.raises(InvalidDatasetId):
            method("../secret")
    with pytest.raises(InvalidDatasetId):
        store.rename("../secret", "x")
    assert (tmp_path / "secret.parquet").exists()


@pytest.mark.parametrize("action", ["get", "load", "delete", "rename"])
def test_unknown_id_is_not_found(store, action):
    unknown = new_dataset_id()
    store.save(canonical(), name="other")
    call = getattr(store, action)
    args = (unknown, "new name") if action == "rename" else (unknown,)
    with pytest.raises(DatasetNotFound) as err:
        call(*args)
    assert unknown in str(err.value)
    assert len(store.list()) == 1


# --- concurrency and crashes ------------------------------------------------------------


def test_concurrent_saves_keep_every_dataset_intact(tmp_path):
    LocalStore(tmp_path)
    frames = [canonical(n_patients=3 + i, shift=i) for i in range(8)]

    def save(i: int):
        # Every thread opens its own store: each open cleans up while others are writing.
        return LocalStore(tmp_path).save(frames[i], name=f"upload {i}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        records = list(pool.map(save, range(8)))

    store = LocalStore(tmp_path)
    listed = {r.id: r for r in store.list()}
    assert len(listed) == 8 and set(listed) == {r.id for r in records}
    for i, rec in enumerate(records):
        assert listed[rec.id] == rec
        loaded = store.load(rec.id)
        assert_loaded_equal(loaded, frames[i])
        assert content_hash(loaded) == rec.content_hash == content_hash(frames[i])
    assert len({r.content_hash for r in records}) == 8
    assert files(tmp_path) == sorted(f"{r.id}.parquet" for r in records)


def partial_writer(frame, schema, where, *args, **kwargs):
    where.write(b"PAR1 half a parquet file")
    where.flush()
    raise OSError(28, "No space left on device")


def failing_replace(src, dst):
    raise OSError(5, "Input/output error")


def failing_insert(self, record):
    raise sqlite3.OperationalError("disk I/O error")


@pytest.mark.parametrize(
    ("target", "replacement"),
    [
        ((st, "_write_parquet"), partial_writer),
        ((st.os, "replace"), failing_replace),
        ((LocalStore, "_insert"), failing_insert),
    ],
    ids=["parquet-writer", "rename", "metadata-insert"],
)
def test_failed_write_leaves_nothing_and_keeps_earlier_datasets(
    store, tmp_path, monkeypatch, target, replacement
):
    kept = store.save(canonical(), name="kept")
    monkeypatch.setattr(*target, replacement)
    with pytest.raises(StoreError) as err:
        store.save(canonical(shift=3), name="doomed")
    assert "could not save the dataset" in str(err.value)
    monkeypatch.undo()
    assert store.list() == [kept]
    assert files(tmp_path) == [f"{kept.id}.parquet"]
    assert_loaded_equal(store.load(kept.id), canonical())


CRASH = """
import os, sys
import pandas as pd
from analytics import store

stage, root = sys.argv[1], sys.argv[2]
frame = pd.DataFrame({"patient_id": ["P1"], "instrument": ["pcl5"], "score": [40.0],
                      "infusions_received": pd.array([0], dtype="Int64"), "day": [0.0]})
if stage == "writing":
    def write_parquet(frame, schema, where, *args, **kwargs):
        where.write(b"PAR1 partial")
        where.flush()
        os._exit(70)
    store._write_parquet = write_parquet
else:
    real_replace = os.replace
    def replace(src, dst):
        real_replace(src, dst)
        os._exit(71)
    store.os.replace = replace
store.LocalStore(root).save(frame, name="crashing")
"""


@pytest.mark.parametrize(("stage", "code"), [("writing", 70), ("renamed", 71)])
def test_a_crash_mid_save_leaves_no_dataset_and_the_next_open_cleans_up(tmp_path, stage, code):
    store = LocalStore(tmp_path)
    kept = store.save(canonical(), name="kept")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", CRASH, stage, str(tmp_path)], cwd=ROOT, env=env, timeout=120
    )
    assert proc.returncode == code  # the process died exactly where intended
    leftovers = [f for f in files(tmp_path) if f != f"{kept.id}.parquet"]
    assert len(leftovers) == 1
    assert leftovers[0].endswith(".tmp" if stage == "writing" else ".parquet")
    assert store.list() == [kept]

    reopened = LocalStore(tmp_path)
    assert files(tmp_path) == [f"{kept.id}.parquet"]
    assert reopened.list() == [kept]
    assert_loaded_equal(reopened.load(kept.id), canonical())


def test_opening_a_store_never_removes_a_save_in_progress(tmp_path, monkeypatch):
    store = LocalStore(tmp_path)
    reached, release = threading.Event(), threading.Event()
    real_write, real_insert = st._write_parquet, LocalStore._insert

    def paused(stage):
        def wait(*args, **kwargs):
            reached.set()
            assert release.wait(WAIT)
            return (real_write if stage == "write" else real_insert)(*args, **kwargs)

        return wait

    for stage in ("write", "insert"):
        reached.clear()
        release.clear()
        if stage == "write":
            monkeypatch.setattr(st, "_write_parquet", paused(stage))
        else:
            monkeypatch.setattr(LocalStore, "_insert", paused(stage))
        with ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(store.save, canonical(), name=stage)
            assert reached.wait(WAIT)
            in_progress = files(tmp_path)
            LocalStore(tmp_path)  # a second open cleans up while the save is paused
            assert files(tmp_path) == in_progress
            release.set()
            rec = future.result(timeout=WAIT)
        monkeypatch.undo()
        assert_loaded_equal(store.load(rec.id), canonical())
    assert len(store.list()) == 2


@pytest.mark.skipif(st.fcntl is None, reason="advisory locks are POSIX only")
def test_cleanup_skips_a_file_another_process_holds_locked(tmp_path):
    path = tmp_path / ".abc.tmp"
    path.write_bytes(b"x")
    fd = os.open(path, os.O_RDONLY)
    st.fcntl.flock(fd, st.fcntl.LOCK_EX)
    try:
        assert not st._remove_unless_busy(path)
        assert path.exists()
    finally:
        os.close(fd)
    assert st._remove_unless_busy(path)
    assert not path.exists()


def test_a_lost_database_does_not_delete_the_dataset_files(tmp_path):
    rec = LocalStore(tmp_path).save(canonical(), name="precious")
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"outcomes.sqlite{suffix}").unlink(missing_ok=True)
    store = LocalStore(tmp_path)
    assert store.list() == []
    assert files(tmp_path) == [f"{rec.id}.parquet"]  # kept for a restore, not listed


# --- delete and rename ------------------------------------------------------------------


def test_delete_removes_from_list_and_disk(store, tmp_path):
    gone = store.save(canonical(), name="gone")
    kept = store.save(canonical(shift=1), name="kept")
    store.delete(gone.id)
    assert store.list() == [kept]
    assert files(tmp_path) == [f"{kept.id}.parquet"]
    for action in (store.get, store.load, store.delete):
        with pytest.raises(DatasetNotFound):
            action(gone.id)
    assert LocalStore(tmp_path).list() == [kept]


def test_rename_persists_across_a_restart(store, tmp_path):
    rec = store.save(canonical(), name="draft")
    renamed = store.rename(rec.id, "  PTSD cohort, March  ")
    assert renamed.name == "PTSD cohort, March"
    assert renamed.content_hash == rec.content_hash and renamed.uploaded_at == rec.uploaded_at
    assert LocalStore(tmp_path).get(rec.id).name == "PTSD cohort, March"
    for bad in ("", "  ", "y" * 201, "a\x00b", None):
        with pytest.raises(DataValidationError):
            store.rename(rec.id, bad)
    assert store.get(rec.id).name == "PTSD cohort, March"


# --- content hash -----------------------------------------------------------------------


def test_content_hash_identifies_the_data(store):
    frame = canonical()
    first = store.save(frame, name="once")
    second = store.save(frame.copy(), name="twice")
    assert first.content_hash == second.content_hash
    assert len(first.content_hash) == 64 and int(first.content_hash, 16) >= 0

    changed = frame.copy()
    changed.loc[5, "score"] += 1
    assert store.save(changed, name="changed").content_hash != first.content_hash

    shuffled = frame.sample(frac=1, random_state=3)[frame.columns[::-1]]
    assert content_hash(shuffled) == first.content_hash
    assert content_hash(frame.assign(source_row=frame["source_row"] + 10)) == first.content_hash
    assert content_hash(frame.assign(day=frame["day"].where(frame.index != 0))) != (
        first.content_hash
    )
    as_float = frame.assign(infusions_received=frame["infusions_received"].astype("float64"))
    assert content_hash(as_float) != first.content_hash
    assert content_hash(frame.rename(columns={"site": "clinic"})) != first.content_hash
    text_change = frame.assign(site=frame["site"].str.replace("Site A", "Site  A"))
    assert content_hash(text_change) != first.content_hash


# --- import profiles --------------------------------------------------------------------

WIDE = 'name = "Wide export"\nformat = "wide"\npatient_id = "rownames"\n'
LONG = 'name = "Long export"\nformat = "long"\npatient_id = "Patient"\n'


def test_profiles_save_list_get_delete(store, tmp_path):
    store.save_profile("Wide export", WIDE, columns=["rownames", "bdi.pre", "bdi.2m"])
    store.save_profile("Long export", LONG, columns=["Patient", "Measure", "Total", "Patient"])
    names = [p.name for p in store.list_profiles()]
    assert names == ["Long export", "Wide export"]
    long = store.get_profile("Long export")
    assert long.toml_text == LONG
    assert long.columns == ("Patient", "Measure", "Total")
    assert datetime.fromisoformat(long.saved_at).utcoffset() == timedelta(0)

    store.save_profile("Wide export", WIDE + "# v2\n", columns=["rownames", "bdi.pre"])
    reopened = LocalStore(tmp_path)
    assert [p.name for p in reopened.list_profiles()] == ["Wide export", "Long export"]
    assert reopened.get_profile("Wide export").columns == ("rownames", "bdi.pre")

    reopened.delete_profile("Long export")
    assert [p.name for p in reopened.list_profiles()] == ["Wide export"]
    with pytest.raises(ProfileNotFound):
        reopened.get_profile("Long export")
    with pytest.raises(ProfileNotFound):
        reopened.delete_profile("Long export")


@pytest.mark.parametrize(
    ("toml_text", "columns"),
    [
        ("not = [valid", ["a"]),
        ("", ["a"]),
        (WIDE, []),
        (WIDE, "rownames"),
        (WIDE, ["ok", 3]),
    ],
)
def test_bad_profiles_are_refused(store, toml_text, columns):
    with pytest.raises(DataValidationError):
        store.save_profile("p", toml_text, columns=columns)
    assert store.list_profiles() == []


def test_find_profile_for_columns(store):
    assert store.find_profile_for_columns(["a", "b"]) is None
    store.save_profile("ab", WIDE, columns=["a", "b"])
    store.save_profile("abc", WIDE, columns=["a", "b", "c"])
    store.save_profile("xy", LONG, columns=["x", "y"])

    assert store.find_profile_for_columns(["b", "a", "extra"]).name == "ab"
    assert store.find_profile_for_columns(["a", "b", "c", "d"]).name == "abc"  # most columns
    assert store.find_profile_for_columns(["x", "y", "a"]).name == "xy"
    assert store.find_profile_for_columns(["a", "c", "x"]) is None  # each misses one
    assert store.find_profile_for_columns([]) is None

    store.save_profile("ab newer", LONG, columns=["b", "a"])
    assert store.find_profile_for_columns(["a", "b"]).name == "ab newer"  # tie: newest
    store.save_profile("ab", WIDE, columns=["a", "b"])  # saving again makes it newest
    assert store.find_profile_for_columns(["a", "b"]).name == "ab"


# --- audit log --------------------------------------------------------------------------


def test_audit_events_are_recorded_filtered_and_survive_a_restart(store, tmp_path):
    d1, d2 = new_dataset_id(), new_dataset_id()
    store.record_event("sign_in", user="ana@clinic.org")
    store.record_event("upload", user="ana@clinic.org", dataset_id=d1, detail="march.csv")
    store.record_event("view", user="ben@clinic.org", dataset_id=d1, page="overview")
    store.record_event("export", user="ben@clinic.org", dataset_id=d2, page="report")
    store.record_event("delete", user="ana@clinic.org", dataset_id=d2)

    log = LocalStore(tmp_path).events()
    assert (
        tuple(log.columns)
        == st.EVENT_COLUMNS
        == (
            "id",
            "at",
            "kind",
            "user",
            "dataset_id",
            "page",
            "detail",
        )
    )
    assert log["kind"].tolist() == ["delete", "export", "view", "upload", "sign_in"]
    assert log["id"].is_unique and log["id"].dtype == "int64"
    view = log[log["kind"] == "view"].iloc[0]
    assert (view["user"], view["dataset_id"], view["page"]) == ("ben@clinic.org", d1, "overview")
    assert pd.isna(view["detail"])
    assert log.loc[log["kind"] == "upload", "detail"].item() == "march.csv"
    assert all(datetime.fromisoformat(t).utcoffset() == timedelta(0) for t in log["at"])

    assert store.events(kind="view")["dataset_id"].tolist() == [d1]
    assert store.events(user="ana@clinic.org")["kind"].tolist() == ["delete", "upload", "sign_in"]
    assert store.events(dataset_id=d2)["kind"].tolist() == ["delete", "export"]
    assert store.events(kind="view", user="ana@clinic.org").empty
    assert len(store.events(limit=2)) == 2
    middle = log["at"].iloc[2]
    assert store.events(since=middle)["kind"].tolist() == ["delete", "export", "view"]
    assert store.events(until=middle)["kind"].tolist() == ["upload", "sign_in"]
    assert len(store.events(since=datetime.now(UTC) + timedelta(days=1))) == 0
    with pytest.raises(DataValidationError):
        store.events(since="last tuesday")
    with pytest.raises(DataValidationError):
        store.events(limit=-1)


def test_audit_text_is_kept_as_data(store):
    store.record_event("view", user="x\ny", dataset_id="../etc/passwd", page="=cmd()")
    row = store.events().iloc[0]
    assert row["user"] == "x\ufffdy"
    assert row["dataset_id"] == "../etc/passwd"
    assert row["page"] == "=cmd()"


def break_database(root: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (root / f"outcomes.sqlite{suffix}").unlink(missing_ok=True)
    (root / "outcomes.sqlite").mkdir()


def test_record_event_never_raises_when_the_database_is_unavailable(store, tmp_path, caplog):
    store.record_event("sign_in", user="ana@clinic.org")
    break_database(tmp_path)
    with caplog.at_level(logging.ERROR, logger="analytics.store"):
        store.record_event("view", user="ana@clinic.org", dataset_id=REAL, page="overview")
        store.record_event("not a kind!", user="ana@clinic.org")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert all("audit event not recorded" in m for m in messages)
    assert "'view'" in messages[0] and "ana@clinic.org" in messages[0]
    with pytest.raises(StoreError):
        store.events()
    with pytest.raises(StoreError):
        store.list()
    with pytest.raises(StoreError):
        LocalStore(tmp_path)


def test_record_event_gives_up_instead_of_waiting_for_a_locked_database(tmp_path, caplog):
    store = LocalStore(tmp_path, audit_busy_timeout=0.0)
    blocker = sqlite3.connect(tmp_path / "outcomes.sqlite", isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with caplog.at_level(logging.ERROR, logger="analytics.store"):
            store.record_event("view", user="ana@clinic.org")
        assert "locked" in caplog.text
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.record_event("view", user="ana@clinic.org")
    assert len(store.events()) == 1


# --- opening ----------------------------------------------------------------------------


def test_open_store_root_from_argument_env_or_default(tmp_path, monkeypatch):
    monkeypatch.setenv("OUTCOMES_DATA_DIR", str(tmp_path / "from_env"))
    assert open_store(tmp_path / "explicit").root == tmp_path / "explicit"
    assert open_store().root == tmp_path / "from_env"
    monkeypatch.delenv("OUTCOMES_DATA_DIR")
    monkeypatch.chdir(tmp_path)
    opened = open_store()
    assert opened.root == tmp_path / ".data"
    assert (tmp_path / ".data" / "outcomes.sqlite").is_file()
    assert (tmp_path / ".data" / "datasets").is_dir()


# --- the content hash and the streamed write at scale ----------------------------------------


def reference_hash(frame: pd.DataFrame) -> str:
    """docs/storage.md's serialisation written out plainly: one pandas sort, every column
    in one piece."""
    import hashlib
    import json

    import numpy as np

    names = sorted(c for c in frame.columns if c != "source_row")
    cols = {}
    for c in names:
        v = frame[c].reset_index(drop=True)
        if pd.api.types.is_bool_dtype(v.dtype):
            cols[c] = ("bool", v.astype("boolean"))
        elif pd.api.types.is_integer_dtype(v.dtype):
            cols[c] = ("int", v.astype("Int64"))
        elif pd.api.types.is_float_dtype(v.dtype):
            cols[c] = ("float", v.astype("float64"))
        else:
            cols[c] = ("string", v.astype("string"))
    first = ["patient_id", "instrument", "infusions_received", "day"]
    keys = [c for c in first if c in cols] + [c for c in names if c not in first]
    table = pd.DataFrame({c: cols[c][1] for c in keys})
    order = table.sort_values(keys, kind="mergesort", na_position="last").index
    h = hashlib.sha256(b"infusion-outcomes content hash v1\n")
    h.update(f"{len(frame)} {len(names)}\n".encode())
    for c in names:
        kind, v = cols[c]
        v = v.iloc[order]
        miss = v.isna().to_numpy()
        h.update(json.dumps([c, kind]).encode() + b"\n" + miss.astype(np.uint8).tobytes())
        if kind == "string":
            texts = [b"" if m else str(x).encode() for x, m in zip(v, miss, strict=True)]
            lengths = [-1 if m else len(t) for t, m in zip(texts, miss, strict=True)]
            h.update(np.asarray(lengths, dtype="<i8").tobytes() + b"".join(texts))
        elif kind == "float":
            x = v.to_numpy(dtype="float64", na_value=np.nan)
            h.update(np.where(miss | (x == 0.0), 0.0, x).astype("<f8").tobytes())
        elif kind == "int":
            h.update(v.fillna(0).to_numpy(dtype="int64").astype("<i8").tobytes())
        else:
            h.update(v.fillna(False).to_numpy(dtype=bool).astype(np.uint8).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("seed", range(12))
def test_content_hash_equals_the_documented_serialisation(seed, monkeypatch):
    """Ties on the leading keys, NaN and NA, -0.0, non-ASCII text, Arrow text, and
    pieces smaller than the frame: the hash is the one docs/storage.md defines."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 80))
    frame = pd.DataFrame(
        {
            "patient_id": pd.array(rng.choice(["a", "b", "é", "B", None], n), dtype="string"),
            "instrument": rng.choice(["pcl5", "phq9"], n).astype(object),
            "infusions_received": pd.array(rng.choice([0, 1, None], n), dtype="Int64"),
            "day": rng.choice([0.0, -0.0, np.nan, 3.5], n),
            "score": rng.choice([1.0, 2.0, np.nan], n),
            "site": pd.array(rng.choice(["x", None, "yé"], n), dtype="string[pyarrow]"),
            "flag": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
            "source_row": np.arange(n),
        }
    )
    if seed % 3 == 0:
        frame = frame[["score", "site", "flag"]]
    monkeypatch.setattr(st, "HASH_CHUNK_ROWS", int(rng.choice([1, 7, 1000])))
    assert content_hash(frame) == reference_hash(frame)


def test_a_save_in_several_row_groups_loads_back_whole(store, tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    frame = canonical(n_patients=6)
    monkeypatch.setattr(st, "HASH_CHUNK_ROWS", 5)
    seen: list[tuple[str, float]] = []
    rec = store.save(frame, name="in pieces", progress=lambda m, f: seen.append((m, f)))
    path = tmp_path / "datasets" / f"{rec.id}.parquet"
    groups = -(-len(frame) // 5)
    assert pq.ParquetFile(path).metadata.num_row_groups == groups
    assert pq.read_schema(path).equals(pa_schema(frame), check_metadata=True)
    assert_loaded_equal(store.load(rec.id), frame)
    assert rec.content_hash == reference_hash(frame)
    messages = [m for m, _ in seen]
    assert messages[0] == "Computing the content hash" and messages[-1] == "Saved"
    assert messages[1:-1] == [f"Writing rows (part {i} of {groups})" for i in range(1, groups + 1)]
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def pa_schema(frame: pd.DataFrame):
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False).schema
