"""validate_canonical on small in-memory frames: every check's severity, row, column and
message; the typed clean rows; file-level problems; the report helpers.

Frames of strings stand for a CSV as read (every cell text); typed frames stand for Parquet.
Row numbers count the header as row 1, so the first data row is row 2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.errors import DataValidationError
from analytics.validation import ValidationResult, validate_canonical

COLUMNS = ["patient_id", "instrument", "score", "infusions_received", "day"]
GOOD = ("P0", "pcl5", "40", "0", "-1")  # row 2 in every one-bad-row case below


def text_frame(rows: list[tuple], columns: list[str] = COLUMNS, **extra: list) -> pd.DataFrame:
    """A frame of strings as read from CSV (None = empty cell)."""
    df = pd.DataFrame(rows, columns=columns, dtype="string")
    for name, values in extra.items():
        df[name] = pd.array(values, dtype="string")
    return df


def validate(df: pd.DataFrame, **kw) -> ValidationResult:
    return validate_canonical(df, source="clinic.csv", **kw)


def only_issue(result: ValidationResult) -> pd.Series:
    assert len(result.issues) == 1, result.issues.to_string()
    return result.issues.iloc[0]


# --- one bad row: severity, row number, column, value and message ------------------------

BAD_ROWS = [
    # (id, row fields, column, message fragment)
    ("missing patient id", ("", "pcl5", "30", "1", "3"), "patient_id", "patient id is missing"),
    ("blank patient id", ("   ", "pcl5", "30", "1", "3"), "patient_id", "patient id is missing"),
    ("NA patient id", (None, "pcl5", "30", "1", "3"), "patient_id", "patient id is missing"),
    ("missing instrument", ("P1", "", "30", "1", "3"), "instrument", "instrument is missing"),
    ("null instrument", ("P1", None, "30", "1", "3"), "instrument", "instrument is missing"),
    ("unknown instrument", ("P1", "pcl-5", "30", "1", "3"), "instrument", "unknown instrument"),
    ("missing score", ("P1", "pcl5", "", "1", "3"), "score", "score is missing"),
    ("null score", ("P1", "pcl5", None, "1", "3"), "score", "score is missing"),
    ("text score", ("P1", "pcl5", "abc", "1", "3"), "score", "score is not a number"),
    ("decimal comma", ("P1", "pcl5", "12,5", "1", "3"), "score", "score is not a number"),
    ("infinite score", ("P1", "pcl5", "inf", "1", "3"), "score", "score is not a number"),
    ("pcl5 above max", ("P1", "pcl5", "81", "1", "3"), "score", "PCL-5 scores range 0-80"),
    ("pcl5 80.5", ("P1", "pcl5", "80.5", "1", "3"), "score", "PCL-5 scores range 0-80"),
    ("phq9 negative", ("P1", "phq9", "-1", "1", "3"), "score", "PHQ-9 scores range 0-27"),
    ("phq9 above max", ("P1", "phq9", "28", "1", "3"), "score", "PHQ-9 scores range 0-27"),
    ("negative infusions", ("P1", "pcl5", "30", "-1", "3"), "infusions_received", "negative"),
    ("fractional infusions", ("P1", "pcl5", "30", "1.5", "3"), "infusions_received", "not whole"),
    ("text infusions", ("P1", "pcl5", "30", "two", "3"), "infusions_received", "not a number"),
    ("infinite infusions", ("P1", "pcl5", "30", "inf", "3"), "infusions_received", "not a number"),
    ("absurd infusions", ("P1", "pcl5", "30", "1e30", "3"), "infusions_received", "large"),
    ("text day", ("P1", "pcl5", "30", "1", "abc"), "day", "day is not a number"),
    ("infinite day", ("P1", "pcl5", "30", "1", "-inf"), "day", "day is not a number"),
    ("no time point", ("P1", "pcl5", "30", "", ""), "infusions_received", "no time point"),
    ("0 infusions, day 3", ("P1", "pcl5", "30", "0", "3"), "day", "pre-treatment"),
]


@pytest.mark.parametrize(
    ("fields", "column", "fragment"),
    [case[1:] for case in BAD_ROWS],
    ids=[case[0] for case in BAD_ROWS],
)
def test_one_bad_row_is_one_error_on_its_row_and_column(fields, column, fragment):
    result = validate(text_frame([GOOD, fields]))
    issue = only_issue(result)
    assert issue["severity"] == "error"
    assert issue["row"] == 3  # header = row 1, GOOD = row 2
    assert issue["column"] == column
    assert fragment in issue["message"]
    # a plain sentence, not a Python repr or a pandas dtype
    for noise in ("<NA>", "nan", "dtype", "Traceback", "Error"):
        assert noise not in issue["message"]
    # the error excludes the row; the good row is kept
    assert not result.ok
    assert result.data["patient_id"].tolist() == ["P0"]
    assert result.data["source_row"].tolist() == [2]


def test_issue_value_is_the_cell_as_written():
    result = validate(text_frame([GOOD, ("P1", "pcl5", "12,5", "1", "3")]))
    assert only_issue(result)["value"] == "12,5"
    result = validate(text_frame([GOOD, ("P1", "Foo", "12", "1", "3")]))
    assert only_issue(result)["value"] == "Foo"


def test_unknown_instrument_message_lists_the_known_ids():
    issue = only_issue(validate(text_frame([GOOD, ("P1", "madeup", "3", "1", "3")])))
    for known in ("pcl5", "phq9", "gad7", "cadss"):
        assert known in issue["message"]


def test_instrument_is_normalised_for_case_and_whitespace():
    rows = [(f"P{i}", inst, "10", "0", "0") for i, inst in enumerate([" PCL5 ", "Phq9", "GAD7\t"])]
    result = validate(text_frame(rows))
    assert result.issues.empty
    assert result.data["instrument"].tolist() == ["pcl5", "phq9", "gad7"]


def test_boundaries_and_harmless_variants_are_accepted():
    rows = [
        ("A", "pcl5", "0", "0", "0"),  # minimum
        ("B", "pcl5", "80", "0", "-30"),  # maximum
        ("C", "phq9", "27", "0", "0"),
        ("D", "pcl5", " 12 ", " 2.0 ", "4.5"),  # padded text, whole float infusions
        ("E", "pcl5", "7", "3", ""),  # infusions without day
        ("F", "pcl5", "7", "", "14"),  # day without infusions
        ("G", "pcl5", "7", "", "-3"),  # pre-treatment by day
        ("H", "pcl5", "7", "0", "-400"),
    ]
    result = validate(text_frame(rows))
    assert result.issues.empty, result.issues.to_string()
    assert result.ok
    assert len(result.data) == len(rows)
    d = result.data.set_index("patient_id")
    assert d.loc["A", "score"] == 0 and d.loc["B", "score"] == 80
    assert d.loc["D", "score"] == 12.0 and d.loc["D", "infusions_received"] == 2
    assert pd.isna(d.loc["E", "day"]) and pd.isna(d.loc["F", "infusions_received"])


def test_every_problem_on_a_row_is_reported_but_the_row_is_excluded_once():
    result = validate(
        text_frame([GOOD, ("", "pcl5", "abc", "1", "3"), ("P2", "pcl5", "5", "1", "2")])
    )
    errs = result.errors
    assert sorted(errs["column"]) == ["patient_id", "score"]
    assert set(errs["row"]) == {3}
    assert result.summary_line() == "3 rows read, 2 loaded, 1 excluded, 0 warnings"


def test_no_time_point_in_a_day_only_file_names_the_day_column():
    df = text_frame(
        [("P1", "pcl5", "10", "-2"), ("P1", "pcl5", "8", None)],
        columns=["patient_id", "instrument", "score", "day"],
    )
    issue = only_issue(validate(df))
    assert (issue["row"], issue["column"]) == (3, "day")
    assert "no time point" in issue["message"]


def test_first_row_offsets_row_numbers():
    result = validate(text_frame([GOOD, ("P1", "pcl5", "99", "1", "2")]), first_row=10)
    assert only_issue(result)["row"] == 11
    assert result.data["source_row"].tolist() == [10]


# --- duplicates ---------------------------------------------------------------------------


def test_conflicting_duplicates_are_all_errors_and_all_excluded():
    rows = [
        ("A", "pcl5", "40", "0", "0"),  # row 2
        ("B", "pcl5", "30", "0", "0"),  # row 3, unrelated
        ("A", " PCL5", "41", "0", "0"),  # row 4: same time point after normalising
        ("A", "pcl5", "40", "0", "0"),  # row 5
        ("A", "pcl5", "39", "1", "0"),  # row 6: different time point, kept
        ("A", "phq9", "20", "0", "0"),  # row 7: different instrument, kept
    ]
    result = validate(text_frame(rows))
    errs = result.errors
    assert errs["row"].tolist() == [2, 4, 5]
    assert set(errs["column"]) == {"score"}
    assert all("conflicting scores" in m for m in errs["message"])
    assert all("row 2" in m for m in errs["message"])  # points at the first row of the group
    assert result.warnings.empty
    assert sorted(result.data["source_row"]) == [3, 6, 7]
    assert result.summary_line() == "6 rows read, 3 loaded, 3 excluded, 0 warnings"


def test_identical_duplicates_are_a_warning_and_kept_once():
    rows = [
        ("A", "pcl5", "40", "0", "-1"),  # row 2
        ("A", "pcl5", "40.0", "0", "-1"),  # row 3: same number written differently
        ("A", "pcl5", "40", "0", "-1"),  # row 4
        ("A", "pcl5", "30", "2", "5"),  # row 5
    ]
    result = validate(text_frame(rows))
    assert result.ok
    w = result.warnings
    assert w["row"].tolist() == [3, 4]
    assert set(w["column"]) == {"score"}
    assert all("kept once" in m and "row 2" in m for m in w["message"])
    assert result.data["source_row"].tolist() == [2, 5]
    assert result.summary_line() == "4 rows read, 2 loaded, 0 excluded, 2 warnings"


def test_duplicates_with_a_missing_time_column_value_are_still_duplicates():
    rows = [
        ("A", "pcl5", "40", "", "-1"),
        ("A", "pcl5", "35", "", "-1"),
        ("B", "pcl5", "9", "1", ""),
    ]
    result = validate(text_frame(rows))
    assert result.errors["row"].tolist() == [2, 3]
    assert result.data["patient_id"].tolist() == ["B"]


def test_rows_excluded_for_other_errors_do_not_make_duplicates():
    rows = [("A", "pcl5", "40", "0", "0"), ("A", "pcl5", "90", "0", "0")]
    result = validate(text_frame(rows))
    assert only_issue(result)["message"].startswith("score out of range")
    assert result.data["score"].tolist() == [40.0]


# --- typed clean rows and covariates ------------------------------------------------------


def test_clean_rows_are_typed():
    rows = [
        ("A", "pcl5", "40", "0", "-2"),
        ("A", "pcl5", "31.5", "3", "7"),
        ("B", "gad7", "5", "", "2"),
    ]
    df = text_frame(
        rows,
        site=[" Clinic A ", "Clinic A", "Clinic B"],
        age=["34", "34", ""],  # every non-blank value a number -> numeric
        dose=["0.5", "0.75", "1"],
        code=["12", "abc", "7"],  # mixed -> stays text
        empty=[None, "", None],
    )
    d = validate(df).data
    assert list(d.columns[:6]) == [*COLUMNS, "source_row"]
    assert pd.api.types.is_string_dtype(d["patient_id"])
    assert pd.api.types.is_string_dtype(d["instrument"])
    assert d["score"].dtype == np.float64
    assert d["infusions_received"].dtype == pd.Int64Dtype()
    assert d["day"].dtype == np.float64
    assert d["score"].tolist() == [40.0, 31.5, 5.0]
    assert d["infusions_received"].tolist()[:2] == [0, 3] and pd.isna(d["infusions_received"][2])
    assert d["day"].tolist() == [-2.0, 7.0, 2.0]
    assert pd.api.types.is_float_dtype(d["age"])
    assert d["age"].tolist()[:2] == [34.0, 34.0] and pd.isna(d["age"][2])
    assert d["dose"].tolist() == [0.5, 0.75, 1.0]
    assert pd.api.types.is_string_dtype(d["site"])
    assert d["site"].tolist() == ["Clinic A", "Clinic A", "Clinic B"]  # stripped
    assert pd.api.types.is_string_dtype(d["code"])
    assert d["code"].tolist() == ["12", "abc", "7"]
    assert d["empty"].isna().all()


def test_typed_frame_as_from_parquet():
    df = pd.DataFrame(
        {
            "patient_id": [101, 102, 103, 104, 105],
            "instrument": pd.Categorical(["pcl5", "PHQ9", "gad7", "pcl5", "pcl5"]),
            "score": [40.0, 10.0, 30.0, np.nan, 12.0],
            "infusions_received": pd.array([0, 2, 1, 1, None], dtype="Int64"),
            "day": [-1.0, 9.0, 4.0, 4.0, np.nan],
            "site": ["A", "B", "A", "B", "A"],
            "veteran": [True, False, True, True, False],
            "prior_treatments": [0, 2, 1, 3, 1],
        }
    )
    result = validate(df)
    issues = result.issues[["row", "column"]].values.tolist()
    assert issues == [[4, "score"], [5, "score"], [6, "infusions_received"]]
    assert "GAD-7 scores range 0-21" in result.issues["message"].iloc[0]
    assert result.issues["message"].iloc[1] == "score is missing"
    assert "no time point" in result.issues["message"].iloc[2]
    d = result.data
    assert d["patient_id"].tolist() == ["101", "102"]
    assert d["instrument"].tolist() == ["pcl5", "phq9"]
    assert d["score"].dtype == np.float64
    assert d["infusions_received"].dtype == pd.Int64Dtype()
    assert d["infusions_received"].tolist() == [0, 2]
    assert d["veteran"].tolist() == [True, False]
    assert pd.api.types.is_numeric_dtype(d["prior_treatments"])
    assert d["prior_treatments"].tolist() == [0, 2]


def test_typed_and_text_frames_give_the_same_core_rows():
    text = text_frame([("A", "pcl5", "40", "0", "-1"), ("A", "pcl5", "20", "4", "12.5")])
    typed = pd.DataFrame(
        {
            "patient_id": ["A", "A"],
            "instrument": ["pcl5", "pcl5"],
            "score": [40, 20],  # int64 in the file
            "infusions_received": np.array([0, 4], dtype="int64"),
            "day": [-1.0, 12.5],
        }
    )
    a, b = validate(text).data, validate(typed).data
    pd.testing.assert_frame_equal(a, b)


def test_a_non_unique_index_loses_no_rows():
    # e.g. a Parquet file written from concatenated frames keeps their index
    df = pd.DataFrame(
        {
            "patient_id": ["A", "A", "B", "C"],
            "instrument": "pcl5",
            "score": [40.0, 40.0, 30.0, 20.0],
            "infusions_received": [0, 0, 0, 0],
            "day": [0.0, 0.0, 0.0, 0.0],
        },
        index=[0, 1, 0, 1],
    )
    result = validate(df)
    assert result.warnings["row"].tolist() == [3]
    assert result.data["patient_id"].tolist() == ["A", "B", "C"]
    assert result.data["source_row"].tolist() == [2, 4, 5]


# --- problems with the whole file raise at once -------------------------------------------


def test_no_rows_raises():
    with pytest.raises(DataValidationError, match="no data rows") as info:
        validate(text_frame([]))
    assert info.value.file == "clinic.csv"
    assert str(info.value).startswith("clinic.csv")


@pytest.mark.parametrize("missing", ["patient_id", "instrument", "score"])
def test_missing_required_column_raises_naming_it(missing):
    df = text_frame([GOOD]).drop(columns=[missing])
    with pytest.raises(DataValidationError) as info:
        validate(df)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.file == "clinic.csv" and err.column == missing
    assert "clinic.csv" in str(err) and missing in str(err) and "missing" in str(err)


def test_no_time_column_raises():
    df = text_frame([GOOD]).drop(columns=["infusions_received", "day"])
    with pytest.raises(DataValidationError, match="infusions_received") as info:
        validate(df)
    assert info.value.file == "clinic.csv"
    assert "day" in str(info.value)


def test_duplicated_column_names_raise():
    df = pd.DataFrame([["A", "pcl5", "4", "0", "9"]], columns=[*COLUMNS[:4], "score"])
    with pytest.raises(DataValidationError, match="duplicated column") as info:
        validate(df)
    assert "score" in str(info.value) and "clinic.csv" in str(info.value)


# --- the report helpers -------------------------------------------------------------------


def test_raise_for_errors_names_file_row_and_column():
    result = validate(
        text_frame([GOOD, (*GOOD[:2], "x", *GOOD[3:]), ("P2", "phq9", "30", "1", "2")])
    )
    with pytest.raises(DataValidationError) as info:
        result.raise_for_errors()
    err = info.value
    assert (err.file, err.row, err.column) == ("clinic.csv", 3, "score")
    text = str(err)
    assert "2 invalid rows" in text
    assert "clinic.csv, row 3, column 'score': score is not a number" in text
    assert "clinic.csv, row 4, column 'score'" in text and "PHQ-9" in text


def test_raise_for_errors_is_silent_with_warnings_only():
    result = validate(text_frame([GOOD, GOOD]))
    assert len(result.warnings) == 1
    assert result.ok
    result.raise_for_errors()


def test_raise_for_errors_caps_the_list():
    rows = [(f"P{i}", "pcl5", "999", "1", "2") for i in range(25)]
    with pytest.raises(DataValidationError) as info:
        validate(text_frame(rows)).raise_for_errors()
    text = str(info.value)
    assert "25 invalid rows" in text
    assert "row 21," in text and "row 22," not in text  # rows 2..21 listed = 20 messages
    assert "... and 5 more errors" in text


def test_summary_line_counts():
    rows = [
        GOOD,  # row 2 loaded
        ("P1", "pcl5", "abc", "1", "3"),  # row 3 excluded
        ("P1", "pcl5", "30", "x", "y"),  # row 4 excluded (two errors, one row)
        GOOD,  # row 5 identical duplicate: warning, dropped
        ("P2", "gad7", "3", "0", "0"),  # row 6 loaded
    ]
    result = validate(text_frame(rows))
    assert result.n_rows_read == 5
    assert len(result.errors) == 3 and len(result.warnings) == 1
    assert len(result.data) == 2
    assert result.summary_line() == "5 rows read, 2 loaded, 2 excluded, 1 warnings"
    assert list(result.issues.columns) == ["severity", "row", "column", "value", "message"]
    assert result.issues["row"].is_monotonic_increasing
