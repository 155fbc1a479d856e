"""The command that reproduces a view: ``python -m analytics SUBCOMMAND FILE ...``.

A page's "Reproduce" panel shows the exact command line that prints the page's numbers:
the data file (and ``--profile`` when the dataset came through an import profile), the
instrument, the outcome definition flags that differ from the command line's defaults (the
instrument's registry thresholds, ``last``, ``all``, a 30-day baseline window), one
``--where`` per filter value, and the page's own options (``--by``, ``--covariates``, ...).

For the PCL-5 with ``--endpoint infusions:6`` at Clinic A, split by sex, the Overview's
command is::

    python -m analytics summary sample_data/demo_cohort.csv --instrument pcl5 \
        --endpoint infusions:6 --where 'site=Clinic A' --by sex
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from analytics.definitions import DEFAULT_BASELINE_WINDOW_DAYS, OutcomeDefinition
from analytics.instruments import Instrument

PROGRAM = ("python", "-m", "analytics")
Filters = Iterable[tuple[str, Sequence[str]]]
Options = Iterable[tuple[str, str | None]]


@dataclass(frozen=True)
class Source:
    """Where the data comes from on the command line: ``file`` as passed (a path or a file
    name), ``profile`` the import profile's file name (None for canonical data), ``sheet`` a
    worksheet of an .xlsx file."""

    file: str
    profile: str | None = None
    sheet: str | None = None


def _number(x: float) -> str:
    return f"{x:g}"


def definition_args(definition: OutcomeDefinition, inst: Instrument) -> list[str]:
    """The outcome definition as command-line flags, leaving out what equals the default."""
    out: list[str] = []
    if str(definition.endpoint_rule) != "last":
        out += ["--endpoint", str(definition.endpoint_rule)]
    if definition.population != "all":
        out += ["--population", definition.population]
    pct = definition.response_pct
    if pct is not None and (inst.response_pct is None or abs(pct - inst.response_pct) > 1e-12):
        out += ["--response-pct", _number(pct)]
    rem = definition.remission_below
    if rem is not None and (
        inst.remission_below is None or abs(rem - inst.remission_below) > 1e-12
    ):
        out += ["--remission-below", _number(rem)]
    if definition.baseline_window_days != DEFAULT_BASELINE_WINDOW_DAYS:
        out += ["--baseline-window", _number(definition.baseline_window_days)]
    return out


def filter_args(filters: Filters) -> list[str]:
    """One ``--where COL=VALUE`` per chosen value (several values of a column mean OR)."""
    out: list[str] = []
    for column, values in filters:
        for value in values:
            out += ["--where", f"{column}={value}"]
    return out


def command_args(
    subcommand: str,
    source: Source,
    inst: Instrument,
    definition: OutcomeDefinition,
    filters: Filters = (),
    *,
    options: Options = (),
) -> list[str]:
    """The full argument vector, ``python -m analytics`` first. ``options`` are extra
    ``(flag, value)`` pairs; a value of None makes a bare flag (``--reml``)."""
    args = [*PROGRAM, subcommand, source.file]
    if source.profile:
        args += ["--profile", source.profile]
    if source.sheet:
        args += ["--sheet", source.sheet]
    args += ["--instrument", inst.id, *definition_args(definition, inst), *filter_args(filters)]
    for flag, value in options:
        args += [flag] if value is None else [flag, value]
    return args


def command_text(args: Sequence[str]) -> str:
    """The argument vector as one shell command line (POSIX quoting)."""
    return shlex.join(args)


def unsupported(definition: OutcomeDefinition) -> list[str]:
    """Parts of a definition the command line cannot express (none from the app's sidebar)."""
    notes = []
    if definition.rci_reliability is not None or definition.rci_points is not None:
        notes.append("a custom reliable-change threshold")
    if definition.early_improvement_pct != OutcomeDefinition().early_improvement_pct:
        notes.append("a custom early-improvement threshold")
    return notes
