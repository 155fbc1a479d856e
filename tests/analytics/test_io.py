"""read_raw / load_canonical on real files written to tmp_path.

Every failure is a DataValidationError (a ValueError) whose message names the file; a
readable file loads into the same clean frame whatever its format.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.errors import DataValidationError
from analytics.io import load_canonical, read_raw

HEADER = "patient_id,instrument,score,infusions_received,day,site,age\n"
BODY = (
    "P1,pcl5,50,0,-2,Clinic A,34\n"
    "P1,pcl5,31.5,3,7,Clinic A,34\n"
    "P2,phq9,12,0,0,Clinic B,\n"
    "P2,phq9,4,6,21,Clinic B,\n"
)
CSV = HEADER + BODY


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def expected_clean() -> pd.DataFrame:
    """The clean frame of CSV, typed by hand (text is Arrow-backed ``string``)."""
    return pd.DataFrame(
        {
            "patient_id": pd.array(["P1", "P1", "P2", "P2"], dtype="string[pyarrow]"),
            "instrument": pd.array(["pcl5", "pcl5", "phq9", "phq9"], dtype="string[pyarrow]"),
            "score": [50.0, 31.5, 12.0, 4.0],
            "infusions_received": pd.array([0, 3, 0, 6], dtype="Int64"),
            "day": [-2.0, 7.0, 0.0, 21.0],
            "source_row": np.array([2, 3, 4, 5], dtype="int64"),
            "site": pd.array(
                ["Clinic A", "Clinic A", "Clinic B", "Clinic B"], dtype="string[pyarrow]"
            ),
            "age": [34.0, 34.0, np.nan, np.nan],
        }
    )


def assert_fails(path: Path, fragment: str, *, loader=read_raw) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        loader(path)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.file == path.name
    text = str(err)
    assert text.startswith(f"{path.name}: ") or text.startswith(f"{path.name}, ")
    assert fragment in text, text
    assert "Traceback" not in text
    return err


# --- files that cannot be read ------------------------------------------------------------


def zip_bytes(tmp_path: Path) -> bytes:
    zpath = tmp_path / "export.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("data.csv", CSV)
    return zpath.read_bytes()


UNREADABLE = [
    # (id, file name, content or factory, message fragment)
    ("empty", "empty.csv", b"", "the file is empty"),
    ("blank lines only", "blank.csv", b"\n\n  \n", "the file is empty"),
    ("binary garbage", "garbage.csv", bytes(range(256)) * 8, "binary file"),
    ("zip renamed .csv", "export.csv", zip_bytes, "zip archive"),
    ("unsupported extension", "data.json", b'{"a": 1}', "unsupported file type '.json'"),
    ("excel 97", "data.xls", b"\xd0\xcf\x11\xe0" + bytes(60), "unsupported file type '.xls'"),
    ("no extension", "data", CSV.encode(), "unsupported file type"),
    ("corrupt parquet", "data.parquet", b"PAR1 not really", "not a readable Parquet file"),
    ("utf-16", "utf16.csv", CSV.encode("utf-16"), "not UTF-8"),
    ("unclosed quote", "quote.csv", HEADER + 'P1,pcl5,"50,0,-2,A,3\n', "not a readable CSV"),
    ("more values than header", "extra.csv", HEADER + "P1,pcl5,50,0,-2,A,34,9,9\n", "more values"),
    ("ragged later row", "ragged.csv", CSV + "P3,pcl5,1,0,0,A,3,X\n", "line 6"),
    (
        "duplicated header",
        "dup.csv",
        "patient_id,instrument,score,day,score\nP,pcl5,1,0,2\n",
        "dup",
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [case[1:] for case in UNREADABLE],
    ids=[case[0] for case in UNREADABLE],
)
def test_unreadable_files_raise_a_clear_error_naming_the_file(tmp_path, name, content, fragment):
    data = content(tmp_path) if callable(content) else content
    path = write(tmp_path, name, data)
    assert_fails(path, fragment)
    assert_fails(path, fragment, loader=load_canonical)


def test_duplicated_header_names_are_not_renamed_into_a_covariate(tmp_path):
    # pandas would read the second "score" as "score.1" and it would pass as a covariate
    path = write(tmp_path, "dup.csv", "patient_id,instrument,score,day,score\nP,pcl5,1,0,2\n")
    err = assert_fails(path, "duplicated column name(s)")
    assert "score" in str(err)


def test_missing_file_and_folder(tmp_path):
    assert_fails(tmp_path / "nowhere.csv", "file not found")
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    assert_fails(folder, "not a file")


def test_header_only_reads_as_no_rows_and_fails_to_load(tmp_path):
    path = write(tmp_path, "header.csv", HEADER)
    raw = read_raw(path)
    assert raw.empty
    assert list(raw.columns) == [*HEADER.strip().split(","), "source_row"]
    assert_fails(path, "no data rows", loader=load_canonical)


def test_missing_required_column_in_a_file_names_file_and_column(tmp_path):
    path = write(tmp_path, "noscore.csv", "patient_id,instrument,day\nP1,pcl5,0\n")
    err = assert_fails(path, "required column(s) missing: score", loader=load_canonical)
    assert err.column == "score"


def test_latin1_file_is_refused_with_the_line_of_the_first_bad_byte(tmp_path):
    # io.py documents UTF-8 only: "save the file as CSV UTF-8"
    text = HEADER + BODY + "P3,pcl5,20,0,0,Zürich,40\n"
    path = write(tmp_path, "latin1.csv", text.encode("latin-1"))
    err = assert_fails(path, "not UTF-8", loader=load_canonical)
    assert "save the file as CSV UTF-8" in str(err)
    assert "line 6" in str(err)


def test_non_utf8_position_is_counted_in_the_whole_file(tmp_path):
    # pandas reports an offset inside its read buffer; the message must point into the file
    rows = "".join(f"P{i},pcl5,{i % 80},0,0,Clinic A,30\n" for i in range(20_000))
    data = (HEADER + rows + "P9,pcl5,1,0,0,Zürich,1\n").encode("latin-1")
    path = write(tmp_path, "big.csv", data)
    err = assert_fails(path, "line 20002")
    offset = data.index("ü".encode("latin-1"))
    assert f"byte {offset}" in str(err)


# --- files that load ----------------------------------------------------------------------


def test_csv_loads_into_typed_clean_rows(tmp_path):
    result = load_canonical(write(tmp_path, "plain.csv", CSV))
    assert result.ok and result.issues.empty
    assert result.source == "plain.csv"
    pd.testing.assert_frame_equal(result.data, expected_clean())


def test_read_raw_keeps_every_csv_cell_as_text(tmp_path):
    raw = read_raw(write(tmp_path, "plain.csv", HEADER + "007,pcl5,05,0,-0,A,1e2\n"))
    assert raw.iloc[0].tolist() == ["007", "pcl5", "05", "0", "-0", "A", "1e2", 2]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bom.csv", "\ufeff" + CSV),
        ("tabs.tsv", CSV.replace(",", "\t")),
        ("semicolon.txt", CSV.replace(",", ";")),
        ("pipes.txt", CSV.replace(",", "|")),
        ("windows.csv", CSV.replace("\n", "\r\n")),
        ("upper.CSV", CSV),
        ("trailing_commas.csv", HEADER + BODY.replace("\n", ",\n")),
        ("trailing_blank_lines.csv", CSV + "\n\n"),
    ],
)
def test_text_variants_load_into_the_same_clean_frame(tmp_path, name, content):
    result = load_canonical(write(tmp_path, name, content))
    assert result.issues.empty, result.issues.to_string()
    assert result.data.columns[0] == "patient_id"  # no BOM left on the first name
    pd.testing.assert_frame_equal(result.data, expected_clean())


def test_missing_value_markers_are_blank(tmp_path):
    text = HEADER + "P1,pcl5,50,0,NA,A,N/A\nP1,pcl5,40,2,null,A,-\n"
    result = load_canonical(write(tmp_path, "na.csv", text))
    assert result.issues.empty
    assert result.data["day"].isna().all() and result.data["age"].isna().all()
    assert result.data["infusions_received"].tolist() == [0, 2]


def test_row_numbers_in_a_file_count_the_header_as_row_1(tmp_path):
    text = HEADER + BODY + "P3,pcl5,abc,1,3,A,1\nP3,pcl5,90,2,9,A,1\n"
    result = load_canonical(write(tmp_path, "rows.csv", text))
    assert result.errors[["row", "column"]].values.tolist() == [[6, "score"], [7, "score"]]
    assert result.data["source_row"].tolist() == [2, 3, 4, 5]


def test_parquet_with_typed_columns_round_trips_to_the_csv_frame(tmp_path):
    typed = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P2", "P2"],
            "instrument": ["pcl5", "pcl5", "phq9", "phq9"],
            "score": [50.0, 31.5, 12.0, 4.0],
            "infusions_received": pd.array([0, 3, 0, 6], dtype="Int64"),
            "day": [-2.0, 7.0, 0.0, 21.0],
            "site": ["Clinic A", "Clinic A", "Clinic B", "Clinic B"],
            "age": [34.0, 34.0, np.nan, np.nan],
        }
    )
    for name in ("typed.parquet", "typed.pq"):
        path = tmp_path / name
        typed.to_parquet(path, index=False)
        result = load_canonical(path)
        assert result.issues.empty
        pd.testing.assert_frame_equal(result.data, expected_clean())


def test_parquet_with_integer_columns_and_a_stored_index(tmp_path):
    typed = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P2", "P2"],
            "instrument": ["pcl5", "pcl5", "phq9", "phq9"],
            "score": np.array([50, 31, 12, 4], dtype="int64"),
            "infusions_received": np.array([0, 3, 0, 6], dtype="int64"),
            "day": np.array([-2, 7, 0, 21], dtype="int64"),
            "n_prior": np.array([1, 1, 2, 2], dtype="int64"),
        },
        index=[7, 7, 8, 8],  # a non-unique index, stored in the file
    )
    path = tmp_path / "ints.parquet"
    typed.to_parquet(path)
    result = load_canonical(path)
    assert result.issues.empty
    d = result.data
    assert d["source_row"].tolist() == [2, 3, 4, 5]
    assert d["score"].dtype == np.float64 and d["score"].tolist() == [50.0, 31.0, 12.0, 4.0]
    assert d["infusions_received"].dtype == pd.Int64Dtype()
    assert d["day"].dtype == np.float64
    assert pd.api.types.is_numeric_dtype(d["n_prior"]) and d["n_prior"].tolist() == [1, 1, 2, 2]


def test_parquet_problems_are_reported_like_csv_problems(tmp_path):
    typed = pd.DataFrame(
        {
            "patient_id": ["P1", None],
            "instrument": ["pcl5", "pcl5"],
            "score": [50.0, 99.0],
            "day": [0.0, 1.0],
        }
    )
    path = tmp_path / "bad.parquet"
    typed.to_parquet(path, index=False)
    result = load_canonical(path)
    assert result.errors[["row", "column"]].values.tolist() == [[3, "patient_id"], [3, "score"]]
    with pytest.raises(DataValidationError, match=r"bad\.parquet, row 3, column 'patient_id'"):
        result.raise_for_errors()


def test_row_numbers_stay_true_across_blank_lines(tmp_path):
    text = HEADER + "P1,pcl5,40,0,0,A,1\n\n\nP1,pcl5,abc,1,2,A,1\n"
    result = load_canonical(write(tmp_path, "gaps.csv", text))
    assert result.errors["row"].tolist() == [5]  # header 1, data 2, blanks 3-4, bad row 5
