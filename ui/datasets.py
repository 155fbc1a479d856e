"""Where datasets come from: the built-in synthetic demo cohort and the dataset store
(DESIGN.md §7). The store is opened once per data folder and shared by all sessions."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from analytics.errors import DataValidationError
from analytics.io import load_canonical
from analytics.store import DATA_DIR_ENV, DEFAULT_ROOT, DatasetStore, open_store

ROOT = Path(__file__).resolve().parent.parent
DEMO_ID = "demo"
DEMO_PATH = ROOT / "sample_data" / "demo_cohort.csv"
DEMO_NAME = "Demo cohort (synthetic, 3 clinics)"


@dataclass(frozen=True)
class DatasetInfo:
    """What the sidebar and pages need to know about a dataset."""

    id: str
    name: str
    synthetic: bool
    content_hash: str = ""
    profile_name: str | None = None
    source_file: str | None = None
    uploaded_at: str | None = None
    uploaded_by: str | None = None
    n_rows: int | None = None
    n_patients: int | None = None


def data_dir() -> str:
    return str(Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_ROOT).resolve())


@st.cache_resource(show_spinner=False)
def _store(root: str) -> DatasetStore:
    return open_store(root)


def store() -> DatasetStore:
    """The shared store for the configured data folder."""
    return _store(data_dir())


def _demo() -> DatasetInfo:
    return DatasetInfo(DEMO_ID, DEMO_NAME, synthetic=True, source_file=DEMO_PATH.name)


def available_datasets() -> list[DatasetInfo]:
    """The demo cohort first, then stored datasets, newest first."""
    out = [_demo()]
    try:
        records = store().list()
    except DataValidationError:
        records = []
    for r in records:
        out.append(
            DatasetInfo(
                r.id,
                r.name,
                synthetic=False,
                content_hash=r.content_hash,
                profile_name=r.profile_name,
                source_file=r.source_file,
                uploaded_at=r.uploaded_at,
                uploaded_by=r.uploaded_by,
                n_rows=r.n_rows,
                n_patients=r.n_patients,
            )
        )
    return out


def dataset_info(dataset_id: str) -> DatasetInfo:
    """Raises KeyError for an unknown, deleted or malformed id."""
    for info in available_datasets():
        if info.id == dataset_id:
            return info
    raise KeyError(dataset_id)


def load_dataset(dataset_id: str) -> pd.DataFrame:
    """The validated canonical table of a dataset (demo: read and validated on load)."""
    if dataset_id == DEMO_ID:
        result = load_canonical(DEMO_PATH)
        result.raise_for_errors()
        return result.data
    return store().load(dataset_id)


def dataset_profile_toml(dataset_id: str) -> str | None:
    """The import profile a stored dataset was mapped with (None for the demo)."""
    if dataset_id == DEMO_ID:
        return None
    return store().get(dataset_id).profile_toml
