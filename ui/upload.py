"""The Data page's widgets: reading an upload, the mapping editor, the validation report,
the identifier review, saving, and managing stored datasets."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pandas as pd
import streamlit as st

from analytics import schema as s
from analytics.errors import DataValidationError
from analytics.exports import to_csv_bytes
from analytics.identifiers import findings_frame, is_handled, mask_value, screen_identifiers
from analytics.ingest import Ingested, Progress, ingest_table
from analytics.instruments import Instrument
from analytics.mapping import (
    MAPPING_COLUMNS,
    ROLE_MEASURE,
    ROLES,
    TIME_UNITS,
    guess_profile,
    instrument_labels,
    mapping_table,
)
from analytics.profiles import ImportProfile, parse_profile, profile_to_toml
from analytics.readers import RawTable, read_table
from analytics.validation import ValidationResult
from ui import state as k
from ui.auth import User
from ui.datasets import ROOT, store

T = TypeVar("T")
EXAMPLES = {
    "Wide workbook (one row per patient)": ROOT / "sample_data/exports/wide_export.xlsx",
    "Messy long CSV (one row per assessment)": ROOT / "sample_data/exports/messy_long_export.csv",
}


@dataclass(frozen=True)
class Source:
    """An uploaded file, or one of the bundled example exports."""

    file_id: str
    name: str
    data: bytes


def example_source(label: str) -> Source:
    path = EXAMPLES[label]
    return Source(f"example:{path.name}", path.name, path.read_bytes())


class _Recent:
    """The last few results of one kind, shared by every session (like ``st.cache_data``,
    but handing back the object itself: a 3-million-row table is not pickled and
    unpickled on each rerun, and the progress drawn while computing is not replayed)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> object | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: tuple, value: object) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _recent(kind: str) -> _Recent:
    """Two results per kind: each may hold a whole upload (about 1 GB at 100,000 patients)."""
    return _Recent(2)


def with_progress(label: str, work: Callable[[Progress], T]) -> T:
    """Run ``work(progress)`` inside a status box: a bar and one line per step as the
    library reports them, so a long upload shows where it is instead of freezing."""
    with st.status(f"{label}…", expanded=True) as box:
        bar = st.progress(0.0)
        shown: list[str] = []

        def report(message: str, fraction: float) -> None:
            if not shown or shown[-1] != message:
                shown.append(message)
                st.caption(message)
            bar.progress(min(max(fraction, 0.0), 1.0), text=message)

        try:
            out = work(report)
        except Exception:
            box.update(label=f"{label}: stopped", state="error", expanded=False)
            raise
        bar.progress(1.0, text="Done")
        box.update(label=f"{label}: done", state="complete", expanded=False)
    return out


def read_source(source: Source, sheet: str | None, limit: int) -> RawTable:
    """The uploaded file read into text cells (computed once per file, sheet and limit)."""
    key = (source.file_id, sheet, limit)
    table = _recent("read").get(key)
    if table is None:
        table = with_progress(
            f"Reading {source.name} ({len(source.data) / 1e6:,.1f} MB)",
            lambda progress: read_table(
                source.data, name=source.name, sheet=sheet, max_bytes=limit, progress=progress
            ),
        )
        _recent("read").put(key, table)
    return table  # type: ignore[return-value]


def ingest_source(file_id: str, sheet: str | None, profile_toml: str, table: RawTable) -> Ingested:
    """The table mapped with a profile, validated and screened (once per mapping)."""
    key = (file_id, sheet, profile_toml)
    ingested = _recent("ingest").get(key)
    if ingested is None:
        ingested = with_progress(
            f"Checking {len(table.frame):,} rows",
            lambda progress: ingest_table(table, parse_profile(profile_toml), progress=progress),
        )
        _recent("ingest").put(key, ingested)
    return ingested  # type: ignore[return-value]


@st.cache_data(max_entries=4, show_spinner=False)
def raw_findings(file_id: str, sheet: str | None, _table: RawTable) -> tuple:
    """Identifier findings over every column, used to mask examples in the editor."""
    frame = _table.frame.drop(columns=[s.SOURCE_ROW])
    return tuple(screen_identifiers(frame))


def starting_profile(
    table: RawTable, profile_file: bytes | None, file_id: str | None = None
) -> tuple[ImportProfile, str]:
    """An uploaded profile, else a saved profile whose columns match, else a guess
    (computed once per file: it reads every column)."""
    if profile_file is not None:
        try:
            text = profile_file.decode("utf-8")
        except UnicodeDecodeError:
            raise DataValidationError(
                "the import profile is not UTF-8 text", file="uploaded profile"
            ) from None
        return parse_profile(text, source="uploaded profile"), "the uploaded import profile"
    match = store().find_profile_for_columns(table.columns)
    if match is not None:
        return parse_profile(match.toml_text, source=match.name), f"saved profile '{match.name}'"
    key = (file_id, table.sheet, table.source)
    profile = _recent("guess").get(key) if file_id is not None else None
    if profile is None:
        profile, _ = guess_profile(table, name=f"{Path(table.source).stem} profile")
        if file_id is not None:
            _recent("guess").put(key, profile)
    return profile, "a guess from the column names and values (check it)"


def _examples(table: RawTable, flagged: set[str]) -> list[str]:
    out = []
    for col in table.columns:
        values = table.frame[col].dropna()
        value = str(values.iloc[0]) if len(values) else ""
        out.append(mask_value(value) if col in flagged else value[:40])
    return out


def mapping_editor(
    table: RawTable,
    profile: ImportProfile,
    registry: Mapping[str, Instrument],
    key: str,
    flagged: set[str],
) -> pd.DataFrame:
    """One editable row per source column; returns the edited mapping table."""
    initial = mapping_table(profile, table)
    initial["example"] = _examples(table, flagged)
    edited = st.data_editor(
        initial,
        key=key,
        hide_index=True,
        width="stretch",
        disabled=["column", "example"],
        column_config={
            "column": st.column_config.TextColumn("Column in your file"),
            "role": st.column_config.SelectboxColumn("Use as", options=list(ROLES), required=True),
            "instrument": st.column_config.SelectboxColumn("Instrument", options=list(registry)),
            "time_unit": st.column_config.SelectboxColumn(
                "Time point in", options=list(TIME_UNITS), help="for one-time-point score columns"
            ),
            "time_value": st.column_config.NumberColumn("Time point", min_value=-3650),
            "example": st.column_config.TextColumn("First value"),
        },
    )
    return edited[list(MAPPING_COLUMNS)]


def label_editor(
    table: RawTable, mapping: pd.DataFrame, registry: Mapping[str, Instrument], key: str
) -> dict[str, str]:
    """For a long export: which instrument each measure label names."""
    measure = mapping.loc[mapping["role"] == ROLE_MEASURE, "column"]
    if measure.empty:
        return {}
    labels = instrument_labels(table.frame[measure.iloc[0]], registry)
    st.markdown("**Instrument names in your file**")
    frame = pd.DataFrame({"label": list(labels), "instrument": list(labels.values())})
    edited = st.data_editor(
        frame,
        key=key,
        hide_index=True,
        disabled=["label"],
        column_config={
            "label": st.column_config.TextColumn("Label in your file"),
            "instrument": st.column_config.SelectboxColumn("Instrument", options=list(registry)),
        },
    )
    return {r.label: r.instrument for r in edited.itertuples() if isinstance(r.instrument, str)}


def validation_report(result: ValidationResult) -> None:
    """The summary line above a filterable table of every problem, downloadable as CSV."""
    n_err, n_warn = len(result.errors), len(result.warnings)
    box = st.success if not n_err and not n_warn else st.warning
    box(f"{result.summary_line()}.", icon=":material/fact_check:")
    if result.issues.empty:
        return
    shown = st.segmented_control(
        "Show",
        options=["error", "warning"],
        format_func={"error": f"Errors ({n_err})", "warning": f"Warnings ({n_warn})"}.get,
        selection_mode="multi",
        default=["error", "warning"],
        key=k.REPORT_SEVERITY,
    )
    issues = result.issues[result.issues["severity"].isin(shown or [])]
    st.dataframe(
        issues,
        hide_index=True,
        width="stretch",
        height=min(400, 40 + 35 * len(issues)),
        column_config={
            "severity": st.column_config.TextColumn("Severity", help="error: row excluded"),
            "row": st.column_config.NumberColumn("Row", help="as your spreadsheet numbers it"),
        },
    )
    st.download_button(
        "Download the report (CSV)",
        to_csv_bytes(result.issues),
        file_name=f"{Path(result.source).stem}_validation.csv",
        mime="text/csv",
        icon=":material/download:",
    )


def identifier_review(ingested: Ingested) -> tuple[list[str], list[str], list[str]]:
    """Every flagged column must be dropped or confirmed safe. Returns (drop, safe, open)."""
    findings = [f for f in ingested.identifier_findings if not is_handled(f)]
    handled = [f for f in ingested.identifier_findings if is_handled(f)]
    for f in handled:
        st.caption(f":material/event: Column '{f.column}': {f.suggestion}.")
    if not findings:
        st.success("No column looks like it holds identifiers.", icon=":material/shield:")
        return [], [], []
    st.warning(
        "These columns may hold identifiers. Drop each one, or confirm that it is safe; "
        "nothing is stored until every column is decided. Values are shown masked.",
        icon=":material/shield:",
    )
    st.dataframe(findings_frame(findings), hide_index=True, width="stretch")
    drop, safe, open_ = [], [], []
    id_col = ingested.profile.patient_id if ingested.profile else s.PATIENT_ID
    for col in dict.fromkeys(f.column for f in findings):
        choice = st.radio(
            f"Column '{col}'",
            options=["drop", "safe"],
            format_func={"drop": "Drop it", "safe": "Keep: it is not an identifier"}.get,
            index=None,
            horizontal=True,
            key=f"{k.IDENTIFIER_PREFIX}{col}",
        )
        if choice == "drop" and col == id_col:
            st.error(
                f"'{col}' is the patient id column and cannot be dropped. If it holds medical "
                "record numbers, replace them with study ids before uploading."
            )
            open_.append(col)
        elif choice == "drop":
            drop.append(col)
        elif choice == "safe":
            safe.append(col)
        else:
            open_.append(col)
    return drop, safe, open_


def save_dataset(
    ingested: Ingested, profile: ImportProfile, name: str, user: str | None = None
) -> str:
    """Store the clean rows and the profile (progress shown); returns the new dataset id."""
    data = ingested.data.drop(columns=[c for c in s.BOOKKEEPING if c in ingested.data.columns])
    toml = profile_to_toml(profile)
    st_ = store()
    record = with_progress(
        f"Saving {len(data):,} rows",
        lambda progress: st_.save(
            data,
            name=name,
            profile_name=profile.name,
            profile_toml=toml,
            source_file=ingested.table.source,
            uploaded_by=user,
            progress=progress,
        ),
    )
    st_.save_profile(profile.name, toml, columns=profile.source_columns())
    st_.record_event("upload", user=user, dataset_id=record.id, detail=f"{record.n_rows} rows")
    return record.id


def dataset_manager(user: User) -> None:
    """Stored datasets; uploaders may rename and delete (with confirmation)."""
    records = store().list()
    if not records:
        st.info("No stored datasets yet. Upload one above; the demo cohort is always there.")
        return
    table = pd.DataFrame(
        {
            "name": [r.name for r in records],
            "patients": [r.n_patients for r in records],
            "rows": [r.n_rows for r in records],
            "instruments": [", ".join(r.instruments) for r in records],
            "uploaded": [r.uploaded_at[:16].replace("T", " ") for r in records],
            "file": [r.source_file for r in records],
            "profile": [r.profile_name for r in records],
            "id": [r.id for r in records],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch")
    if not user.can_upload:
        return
    for r in records:
        with st.expander(f"{r.name}", icon=":material/database:"):
            c1, c2 = st.columns([3, 1])
            new = c1.text_input("Name", value=r.name, key=f"{k.MANAGE_RENAME_PREFIX}{r.id}")
            if c2.button("Rename", key=f"rename_btn_{r.id}") and new.strip() != r.name:
                try:
                    store().rename(r.id, new)
                    store().record_event("rename", user=user.email, dataset_id=r.id)
                    st.rerun()
                except DataValidationError as exc:
                    st.error(str(exc))
            sure = st.checkbox(
                "I want to delete this dataset for everyone (this cannot be undone)",
                key=f"{k.MANAGE_DELETE_PREFIX}{r.id}",
            )
            if st.button("Delete", key=f"delete_btn_{r.id}", disabled=not sure, type="primary"):
                store().delete(r.id)
                store().record_event("delete", user=user.email, dataset_id=r.id)
                st.rerun()


CUSTOM = "data_custom_instruments"  # list of dicts: the custom instruments declared here


def custom_instruments_form() -> tuple[Instrument, ...]:
    """Declare a custom instrument (name, range, direction, thresholds); returns all
    declared in this session, for the mapping's instrument choices and the profile."""
    from analytics.instruments import custom_instrument

    declared: list[dict] = st.session_state.setdefault(CUSTOM, [])
    with st.expander("Declare a custom instrument", icon=":material/add_circle:"):
        with st.form("custom_instrument", clear_on_submit=True, border=False):
            c1, c2 = st.columns(2)
            iid = c1.text_input("Id (lower case, e.g. ucla_ptsd_ri)")
            name = c2.text_input("Name")
            c3, c4, c5 = st.columns(3)
            lo = c3.number_input("Lowest score", value=0.0)
            hi = c4.number_input("Highest score", value=68.0)
            worse = c5.checkbox("Higher is worse", value=True)
            c6, c7 = st.columns(2)
            pct = c6.number_input("Response: % reduction", 1.0, 100.0, value=50.0)
            remission = c7.number_input("Remission: score below (optional)", value=None)
            if st.form_submit_button("Add instrument"):
                spec = {"id": iid.strip(), "name": name.strip(), "min": lo, "max": hi}
                spec |= {"higher_is_worse": worse, "response_pct": pct}
                if remission is not None:
                    spec["remission_below"] = remission
                try:
                    custom_instrument(spec)
                    declared.append(spec)
                except DataValidationError as exc:
                    st.error(str(exc))
        for spec in declared:
            st.caption(f"{spec['id']}: {spec['name']}, {spec['min']:g}-{spec['max']:g}")
    out = []
    for spec in declared:
        try:
            out.append(custom_instrument(spec))
        except DataValidationError:
            continue
    return tuple(out)
