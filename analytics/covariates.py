"""Patient-level covariates: the columns beside the canonical ones that are constant
within a patient (site, sex, age band, ...). Assessment-level extras (dose at a session,
CADSS) vary within a patient and are not covariates."""

from __future__ import annotations

import numpy as np
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
    ids = data[s.PATIENT_ID]
    if not (pd.api.types.is_string_dtype(ids) and not isinstance(ids.dtype, pd.CategoricalDtype)):
        return _patient_covariates_groupby(data, extras)
    # The same as groupby(patient).nunique()/first(), from one factorisation of the ids and
    # one comparison per column with each patient's first value: a groupby over millions
    # of rows hashes every value of every column.
    codes, patients = pd.factorize(ids, sort=True, use_na_sentinel=True)
    if len(patients) == 0:
        return _patient_covariates_groupby(data, extras)
    rows = np.flatnonzero(codes >= 0)
    order = rows[np.argsort(codes[rows], kind="stable")]
    if order.size and np.all(np.diff(order) > 0):
        order = rows  # already grouped by patient, in order: no reordering copy
    group = codes[order]
    index = pd.Index(patients, name=s.PATIENT_ID)
    keep: dict[str, object] = {}
    for col in extras:
        values = data[col].array
        if order is not rows or len(order) != len(values):
            values = values.take(order)
        compared, missing_each = _comparable(values)
        at = np.flatnonzero(~missing_each)
        first = np.full(len(index), -1, dtype=np.int64)
        starts = np.r_[True, group[at][1:] != group[at][:-1]] if at.size else at.astype(bool)
        first[group[at][starts]] = at[starts]
        ref = first[group[at]]
        if not (compared[at] == compared[ref]).all():
            continue  # two different values within some patient: not a covariate
        missing = first < 0
        out = values.take(first, allow_fill=bool(missing.any()))
        if missing.any() and pd.api.types.is_object_dtype(out.dtype):
            out = np.asarray(out, dtype=object)
            out[missing] = None  # as groupby().first() gives for an object column
        keep[col] = out
    if not keep:
        return pd.DataFrame(index=index)
    return pd.DataFrame({c: pd.Series(v, index=index) for c, v in keep.items()}, index=index)


def patient_level_columns(data: pd.DataFrame, columns: list[str] | None = None) -> list[str]:
    """Extra columns that hold the same value (or are missing) on every row of each
    patient: filtering rows on them keeps or drops whole patients, so a filter on them is
    a choice of patients. (A covariate may be recorded on some rows only; it is not one
    of these.) Empty when any row lacks a patient id. ``columns`` limits the check."""
    extras = extra_columns(data)
    if columns is not None:
        extras = [c for c in extras if c in set(columns)]
    ids = data[s.PATIENT_ID]
    if not extras or ids.isna().any():
        return []
    codes, _ = pd.factorize(ids)
    order = np.argsort(codes, kind="stable")
    if np.all(np.diff(order) > 0):
        order = None
    group = codes if order is None else codes[order]
    starts = np.r_[True, group[1:] != group[:-1]]
    first = np.flatnonzero(starts)[np.cumsum(starts) - 1]  # each row's patient's first row
    out = []
    for col in extras:
        values = data[col].array if order is None else data[col].array.take(order)
        compared, missing = _comparable(values)
        if not np.array_equal(missing, missing[first]):
            continue
        if (compared[~missing] == compared[first[~missing]]).all():
            out.append(col)
    return out


def _comparable(values) -> tuple[np.ndarray, np.ndarray]:
    """A numpy array equal where the column's values are equal, and the missing mask:
    the values themselves where numpy compares them exactly (:func:`_plain`), else their
    codes from one factorisation (Arrow text, categoricals, nullable integers), so that
    every dtype is checked by one comparison of numpy arrays."""
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        values = values.to_numpy()  # a column's .array: the numpy array, wrapped
    plain = _plain(values)
    if plain is not None:
        return plain, np.asarray(pd.isna(plain), dtype=bool)
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    return codes, codes < 0


def _plain(values) -> np.ndarray | None:
    """The column as a numpy array when comparing its non-missing values there is exact:
    numbers, booleans and Python text (``==`` on objects); None for other extension types."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "fiub":
        return np.asarray(values)
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "python":
        return np.asarray(values, dtype=object)
    if pd.api.types.is_object_dtype(values.dtype):
        return np.asarray(values, dtype=object)
    return None


def _patient_covariates_groupby(data: pd.DataFrame, extras: list[str]) -> pd.DataFrame:
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
