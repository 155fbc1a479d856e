"""The identifier screen (analytics/identifiers.py) on small hand-built frames."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from analytics.errors import DataValidationError
from analytics.identifiers import (
    DATE_FOR_TIME_SUGGESTION,
    FINDINGS_FRAME_COLUMNS,
    ID_COLUMN_SUGGESTION,
    KINDS,
    REVIEW_SUGGESTION,
    SUGGESTIONS,
    IdentifierFinding,
    findings_frame,
    is_handled,
    mask_value,
    name_tokens,
    screen_identifiers,
    unresolved,
)


def screen(columns: dict[str, list], **options) -> list[IdentifierFinding]:
    return screen_identifiers(pd.DataFrame(columns, dtype=object), **options)


def only(columns: dict[str, list], **options) -> IdentifierFinding:
    findings = screen(columns, **options)
    assert len(findings) == 1, findings
    return findings[0]


def revealing_substrings(raw: str) -> set[str]:
    """Every substring of ``raw`` holding three of its letters or digits.

    A mask may show two characters; any substring with three must not appear.
    """
    positions = [i for i, ch in enumerate(raw) if ch.isalnum()]
    return {raw[positions[i] : positions[i + 2] + 1] for i in range(len(positions) - 2)}


def assert_not_echoed(finding: IdentifierFinding, raw_values: list[str]) -> None:
    # The column name is the user's own header, not a value: leave it out of the check.
    text = " | ".join(
        str(getattr(finding, f.name)) for f in dataclasses.fields(finding) if f.name != "column"
    )
    for raw in raw_values:
        assert raw not in text
        for piece in revealing_substrings(raw):
            assert piece not in text, f"{piece!r} of {raw!r} echoed in {text!r}"


# Values of every kind, detected by value, with column names that say nothing about them.
# (name and age need a name that gives context; mrn needs the id column.)
BY_VALUE = {
    "email": ("contact_1", ["qzx7@kvwj.org", "b.wquv@hx-kq.com", "zz9@yqv.io"], {}),
    "phone": (
        "contact_2",
        ["(555) 867-5309", "+44 20 7946 0958", "555.321.4977", "+1 212-555-0147"],
        {},
    ),
    "ssn": ("field_a", ["123-45-6789", "987-65-4321", "219-09-9999"], {}),
    "street_address": (
        "field_b",
        ["123 Main St", "45 Elm Avenue Apt 2", "9 Oakwood Rd, Springfield, IL 62704"],
        {},
    ),
    "full_date": ("field_c", ["2024-03-05", "03/05/2024", "5 Mar 2024", "2024-03-05T10:00"], {}),
    "zip_code": ("field_d", ["02139", "10472", "94107", "60614-3320"], {}),
    "url": ("field_e", ["https://qzv.example/kx", "www.wqzk.org", "http://10.1.2.3/p"], {}),
    "ip_address": ("field_f", ["10.0.0.17", "2001:db8::1", "192.168.1.254"], {}),
    "derived_id": (
        "field_g",
        ["a3f5" * 16, "9bc1" * 16, "0d2e" * 8],
        {},
    ),
    "other_id": ("field_h", ["00:1A:2B:3C:4D:5E", "1HGCM82633A004352", "1EG4-TE5-MK73"], {}),
    "name": ("Patient", ["Qwen Zukov", "Vasquez, Ilka", "Mary K. Dovrin"], {}),
    "age_over_89": ("Age", ["45", "93", "90-94", "90+"], {}),
    "mrn": ("patient_id", ["P001", "12345678", "P003"], {"id_column": "patient_id"}),
}


def test_the_value_table_covers_every_kind():
    assert set(BY_VALUE) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(BY_VALUE))
def test_every_kind_is_detected_by_value(kind):
    column, values, options = BY_VALUE[kind]
    finding = only({column: values}, **options)
    assert finding.kind == kind
    assert finding.by_value
    assert finding.n_flagged >= 1
    assert finding.n_values == sum(v not in ("",) for v in values)
    assert 1 <= len(finding.masked_examples) <= 3
    assert finding.column == column
    assert finding.suggestion in (SUGGESTIONS[kind], ID_COLUMN_SUGGESTION)


@pytest.mark.parametrize("kind", sorted(BY_VALUE))
def test_no_finding_echoes_a_raw_value(kind):
    column, values, options = BY_VALUE[kind]
    finding = only({column: values}, **options)
    flagged = [v for v in values if v not in ("45", "90+", "P001", "P003")]
    assert_not_echoed(finding, flagged)
    for example in finding.masked_examples:
        assert sum(ch.isalnum() for ch in example) <= 2


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("Patient Name", "name"),
        ("first_name", "name"),
        ("LastName", "name"),
        ("Surname", "name"),
        ("Emergency Contact", "name"),
        ("next_of_kin", "name"),
        ("E-mail", "email"),
        ("email_address", "email"),
        ("Mobile", "phone"),
        ("Fax", "phone"),
        ("Home Phone #", "phone"),
        ("SSN", "ssn"),
        ("Social Security Number", "ssn"),
        ("MRN", "mrn"),
        ("Medical Record Number", "mrn"),
        ("chart_no", "mrn"),
        ("Street", "street_address"),
        ("home_address", "street_address"),
        ("City", "street_address"),
        ("ZIP", "zip_code"),
        ("postal_code", "zip_code"),
        ("DOB", "full_date"),
        ("Date of Birth", "full_date"),
        ("admission_date", "full_date"),
        ("VisitDate", "full_date"),
        ("Website", "url"),
        ("IP Address", "ip_address"),
        ("IP", "ip_address"),
        ("hashed_mrn", "derived_id"),
        ("Account #", "other_id"),
        ("insurance_member_id", "other_id"),
        ("health plan id", "other_id"),
        ("licence_number", "other_id"),
        ("device_serial", "other_id"),
        ("vehicle_plate", "other_id"),
    ],
)
def test_every_kind_is_detected_by_name_for_review(column, kind):
    finding = only({column: ["withheld", "withheld", "n/a", "redacted"]})
    assert finding.kind == kind
    assert finding.by_name and not finding.by_value
    assert finding.n_flagged == 0 and finding.masked_examples == ()
    assert finding.n_values == 3  # "n/a" is blank
    assert finding.suggestion == REVIEW_SUGGESTION
    assert "column name suggests" in finding.reason


def test_name_and_values_together():
    finding = only({"Email": ["qzx7@kvwj.org", "zz9@yqv.io"]})
    assert (finding.kind, finding.by_name, finding.by_value) == ("email", True, True)
    assert finding.n_flagged == 2 and finding.n_values == 2


def test_age_over_89_by_name_needs_values_over_89():
    assert screen({"Age": ["45", "61", "89", "90+"]}) == []
    finding = only({"age_at_baseline": ["45", "61", "93"]})
    assert (finding.kind, finding.by_name, finding.by_value, finding.n_flagged) == (
        "age_over_89",
        True,
        True,
        1,
    )


def test_ages_over_89_only_in_an_age_column():
    assert screen({"score": ["93", "95", "99", "12"]}) == []
    assert screen({"pct_change": ["91", "95", "100"]}) == []
    finding = only({"Age": ["93", "95", "99", "12"]})
    assert finding.kind == "age_over_89" and finding.n_flagged == 3


def test_age_bands_are_flagged_only_above_89():
    assert screen({"age_band": ["40-49", "80-89", "90+", ">89", "18 to 29"]}) == []
    finding = only({"age_band": ["40-49", "90-94", "85-94"]})
    assert finding.kind == "age_over_89" and finding.n_flagged == 2


def test_birth_years_implying_over_89():
    assert screen({"birth_year": ["1960", "1981", "1975"]}) == []
    finding = only({"birth_year": ["1920", "1981", "1975"]})
    assert finding.kind == "age_over_89" and finding.by_value


def test_person_name_shapes_count_only_where_the_name_suggests_a_name():
    names = ["Qwen Zukov", "Ilka Vasquez", "Mary K. Dovrin"]
    assert screen({"trauma_type": names}) == []
    assert screen({"site": ["Clinic A", "Clinic B", "North Clinic"]}) == []
    assert only({"full_name": names}).by_value
    assert only({"Client": names}).kind == "name"


# Typical clinic columns must pass untouched.
CLINIC = {
    "patient_id": ["P001", "DEMO-0001", "17", "S-12"],
    "record_id": ["1", "2", "3", "4"],
    "instrument": ["pcl5", "phq9", "gad7", "pcl5"],
    "Instrument Name": ["PCL-5", "PHQ-9", "GAD-7", "PCL-5"],
    "site_name": ["Clinic A", "Clinic B", "Clinic A", "Clinic C"],
    "score": ["12", "5551234", "17", "30"],
    "infusions_received": ["0", "1", "6", "6"],
    "day": ["-4", "0", "14", "60.9"],
    "site": ["Clinic A", "Clinic B", "Clinic A", "Clinic C"],
    "sex": ["Male", "Female", "Female", "Male"],
    "age_band": ["40-49", "30-39", "18-29", "50-59"],
    "bmi": ["31.2", "28.4", "24.0", "35.9"],
    "dose_mg_per_kg": ["0.5", "0.5", "0.75", "1.0"],
    "trauma_type": ["Combat", "Sexual Assault", "Motor Vehicle Accident", "Childhood Abuse"],
    "family_history_aud": ["Yes", "No", "No", "Yes"],
    "prior_failed_treatments": ["0", "2", "3", "1"],
    "comorbid_mdd": ["Yes", "No", "Yes", "Yes"],
    "route": ["IV", "IV", "IM", "IV"],
    "year": ["2024", "2024", "2023", "2022"],
    "session": ["Session 1", "Session 2", "Week 4", "Month 3"],
    "pct_change": ["-45.5", "-12.0", "3.3", "-100"],
    "time": ["10:00", "14:30", "09:15", "16:45"],
    "notes": ["tolerated well", "nausea", "BP 142/90", "none"],
}


def test_typical_clinic_columns_are_not_flagged():
    frame = pd.DataFrame(CLINIC, dtype=object)
    assert screen_identifiers(frame, id_column="patient_id") == []


def test_the_demo_cohort_is_not_flagged():
    frame = pd.read_csv("sample_data/demo_cohort.csv", dtype=str, keep_default_na=False)
    assert screen_identifiers(frame, id_column="patient_id") == []


def test_a_seven_digit_number_is_a_phone_only_when_formatted_or_in_a_phone_column():
    assert screen({"score": ["5551234", "8675309", "2125550", "12"]}) == []
    assert screen({"score": ["5551234567", "8675309000", "2125550147"]}) == []
    finding = only({"Phone": ["5551234", "8675309", "2125550147"]})
    assert finding.kind == "phone" and finding.n_flagged == 3
    assert only({"contact": ["555-867-5309", "(212) 555-0147", "555 321 4977"]}).kind == "phone"


def test_a_score_is_never_a_phone_or_zip():
    assert screen({"score": ["12", "7", "63", "80"], "phone": ["", "", "", ""]}) == []
    assert screen({"Phone": ["12", "7", "63"]})[0].by_value is False


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["1234567", "P002", "P003"], "mrn"),
        (["0012345678", "0012345679", "0012345680"], "mrn"),
        (["a" * 32, "b" * 32, "c" * 32], "derived_id"),
        (["ab12" * 16, "cd34" * 16], "derived_id"),
        (["ab12" * 10], "derived_id"),
    ],
)
def test_id_column_rules_flag(values, kind):
    finding = only({"pid": values}, id_column="pid")
    assert finding.kind == kind
    assert finding.by_value and not finding.by_name
    assert finding.suggestion == ID_COLUMN_SUGGESTION
    assert "ids" in finding.reason


@pytest.mark.parametrize(
    "values",
    [
        ["P001", "P002", "P003"],
        ["DEMO-0001", "DEMO-0002", "DEMO-0720"],
        ["17", "18", "250"],
        ["S-12", "S-13", "S-14"],
        ["123456", "123457", "123458"],
        ["12345678901", "12345678902"],
        ["a" * 31, "b" * 33],
    ],
)
def test_short_study_ids_are_not_identifiers(values):
    assert screen({"pid": values}, id_column="pid") == []


def test_seven_digit_ids_are_only_flagged_in_an_id_column():
    numbers = ["1234567", "2345678", "3456789"]
    assert screen({"prior_failed_treatments": numbers}) == []
    assert only({"prior_failed_treatments": numbers}, id_column="prior_failed_treatments").kind == (
        "mrn"
    )


def test_a_year_alone_is_allowed():
    assert screen({"year": ["2024", "2023", "1999"], "intake_year": ["2024", "2024", "2023"]}) == []


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-05",
        "2024/03/05",
        "03/05/2024",
        "3/5/24",
        "31.12.2023",
        "5 Mar 2024",
        "March 5, 2024",
        "Tue, 5 Mar 2024",
        "05-MAR-24",
        "2024-03-05T10:00",
        "2024-03-05 10:00:00",
        "2024-03-05T10:00:00Z",
        "20240305",
        "March 2024",
        "2024-03",
    ],
)
def test_date_formats(value):
    finding = only({"field": [value] * 3})
    assert finding.kind == "full_date"


@pytest.mark.parametrize("value", ["2024", "10:00", "13/13/2024", "2019-2020", "40-49", "1.5"])
def test_not_dates(value):
    assert screen({"field": [value] * 3}) == []


def test_date_columns_used_for_time_change_the_suggestion():
    dates = ["2024-03-05", "2024-03-19", "2024-04-02"]
    plain = only({"VisitDate": dates})
    assert plain.suggestion == SUGGESTIONS["full_date"]
    assert not is_handled(plain)
    handled = only({"VisitDate": dates}, date_columns_used_for_time=["VisitDate"])
    assert handled.kind == "full_date" and handled.by_value and handled.by_name
    assert handled.suggestion == DATE_FOR_TIME_SUGGESTION
    assert is_handled(handled)


def test_date_columns_used_for_time_are_reported_whatever_their_name_or_values():
    finding = only({"When": ["baseline", "week 1", "week 2"]}, date_columns_used_for_time=["When"])
    assert finding.kind == "full_date"
    assert not finding.by_value
    assert finding.suggestion == DATE_FOR_TIME_SUGGESTION


def test_the_threshold_for_unnamed_columns_is_three_values_or_all_of_them():
    emails = ["qzx7@kvwj.org", "zz9@yqv.io", "vq@kwz.net"]
    filler = ["fine"] * 100
    assert screen({"notes": emails[:2] + filler}) == []
    finding = only({"notes": emails + filler})
    assert finding.n_flagged == 3 and finding.n_values == 103
    # A column with fewer than three non-blank values: every value must match.
    assert only({"notes": [emails[0], "", None]}).n_flagged == 1
    assert screen({"notes": [emails[0], "fine"]}) == []


def test_where_the_name_gives_context_one_value_is_enough():
    filler = ["withheld"] * 200
    assert only({"zip": ["02139", *filler]}).by_value
    assert only({"Age": ["95", *["40"] * 200]}).by_value
    assert only({"pid": ["1234567", *[f"P{i:03d}" for i in range(200)]]}, id_column="pid").by_value


def test_zip_by_shape_needs_nearly_all_values_five_digits():
    assert screen({"steps": ["12345", "23456", "3456", "456", "56789"]}) == []
    finding = only({"code": ["02139", "10001", "94107", "60614", "30301"]})
    assert finding.kind == "zip_code" and not finding.by_name


def test_restricted_three_digit_zip_prefixes_in_a_zip_column():
    assert only({"zip3": ["021", "100", "941"]}).by_value is False  # named: review only
    finding = only({"zip3": ["021", "036", "941"]})
    assert finding.by_value and finding.n_flagged == 1


def test_whole_value_match_only():
    sentences = [
        "call me at 555-867-5309 please",
        "wrote to qzx7@kvwj.org",
        "seen 2024-03-05 at clinic",
    ] * 3
    assert screen({"comment": sentences}) == []


def test_the_most_common_kind_wins_and_the_others_are_named():
    finding = only(
        {
            "contact": [
                *("qzx7@kvwj.org", "zz9@yqv.io", "vq@kwz.net", "qq@wz.net"),
                *("(555) 867-5309", "(212) 555-0147", "(415) 555-0199"),
            ]
        }
    )
    assert finding.kind == "email" and finding.n_flagged == 4
    assert "also 3 of 7 values look like phone or fax numbers" in finding.reason


def test_one_finding_per_column_in_column_order():
    findings = screen(
        {
            "zip": ["02139", "10001", "94107"],
            "score": ["1", "2", "3"],
            "Email": ["qzx7@kvwj.org", "zz9@yqv.io", "vq@kwz.net"],
        }
    )
    assert [f.column for f in findings] == ["zip", "Email"]


def test_empty_and_header_only_frames_give_no_findings():
    assert screen_identifiers(pd.DataFrame()) == []
    header_only = pd.DataFrame(columns=["patient_id", "Email", "SSN", "score", "VisitDate"])
    assert screen_identifiers(header_only, id_column="patient_id") == []
    assert screen({"Email": ["", None, "  ", "N/A"]}) == []


def test_duplicate_and_non_text_column_names():
    frame = pd.DataFrame([["qzx7@kvwj.org", "1"], ["zz9@yqv.io", "2"]], columns=["x", "x"])
    assert [f.column for f in screen_identifiers(frame)] == ["x"]
    numbered = pd.DataFrame({0: ["qzx7@kvwj.org", "zz9@yqv.io"], 1: ["a", "b"]})
    assert [f.column for f in screen_identifiers(numbered)] == ["0"]


def test_non_text_columns_are_read_as_text():
    frame = pd.DataFrame(
        {
            "when": pd.to_datetime(["2024-03-05", "2024-03-19", "2024-04-02"]),
            "bmi": [31.2, 28.4, np.nan],
            "score": [12, 5551234, 17],
        }
    )
    findings = screen_identifiers(frame)
    assert [(f.column, f.kind) for f in findings] == [("when", "full_date")]


def test_the_input_frame_is_not_modified():
    frame = pd.DataFrame({"Email": [" qzx7@kvwj.org ", "zz9@yqv.io", None]}, dtype=object)
    before = frame.copy()
    screen_identifiers(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_only_the_sample_is_inspected():
    rng = np.random.default_rng(7)
    n = 100_000
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i:06d}" for i in range(n)],
            "score": rng.integers(0, 80, n).astype(str),
            # the e-mail addresses sit after the first 5,000 non-blank values
            "comment": ["ok"] * 6_000 + ["qzx7@kvwj.org"] * (n - 6_000),
            "Email": [""] * 10 + ["qzx7@kvwj.org"] * (n - 10),
        },
        dtype=object,
    )
    findings = screen_identifiers(frame, id_column="patient_id")
    assert [f.column for f in findings] == ["Email"]
    email = findings[0]
    assert email.n_values == 5_000 and email.n_flagged == 5_000
    assert "first 5,000 non-blank values" in email.reason
    small = screen_identifiers(frame, sample_rows=100)
    assert [(f.column, f.n_values) for f in small] == [("Email", 100)]
    everything = screen_identifiers(frame[["comment"]], sample_rows=n)
    assert everything[0].n_values == n


def test_masks_keep_the_shape_and_show_at_most_two_characters():
    assert mask_value("(555) 867-5309") == "(***) ***-**09"
    assert mask_value("123-45-6789") == "***-**-**89"
    assert mask_value("2024-03-05") == "****-**-05"
    assert mask_value("qzx7@kvwj.org") == "****@****.*rg"
    assert mask_value("123 Main St") == "*** **** St"
    assert mask_value("93") == "**"
    assert mask_value("90-94") == "**-**"
    assert mask_value("  John Smith ") == "**** ***th"
    assert mask_value("") == ""
    long = mask_value("x" * 100)
    assert len(long) == 40 and long.endswith("…")
    for raw in ["Zoë Ångström", "1HGCM82633A004352", "a3f5" * 16, "+44 20 7946 0958"]:
        masked = mask_value(raw)
        assert sum(ch.isalnum() for ch in masked) <= 2
        assert not revealing_substrings(raw) & {
            masked[i : i + k] for k in range(3, len(masked) + 1) for i in range(len(masked))
        }


def test_findings_frame_has_the_documented_columns():
    findings = screen(
        {
            "Email": ["qzx7@kvwj.org", "zz9@yqv.io", "vq@kwz.net"],
            "SSN": ["withheld", "withheld", "withheld"],
        }
    )
    table = findings_frame(findings)
    assert tuple(table.columns) == FINDINGS_FRAME_COLUMNS
    assert table["column"].tolist() == ["Email", "SSN"]
    assert table.loc[0, "examples"] == "****@****.*rg, ***@***.io, **@***.*et"
    assert table.loc[1, "examples"] == ""
    assert table["n_flagged"].tolist() == [3, 0]
    empty = findings_frame([])
    assert tuple(empty.columns) == FINDINGS_FRAME_COLUMNS and empty.empty


def test_unresolved():
    findings = screen(
        {
            "Email": ["qzx7@kvwj.org", "zz9@yqv.io", "vq@kwz.net"],
            "zip": ["02139", "10001", "94107"],
            "VisitDate": ["2024-03-05", "2024-03-19", "2024-04-02"],
        },
        date_columns_used_for_time=["VisitDate"],
    )
    assert [f.column for f in unresolved(findings, dropped=(), confirmed_safe=())] == [
        "Email",
        "zip",
        "VisitDate",
    ]
    left = unresolved(findings, dropped=["Email", "VisitDate"], confirmed_safe=set())
    assert [f.column for f in left] == ["zip"]
    assert unresolved(findings, dropped={"Email", "VisitDate"}, confirmed_safe={"zip"}) == []
    # exact names: "email" is not "Email"; unknown names are harmless
    left = unresolved(findings, dropped=["email", "VisitDate", "nope"], confirmed_safe=["zip"])
    assert [f.column for f in left] == ["Email"]


def test_options_naming_absent_columns_are_ignored():
    frame = pd.DataFrame({"a": ["1", "2", "3"]})
    assert screen_identifiers(frame, id_column="patient_id") == []
    assert screen_identifiers(frame, date_columns_used_for_time=["VisitDate"]) == []


@pytest.mark.parametrize("sample_rows", [0, -5, 2.5, True])
def test_a_bad_sample_size_is_a_clear_error(sample_rows):
    with pytest.raises(DataValidationError, match="sample_rows"):
        screen_identifiers(pd.DataFrame({"a": ["1"]}), sample_rows=sample_rows)


@pytest.mark.parametrize(
    ("column", "tokens"),
    [
        ("PatientDOB", ("patient", "dob")),
        ("MRNNumber", ("mrn", "number")),
        ("e-mail address", ("e", "mail", "address")),
        ("Acct #", ("acct", "number")),
        ("pcl5_inf3", ("pcl", "5", "inf", "3")),
    ],
)
def test_name_tokens(column, tokens):
    assert name_tokens(column) == tokens


def test_a_count_or_year_in_a_column_named_for_dates_is_not_flagged():
    frame = pd.DataFrame(
        {
            "Infusions to date": ["0", "1", "2", "6", "9"],
            "Year of diagnosis": ["2019", "2021", "2024", "2020", "2018"],
            "Visit date": ["2024-03-05", "2024-04-01", "2024-05-07", "2024-06-01", "2024-07-02"],
        }
    )
    found = {f.column for f in screen_identifiers(frame)}
    assert found == {"Visit date"}
