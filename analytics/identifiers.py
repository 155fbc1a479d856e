"""The identifier screen: flag columns of an upload that look like they hold identifiers.

Uploads are meant to be de-identified (HIPAA Safe Harbor, 45 CFR §164.514(b)(2); the 18
identifier kinds are listed in ``reference/instruments.md``). This screen runs on the raw
uploaded table, every column as text, *before* anything is stored, and reports columns
whose **name** or **values** suggest an identifier. A flagged column must be dropped or
confirmed safe by the user before the dataset may be stored (:func:`unresolved`).

Rules, thresholds and the masking rule are explained for users in ``docs/identifiers.md``.
In short:

- A value matches a pattern only when the *whole* (trimmed) value matches, so a score of
  ``12`` is never a phone number and a sentence containing an e-mail address is not one.
- Only the first ``sample_rows`` non-blank values of each column are inspected.
- A column is flagged by its values when at least ``MIN_MATCHES`` (3) inspected values match,
  or all of them when it has fewer than 3 non-blank values. Where the column's name already
  says what it holds (an ``age`` column, a ``zip`` column, a ``name`` column, the id column),
  one matching value is enough.
- A column is flagged by its name alone for review. A column with no non-blank values is
  never flagged: there is nothing in it that could identify anyone.
- Examples are masked with :func:`mask_value`; no field of a finding holds a raw value.

Reference for the restricted ZIP prefixes: HHS Office for Civil Rights, *Guidance Regarding
Methods for De-identification of Protected Health Information* (2012), §III.3 (2000 Census).
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from analytics.errors import DataValidationError

# --------------------------------------------------------------------------------------
# Kinds, labels and suggestions (data, not code)
# --------------------------------------------------------------------------------------

KINDS: tuple[str, ...] = (
    "name",
    "email",
    "phone",
    "ssn",
    "mrn",
    "street_address",
    "full_date",
    "zip_code",
    "age_over_89",
    "url",
    "ip_address",
    "derived_id",
    "other_id",
)

#: What values of each kind "look like", for the reason text.
KIND_LABELS: dict[str, str] = {
    "name": "person names",
    "email": "e-mail addresses",
    "phone": "phone or fax numbers",
    "ssn": "social security numbers",
    "mrn": "medical record numbers",
    "street_address": "street addresses or places below state level",
    "full_date": "dates finer than a year (with a day or a month)",
    "zip_code": "ZIP codes",
    "age_over_89": "ages over 89",
    "url": "web addresses (URLs)",
    "ip_address": "IP addresses",
    "derived_id": "hashes (an id derived from an identifier)",
    "other_id": "account, insurance, licence, device or other identifying numbers",
}

#: What to do with a column whose values matched.
SUGGESTIONS: dict[str, str] = {
    "name": "Drop the column: names must not be stored.",
    "email": "Drop the column.",
    "phone": "Drop the column.",
    "ssn": "Drop the column.",
    "mrn": "Drop the column.",
    "street_address": "Drop the column (keep the state at most).",
    "full_date": "Convert to days since first infusion, then drop the date.",
    "zip_code": "Keep only the first 3 digits (000 for areas under 20,000 people), "
    "or drop the column.",
    "age_over_89": "Cap at 90+ (write every age over 89 as '90+'), or drop the column.",
    "url": "Drop the column.",
    "ip_address": "Drop the column.",
    "derived_id": "Drop the column: a hash of an MRN or SSN is still an identifier.",
    "other_id": "Drop the column.",
}

#: The suggestion for an id column holding record numbers or hashes.
ID_COLUMN_SUGGESTION = (
    "Replace the ids with sequential study ids (P001, P002, ...) that are not derived from "
    "a record number (a hash of one is still an identifier); keep the key outside this app."
)

#: The suggestion for a column flagged by its name only.
REVIEW_SUGGESTION = "Review the values: drop the column, or confirm that it holds no identifiers."

#: The suggestion for a date column that the import converts to days and drops.
DATE_FOR_TIME_SUGGESTION = "will be converted to days since first infusion and dropped"

MIN_MATCHES = 3
"""Matching values needed to flag a column by its values alone (fewer when the column has
fewer non-blank values). Where the column name gives context, one value is enough."""

ZIP_SHAPE_SHARE = 0.9
"""Share of 5-digit values that makes an unnamed column look like a ZIP code column."""

MAX_PATTERN_LENGTH = 200
"""Longer values are free text; no identifier pattern is tried on them."""

MAX_EXAMPLES = 3
MAX_EXAMPLE_LENGTH = 40
REVEALED_CHARACTERS = 2
MIN_LENGTH_TO_REVEAL = 6

#: Placeholders read as blank (compared case-insensitively after trimming).
BLANK_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "."})

#: 3-digit ZIP prefixes of areas with 20,000 or fewer people (HHS 2012 guidance, 2000
#: Census); Safe Harbor requires them to be written as 000.
RESTRICTED_ZIP3 = frozenset(
    """036 059 063 102 203 556 692 790 821 823 830 831 878 879 884 890 893""".split()  # noqa: SIM905
)

FINDINGS_FRAME_COLUMNS: tuple[str, ...] = (
    "column",
    "kind",
    "reason",
    "n_flagged",
    "n_values",
    "examples",
    "suggestion",
)


@dataclass(frozen=True)
class IdentifierFinding:
    """One column that looks like it holds an identifier.

    ``n_flagged`` of the ``n_values`` inspected non-blank values matched the kind's
    patterns (``n_values`` is capped at ``sample_rows``). ``by_name`` says the column's
    name points at this kind; ``by_value`` that its values matched. ``masked_examples``
    holds at most three matching values masked by :func:`mask_value`.
    """

    column: str
    kind: str
    reason: str
    n_flagged: int
    n_values: int
    masked_examples: tuple[str, ...]
    by_name: bool
    by_value: bool
    suggestion: str


# --------------------------------------------------------------------------------------
# Masking
# --------------------------------------------------------------------------------------


def mask_value(text: str) -> str:
    """Hide a value's content but keep its shape.

    Every letter and digit becomes ``*`` except the last two, which are shown only when the
    value has at least six letters and digits; spaces and punctuation are kept. So
    ``"(555) 867-5309"`` -> ``"(***) ***-**09"``, ``"123-45-6789"`` -> ``"***-**-**89"``,
    ``"2024-03-05"`` -> ``"****-**-05"``, ``"93"`` -> ``"**"``. At most two characters of a
    value are ever revealed. Masks longer than 40 characters are cut short with ``…``.
    """
    text = str(text).strip()
    n_alnum = sum(ch.isalnum() for ch in text)
    reveal = REVEALED_CHARACTERS if n_alnum >= MIN_LENGTH_TO_REVEAL else 0
    out: list[str] = []
    seen = 0
    for ch in text:
        if ch.isalnum():
            seen += 1
            out.append(ch if seen > n_alnum - reveal else "*")
        elif ch.isspace():
            out.append(" ")
        else:
            out.append(ch)
    masked = "".join(out)
    if len(masked) > MAX_EXAMPLE_LENGTH:
        masked = masked[: MAX_EXAMPLE_LENGTH - 1] + "…"
    return masked


# --------------------------------------------------------------------------------------
# Column names
# --------------------------------------------------------------------------------------


def name_tokens(column: object) -> tuple[str, ...]:
    """Lower-case word tokens of a column name: ``"PatientDOB (2)"`` -> patient, dob, 2.

    Splits on punctuation, spaces, camelCase and letter/digit boundaries; ``#`` reads as
    ``number``.
    """
    text = str(column).replace("#", " number ")
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    text = re.sub(r"([A-Za-z])(\d)", r"\1 \2", text)
    text = re.sub(r"(\d)([A-Za-z])", r"\1 \2", text)
    return tuple(t for t in re.split(r"[^0-9a-z]+", text.lower()) if t)


def _phrases(*items: str) -> tuple[str, ...]:
    return items


_ID_WORDS = ("id", "ids", "number", "num", "no", "nr", "nbr", "identifier")


def _with_id_words(*qualifiers: str) -> tuple[str, ...]:
    return tuple(f"{q} {w}" for q in qualifiers for w in _ID_WORDS)


# Rules in priority order: the first kind whose phrase occurs (as whole tokens) wins.
_NAME_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("email", _phrases("email", "emails", "e mail", "emailaddress", "email address")),
    ("url", _phrases("url", "urls", "uri", "website", "web site", "web address", "homepage")),
    ("ip_address", _phrases("ip address", "ip addr", "ipaddress", "ipv 4", "ipv 6")),
    (
        "ssn",
        _phrases("ssn", "social security", "socialsecurity", "social insurance", "ssn number"),
    ),
    (
        "phone",
        _phrases(
            "phone",
            "phones",
            "telephone",
            "tel",
            "mobile",
            "cellphone",
            "cell phone",
            "cell number",
            "fax",
            "pager",
            "phonenumber",
            "contact number",
        ),
    ),
    ("derived_id", _phrases("hash", "hashed", "digest", "md 5", "sha", "sha 1", "sha 256")),
    (
        "mrn",
        _phrases(
            "mrn",
            "medical record",
            "medicalrecord",
            "record number",
            "record no",
            "record num",
            "recordnumber",
            "chart",
            "chart number",
            "emr",
            "ehr id",
            "hospital number",
            "hospital id",
            "hosp no",
        ),
    ),
    (
        "other_id",
        _phrases(
            "account",
            "accounts",
            "acct",
            "health plan",
            "licence",
            "license",
            "passport",
            "certificate",
            "serial",
            "serial number",
            "imei",
            "udi",
            "mac address",
            "vehicle",
            "plate",
            "vin",
            "username",
            "user name",
            "login",
            "biometric",
            "fingerprint",
            "photo",
            "photograph",
        )
        + _with_id_words(
            "insurance",
            "member",
            "policy",
            "subscriber",
            "beneficiary",
            "medicaid",
            "medicare",
            "plan",
            "payer",
            "device",
            "cert",
        ),
    ),
    (
        "zip_code",
        _phrases(
            "zip", "zipcode", "zip code", "postal", "postcode", "post code", "postalcode", "zip 5"
        ),
    ),
    (
        "street_address",
        _phrases(
            "address",
            "addresses",
            "addr",
            "street",
            "city",
            "town",
            "county",
            "suburb",
            "neighborhood",
            "neighbourhood",
            "precinct",
            "residence",
            "apt",
            "apartment",
            "latitude",
            "longitude",
            "lat",
            "lon",
            "lng",
            "geocode",
            "coordinates",
            "census tract",
            "po box",
        ),
    ),
    (
        "full_date",
        _phrases(
            "date",
            "dates",
            "dt",
            "datetime",
            "timestamp",
            "dob",
            "dod",
            "birth",
            "birthday",
            "birthdate",
            "dateofbirth",
            "date of birth",
            "date of death",
        ),
    ),
    (
        "name",
        _phrases(
            "firstname",
            "lastname",
            "fullname",
            "surname",
            "surnames",
            "forename",
            "fname",
            "lname",
            "middlename",
            "maidenname",
            "patientname",
            "initials",
            "emergency contact",
            "next of kin",
            "guardian",
        ),
    ),
)

# "name" is a person's name unless a word right before it (or after "name of") says what
# else is named: "site_name", "instrument name", "name of clinic".
_NOT_PERSON = frozenset(
    """site clinic facility location hospital practice instrument measure scale
    questionnaire survey form drug medication med test study protocol file sheet
    variable item field column arm group program programme diagnosis condition treatment
    route trauma visit event session timepoint score unit product brand device org
    organisation organization plan""".split()  # noqa: SIM905
)

# Words that make person-name shaped values count, without flagging the column by name.
_PERSON_CONTEXT = frozenset(
    """patient client person contact guardian parent spouse kin relative emergency provider
    clinician physician doctor therapist psychiatrist nurse prescriber referrer
    referring signed signature by staff author informant""".split()  # noqa: SIM905
)

_NOT_DATE = frozenset({"update", "candidate", "validate", "mandate", "sedate", "accommodate"})


@dataclass(frozen=True)
class _Hints:
    kind: str | None  # the kind the name suggests, which flags the column on its own
    person: bool  # person-name shaped values count
    age: bool  # ages over 89 count
    birth_year: bool  # years of birth implying an age over 89 count (birth-date columns)
    id_like: bool  # 7-10 digit numbers count as record numbers (an id or number column)


def _has_phrase(tokens: tuple[str, ...], phrase: str) -> bool:
    return f" {phrase} " in f" {' '.join(tokens)} "


def _person_name_word(tokens: tuple[str, ...]) -> bool:
    for i, token in enumerate(tokens):
        if token not in {"name", "names", "nm"}:
            continue
        before = tokens[i - 1] if i > 0 else None
        after = tokens[i + 2] if i + 2 < len(tokens) and tokens[i + 1] == "of" else None
        if before not in _NOT_PERSON and after not in _NOT_PERSON:
            return True
    return False


def _name_hints(column: object) -> _Hints:
    tokens = name_tokens(column)
    joined = "".join(tokens)
    kind = None
    for rule_kind, phrases in _NAME_RULES:
        if any(_has_phrase(tokens, p) for p in phrases):
            kind = rule_kind
            break
    if kind is None and joined == "ip":
        kind = "ip_address"
    if kind is None and any(
        len(t) > 4 and (t.endswith("date") or t.startswith("date")) and t not in _NOT_DATE
        for t in tokens
    ):
        kind = "full_date"
    if kind is None and _person_name_word(tokens):
        kind = "name"
    birth = any(t in {"dob", "birth", "birthday", "birthdate", "dateofbirth"} for t in tokens)
    birth_year = "yob" in tokens or (birth and any(t in {"year", "yr"} for t in tokens))
    if birth_year and kind == "full_date":
        kind = None  # a year of birth alone is allowed; its values are checked for age > 89
    age = any(t in {"age", "ages"} for t in tokens) and not any(
        t in {"month", "months", "mo", "week", "weeks", "wk", "day", "days"} for t in tokens
    )
    person = kind == "name" or any(t in _PERSON_CONTEXT for t in tokens)
    id_like = kind == "mrn" or any(t in _ID_WORDS for t in tokens)
    return _Hints(
        kind=kind, person=person, age=age, birth_year=birth or birth_year, id_like=id_like
    )


# --------------------------------------------------------------------------------------
# Value patterns (each must match the whole trimmed value)
# --------------------------------------------------------------------------------------

_EMAIL = (
    r"(?:mailto:)?[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
)
_URL = r"(?:(?:https?|ftp)://|www\.)[^\s/$.?#][^\s]*"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"(?:{_OCTET}\.){{3}}{_OCTET}(?:/\d{{1,2}}|:\d{{1,5}})?"
_IPV6_CANDIDATE = r"\[?[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:%\w+)?\]?(?:/\d{1,3})?"
_SSN = r"\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}"
_EXT = r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?"
_US_PHONE = rf"(?:\+?1[\s.\-]?)?(?:\(\d{{3}}\)\s*|\d{{3}}[\s.\-])\d{{3}}[\s.\-]\d{{4}}{_EXT}"
_INTL_PHONE = rf"\+\d{{1,3}}(?:[\s.\-]?\(?\d{{1,5}}\)?){{2,6}}{_EXT}"
_ANY_PHONE = rf"\+?[\d\s().\-/]{{7,24}}{_EXT}"

_SUFFIX = (
    r"(?:st|street|ave|avenue|av|rd|road|blvd|boulevard|dr|drive|ln|lane|ct|court|way|pl|"
    r"place|ter|terrace|cir|circle|pkwy|parkway|hwy|highway|sq|square|trl|trail|aly|alley|"
    r"crescent|cres|close|grove|plaza|loop|pike)"
)
_STREET = (
    rf"\d{{1,6}}[a-z]?(?:-\d{{1,4}})?\s+(?:[a-z0-9.'\-]+\s+){{1,4}}{_SUFFIX}\.?"
    r"(?:\s+(?:n|s|e|w|ne|nw|se|sw|north|south|east|west)\.?)?"
    r"(?:,?\s*(?:apt|apartment|suite|ste|unit|#|fl|floor|rm|room|bldg)\.?\s*#?\s*[a-z0-9\-]+)?"
    r"(?:,\s*[a-z .'\-]+){0,2}(?:,?\s*[a-z]{2}\s+\d{5}(?:-\d{4})?)?"
)
_PO_BOX = r"p\.?\s*o\.?\s*box\s+\d+"

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_M = r"(?:0?[1-9]|1[0-2])"
_D = r"(?:0?[1-9]|[12]\d|3[01])"
_Y4 = r"(?:1[89]\d\d|20\d\d)"
_Y = rf"(?:{_Y4}|\d{{2}})"
_TIME = (
    r"(?:(?:t|\s+)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:am|pm)?"
    r"(?:\s*(?:z|utc|[+\-]\d{2}:?\d{2}))?)?"
)
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
_ORD = r"(?:st|nd|rd|th)?"
_DATE = "|".join(
    [
        *(rf"{_Y4}{s}{_M}{s}{_D}{_TIME}" for s in (r"-", r"/", r"\.")),
        rf"{_Y4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])",
        *(rf"(?:{_M}{s}{_D}|{_D}{s}{_M}){s}{_Y}{_TIME}" for s in (r"/", r"-", r"\.")),
        rf"{_WEEKDAY}{_D}{_ORD}[\s\-/.]*{_MONTHS}\.?[\s\-/.,]*{_Y}{_TIME}",
        rf"{_WEEKDAY}{_MONTHS}\.?\s*{_D}{_ORD},?\s*{_Y}{_TIME}",
        # month and year: the month is a date element too
        rf"{_MONTHS}\.?[\s\-/,]*{_Y4}",
        rf"{_Y4}[-/](?:0[1-9]|1[0-2])",
        rf"(?:0?[1-9]|1[0-2])/{_Y4}",
    ]
)
_ZIP5 = r"\d{5}"
_ZIP9 = r"\d{5}-\d{4}"
_ZIP_ANY = r"\d{5}(?:-?\d{4})?"

_UPPER = r"A-ZÀ-ÖØ-Þ"
_LOWER = r"a-zß-öø-ÿ"
_CAP = rf"[{_UPPER}][{_LOWER}{_UPPER}'’\-]+"
_INITIAL = rf"[{_UPPER}]\.?"
_TITLE = r"(?:(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+)?"
_PERSON = "|".join(
    [
        # two or three capitalised words, a middle initial allowed: "Mary K. Dovrin"
        rf"{_TITLE}{_CAP}(?:\s+(?:{_CAP}|{_INITIAL}))?\s+{_CAP}",
        # "Last, First" and "SMITH, JOHN"
        rf"{_CAP},\s*{_CAP}(?:\s+(?:{_CAP}|{_INITIAL}))?",
        rf"[{_UPPER}'\-]{{2,}}(?:,?\s+[{_UPPER}'\-]{{2,}}){{1,2}}",
    ]
)
_SINGLE_NAME = _CAP

_HEX_HASH = r"[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}"
_RECORD_NUMBER = r"\d{7,10}"
_MAC = r"[0-9A-Fa-f]{2}(?:[:\-][0-9A-Fa-f]{2}){5}"
_VIN = r"(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])(?=[A-HJ-NPR-Z0-9]*\d)[A-HJ-NPR-Z0-9]{17}"
_MBI_L = "[AC-HJKMNP-RT-Y]"
_MBI_A = "[AC-HJKMNP-RT-Y0-9]"
_MBI = rf"[1-9]{_MBI_L}{_MBI_A}\d-?{_MBI_L}{_MBI_A}\d-?{_MBI_L}{_MBI_L}\d\d"
_OTHER_ID = r"(?=(?:[^\d]*\d){4})[A-Za-z0-9][A-Za-z0-9\-]{4,19}"

_AGE_NUMBER = r"(\d{1,3}(?:\.\d+)?)\s*(?:y|yr|yrs|years?)?(?:\s*old)?"
_AGE_RANGE = r"(\d{1,3})\s*(?:-|–|to)\s*(\d{1,3})"


def _full(values: pd.Series, pattern: str, *, ignore_case: bool = False) -> pd.Series:
    flags = re.IGNORECASE if ignore_case else 0
    return values.str.fullmatch(pattern, flags=flags).fillna(False).astype(bool)


def _is_ipv6(value: str) -> bool:
    text = value.strip("[]").split("/")[0].split("%")[0]
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False


def _digit_count(values: pd.Series) -> pd.Series:
    return values.str.count(r"\d")


def _ages_over_89(values: pd.Series) -> pd.Series:
    single = values.str.fullmatch(_AGE_NUMBER, flags=re.IGNORECASE).fillna(False)
    number = pd.to_numeric(
        values.str.extract(rf"^{_AGE_NUMBER}$", flags=re.IGNORECASE)[0], errors="coerce"
    )
    over = single & (number > 89)
    ranges = values.str.extract(rf"^{_AGE_RANGE}$")
    upper = pd.to_numeric(ranges[1], errors="coerce")
    return (over | (upper > 89)).fillna(False).astype(bool)


def _birth_years_over_89(values: pd.Series) -> pd.Series:
    year = pd.to_numeric(values.where(values.str.fullmatch(r"\d{4}").fillna(False)))
    latest = _dt.date.today().year - 90
    return ((year >= 1850) & (year <= latest)).fillna(False).astype(bool)


@dataclass(frozen=True)
class _Match:
    kind: str
    hits: pd.Series  # boolean, aligned with the distinct sampled values
    n: int  # sampled values (with repeats) that match
    contextual: bool  # the column name (or the id column) gave the context
    label: str


def _value_matches(
    values: pd.Series,
    weights: pd.Series,
    hints: _Hints,
    *,
    is_id_column: bool,
    used_for_time: bool,
) -> list[_Match]:
    """Every kind whose pattern some distinct sampled value matches, with its hits.

    ``values`` are the distinct sampled values and ``weights`` how often each occurs.
    """
    short = values.str.len() <= MAX_PATTERN_LENGTH
    v = values.where(short, "")
    named = hints.kind
    out: list[_Match] = []

    def add(kind: str, hits: pd.Series, *, contextual: bool = False, label: str = "") -> None:
        hits = hits & short
        if hits.any():
            n = int(weights[hits].sum())
            out.append(
                _Match(kind, hits, n, contextual or named == kind, label or KIND_LABELS[kind])
            )

    add("email", _full(v, _EMAIL))
    add("url", _full(v, _URL, ignore_case=True))
    ipv6 = _full(v, _IPV6_CANDIDATE)
    if ipv6.any():
        ipv6 = ipv6 & v.map(_is_ipv6).astype(bool)
    add("ip_address", _full(v, _IPV4) | ipv6)
    ssn = _full(v, _SSN)
    if named == "ssn":
        ssn = ssn | _full(v, r"\d{9}")
    add("ssn", ssn)
    phone = _full(v, _US_PHONE, ignore_case=True) | (
        _full(v, _INTL_PHONE, ignore_case=True) & _digit_count(v).between(8, 15)
    )
    if named == "phone":
        phone = phone | (_full(v, _ANY_PHONE, ignore_case=True) & _digit_count(v).between(7, 15))
    add("phone", phone)
    add("street_address", _full(v, _STREET, ignore_case=True) | _full(v, _PO_BOX, ignore_case=True))
    add("full_date", _full(v, _DATE, ignore_case=True), contextual=used_for_time)

    zip9 = _full(v, _ZIP9)
    if named == "zip_code":
        restricted = _full(v, r"\d{3}") & v.isin(RESTRICTED_ZIP3)
        add("zip_code", _full(v, _ZIP_ANY) | restricted)
    else:
        zip5 = _full(v, _ZIP5)
        shaped = (
            not is_id_column
            and not hints.id_like
            and weights.sum() >= MIN_MATCHES
            and weights[zip5 | zip9].sum() >= ZIP_SHAPE_SHARE * weights.sum()
        )
        add("zip_code", zip9 | zip5 if shaped else zip9)

    if hints.age:
        add("age_over_89", _ages_over_89(v), contextual=True)
    if hints.birth_year:
        add(
            "age_over_89",
            _birth_years_over_89(v),
            contextual=True,
            label="years of birth implying an age over 89",
        )
    if hints.person:
        person = _full(v, _PERSON)
        if named == "name":
            person = person | _full(v, _SINGLE_NAME)
        add("name", person, contextual=True)
    if is_id_column or hints.id_like:
        add(
            "mrn",
            _full(v, _RECORD_NUMBER),
            contextual=True,
            label="7-10 digit numbers, like medical record numbers",
        )
    hashes = _full(v, _HEX_HASH)
    add(
        "derived_id",
        hashes,
        contextual=is_id_column or hints.id_like,
        label="32, 40 or 64-character hexadecimal strings, like a hash of an identifier",
    )
    other = _full(v, _MAC) | _full(v, _VIN) | _full(v, _MBI, ignore_case=True)
    if named == "other_id":
        other = other | _full(v, _OTHER_ID)
    add("other_id", other & ~hashes)
    return out


# --------------------------------------------------------------------------------------
# The screen
# --------------------------------------------------------------------------------------


def _sample(column: pd.Series, limit: int) -> pd.Series:
    """The first ``limit`` non-blank values, as trimmed text, read in chunks."""
    parts: list[pd.Series] = []
    found = 0
    start = 0
    chunk = max(limit, 1000)
    while found < limit and start < len(column):
        part = column.iloc[start : start + chunk]
        part = part[part.notna()].astype(str).str.strip()
        part = part[~part.str.lower().isin(BLANK_TOKENS)]
        parts.append(part)
        found += len(part)
        start += chunk
    if not parts:
        return pd.Series([], dtype=object)
    return pd.concat(parts).iloc[:limit].reset_index(drop=True).astype(object)


def _count(n: int) -> str:
    return f"{n:,}"


def _of_values(n_flagged: int, n_values: int, capped: bool, things: str) -> str:
    if capped:
        return f"{_count(n_flagged)} of the first {_count(n_values)} non-blank {things}"
    return f"{_count(n_flagged)} of {_count(n_values)} {things}"


def _small_numbers(values: pd.Series) -> bool:
    """Every value a plain number below 10,000 (a count, a score or a year): a column
    named for dates that holds such values holds no date finer than a year."""
    numbers = pd.to_numeric(values.astype(str).str.strip(), errors="coerce")
    return bool(numbers.notna().all() and (numbers.abs() < 10_000).all())


def _screen_column(
    column: str,
    values: pd.Series,
    *,
    capped: bool,
    is_id_column: bool,
    used_for_time: bool,
) -> IdentifierFinding | None:
    n_values = len(values)
    if n_values == 0:
        return None
    hints = _name_hints(column)
    threshold = min(MIN_MATCHES, n_values)
    distinct = pd.Series(pd.unique(values), dtype=object)
    weights = distinct.map(values.value_counts()).astype("int64")
    matches = _value_matches(
        distinct, weights, hints, is_id_column=is_id_column, used_for_time=used_for_time
    )
    passing = [m for m in matches if m.n >= (1 if m.contextual else threshold)]
    if not passing and hints.kind is None and not used_for_time:
        return None
    if not passing and hints.kind == "full_date" and not used_for_time and _small_numbers(distinct):
        return None  # "Infusions to date", "Year of diagnosis": counts and years, not dates
    # The kind most values match; ties go to the order of KINDS. A date column used for
    # time is reported as a date whatever else it holds (it is dropped either way).
    passing.sort(key=lambda m: (-m.n, KINDS.index(m.kind)))
    if used_for_time:
        kind = "full_date"
    elif passing:
        kind = passing[0].kind
    else:
        kind = hints.kind
    primary = next((m for m in passing if m.kind == kind), None)
    by_value = primary is not None
    by_name = (
        hints.kind == kind
        or (kind == "age_over_89" and (hints.age or hints.birth_year))
        or (kind == "name" and hints.person)
    )

    parts: list[str] = []
    if primary is not None:
        n_flagged = primary.n
        examples = tuple(mask_value(x) for x in distinct[primary.hits].iloc[:MAX_EXAMPLES])
        things = "ids" if is_id_column and kind in {"mrn", "derived_id"} else "values"
        parts.append(f"{_of_values(n_flagged, n_values, capped, things)} look like {primary.label}")
    else:
        n_flagged = 0
        examples = ()
    if hints.kind == kind:
        parts.append(f"the column name suggests {KIND_LABELS[kind]}")
        if not by_value:
            parts.append(f"none of the {_count(n_values)} values matched the patterns checked")
    elif hints.kind is not None:
        parts.append(f"the column name suggests {KIND_LABELS[hints.kind]}")
    if is_id_column and by_value and kind in {"mrn", "derived_id"}:
        parts.append("the id column must hold a study id that is not derived from an identifier")
    if used_for_time:
        parts.append("it is the date used to work out days since first infusion")
    for other in passing:
        if other is not primary:
            count = _of_values(other.n, n_values, capped, "values")
            parts.append(f"also {count} look like {other.label}")

    if used_for_time:
        suggestion = DATE_FOR_TIME_SUGGESTION
    elif by_value and is_id_column and kind in {"mrn", "derived_id"}:
        suggestion = ID_COLUMN_SUGGESTION
    elif by_value:
        suggestion = SUGGESTIONS[kind]
    else:
        suggestion = REVIEW_SUGGESTION
    reason = "; ".join(parts)
    return IdentifierFinding(
        column=column,
        kind=kind,
        reason=reason[:1].upper() + reason[1:],
        n_flagged=n_flagged,
        n_values=n_values,
        masked_examples=examples,
        by_name=by_name,
        by_value=by_value,
        suggestion=suggestion,
    )


def screen_identifiers(
    frame: pd.DataFrame,
    *,
    id_column: str | None = None,
    date_columns_used_for_time: Sequence[str] = (),
    sample_rows: int = 5000,
) -> list[IdentifierFinding]:
    """Flag the columns of a raw upload that look like they hold Safe Harbor identifiers.

    Parameters
    ----------
    frame
        The uploaded table, ideally every column as text (as read from CSV or Excel).
        It is not modified.
    id_column
        The column mapped as the patient id. Besides the other checks, 7-10 digit numbers
        (kind ``mrn``) and 32/40/64-character hexadecimal strings (kind ``derived_id``) in
        it are flagged from a single value; short study ids (P001, 17, DEMO-0001) are not.
    date_columns_used_for_time
        Date columns the import converts to days since first infusion and then drops.
        They are still reported (kind ``full_date``) with the suggestion
        :data:`DATE_FOR_TIME_SUGGESTION`, so the screen can show them as handled.
    sample_rows
        Only the first ``sample_rows`` non-blank values of each column are inspected;
        ``n_values`` of a finding never exceeds it.

    Returns
    -------
    At most one :class:`IdentifierFinding` per column, in column order. The kind is the
    one most inspected values match; other matching kinds are named in the reason.

    An ``id_column`` or date column the table lacks is ignored: there is nothing of it to
    screen or store (the import reports missing columns itself).

    Raises
    ------
    DataValidationError
        When ``sample_rows`` is not a whole number of at least 1.
    """
    if isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 1:
        raise DataValidationError(
            f"sample_rows must be a positive whole number, not {sample_rows!r}"
        )
    names = [str(c) for c in frame.columns]
    date_set = {str(c) for c in date_columns_used_for_time}

    findings: list[IdentifierFinding] = []
    for position, name in enumerate(names):
        column = frame.iloc[:, position]
        values = _sample(column, sample_rows + 1)
        capped = len(values) > sample_rows
        values = values.iloc[:sample_rows]
        finding = _screen_column(
            name,
            values,
            capped=capped,
            is_id_column=id_column is not None and name == str(id_column),
            used_for_time=name in date_set,
        )
        if finding is not None:
            findings.append(finding)
    return findings


# --------------------------------------------------------------------------------------
# Display and the user's choices
# --------------------------------------------------------------------------------------


def findings_frame(findings: Iterable[IdentifierFinding]) -> pd.DataFrame:
    """The findings as a table for display, one row per flagged column.

    Columns: ``column``, ``kind``, ``reason``, ``n_flagged`` (matching values),
    ``n_values`` (non-blank values inspected), ``examples`` (up to three masked examples
    joined by ``", "``; empty when flagged by name only) and ``suggestion``.
    """
    rows = [
        {
            "column": f.column,
            "kind": f.kind,
            "reason": f.reason,
            "n_flagged": f.n_flagged,
            "n_values": f.n_values,
            "examples": ", ".join(f.masked_examples),
            "suggestion": f.suggestion,
        }
        for f in findings
    ]
    table = pd.DataFrame(rows, columns=list(FINDINGS_FRAME_COLUMNS))
    return table.astype({"n_flagged": "int64", "n_values": "int64"})


def unresolved(
    findings: Iterable[IdentifierFinding],
    *,
    dropped: Collection[str],
    confirmed_safe: Collection[str],
) -> list[IdentifierFinding]:
    """Findings whose column is neither dropped nor confirmed safe, in their order.

    The dataset may be stored only when this is empty. Columns are matched by exact name.
    A date column converted to days is dropped by the import, so pass it in ``dropped``.
    """
    resolved = {str(c) for c in dropped} | {str(c) for c in confirmed_safe}
    return [f for f in findings if f.column not in resolved]


def is_handled(finding: IdentifierFinding) -> bool:
    """True for a date column that the import converts to days and drops."""
    return finding.suggestion == DATE_FOR_TIME_SUGGESTION
