"""Filters on patient-level columns: ``{column: allowed values}``.

Values are compared as text, except in numeric columns, where ``3`` matches ``3.0``.
Several values for one column are alternatives (OR); several columns must all match (AND).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from analytics import schema as s
from analytics.codes import is_in
from analytics.errors import DataValidationError

Filters = Mapping[str, Sequence[str]]


def parse_where(clauses: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """``["site=Clinic A", "sex=Female", "site=Clinic B"]`` -> ``{site: (A, B), sex: (F,)}``."""
    out: dict[str, list[str]] = {}
    for clause in clauses:
        col, sep, value = clause.partition("=")
        if not sep or not col.strip():
            raise DataValidationError(f"filter '{clause}' is not of the form COLUMN=VALUE")
        out.setdefault(col.strip(), []).append(value.strip())
    return {k: tuple(v) for k, v in out.items()}


def normalise_filters(filters: Filters | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A hashable, order-independent form of a filter mapping (for caching)."""
    if not filters:
        return ()
    return tuple(sorted((str(k), tuple(sorted(map(str, v)))) for k, v in filters.items() if v))


def apply_filters(data: pd.DataFrame, filters: Filters | None) -> pd.DataFrame:
    """Rows whose columns take one of the allowed values; an unknown column is an error."""
    if not filters:
        return data
    keep = pd.Series(True, index=data.index)
    for col, values in filters.items():
        if not values:
            continue
        if col not in data.columns or col in s.CORE_COLUMNS:
            raise DataValidationError(f"cannot filter on '{col}': no such covariate", column=col)
        column = data[col]
        if pd.api.types.is_numeric_dtype(column):
            try:
                wanted = [float(v) for v in values]
            except ValueError:
                raise DataValidationError(
                    f"filter on '{col}' needs numbers, got {list(values)}", column=col
                ) from None
            keep &= column.isin(wanted)
        else:
            keep &= _text_isin(column, [str(v) for v in values])
    return data[keep]


def _text_isin(column: pd.Series, values: list[str]) -> pd.Series:
    """Rows whose value, as text, is one of ``values`` (missing: False), without turning
    an Arrow-backed or categorical column into Python strings row by row."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        cats = pd.Series(column.cat.categories).astype("string")
        hit = np.append(cats.isin(values).fillna(False).to_numpy(dtype=bool), False)
        return pd.Series(hit[column.cat.codes.to_numpy()], index=column.index)
    if not isinstance(column.dtype, pd.StringDtype):
        column = column.astype("string")
    return pd.Series(is_in(column, values), index=column.index)
