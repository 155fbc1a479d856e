"""Whole processes: (g) the ``summary`` command line vs a DuckDB process, and (e) the peak
RSS of a process that loads a cohort and computes the Overview.

Each child reports its own peak RSS (``VmHWM``) at exit through a small wrapper, because
``ru_maxrss`` from ``wait4`` is carried across fork and exec from this (large) process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.context import ROOT, Context, Row, Timing, timed_row
from bench.reference import Params, summary_script

PY = sys.executable


@dataclass(frozen=True)
class ProcessRun:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


# Runs a module (``-m``) or a program (``-c``) and, at exit, writes its peak RSS (VmHWM,
# see bench.context.peak_rss_mb) to the file named by $BENCH_PEAK_RSS. The child's own
# rusage cannot be used: ru_maxrss survives fork and exec, so every child started by this
# (large) process would report this process's size.
_WRAPPER = """
import atexit, os, runpy, sys
def _peak():
    with open('/proc/self/status') as fh:
        kb = next((l.split()[1] for l in fh if l.startswith('VmHWM:')), '0')
    with open(os.environ['BENCH_PEAK_RSS'], 'w') as fh:
        fh.write(kb)
atexit.register(_peak)
kind, target = sys.argv[1], sys.argv[2]
sys.argv = [target, *sys.argv[3:]]
if kind == '-m':
    runpy.run_module(target, run_name='__main__', alter_sys=True)
else:
    sys.argv[0] = '-c'
    exec(compile(target, '<string>', 'exec'), {'__name__': '__main__'})
"""


def run_process(argv: list[str], *, env: dict[str, str] | None = None) -> ProcessRun:
    """Run ``argv`` (``[python, -m|-c, ...]``) to completion: wall seconds, peak RSS
    (MiB, -1 when unknown) and output."""
    env = dict(env or os.environ)
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile(suffix=".rss") as rss,
    ):
        env["BENCH_PEAK_RSS"] = rss.name
        if len(argv) >= 3 and argv[1] in ("-m", "-c"):
            argv = [argv[0], "-c", _WRAPPER, *argv[1:]]
        t0 = time.perf_counter()
        proc = subprocess.run(argv, stdout=out, stderr=err, cwd=ROOT, env=env, check=False)
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        text = Path(rss.name).read_text().strip()
        return ProcessRun(
            seconds,
            int(text) / 1024 if text else -1.0,
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def cli_argv(csv: Path, instrument: str = "pcl5") -> list[str]:
    return [PY, "-m", "analytics", "summary", str(csv), "--instrument", instrument, "--json"]


def duckdb_argv(csv: Path, instrument: str = "pcl5") -> list[str]:
    return [PY, "-c", summary_script(str(csv), Params.for_instrument(instrument))]


def _repeat_pair(
    argv: list[str], ref_argv: list[str], n: int
) -> tuple[tuple[Timing, list[ProcessRun]], tuple[Timing, list[ProcessRun]]]:
    """Both processes ``n`` times, by turns (see :func:`bench.context.measure_pair`)."""
    ours: list[ProcessRun] = []
    ref: list[ProcessRun] = []
    for _ in range(n):
        for args, runs in ((ref_argv, ref), (argv, ours)):
            run = run_process(args, env=_env())
            if run.returncode != 0:
                raise RuntimeError(f"{args[:4]} failed ({run.returncode}): {run.stderr[-2000:]}")
            runs.append(run)
    return (Timing(tuple(r.seconds for r in ours)), ours), (
        Timing(tuple(r.seconds for r in ref)),
        ref,
    )


def cli(ctx: Context, sizes: list[int]) -> None:
    """``python -m analytics summary FILE --instrument pcl5 --json`` vs DuckDB, as processes."""
    for n in sizes:
        csv = ctx.cohort(n).csv
        reps = ctx.repeats_for(n)
        (ours, our_runs), (ref, ref_runs) = _repeat_pair(cli_argv(csv), duckdb_argv(csv), reps)
        mismatch = compare_summaries(json.loads(our_runs[0].stdout), json.loads(ref_runs[0].stdout))
        row = timed_row(
            "cli",
            "python -m analytics summary --json (process)",
            n,
            ours,
            ("DuckDB process (read_csv + SQL)", ref),
            target=3.0 if n == max(sizes) else None,
            note="figures equal" if not mismatch else f"figures differ: {mismatch[:3]}",
        )
        ctx.rows.append(row)
        ctx.rows.append(
            Row(
                "memory",
                "peak RSS: summary CLI process",
                n,
                value=max(r.peak_rss_mb for r in our_runs),
                unit="MB",
                note=f"DuckDB process {max(r.peak_rss_mb for r in ref_runs):,.0f} MB",
            )
        )
        imports = run_process(
            [PY, "-c", "import analytics.cli; analytics.cli.build_parser()"], env=_env()
        )
        ctx.rows.append(
            Row("cli", "CLI start-up (imports + parser)", n, imports.seconds, [imports.seconds])
        )


def compare_summaries(ours: dict, ref: dict, path: str = "", rel: float = 1e-7) -> list[str]:
    """Keys of ``ref`` whose values differ in ``ours`` (floats to a relative tolerance)."""
    diffs: list[str] = []
    for key, value in ref.items():
        where = f"{path}.{key}" if path else key
        mine = ours.get(key)
        if isinstance(value, dict):
            diffs += compare_summaries(mine or {}, value, where, rel)
        elif isinstance(value, float) and isinstance(mine, int | float):
            if abs(value - mine) > rel * max(1.0, abs(value)):
                diffs.append(where)
        elif value != mine:
            diffs.append(where)
    return diffs


MEMORY_SCRIPT = """
import json, sys
from analytics.runtime import tune_memory
tune_memory()  # as the dashboard does
from analytics.io import load_canonical
from analytics.covariates import patient_covariates
from bench.library import overview_recompute
result = load_canonical(sys.argv[1])
result.raise_for_errors()
data = result.data
cov = patient_covariates(data)
overview_recompute(data, cov, {})
overview_recompute(data, cov, {"site": ["Clinic A"]})
print(json.dumps({"rows": len(data)}))
"""


def memory(ctx: Context, sizes: list[int]) -> None:
    """(e) Peak RSS of a process that ingests the CSV and computes the Overview twice."""
    for n in sizes:
        run = run_process([PY, "-c", MEMORY_SCRIPT, str(ctx.cohort(n).csv)], env=_env())
        if run.returncode != 0:
            raise RuntimeError(f"memory probe failed: {run.stderr[-2000:]}")
        ctx.rows.append(
            Row(
                "memory",
                "peak RSS: ingest CSV + Overview (process)",
                n,
                value=run.peak_rss_mb,
                unit="MB",
                target_value=2048.0 if n >= 100_000 else None,
                note=f"{run.seconds:.1f} s",
            )
        )


def _phases(res: dict) -> str:
    """The peak of each phase of the AppTest process, where the kernel let it reset."""
    setup, pages = res.get("peak_rss_setup_mb"), res.get("peak_rss_pages_mb")
    if setup is None or pages is None:
        return ""
    return f"storing (load_canonical + store.save) {setup:,.0f} MB; pages {pages:,.0f} MB"


def pages(
    ctx: Context, sizes: list[int], repeats: int, *, big_pages: str = "overview"
) -> dict[int, dict]:
    """(d) The AppTest runs of :mod:`bench.pages`, one process per size."""
    out: dict[int, dict] = {}
    for n in sizes:
        argv = [PY, "-m", "bench.pages", "--parquet", str(ctx.cohort(n).parquet)]
        argv += ["--repeats", str(repeats)]
        if n >= 100_000 and big_pages:
            argv += ["--pages", big_pages]
        run = run_process(argv, env=_env())
        if run.returncode != 0:
            raise RuntimeError(f"bench.pages failed at {n}: {run.stderr[-3000:]}")
        res = json.loads(run.stdout)
        out[n] = res
        for page, r in res["pages"].items():
            note = r["title"] or "no title"
            if r["errors"]:
                note = f"EXCEPTION: {r['errors'][0]}"
            ctx.rows.append(Row("pages", f"{page}: cold", n, r["cold"], [r["cold"]], note=note))
            ctx.rows.append(
                Row(
                    "pages",
                    f"{page}: warm rerun",
                    n,
                    r["warm"],
                    list(r["warm_runs"]),
                    target_seconds=1.0 if n == 10_000 else None,
                )
            )
        for key, label in (
            (
                "overview_filter_page",
                "Overview new filter: ui.cache + every tile and figure (warm, as the app)",
            ),
            ("overview_filter_app", "Overview new filter, whole AppTest run (warm)"),
        ):
            r = res[key]
            ctx.rows.append(
                Row(
                    "overview",
                    label,
                    n,
                    r["median"],
                    list(r["runs"]),
                    target_seconds=0.25 if (n >= 100_000 and key.endswith("page")) else None,
                )
            )
        ctx.rows.append(
            Row(
                "memory",
                "peak RSS: AppTest process (store + all pages)",
                n,
                value=res["peak_rss_mb"],
                unit="MB",
                target_value=2048.0 if n >= 100_000 else None,
                note=_phases(res),
            )
        )
        ctx.rows.append(
            Row(
                "pages",
                "store.save (Parquet + hash)",
                n,
                res["store_save_seconds"],
                [res["store_save_seconds"]],
            )
        )
    return out
