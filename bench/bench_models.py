"""Benchmark of the response models (issue 5): 5-fold x 5-repeat cross-validation of both
models on 1,000 and 10,000 synthetic patients with 15 pre-treatment features.

``run()`` returns the timings as a DataFrame and ``main()`` prints them as a table; the
lead's ``make bench`` calls one of them. Timings are never written into tests.

Columns: ``patients`` (generated), ``n_patients`` (with the outcome defined), ``features``,
``model``, ``cv_s`` (the 25 fold fits and predictions, with permutation importance: what the
page's progress bar covers), ``fit_s`` (the page's whole fit: cross-validation plus
bootstrap CIs, final refit, odds ratios and, for trees, partial dependence), ``fit_cpu_s``
(the process CPU time of that fit: fits run on one thread, tree predictions and the
bootstrap on two, so CPU time a little above the wall time is the parallel part; a wall
time far above it means other processes competed), ``auroc``,
``target_s`` (the issue's target, 20 s at 10,000 patients on 2 cores) and ``ok``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import pandas as pd

SIZES = (1_000, 10_000)
MODELS = ("logistic", "gbm")
TARGET_S = {10_000: 20.0}
SEED = 20261128


def _feature_matrix(n_patients: int):
    from analytics.features import PRE_TREATMENT, build_feature_matrix, feature_catalogue
    from analytics.validation import validate_canonical
    from sample_data.generate_demo import generate_cohort

    data = validate_canonical(generate_cohort(n_patients, seed=SEED)).data
    cat = feature_catalogue(data, "pcl5")
    features = list(cat.loc[cat["kind"] == PRE_TREATMENT, "feature"])
    return build_feature_matrix(data, "pcl5", features)


def run(sizes: Sequence[int] = SIZES, models: Sequence[str] = MODELS) -> pd.DataFrame:
    """Time cross-validation and the full fit for each size and model."""
    from analytics.models import ModelSpec, cross_validate_repeat, fit_response_model

    rows = []
    for n in sizes:
        fm = _feature_matrix(n)
        for kind in models:
            spec = ModelSpec(model=kind)  # the default: 5 folds x 5 repeats
            start, cpu = time.perf_counter(), time.process_time()
            repeats = [cross_validate_repeat(fm, spec, r) for r in range(spec.n_repeats)]
            cv_s, cv_cpu_s = time.perf_counter() - start, time.process_time() - cpu
            start, cpu = time.perf_counter(), time.process_time()
            model = fit_response_model(fm, spec)
            fit_s, fit_cpu_s = time.perf_counter() - start, time.process_time() - cpu
            target = TARGET_S.get(n)
            rows.append(
                {
                    "patients": n,
                    "n_patients": fm.n_patients,
                    "features": len(fm.features),
                    "model": kind,
                    "cv_s": round(cv_s, 2),
                    "cv_cpu_s": round(cv_cpu_s, 2),
                    "fit_s": round(fit_s, 2),
                    "fit_cpu_s": round(fit_cpu_s, 2),
                    "auroc": round(float(model.metric()["auroc"]), 3),
                    "target_s": target,
                    "ok": None if target is None else fit_s < target,
                }
            )
            del repeats
    return pd.DataFrame(rows)


def main() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"Response models: 5-fold x 5-repeat cross-validation ({cores} cores available)")
    table = run()
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
