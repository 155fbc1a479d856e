"""Timing, result rows and the run context shared by the benchmark sections."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import cohorts

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of each run (after any warm-up) and their median."""

    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def measure(fn: Callable[[], Any], repeats: int = 5, *, warmup: int = 0) -> Timing:
    """Median of ``repeats`` wall-clock runs of ``fn`` (``time.perf_counter``), with a
    collection before each run so one run's garbage is not charged to the next."""
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(max(1, repeats)):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return Timing(tuple(runs))


def measure_pair(
    fn: Callable[[], Any],
    ref: Callable[[], Any],
    repeats: int = 5,
    *,
    warmup: int = 1,
) -> tuple[Timing, Timing]:
    """:func:`measure` of ``fn`` and of its reference ``ref``, run by turns (``ref``, then
    ``fn``, ``repeats`` times), so that a ratio is of runs under the same conditions: on a
    shared machine the speed drifts over seconds, and all of one side's runs before all
    of the other's would charge the drift to the ratio."""
    for _ in range(warmup):
        ref()
        fn()
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(max(1, repeats)):
        for call, runs in ((ref, theirs), (fn, ours)):
            gc.collect()
            t0 = time.perf_counter()
            call()
            runs.append(time.perf_counter() - t0)
    return Timing(tuple(ours)), Timing(tuple(theirs))


@dataclass
class Row:
    """One line of the results table.

    ``seconds`` is the median of ``runs``; ``reference`` names what it is compared with
    and ``reference_seconds`` that median; ``target`` is a ratio (``ratio <= target``)
    or, with ``target_seconds``, an absolute limit; ``value``/``unit`` carry
    non-time results (peak RSS in MB).
    """

    section: str
    name: str
    size: int
    seconds: float | None = None
    runs: list[float] = field(default_factory=list)
    reference: str | None = None
    reference_seconds: float | None = None
    reference_runs: list[float] = field(default_factory=list)
    target: float | None = None
    target_seconds: float | None = None
    value: float | None = None
    unit: str = "s"
    target_value: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.seconds is None or not self.reference_seconds:
            return None
        return self.seconds / self.reference_seconds

    @property
    def met(self) -> bool | None:
        if self.target is not None and self.ratio is not None:
            return self.ratio <= self.target
        if self.target_seconds is not None and self.seconds is not None:
            return self.seconds <= self.target_seconds
        if self.target_value is not None and self.value is not None:
            return self.value <= self.target_value
        return None

    def record(self) -> dict[str, Any]:
        out = asdict(self)
        out["ratio"] = self.ratio
        out["met"] = self.met
        return out


def timed_row(
    section: str,
    name: str,
    size: int,
    timing: Timing,
    reference: tuple[str, Timing] | None = None,
    **extra: Any,
) -> Row:
    row = Row(section, name, size, timing.median, list(timing.runs), **extra)
    if reference is not None:
        row.reference = reference[0]
        row.reference_seconds = reference[1].median
        row.reference_runs = list(reference[1].runs)
    return row


@dataclass
class Context:
    """What a section needs: the sizes, repeats, cached cohort files and a scratch dir."""

    sizes: tuple[int, ...]
    repeats: int
    scratch: Path
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def cohort(self, n: int) -> cohorts.Cohort:
        return cohorts.cohort(n)

    def measure(self, fn: Callable[[], Any], repeats: int | None = None, **kw: Any) -> Timing:
        return measure(fn, repeats or self.repeats, **kw)

    def measure_pair(
        self, fn: Callable[[], Any], ref: Callable[[], Any], repeats: int | None = None, **kw: Any
    ) -> tuple[Timing, Timing]:
        return measure_pair(fn, ref, repeats or self.repeats, **kw)

    def repeats_for(self, n: int) -> int:
        """Fewer runs of the slow, large cases; at least 3 so the median means something."""
        return self.repeats if n < 100_000 else max(3, self.repeats - 2)


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB: ``VmHWM`` of its address space.

    Not ``ru_maxrss``: Linux carries that across fork and exec, so a child started by a
    large process would report its parent's size."""
    for line in _read("/proc/self/status").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Start this process's peak RSS afresh (``VmHWM`` := current RSS; Linux
    ``/proc/self/clear_refs`` value 5), so that a later :func:`peak_rss_mb` measures one
    phase. False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def machine() -> dict[str, Any]:
    """The machine and software the run measured: CPU, cores, memory, load, versions."""
    import duckdb
    import numpy
    import pandas
    import pyarrow
    import streamlit

    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in _read("/proc/cpuinfo").splitlines()
            if ln.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kb = next(
        (
            int(ln.split()[1])
            for ln in _read("/proc/meminfo").splitlines()
            if ln.startswith("MemTotal:")
        ),
        0,
    )
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "load_average": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {
            "pandas": pandas.__version__,
            "numpy": numpy.__version__,
            "pyarrow": pyarrow.__version__,
            "duckdb": duckdb.__version__,
            "streamlit": streamlit.__version__,
        },
    }
