"""Outcome definitions: small frozen values, shown beside every number that uses them.

An endpoint rule is written as on the command line:

- ``last``: the latest post-baseline assessment;
- ``infusions:N``: the latest assessment with N infusions received;
- ``day:D`` or ``day:D+-W`` (also ``day:D±W``): the assessment nearest day D within W days
  (W defaults to 7); ties go to the later assessment.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Literal

from analytics.errors import OutcomeDefinitionError
from analytics.instruments import Instrument

DEFAULT_DAY_WINDOW = 7.0
DEFAULT_BASELINE_WINDOW_DAYS = 30.0
EARLY_IMPROVEMENT_PCT = 20.0

Population = Literal["all", "completers"]
_ENDPOINT = re.compile(
    r"^\s*(?:(?P<last>last)|infusions:(?P<n>\d+)|"
    r"day:(?P<d>-?\d+(?:\.\d+)?)(?:\s*(?:\+-|±|\+/-)\s*(?P<w>\d+(?:\.\d+)?))?)\s*$"
)


@dataclass(frozen=True)
class EndpointRule:
    """A parsed endpoint rule: ``kind`` is ``last``, ``infusions`` or ``day``."""

    kind: Literal["last", "infusions", "day"]
    value: float | None = None
    window: float | None = None

    def __str__(self) -> str:
        if self.kind == "last":
            return "last"
        if self.kind == "infusions":
            return f"infusions:{self.value:g}"
        return f"day:{self.value:g}+-{self.window:g}"

    def describe(self) -> str:
        if self.kind == "last":
            return "latest post-baseline assessment"
        if self.kind == "infusions":
            return f"latest assessment after {self.value:g} infusions"
        return f"assessment nearest day {self.value:g} (within ±{self.window:g} days)"


def parse_endpoint(text: str) -> EndpointRule:
    """Parse ``last``, ``infusions:N`` or ``day:D[+-W]``."""
    m = _ENDPOINT.match(str(text).lower())
    if not m:
        raise OutcomeDefinitionError(
            f"endpoint '{text}' is not one of last, infusions:N, day:D or day:D+-W"
        )
    if m["last"]:
        return EndpointRule("last")
    if m["n"] is not None:
        n = int(m["n"])
        if n < 1:
            raise OutcomeDefinitionError("endpoint infusions:N needs N >= 1 (0 is baseline)")
        return EndpointRule("infusions", float(n))
    day = float(m["d"])
    if day <= 0:
        raise OutcomeDefinitionError("endpoint day:D needs D > 0 (day <= 0 is pre-treatment)")
    window = float(m["w"]) if m["w"] is not None else DEFAULT_DAY_WINDOW
    return EndpointRule("day", day, window)


@dataclass(frozen=True)
class OutcomeDefinition:
    """How baseline, endpoint, response, remission and reliable change are defined.

    ``None`` thresholds take the instrument's registry default; a threshold the registry
    leaves unsourced stays unavailable until set here.
    """

    endpoint: str = "last"
    population: Population = "all"
    response_pct: float | None = None
    remission_below: float | None = None
    baseline_window_days: float = DEFAULT_BASELINE_WINDOW_DAYS
    rci_reliability: float | None = None
    rci_points: float | None = None
    early_improvement_pct: float = EARLY_IMPROVEMENT_PCT

    def __post_init__(self) -> None:
        parse_endpoint(self.endpoint)  # raises on a malformed rule
        if self.population not in ("all", "completers"):
            raise OutcomeDefinitionError(
                f"population '{self.population}' is not 'all' or 'completers'"
            )
        if self.response_pct is not None and not (0 < self.response_pct <= 100):
            raise OutcomeDefinitionError(
                f"response threshold {self.response_pct}% must be above 0 and at most 100"
            )
        if not (math.isfinite(self.baseline_window_days) and self.baseline_window_days >= 0):
            raise OutcomeDefinitionError("the baseline window must be 0 days or more")
        if self.rci_reliability is not None and not 0 < self.rci_reliability < 1:
            raise OutcomeDefinitionError("reliability for reliable change must be in (0, 1)")
        if self.rci_points is not None and self.rci_points <= 0:
            raise OutcomeDefinitionError("a reliable-change threshold must be positive")

    @property
    def endpoint_rule(self) -> EndpointRule:
        return parse_endpoint(self.endpoint)

    def with_(self, **changes: object) -> OutcomeDefinition:
        """A copy with some fields changed (the dataclass is frozen)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def resolve(self, inst: Instrument) -> ResolvedDefinition:
        """The thresholds actually in force for one instrument."""
        remission = self.remission_below if self.remission_below is not None else None
        if remission is None:
            remission = inst.remission_below
        elif not inst.min <= remission <= inst.max + 1:
            raise OutcomeDefinitionError(
                f"remission threshold {remission:g} is outside {inst.label}'s range "
                f"{inst.min:g}-{inst.max:g}"
            )
        return ResolvedDefinition(
            definition=self,
            instrument=inst,
            response_pct=self.response_pct if self.response_pct is not None else inst.response_pct,
            remission_below=remission,
        )


@dataclass(frozen=True)
class ResolvedDefinition:
    """An outcome definition with the instrument's defaults filled in."""

    definition: OutcomeDefinition
    instrument: Instrument
    response_pct: float | None
    remission_below: float | None

    def describe_response(self) -> str:
        if self.response_pct is None:
            return "response: not defined (no sourced default; set a threshold)"
        return f"response: >= {self.response_pct:g}% reduction from baseline"

    def describe_remission(self) -> str:
        if self.remission_below is None:
            return "remission: not defined (no sourced cut-off; set one)"
        word = "below" if self.instrument.higher_is_worse else "above"
        return f"remission: endpoint score {word} {self.remission_below:g}"

    def describe(self) -> list[str]:
        """One line per element of the definition, for display beside the numbers."""
        d = self.definition
        pop = (
            "all patients with a baseline and a post-baseline assessment"
            + (
                " (last observation carried forward to the endpoint)"
                if d.endpoint_rule.kind != "last"
                else ""
            )
            if d.population == "all"
            else "completers: patients assessed at the endpoint"
        )
        return [
            f"instrument: {self.instrument.label} ({self.instrument.name})",
            "baseline: latest pre-treatment assessment (0 infusions received, or day <= 0) "
            f"within {d.baseline_window_days:g} days before the first infusion",
            f"endpoint: {d.endpoint_rule.describe()}",
            f"population: {pop}",
            self.describe_response(),
            self.describe_remission(),
        ]
