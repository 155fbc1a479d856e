"""ingest end to end on the example exports, and its small contracts.

Round trip: the wide workbook and the messy long CSV in ``sample_data/exports/``, read with
their profiles, give for PCL-5, PHQ-9 and GAD-7 the same patient outcomes as the canonical
demo file. The messy export's report lists exactly its planted bad rows; their row numbers
are found here by scanning the file with the standard library's csv module, not with the
reader under test.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from analytics.errors import DataValidationError
from analytics.ingest import Ingested, ingest, ingest_table, is_canonical, load_profile
from analytics.io import load_canonical
from analytics.outcomes import derive_patient_outcomes
from analytics.profiles import ImportProfile
from analytics.readers import read_table

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"
WIDE_XLSX = SAMPLE / "exports" / "wide_export.xlsx"
MESSY_CSV = SAMPLE / "exports" / "messy_long_export.csv"
OUTCOME_COLUMNS = ["baseline_score", "endpoint_score", "responder", "remitter", "analysed"]
INSTRUMENTS = ["pcl5", "phq9", "gad7"]


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    result = load_canonical(SAMPLE / "demo_cohort.csv")
    assert result.ok
    return result.data


@pytest.fixture(scope="module")
def wide() -> Ingested:
    return ingest(WIDE_XLSX, profile=load_profile(SAMPLE / "profiles" / "wide_export.toml"))


@pytest.fixture(scope="module")
def messy() -> Ingested:
    profile = load_profile(SAMPLE / "profiles" / "messy_long_export.toml")
    return ingest(MESSY_CSV, profile=profile)


def outcomes(data: pd.DataFrame, instrument: str) -> pd.DataFrame:
    table = derive_patient_outcomes(data, instrument).table
    out = table.set_index("patient_id")[OUTCOME_COLUMNS].sort_index()
    out.index = out.index.astype(str)
    return out.astype({"analysed": bool, "responder": "boolean", "remitter": "boolean"})


@pytest.mark.parametrize("instrument", INSTRUMENTS)
@pytest.mark.parametrize("export", ["wide", "messy"])
def test_round_trip_gives_the_demo_outcomes(export, instrument, demo, request) -> None:
    ingested: Ingested = request.getfixturevalue(export)
    expected = outcomes(demo, instrument)
    got = outcomes(ingested.data, instrument)
    assert len(expected) == 720
    assert expected["analysed"].sum() > 600  # a meaningful comparison, not all-missing
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_wide_export_reads_its_sheet_title_and_merged_header(wide: Ingested) -> None:
    assert wide.table.sheet == "Outcomes"
    assert wide.table.header_row == 5
    assert wide.notices == (
        "read sheet 'Outcomes' of 2",
        "a two-row header was combined (rows 4 and 5)",
        "3 line(s) above the header were skipped",
    )
    assert wide.result.issues.empty
    assert wide.table.frame["source_row"].iloc[0] == 6
    assert set(wide.data["instrument"]) == set(INSTRUMENTS)
    assert wide.data["patient_id"].nunique() == 720


def test_wide_export_values_match_the_demo_file(wide: Ingested, demo: pd.DataFrame) -> None:
    first = wide.data[
        (wide.data["patient_id"] == "DEMO-0001") & (wide.data["instrument"] == "pcl5")
    ]
    baseline = first[first["infusions_received"] == 0]
    assert baseline["score"].tolist() == [54.0]  # demo_cohort.csv line 2
    assert baseline["day"].tolist() == [0.0]
    # a patient-level covariate survives the trip: the site of every patient
    sites = demo.drop_duplicates("patient_id").set_index("patient_id")["site"].astype(str)
    got = wide.data.drop_duplicates("patient_id").set_index("patient_id")["Site"].astype(str)
    pd.testing.assert_series_equal(got.sort_index(), sites.sort_index(), check_names=False)


def planted() -> dict[str, tuple[int, list[str]]]:
    """Row numbers (header = row 1) and cells of the bad rows, found by a plain csv scan."""
    with MESSY_CSV.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    header, body = rows[0], rows[1:]
    col = {name: i for i, name in enumerate(header)}
    found: dict[str, list[tuple[int, list[str]]]] = {
        "text": [],
        "range": [],
        "no_id": [],
        "na": [],
        "repeat": [],
    }
    seen: dict[tuple[str, ...], int] = {}
    for number, cells in enumerate(body, start=2):
        total, measure = cells[col["Total"]], cells[col["Measure"]]
        if total == "abc":
            found["text"].append((number, cells))
        if measure == "PHQ9" and total.isdigit() and int(total) > 27:
            found["range"].append((number, cells))
        if cells[col["Subject ID"]] == "":
            found["no_id"].append((number, cells))
        if total == "N/A":
            found["na"].append((number, cells))
        key = tuple(cells)
        if key in seen:
            found["repeat"].append((seen[key], cells))
            found["repeat"].append((number, cells))
        seen.setdefault(key, number)
    for kind, hits in found.items():
        assert len(hits) == (2 if kind == "repeat" else 1), (kind, hits)
    return {k: v[-1] for k, v in found.items()} | {"first": found["repeat"][0]}


def test_messy_export_reports_exactly_its_planted_rows(messy: Ingested) -> None:
    rows = planted()
    issues = messy.result.issues
    got = sorted(
        (r.severity, int(r.row), r.column, r.message.split(":")[0].split(" (")[0])
        for r in issues.itertuples()
    )
    assert got == sorted(
        [
            ("error", rows["text"][0], "Total", "score is not a number"),
            ("error", rows["range"][0], "Total", "score out of range"),
            ("error", rows["no_id"][0], "Subject ID", "patient id is missing"),
            ("error", rows["na"][0], "Total", "score is missing"),
            (
                "warning",
                rows["repeat"][0],
                "Total",
                "the same score repeated for one time point",
            ),
        ]
    )
    warning = issues[issues["severity"] == "warning"].iloc[0]
    assert warning["message"].endswith(f"(first seen on row {rows['first'][0]})")
    by_row = issues.set_index("row")
    assert by_row.loc[rows["text"][0], "value"] == "abc"
    assert by_row.loc[rows["range"][0], "value"] == "99"
    assert "PHQ-9 scores range 0-27" in by_row.loc[rows["range"][0], "message"]


def test_messy_export_counts(messy: Ingested) -> None:
    with MESSY_CSV.open(encoding="utf-8-sig") as fh:
        n_data_lines = sum(1 for line in fh if line.strip()) - 1
    result = messy.result
    assert result.n_rows_read == n_data_lines
    assert len(result.data) == n_data_lines - 4 - 1  # 4 excluded, 1 repeat kept once
    assert result.summary_line() == (
        f"{n_data_lines:,} rows read, {n_data_lines - 5:,} loaded, 4 excluded, 1 warnings"
    )
    # excluded rows are not in the data; the decimal commas of the dose were read
    bad = set(result.errors["row"])
    assert not bad & set(result.data["source_row"])
    assert messy.table.decimal == ","
    assert result.data["Dose (mg/kg)"].dropna().between(0.1, 2).all()
    assert "Visit date" not in result.data.columns and "First infusion" not in result.data.columns


def test_messy_export_dates_become_days_like_the_demo(messy: Ingested, demo) -> None:
    """Visit dates less the first-infusion date give back the demo's (whole) days."""
    cols = ["patient_id", "instrument", "score", "infusions_received", "day"]

    def rows(frame: pd.DataFrame) -> list[tuple]:
        f = frame.loc[frame["instrument"].isin(["pcl5", "cadss"]), cols]
        return sorted(
            (str(p), str(i), float(s), int(n), float(d)) for p, i, s, n, d in f.to_numpy()
        )

    assert rows(messy.data) == rows(demo)


def test_date_columns_are_screened_as_handled(messy: Ingested) -> None:
    kinds = {f.column: f.kind for f in messy.identifier_findings}
    assert kinds.get("Visit date") == "full_date"
    assert kinds.get("First infusion") == "full_date"


# --- small contracts ---------------------------------------------------------------------------

CANONICAL = b"patient_id,instrument,score,infusions_received,day,site\nP1,pcl5,50,0,-1,A\n"


def test_canonical_file_needs_no_profile() -> None:
    got = ingest(CANONICAL, name="canon.csv")
    assert got.profile is None
    assert got.data[["patient_id", "instrument", "score"]].values.tolist() == [["P1", "pcl5", 50.0]]
    assert got.data["site"].tolist() == ["A"]
    assert is_canonical(read_table(CANONICAL, name="canon.csv"))


def test_other_shapes_need_a_profile() -> None:
    with pytest.raises(DataValidationError, match="not in the canonical long form") as info:
        ingest(b"Patient,PCL5 Baseline\nP1,50\n", name="wide.csv")
    assert info.value.file == "wide.csv"


def test_ingest_table_equals_ingest() -> None:
    raw = b"id,score,day\nP1,5,0\nP1,4,7\n"
    profile = ImportProfile(
        name="p", format="long", patient_id="id", instrument="phq9", score_column="score"
    ).with_(day_column="day")
    a = ingest(raw, name="x.csv", profile=profile)
    b = ingest_table(read_table(raw, name="x.csv"), profile)
    pd.testing.assert_frame_equal(a.data, b.data)
    assert a.data["day"].tolist() == [0.0, 7.0]


def test_profile_sheet_is_used_and_an_explicit_sheet_wins(tmp_path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Readme"
    wb.active["A1"] = "notes"
    for title, score in (("Jan", 10), ("Feb", 20)):
        ws = wb.create_sheet(title)
        ws.append(["id", "PHQ9 baseline"])
        ws.append(["P1", score])
    path = tmp_path / "months.xlsx"
    wb.save(path)
    profile = ImportProfile(
        name="p",
        format="wide",
        patient_id="id",
        scores=(_score("PHQ9 baseline"),),
        sheet="Jan",
    )
    assert ingest(path, profile=profile).data["score"].tolist() == [10.0]
    assert ingest(path, profile=profile, sheet="Feb").data["score"].tolist() == [20.0]
    with pytest.raises(DataValidationError, match="sheet 'Readme' has no table"):
        ingest(path, profile=profile.with_(sheet=None))


def _score(column: str):
    from analytics.profiles import ScoreColumn

    return ScoreColumn(column, "phq9", day=0.0, infusions_received=0)


def test_identifier_screen_sees_only_the_columns_that_would_be_kept() -> None:
    raw = (
        b"id,Email,Contact,PHQ9 baseline\n"
        b"P1,ann@example.org,bob@example.org,5\n"
        b"P2,cy@example.org,dee@example.org,7\n"
        b"P3,ed@example.org,flo@example.org,9\n"
    )
    profile = ImportProfile(
        name="p",
        format="wide",
        patient_id="id",
        scores=(_score("PHQ9 baseline"),),
        covariates={"Email": "categorical"},
    )
    got = ingest(raw, name="x.csv", profile=profile)
    assert [f.column for f in got.identifier_findings] == ["Email"]  # Contact is not kept
    assert "Email" in got.data.columns
    dropped = ingest(raw, name="x.csv", profile=profile.with_(identifiers_drop=("Email",)))
    assert dropped.identifier_findings == ()
    assert "Email" not in dropped.data.columns


def test_load_profile_errors(tmp_path) -> None:
    with pytest.raises(DataValidationError, match="import profile not found") as info:
        load_profile(tmp_path / "nope.toml")
    assert info.value.file == "nope.toml"
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "Café"\n'.encode("latin-1"))
    with pytest.raises(DataValidationError, match="not UTF-8"):
        load_profile(latin)
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nformat = "wide"\npatient_id = "id"\nscores = []\nextra = 1\n')
    with pytest.raises(DataValidationError, match=r"^bad.toml: unknown key\(s\) \['extra'\]"):
        load_profile(bad)


def test_progress_reports_every_step_in_order() -> None:
    """The Data page draws these: read (and its own steps), map, validate, screen."""
    import analytics.ingest as ing

    profile = load_profile(SAMPLE / "profiles" / "messy_long_export.toml")
    seen: list[tuple[str, float]] = []
    got = ingest(
        MESSY_CSV,
        profile=profile,
        progress=lambda message, fraction: seen.append((message, fraction)),
    )
    assert not got.data.empty
    messages = [m for m, _ in seen]
    steps = [ing.STEP_READ, ing.STEP_MAP, ing.STEP_VALIDATE, ing.STEP_SCREEN, ing.STEP_DONE]
    assert [m for m in messages if m in steps] == steps
    reading = messages[1 : messages.index(ing.STEP_MAP)]
    assert reading and all(m.startswith(f"{ing.STEP_READ}: ") for m in reading)
    assert "Reading the file: Parsing the file" in reading
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
