"""Safe tabular exports: CSV and XLSX bytes in which no cell can run as a formula.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed
with an apostrophe, the OWASP advice against CSV injection; numbers stay numbers, so a
negative change (``-16.5``) is not touched.
"""

from __future__ import annotations

import io

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells and column names cannot start a formula."""

    def fix(value: object) -> object:
        if isinstance(value, str) and value.startswith(FORMULA_START):
            return "'" + value
        return value

    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(fix)
    out.columns = [fix(str(c)) for c in out.columns]
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    return neutralise(frame).to_csv(index=False).encode("utf-8")


def to_xlsx_bytes(frame: pd.DataFrame, sheet: str = "data") -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="xlsxwriter") as xw:
        neutralise(frame).to_excel(xw, sheet_name=sheet[:31], index=False)
    return buf.getvalue()
