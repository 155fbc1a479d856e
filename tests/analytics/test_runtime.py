"""The memory settings of the app's processes (analytics.runtime)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Grows the heap with 200 arrays of 100 kB (below glibc's mmap threshold, so on the
# heap), frees them, does it again, and prints the page faults of the second round.
HEAP_PROBE = """
import resource, sys
import numpy as np
from analytics.runtime import keep_freed_heap
if sys.argv[1] == "pad":
    assert keep_freed_heap()
def round_trip():
    arrays = [np.ones(12_500) for _ in range(200)]
    del arrays
round_trip()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
round_trip()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

# NumPy's switch returns its previous state: after tune_memory, huge pages are off.
NUMPY_PROBE = """
import numpy as np
from analytics.runtime import tune_memory
applied = tune_memory()
assert applied["numpy_small_pages"], applied
print(np._core.multiarray._set_madvise_hugepage(False))
"""


def _glibc() -> bool:
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (AttributeError, ValueError, OSError):
        return False


def _run(program: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", program, *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.mark.skipif(not _glibc(), reason="mallopt's M_TOP_PAD is glibc's")
def test_freed_memory_is_reused_without_page_faults():
    """Without the setting the second round faults every page in again (the freed top
    of the heap went back to the system); with it the pages are reused."""
    faults = {mode: int(_run(HEAP_PROBE, mode)) for mode in ("default", "pad")}
    assert faults["default"] > 2_000  # 20 MB of 4 kB pages, most of them faulted again
    assert faults["pad"] < faults["default"] / 10


def test_numpy_stops_asking_for_huge_pages():
    assert _run(NUMPY_PROBE) == "False"
