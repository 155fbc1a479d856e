"""The fast validation path against a plain row-by-row reference and across input forms.

``load_canonical`` reads a CSV with Arrow (dictionary-encoded text) and checks each
distinct value once. Here a deliberately naive validator, one Python loop over rows with
``float()`` for numbers, states the rules of DESIGN.md §3 again, and both must agree on
generated files full of blanks, whitespace, bad numbers, unknown instruments, impossible
times and duplicates. The cell pool avoids texts where ``float()`` and ``pd.to_numeric``
disagree (underscores, non-ASCII digits), which the reference could not judge.
"""

from __future__ import annotations

import csv
import io
import itertools
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from analytics import validation
from analytics.errors import DataValidationError
from analytics.instruments import load_registry
from analytics.io import NA_VALUES, load_canonical
from analytics.io import _read as read_for_validation
from analytics.validation import (
    MAX_INFUSIONS,
    _combined_key,
    _duplicated_key,
    validate_canonical,
)

REGISTRY = load_registry()
PIDS = ["P1", " P1", "P2 ", "p2", "P3", "", "  ", "0012", "12"]
INSTRUMENTS = ["pcl5", "PCL5", " phq9 ", "gad7", "GAD7 ", "bogus", "", " "]
SCORES = ["0", "3", "10", "10.0", " 12 ", "1e1", "-1", "2.5", "abc", "", "inf", "80", "81",
          "27", "28", "21", "22", "NA", "1e400"]  # fmt: skip
INFUSIONS = ["0", "1", "2", "2.0", "2.5", "-1", "", "x", "10001", "10000", " 3 ", "-0", "N/A"]
DAYS = ["-3", "0", "7", "7.0", "", "y", "1e400", "14", "-0", " 21", "null"]
SITES = ["A", " A", "B", "", "-", "1", "2"]
AGES = ["30", "41.5", "", " 22 ", "x"]


def _number(text: str | None) -> float | None:
    """The cell as a finite or infinite float, or None when blank or not a number."""
    if text is None or not text.strip():
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def reference(rows: list[dict[str, str | None]], columns: list[str]):
    """Errors as {(row, column, kind)}, warnings as {(row, kind)}, and the clean rows as
    {(row, patient, instrument, score, infusions, day)}, one row at a time."""
    errors: set[tuple[int, str, str]] = set()
    clean: list[tuple] = []
    for i, cell in enumerate(rows):
        row = i + 2
        bad = False
        pid, inst, score_text = cell["patient_id"], cell["instrument"], cell["score"]
        if _blank(pid):
            errors.add((row, "patient_id", "patient id is missing"))
            bad = True
        key = None if _blank(inst) else inst.strip().lower()
        if key is None:
            errors.add((row, "instrument", "instrument is missing"))
            bad = True
        elif key not in REGISTRY:
            errors.add((row, "instrument", "unknown instrument"))
            bad = True
        score = _number(score_text)
        if _blank(score_text):
            errors.add((row, "score", "score is missing"))
            bad = True
        elif score is None or not math.isfinite(score):
            errors.add((row, "score", "score is not a number"))
            bad = True
        elif key in REGISTRY and not REGISTRY[key].min <= score <= REGISTRY[key].max:
            errors.add((row, "score", "score out of range"))
            bad = True
        infusions = None
        if "infusions_received" in columns:
            text = cell["infusions_received"]
            value = _number(text)
            problems = []
            if not _blank(text) and (value is None or not math.isfinite(value)):
                problems.append("infusions received is not a number")
            elif value is not None:
                if value < 0:
                    problems.append("infusions received is negative")
                if value != round(value):
                    problems.append("infusions received is not whole")
                if value > MAX_INFUSIONS:
                    problems.append("infusions received is implausibly large")
            errors.update((row, "infusions_received", p) for p in problems)
            bad |= bool(problems)
            if value is not None and not problems:
                infusions = round(value)
        day = None
        if "day" in columns:
            text = cell["day"]
            value = _number(text)
            if not _blank(text) and (value is None or not math.isfinite(value)):
                errors.add((row, "day", "day is not a number"))
                bad = True
            elif value is not None:
                day = value
        if infusions is None and day is None:
            if not bad:
                time_column = "infusions_received" if "infusions_received" in columns else "day"
                errors.add((row, time_column, "no time point"))
            bad = True
        if infusions == 0 and day is not None and day > 0:
            errors.add((row, "day", "0 infusions received but a positive day"))
            bad = True
        if not bad:
            clean.append((row, pid.strip(), key, score, infusions, day))
    # Duplicates: same patient, instrument and time; conflicting scores exclude every row,
    # equal scores keep the first.
    groups: dict[tuple, list[tuple]] = {}
    for entry in clean:
        groups.setdefault((entry[1], entry[2], entry[4], entry[5]), []).append(entry)
    kept, warnings = set(), set()
    for entries in groups.values():
        if len({e[3] for e in entries}) > 1:
            conflict = "conflicting scores for the same patient, instrument and time"
            errors.update((e[0], "score", conflict) for e in entries)
            continue
        kept.add(entries[0])
        warnings.update((e[0], "the same score repeated") for e in entries[1:])
    return errors, warnings, kept


def observed(result):
    """The same three sets from a :class:`ValidationResult`."""
    issues = result.issues

    def kind(message: str) -> str:
        return message.split(" (")[0].split(":")[0]

    errors = {
        (int(r.row), r.column, kind(r.message))
        for r in issues[issues.severity == "error"].itertuples()
    }
    warnings = {
        (int(r.row), kind(r.message).removesuffix(" for one time point"))
        for r in issues[issues.severity == "warning"].itertuples()
    }
    d = result.data
    kept = {
        (
            int(r.source_row),
            r.patient_id,
            r.instrument,
            float(r.score),
            None if pd.isna(r.infusions_received) else int(r.infusions_received),
            None if pd.isna(r.day) else float(r.day),
        )
        for r in d.itertuples()
    }
    return errors, warnings, kept


def generate(seed: int) -> tuple[list[str], list[dict[str, str | None]], bytes]:
    """Rows of cells and the CSV bytes that hold them (some files quoted, some without a
    time column). Cells the reader turns into missing (NA markers) are None in the rows."""
    rng = np.random.default_rng(seed)
    columns = ["patient_id", "instrument", "score", "infusions_received", "day", "site", "age"]
    if seed % 4 == 1:
        columns.remove("day")
    elif seed % 4 == 2:
        columns.remove("infusions_received")
    pools = {
        "patient_id": PIDS, "instrument": INSTRUMENTS, "score": SCORES,
        "infusions_received": INFUSIONS, "day": DAYS, "site": SITES, "age": AGES,
    }  # fmt: skip
    n = int(rng.integers(5, 400))
    rows = []
    for i in range(n):
        if rng.random() < 0.5:  # a plausible row, so duplicates and clean rows occur
            cells = {
                "patient_id": f"P{i % 4}", "instrument": ["pcl5", "phq9", "gad7"][i % 3],
                "score": str(i % 12 if rng.random() < 0.5 else rng.integers(0, 22)),
                "infusions_received": str(i % 3),
                "day": str(7 * (i % 3)), "site": "A", "age": "30",
            }  # fmt: skip
        else:
            cells = {c: str(rng.choice(pools[c])) for c in columns}
        rows.append({c: cells[c] for c in columns})
    text = io.StringIO()
    quoting = csv.QUOTE_ALL if seed % 3 == 0 else csv.QUOTE_MINIMAL
    writer = csv.writer(text, quoting=quoting, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[r[c] for c in columns] for r in rows])
    as_read = [{c: (None if v in NA_VALUES else v) for c, v in r.items()} for r in rows]
    # A row of only missing cells is not a row (dropped on reading): keep the numbering.
    filled = [r for r in as_read if any(v is not None for v in r.values())]
    assert len(filled) == len(as_read), "the generator writes no empty rows"
    return columns, as_read, text.getvalue().encode()


@pytest.mark.parametrize("threads", [0, 1, 2], ids=["one thread", "one worker", "two workers"])
@pytest.mark.parametrize("seed", range(24))
def test_load_canonical_agrees_with_a_row_by_row_reference(tmp_path, monkeypatch, seed, threads):
    """However the work is split (a long file's columns are hashed on worker threads)."""
    monkeypatch.setattr(validation, "PARALLEL_ROWS", 0 if threads else 10**12)
    monkeypatch.setattr(validation, "TWO_WORKERS_ROWS", 0 if threads == 2 else 10**12)
    columns, rows, data = generate(seed)
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    assert observed(load_canonical(path)) == reference(rows, columns)


def _as_arrow_chunks(values: pd.Series, pieces: int) -> pd.Series:
    """The column as Arrow text in several chunks (as the CSV reader's blocks are),
    wrapped in pandas without conversion."""
    bounds = np.linspace(0, len(values), pieces + 1).astype(int)
    chunks = [
        pa.array(values.iloc[a:b].tolist(), type=pa.string()) for a, b in itertools.pairwise(bounds)
    ]
    arrow = pa.chunked_array(chunks, type=pa.string())
    return pd.Series(pd.arrays.ArrowExtensionArray(arrow), index=values.index)


@pytest.mark.parametrize("seed", range(8))
def test_every_text_representation_validates_the_same(seed):
    """Object, python and Arrow strings, categoricals and chunked Arrow text are the same
    cells, so the same rows and issues (text comes out as Arrow strings)."""
    columns, rows, _ = generate(seed)
    plain = pd.DataFrame(rows, columns=columns, dtype=object)
    forms = {
        "object": plain,
        "string": plain.astype("string"),
        "string[pyarrow]": plain.astype("string[pyarrow]"),
        "category": plain.astype("category"),
        "arrow chunks": plain.apply(lambda c: _as_arrow_chunks(c, 3)),
    }
    results = {name: validate_canonical(frame) for name, frame in forms.items()}
    first = results.pop("object")
    for name, result in results.items():
        pd.testing.assert_frame_equal(result.data, first.data, obj=name)
        pd.testing.assert_frame_equal(result.issues, first.issues, obj=name)
    text = [c for c in first.data.columns if first.data[c].dtype == object]
    assert not text, f"text columns must be Arrow-backed strings, not object: {text}"


def test_a_clean_frame_gets_arrow_text_columns():
    frame = pd.DataFrame(
        {"patient_id": ["P1"], "instrument": ["pcl5"], "score": ["3"], "day": ["0"], "site": ["A"]}
    )
    data = validate_canonical(frame).data
    for col in ("patient_id", "instrument", "site"):
        assert data[col].dtype == pd.StringDtype("pyarrow"), col


@pytest.mark.parametrize("seed", range(6))
def test_combined_key_finds_the_duplicates_pandas_finds(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    parts = [rng.integers(-1, k, n) for k in (50, 4, 3, 9)]
    if seed % 2:  # sorted rows take the no-sort path
        order = np.lexsort(parts[::-1])
        parts = [p[order] for p in parts]
    key = _combined_key(parts)
    assert key is not None
    expected = pd.DataFrame(np.column_stack(parts)).duplicated(keep=False).to_numpy()
    np.testing.assert_array_equal(_duplicated_key(key), expected)


def test_combined_key_refuses_keys_that_would_overflow():
    huge = np.array([0, 2**31 - 2], dtype=np.int64)
    assert _combined_key([huge, huge, huge]) is None


@pytest.mark.parametrize("seed", range(24))
def test_keeping_some_covariates_changes_no_row_and_no_issue(tmp_path, seed):
    """The covariates left out are not even converted on reading (DuckDB-style
    projection); every row and problem stays that of reading them all."""
    _, _, data = generate(seed)
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    full = load_canonical(path)
    for keep in (["site"], [], ["age", "not a column"]):
        some = load_canonical(path, covariates=keep)
        dropped = [c for c in ("site", "age") if c not in keep]
        pd.testing.assert_frame_equal(some.data, full.data.drop(columns=dropped))
        pd.testing.assert_frame_equal(some.issues, full.issues)


def test_covariates_left_out_are_not_read(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("patient_id,instrument,score,day,site,age\nP1,pcl5,3,0,A,30\n")
    assert "site" not in read_for_validation(path, ["age"]).columns
    assert {"site", "age"} <= set(read_for_validation(path, None).columns)
    # A row empty in every column read is read again with all of them.
    path.write_text("patient_id,instrument,score,day,site,age\nP1,pcl5,3,0,A,30\n,,,,B,\n")
    assert "site" in read_for_validation(path, ["age"]).columns


def test_a_covariate_first_column_left_out(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text('site,patient_id,instrument,score,day\n"A",P1,pcl5,3,0\nB,P2,pcl5,4,0\n')
    full = load_canonical(path)
    some = load_canonical(path, covariates=[])
    pd.testing.assert_frame_equal(some.data, full.data.drop(columns="site"))
    assert list(some.data["patient_id"]) == ["P1", "P2"]


def test_bytes_that_are_not_utf8_in_a_covariate_left_out_are_still_refused(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"patient_id,instrument,score,day,site\nP1,pcl5,3,0,Caf\xe9\n")
    with pytest.raises(DataValidationError) as full:
        load_canonical(path)
    with pytest.raises(DataValidationError) as some:
        load_canonical(path, covariates=[])
    assert str(some.value) == str(full.value)
    assert "UTF-8" in str(some.value)


def test_an_empty_row_is_dropped_whichever_covariates_are_kept(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("patient_id,instrument,score,day,site\nP1,pcl5,3,0,A\n,,,,\nP2,pcl5,5,0,B\n")
    full = load_canonical(path)
    some = load_canonical(path, covariates=[])
    assert full.issues.empty and some.issues.empty
    assert list(some.data["source_row"]) == list(full.data["source_row"]) == [2, 4]


def test_a_row_filled_only_in_a_covariate_left_out_is_still_an_error(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("patient_id,instrument,score,day,site\nP1,pcl5,3,0,A\n,,,,B\n")
    result = load_canonical(path, covariates=[])
    assert list(result.data.columns) == [
        "patient_id", "instrument", "score", "infusions_received", "day", "source_row"
    ]  # fmt: skip
    assert [3, "patient_id"] in result.errors[["row", "column"]].values.tolist()
