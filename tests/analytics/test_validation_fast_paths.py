"""The shortcuts validation takes on Arrow text, each against the plain rule it skips.

- A covariate whose first cell is text and whose cells all begin and end with printable
  ASCII is kept as it stands, without hashing: the byte check must never accept a column
  that stripping or blanking would change, and the typed column must be that of the
  per-cell pandas path.
- Core columns are hashed once (``dictionary_encode``, distinct values and codes
  together), possibly on a worker thread: the codes must be those of ``pd.factorize``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from analytics import validation
from analytics.io import load_canonical
from analytics.validation import (
    _chunked,
    _decoded,
    _hash,
    _typed_extra,
    _typed_extras_soon,
    _untouched_by_strip,
)

# Cells that strip or blank in ways a byte check could miss: Unicode whitespace at an
# end (no-break space, ideographic space, line separator, the ASCII separators that
# Python counts as whitespace), non-ASCII letters, control bytes, empty and blank text.
TRICKY = ["A", "Clinic C", " A", "A ", "\tA", "A\n", "\u00a0A", "A\u3000", "A\u2028",
          "\x1cA", "A\x1f", "é", "Zürich", "A\x7f", "\x00A", "", " ", "  ", "-", "1", "2.5",
          " 3 ", "1e3", "nan", "inf", "x y", "~", "!"]  # fmt: skip
NUMBERS = ["1", "2.5", "-3", " 4 ", "1e2", "", " ", None, "7"]


def _arrow(cells: list[str | None], pieces: int, large: bool) -> pd.Series:
    """The cells as Arrow text in ``pieces`` chunks, one of them a slice (offset > 0)."""
    kind = pa.large_string() if large else pa.string()
    bounds = np.linspace(0, len(cells), pieces + 1).astype(int)
    chunks = []
    for a, b in itertools.pairwise(bounds):
        padded = pa.array(["pad", *cells[a:b]], type=kind)
        chunks.append(padded.slice(1))  # a chunk that starts one cell into its buffers
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array(chunks, type=kind)))


def _plain_ascii_ends(cells: list[str | None]) -> bool:
    return all(c is None or (c != "" and "!" <= c[0] <= "~" and "!" <= c[-1] <= "~") for c in cells)


def _columns(seed: int, pool: list[str | None]) -> list[list[str | None]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(40):
        n = int(rng.integers(1, 60))
        cells = [None if rng.random() < 0.15 else str(rng.choice(pool)) for _ in range(n)]
        if rng.random() < 0.5:  # a clean column, so the shortcut is taken often
            cells = [
                None if c is None else "Clinic C" if rng.random() < 0.5 else "B" for c in cells
            ]
        out.append(cells)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_the_byte_check_accepts_exactly_plain_ascii_ends(seed):
    """Accepted means every cell not missing is unchanged by ``str.strip`` and not blank;
    the check is exact for the rule it states (printable ASCII at both ends)."""
    for cells in _columns(seed, TRICKY):
        for pieces, large in ((1, True), (3, True), (2, False)):
            accepted = _untouched_by_strip(_chunked(_arrow(cells, pieces, large)))
            assert accepted == _plain_ascii_ends(cells), cells
            if accepted:
                assert all(c is None or (c.strip() == c and c.strip() != "") for c in cells)


def _typed_by_hand(cells: list[str | None]) -> list[float | str | None]:
    """The covariate rule one cell at a time (DESIGN.md §3): numbers when every cell
    that is not blank is one (``pd.to_numeric`` of the stripped text, NaN = not a
    number), else the stripped texts with blank cells missing."""
    stripped = [None if c is None or not c.strip() else c.strip() for c in cells]
    numbers = [None if c is None else pd.to_numeric(c, errors="coerce") for c in stripped]
    shown = [x for x in numbers if x is not None]
    if shown and not any(pd.isna(x) for x in shown):
        return [math.nan if x is None else float(x) for x in numbers]
    return stripped


def _as_list(typed: pd.Series) -> list[float | str | None]:
    if pd.api.types.is_float_dtype(typed):
        return typed.tolist()
    return list(typed.astype(object).where(typed.notna(), None))


def _same(got: list, expected: list) -> bool:
    return len(got) == len(expected) and all(
        (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
        or a == b
        for a, b in zip(got, expected, strict=True)
    )


@pytest.mark.parametrize("seed", range(6))
def test_a_covariate_is_typed_as_the_rule_types_each_cell(seed):
    """Arrow text (shortcut or hashing, with or without the worker threads) and object
    text give the column the rule gives, applied by hand one cell at a time."""
    for cells in _columns(seed, TRICKY) + _columns(seed + 100, NUMBERS):
        expected = _typed_by_hand(cells)
        got = {"object": _typed_extra(pd.Series(cells, dtype=object))}
        for pieces, large in ((1, True), (3, False)):
            values = _arrow(cells, pieces, large)
            got[f"arrow {pieces}"] = _typed_extra(values)
            (soon,) = _typed_extras_soon([values], validation._pool(1))
            got[f"arrow {pieces}, worker"] = soon()
        for form, typed in got.items():
            assert _same(_as_list(typed), expected), (form, cells)


def test_a_clean_text_covariate_is_not_hashed(monkeypatch):
    """The shortcut is taken: with hashing made impossible, a clean text column still
    types, and one that needs stripping does not."""

    def refuse(*_):
        raise AssertionError("hashed")

    monkeypatch.setattr(validation, "_hash", refuse)
    clean = _arrow(["Clinic C", None, "B", "Clinic C"], 2, True)
    assert list(_typed_extra(clean).astype(object).fillna("-")) == [
        "Clinic C",
        "-",
        "B",
        "Clinic C",
    ]
    with pytest.raises(AssertionError, match="hashed"):
        _typed_extra(_arrow(["Clinic C", " B"], 1, True))
    with pytest.raises(AssertionError, match="hashed"):
        _typed_extra(_arrow(["1", "B"], 1, True))  # a number first: hashed with codes


@pytest.mark.parametrize(
    "cells",
    [[], [None, None], ["b", None, "a", "b"], ["x"] * 5, [None, "a", None, "c", "a"]],
    ids=["empty", "all missing", "some missing", "one value", "missing first"],
)
def test_one_hashing_pass_gives_the_codes_factorize_gives(cells):
    arrow = _chunked(_arrow(cells, 2 if len(cells) > 1 else 1, True))
    found, codes = _decoded(_hash(arrow, True))
    expected_codes, expected_found = pd.factorize(pd.Series(cells, dtype=object))
    assert found.to_pylist() == list(expected_found)
    np.testing.assert_array_equal(codes, expected_codes)
    assert codes.dtype == np.intp


def test_a_byte_that_is_not_utf8_in_a_core_column_is_refused_with_its_line(tmp_path):
    """The cells are read without Arrow's per-cell check: the whole file is checked once."""
    path = tmp_path / "export.csv"
    path.write_bytes(b"patient_id,instrument,score,day\nP1,pcl5,3,0\nP\xe92,pcl5,4,0\n")
    with pytest.raises(validation.DataValidationError, match="UTF-8") as err:
        load_canonical(path)
    assert "line 3" in str(err.value)
