"""read_table and its helpers on small files built in code: encodings, delimiters, decimal
commas, title blocks, merged two-row headers, duplicated names, Excel cells, Parquet.

Every expectation is written by hand. Row numbers are spreadsheet numbers: the header is
row 1 (or lower down when a title block sits above it), blank lines count.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from analytics.errors import DataValidationError
from analytics.readers import (
    SOURCE_ROW,
    RawTable,
    detect_encoding,
    excel_sheets,
    read_table,
    sniff_delimiter,
)


def xlsx(*sheets: tuple[str, list[list[object]]], merges: dict[str, list[str]] | None = None):
    """Workbook bytes: (sheet name, rows) pairs; rows start at A1 (None = empty cell)."""
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for i, row in enumerate(rows, start=1):
            for j, value in enumerate(row, start=1):
                if value is not None:
                    ws.cell(i, j, value)
        for rng in (merges or {}).get(title, []):
            ws.merge_cells(rng)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def cells(table: RawTable) -> dict[str, list]:
    """Columns as lists, missing cells as None."""
    f = table.frame
    return {
        c: [None if pd.isna(v) else v for v in f[c]] if c != SOURCE_ROW else f[c].tolist()
        for c in f.columns
    }


# --- encodings ------------------------------------------------------------------------------

TEXT = "id,site,score\nP1,Zürich Straße,50\nP2,Málaga ñ,12\nP3,Besançon é,3\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16"),
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.encode("utf-16-be"), "utf-16-be"),
        ("id;name\nP1;José\nP2;Köln\n".encode("cp1252"), "cp1252"),
        (TEXT.encode("cp1252"), "cp1252"),
        ("id,note\nP1,“quoted” – 5 €\n".encode("cp1252"), "cp1252"),
        (b"id,score\nP1,50\n", "utf-8"),  # plain ASCII is UTF-8
    ],
    ids=[
        *("utf8", "utf8-bom", "utf16le-bom", "utf16be-bom", "utf16le", "utf16be"),
        *("cp1252-short", "cp1252-latin", "cp1252-smart-quotes", "ascii"),
    ],
)
def test_detect_encoding(raw: bytes, expected: str) -> None:
    assert detect_encoding(raw) == expected


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode("utf-8"),
        lambda t: codecs.BOM_UTF8 + t.encode("utf-8"),
        lambda t: codecs.BOM_UTF16_LE + t.replace("\n", "\r\n").encode("utf-16-le"),
        lambda t: t.encode("utf-16-le"),
        lambda t: t.encode("cp1252"),
    ],
    ids=["utf8", "utf8-bom", "utf16-excel", "utf16-no-bom", "cp1252"],
)
def test_every_encoding_reads_the_same_cells(encode) -> None:
    table = read_table(encode(TEXT), name="export.csv")
    assert table.columns == ["id", "site", "score"]  # no BOM left on "id"
    assert cells(table) == {
        "id": ["P1", "P2", "P3"],
        "site": ["Zürich Straße", "Málaga ñ", "Besançon é"],
        "score": ["50", "12", "3"],
        SOURCE_ROW: [2, 3, 4],
    }


# --- delimiters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "suffix", "expected"),
    [
        ("a,b,c\n1,2,3\n4,5,6\n", ".csv", ","),
        ("a;b;c\n1;2;3\n4;5;6\n", ".csv", ";"),
        ("a\tb\tc\n1\t2\t3\n", ".csv", "\t"),
        ("a|b|c\n1|2|3\n4|5|6\n", ".csv", "|"),
        ("a,b\n1,2\n", ".tsv", "\t"),  # the suffix says tab
        ('id;note;score\nP1;"a, b, c";3\nP2;"d, e";4\n', ".csv", ";"),
    ],
    ids=["comma", "semicolon", "tab", "pipe", "tsv-suffix", "commas-inside-quotes"],
)
def test_sniff_delimiter(text: str, suffix: str, expected: str) -> None:
    assert sniff_delimiter(text, suffix) == expected


def test_delimiter_inside_quotes_stays_in_the_cell() -> None:
    table = read_table(b'id,note,score\nP1,"Smith, J ""Jo""",50\nP2,"a;b|c",7\n', name="q.csv")
    assert table.delimiter == ","
    assert cells(table)["note"] == ['Smith, J "Jo"', "a;b|c"]


def test_tab_delimited_file_is_tsv_whatever_its_suffix() -> None:
    table = read_table(b"id\tscore\nP1\t50\n", name="export.txt")
    assert (table.file_format, table.delimiter) == ("tsv", "\t")
    assert cells(table)["score"] == ["50"]


# --- decimal commas -------------------------------------------------------------------------


def test_decimal_commas_convert_only_numeric_looking_cells() -> None:
    text = "id;dose;note;score\nP1;0,5;3,5 mg;12,0\nP2;1;Smith, J;4\nP3;-0,25;1,5;7\n"
    table = read_table(text.encode(), name="eu.csv")
    assert (table.delimiter, table.decimal) == (";", ",")
    assert cells(table) == {
        "id": ["P1", "P2", "P3"],
        "dose": ["0.5", "1", "-0.25"],
        "note": ["3,5 mg", "Smith, J", "1.5"],  # text stays text; a lone number converts
        "score": ["12.0", "4", "7"],
        SOURCE_ROW: [2, 3, 4],
    }


def test_decimal_commas_are_left_alone_in_a_comma_delimited_file() -> None:
    table = read_table(b'id,score\nP1,"12,5"\nP2,3.5\n', name="us.csv")
    assert table.decimal == "."
    assert cells(table)["score"] == ["12,5", "3.5"]


def test_thousands_and_decimal_together_are_not_guessed() -> None:
    table = read_table(b"id;score\nP1;1.234,5\nP2;2\n", name="eu.csv")
    assert cells(table)["score"] == ["1.234,5", "2"]


# --- missing values, blank rows, row numbers --------------------------------------------------


def test_missing_value_spellings_become_missing() -> None:
    text = (
        "id,a,b,c,d,e,f\nP1,N/A,n/a,NA,-,#N/A,\nP2,null,NULL,None,.,nan,  \nP3,0,x,na,NaN,none,ok\n"
    )
    table = read_table(text.encode(), name="na.csv")
    got = cells(table)
    assert got["a"] == [None, None, "0"]
    assert got["b"] == [None, None, "x"]
    assert got["c"] == [None, None, None]
    assert got["d"] == [None, None, None]
    assert got["e"] == [None, None, None]
    assert got["f"] == [None, None, "ok"]


def test_blank_and_trailing_empty_rows_are_skipped_but_counted() -> None:
    text = "id,score\r\nP1,1\r\n\r\n,\r\nP2,2\r\n   \r\nP3,3\r\n,\r\n,\r\n\r\n"
    table = read_table(text.encode(), name="gaps.csv")
    assert cells(table) == {
        "id": ["P1", "P2", "P3"],
        "score": ["1", "2", "3"],
        SOURCE_ROW: [2, 5, 7],
    }


def test_cells_are_trimmed_and_carry_no_carriage_return() -> None:
    table = read_table(b"id , score\r\n  P1 ,  50 \r\n", name="crlf.csv")
    assert cells(table) == {"id": ["P1"], "score": ["50"], SOURCE_ROW: [2]}


# --- header detection -----------------------------------------------------------------------


def test_title_block_above_the_header_is_skipped_with_a_notice() -> None:
    text = (
        "Ketamine clinic export\n"
        "Generated 2024-03-01 by EHR,,,\n"
        "\n"
        "id,measure,score,session\n"
        "P1,PCL-5,50,1\n"
        "\n"
        "P2,PHQ9,12,1\n"
    )
    table = read_table(text.encode(), name="titled.csv")
    assert table.header_row == 4
    assert table.columns == ["id", "measure", "score", "session"]
    assert cells(table)[SOURCE_ROW] == [5, 7]
    assert "3 line(s) above the header were skipped" in table.notices


def test_title_block_in_a_workbook() -> None:
    raw = xlsx(
        (
            "Data",
            [
                ["Outcomes report"],
                [None],
                ["Patient", "Total", "Visit"],
                ["P1", 50, 1],
                [None, None, None],
                ["P2", 12, 2],
            ],
        )
    )
    table = read_table(raw, name="titled.xlsx")
    assert table.header_row == 3
    assert cells(table) == {
        "Patient": ["P1", "P2"],
        "Total": ["50", "12"],
        "Visit": ["1", "2"],
        SOURCE_ROW: [4, 6],
    }


def test_merged_two_row_header_is_combined() -> None:
    rows = [
        ["Clinic outcomes"],
        [None, None, "PCL5", None, "PHQ9", None],
        ["Patient", "Site", "Baseline", "Session 3", "Baseline", "Session 3"],
        ["P1", "A", 50, 30, 20, 10],
        ["P2", "B", 60.5, None, 15, "abc"],
    ]
    raw = xlsx(
        ("Readme", [["notes only"]]), ("Scores", rows), merges={"Scores": ["C2:D2", "E2:F2"]}
    )
    assert excel_sheets(raw) == ["Readme", "Scores"]
    table = read_table(raw, name="merged.xlsx", sheet="Scores")
    assert table.columns == [
        "Patient",
        "Site",
        "PCL5 Baseline",
        "PCL5 Session 3",
        "PHQ9 Baseline",
        "PHQ9 Session 3",
    ]
    assert table.header_row == 3
    assert (table.sheet, table.sheets, table.file_format) == (
        "Scores",
        ("Readme", "Scores"),
        "xlsx",
    )
    assert "a two-row header was combined (rows 2 and 3)" in table.notices
    assert "read sheet 'Scores' of 2" in table.notices
    got = cells(table)
    assert got["PCL5 Baseline"] == ["50", "60.5"]
    assert got["PCL5 Session 3"] == ["30", None]
    assert got["PHQ9 Session 3"] == ["10", "abc"]
    assert got[SOURCE_ROW] == [4, 5]


def test_merged_two_row_header_in_a_csv() -> None:
    text = ",,PCL5,,PHQ9\nid,site,Baseline,Week 4,Baseline\nP1,A,50,30,12\n"
    table = read_table(text.encode(), name="merged.csv")
    assert table.columns == ["id", "site", "PCL5 Baseline", "PCL5 Week 4", "PHQ9 Baseline"]
    assert cells(table)[SOURCE_ROW] == [3]


def test_title_line_right_above_the_header_is_not_a_group_header() -> None:
    text = "Generated: 2024-04-01,,\nid,score,site\nP1,50,A\n"
    table = read_table(text.encode(), name="titled.csv")
    assert table.columns == ["id", "score", "site"]
    assert table.header_row == 2
    assert "1 line(s) above the header were skipped" in table.notices


def test_header_without_title_starts_at_row_one() -> None:
    table = read_table(b"id,score\nP1,50\n", name="plain.csv")
    assert table.header_row == 1
    assert table.notices == ()


# --- duplicated and blank column names ------------------------------------------------------


def test_duplicated_names_are_renamed_with_a_notice() -> None:
    table = read_table(b"id,score,score,note,score\nP1,1,2,x,3\n", name="dup.csv")
    assert table.columns == ["id", "score", "score (2)", "note", "score (3)"]
    assert "duplicated column name 'score' renamed to 'score (2)'" in table.notices
    assert "duplicated column name 'score' renamed to 'score (3)'" in table.notices
    assert cells(table)["score (3)"] == ["3"]


def test_renamed_duplicate_never_collides_with_an_existing_name() -> None:
    table = read_table(b"id,Total,Total,Total (2)\nP1,1,2,3\n", name="dup.csv")
    assert len(set(table.columns)) == 4
    assert table.columns[:2] == ["id", "Total"]
    assert "Total (2)" in table.columns
    got = cells(table)
    assert sorted(got[c][0] for c in table.columns[1:]) == ["1", "2", "3"]
    assert got["Total"] == ["1"]


def test_blank_header_cells_get_positional_names() -> None:
    table = read_table(b"id,,score\nP1,x,5\n", name="blank.csv")
    assert table.columns == ["id", "column 2", "score"]


# --- Excel cells ------------------------------------------------------------------------------


def test_excel_cells_as_text() -> None:
    rows = [
        ["id", "whole", "fraction", "date", "datetime", "time", "flag", "text"],
        ["P1", 50.0, 12.5, dt.datetime(2024, 3, 5), dt.datetime(2024, 3, 5, 14, 30), None, 1, "x"],
        ["P2", 7, 0.1, dt.date(2023, 12, 31), None, dt.time(10, 30), 0, " padded "],
    ]
    table = read_table(xlsx(("S", rows)), name="cells.xlsx")
    assert cells(table) == {
        "id": ["P1", "P2"],
        "whole": ["50", "7"],
        "fraction": ["12.5", "0.1"],
        "date": ["2024-03-05", "2023-12-31"],
        "datetime": ["2024-03-05T14:30:00", None],
        "time": [None, "10:30:00"],
        "flag": ["1", "0"],
        "text": ["x", "padded"],
        SOURCE_ROW: [2, 3],
    }


def test_empty_leading_columns_and_rows_keep_true_row_numbers() -> None:
    rows = [
        [None],
        [None],
        [None, "id", "score"],
        [None, "P1", 50],
        [None, None, None],
        [None, "P2", 3],
    ]
    table = read_table(xlsx(("S", rows)), name="offset.xlsx")
    assert cells(table) == {"id": ["P1", "P2"], "score": ["50", "3"], SOURCE_ROW: [4, 6]}


def test_workbook_sheet_choice() -> None:
    raw = xlsx(("First", [["a", "b"], [1, 2]]), ("Second", [["c", "d"], [3, 4]]))
    assert read_table(raw, name="two.xlsx").columns == ["a", "b"]
    assert read_table(raw, name="two.xlsx", sheet="Second").columns == ["c", "d"]
    with pytest.raises(
        DataValidationError, match=r"no sheet named 'Third' \(sheets: First, Second\)"
    ):
        read_table(raw, name="two.xlsx", sheet="Third")


def test_workbook_renamed_csv_is_read_as_a_workbook() -> None:
    raw = xlsx(("S", [["id", "score"], ["P1", 5]]))
    table = read_table(raw, name="really_a_workbook.csv")
    assert table.file_format == "xlsx"
    assert cells(table) == {"id": ["P1"], "score": ["5"], SOURCE_ROW: [2]}


# --- Parquet ----------------------------------------------------------------------------------


def parquet(frame: pd.DataFrame, **kw) -> bytes:
    out = io.BytesIO()
    frame.to_parquet(out, **kw)
    return out.getvalue()


def test_parquet_cells_as_text() -> None:
    frame = pd.DataFrame(
        {
            "id": ["P1", "P2", "P3"],
            "score": [50.0, 12.5, np.nan],
            "n": pd.array([0, 3, None], dtype="Int64"),
            "visit": pd.to_datetime(["2024-01-01", "2024-02-29", None]),
        }
    )
    table = read_table(parquet(frame), name="x.parquet")
    assert table.file_format == "parquet"
    assert cells(table) == {
        "id": ["P1", "P2", "P3"],
        "score": ["50", "12.5", None],
        "n": ["0", "3", None],
        "visit": ["2024-01-01", "2024-02-29", None],
        SOURCE_ROW: [2, 3, 4],
    }


def test_parquet_with_a_named_index_keeps_it_as_a_column() -> None:
    frame = pd.DataFrame({"patient_id": ["P1", "P2"], "score": [1.0, 2.0]}).set_index("patient_id")
    table = read_table(parquet(frame), name="indexed.parquet")
    assert cells(table)["patient_id"] == ["P1", "P2"]


def test_parquet_magic_is_recognised_whatever_the_suffix() -> None:
    frame = pd.DataFrame({"id": ["P1"], "score": [3.0]})
    assert read_table(parquet(frame), name="data.csv").file_format == "parquet"


# --- sizes and paths ---------------------------------------------------------------------------


def test_size_limit() -> None:
    raw = b"id,score\nP1,5\n"
    assert read_table(raw, name="ok.csv", max_bytes=len(raw)).columns == ["id", "score"]
    with pytest.raises(DataValidationError, match="over the upload limit") as info:
        read_table(raw, name="big.csv", max_bytes=len(raw) - 1)
    assert info.value.file == "big.csv"


def test_path_input_names_the_file(tmp_path) -> None:
    path = tmp_path / "clinic.csv"
    path.write_bytes(b"id,score\nP1,5\n")
    assert read_table(path).source == "clinic.csv"
    assert read_table(str(path)).source == "clinic.csv"
    with pytest.raises(DataValidationError, match="cannot be read") as info:
        read_table(tmp_path / "missing.csv")
    assert info.value.file == "missing.csv"


def test_bytes_without_a_name_are_called_upload() -> None:
    assert read_table(b"id,score\nP1,5\n").source == "upload"


# --- the pyarrow fast path gives exactly the cells of the exact path -----------------------

FAST_CASES = {
    "semicolons, decimal commas, BOM, NA markers": codecs.BOM_UTF8
    + b"Subject;Total;BMI;Note\nP1;12;26,1;NA\nP2; 7 ;n/a;-\nP3;5;1,5e3; x \n",
    "blank lines keep their row numbers": b"id,score\nP1,5\n\nP2,6\r\n\r\nP3,7\n\n",
    "title block and two-row header": b"Generated 2024-04-01,,\n,PCL-5,\nid,Baseline,Week 4\n"
    b"P1,50,30\n",
    "quotes, doubled quotes, a line break inside a value": b'id,note\nP1,"a, b"\n'
    b'P2,"say ""hi"""\nP3,"two\nlines"\nP4,x "y"\n',
    "duplicated names": b"id,Total,Total,Total (2)\nP1,1,2,3\n",
    "tabs": b"id\tscore\nP1\t4,5\n",
    "ragged rows": b"id,score\nP1,5,extra\nP2\n",
    "Windows-1252": "id;Site\nP1;Clinique Évry\n".encode("cp1252"),
    "UTF-16": "id,score\nP1,5\n".encode("utf-16"),
    "one column": b"id\nP1\nP2\n",
    "header only": b"id,score\n",
    "binary": b"id,score\n\x00\x01\x02\x03\x04\x05\x06" * 50,
}


def _read_both(raw: bytes, name: str, monkeypatch) -> tuple[object, object, bool]:
    import analytics.readers as readers

    fast_used = []
    real = readers._read_text_fast

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        fast_used.append(out is not None)
        return out

    def attempt():
        try:
            return read_table(raw, name=name)
        except DataValidationError as exc:
            return str(exc)

    monkeypatch.setattr(readers, "_read_text_fast", spy)
    monkeypatch.setattr(readers, "FAST_PATH_MIN_BYTES", 0)
    fast = attempt()
    monkeypatch.setattr(readers, "FAST_PATH_MIN_BYTES", 10**15)
    exact = attempt()
    return fast, exact, bool(fast_used and fast_used[0])


def _assert_same(fast: object, exact: object) -> None:
    if isinstance(fast, str) or isinstance(exact, str):
        assert fast == exact
        return
    pd.testing.assert_frame_equal(fast.frame, exact.frame)
    for attr in ("encoding", "delimiter", "decimal", "header_row", "notices", "file_format"):
        assert getattr(fast, attr) == getattr(exact, attr), attr


@pytest.mark.parametrize("label", list(FAST_CASES))
def test_fast_path_equals_exact_path(label: str, monkeypatch) -> None:
    fast, exact, _ = _read_both(FAST_CASES[label], "export.csv", monkeypatch)
    _assert_same(fast, exact)


def test_fast_path_is_taken_for_a_plain_export(monkeypatch) -> None:
    raw = FAST_CASES["semicolons, decimal commas, BOM, NA markers"]
    fast, exact, used = _read_both(raw, "export.csv", monkeypatch)
    assert used
    _assert_same(fast, exact)
    assert fast.frame["BMI"].tolist() == ["26.1", pd.NA, "1,5e3"]
    assert fast.frame["Total"].tolist() == ["12", "7", "5"]
    assert fast.frame[SOURCE_ROW].tolist() == [2, 3, 4]


def test_fast_path_blank_lines_are_counted(monkeypatch) -> None:
    fast, _, used = _read_both(
        FAST_CASES["blank lines keep their row numbers"], "b.csv", monkeypatch
    )
    assert used
    assert fast.frame[SOURCE_ROW].tolist() == [2, 4, 6]


def test_fast_path_falls_back_when_the_end_is_not_utf8(monkeypatch) -> None:
    """The encoding is judged on the first bytes; pyarrow refuses the invalid tail and the
    exact path reads the whole file as Windows-1252, as it always did."""
    import analytics.readers as readers

    monkeypatch.setattr(readers, "SAMPLE_BYTES", 64)
    raw = b"id;site\n" + b"P1;Clinic A\n" * 40 + "P2;Clinique Évry\n".encode("cp1252")
    fast, exact, used = _read_both(raw, "tail.csv", monkeypatch)
    assert not used
    _assert_same(fast, exact)
    assert fast.encoding == "cp1252"
    assert fast.frame["site"].iloc[-1] == "Clinique Évry"


def test_fast_path_equals_exact_path_over_the_bad_file_corpus(monkeypatch) -> None:
    from tests.analytics.test_bad_files import CASES, raw_bytes

    for case in CASES:
        raw = raw_bytes(case)
        if not isinstance(raw, bytes) or case.kwargs:
            continue
        fast, exact, _ = _read_both(raw, case.name, monkeypatch)
        _assert_same(fast, exact)
        monkeypatch.undo()
