"""Patient-level covariates: the columns beside the canonical ones that are constant
within a patient (site, sex, age band, ...). Assessment-level extras (dose at a session,
CADSS) vary within a patient and are not covariates."""

from __future__ import annotations

import pandas as pd

from analytics import schema as s


def extra_columns(data: pd.DataFrame) -> list[str]:
    """Columns other than the canonical ones and the source row number."""
    return [c for c in data.columns if c not in s.CORE_COLUMNS and c != s.SOURCE_ROW]


def patient_covariates(data: pd.DataFrame) -> pd.DataFrame:
    """One row per patient (index ``patient_id``) with every column that never takes two
    different values within a patient; the value is the patient's first non-missing one."""
    extras = extra_columns(data)
    if not extras:
        idx = pd.Index(data[s.PATIENT_ID].unique(), name=s.PATIENT_ID)
        return pd.DataFrame(index=idx)
    grouped = data.groupby(s.PATIENT_ID, sort=True, observed=True)[extras]
    constant = grouped.nunique(dropna=True).max() <= 1
    keep = [c for c in extras if bool(constant.get(c, False))]
    return grouped.first()[keep] if keep else pd.DataFrame(index=grouped.size().index)


def categorical_levels(
    covariates: pd.DataFrame, *, max_levels: int = s.MAX_FILTER_LEVELS
) -> dict[str, list[str]]:
    """Text covariates usable as filters or groupings, with their sorted levels."""
    out: dict[str, list[str]] = {}
    for col in covariates.columns:
        values = covariates[col]
        if pd.api.types.is_numeric_dtype(values) and values.nunique() > 10:
            continue
        present = values.dropna()
        if pd.api.types.is_numeric_dtype(present):
            whole = bool((present == present.round()).all())
            numbers = sorted(present.unique())
            levels = [f"{v:.0f}" if whole else f"{v:g}" for v in numbers]
        else:
            levels = sorted(present.astype(str).unique())
        if 1 <= len(levels) <= max_levels:
            out[col] = levels
    return out
