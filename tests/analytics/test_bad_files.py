"""A corpus of bad and awkward uploads, each with the message or report it must produce.

Every case goes through ``analytics.ingest.ingest`` (and ``read_table`` where the failure is
at reading). Either it raises a ``DataValidationError`` whose message names the file (and the
row and column where that applies), or it succeeds and its report names the right source
row (spreadsheet numbering: header = row 1, title lines and blank lines counted), the
user's column name and the reason. Nothing else may escape.

The files are built in code (small, deterministic); expectations are written by hand.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from analytics.errors import DataValidationError
from analytics.ingest import Ingested, ingest
from analytics.profiles import ImportProfile, parse_profile
from analytics.readers import read_table

# --- the files ----------------------------------------------------------------------------

HEADER = "Subject,Measure,Total,Infusions,Site\n"
ROWS = "P1,PCL-5,50,0,A\nP1,PCL-5,30,3,A\nP2,PHQ9,12,0,B\nP2,PHQ9,6,6,B\n"
GOOD = HEADER + ROWS  # 4 valid assessments, rows 2-5

LONG_TOML = """
name = "Clinic long"
format = "long"
patient_id = "Subject"
instrument_column = "Measure"
score_column = "Total"
infusions_column = "Infusions"
[covariates]
Site = "categorical"
"""
LONG = parse_profile(LONG_TOML)
WIDE = parse_profile(
    """
name = "Clinic wide"
format = "wide"
patient_id = "Patient ID"
scores_before_infusion = true
scores = [
  { column = "PCL5 Baseline", instrument = "pcl5", infusions_received = 0 },
  { column = "PCL5 Session 3", instrument = "pcl5", session = 3 },
]
"""
)
WIDE_SHEET = parse_profile(
    """
name = "Clinic workbook"
format = "wide"
patient_id = "Patient ID"
sheet = "Scores"
scores_before_infusion = true
scores = [
  { column = "PCL5 Baseline", instrument = "pcl5", infusions_received = 0 },
  { column = "PCL5 Session 3", instrument = "pcl5", session = 3 },
  { column = "PHQ9 Baseline", instrument = "phq9", infusions_received = 0 },
  { column = "PHQ9 Session 3", instrument = "phq9", session = 3 },
]
[covariates]
Site = "categorical"
"""
)
DATED = parse_profile(
    """
name = "Clinic dates"
format = "long"
patient_id = "Subject"
instrument = "pcl5"
score_column = "Total"
date_column = "Visit date"
dayfirst = true
"""
)


def workbook(*sheets: tuple[str, list[list[object]]], merges: dict | None = None) -> bytes:
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


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def parquet(frame: pd.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.to_parquet(out)
    return out.getvalue()


def good_workbook() -> bytes:
    rows = [["Subject", "Measure", "Total", "Infusions", "Site"]]
    rows += [line.split(",") for line in ROWS.splitlines()]
    rows = [[int(c) if c.isdigit() else c for c in r] for r in rows]
    return workbook(("Export", rows))


def sheets_and_merged_header() -> bytes:
    scores = [
        ["Ketamine clinic outcomes (synthetic)"],
        [None],
        [None, None, "PCL5", None, "PHQ9", None],
        ["Patient ID", "Site", "Baseline", "Session 3", "Baseline", "Session 3"],
        ["P1", "A", 50, 30, 20, 10],
        ["P2", "B", 99, 40.0, 15, "abc"],
        [None],
        ["P3", "A", 45, None, 12, 8],
        [None, "A", 40, 20, 9, 5],
    ]
    readme = [["About this workbook"], ["Scores are on the next sheet"]]
    return workbook(("Readme", readme), ("Scores", scores), merges={"Scores": ["C3:D3", "E3:F3"]})


def excel_time_cells() -> bytes:
    rows = [
        ["Patient ID", "PCL5 Baseline", "PCL5 Session 3", "Time"],
        ["P1", 50, 30, dt.time(10, 30)],
        ["P2", 41.0, 20.5, dt.time(16, 5)],
    ]
    return workbook(("S", rows))


def parquet_with_dates() -> bytes:
    frame = pd.DataFrame(
        {
            "Subject": ["P1", "P1", "P2"],
            "Measure": ["PCL-5", "PCL-5", "PHQ9"],
            "Total": [50.0, 30.5, np.nan],
            "Infusions": pd.array([0, 3, 0], dtype="Int64"),
            "Visit date": pd.to_datetime(["2024-01-01", "2024-01-20", "2024-02-01"]),
        }
    )
    return parquet(frame)


NAMES = ["Ann Lee", "Bob Stone", "Cara Diaz"]
EMAILS = ["ann.lee@example.org", "bob@example.com", "cara.d@example.net"]
MRNS = ["4412093", "5520187", "6634210"]


def identifiers_file() -> bytes:
    lines = ["Subject,Measure,Total,Infusions,Full name,Email,MRN"]
    for i, (n, e, m) in enumerate(zip(NAMES, EMAILS, MRNS, strict=True), start=1):
        lines.append(f"P{i},PCL-5,{40 + i},0,{n},{e},{m}")
    return ("\n".join(lines) + "\n").encode()


# --- the cases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One upload. ``fails``: a fragment of the DataValidationError message; otherwise
    ``issues`` lists every distinct (severity, row, column, reason fragment) of the report and
    ``loaded`` the number of clean rows."""

    id: str
    data: bytes | Callable[[], bytes] | Path
    name: str | None
    profile: ImportProfile | str | None = LONG  # str: TOML text, parsed as "clinic.toml"
    fails: str | None = None
    file: str | None = None  # the file the error names (default: name)
    row: int | None = None
    column: str | None = None
    at_reading: bool = False
    issues: tuple[tuple[str, int, str, str], ...] = ()
    loaded: int | None = None
    kwargs: dict = field(default_factory=dict)
    check: Callable[[Ingested], None] | None = None


def _enc(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def check_notice(fragment: str) -> Callable[[Ingested], None]:
    def check(got: Ingested) -> None:
        assert any(fragment in n for n in got.notices), got.notices

    return check


def check_sites(*sites: str) -> Callable[[Ingested], None]:
    def check(got: Ingested) -> None:
        assert got.data["Site"].tolist() == list(sites)

    return check


def check_days(*days: float) -> Callable[[Ingested], None]:
    def check(got: Ingested) -> None:
        assert got.data["day"].tolist() == list(days)
        assert "Visit date" not in got.data.columns

    return check


def check_format(fmt: str, encoding: str | None = None, delimiter: str | None = None):
    def check(got: Ingested) -> None:
        assert got.table.file_format == fmt
        assert got.table.encoding == encoding
        assert got.table.delimiter == delimiter
        assert got.table.columns[0] == "Subject"  # no BOM, no stray bytes

    return check


def check_identifiers(got: Ingested) -> None:
    kinds = {f.column: f.kind for f in got.identifier_findings}
    assert kinds == {"Full name": "name", "Email": "email", "MRN": "mrn"}
    for f in got.identifier_findings:
        assert f.masked_examples and all("*" in x for x in f.masked_examples)
        shown = " ".join([f.reason, f.suggestion, *f.masked_examples])
        for raw in [*NAMES, *EMAILS, *MRNS]:
            assert raw not in shown
        for part in [p for v in NAMES for p in v.split()] + [e.split("@")[0] for e in EMAILS]:
            assert part not in shown


def check_long_text(got: Ingested) -> None:
    assert got.data["Notes"].str.len().tolist() == [100_000, 5]


def check_no_carriage_returns(got: Ingested) -> None:
    for col in got.table.columns:
        assert not got.table.frame[col].astype("string").str.contains("\r").any()


def check_time_cells(got: Ingested) -> None:
    assert got.data["Time"].tolist() == ["10:30:00", "10:30:00", "16:05:00", "16:05:00"]
    assert got.data["score"].tolist() == [50.0, 30.0, 41.0, 20.5]


def check_workbook_columns(got: Ingested) -> None:
    assert got.table.sheet == "Scores"
    assert got.table.columns == [
        "Patient ID",
        "Site",
        "PCL5 Baseline",
        "PCL5 Session 3",
        "PHQ9 Baseline",
        "PHQ9 Session 3",
    ]
    assert "a two-row header was combined (rows 3 and 4)" in got.notices


def check_scores(*scores: float) -> Callable[[Ingested], None]:
    def check(got: Ingested) -> None:
        assert got.data["score"].tolist() == list(scores)

    return check


def check_ragged(got: Ingested) -> None:
    assert got.table.columns == [*HEADER.strip().split(","), "column 6", "column 7"]


TOO_WIDE = "Subject,Measure,Total,Infusions,Site\nP1,PCL-5,50,0,A,extra,more\nP2,PHQ9,12,,B\n"
WITH_DAYS = LONG.with_(day_column="Days")

CASES: list[Case] = [
    # --- not a table at all
    Case("empty-0-bytes", b"", "export.csv", fails="the file is empty", at_reading=True),
    Case(
        "whitespace-only", b" \r\n\t \n  ", "export.csv", fails="the file is empty", at_reading=True
    ),
    Case(
        "header-only",
        _enc(HEADER),
        "export.csv",
        fails="the file has a header but no data rows",
        at_reading=True,
    ),
    Case(
        "header-and-empty-rows",
        _enc(HEADER + ",,,,\n,,,,\r\n\n"),
        "export.csv",
        fails="the file has a header but no data rows",
        at_reading=True,
    ),
    Case(
        "binary-garbage",
        bytes(range(256)) * 16,
        "export.csv",
        fails="this is a binary file",
        at_reading=True,
    ),
    Case(
        "random-bytes",
        lambda: random.Random(7).randbytes(4096),
        "export.csv",
        fails="this is a binary file",
        at_reading=True,
    ),
    Case(
        "png-renamed-csv",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200),
        "chart.csv",
        fails="this is a binary file",
        at_reading=True,
    ),
    Case(
        "zip-renamed-csv",
        lambda: zipped({"export.csv": _enc(GOOD)}),
        "export.csv",
        fails="this is a zip archive, not a table: unzip it",
        at_reading=True,
    ),
    Case(
        "xls-renamed-xlsx",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1000),
        "old.xlsx",
        fails="this is not a valid .xlsx workbook (is it an old .xls? save as .xlsx)",
        at_reading=True,
    ),
    Case(
        "csv-renamed-xlsx",
        _enc(GOOD),
        "export.xlsx",
        fails="this is not a valid .xlsx workbook",
        at_reading=True,
    ),
    Case(
        "corrupt-xlsx",
        lambda: zipped({"[Content_Types].xml": b"<bad", "xl/workbook.xml": b"<also bad"}),
        "broken.xlsx",
        fails="not a readable .xlsx workbook",
        at_reading=True,
    ),
    Case(
        "garbage-parquet",
        b"PAR1" + bytes(100) + b"PAR1",
        "data.parquet",
        fails="not a readable Parquet file",
        at_reading=True,
    ),
    Case(
        "unknown-suffix",
        _enc(GOOD),
        "export.json",
        fails="unsupported file type '.json'",
        at_reading=True,
    ),
    Case(
        "one-column",
        b"Subject\nP1\nP2\n",
        "ids.csv",
        fails="only one column was found: is the file delimited by commas, semicolons or tabs?",
        at_reading=True,
    ),
    Case(
        "over-size-limit",
        _enc(GOOD),
        "export.csv",
        kwargs={"max_bytes": 64},
        fails="over the upload limit",
        at_reading=True,
    ),
    Case(
        "missing-path",
        Path("/nonexistent/folder/export.csv"),
        None,
        file="export.csv",
        fails="the file cannot be read",
        at_reading=True,
    ),
    # --- readable in spite of its shape
    Case(
        "xlsx-renamed-csv",
        good_workbook,
        "export.csv",
        loaded=4,
        check=check_format("xlsx"),
    ),
    Case(
        "pipe-delimited-csv",
        _enc(GOOD.replace(",", "|")),
        "export.csv",
        loaded=4,
        check=check_format("csv", "utf-8", "|"),
    ),
    Case(
        "tab-delimited-named-csv",
        _enc(GOOD.replace(",", "\t")),
        "export.csv",
        loaded=4,
        check=check_format("tsv", "utf-8", "\t"),
    ),
    Case(
        "cp1252-accents",
        _enc(
            HEADER + "P1,PCL-5,50,0,Zürich\nP1,PCL-5,30,3,Zürich\nP2,PHQ9,12,0,Genève\n", "cp1252"
        ),
        "export.csv",
        loaded=3,
        check=check_sites("Zürich", "Zürich", "Genève"),
    ),
    Case(
        "utf8-bom",
        codecs.BOM_UTF8 + _enc(GOOD),
        "export.csv",
        loaded=4,
        check=check_format("csv", "utf-8-sig", ","),
    ),
    Case(
        "utf16-le-bom-excel-unicode-text",
        codecs.BOM_UTF16_LE + _enc(GOOD.replace(",", "\t").replace("\n", "\r\n"), "utf-16-le"),
        "export.txt",
        loaded=4,
        check=check_format("tsv", "utf-16", "\t"),
    ),
    Case(
        "utf16-le-no-bom",
        _enc(GOOD, "utf-16-le"),
        "export.csv",
        loaded=4,
        check=check_format("csv", "utf-16-le", ","),
    ),
    Case(
        "utf16-be-bom-accents",
        codecs.BOM_UTF16_BE + _enc(HEADER + "P1,PCL-5,50,0,Málaga\n", "utf-16-be"),
        "export.csv",
        loaded=1,
        check=check_sites("Málaga"),
    ),
    Case(
        "semicolons-decimal-commas",
        _enc(
            "Subject;Measure;Total;Infusions;Site\n"
            "P1;PCL-5;50,5;0;Nord, Süd\nP1;PCL-5;30;3;Nord, Süd\n"
        ),
        "export.csv",
        loaded=2,
        check=lambda got: (
            check_scores(50.5, 30.0)(got),
            check_sites("Nord, Süd", "Nord, Süd")(got),
        ),
    ),
    Case(
        "decimal-comma-in-a-comma-file",
        _enc(HEADER + 'P1,PCL-5,"50,5",0,A\nP1,PCL-5,30,3,A\n'),
        "export.csv",
        issues=(("error", 2, "Total", "score is not a number"),),
        loaded=1,
    ),
    Case(
        "duplicated-headers",
        _enc("Subject,Measure,Total,Total,Infusions,Site\nP1,PCL-5,81,5,0,A\nP1,PCL-5,30,6,3,A\n"),
        "export.csv",
        issues=(("error", 2, "Total", "score out of range"),),
        loaded=1,
        check=check_notice("duplicated column name 'Total' renamed to 'Total (2)'"),
    ),
    Case(
        "duplicated-headers-colliding-with-a-renamed-one",
        _enc("Subject,Measure,Total,Total,Total (2),Infusions\nP1,PCL-5,50,1,2,0\n"),
        "export.csv",
        profile=LONG.with_(covariates={}),
        loaded=1,
        check=check_scores(50.0),
    ),
    Case(
        "xlsx-several-sheets-merged-header",
        sheets_and_merged_header,
        "clinic.xlsx",
        profile=WIDE_SHEET,
        issues=(
            ("error", 6, "PCL5 Baseline", "score out of range"),
            ("error", 6, "PHQ9 Session 3", "score is not a number"),
            ("error", 9, "Patient ID", "patient id is missing"),
        ),
        loaded=9,
        check=check_workbook_columns,
    ),
    Case(
        "xlsx-several-sheets-first-is-notes",
        sheets_and_merged_header,
        "clinic.xlsx",
        profile=WIDE_SHEET.with_(sheet=None),
        fails="sheet 'Readme' has no table",
    ),
    Case(
        "xlsx-sheet-the-profile-names-is-gone",
        sheets_and_merged_header,
        "clinic.xlsx",
        profile=WIDE_SHEET.with_(sheet="March"),
        fails="no sheet named 'March' (sheets: Readme, Scores)",
    ),
    Case(
        "xlsx-time-of-day-cells",
        excel_time_cells,
        "times.xlsx",
        profile=WIDE.with_(covariates={"Time": "categorical"}),
        loaded=4,
        check=check_time_cells,
    ),
    Case(
        "title-block-above-header",
        _enc(
            "Monthly outcomes export\nClinic: North,,,,\nGenerated: 2024-04-01\n"
            + HEADER
            + "P1,PCL-5,50,0,A\nP1,PCL-5,abc,3,A\n"
        ),
        "export.csv",
        issues=(("error", 6, "Total", "score is not a number"),),
        loaded=1,
        check=check_notice("3 line(s) above the header were skipped"),
    ),
    # --- rows with problems
    Case(
        "all-scores-missing-long",
        _enc(HEADER + "P1,PCL-5,,0,A\nP1,PCL-5,N/A,3,A\nP2,PHQ9,  ,0,B\n"),
        "export.csv",
        issues=(
            ("error", 2, "Total", "score is missing"),
            ("error", 3, "Total", "score is missing"),
            ("error", 4, "Total", "score is missing"),
        ),
        loaded=0,
    ),
    Case(
        "all-scores-missing-wide",
        b"Patient ID,PCL5 Baseline,PCL5 Session 3\nP1,,\nP2,N/A,-\n",
        "wide.csv",
        profile=WIDE,
        fails="no scores found in the mapped columns",
    ),
    Case(
        "missing-value-spellings-in-scores",
        _enc(HEADER + "P1,PCL-5,n/a,0,A\nP1,PCL-5,#N/A,3,A\nP1,PCL-5,-,6,A\nP2,PHQ9,12,0,B\n"),
        "export.csv",
        issues=tuple(("error", r, "Total", "score is missing") for r in (2, 3, 4)),
        loaded=1,
    ),
    Case(
        "ids-missing",
        _enc(HEADER + ",PCL-5,50,0,A\n  ,PCL-5,30,3,A\nP2,PHQ9,12,0,B\nN/A,PHQ9,3,3,B\n"),
        "export.csv",
        issues=tuple(("error", r, "Subject", "patient id is missing") for r in (2, 3, 5)),
        loaded=1,
    ),
    Case(
        "scores-out-of-range",
        _enc(
            HEADER
            + "P1,PCL-5,81,0,A\nP1,PCL-5,80,3,A\nP2,PHQ9,-1,0,B\nP2,GAD7,21.5,0,B\nP2,GAD-7,0,3,B\n"
        ),
        "export.csv",
        issues=(
            ("error", 2, "Total", "score out of range: PCL-5 scores range 0-80"),
            ("error", 4, "Total", "score out of range: PHQ-9 scores range 0-27"),
            ("error", 5, "Total", "score out of range: GAD-7 scores range 0-21"),
        ),
        loaded=2,
    ),
    Case(
        "huge-and-infinite-numbers",
        _enc(HEADER + "P1,PCL-5,1e400,0,A\nP1,PCL-5,inf,3,A\nP1,PCL-5,30,1e30,A\n"),
        "export.csv",
        issues=(
            ("error", 2, "Total", "score is not a number"),
            ("error", 3, "Total", "score is not a number"),
            ("error", 4, "Infusions", "infusions received is implausibly large"),
        ),
        loaded=0,
    ),
    Case(
        "text-in-wide-score-columns",
        b"Patient ID,PCL5 Baseline,PCL5 Session 3\nP1,50,abc\nP2,40,12 (partial)\nP3,45,30\n",
        "wide.csv",
        profile=WIDE,
        issues=(
            ("error", 2, "PCL5 Session 3", "score is not a number"),
            ("error", 3, "PCL5 Session 3", "score is not a number"),
        ),
        loaded=4,
    ),
    Case(
        "unknown-measure-labels",
        _enc(HEADER + "P1,PHQ-2,4,0,A\nP1,Mood diary,7,3,A\nP2,PHQ9,12,0,B\n"),
        "export.csv",
        issues=(
            ("error", 2, "Measure", "unknown instrument"),
            ("error", 3, "Measure", "unknown instrument"),
        ),
        loaded=1,
    ),
    Case(
        "dates-in-several-formats",
        b"Subject,Total,Visit date\nP1,50,2024-03-01\nP1,40,08/03/2024\nP1,30,15 Mar 2024\n"
        b'P1,20,22 March 2024\nP1,10,"Mar 29, 2024"\n',
        "visits.csv",
        profile=DATED,
        loaded=5,
        check=check_days(0.0, 7.0, 14.0, 21.0, 28.0),
    ),
    Case(
        "unparseable-dates",
        b"Subject,Total,Visit date\nP1,50,2024-03-01\nP1,40,31/02/2024\nP1,30,next week\n"
        b"P1,20,08/03/2024\n",
        "visits.csv",
        profile=DATED,
        issues=(
            ("error", 3, "Visit date", "not a readable date"),
            ("error", 4, "Visit date", "not a readable date"),
        ),
        loaded=2,
        check=check_days(0.0, 7.0),
    ),
    Case(
        "first-infusion-date-disagrees",
        b"Subject,Measure,Total,Infusions,Visit date,First infusion\n"
        b"P1,PCL-5,50,0,2024-02-28,2024-03-01\nP1,PCL-5,30,3,2024-03-10,2024-03-01\n"
        b"P1,PCL-5,25,6,2024-03-20,2024-03-02\n",
        "visits.csv",
        profile=LONG.with_(
            covariates={}, date_column="Visit date", first_infusion_date_column="First infusion"
        ),
        issues=(("error", 4, "First infusion", "first infusion date differs"),),
        loaded=2,
        check=lambda got: check_days(-2.0, 9.0)(got),
    ),
    Case(
        "conflicting-duplicates-one-patient",
        _enc(HEADER + "P1,PCL-5,50,0,A\nP1,PCL-5,44,0,A\nP1,PCL-5,30,3,A\nP1,PCL-5,30,3,A\n"),
        "export.csv",
        issues=(
            ("error", 2, "Total", "conflicting scores for the same patient, instrument and time"),
            ("error", 3, "Total", "conflicting scores for the same patient, instrument and time"),
            ("warning", 5, "Total", "the same score repeated for one time point: kept once"),
        ),
        loaded=1,
    ),
    Case(
        "infusions-negative-fractional-text",
        _enc(
            HEADER + "P1,PCL-5,50,0,A\nP1,PCL-5,45,-1,A\nP1,PCL-5,40,2.5,A\nP1,PCL-5,35,three,A\n"
            "P1,PCL-5,25,4.0,A\n"
        ),
        "export.csv",
        issues=(
            ("error", 3, "Infusions", "infusions received is negative"),
            ("error", 4, "Infusions", "infusions received is not whole"),
            ("error", 5, "Infusions", "infusions received is not a number"),
        ),
        loaded=2,
    ),
    Case(
        "positive-day-with-0-infusions",
        b"Subject,Measure,Total,Infusions,Days\nP1,PCL-5,50,0,5\nP1,PCL-5,48,0,-2\n"
        b"P1,PCL-5,30,3,10\n",
        "export.csv",
        profile=WITH_DAYS.with_(covariates={}),
        issues=(("error", 2, "Days", "0 infusions received but a positive day"),),
        loaded=2,
    ),
    Case(
        "no-time-point",
        _enc(HEADER + "P1,PCL-5,50,,A\nP1,PCL-5,30,3,A\n"),
        "export.csv",
        issues=(("error", 2, "Infusions", "no time point"),),
        loaded=1,
    ),
    Case(
        "ragged-rows",
        _enc(TOO_WIDE),
        "export.csv",
        issues=(("error", 3, "Infusions", "no time point"),),
        loaded=1,
        check=check_ragged,
    ),
    Case(
        "trailing-empty-rows",
        _enc(GOOD + ",,,,\n,,,,\n,,,,\n\n"),
        "export.csv",
        loaded=4,
    ),
    Case(
        "blank-lines-in-the-middle",
        _enc(HEADER + "P1,PCL-5,50,0,A\n\n\nP1,PCL-5,99,3,A\n,,,,\nP2,PHQ9,x,0,B\n"),
        "export.csv",
        issues=(
            ("error", 5, "Total", "score out of range"),
            ("error", 7, "Total", "score is not a number"),
        ),
        loaded=1,
    ),
    Case(
        "windows-line-endings",
        _enc((GOOD + "P3,PHQ9,28,6,C\n").replace("\n", "\r\n")),
        "export.csv",
        issues=(("error", 6, "Total", "score out of range"),),
        loaded=4,
        check=check_no_carriage_returns,
    ),
    Case(
        "very-long-text-cells",
        _enc(
            "Subject,Measure,Total,Infusions,Notes\n"
            f'P1,PCL-5,50,0,"{"word, " * 16_665}{"x" * 10}"\nP1,PCL-5,30,3,short\n'
        ),
        "export.csv",
        profile=LONG.with_(covariates={"Notes": "categorical"}),
        loaded=2,
        check=check_long_text,
    ),
    Case(
        "parquet-with-a-date-column",
        parquet_with_dates,
        "export.parquet",
        profile=LONG.with_(covariates={}, date_column="Visit date"),
        issues=(("error", 4, "Total", "score is missing"),),
        loaded=2,
        check=lambda got: (check_days(0.0, 19.0)(got), check_scores(50.0, 30.5)(got)),
    ),
    Case(
        "identifiers-present",
        identifiers_file,
        "export.csv",
        profile=LONG.with_(
            covariates={"Full name": "categorical", "Email": "categorical", "MRN": "categorical"}
        ),
        loaded=3,
        check=check_identifiers,
    ),
    # --- profiles that do not fit
    Case(
        "profile-names-a-missing-column",
        _enc(GOOD.replace("Total", "Score")),
        "export.csv",
        fails="the import profile 'Clinic long' expects column(s) 'Total' that the file lacks",
        column="Total",
    ),
    Case(
        "profile-unknown-key",
        _enc(GOOD),
        "export.csv",
        profile='colour = "red"\n' + LONG_TOML,
        file="clinic.toml",
        fails="unknown key(s) ['colour']",
    ),
    Case(
        "profile-unknown-instrument",
        _enc(GOOD),
        "export.csv",
        profile=LONG_TOML.replace(
            "[covariates]", 'instrument_values = { "PCL-5" = "pcl4" }\n[covariates]'
        ),
        file="clinic.toml",
        fails="[instrument_values] 'PCL-5': unknown instrument 'pcl4'",
    ),
    Case(
        "wide-profile-score-without-time",
        b"Patient ID,PCL5 Baseline\nP1,50\n",
        "wide.csv",
        profile='name = "w"\nformat = "wide"\npatient_id = "Patient ID"\n'
        '[[scores]]\ncolumn = "PCL5 Baseline"\ninstrument = "pcl5"\n',
        file="clinic.toml",
        fails="[[scores]] 'PCL5 Baseline': give its time as day, infusions_received or session",
    ),
    Case(
        "not-canonical-without-profile",
        b"Patient ID,PCL5 Baseline\nP1,50\n",
        "wide.csv",
        profile=None,
        fails="this file is not in the canonical long form",
    ),
]


def raw_bytes(case: Case) -> bytes | Path:
    return case.data() if callable(case.data) else case.data


def attempt(case: Case) -> tuple[Ingested | None, DataValidationError | None]:
    """Run the upload; any exception other than DataValidationError fails the test."""
    try:
        profile = case.profile
        if isinstance(profile, str):
            profile = parse_profile(profile, source="clinic.toml")
        return ingest(raw_bytes(case), name=case.name, profile=profile, **case.kwargs), None
    except DataValidationError as err:
        return None, err
    except Exception as exc:  # the point of the corpus: nothing else may escape
        pytest.fail(f"{case.id}: {type(exc).__name__} escaped: {exc}")


def assert_names_the_file(err: DataValidationError, case: Case) -> None:
    file = case.file or case.name
    assert err.file == file
    text = str(err)
    assert text.startswith((f"{file}: ", f"{file}, ")), text
    assert case.fails in text, text
    assert "Traceback" not in text
    if case.row is not None:
        assert err.row == case.row and f"row {case.row}" in text
    if case.column is not None:
        assert err.column == case.column and f"column '{case.column}'" in text


def assert_canonical(got: Ingested) -> None:
    data = got.data
    registry = got.profile.registry if got.profile else None
    assert {"patient_id", "instrument", "score", "infusions_received", "day"} <= set(data.columns)
    assert str(data["infusions_received"].dtype) == "Int64"
    assert (data["infusions_received"].dropna() >= 0).all()
    assert (data["infusions_received"].notna() | data["day"].notna()).all()
    assert data["patient_id"].notna().all()
    for iid, scores in data.groupby("instrument")["score"]:
        inst = registry[iid]
        assert scores.between(inst.min, inst.max).all()
    key = ["patient_id", "instrument", "infusions_received", "day"]
    assert not data.duplicated(key).any()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_file(case: Case) -> None:
    got, err = attempt(case)
    if case.fails is not None:
        assert err is not None, f"expected an error, got {got and got.result.summary_line()}"
        assert_names_the_file(err, case)
        if case.at_reading:
            with pytest.raises(DataValidationError) as info:
                read_table(raw_bytes(case), name=case.name, **case.kwargs)
            assert str(info.value) == str(err)
        return
    assert err is None, str(err)
    issues = got.result.issues
    reported = sorted({(r.severity, int(r.row), r.column, r.message) for r in issues.itertuples()})
    assert len(reported) == len(case.issues), issues.to_string()
    for (sev, row, col, msg), (w_sev, w_row, w_col, w_msg) in zip(
        reported, sorted(case.issues), strict=True
    ):
        assert (sev, row, col) == (w_sev, w_row, w_col), issues.to_string()
        assert w_msg in msg, msg
    assert len(got.data) == case.loaded
    assert_canonical(got)
    if got.profile is not None and got.profile.format == "long":
        assert not set(got.result.errors["row"]) & set(got.data["source_row"])
    if case.check is not None:
        case.check(got)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
