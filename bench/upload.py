"""Upload at scale (issue 8 item 3): ``analytics.ingest`` on a messy clinic export.

The export is the cohort written as ``sample_data/make_exports.py`` writes its messy long
CSV (semicolons, decimal commas, visit dates instead of days, a BOM, a few bad rows),
mapped with ``sample_data/profiles/messy_long_export.toml``. Each stage of the upload is
timed separately (read, map, validate, identifier screen, store), once, because at
100,000 patients a single run takes long; a cProfile of the whole ingest names the hot
spots (the functions with the most own time).
"""

from __future__ import annotations

import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from bench.cohorts import MESSY_PROFILE, messy_export
from bench.context import Context, Row


def _stage(label: str, fn, timings: dict[str, float]):
    t0 = time.perf_counter()
    out = fn()
    timings[label] = time.perf_counter() - t0
    return out


def stages(path: Path) -> dict[str, float]:
    """Seconds per upload stage, as the Data page runs them."""
    from analytics.ingest import load_profile, screen
    from analytics.profiles import apply_profile
    from analytics.readers import read_table
    from analytics.store import open_store
    from analytics.validation import validate_canonical

    t: dict[str, float] = {}
    profile = load_profile(MESSY_PROFILE)
    data = path.read_bytes()
    table = _stage(
        "read_table (decode, sniff, parse, tidy)",
        lambda: read_table(data, name=path.name, max_bytes=len(data) + 1),
        t,
    )
    mapped, labels = _stage(
        "apply_profile (map, dates to days)", lambda: apply_profile(table, profile), t
    )
    result = _stage(
        "validate_canonical",
        lambda: validate_canonical(
            mapped, source=path.name, registry=profile.registry, column_labels=labels
        ),
        t,
    )
    _stage("screen identifiers", lambda: screen(table, profile), t)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(tmp)
        _stage(
            "store.save (Parquet + content hash)",
            lambda: store.save(result.data, name="bench upload"),
            t,
        )
    t["total"] = sum(t.values())
    # Not in the total: only the first upload of a new export shape has no saved profile.
    from analytics.mapping import guess_profile

    _stage(
        "guess_profile (new export shape, once per file; not in total)",
        lambda: guess_profile(table),
        t,
    )
    return t


def profile_ingest(path: Path, top: int = 15) -> dict[str, list[dict]]:
    """One ``ingest`` of ``path`` under cProfile: the functions with the most own time,
    and the project's own functions (``analytics/``) with the most cumulative time,
    which name the lines to change."""
    from analytics.ingest import ingest, load_profile

    profile = load_profile(MESSY_PROFILE)
    data = path.read_bytes()
    prof = cProfile.Profile()
    prof.enable()
    ingest(data, name=path.name, profile=profile, max_bytes=len(data) + 1)
    prof.disable()
    stats = pstats.Stats(prof)
    rows = []
    for (file, line, func), (_, ncalls, tottime, cumtime, _) in stats.stats.items():
        rows.append(
            {
                "function": f"{Path(file).name}:{line}({func})",
                "path": file,
                "calls": ncalls,
                "own_seconds": tottime,
                "cumulative_seconds": cumtime,
            }
        )
    own = sorted(rows, key=lambda r: r["own_seconds"], reverse=True)[:top]
    ours = [r for r in rows if "/analytics/" in r["path"].replace("\\", "/")]
    ours.sort(key=lambda r: r["cumulative_seconds"], reverse=True)
    return {"own_time": own, "analytics_cumulative": ours[:top]}


# One upload as the Data page runs it, in a process of its own: the file's bytes, the read
# table and the checked rows all stay referenced (the page keeps them) while the store
# writes. Peak RSS via bench.processes.run_process.
UPLOAD_SCRIPT = """
import sys, tempfile
from analytics.runtime import tune_memory
tune_memory()  # as the dashboard does
from analytics.ingest import ingest, load_profile
from analytics.store import open_store
path, profile_path = sys.argv[1], sys.argv[2]
data = open(path, 'rb').read()
done = ingest(data, name=path, profile=load_profile(profile_path), max_bytes=len(data) + 1)
with tempfile.TemporaryDirectory() as tmp:
    open_store(tmp).save(done.data, name='bench upload')
"""


def upload_peak_rss(path: Path) -> tuple[float, float]:
    """Peak RSS (MiB) and seconds of one whole upload of ``path`` in its own process."""
    from bench.processes import PY, _env, run_process

    run = run_process([PY, "-c", UPLOAD_SCRIPT, str(path), str(MESSY_PROFILE)], env=_env())
    if run.returncode != 0:
        raise RuntimeError(f"upload memory probe failed: {run.stderr[-2000:]}")
    return run.peak_rss_mb, run.seconds


def upload(ctx: Context, sizes: list[int]) -> dict:
    out: dict = {}
    for n in sizes:
        path = messy_export(n)
        t = stages(path)
        size_mb = path.stat().st_size / 1e6
        for label, seconds in t.items():
            ctx.rows.append(
                Row(
                    "upload",
                    f"upload {label}",
                    n,
                    seconds,
                    [seconds],
                    note=f"{size_mb:,.0f} MB messy CSV" if label == "total" else "",
                )
            )
        peak, seconds = upload_peak_rss(path)
        ctx.rows.append(
            Row(
                "memory",
                "peak RSS: one upload (process: bytes, read, map, check, save)",
                n,
                value=peak,
                unit="MB",
                note=f"{peak / (size_mb * 1e6 / 2**20):.1f}x the file; {seconds:.1f} s",
            )
        )
        out[n] = {"stages": t, "file_mb": size_mb, "peak_rss_mb": peak}
        if n == max(sizes):
            prof = out[n]["profile"] = profile_ingest(path)
            print(f"upload hot spots at {n:,} patients (cumulative seconds, one ingest):")
            for r in prof["analytics_cumulative"]:
                print(f"  {r['cumulative_seconds']:8.2f}  {r['function']}")
    return out
