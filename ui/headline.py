"""The Overview's headline tiles: values, intervals and definitions, with small-cell
suppression applied (a count of 1 to min_cell_size - 1 patients is shown as "<11", and
no rate, mean or interval is shown that would let it be worked out)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from analytics.outcomes import PatientOutcomes
from ui import format as fmt

HIDDEN = "suppressed"


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    delta: str | None
    help: str


def _small(n: int, min_cell: int) -> bool:
    return 0 < n < min_cell


def count(n: int, min_cell: int) -> str:
    return f"<{min_cell}" if _small(n, min_cell) else f"{n:,}"


def headline_tiles(
    row: pd.Series,
    counts: dict[str, int],
    outcomes: PatientOutcomes,
    endpoint: str,
    min_cell: int,
) -> list[Tile]:
    inst = outcomes.instrument
    resolved = outcomes.resolved
    n = int(row.n_patients)
    few = _small(n, min_cell)
    note = f" Groups under {min_cell} patients are suppressed." if few else ""
    tiles = [
        Tile(
            "Patients",
            count(counts["n_patients"], min_cell),
            None,
            f"Patients with any {inst.label} assessment after filters. {count(n, min_cell)} "
            f"have a baseline and an endpoint ({endpoint}) and are analysed.{note}",
        ),
        Tile(
            "Assessments",
            count(counts["n_assessments"], min_cell),
            None,
            f"{inst.label} scores recorded.",
        ),
        Tile(
            "Infusions",
            count(counts["n_infusions"], min_cell),
            None,
            "Sum over these patients of the infusions received by their last assessment "
            "(a lower bound on infusions given).",
        ),
        Tile(
            "Baseline mean",
            HIDDEN if few else fmt.num(row.baseline_mean),
            None,
            f"Mean {inst.label} at baseline (SD {'—' if few else fmt.num(row.baseline_sd)}) "
            "over the analysed patients; baseline = latest pre-treatment score.",
        ),
        Tile(
            "Mean change",
            HIDDEN if few else fmt.signed(row.mean_change),
            None if few else fmt.ci(row.mean_change_ci95_low, row.mean_change_ci95_high),
            "Endpoint minus baseline, points (negative = fewer symptoms), t-based 95% CI. "
            + (
                ""
                if few
                else f"Paired t = {fmt.num(row.t_statistic, 2)}, {fmt.p_value(row.p_value)}; "
                f"Cohen's d_z = {fmt.num(row.cohens_dz, 2)}. N = {n:,}."
            ),
        ),
    ]
    for name, what in (
        ("responders", resolved.describe_response()),
        ("remitters", resolved.describe_remission()),
    ):
        k, big_n = int(row[f"{name}_n"]), int(row[f"{name}_N"])
        hide = _small(k, min_cell) or _small(big_n - k, min_cell) or _small(big_n, min_cell)
        tiles.append(
            Tile(
                name.capitalize(),
                HIDDEN if hide else fmt.pct(row[f"{name}_pct"]),
                f"<{min_cell} or all but <{min_cell} of {count(big_n, min_cell)}"
                if hide and big_n
                else None
                if hide
                else f"{k:,}/{big_n:,} · "
                + fmt.ci(row[f"{name}_ci95_low"], row[f"{name}_ci95_high"], 0, "%"),
                f"{what.capitalize()}. Wilson score 95% CI. Denominator: analysed patients "
                "with a defined outcome (a baseline of 0 has no percent change and is "
                "excluded from response).",
            )
        )
    rc_n, better = int(row.reliable_change_N), int(row.reliably_improved_n)
    worse = int(row.reliably_deteriorated_n)
    hide = _small(rc_n, min_cell) or _small(better, min_cell) or _small(rc_n - better, min_cell)
    tiles.append(
        Tile(
            "Reliably improved",
            HIDDEN if hide else fmt.pct(100 * better / rc_n if rc_n else None),
            None if hide else f"{better:,}/{rc_n:,} · {count(worse, min_cell)} worse",
            outcomes.reliable_change.describe(),
        )
    )
    return tiles


@dataclass(frozen=True)
class OverviewResults:
    """Everything the Overview shows for one view, computed once: the summary row, the
    cohort counts, the headline tiles, the (suppressed) trajectory table and both figures.
    The page draws these and its downloads reuse them (no figure is built twice)."""

    row: pd.Series
    counts: dict[str, int]
    tiles: list[Tile]
    trajectory: pd.DataFrame
    trajectory_figure: go.Figure
    severity_figure: go.Figure


def overview_results(
    args: tuple,
    outcomes: PatientOutcomes,
    *,
    value: str,
    by: str | None,
    min_cell: int,
    note: str = "",
) -> OverviewResults:
    """The Overview's numbers and figures for the cache arguments ``args`` =
    ``(dataset_id, instrument, definition, filters)`` (``outcomes`` is
    ``cache.outcomes(*args)``). ``bench/pages.py`` times exactly this on a filter change."""
    from analytics.charts import plot_band_distribution, plot_trajectory
    from ui import cache

    dataset_id, instrument, definition, filters = args
    row = cache.summary(*args).iloc[0]
    counts = cache.cohort_counts(dataset_id, instrument, filters)
    endpoint = definition.endpoint_rule.describe()
    tiles = headline_tiles(row, counts, outcomes, endpoint, min_cell)
    traj = cache.trajectory(*args, value=value, by=by, min_cell_size=min_cell)
    n_base = int(outcomes.table["baseline_score"].notna().sum())
    fig = plot_trajectory(
        traj,
        outcomes.instrument,
        value=value,
        n_patients=n_base,
        note=note,
        min_cell_size=min_cell,
    )
    bands = plot_band_distribution(outcomes, note=note, min_cell_size=min_cell)
    return OverviewResults(row, counts, tiles, traj, fig, bands)
