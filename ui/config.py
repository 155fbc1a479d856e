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


def max_upload_bytes() -> int:
    """Upload size limit: ``OUTCOMES_MAX_UPLOAD_MB`` (default 200 MB)."""
    value = _secret("max_upload_mb") or os.environ.get("OUTCOMES_MAX_UPLOAD_MB")
    try:
        mb = float(value) if value is not None else 200.0
    except (TypeError, ValueError):
        mb = 200.0
    return int(max(1.0, mb) * 1024 * 1024)
