"""``model``: a cross-validated response model (the Prediction page's numbers).

    python -m analytics model FILE --instrument ID --features A,B,... [--model logistic|gbm]
        [--repeats R] [--folds K] [--seed S] [definition flags] [--where COL=VALUE] [--json]

Feature names are those of :func:`analytics.features.feature_catalogue`: covariate columns,
``baseline_<instrument>``, and the on-treatment ``improvement_<instrument>_after_<k>`` and
``<instrument>_first_session``. With the same data, definition, filters, features and seed
the numbers equal the page's.
"""

from __future__ import annotations

import argparse
from typing import Any

from analytics.commands.common import (
    add_definition_arguments,
    add_file_argument,
    definition_record,
    load_view,
)

HELP = "cross-validated response model: AUROC with CI, Brier, importance, odds ratios"

# Stable top-level JSON keys (pinned by tests/analytics/test_cli_model.py).
KEYS = (
    "instrument",
    "file",
    "definition",
    "definition_text",
    "filters",
    "model",
    "model_label",
    "features",
    "features_used",
    "n_splits",
    "n_repeats",
    "seed",
    "n_patients",
    "n_events",
    "auroc",
    "auroc_ci95_low",
    "auroc_ci95_high",
    "brier",
    "brier_ci95_low",
    "brier_ci95_high",
    "balanced_accuracy",
    "balanced_accuracy_ci95_low",
    "balanced_accuracy_ci95_high",
    "comparators",
    "delta_auroc_vs_baseline_only",
    "calibration_slope",
    "calibration_intercept",
    "calibration",
    "importance",
    "odds_ratios",
    "odds_ratio_n",
    "odds_ratio_note",
    "warnings",
    "notices",
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from analytics.models import DEFAULT_SEED, MODEL_KINDS

    add_file_argument(p)
    add_definition_arguments(p)
    p.add_argument(
        "--features",
        required=True,
        metavar="A,B,...",
        help="comma-separated feature names (covariates, baseline_<id>, ...)",
    )
    p.add_argument("--model", choices=MODEL_KINDS, default="logistic")
    p.add_argument("--repeats", type=int, default=5, help="cross-validation repeats (default 5)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from analytics.features import build_feature_matrix
    from analytics.models import (
        BASE_RATE,
        BASELINE_ONLY,
        ModelSpec,
        fit_response_model,
        importance_records,
        json_value,
        metric_records,
        odds_ratio_records,
    )

    view = load_view(args)
    features = [f.strip() for f in args.features.split(",") if f.strip()]
    fm = build_feature_matrix(view.data, view.instrument, features, view.definition)
    spec = ModelSpec(model=args.model, n_splits=args.folds, n_repeats=args.repeats, seed=args.seed)
    result = fit_response_model(fm, spec)
    m = result.metric()
    comparators = [r for r in metric_records(result) if r["model"] in (BASELINE_ONLY, BASE_RATE)]
    out: dict[str, Any] = {
        "instrument": view.instrument.id,
        "file": args.file,
        "definition": definition_record(view),
        "definition_text": list(fm.definition_text),
        "filters": {k: list(v) for k, v in view.filters.items()},
        "model": spec.model,
        "model_label": spec.label,
        "features": features,
        "features_used": list(result.features),
        "n_splits": spec.n_splits,
        "n_repeats": spec.n_repeats,
        "seed": spec.seed,
        "n_patients": result.n_patients,
        "n_events": result.n_events,
    }
    for key in ("auroc", "brier", "balanced_accuracy"):
        out[key] = json_value(m[key])
        out[f"{key}_ci95_low"] = json_value(m[f"{key}_ci95_low"])
        out[f"{key}_ci95_high"] = json_value(m[f"{key}_ci95_high"])
    out["comparators"] = comparators
    out["delta_auroc_vs_baseline_only"] = {k: json_value(v) for k, v in result.delta_auroc.items()}
    out["calibration_slope"] = json_value(result.calibration_slope)
    out["calibration_intercept"] = json_value(result.calibration_intercept)
    out["calibration"] = [
        {k: json_value(v) for k, v in r.items()}
        for r in result.calibration.to_dict(orient="records")
    ]
    out["importance"] = importance_records(result)
    out["odds_ratios"] = odds_ratio_records(result)
    out["odds_ratio_n"] = result.odds_ratios.n_used
    out["odds_ratio_note"] = result.odds_ratios.note
    out["warnings"] = list(result.warnings)
    out["notices"] = list(result.guard.notices)
    return out


def _ci(rec: dict[str, Any], key: str, digits: int = 3) -> str:
    low, high = rec.get(f"{key}_ci95_low"), rec.get(f"{key}_ci95_high")
    if rec.get(key) is None:
        return "—"
    if low is None or high is None:
        return f"{rec[key]:.{digits}f}"
    return f"{rec[key]:.{digits}f} (95% CI {low:.{digits}f} to {high:.{digits}f})"


def format_text(result: dict[str, Any]) -> str:
    r = result
    lines = [
        f"Response model: {r['model_label']}",
        f"Instrument: {r['instrument']}",
        *(f"  {t}" for t in r["definition_text"]),
    ]
    if r["filters"]:
        lines.append(f"Filters: {r['filters']}")
    lines += [
        f"Features: {', '.join(r['features_used'])}",
        f"Patients: {r['n_patients']} ({r['n_events']} responders); "
        f"{r['n_splits']}-fold cross-validation x {r['n_repeats']} repeats, seed {r['seed']}",
        "",
        f"  AUROC:             {_ci(r, 'auroc')}",
        f"  Brier score:       {_ci(r, 'brier')}",
        f"  Balanced accuracy: {_ci(r, 'balanced_accuracy')}",
    ]
    for c in r["comparators"]:
        lines.append(f"  comparator {c['label']}: AUROC {_ci(c, 'auroc')}, Brier {c['brier']:.3f}")
    d = r["delta_auroc_vs_baseline_only"]
    lines.append(
        f"  AUROC gain over baseline severity alone: {d['estimate']:+.3f} "
        f"(95% CI {d['ci95_low']:+.3f} to {d['ci95_high']:+.3f})"
    )
    if r["calibration_slope"] is not None:
        lines.append(
            f"  Calibration slope {r['calibration_slope']:.2f}, "
            f"in-the-large {r['calibration_intercept']:+.2f}"
        )
    lines += ["", "Permutation importance (drop in AUROC, mean and SD over folds):"]
    lines += [f"  {i['feature']}: {i['mean']:.4f} (SD {i['sd']:.4f})" for i in r["importance"]]
    lines += ["", f"Odds ratios (unpenalised logistic regression, N = {r['odds_ratio_n']}):"]
    if r["odds_ratios"]:
        lines += [
            f"  {o['term']}: {o['odds_ratio']:.3f} (95% CI {o['ci95_low']:.3f} to "
            f"{o['ci95_high']:.3f}), p = {o['p_value']:.3g}"
            for o in r["odds_ratios"]
        ]
    else:
        lines.append(f"  {r['odds_ratio_note']}")
    for title, key in (("Warnings", "warnings"), ("Notices", "notices")):
        if r[key]:
            lines += ["", f"{title}:", *(f"  - {w}" for w in r[key])]
    lines += ["", "Summarises these past patients; not a clinical decision tool."]
    return "\n".join(lines)
