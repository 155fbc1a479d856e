"""In-process sections: CSV ingest, the outcome derivation and the Overview's recompute."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pandas as pd

from bench.context import Context, timed_row
from bench.reference import Params, outcomes_sql

INSTRUMENT = "pcl5"


def ingest(ctx: Context) -> None:
    """(a) ``load_canonical`` (read + validate) vs ``pyarrow.csv.read_csv`` of the file."""
    import pyarrow.csv as pacsv

    from analytics.io import load_canonical

    for n in ctx.sizes:
        path = ctx.cohort(n).csv
        reps = ctx.repeats_for(n)
        ours, ref = ctx.measure_pair(
            lambda p=path: load_canonical(p).raise_for_errors(),
            lambda p=path: pacsv.read_csv(p),
            reps,
        )
        ctx.rows.append(
            timed_row(
                "ingest",
                "load_canonical (read + validate CSV)",
                n,
                ours,
                ("pyarrow.csv.read_csv", ref),
                target=3.0,
            )
        )


def load_validated(n: int, ctx: Context) -> pd.DataFrame:
    """The validated canonical frame of the ``n``-patient cohort (from its Parquet copy,
    the same rows as the CSV)."""
    from analytics.io import load_canonical

    result = load_canonical(ctx.cohort(n).parquet)
    result.raise_for_errors()
    return result.data


def derive(ctx: Context, frames: dict[int, pd.DataFrame]) -> None:
    """(b) ``derive_patient_outcomes`` vs the same derivation as one DuckDB query over the
    same in-memory frame. Patient covariates are computed once per dataset, as the app's
    cache does; the row without them is what the command line pays."""
    import duckdb

    from analytics.covariates import patient_covariates
    from analytics.outcomes import derive_patient_outcomes

    params = Params.for_instrument(INSTRUMENT)
    for n, data in frames.items():
        reps = ctx.repeats
        con = duckdb.connect()
        con.execute("SET threads TO 2")
        con.register("data", data)
        sql = outcomes_sql("data", params)
        cov = patient_covariates(data)
        ours, ref = ctx.measure_pair(
            lambda d=data, c=cov: derive_patient_outcomes(d, INSTRUMENT, covariates=c),
            lambda c=con, q=sql: c.execute(q).df(),
            reps,
        )
        con.execute("CREATE TABLE native AS SELECT * FROM data")
        native_sql = outcomes_sql("native", params)
        native = ctx.measure(lambda c=con, q=native_sql: c.execute(q).df(), reps, warmup=1)
        target = 1.5 if n == max(frames) else None
        ctx.rows.append(
            timed_row(
                "derive",
                "derive_patient_outcomes (covariates cached)",
                n,
                ours,
                ("DuckDB SQL over the same frame", ref),
                target=target,
            )
        )
        ctx.rows.append(
            timed_row(
                "derive",
                "DuckDB SQL over its own in-memory table",
                n,
                native,
                ("DuckDB SQL over the same frame", ref),
                note="context: the reference engine on its native storage",
            )
        )
        bare = ctx.measure(lambda d=data: derive_patient_outcomes(d, INSTRUMENT), reps)
        ctx.rows.append(
            timed_row(
                "derive",
                "derive_patient_outcomes (covariates computed, as the CLI)",
                n,
                bare,
                ("DuckDB SQL over the same frame", ref),
            )
        )
        covs = ctx.measure(lambda d=data: patient_covariates(d), reps)
        ctx.rows.append(timed_row("derive", "patient_covariates (once per dataset)", n, covs))
        con.close()


def filter_sequence(covariates: pd.DataFrame) -> Iterator[dict[str, list[str]]]:
    """Filters a user might click through, each one new: single levels of each categorical
    covariate, then pairs of them."""
    from analytics.covariates import categorical_levels

    levels = categorical_levels(covariates)
    singles = [{c: [v]} for c, vs in levels.items() for v in vs]
    yield from singles
    for a, b in itertools.combinations(singles, 2):
        if set(a) != set(b):
            yield {**a, **b}


def overview_recompute(
    data: pd.DataFrame, covariates: pd.DataFrame, filters: dict[str, list[str]]
) -> dict[str, Any]:
    """Everything the Overview computes for one filter: the library calls behind
    ``ui.cache.outcomes/summary/cohort_counts/trajectory`` and both figures."""
    from analytics.charts import plot_band_distribution, plot_trajectory
    from analytics.filters import apply_filters
    from analytics.outcomes import derive_patient_outcomes
    from analytics.stats import count_cohort, summarise_outcomes
    from analytics.suppression import suppress_trajectory
    from analytics.trajectories import summarise_trajectory

    subset = apply_filters(data, filters)
    outcomes = derive_patient_outcomes(subset, INSTRUMENT, covariates=covariates)
    summary = summarise_outcomes(outcomes)
    counts = count_cohort(subset, INSTRUMENT)
    traj = suppress_trajectory(summarise_trajectory(subset, outcomes), 11)
    n_base = int(outcomes.table["baseline_score"].notna().sum())
    fig1 = plot_trajectory(traj, outcomes.instrument, n_patients=n_base)
    fig2 = plot_band_distribution(outcomes)
    return {"summary": summary, "counts": counts, "figures": (fig1, fig2)}


def overview(ctx: Context, frames: dict[int, pd.DataFrame]) -> None:
    """(c) Context for the Overview's filter change: the general path (any filter, also
    one that is not a choice of patients) derives everything from the filtered rows. The
    app's path for the sidebar's patient-level filters, with the 250 ms target, is timed
    in :mod:`bench.pages` (``overview_page``)."""
    from analytics.covariates import patient_covariates

    for n, data in frames.items():
        cov = patient_covariates(data)
        filters = filter_sequence(cov)
        overview_recompute(data, cov, next(filters))  # warm imports and plotly
        timing = ctx.measure(
            lambda data=data, cov=cov, filters=filters: overview_recompute(
                data, cov, next(filters)
            ),
            ctx.repeats,
        )
        ctx.rows.append(
            timed_row(
                "overview",
                "Overview after a new filter, general path (derive from the filtered rows)",
                n,
                timing,
                note="context: the app restricts cached whole-dataset results (pages rows)",
            )
        )
