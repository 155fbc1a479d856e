"""The instrument registry: instruments are data, validated here, read from
``analytics/data/instruments.toml`` through ``importlib.resources``.

A user-defined instrument (from the UI or an import profile) is an :class:`Instrument`
too, built with :func:`custom_instrument`, and joins a registry with :func:`with_custom`.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from analytics.errors import DataValidationError, UnknownInstrumentError

REGISTRY_FILE = "instruments.toml"


def normalise_label(text: str) -> str:
    """Lower case without punctuation or spaces: "PCL-5 " -> "pcl5"."""
    return "".join(ch for ch in str(text).lower() if ch.isalnum())


@dataclass(frozen=True)
class Band:
    """A severity band: scores from ``min`` up to the next band's ``min`` (exclusive)."""

    min: float
    label: str


@dataclass(frozen=True)
class Instrument:
    """One rating scale and its scoring conventions.

    Thresholds that have no published source are ``None``: the app then computes nothing
    that depends on them until the user sets them in the outcome definition.
    """

    id: str
    name: str
    short_name: str
    min: float
    max: float
    higher_is_worse: bool = True
    construct: str = ""
    respondent: str = ""
    recall: str = ""
    items: int | None = None
    item_min: float | None = None
    item_max: float | None = None
    is_outcome: bool = True
    bands: tuple[Band, ...] = ()
    caseness_cutoff: float | None = None
    caseness_label: str = "case"
    response_pct: float | None = None
    remission_below: float | None = None
    rci_reliability: float | None = None
    rci_points: float | None = None
    mcid_points: float | None = None
    notes: str = ""
    citations: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    custom: bool = False

    def __post_init__(self) -> None:
        problems = instrument_problems(self)
        if problems:
            raise DataValidationError(f"instrument '{self.id}': " + "; ".join(problems))

    @property
    def label(self) -> str:
        """Short display label, e.g. ``PCL-5``."""
        return self.short_name or self.name

    @property
    def band_labels(self) -> tuple[str, ...]:
        return tuple(b.label for b in self.bands)


def instrument_problems(inst: Instrument) -> list[str]:
    """Everything wrong with an instrument definition (empty when it is usable)."""
    problems: list[str] = []
    if not inst.id or not inst.id.replace("_", "").isalnum() or inst.id != inst.id.lower():
        problems.append("id must be lower-case letters, digits and underscores")
    if not inst.name:
        problems.append("name is required")
    if not (math.isfinite(inst.min) and math.isfinite(inst.max)) or inst.min >= inst.max:
        problems.append(f"score range {inst.min}-{inst.max} is not a range (min < max)")
        return problems

    def inside(value: float | None, what: str, *, upper_inclusive: bool = True) -> None:
        if value is None:
            return
        hi_ok = value <= inst.max if upper_inclusive else value <= inst.max + 1
        if not (inst.min <= value and hi_ok):
            problems.append(f"{what} {value} is outside the score range {inst.min}-{inst.max}")

    inside(inst.caseness_cutoff, "caseness cut-off")
    inside(inst.remission_below, "remission threshold", upper_inclusive=False)
    if inst.response_pct is not None and not 0 < inst.response_pct <= 100:
        problems.append(f"response threshold {inst.response_pct}% must be in (0, 100]")
    if inst.rci_reliability is not None and not 0 < inst.rci_reliability < 1:
        problems.append(f"test-retest reliability {inst.rci_reliability} must be in (0, 1)")
    if inst.rci_points is not None and not 0 < inst.rci_points <= inst.max - inst.min:
        problems.append(f"reliable-change points {inst.rci_points} must be positive and in range")
    if inst.bands:
        lows = [b.min for b in inst.bands]
        if lows[0] != inst.min:
            problems.append(f"the first severity band must start at the minimum {inst.min}")
        if any(b <= a for a, b in itertools.pairwise(lows)):
            problems.append("severity bands must be in increasing order")
        if lows[-1] > inst.max:
            problems.append("a severity band starts above the maximum score")
        if len(set(inst.band_labels)) != len(lows) or not all(inst.band_labels):
            problems.append("severity band labels must be distinct and non-empty")
    if not inst.custom and not inst.citations:
        problems.append("a registry instrument must cite its sources")
    return problems


def _from_record(iid: str, rec: Mapping[str, Any], *, custom: bool) -> Instrument:
    rec = dict(rec)
    bands = tuple(Band(float(b["min"]), str(b["label"])) for b in rec.pop("bands", []))
    citations = tuple(rec.pop("citations", ()))
    aliases = {
        normalise_label(a) for a in (iid, rec.get("short_name", ""), *rec.pop("aliases", ()))
    }
    rec["aliases"] = tuple(sorted(a for a in aliases if a))
    floats = ("min", "max", "item_min", "item_max", "caseness_cutoff", "response_pct")
    floats += ("remission_below", "rci_reliability", "rci_points", "mcid_points")
    for key in floats:
        if rec.get(key) is not None:
            rec[key] = float(rec[key])
    rec.setdefault("short_name", rec.get("name", iid))
    return Instrument(id=iid, bands=bands, citations=citations, custom=custom, **rec)


@cache
def load_registry() -> Mapping[str, Instrument]:
    """The built-in registry, keyed by instrument id (read once, immutable)."""
    text = resources.files("analytics.data").joinpath(REGISTRY_FILE).read_text("utf-8")
    raw = tomllib.loads(text)
    return MappingProxyType({iid: _from_record(iid, rec, custom=False) for iid, rec in raw.items()})


CUSTOM_KEYS = frozenset(
    {"id", "name", "short_name", "min", "max", "higher_is_worse", "response_pct"}
    | {"remission_below", "caseness_cutoff", "rci_reliability", "rci_points", "construct"}
)


def custom_instrument(spec: Mapping[str, Any]) -> Instrument:
    """A user-defined instrument from a mapping (an import profile's ``[[instruments]]``).

    Required: ``id``, ``name``, ``min``, ``max``. ``response_pct`` defaults to 50 and there
    is no remission without ``remission_below`` (DESIGN.md §5).
    """
    unknown = set(spec) - CUSTOM_KEYS
    if unknown:
        raise DataValidationError(f"custom instrument: unknown key(s) {sorted(unknown)}")
    missing = {"id", "name", "min", "max"} - set(spec)
    if missing:
        raise DataValidationError(f"custom instrument: missing key(s) {sorted(missing)}")
    rec = {k: v for k, v in spec.items() if k != "id"}
    rec.setdefault("response_pct", 50)
    if spec["id"] in load_registry():
        raise DataValidationError(
            f"custom instrument '{spec['id']}' has the id of a registry instrument"
        )
    return _from_record(str(spec["id"]), rec, custom=True)


def with_custom(custom: Iterable[Instrument] = ()) -> Mapping[str, Instrument]:
    """The built-in registry extended by user-defined instruments."""
    merged = dict(load_registry())
    merged.update({inst.id: inst for inst in custom})
    return MappingProxyType(merged)


def get_instrument(
    instrument_id: str, registry: Mapping[str, Instrument] | None = None
) -> Instrument:
    """Look an instrument up by id, with a message listing the known ids when it is unknown."""
    registry = load_registry() if registry is None else registry
    try:
        return registry[instrument_id]
    except KeyError:
        known = ", ".join(sorted(registry))
        raise UnknownInstrumentError(
            f"unknown instrument '{instrument_id}' (known: {known})", column="instrument"
        ) from None


@dataclass(frozen=True)
class BandScheme:
    """The categories a score falls into: published bands or, without them, caseness."""

    labels: tuple[str, ...]
    lower_bounds: tuple[float, ...]
    source: str = field(default="")


def band_scheme(inst: Instrument) -> BandScheme | None:
    """Published severity bands; else below/at-or-above the caseness cut-off; else None."""
    if inst.bands:
        return BandScheme(inst.band_labels, tuple(b.min for b in inst.bands), "severity bands")
    if inst.caseness_cutoff is not None:
        cut = inst.caseness_cutoff
        labels = (f"Below {cut:g}", f">= {cut:g} ({inst.caseness_label})")
        return BandScheme(labels, (inst.min, cut), "caseness cut-off (no published bands)")
    return None


def assign_band(scores: pd.Series, inst: Instrument) -> pd.Series:
    """Each score's band as an ordered categorical (NaN score or no scheme -> missing)."""
    scheme = band_scheme(inst)
    if scheme is None:
        return pd.Series(pd.Categorical([None] * len(scores)), index=scores.index)
    values = scores.to_numpy(dtype="float64", na_value=np.nan)
    codes = np.searchsorted(np.asarray(scheme.lower_bounds), values, side="right") - 1
    codes = np.where(np.isnan(values), -1, codes)
    cat = pd.Categorical.from_codes(codes, categories=list(scheme.labels), ordered=True)
    return pd.Series(cat, index=scores.index)
