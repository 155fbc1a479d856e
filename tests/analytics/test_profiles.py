"""Import profiles: TOML round trip, every check of profile_from_dict, and apply_profile on
small hand-built RawTables (wide and long, sessions, weeks and months, labels and aliases,
dates to days with and without a first-infusion date, dayfirst, recodes, dropped columns).

Expected rows are written out by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.errors import DataValidationError
from analytics.instruments import custom_instrument
from analytics.mapping import profile_from_mapping
from analytics.profiles import (
    ImportProfile,
    ScoreColumn,
    apply_profile,
    check_columns,
    parse_dates,
    parse_profile,
    profile_from_dict,
    profile_to_toml,
)
from analytics.readers import SOURCE_ROW, RawTable

PROFILES = Path(__file__).resolve().parents[2] / "sample_data" / "profiles"
UCLA = {
    "id": "ucla_ptsd_ri",
    "name": "UCLA PTSD Reaction Index",
    "short_name": "UCLA-RI",
    "min": 0,
    "max": 68,
    "higher_is_worse": True,
    "response_pct": 40,
    "remission_below": 38,
}


def table(columns: list[str], rows: list[list[str | None]], *, rows_at=None) -> RawTable:
    """A RawTable as read from a CSV: text cells, row numbers from 2 (or ``rows_at``)."""
    frame = pd.DataFrame(rows, columns=columns, dtype="string")
    frame[SOURCE_ROW] = np.array(rows_at or range(2, 2 + len(rows)), dtype="int64")
    return RawTable(frame=frame, source="clinic.csv", file_format="csv")


def records(long: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """Rows as tuples, numbers as floats, missing as None."""

    def norm(v):
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return None
        if isinstance(v, str):
            try:
                return float(v)
            except ValueError:
                return v
        return float(v) if isinstance(v, int | float | np.number) else v

    return [tuple(norm(v) for v in row) for row in long[columns].itertuples(index=False)]


# --- TOML round trip ----------------------------------------------------------------------


def wide_profile() -> ImportProfile:
    return ImportProfile(
        name="Clinic wide",
        format="wide",
        patient_id="Patient ID",
        scores=(
            ScoreColumn("PCL5 Baseline", "pcl5", day=0.0, infusions_received=0),
            ScoreColumn("PCL5 Session 3", "pcl5", session=3),
            ScoreColumn("PCL5 Inf 6", "pcl5", infusions_received=6),
            ScoreColumn("bdi.2m", "bdi2", day=60.9),
            ScoreColumn("UCLA wk4", "ucla_ptsd_ri", day=28.0),
        ),
        covariates={"Site": "categorical", "BMI": "numeric", "Sex": "categorical"},
        instruments=(custom_instrument(UCLA),),
        scores_before_infusion=True,
        recode={"Sex": {"M": "Male", "F": "Female"}},
        identifiers_drop=("Email",),
        identifiers_confirmed_safe=("Site",),
        sheet="Outcomes",
    )


def long_profile() -> ImportProfile:
    return ImportProfile(
        name="Clinic long",
        format="long",
        patient_id="Subject",
        instrument_column="Measure",
        score_column="Total",
        infusions_column="Session",
        day_column="Days",
        date_column="Visit date",
        first_infusion_date_column="First infusion",
        instrument_values={"Beck Depression Inventory": "bdi2", "UCLA RI": "ucla_ptsd_ri"},
        covariates={"Dose (mg/kg)": "numeric", "Route": "categorical"},
        instruments=(custom_instrument({**UCLA, "construct": "PTSD", "rci_points": 8}),),
        scores_before_infusion=True,
        dayfirst=True,
        recode={"Route": {"iv": "IV", "im": "IM"}},
        identifiers_drop=("Name", "Phone"),
    )


@pytest.mark.parametrize("make", [wide_profile, long_profile], ids=["wide", "long"])
def test_toml_round_trip(make) -> None:
    p = make()
    text = profile_to_toml(p)
    assert parse_profile(text) == p
    assert profile_to_toml(parse_profile(text)) == text


def test_fixed_instrument_long_profile_round_trips() -> None:
    p = ImportProfile(
        name="One scale", format="long", patient_id="id", instrument="pcl5", score_column="PCL"
    ).with_(day_column="Day")
    assert parse_profile(profile_to_toml(p)) == p


@pytest.mark.parametrize("name", ["wide_export.toml", "messy_long_export.toml"])
def test_sample_profiles_round_trip(name: str) -> None:
    p = parse_profile((PROFILES / name).read_text("utf-8"), source=name)
    assert parse_profile(profile_to_toml(p)) == p


def test_parse_reads_each_key() -> None:
    text = """
name = "Clinic"
format = "long"
patient_id = "Subject"
instrument_column = "Measure"
score_column = "Total"
infusions_column = "Session"
date_column = "Visit"
first_infusion_date_column = "Start"
dayfirst = true
scores_before_infusion = true
sheet = "Data"

[instrument_values]
"UCLA RI" = "ucla_ptsd_ri"

[covariates]
Site = "categorical"
BMI = "numeric"

[recode.Sex]
M = "Male"

[identifiers]
drop = ["Email"]
confirmed_safe = ["Site"]

[[instruments]]
id = "ucla_ptsd_ri"
name = "UCLA PTSD Reaction Index"
min = 0
max = 68
remission_below = 38
"""
    p = parse_profile(text)
    assert p.format == "long"
    assert (p.patient_id, p.instrument_column, p.score_column) == ("Subject", "Measure", "Total")
    assert (p.infusions_column, p.date_column, p.first_infusion_date_column) == (
        "Session",
        "Visit",
        "Start",
    )
    assert p.dayfirst and p.scores_before_infusion
    assert p.sheet == "Data"
    assert dict(p.instrument_values) == {"UCLA RI": "ucla_ptsd_ri"}
    assert dict(p.covariates) == {"Site": "categorical", "BMI": "numeric"}
    assert {k: dict(v) for k, v in p.recode.items()} == {"Sex": {"M": "Male"}}
    assert (p.identifiers_drop, p.identifiers_confirmed_safe) == (("Email",), ("Site",))
    (ucla,) = p.instruments
    assert (ucla.id, ucla.min, ucla.max, ucla.remission_below) == ("ucla_ptsd_ri", 0, 68, 38)
    assert ucla.response_pct == 50  # DESIGN.md §5: default 50
    assert ucla.custom
    assert "ucla_ptsd_ri" in p.registry and "pcl5" in p.registry
    named = ["Subject", "Measure", "Total", "Session", "Visit", "Start", "Site", "BMI"]
    assert p.source_columns() == named


# --- every check of profile_from_dict --------------------------------------------------------

WIDE = {
    "name": "w",
    "format": "wide",
    "patient_id": "id",
    "scores": [{"column": "PCL", "instrument": "pcl5", "day": 0}],
}
LONG = {
    "name": "l",
    "format": "long",
    "patient_id": "id",
    "instrument_column": "Measure",
    "score_column": "Total",
    "day_column": "Day",
}


def changed(base: dict, **changes) -> dict:
    out = {**base, **changes}
    return {k: v for k, v in out.items() if v is not DELETE}


DELETE = object()


def score(**spec) -> dict:
    return changed(WIDE, scores=[{"column": "PCL", "instrument": "pcl5", "day": 0, **spec}])


PROFILE_ERRORS = [
    ("unknown-key", changed(WIDE, colour="red"), "unknown key(s) ['colour']"),
    ("no-name", changed(WIDE, name=DELETE), "'name' is required"),
    ("empty-name", changed(WIDE, name=""), "'name' is required"),
    ("no-format", changed(WIDE, format=DELETE), "'format' is required"),
    ("no-patient-id", changed(LONG, patient_id=DELETE), "'patient_id' is required"),
    ("bad-format", changed(WIDE, format="tall"), "format must be 'wide' or 'long', not 'tall'"),
    ("wide-without-scores", changed(WIDE, scores=[]), "needs at least one [[scores]] entry"),
    ("score-unknown-key", score(weeks=4), "[[scores]] entry 1: unknown key(s) ['weeks']"),
    (
        "score-no-column",
        changed(WIDE, scores=[{"instrument": "pcl5", "day": 0}]),
        "needs 'column' and 'instrument'",
    ),
    (
        "score-no-instrument",
        changed(WIDE, scores=[{"column": "PCL", "day": 0}]),
        "needs 'column' and 'instrument'",
    ),
    (
        "score-no-time",
        changed(WIDE, scores=[{"column": "PCL", "instrument": "pcl5"}]),
        "[[scores]] 'PCL': give its time as day, infusions_received or session",
    ),
    ("score-unknown-instrument", score(instrument="hamd"), "unknown instrument 'hamd'"),
    ("fractional-infusions", score(infusions_received=1.5), "whole numbers >= 0, not 1.5"),
    ("negative-session", score(session=-1), "whole numbers >= 0, not -1"),
    ("text-day", score(day="two"), "[[scores]] entry 1: 'day' must be a finite number"),
    ("nan-day", score(day=float("nan")), "'day' must be a finite number"),
    ("bool-session", score(session=True), "'session' must be a finite number"),
    ("number-column", score(column=3), "'column' must be text"),
    ("long-no-score-column", changed(LONG, score_column=DELETE), "needs 'score_column'"),
    (
        "long-no-instrument",
        changed(LONG, instrument_column=DELETE),
        "needs 'instrument_column' or 'instrument'",
    ),
    ("long-no-time", changed(LONG, day_column=DELETE), "needs a time: infusions_column"),
    (
        "long-fixed-unknown-instrument",
        changed(LONG, instrument_column=DELETE, instrument="hamd"),
        "'instrument': unknown instrument 'hamd'",
    ),
    (
        "instrument-values-unknown",
        changed(LONG, instrument_values={"HAM-D": "hamd"}),
        "[instrument_values] 'HAM-D': unknown instrument 'hamd'",
    ),
    ("covariate-kind", changed(LONG, covariates={"Age": "ordinal"}), "'categorical' or 'numeric'"),
    (
        "identifiers-unknown-key",
        changed(LONG, identifiers={"hide": ["Name"]}),
        "[identifiers]: unknown key(s) ['hide']",
    ),
    (
        "identifiers-drop-text",
        changed(LONG, identifiers={"drop": "Name"}),
        "'identifiers.drop' must be a list of column names",
    ),
    ("patient-id-list", changed(LONG, patient_id=["a"]), "'patient_id' must be text"),
    ("score-column-number", changed(LONG, score_column=4), "'score_column' must be text"),
    ("sheet-number", changed(LONG, sheet=2), "'sheet' must be text"),
    ("dayfirst-text", changed(LONG, dayfirst="no"), "'dayfirst' must be true or false"),
    (
        "before-infusion-number",
        changed(LONG, scores_before_infusion=1),
        "'scores_before_infusion' must be true or false",
    ),
    ("covariates-not-table", changed(LONG, covariates=3), "'covariates' must be a table"),
    (
        "covariates-number-kind",
        changed(LONG, covariates={"Age": 1}),
        "'covariates' must be a table of text values",
    ),
    (
        "instrument-values-number",
        changed(LONG, instrument_values={"X": 3}),
        "'instrument_values' must be a table of text values",
    ),
    ("recode-flat", changed(LONG, recode={"Sex": "M"}), "'recode' must be a table per column"),
    ("scores-not-list", changed(WIDE, scores=5), "'scores' must be a list of tables"),
    ("scores-list-of-numbers", changed(WIDE, scores=[1]), "'scores' must be a list of tables"),
    (
        "instruments-table",
        changed(LONG, instruments={"id": "x"}),
        "'instruments' must be a list of tables",
    ),
    (
        "custom-unknown-key",
        changed(LONG, instruments=[{**UCLA, "colour": "red"}]),
        "custom instrument: unknown key(s) ['colour']",
    ),
    (
        "custom-missing-key",
        changed(LONG, instruments=[{"id": "x", "name": "X", "min": 0}]),
        "custom instrument: missing key(s) ['max']",
    ),
    (
        "custom-registry-id",
        changed(LONG, instruments=[{**UCLA, "id": "pcl5"}]),
        "has the id of a registry instrument",
    ),
    (
        "custom-bad-range",
        changed(LONG, instruments=[{**UCLA, "min": 10, "max": 0}]),
        "is not a range (min < max)",
    ),
    (
        "custom-text-min",
        changed(LONG, instruments=[{**UCLA, "min": "zero"}]),
        "[[instruments]]",
    ),
    (
        "custom-remission-outside",
        changed(LONG, instruments=[{**UCLA, "remission_below": 200}]),
        "remission threshold 200.0 is outside the score range",
    ),
]


@pytest.mark.parametrize(
    ("raw", "fragment"), [c[1:] for c in PROFILE_ERRORS], ids=[c[0] for c in PROFILE_ERRORS]
)
def test_profile_from_dict_errors(raw: dict, fragment: str) -> None:
    with pytest.raises(DataValidationError) as info:
        profile_from_dict(raw, source="clinic.toml")
    err = info.value
    assert err.file == "clinic.toml"
    assert str(err).startswith("clinic.toml: ")
    assert fragment in str(err), str(err)


def test_valid_bases_parse() -> None:
    assert profile_from_dict(WIDE).scores == (ScoreColumn("PCL", "pcl5", day=0.0),)
    assert profile_from_dict(LONG).day_column == "Day"


def test_invalid_toml_is_a_data_validation_error() -> None:
    with pytest.raises(DataValidationError, match=r"^my.toml: not valid TOML"):
        parse_profile("name = = 'x'", source="my.toml")


# --- applying a profile: wide --------------------------------------------------------------

WIDE_COLUMNS = ["Patient", "Site", "PCL5 Baseline", "PCL5 Session 3", "PHQ9 wk4", "PHQ9 2m"]
WIDE_ROWS = [
    ["P1", "A", "50", "30", "12", "9"],
    ["P2", "B", "61", None, "15", None],
    ["P3", "A", None, None, None, None],  # nothing assessed: no rows at all
]


def wide_mapping_profile(before: bool) -> ImportProfile:
    """The wide profile built the way the mapping screen builds it, with weeks and months."""
    mapping = pd.DataFrame(
        [
            ("Patient", "patient id", None, None, None),
            ("Site", "categorical covariate", None, None, None),
            ("PCL5 Baseline", "score (one time point)", "pcl5", "infusions", 0.0),
            ("PCL5 Session 3", "score (one time point)", "pcl5", "session", 3.0),
            ("PHQ9 wk4", "score (one time point)", "phq9", "week", 4.0),
            ("PHQ9 2m", "score (one time point)", "phq9", "month", 2.0),
        ],
        columns=["column", "role", "instrument", "time_unit", "time_value"],
    )
    return profile_from_mapping(mapping, name="wide", scores_before_infusion=before)


COLS = ["patient_id", "instrument", "score", "infusions_received", "day", SOURCE_ROW]


@pytest.mark.parametrize(("before", "session_3"), [(True, 2.0), (False, 3.0)])
def test_apply_wide(before: bool, session_3: float) -> None:
    p = wide_mapping_profile(before)
    long, labels = apply_profile(table(WIDE_COLUMNS, WIDE_ROWS), p)
    assert records(long, [*COLS, "source_column", "Site"]) == [
        ("P1", "pcl5", 50.0, 0.0, None, 2.0, "PCL5 Baseline", "A"),
        ("P1", "pcl5", 30.0, session_3, None, 2.0, "PCL5 Session 3", "A"),
        ("P1", "phq9", 12.0, None, 28.0, 2.0, "PHQ9 wk4", "A"),
        ("P1", "phq9", 9.0, None, 60.9, 2.0, "PHQ9 2m", "A"),
        ("P2", "pcl5", 61.0, 0.0, None, 3.0, "PCL5 Baseline", "B"),
        ("P2", "phq9", 15.0, None, 28.0, 3.0, "PHQ9 wk4", "B"),
    ]
    assert labels == {"patient_id": "Patient"}


def test_apply_wide_day_and_infusions_together() -> None:
    p = ImportProfile(
        name="w",
        format="wide",
        patient_id="Patient",
        scores=(
            ScoreColumn("PCL5 Baseline", "pcl5", day=-3.0, infusions_received=0),
            ScoreColumn("PCL5 Session 3", "pcl5", day=10.0, infusions_received=3),
        ),
    )
    long, _ = apply_profile(table(WIDE_COLUMNS, WIDE_ROWS[:1]), p)
    assert records(long, COLS) == [
        ("P1", "pcl5", 50.0, 0.0, -3.0, 2.0),
        ("P1", "pcl5", 30.0, 3.0, 10.0, 2.0),
    ]
    assert "Site" not in long.columns  # not a covariate: dropped


# --- applying a profile: long --------------------------------------------------------------


def test_apply_long_labels_through_aliases_and_instrument_values() -> None:
    p = ImportProfile(
        name="l",
        format="long",
        patient_id="Subject",
        instrument_column="Measure",
        score_column="Total",
        infusions_column="Session",
        instrument_values={"Beck Depression Inventory": "bdi2", "UCLA RI": "ucla_ptsd_ri"},
        instruments=(custom_instrument(UCLA),),
        scores_before_infusion=True,
    )
    labels_in = [
        "PCL-5",
        "PCL-5 Total score",
        "PHQ9",
        "phq-9",
        "GAD-7 score",
        "beck depression inventory",
        "UCLA RI",
        "PHQ-2",  # another scale: left as written, validation names it
        "Mood diary",
        None,
    ]
    rows = [[f"S{i}", label, str(i), "1"] for i, label in enumerate(labels_in)]
    long, labels = apply_profile(table(["Subject", "Measure", "Total", "Session"], rows), p)
    assert long["instrument"].tolist()[:-1] == [
        "pcl5",
        "pcl5",
        "phq9",
        "phq9",
        "gad7",
        "bdi2",
        "ucla_ptsd_ri",
        "PHQ-2",
        "Mood diary",
    ]
    assert pd.isna(long["instrument"].iloc[-1])
    assert pd.to_numeric(long["infusions_received"]).tolist() == [0] * 10  # session 1 -> 0
    assert labels == {
        "patient_id": "Subject",
        "instrument": "Measure",
        "score": "Total",
        "infusions_received": "Session",
    }


def test_apply_long_keeps_text_infusions_for_validation_to_report() -> None:
    p = ImportProfile(
        name="l",
        format="long",
        patient_id="id",
        instrument="pcl5",
        score_column="Total",
        infusions_column="Inf",
        scores_before_infusion=True,
    )
    long, _ = apply_profile(table(["id", "Total", "Inf"], [["P1", "5", "3"], ["P1", "6", "x"]]), p)
    assert long["infusions_received"].tolist() == ["2", "x"]
    assert long["instrument"].tolist() == ["pcl5", "pcl5"]


def test_apply_long_day_column_recode_numeric_covariate_and_dropped_identifier() -> None:
    p = ImportProfile(
        name="l",
        format="long",
        patient_id="id",
        instrument="phq9",
        score_column="Total",
        day_column="Day",
        covariates={"Route": "categorical", "Dose": "numeric", "Name": "categorical"},
        recode={"Route": {"iv": "IV", "im": "IM"}},
        identifiers_drop=("Name",),
    )
    rows = [["P1", "10", "-2", "iv", "0.5", "Ann Lee"], ["P1", "4", "14", "im", "N/A", "Ann Lee"]]
    long, _ = apply_profile(table(["id", "Total", "Day", "Route", "Dose", "Name"], rows), p)
    assert records(long, ["patient_id", "score", "day", "Route", "Dose"]) == [
        ("P1", 10.0, -2.0, "IV", 0.5),
        ("P1", 4.0, 14.0, "IM", None),
    ]
    assert "Name" not in long.columns


def test_missing_column_is_a_clear_error() -> None:
    p = ImportProfile(
        name="Clinic", format="long", patient_id="id", instrument="pcl5", score_column="Score"
    ).with_(day_column="Day")
    t = table(["id", "Total", "Day"], [["P1", "5", "0"]])
    with pytest.raises(DataValidationError) as info:
        check_columns(p, t)
    err = info.value
    assert (err.file, err.column) == ("clinic.csv", "Score")
    assert "expects column(s) 'Score' that the file lacks (the file has: id, Total, Day)" in str(
        err
    )
    with pytest.raises(DataValidationError, match="'Score'"):
        apply_profile(t, p)


# --- dates to days -----------------------------------------------------------------------------


def dated(**changes) -> ImportProfile:
    base = ImportProfile(
        name="d",
        format="long",
        patient_id="id",
        instrument="pcl5",
        score_column="Total",
        date_column="Visit",
    )
    return base.with_(**changes)


def test_dates_with_a_first_infusion_date_column() -> None:
    rows = [
        ["P1", "50", "2024-02-27", "2024-03-01"],
        ["P1", "40", "2024-03-08", "2024-03-01"],
        ["P2", "30", "2024-12-30", "2025-01-02"],
        ["P2", "20", "2025-02-01", "2025-01-02"],
    ]
    p = dated(first_infusion_date_column="First")
    long, labels = apply_profile(table(["id", "Total", "Visit", "First"], rows), p)
    assert long["day"].tolist() == [-3.0, 7.0, -3.0, 30.0]
    assert long["mapping_error"].isna().all()
    assert "Visit" not in long.columns and "First" not in long.columns  # dates dropped
    assert labels["day"] == "Visit"


def test_first_infusion_date_that_disagrees_is_reported() -> None:
    rows = [
        ["P1", "50", "2024-02-27", "2024-03-01"],
        ["P1", "40", "2024-03-08", "2024-03-01"],
        ["P1", "30", "2024-03-15", "2024-03-02"],
        ["P1", "20", "2024-03-22", "soon"],
    ]
    long, _ = apply_profile(
        table(["id", "Total", "Visit", "First"], rows), dated(first_infusion_date_column="First")
    )
    assert long["mapping_error"].tolist()[:2] == [pd.NA, pd.NA]
    assert long["mapping_error"].tolist()[2:] == [
        "first infusion date differs from this patient's other rows",
        "not a readable date",
    ]
    assert long["mapping_error_column"].tolist()[2:] == ["First", "First"]
    assert long["mapping_error_value"].tolist()[2:] == ["2024-03-02", "soon"]


def test_dates_anchored_on_the_latest_pre_treatment_assessment() -> None:
    rows = [
        ["P1", "55", "2024-02-20", "0"],
        ["P1", "50", "2024-02-28", "0"],
        ["P1", "40", "2024-03-06", "2"],
        ["P2", "30", "2024-05-10", "1"],  # no pre-treatment row: earliest treated visit
        ["P2", "20", "2024-05-20", "3"],
    ]
    p = dated(infusions_column="Inf")
    long, _ = apply_profile(table(["id", "Total", "Visit", "Inf"], rows), p)
    assert long["day"].tolist() == [-8.0, 0.0, 7.0, 0.0, 10.0]


def test_dates_without_infusions_count_from_the_first_assessment() -> None:
    rows = [["P1", "50", "2024-01-31"], ["P1", "40", "2024-02-29"], ["P2", "9", "2023-12-25"]]
    long, _ = apply_profile(table(["id", "Total", "Visit"], rows), dated())
    assert long["day"].tolist() == [0.0, 29.0, 0.0]


@pytest.mark.parametrize(("dayfirst", "second_day"), [(True, 2.0), (False, 60.0)])
def test_dayfirst(dayfirst: bool, second_day: float) -> None:
    # day first: 1 Feb -> 3 Feb 2024; month first: 2 Jan -> 2 Mar 2024 (29 + 29 + 2 days)
    rows = [["P1", "50", "01/02/2024"], ["P1", "40", "03/02/2024"]]
    long, _ = apply_profile(table(["id", "Total", "Visit"], rows), dated(dayfirst=dayfirst))
    assert long["day"].tolist() == [0.0, second_day]


def test_unreadable_date_is_a_mapping_error_with_the_users_column() -> None:
    rows = [["P1", "50", "2024-03-01"], ["P1", "40", "31/31/2024"], ["P1", "30", None]]
    long, _ = apply_profile(table(["id", "Total", "Visit"], rows), dated())
    assert long["mapping_error"].tolist()[1] == "not a readable date"
    assert long["mapping_error_column"].tolist()[1] == "Visit"
    assert long["mapping_error_value"].tolist()[1] == "31/31/2024"
    assert pd.isna(long["mapping_error"].tolist()[2])  # a blank date is no date, not an error
    assert pd.isna(long["day"].iloc[2])


@pytest.mark.parametrize(
    ("text", "dayfirst", "expected"),
    [
        ("2024-03-05", False, "2024-03-05"),
        ("2024-03-05T10:30:00", False, "2024-03-05 10:30"),
        ("2024/03/05", False, "2024-03-05"),
        ("05/03/2024", True, "2024-03-05"),
        ("05/03/2024", False, "2024-05-03"),
        ("13/03/2024", False, "2024-03-13"),  # no 13th month: read day first
        ("05.03.2024", False, "2024-03-05"),
        ("5 Mar 2024", False, "2024-03-05"),
        ("5 March 2024", True, "2024-03-05"),
        ("Mar 5, 2024", False, "2024-03-05"),
        ("05-Mar-2024", False, "2024-03-05"),
        ("3/5/24", False, "2024-03-05"),
        ("31/02/2024", True, None),
        ("yesterday", False, None),
        (None, False, None),
    ],
)
def test_parse_dates(text: str | None, dayfirst: bool, expected: str | None) -> None:
    got = parse_dates(pd.Series([text], dtype="string"), dayfirst=dayfirst).iloc[0]
    if expected is None:
        assert pd.isna(got)
    else:
        assert got == pd.Timestamp(expected)


def test_parse_dates_mixed_in_one_column() -> None:
    s = pd.Series(["2024-03-01", "05/03/2024", "5 Mar 2024", "6 March 2024", "junk"])
    got = parse_dates(s, dayfirst=True)
    assert got.iloc[:4].tolist() == [
        pd.Timestamp("2024-03-01"),
        pd.Timestamp("2024-03-05"),
        pd.Timestamp("2024-03-05"),
        pd.Timestamp("2024-03-06"),
    ]
    assert pd.isna(got.iloc[4])


# --- per-distinct conversions equal the row-by-row ones ---------------------------------------


def test_mode_by_patient_equals_series_mode_per_patient() -> None:
    from analytics.profiles import _mode_by_patient

    rng = np.random.default_rng(7)
    n = 400
    pid = pd.Series(rng.choice(["P1", "P2", "P3", "P4", None], n), dtype="string")
    days = pd.Series(pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 4, n), "D"))
    days[rng.random(n) < 0.2] = pd.NaT
    days[pid == "P4"] = pd.NaT  # a patient without dates

    def mode_or_nat(x: pd.Series) -> pd.Timestamp:
        modes = x.mode()
        return modes.iloc[0] if len(modes) else pd.NaT

    expected = days.groupby(pid).transform(mode_or_nat)
    got = _mode_by_patient(days, pid)
    pd.testing.assert_series_equal(got, expected.astype("datetime64[ns]"), check_names=False)


@pytest.mark.parametrize("dtype", ["string", "object"])
def test_per_distinct_keeps_values_and_dtype(dtype: str) -> None:
    from analytics.profiles import _per_distinct

    values = pd.Series(["1", "2", None, "2", "x", "3.5", None, "1"] * 3, dtype=dtype)
    for fn in (
        lambda v: pd.to_numeric(v, errors="coerce"),
        lambda v: parse_dates(v),
        lambda v: v.astype("string").str.upper(),
    ):
        pd.testing.assert_series_equal(_per_distinct(values, fn), fn(values))
    whole = pd.Series(["1", "2", "2"], dtype=dtype)  # no missing value: int64 stays int64
    pd.testing.assert_series_equal(
        _per_distinct(whole, lambda v: pd.to_numeric(v)), pd.to_numeric(whole)
    )
