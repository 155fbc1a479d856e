"""Mapping guesses: column names to tokens, instruments and time points (the issue's
examples), guesses on small wide and long tables, dayfirst, and the editable mapping table
with its round trip to a profile and every error it can raise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.errors import DataValidationError
from analytics.instruments import custom_instrument, load_registry, with_custom
from analytics.mapping import (
    MAPPING_COLUMNS,
    ROLE_CATEGORICAL,
    ROLE_DATE,
    ROLE_DAY,
    ROLE_DROP,
    ROLE_FIRST_DATE,
    ROLE_ID,
    ROLE_INFUSIONS,
    ROLE_MEASURE,
    ROLE_NUMERIC,
    ROLE_SCORE,
    ROLE_SESSION,
    ROLE_VALUE,
    TimeGuess,
    guess_columns,
    guess_dayfirst,
    guess_profile,
    instrument_labels,
    mapping_table,
    match_instrument,
    match_time,
    profile_from_mapping,
    tokens,
    unresolved_scores,
)
from analytics.profiles import ImportProfile, ScoreColumn
from analytics.readers import SOURCE_ROW, RawTable

REGISTRY = load_registry()


def table(columns: list[str], rows: list[list[str | None]]) -> RawTable:
    frame = pd.DataFrame(rows, columns=columns, dtype="string")
    frame[SOURCE_ROW] = np.arange(2, 2 + len(rows), dtype="int64")
    return RawTable(frame=frame, source="export.csv", file_format="csv")


# --- tokens, instruments, time points --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("PCL5_Total_Baseline", ["pcl", "5", "total", "baseline"]),
        ("pcl5_inf3", ["pcl", "5", "inf", "3"]),
        ("PHQ-9 Score", ["phq", "9", "score"]),
        ("phq9_week_4", ["phq", "9", "week", "4"]),
        ("bdi.2m", ["bdi", "2", "m"]),
        ("GAD7 (Session 2)", ["gad", "7", "session", "2"]),
        ("PCL5Week4", ["pcl", "5", "week", "4"]),
        ("patientId", ["patient", "id"]),
        ("", []),
    ],
)
def test_tokens(name: str, expected: list[str]) -> None:
    assert tokens(name) == expected


BASELINE = TimeGuess(infusions_received=0, day=0.0)


@pytest.mark.parametrize(
    ("name", "instrument", "time"),
    [
        ("PCL5_Total_Baseline", "pcl5", BASELINE),
        ("pcl5_inf3", "pcl5", TimeGuess(infusions_received=3)),
        ("PHQ-9 Score", "phq9", None),
        ("phq9_week_4", "phq9", TimeGuess(day=28.0)),
        ("bdi.2m", "bdi2", TimeGuess(day=60.9)),  # BDI at 2 months, not "BDI-2" and an "m"
        ("GAD7 (Session 2)", "gad7", TimeGuess(session=2)),
        ("PCL-5", "pcl5", None),
        ("PHQ9", "phq9", None),
        ("PCL-5 Total", "pcl5", None),
        ("GAD-7 score", "gad7", None),
        ("BDI-II 3m", "bdi2", TimeGuess(day=91.3)),
        ("QIDS-SR16 wk2", "qids_sr16", TimeGuess(day=14.0)),
        ("caps5_day45", "caps5", TimeGuess(day=45.0)),
        ("IES-R after infusion 4", "ies_r", TimeGuess(infusions_received=4)),
        ("madrs_pre", "madrs", BASELINE),
        ("phq9 screening", "phq9", BASELINE),
        ("pcl5_t0", "pcl5", BASELINE),
        ("cadss_s3", "cadss", TimeGuess(session=3)),
        ("PHQ-9 (2 weeks)", "phq9", TimeGuess(day=14.0)),
        ("GAD7 month 6", "gad7", TimeGuess(day=182.6)),
        ("PCL5 visit 4", "pcl5", TimeGuess(session=4)),
        ("PCL5 d100", "pcl5", TimeGuess(day=100.0)),
        # other scales and plain covariates are not instruments of the registry
        ("PHQ2_baseline", None, None),
        ("GAD-2", None, None),
        ("PHQ-15 total", None, None),
        ("Age", None, None),
        ("Site", None, None),
    ],
)
def test_match_instrument_and_time(name: str, instrument: str | None, time) -> None:
    iid, rest = match_instrument(tokens(name), REGISTRY)
    assert iid == instrument
    assert match_time(rest) == time


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["baseline"], BASELINE),
        (["total", "bl"], BASELINE),
        (["intake"], BASELINE),
        (["inf", "12"], TimeGuess(infusions_received=12)),
        (["after", "infusion", "6"], TimeGuess(infusions_received=6)),
        (["dose", "2"], TimeGuess(infusions_received=2)),
        (["session", "1"], TimeGuess(session=1)),
        (["s", "5"], TimeGuess(session=5)),
        (["wk", "12"], TimeGuess(day=84.0)),
        (["4", "weeks"], TimeGuess(day=28.0)),
        (["mo", "1"], TimeGuess(day=30.4)),
        (["12", "months"], TimeGuess(day=365.2)),
        (["day", "7"], TimeGuess(day=7.0)),
        (["score"], None),
        ([], None),
        (["follow", "up"], None),
    ],
)
def test_match_time(words: list[str], expected) -> None:
    assert match_time(words) == expected


def test_time_guess_describe() -> None:
    assert TimeGuess(session=2).describe() == "session 2"
    assert TimeGuess(infusions_received=3).describe() == "after 3 infusions"
    assert TimeGuess(day=60.9).describe() == "day 60.9"
    assert TimeGuess().describe() == "unknown"


def test_custom_instrument_matches_by_its_id_and_short_name() -> None:
    spec = {"id": "ucla_ri", "name": "UCLA RI", "short_name": "UCLA", "min": 0, "max": 68}
    registry = with_custom([custom_instrument(spec)])
    assert match_instrument(tokens("UCLA_week_2"), registry) == ("ucla_ri", ["week", "2"])


# --- guesses on small tables --------------------------------------------------------------------

WIDE_COLUMNS = [
    "Patient ID",
    "Site",
    "Age",
    "PCL5_Total_Baseline",
    "pcl5_inf3",
    "phq9_week_4",
    "GAD7 (Session 2)",
    "PHQ-9 Score",
    "Notes",
]
WIDE_ROWS = [
    ["P001", "A", "34", "50", "30", "12", "8", "11", "fine"],
    ["P002", "B", "45", "60", None, "10", "9", "7", "call back"],
    ["P003", "A", "51", "55", "40", None, "7", "9", None],
]


def test_guess_columns_wide() -> None:
    fmt, guesses = guess_columns(table(WIDE_COLUMNS, WIDE_ROWS))
    assert fmt == "wide"
    got = {g.column: (g.role, g.instrument, g.time, g.kind) for g in guesses}
    assert got == {
        "Patient ID": ("id", None, None, None),
        "Site": ("covariate", None, None, "categorical"),
        "Age": ("covariate", None, None, "numeric"),
        "PCL5_Total_Baseline": ("score", "pcl5", BASELINE, None),
        "pcl5_inf3": ("score", "pcl5", TimeGuess(infusions_received=3), None),
        "phq9_week_4": ("score", "phq9", TimeGuess(day=28.0), None),
        "GAD7 (Session 2)": ("score", "gad7", TimeGuess(session=2), None),
        "PHQ-9 Score": ("score", "phq9", None, None),
        "Notes": ("covariate", None, None, "categorical"),
    }
    assert [g.column for g in guesses] == WIDE_COLUMNS


def test_guess_profile_wide_and_unresolved_scores() -> None:
    profile, _ = guess_profile(table(WIDE_COLUMNS, WIDE_ROWS), name="Clinic")
    assert profile.format == "wide"
    assert profile.patient_id == "Patient ID"
    assert profile.scores == (
        ScoreColumn("PCL5_Total_Baseline", "pcl5", day=0.0, infusions_received=0),
        ScoreColumn("pcl5_inf3", "pcl5", infusions_received=3),
        ScoreColumn("phq9_week_4", "phq9", day=28.0),
        ScoreColumn("GAD7 (Session 2)", "gad7", session=2),
        ScoreColumn("PHQ-9 Score", "phq9"),
    )
    assert profile.scores_before_infusion  # a "session" column was seen
    assert dict(profile.covariates) == {
        "Site": "categorical",
        "Age": "numeric",
        "Notes": "categorical",
    }
    assert unresolved_scores(profile) == ["PHQ-9 Score"]


LONG_COLUMNS = ["subject_id", "Measure", "Score", "Session", "Visit date", "Sex", "Comment"]
LONG_ROWS = [
    ["S1", "PCL-5", "50", "1", "31/01/2024", "F", "a"],
    ["S1", "PHQ9", "12", "1", "31/01/2024", "F", "b"],
    ["S1", "PCL-5", "30", "3", "14/02/2024", "F", "c"],
    ["S2", "GAD-7", "12", "1", "02/03/2024", "M", "d"],
    ["S2", "GAD-7", "9", "2", "09/03/2024", "M", None],
]


def test_guess_columns_long() -> None:
    fmt, guesses = guess_columns(table(LONG_COLUMNS, LONG_ROWS))
    assert fmt == "long"
    got = {g.column: (g.role, g.kind) for g in guesses}
    assert got == {
        "subject_id": ("id", None),
        "Measure": ("instrument", None),
        "Score": ("score_value", None),
        "Session": ("infusions", None),
        "Visit date": ("date", None),
        "Sex": ("covariate", "categorical"),
        "Comment": ("covariate", "categorical"),
    }


def test_guess_profile_long() -> None:
    t = table(LONG_COLUMNS, LONG_ROWS)
    profile, _ = guess_profile(t)
    assert profile == ImportProfile(
        name="Profile for export.csv",
        format="long",
        patient_id="subject_id",
        instrument_column="Measure",
        score_column="Score",
        infusions_column="Session",
        date_column="Visit date",
        dayfirst=True,  # 31/01/2024
        covariates={"Sex": "categorical", "Comment": "categorical"},
        scores_before_infusion=True,  # the column is called "Session"
    )
    assert instrument_labels(t.frame["Measure"], REGISTRY) == {
        "PCL-5": "pcl5",
        "PHQ9": "phq9",
        "GAD-7": "gad7",
    }


def test_guess_long_with_days_and_a_numeric_score_without_a_score_name() -> None:
    t = table(
        ["Client", "Instrument", "Result", "Infusion number", "Days", "First infusion date"],
        [
            ["C1", "PCL-5", "50", "0", "-2", "2024-01-03"],
            ["C1", "PCL-5", "30", "2", "5", "2024-01-03"],
            ["C2", "GAD7", "12", "0", "0", "2024-02-10"],
            ["C2", "Mood", "10", "1", "3", "2024-02-10"],
        ],
    )
    profile, guesses = guess_profile(t)
    roles = {g.column: g.role for g in guesses}
    assert roles["Result"] == "score_value"
    assert roles["Days"] == "day"
    assert roles["First infusion date"] == "first_date"
    assert profile.patient_id == "Client"
    assert profile.day_column == "Days"
    assert profile.date_column is None  # days given: no date needed
    assert profile.first_infusion_date_column == "First infusion date"
    assert not profile.scores_before_infusion
    assert instrument_labels(t.frame["Instrument"], REGISTRY) == {
        "PCL-5": "pcl5",
        "GAD7": "gad7",
        "Mood": None,
    }


def test_id_column_guess_falls_back_to_a_column_named_like_an_id() -> None:
    t = table(["Record ID", "PCL5 baseline"], [["R1", "40"], ["R2", "50"]])
    assert guess_profile(t)[0].patient_id == "Record ID"
    t = table(["mrn_ish", "clientid", "PCL5 baseline"], [["1", "R1", "40"]])
    assert guess_profile(t)[0].patient_id == "clientid"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["31/12/2024", "01/02/2024"], True),
        (["13.01.2024"], True),
        (["12/31/2024", "01/02/2024"], False),
        (["01/02/2024", "03/04/2024"], False),  # ambiguous: month first
        (["31/01/2024", "01/31/2024"], False),  # contradictory: month first
        (["2024-12-31"], False),
        ([None, "x"], False),
    ],
)
def test_guess_dayfirst(values: list, expected: bool) -> None:
    assert guess_dayfirst(pd.Series(values, dtype="object")) is expected


# --- the mapping table and its round trip ---------------------------------------------------


def test_mapping_table_of_a_wide_profile() -> None:
    p = ImportProfile(
        name="w",
        format="wide",
        patient_id="Patient ID",
        scores=(
            ScoreColumn("PCL5_Total_Baseline", "pcl5", day=0.0, infusions_received=0),
            ScoreColumn("pcl5_inf3", "pcl5", infusions_received=3),
            ScoreColumn("phq9_week_4", "phq9", day=28.0),
            ScoreColumn("GAD7 (Session 2)", "gad7", session=2),
            ScoreColumn("PHQ-9 Score", "phq9"),
        ),
        covariates={"Site": "categorical", "Age": "numeric"},
    )
    m = mapping_table(p, table(WIDE_COLUMNS, WIDE_ROWS))
    assert list(m.columns) == list(MAPPING_COLUMNS)
    rows = [
        tuple(None if (not isinstance(v, str) and pd.isna(v)) else v for v in r)
        for r in m.itertuples(index=False)
    ]
    assert rows == [
        ("Patient ID", ROLE_ID, None, None, None),
        ("Site", ROLE_CATEGORICAL, None, None, None),
        ("Age", ROLE_NUMERIC, None, None, None),
        ("PCL5_Total_Baseline", ROLE_SCORE, "pcl5", "day", 0.0),
        ("pcl5_inf3", ROLE_SCORE, "pcl5", "infusions", 3.0),
        ("phq9_week_4", ROLE_SCORE, "phq9", "day", 28.0),
        ("GAD7 (Session 2)", ROLE_SCORE, "gad7", "session", 2.0),
        ("PHQ-9 Score", ROLE_SCORE, "phq9", None, None),
        ("Notes", ROLE_DROP, None, None, None),
    ]


def resolved_wide() -> ImportProfile:
    return ImportProfile(
        name="Clinic",
        format="wide",
        patient_id="Patient ID",
        scores=(
            ScoreColumn("PCL5_Total_Baseline", "pcl5", day=0.0, infusions_received=0),
            ScoreColumn("pcl5_inf3", "pcl5", infusions_received=3),
            ScoreColumn("phq9_week_4", "phq9", day=28.0),
            ScoreColumn("GAD7 (Session 2)", "gad7", session=2),
        ),
        covariates={"Site": "categorical", "Age": "numeric"},
        scores_before_infusion=True,
        recode={"Site": {"A": "Clinic A"}},
        identifiers_drop=("Notes",),
        sheet="Data",
    )


def resolved_long() -> ImportProfile:
    return ImportProfile(
        name="Clinic",
        format="long",
        patient_id="subject_id",
        instrument_column="Measure",
        score_column="Score",
        infusions_column="Session",
        date_column="Visit date",
        dayfirst=True,
        covariates={"Sex": "categorical"},
        scores_before_infusion=True,
        instrument_values={"Mood": "phq9"},
    )


@pytest.mark.parametrize(
    ("make", "columns", "rows"),
    [(resolved_wide, WIDE_COLUMNS, WIDE_ROWS), (resolved_long, LONG_COLUMNS, LONG_ROWS)],
    ids=["wide", "long"],
)
def test_mapping_round_trip(make, columns, rows) -> None:
    p = make()
    m = mapping_table(p, table(columns, rows))
    back = profile_from_mapping(
        m,
        name=p.name,
        base=p,
        scores_before_infusion=p.scores_before_infusion,
        dayfirst=p.dayfirst,
        instrument_values=p.instrument_values,
    )
    assert back == p


def test_mapping_converts_weeks_and_months_to_days_and_baseline_days_to_zero_infusions() -> None:
    m = pd.DataFrame(
        [
            ("id", ROLE_ID, None, None, None),
            ("a", ROLE_SCORE, "pcl5", "day", -7.0),
            ("b", ROLE_SCORE, "pcl5", "week", 6.0),
            ("c", ROLE_SCORE, "pcl5", "month", 3.0),
            ("d", ROLE_SCORE, "pcl5", "infusions", 6.0),
            ("e", ROLE_SCORE, "pcl5", "session", 1.0),
        ],
        columns=list(MAPPING_COLUMNS),
    )
    p = profile_from_mapping(m, name="x")
    assert p.scores == (
        ScoreColumn("a", "pcl5", day=-7.0, infusions_received=0),
        ScoreColumn("b", "pcl5", day=42.0),
        ScoreColumn("c", "pcl5", day=91.3),
        ScoreColumn("d", "pcl5", infusions_received=6),
        ScoreColumn("e", "pcl5", session=1),
    )


def test_mapping_long_with_one_instrument_for_its_score_column() -> None:
    m = pd.DataFrame(
        [
            ("id", ROLE_ID, None, None, None),
            ("PCL", ROLE_VALUE, "pcl5", None, None),
            ("Day", ROLE_DAY, None, None, None),
            ("Start", ROLE_FIRST_DATE, None, None, None),
        ],
        columns=list(MAPPING_COLUMNS),
    )
    p = profile_from_mapping(m, name="x")
    assert (p.format, p.instrument, p.instrument_column, p.score_column) == (
        "long",
        "pcl5",
        None,
        "PCL",
    )
    assert (p.day_column, p.first_infusion_date_column) == ("Day", "Start")
    assert not p.scores_before_infusion


def mapping(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(MAPPING_COLUMNS))


ID = ("id", ROLE_ID, None, None, None)
MEASURE = ("m", ROLE_MEASURE, None, None, None)
VALUE = ("v", ROLE_VALUE, None, None, None)
INF = ("n", ROLE_INFUSIONS, None, None, None)
MAPPING_ERRORS = [
    ("no-id", mapping(("s", ROLE_SCORE, "pcl5", "day", 0.0)), "choose the column that holds"),
    (
        "two-ids",
        mapping(ID, ("id2", ROLE_ID, None, None, None), VALUE, MEASURE, INF),
        "only one column can be the patient id: ['id', 'id2']",
    ),
    ("no-scores", mapping(ID, ("x", ROLE_DROP, None, None, None)), "no score columns chosen"),
    (
        "wide-and-long",
        mapping(ID, ("s", ROLE_SCORE, "pcl5", "day", 0.0), VALUE, MEASURE, INF),
        "choose one shape",
    ),
    (
        "score-without-instrument",
        mapping(ID, ("s", ROLE_SCORE, None, "day", 0.0)),
        "choose the instrument of score column 's'",
    ),
    (
        "score-unknown-instrument",
        mapping(ID, ("s", ROLE_SCORE, "hamd", "day", 0.0)),
        "choose the instrument of score column 's'",
    ),
    (
        "score-without-time",
        mapping(ID, ("s", ROLE_SCORE, "pcl5", None, None)),
        "give the time point of score column 's'",
    ),
    (
        "score-unknown-unit",
        mapping(ID, ("s", ROLE_SCORE, "pcl5", "fortnight", 2.0)),
        "give the time point of score column 's'",
    ),
    (
        "score-unit-without-value",
        mapping(ID, ("s", ROLE_SCORE, "pcl5", "week", np.nan)),
        "give the time point of score column 's'",
    ),
    (
        "fractional-session",
        mapping(ID, ("s", ROLE_SCORE, "pcl5", "session", 2.5)),
        "'s': session must be a whole number",
    ),
    (
        "negative-infusions",
        mapping(ID, ("s", ROLE_SCORE, "pcl5", "infusions", -1.0)),
        "'s': infusions must be a whole number",
    ),
    (
        "long-without-instrument",
        mapping(ID, VALUE, INF),
        "a long export needs an instrument-name column",
    ),
    (
        "long-unknown-fixed-instrument",
        mapping(ID, ("v", ROLE_VALUE, "hamd", None, None), INF),
        "a long export needs an instrument-name column",
    ),
    (
        "sessions-and-infusions",
        mapping(ID, VALUE, MEASURE, INF, ("k", ROLE_SESSION, None, None, None)),
        "choose either an infusions column or a session column",
    ),
    (
        "long-without-time",
        mapping(ID, VALUE, MEASURE),
        "a long export needs a time column",
    ),
    (
        "two-dates",
        mapping(
            ID,
            VALUE,
            MEASURE,
            ("d1", ROLE_DATE, None, None, None),
            ("d2", ROLE_DATE, None, None, None),
        ),
        "only one column can be the assessment date",
    ),
]


@pytest.mark.parametrize(
    ("m", "fragment"), [c[1:] for c in MAPPING_ERRORS], ids=[c[0] for c in MAPPING_ERRORS]
)
def test_profile_from_mapping_errors(m: pd.DataFrame, fragment: str) -> None:
    with pytest.raises(DataValidationError) as info:
        profile_from_mapping(m, name="x")
    assert fragment in str(info.value), str(info.value)


def test_unassigned_roles_are_dropped() -> None:
    m = mapping(ID, VALUE, MEASURE, INF, ("x", None, None, None, None))
    p = profile_from_mapping(m, name="x")
    assert "x" not in p.source_columns()


def test_numeric_share_and_first_filled_equal_the_plain_definitions() -> None:
    from analytics.mapping import _first_filled, _numeric_share

    values = pd.Series(([None] * 7 + ["1", "x", "2,5", "2.5", None, "1"]) * 40, dtype="string")
    plain = pd.to_numeric(values.dropna(), errors="coerce").notna().mean()
    assert _numeric_share(values) == pytest.approx(plain)
    assert _numeric_share(pd.Series([None, None], dtype="string")) == 0.0
    for n in (1, 5, 200, 10_000):
        pd.testing.assert_series_equal(_first_filled(values, n), values.dropna().head(n))
