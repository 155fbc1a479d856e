"""``mixed``: the linear mixed model of the Statistics page (same function, same numbers)."""

from __future__ import annotations

import argparse
import math
from typing import Any

from analytics.commands.common import (
    add_definition_arguments,
    add_file_argument,
    definition_record,
    load_view,
)

HELP = (
    "linear mixed model of post-baseline scores on time, baseline score and covariates, "
    "random intercept per patient (the Statistics page's numbers)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_file_argument(p)
    add_definition_arguments(p)
    p.add_argument(
        "--covariates",
        default="",
        metavar="A,B,...",
        help="patient-level covariates, comma-separated (text: treatment-coded; numbers: linear)",
    )
    p.add_argument("--time", choices=("day", "infusions"), default="day", help="time scale")
    p.add_argument("--reml", action="store_true", help="fit by REML (default: maximum likelihood)")
    p.add_argument("--random-slope", action="store_true", help="add a random slope for time")


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run(args: argparse.Namespace) -> dict[str, Any]:
    from analytics.mixed import COEFFICIENT_COLUMNS, fit_mixed_model  # statsmodels: only here

    view = load_view(args)
    covariates = [c.strip() for c in args.covariates.split(",") if c.strip()]
    result = fit_mixed_model(
        view.data,
        view.outcomes,
        time=args.time,
        covariates=covariates,
        random_slope=args.random_slope,
        reml=args.reml,
    )
    coefficients = [
        {k: _clean(v) for k, v in rec.items()}
        for rec in result.coefficients[list(COEFFICIENT_COLUMNS)].to_dict(orient="records")
    ]
    return {
        "instrument": view.instrument.id,
        "file": args.file,
        "definition": definition_record(view),
        "filters": {k: list(v) for k, v in view.filters.items()},
        "time": args.time,
        "method": result.method,
        "random_slope": result.random_slope,
        "covariates": list(result.covariates),
        "reference_levels": dict(result.reference_levels),
        "coefficients": coefficients,
        "variance_components": {k: _clean(v) for k, v in result.variance_components.items()},
        "log_likelihood": _clean(result.log_likelihood),
        "aic": _clean(result.aic),
        "bic": _clean(result.bic),
        "n_patients": result.n_patients,
        "n_observations": result.n_observations,
        "converged": result.converged,
        "warnings": list(result.warnings),
    }


def _f(x: float | None, spec: str = ".3f") -> str:
    return "—" if x is None else format(x, spec)


def format_text(result: dict[str, Any]) -> str:
    from analytics.mixed import TIME_LABELS

    slope = " and a random slope for time" if result["random_slope"] else ""
    lines = [
        f"Linear mixed model of post-baseline {result['instrument']} scores "
        f"({result['method']}; random intercept per patient{slope})",
        f"Time: {TIME_LABELS[result['time']].lower()}; endpoint: "
        f"{result['definition']['endpoint']}; filters: {result['filters'] or 'none'}",
        f"Patients: {result['n_patients']}, assessments: {result['n_observations']}",
    ]
    if result["reference_levels"]:
        refs = ", ".join(f"{k}={v}" for k, v in result["reference_levels"].items())
        lines.append(f"Reference levels: {refs}")
    width = max(len(c["term"]) for c in result["coefficients"])
    lines.append(f"\n{'term':<{width}}  {'estimate':>10}  {'se':>8}  {'95% CI':>21}  {'p':>9}")
    for c in result["coefficients"]:
        ci = f"{_f(c['ci95_low'])} to {_f(c['ci95_high'])}"
        lines.append(
            f"{c['term']:<{width}}  {_f(c['estimate']):>10}  {_f(c['se']):>8}  {ci:>21}  "
            f"{_f(c['p_value'], '.3g'):>9}"
        )
    lines.append("\nVariance components:")
    lines += [f"  {k}: {_f(v, '.4f')}" for k, v in result["variance_components"].items()]
    lines.append(
        f"Log-likelihood: {_f(result['log_likelihood'], '.2f')}; AIC: {_f(result['aic'], '.2f')};"
        f" BIC: {_f(result['bic'], '.2f')}"
    )
    lines += [f"Note: {w}" for w in result["warnings"]]
    return "\n".join(lines)
