"""Command line: reproduces the dashboard's numbers (DESIGN.md §6).

    python -m analytics validate FILE [--json]
    python -m analytics summary FILE --instrument ID [--endpoint last|infusions:N|day:D[+-W]]
        [--response-pct P] [--remission-below S] [--population all|completers]
        [--where COL=VALUE ...] [--by COL] [--json]

Exit code 0 on success, 2 on bad input (message on stderr).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd

from analytics import __version__
from analytics.errors import DataValidationError

EXIT_BAD_INPUT = 2


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="canonical long CSV, TSV or Parquet")


def _add_definition_args(p: argparse.ArgumentParser) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analytics",
        description="Infusion Outcomes: reproduce the dashboard's numbers from a file.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="print the validation report")
    _add_data_args(v)
    v.add_argument("--json", action="store_true", help="machine-readable output")

    sm = sub.add_parser("summary", help="headline outcome statistics")
    _add_data_args(sm)
    _add_definition_args(sm)
    sm.add_argument("--by", default=None, metavar="COL", help="also per level of COL")
    sm.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _clean(value: Any) -> Any:
    """JSON-safe scalars: NaN -> null, numpy types -> Python."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summary_record(row: pd.Series) -> dict[str, Any]:
    """One summary row as the nested, snake_case JSON record the CLI prints."""
    r = {k: _clean(v) for k, v in row.items()}
    rec: dict[str, Any] = {
        k: r[k]
        for k in (
            "n_patients_total",
            "n_patients",
            "n_zero_baseline",
            "n_carried_forward",
            "baseline_mean",
            "baseline_sd",
            "endpoint_mean",
            "endpoint_sd",
            "mean_change",
            "sd_change",
            "mean_change_ci95_low",
            "mean_change_ci95_high",
            "t_statistic",
            "p_value",
            "cohens_dz",
        )
    }
    for name in ("responders", "remitters"):
        rec[name] = {
            "n": r[f"{name}_n"],
            "N": r[f"{name}_N"],
            "pct": r[f"{name}_pct"],
            "ci95_low": r[f"{name}_ci95_low"],
            "ci95_high": r[f"{name}_ci95_high"],
        }
    rec["reliable_change"] = {
        "improved": r["reliably_improved_n"],
        "no_change": r["no_reliable_change_n"],
        "deteriorated": r["reliably_deteriorated_n"],
        "N": r["reliable_change_N"],
        "clinically_significant": r["clinically_significant_n"],
    }
    return rec


def run_summary(args: argparse.Namespace) -> dict[str, Any]:
    from analytics.definitions import OutcomeDefinition
    from analytics.filters import apply_filters, parse_where
    from analytics.instruments import get_instrument
    from analytics.io import load_canonical
    from analytics.outcomes import derive_patient_outcomes
    from analytics.stats import summarise_outcomes

    inst = get_instrument(args.instrument.lower())
    definition = OutcomeDefinition(
        endpoint=args.endpoint,
        population=args.population,
        response_pct=args.response_pct,
        remission_below=args.remission_below,
        baseline_window_days=args.baseline_window,
    )
    result = load_canonical(args.file)
    result.raise_for_errors()
    filters = parse_where(args.where)
    data = apply_filters(result.data, filters)
    outcomes = derive_patient_outcomes(data, inst, definition)
    table = summarise_outcomes(outcomes, by=args.by)
    resolved = outcomes.resolved
    rc = outcomes.reliable_change
    out: dict[str, Any] = {
        "instrument": inst.id,
        "file": args.file,
        "definition": {
            "endpoint": str(definition.endpoint_rule),
            "population": definition.population,
            "baseline_window_days": definition.baseline_window_days,
            "response_pct": resolved.response_pct,
            "remission_below": resolved.remission_below,
            "reliable_change_method": rc.method,
            "reliable_change_threshold": _clean(rc.threshold),
        },
        "definition_text": outcomes.describe(),
        "filters": {k: list(v) for k, v in filters.items()},
    }
    out.update(summary_record(table.iloc[0]))
    if args.by:
        out["by"] = args.by
        out["groups"] = [
            {"group": g["group"], **summary_record(g)} for _, g in table.iloc[1:].iterrows()
        ]
    return out


def _fmt(x: Any, spec: str = ".1f") -> str:
    return "—" if x is None else format(x, spec)


def format_summary(rec: dict[str, Any]) -> str:
    lines = [f"Instrument: {rec['instrument']}", *(f"  {t}" for t in rec["definition_text"])]
    if rec["filters"]:
        lines.append(f"Filters: {rec['filters']}")

    def block(r: dict[str, Any], title: str) -> list[str]:
        rs, rm, rc = r["responders"], r["remitters"], r["reliable_change"]
        return [
            f"\n{title}",
            f"  patients: {r['n_patients']} analysed of {r['n_patients_total']}",
            f"  baseline mean (SD): {_fmt(r['baseline_mean'])} ({_fmt(r['baseline_sd'])})",
            f"  endpoint mean (SD): {_fmt(r['endpoint_mean'])} ({_fmt(r['endpoint_sd'])})",
            f"  mean change: {_fmt(r['mean_change'])} (95% CI {_fmt(r['mean_change_ci95_low'])}"
            f" to {_fmt(r['mean_change_ci95_high'])}); paired t = {_fmt(r['t_statistic'], '.2f')},"
            f" p = {_fmt(r['p_value'], '.3g')}; d_z = {_fmt(r['cohens_dz'], '.2f')}",
            f"  responders: {rs['n']}/{rs['N']} = {_fmt(rs['pct'])}% "
            f"(95% CI {_fmt(rs['ci95_low'])} to {_fmt(rs['ci95_high'])})",
            f"  remitters: {rm['n']}/{rm['N']} = {_fmt(rm['pct'])}% "
            f"(95% CI {_fmt(rm['ci95_low'])} to {_fmt(rm['ci95_high'])})",
            f"  reliable change: {rc['improved']} improved, {rc['no_change']} no change, "
            f"{rc['deteriorated']} deteriorated; {rc['clinically_significant']} clinically "
            "significant",
        ]

    lines += block(rec, "All patients")
    for g in rec.get("groups", []):
        lines += block(g, f"{rec['by']} = {g['group']}")
    return "\n".join(lines)


def run_validate(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    from analytics.io import load_canonical

    result = load_canonical(args.file)
    issues = [
        {k: _clean(v) for k, v in rec.items()} for rec in result.issues.to_dict(orient="records")
    ]
    return {
        "file": args.file,
        "n_rows_read": result.n_rows_read,
        "n_rows_loaded": len(result.data),
        "n_rows_excluded": int(result.errors["row"].nunique()),
        "n_errors": len(result.errors),
        "n_warnings": len(result.warnings),
        "n_patients": int(result.data["patient_id"].nunique()),
        "summary": result.summary_line(),
        "issues": issues,
    }, result.ok


def format_validate(rec: dict[str, Any]) -> str:
    lines = [f"{rec['file']}: {rec['summary']}"]
    for i in rec["issues"]:
        lines.append(
            f"  {i['severity']}: row {i['row']}, column '{i['column']}', "
            f"value {i['value']!r}: {i['message']}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "validate":
            rec, ok = run_validate(args)
            print(json.dumps(rec, indent=2) if args.json else format_validate(rec))
            if not ok:
                print(f"{args.file}: {rec['n_errors']} errors (see the report)", file=sys.stderr)
                return EXIT_BAD_INPUT
            return 0
        if args.command == "summary":
            rec = run_summary(args)
            print(json.dumps(rec, indent=2) if args.json else format_summary(rec))
            return 0
    except DataValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_BAD_INPUT
