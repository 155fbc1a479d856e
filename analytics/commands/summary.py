"""``summary``: headline outcome statistics, overall and ``--by`` a column."""

from __future__ import annotations

import argparse
import math
from typing import Any

import pandas as pd

from analytics.commands.common import (
    add_definition_arguments,
    add_file_argument,
    definition_record,
    load_view,
)

HELP = "headline outcome statistics (the Overview's numbers)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_file_argument(p)
    add_definition_arguments(p)
    p.add_argument("--by", default=None, metavar="COL", help="also per level of COL")


def clean(value: Any) -> Any:
    """JSON-safe scalars: NaN -> null, numpy types -> Python."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


SCALARS = (
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


def summary_record(row: pd.Series) -> dict[str, Any]:
    """One row of :func:`analytics.stats.summarise_outcomes` as the nested JSON record."""
    r = {k: clean(v) for k, v in row.items()}
    rec: dict[str, Any] = {k: r[k] for k in SCALARS}
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


def run(args: argparse.Namespace) -> dict[str, Any]:
    from analytics.stats import summarise_outcomes

    # Covariate columns are only read by --by (--where filters the rows before derivation).
    view = load_view(args, covariates=args.by is not None)
    table = summarise_outcomes(view.outcomes, by=args.by)
    out: dict[str, Any] = {
        "instrument": view.instrument.id,
        "file": args.file,
        "definition": definition_record(view),
        "definition_text": view.outcomes.describe(),
        "filters": {k: list(v) for k, v in view.filters.items()},
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


def format_text(rec: dict[str, Any]) -> str:
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
