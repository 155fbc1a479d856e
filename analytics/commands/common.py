"""Arguments and loading shared by the subcommands: the data file (canonical, or any shape
with ``--profile``), the outcome definition flags and ``--where`` filters."""

from __future__ import annotations

import argparse
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analytics import schema as s
from analytics.definitions import OutcomeDefinition
from analytics.instruments import Instrument, get_instrument
from analytics.outcomes import PatientOutcomes


def add_file_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "file",
        metavar="FILE",
        help="CSV, TSV, XLSX or Parquet: canonical long, or any shape with --profile",
    )
    p.add_argument(
        "--profile", metavar="PROFILE.toml", default=None, help="import profile for the file"
    )
    p.add_argument("--sheet", default=None, help="worksheet of an .xlsx file")


def read_input(args: argparse.Namespace, covariates: Collection[str] | None = None):
    """Read FILE (through the import profile when given) into an ``Ingested``.

    The command line stores nothing, so identifier findings are reported on stderr and
    the command goes on (DESIGN.md §7). ``covariates``: the covariate columns the command
    reads (all when None); a canonical file keeps only those."""
    import sys

    plain = not getattr(args, "profile", None) and not getattr(args, "sheet", None)
    if plain and _plain_canonical(args.file):
        from analytics.io import load_canonical  # the fast path skips the ingest imports

        return None, load_canonical(args.file, covariates=covariates)
    from analytics.ingest import ingest, load_profile

    profile = load_profile(args.profile) if getattr(args, "profile", None) else None
    ingested = ingest(args.file, profile=profile, sheet=getattr(args, "sheet", None))
    for f in ingested.identifier_findings:
        print(
            f"identifier screen: column '{f.column}' may hold {f.kind.replace('_', ' ')}: "
            f"{f.reason}",
            file=sys.stderr,
        )
    return ingested, ingested.result


def _plain_canonical(path: str) -> bool:
    """Canonical CSV/TSV/Parquet files take the fast loader."""
    from pathlib import Path

    return Path(path).suffix.lower() in {".csv", ".tsv", ".txt", ".parquet", ".pq"}


def add_definition_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--instrument", required=True, help="registry id, e.g. pcl5, phq9, gad7")
    p.add_argument("--endpoint", default="last", help="last | infusions:N | day:D[+-W]")
    p.add_argument("--response-pct", type=float, default=None, help="response threshold, %%")
    p.add_argument("--remission-below", type=float, default=None, help="remission cut-off")
    p.add_argument("--population", choices=("all", "completers"), default="all")
    p.add_argument(
        "--baseline-window", type=float, default=30.0, help="days before the first infusion"
    )
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="COL=VALUE",
        help="keep patients with COL=VALUE (repeatable; repeated COL means OR)",
    )


def definition_from_args(args: argparse.Namespace) -> OutcomeDefinition:
    return OutcomeDefinition(
        endpoint=args.endpoint,
        population=args.population,
        response_pct=args.response_pct,
        remission_below=args.remission_below,
        baseline_window_days=args.baseline_window,
    )


@dataclass(frozen=True)
class LoadedView:
    """What every analysis command starts from: filtered data and its outcomes table."""

    data: pd.DataFrame
    instrument: Instrument
    definition: OutcomeDefinition
    filters: dict[str, tuple[str, ...]]
    outcomes: PatientOutcomes


def load_view(args: argparse.Namespace, *, covariates: bool = True) -> LoadedView:
    """Read and validate FILE (refusing any row error), apply ``--where``, derive outcomes.

    With ``covariates=False`` the outcomes table has no patient-level covariate columns
    (their derivation is skipped) and only the covariates ``--where`` names are kept from
    a canonical file: for commands that neither group nor model by them."""
    from analytics.filters import apply_filters, parse_where
    from analytics.outcomes import derive_patient_outcomes

    filters = parse_where(args.where)
    ingested, result = read_input(args, covariates=None if covariates else list(filters))
    registry = ingested.profile.registry if ingested and ingested.profile else None
    inst = get_instrument(args.instrument.strip().lower(), registry)
    definition = definition_from_args(args)
    result.raise_for_errors()
    data = apply_filters(result.data, filters)
    no_cov = None if covariates else pd.DataFrame(index=pd.Index([], name=s.PATIENT_ID))
    outcomes = derive_patient_outcomes(data, inst, definition, registry=registry, covariates=no_cov)
    return LoadedView(data, inst, definition, filters, outcomes)


def definition_record(view: LoadedView) -> dict[str, Any]:
    """The definition in force, as the ``definition`` key of every JSON result."""
    resolved = view.outcomes.resolved
    rc = view.outcomes.reliable_change
    return {
        "endpoint": str(view.definition.endpoint_rule),
        "population": view.definition.population,
        "baseline_window_days": view.definition.baseline_window_days,
        "response_pct": resolved.response_pct,
        "remission_below": resolved.remission_below,
        "reliable_change_method": rc.method,
        "reliable_change_threshold": None if rc.threshold is None else float(rc.threshold),
    }
