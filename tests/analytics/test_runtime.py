"""The allocator setting of the app's processes (analytics.runtime)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from analytics.runtime import keep_freed_memory

# Grows the heap with 200 arrays of 100 kB (below glibc's mmap threshold, so on the
# heap), frees them, does it again, and prints the page faults of the second round.
PROBE = """
import resource, sys
import numpy as np
from analytics.runtime import keep_freed_memory
if sys.argv[1] == "pad":
    assert keep_freed_memory()
def round_trip():
    arrays = [np.ones(12_500) for _ in range(200)]
    del arrays
round_trip()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
round_trip()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _glibc() -> bool:
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (AttributeError, ValueError, OSError):
        return False


@pytest.mark.skipif(not _glibc(), reason="mallopt's M_TOP_PAD is glibc's")
def test_freed_memory_is_reused_without_page_faults():
    """Without the setting the second round faults every page in again (the freed top
    of the heap went back to the system); with it the pages are reused."""
    faults = {}
    for mode in ("default", "pad"):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True
        )
        faults[mode] = int(out.stdout)
    assert faults["default"] > 2_000  # 20 MB of 4 kB pages, most of them faulted again
    assert faults["pad"] < faults["default"] / 10


@pytest.mark.skipif(not _glibc(), reason="mallopt's M_TOP_PAD is glibc's")
def test_the_setting_applies_once_per_process():
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # cached: mallopt is called once
