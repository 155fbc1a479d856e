"""Deployment settings, read from Streamlit secrets or the environment.

``OUTCOMES_MIN_CELL_SIZE`` (or ``min_cell_size`` in secrets) sets small-cell suppression.
"""

from __future__ import annotations

import os

import streamlit as st

from analytics.suppression import DEFAULT_MIN_CELL_SIZE


def _secret(name: str) -> object | None:
    try:
        return st.secrets.get(name)
    except (FileNotFoundError, KeyError, AttributeError, Exception):  # no secrets file
        return None


def min_cell_size() -> int:
    value = _secret("min_cell_size") or os.environ.get("OUTCOMES_MIN_CELL_SIZE")
    try:
        n = int(value) if value is not None else DEFAULT_MIN_CELL_SIZE
    except (TypeError, ValueError):
        n = DEFAULT_MIN_CELL_SIZE
    return max(1, n)


DEFAULT_MAX_UPLOAD_MB = 512  # a 100,000-patient long export is about 330 MB


def max_upload_mb() -> int:
    """Upload size limit in MB: ``max_upload_mb`` in secrets or ``OUTCOMES_MAX_UPLOAD_MB``
    (default 512), never above Streamlit's ``server.maxUploadSize`` (.streamlit/config.toml
    sets it to 512), which refuses a larger file before the app sees it."""
    value = _secret("max_upload_mb") or os.environ.get("OUTCOMES_MAX_UPLOAD_MB")
    try:
        mb = float(value) if value is not None else float(DEFAULT_MAX_UPLOAD_MB)
    except (TypeError, ValueError):
        mb = float(DEFAULT_MAX_UPLOAD_MB)
    try:
        server = float(st.get_option("server.maxUploadSize"))
    except Exception:  # no Streamlit configuration (e.g. a script)
        server = mb
    return int(max(1.0, min(mb, server)))


def max_upload_bytes() -> int:
    """:func:`max_upload_mb` in bytes."""
    return max_upload_mb() * 1024 * 1024


def patient_level_allowed() -> bool:
    """Whether patient-level views and exports (individual trajectories, the waterfall,
    patient lists, the patient outcomes table) are on for this deployment:
    ``patient_level_views`` in secrets or ``OUTCOMES_PATIENT_LEVEL`` in the environment
    (``0``, ``false``, ``no`` or ``off`` switch them off); default on."""
    value = _secret("patient_level_views")
    if value is None:
        value = os.environ.get("OUTCOMES_PATIENT_LEVEL")
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in {"0", "false", "no", "off"}
