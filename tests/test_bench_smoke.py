"""Smoke test of the benchmark's code paths on ~200 synthetic patients (no timings).

The benchmark compares our code with reference engines, so the references must compute
the same thing: the DuckDB derivation equals ``derive_patient_outcomes``, the DuckDB
``summary`` process prints the command line's figures, and the Overview's fast path for a
filter (the whole dataset's outcomes restricted to the chosen patients) equals deriving
from the filtered rows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics.covariates import patient_covariates, patient_level_columns
from analytics.filters import apply_filters
from analytics.outcomes import derive_patient_outcomes, restrict_outcomes
from analytics.stats import count_cohort, patient_counts, sum_patient_counts
from analytics.suppression import suppress_trajectory
from analytics.trajectories import summarise_points, summarise_trajectory, trajectory_points
from analytics.validation import validate_canonical
from bench import cohorts, library, processes, reference, run
from bench.context import Row, Timing, measure, measure_pair, peak_rss_mb
from sample_data.generate_demo import DEFAULT_SEED, generate_cohort

ROOT = Path(__file__).resolve().parents[1]
N = 200


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return validate_canonical(generate_cohort(N, seed=DEFAULT_SEED)).data


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> cohorts.Cohort:
    return cohorts.cohort(N, data_dir=tmp_path_factory.mktemp("bench-data"))


COMPARED = [
    "baseline_score",
    "baseline_day",
    "endpoint_score",
    "endpoint_day",
    "change",
    "pct_change",
]


@pytest.mark.parametrize("instrument", ["pcl5", "phq9", "gad7"])
def test_duckdb_derivation_equals_derive_patient_outcomes(data, instrument):
    params = reference.Params.for_instrument(instrument)
    con = duckdb.connect()
    con.register("data", data)
    ref = reference.outcomes(con, "data", params)
    ours = derive_patient_outcomes(data, instrument).table
    assert ref["patient_id"].tolist() == ours["patient_id"].tolist()
    for col in COMPARED:
        np.testing.assert_allclose(
            ref[col].to_numpy(float), ours[col].to_numpy(float), equal_nan=True, err_msg=col
        )
    assert ref["n_assessments"].tolist() == ours["n_assessments"].tolist()
    assert ref["analysed"].tolist() == ours["analysed"].tolist()
    for col in ("responder", "remitter"):
        expect = ours[col].astype("Float64").fillna(-1).tolist()
        assert ref[col].astype("Float64").fillna(-1).tolist() == expect, col


def test_duckdb_summary_process_prints_the_command_line_figures(files):
    ref = processes.run_process(processes.duckdb_argv(files.csv))
    ours = processes.run_process(processes.cli_argv(files.csv))
    assert ref.returncode == 0 and ours.returncode == 0, ref.stderr + ours.stderr
    assert ref.peak_rss_mb > 0 and ours.peak_rss_mb > 0
    mismatch = processes.compare_summaries(json.loads(ours.stdout), json.loads(ref.stdout))
    assert mismatch == []


def test_cached_cohort_files_hold_the_generated_cohort(files, data):
    from analytics.io import load_canonical

    loaded = load_canonical(files.csv).data
    pd.testing.assert_frame_equal(loaded, data, check_dtype=False)  # CSV numbers: float
    assert cohorts.cohort(N, data_dir=files.csv.parent) == files  # reused, not rewritten


def test_restricting_to_chosen_patients_equals_deriving_from_their_rows(data):
    cov = patient_covariates(data)
    level = set(patient_level_columns(data))
    assert {"site", "sex", "age_band"} <= level
    frame = cov.reset_index()
    everyone = derive_patient_outcomes(data, "pcl5", covariates=cov)
    points = trajectory_points(data, everyone)
    counts = patient_counts(data, "pcl5")
    filters = list(library.filter_sequence(cov))[:12]
    filters.append({"site": ["Clinic A"], "sex": ["Nobody"]})  # matches no one
    for f in filters:
        subset = apply_filters(data, f)
        chosen = set(apply_filters(frame, f)["patient_id"])
        direct = derive_patient_outcomes(subset, "pcl5", covariates=cov)
        keep = everyone.table["patient_id"].isin(chosen).to_numpy()
        fast = restrict_outcomes(everyone, keep)
        pd.testing.assert_frame_equal(fast.table, direct.table, obj=str(f))
        assert fast.reliable_change == direct.reliable_change
        in_counts = counts.index.isin(list(chosen))
        assert sum_patient_counts(counts[in_counts]) == count_cohort(subset, "pcl5")
        if direct.table.empty:
            continue
        for value, by in (("score", None), ("pct_change", "sex")):
            expect = summarise_trajectory(subset, direct, value=value, by=by)
            got = summarise_points(
                points[points["patient_id"].isin(chosen)], fast, value=value, by=by
            )
            pd.testing.assert_frame_equal(got, expect, obj=f"{f} {value} {by}")


def test_a_covariate_missing_on_some_rows_is_not_a_choice_of_patients():
    frame = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P2", "P2"],
            "site": ["A", "A", "B", "B"],
            "bmi": [30.0, np.nan, 25.0, np.nan],  # recorded at baseline only
            "dose": [0.5, 0.6, 0.5, 0.5],  # varies within P1
        }
    )
    assert patient_level_columns(frame) == ["site"]


def test_the_overview_through_ui_cache_equals_the_library_on_the_demo():
    from analytics.definitions import OutcomeDefinition
    from analytics.io import load_canonical
    from analytics.suppression import suppress_trajectory
    from ui import cache
    from ui.datasets import DEMO_ID, DEMO_PATH

    demo = load_canonical(DEMO_PATH).data
    cov = patient_covariates(demo)
    definition = OutcomeDefinition(endpoint="infusions:6")
    for f in ({}, {"site": ["Clinic B"]}, {"sex": ["Female"], "route": ["IV"]}):
        key = tuple(sorted((c, tuple(v)) for c, v in f.items()))
        subset = apply_filters(demo, f)
        direct = derive_patient_outcomes(subset, "phq9", definition, covariates=cov)
        got = cache.outcomes(DEMO_ID, "phq9", definition, key)
        pd.testing.assert_frame_equal(got.table, direct.table)
        assert cache.cohort_counts(DEMO_ID, "phq9", key) == count_cohort(subset, "phq9")
        expect = suppress_trajectory(summarise_trajectory(subset, direct, by="site"), 11)
        traj = cache.trajectory(DEMO_ID, "phq9", definition, key, by="site")
        pd.testing.assert_frame_equal(traj, expect)


def test_overview_recompute_and_the_results_table(tmp_path, monkeypatch, data):
    cov = patient_covariates(data)
    out = library.overview_recompute(data, cov, {"site": ["Clinic A"]})
    assert out["counts"]["n_patients"] > 0 and len(out["figures"]) == 2
    timing = measure(lambda: None, 3)
    assert isinstance(timing, Timing) and len(timing.runs) == 3
    rows = [
        Row("ingest", "load", N, 2.0, [2.0], "pyarrow", 1.0, [1.0], target=3.0),
        Row("memory", "rss", N, value=100.0, unit="MB", target_value=2048.0),
    ]
    assert rows[0].ratio == 2.0 and rows[0].met and rows[1].met
    assert "ratio" in run.format_table(rows)
    monkeypatch.setattr(run, "DOCS", tmp_path / "performance.md")
    record = {
        "started": "now",
        "argv": [],
        "machine": {
            "cpu": "x",
            "nproc": 2,
            "memory_gb": 1,
            "load_average": [0, 0, 0],
            "python": "3",
            "versions": {},
        },
        "rows": [r.record() for r in rows],
        "notes": [],
    }
    run.write_docs(record)
    run.write_docs(record)  # replaces its own block
    text = (tmp_path / "performance.md").read_text()
    assert text.count(run.START) == 1 and "Targets met: 2 of 2" in text
    assert peak_rss_mb() > 0


def test_bench_cli_parses_its_options():
    args = run.build_parser().parse_args(["--sizes", "1000,10_000", "--only", "derive"])
    assert args.sizes == (1000, 10000) and args.only == "derive"
    assert (
        subprocess.run(
            [sys.executable, "-m", "bench", "--only", "nonsense", "--no-docs"],
            cwd=ROOT,
            capture_output=True,
        ).returncode
        == 2
    )


def test_the_overview_page_computation_on_a_stored_dataset_equals_the_library(
    tmp_path, monkeypatch
):
    """What bench.pages times on a filter change: a dataset from the store (text columns
    Arrow-backed), cached whole-dataset outcomes restricted to the chosen patients, every
    tile and figure, equal to the general path over the filtered rows."""
    from analytics.definitions import OutcomeDefinition
    from analytics.io import load_canonical
    from analytics.stats import summarise_outcomes
    from analytics.store import open_store
    from bench.pages import overview_page
    from ui.datasets import DEMO_PATH

    monkeypatch.setenv("OUTCOMES_DATA_DIR", str(tmp_path))
    demo = load_canonical(DEMO_PATH).data
    dataset_id = open_store(tmp_path).save(demo, name="demo copy").id
    definition = OutcomeDefinition()
    cov = patient_covariates(demo)
    rng = np.random.default_rng(11)
    levels = {c: sorted(demo[c].dropna().unique()) for c in ("site", "sex", "route")}
    for _ in range(4):
        cols = rng.choice(sorted(levels), size=int(rng.integers(1, 3)), replace=False)
        f = {c: list(rng.choice(levels[c], size=1)) for c in cols}
        key = tuple(sorted((c, tuple(v)) for c, v in f.items()))
        subset = apply_filters(demo, f)
        direct = derive_patient_outcomes(subset, library.INSTRUMENT, definition, covariates=cov)
        got = overview_page(dataset_id, key, definition)
        res = got["results"]
        expect = summarise_outcomes(direct).iloc[0]
        pd.testing.assert_series_equal(res.row, expect, check_names=False)
        assert res.counts == count_cohort(subset, library.INSTRUMENT)
        traj = suppress_trajectory(summarise_trajectory(subset, direct), 11)
        pd.testing.assert_frame_equal(res.trajectory, traj)
        assert len(got["specs"]) == 2 and all(s.startswith("{") for s in got["specs"])
        assert [t.label for t in res.tiles][:2] == ["Patients", "Assessments"]


def test_measure_pair_runs_the_reference_and_ours_by_turns():
    calls: list[str] = []
    ours, ref = measure_pair(lambda: calls.append("ours"), lambda: calls.append("ref"), 3)
    assert calls == ["ref", "ours"] * 4  # one warm-up pair, then three timed pairs
    assert len(ours.runs) == len(ref.runs) == 3
    assert all(t >= 0 for t in (*ours.runs, *ref.runs))
