"""Property-based tests of the upload path (hypothesis, derandomized, bounded).

1. Generated CSV bytes (realistic headers, cells of every kind: numbers, blanks, "N/A",
   unicode, quotes, delimiters inside quotes; four delimiters, five encodings) with random but
   well-formed long or wide import profiles naming existing columns: ``ingest`` either returns
   a valid canonical frame or raises ``DataValidationError``; nothing else.
2. ``validate_canonical`` on generated frames of mixed types never raises anything but
   ``DataValidationError`` and never returns a row it reported as an error.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.errors import DataValidationError
from analytics.ingest import Ingested, ingest
from analytics.instruments import custom_instrument, load_registry
from analytics.profiles import ImportProfile, ScoreColumn
from analytics.validation import ValidationResult, validate_canonical

SETTINGS = settings(
    max_examples=50,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
REGISTRY = load_registry()
CUSTOM = custom_instrument({"id": "ucla_ri", "name": "UCLA RI", "min": 0, "max": 68})
INSTRUMENT_IDS = sorted(REGISTRY)
NAMES = [
    "Patient ID", "id", "Subject", "Client", "PCL5 Baseline", "pcl5_inf3", "PHQ-9 Score",
    "phq9_week_4", "bdi.2m", "GAD7 (Session 2)", "Measure", "Instrument", "Total", "Score",
    "Session", "Infusions", "Day", "Days", "Visit date", "First infusion", "Site", "Sex", "Age",
    "Notes", "Dose (mg/kg)", "Prénom", "Città", "Total 2", "Total (2)", "n/a col",
]  # fmt: skip
LABELS = ["PCL-5", "PHQ9", "phq-9", "GAD-7 score", "bdi", "BDI-II", "CADSS", "Mood", "PHQ-2", "xyz"]
DATES = [
    "2024-03-01", "05/03/2024", "03/05/2024", "5 Mar 2024", "March 7, 2024", "2024-02-30",
    "31/02/2024", "13/13/2013", "yesterday", "2023-12-31T10:00:00", "01.04.2024",
]  # fmt: skip
BLANKS = ["", " ", "N/A", "n/a", "NA", "-", "NULL", "#N/A", "nan"]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"]
DELIMITERS = [",", ";", "\t", "|"]

text_cells = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc"), include_characters=',;|"\t\n é€ü漢'),
    max_size=10,
)
number_cells = st.one_of(
    st.integers(0, 27).map(str),
    st.integers(-5, 120).map(str),
    st.floats(-10, 100, allow_nan=False).map(lambda x: f"{x:.2f}"),
    st.floats(-10, 100, allow_nan=False).map(lambda x: f"{x:.1f}".replace(".", ",")),
    st.sampled_from(["1e400", "-1e400", "inf", "1e30", "-0", "0.0", "12 (partial)", "3,5 mg"]),
)
ROLE_CELLS = {
    "id": st.one_of(st.sampled_from(["P1", "P2", "P3", "DEMO-0001", "17"]), text_cells),
    "score": number_cells,
    "instrument": st.sampled_from([*LABELS, *INSTRUMENT_IDS, "ucla_ri"]),
    "infusions": st.one_of(
        st.integers(0, 8).map(str), st.integers(-2, 12).map(str), st.sampled_from(["2.5", "x"])
    ),
    "day": st.one_of(
        st.integers(-7, 100).map(str), st.sampled_from(["-0.5", "7,5", "soon", "1e30"])
    ),
    "date": st.sampled_from(DATES),
    "other": st.one_of(text_cells, number_cells, st.sampled_from(DATES)),
}
any_cell = st.one_of(text_cells, number_cells, st.sampled_from(BLANKS + LABELS + DATES))


@st.composite
def cell(draw, role: str) -> str:
    kind = draw(st.integers(0, 9))  # hypothesis starts from 0: the typical cell
    if kind == 9:
        return draw(st.sampled_from(BLANKS))
    if kind == 8:
        return draw(any_cell)
    return draw(ROLE_CELLS[role])


@st.composite
def wide_profile(draw, header: list[str]) -> tuple[ImportProfile, dict[str, str]]:
    pid = draw(st.sampled_from(header))
    others = [c for c in header if c != pid]
    order = draw(st.permutations(others))
    k = draw(st.integers(1, len(order)))
    scores = []
    for column in order[:k]:
        time = draw(st.sampled_from(["day", "infusions", "session", "both"]))
        spec: dict = {}
        if time in ("day", "both"):
            spec["day"] = float(draw(st.integers(-30, 200)))
        if time in ("infusions", "both"):
            spec["infusions_received"] = draw(st.integers(0, 12))
        if time == "session":
            spec["session"] = draw(st.integers(1, 12))
        instrument = draw(st.sampled_from([*INSTRUMENT_IDS, "ucla_ri"]))
        scores.append(ScoreColumn(column, instrument, **spec))
    covariates = {
        c: draw(st.sampled_from(["categorical", "numeric"]))
        for c in order[k:]
        if draw(st.booleans())
    }
    profile = ImportProfile(
        name="generated wide",
        format="wide",
        patient_id=pid,
        scores=tuple(scores),
        covariates=covariates,
        instruments=(CUSTOM,),
        scores_before_infusion=draw(st.booleans()),
    )
    roles = {pid: "id"} | {sc.column: "score" for sc in scores}
    return profile, roles


@st.composite
def long_profile(draw, header: list[str]) -> tuple[ImportProfile, dict[str, str]]:
    order = list(draw(st.permutations(header)))
    pid, score_col, first_time = order.pop(), order.pop(), order.pop()
    roles = {pid: "id", score_col: "score"}
    times = ["infusions_column", "day_column", "date_column"]
    first_key = draw(st.sampled_from(times))
    fields: dict = {first_key: first_time}
    if order and draw(st.booleans()):
        fields["instrument_column"] = order.pop()
        if draw(st.booleans()):
            fields["instrument_values"] = {"Mood": "phq9", "xyz": "ucla_ri"}
    else:
        fields["instrument"] = draw(st.sampled_from([*INSTRUMENT_IDS, "ucla_ri"]))
    for key in times:
        if key not in fields and order and draw(st.booleans()):
            fields[key] = order.pop()
    if "date_column" in fields:
        fields["dayfirst"] = draw(st.booleans())
        if order and draw(st.booleans()):
            fields["first_infusion_date_column"] = order.pop()
    role_of = {
        "instrument_column": "instrument",
        "infusions_column": "infusions",
        "day_column": "day",
        "date_column": "date",
        "first_infusion_date_column": "date",
    }
    roles |= {fields[k]: r for k, r in role_of.items() if k in fields}
    covariates = {c: draw(st.sampled_from(["categorical", "numeric"])) for c in order}
    profile = ImportProfile(
        name="generated long",
        format="long",
        patient_id=pid,
        score_column=score_col,
        covariates=covariates,
        instruments=(CUSTOM,),
        scores_before_infusion=draw(st.booleans()),
        **fields,
    )
    return profile, roles


@st.composite
def uploads(draw, shape: str) -> tuple[bytes, str, ImportProfile]:
    header = draw(st.lists(st.sampled_from(NAMES), min_size=3, max_size=7, unique=True))
    if shape == "wide":
        profile, roles = draw(wide_profile(header))
    else:
        profile, roles = draw(long_profile(header))
    if draw(st.integers(0, 3)) == 3:  # a duplicated header name (renamed "name (2)")
        header = [*header, draw(st.sampled_from(header))]
    n_rows = draw(st.integers(1, 8))
    rows = [[draw(cell(roles.get(c, "other"))) for c in header] for _ in range(n_rows)]
    if draw(st.booleans()):  # a repeated row (identical, or the same time point again)
        rows.append(list(rows[draw(st.integers(0, len(rows) - 1))]))
    if draw(st.integers(0, 4)) == 4:  # a blank line somewhere in the middle
        rows.insert(draw(st.integers(0, len(rows))), [""] * len(header))
    delimiter = draw(st.sampled_from(DELIMITERS))
    out = io.StringIO()
    writer = csv.writer(
        out, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))
    )
    if draw(st.integers(0, 5)) == 5:
        writer.writerow(["Clinic export (generated)"])
    writer.writerow(header)
    writer.writerows(rows)
    encoding = draw(st.sampled_from(ENCODINGS))
    raw = out.getvalue().encode(encoding, errors="replace")
    return raw, "generated.csv", profile


def assert_valid_canonical(result: ValidationResult, registry) -> None:
    data = result.data
    assert {"patient_id", "instrument", "score", "infusions_received", "day"} <= set(data.columns)
    assert str(data["infusions_received"].dtype) == "Int64"
    assert (data["infusions_received"].dropna() >= 0).all()
    assert (data["infusions_received"].notna() | data["day"].notna()).all()
    assert not ((data["infusions_received"] == 0) & (data["day"] > 0)).fillna(False).any()
    assert data["patient_id"].notna().all()
    assert (data["patient_id"].str.strip() != "").all()
    assert data["instrument"].isin(list(registry)).all()
    for iid, scores in data.groupby("instrument")["score"]:
        inst = registry[iid]
        assert np.isfinite(scores).all()
        assert scores.between(inst.min, inst.max).all(), (iid, scores.tolist())
    key = ["patient_id", "instrument", "infusions_received", "day"]
    assert not data.duplicated(key).any()
    assert set(result.issues["severity"]) <= {"error", "warning"}


def check_ingest(upload: tuple[bytes, str, ImportProfile]) -> None:
    raw, name, profile = upload
    try:
        got: Ingested = ingest(raw, name=name, profile=profile)
    except DataValidationError as err:
        assert err.file in (name, None) or str(err)
        return
    assert_valid_canonical(got.result, profile.registry)
    if profile.format == "long":  # one source row is one assessment
        assert not set(got.result.errors["row"]) & set(got.data["source_row"])


@SETTINGS
@given(uploads("wide"))
def test_wide_ingest_returns_canonical_rows_or_a_data_validation_error(upload) -> None:
    check_ingest(upload)


@SETTINGS
@given(uploads("long"))
def test_long_ingest_returns_canonical_rows_or_a_data_validation_error(upload) -> None:
    check_ingest(upload)


# --- validate_canonical on generated frames ---------------------------------------------------

junk = st.one_of(
    st.none(),
    st.just(np.nan),
    st.just(pd.NA),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**20), 10**20),
    st.integers(-3, 90),
    st.booleans(),
    st.text(max_size=6),
    st.sampled_from([*INSTRUMENT_IDS, "PCL5", " phq9 ", "", " ", "1e400", "3.0", "-1"]),
)
GOOD_VALUES = {
    "patient_id": st.sampled_from(["P1", "P2", "P3", " P1 ", 7]),
    "instrument": st.sampled_from([*INSTRUMENT_IDS, "PCL5", " phq9 "]),
    "score": st.one_of(st.integers(0, 27), st.floats(0, 27), st.integers(0, 27).map(str)),
    "infusions_received": st.one_of(st.integers(0, 6), st.integers(0, 6).map(str)),
    "day": st.one_of(st.integers(-10, 60), st.floats(-10, 60), st.integers(-10, 60).map(str)),
    "site": st.sampled_from(["A", "B", 3, 4.5]),
}
COLUMNS = list(GOOD_VALUES)


@st.composite
def frames(draw) -> pd.DataFrame:
    n = 0 if draw(st.integers(0, 19)) == 19 else draw(st.integers(1, 12))
    present = [c for c in COLUMNS if draw(st.integers(0, 9)) < 9]
    data = {}
    for c in present:
        column = [draw(GOOD_VALUES[c] if draw(st.integers(0, 3)) < 3 else junk) for _ in range(n)]
        style = draw(st.integers(0, 3))
        if style == 0:  # typed, as from Parquet
            nums = pd.to_numeric(pd.Series(column, dtype="object"), errors="coerce")
            data[c] = nums.astype("float64")
        elif style == 1:  # text, as from CSV
            data[c] = pd.Series([None if v is None else str(v) for v in column], dtype="string")
        else:
            data[c] = pd.Series(column, dtype="object")
    frame = pd.DataFrame(data, index=range(n))
    if n and draw(st.booleans()):  # repeated rows
        frame = pd.concat([frame, frame.iloc[: draw(st.integers(1, n))]], ignore_index=True)
        n = len(frame)
    if draw(st.booleans()):
        frame["source_row"] = draw(st.permutations(range(2, 2 + n))) if n else []
    if draw(st.integers(0, 9)) == 9 and len(frame.columns) > 1:  # duplicated names
        frame.columns = [frame.columns[0], *([frame.columns[0]] * (len(frame.columns) - 1))][
            : len(frame.columns)
        ]
    return frame


@SETTINGS
@given(frames())
def test_validate_canonical_never_raises_other_errors_nor_keeps_an_error_row(frame) -> None:
    try:
        result = validate_canonical(frame, source="generated.parquet")
    except DataValidationError as err:
        assert err.file == "generated.parquet"
        return
    assert_valid_canonical(result, REGISTRY)
    assert not set(result.errors["row"]) & set(result.data["source_row"])
    assert len(result.data) <= len(frame)
