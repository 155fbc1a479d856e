"""Memory settings of the app's own processes: the dashboard, the command line, the bench.

:func:`tune_memory` is called once at the start of each (``app.py``, ``python -m
analytics``, ``python -m bench`` and the bench's probe processes), never on import: a
program that uses :mod:`analytics` as a library keeps its own settings. Why each setting,
with the measurements: docs/decisions.md, "Performance: fresh memory".
"""

from __future__ import annotations

import ctypes
import functools
import os

# glibc's mallopt parameters: how much free memory the top of the heap keeps when it
# shrinks (and gets extra when it grows), and the size from which a block is mapped
# on its own rather than taken from the heap.
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
TOP_PAD_BYTES = 64 << 20
MMAP_THRESHOLD_BYTES = 32 << 20


@functools.cache
def tune_memory() -> dict[str, bool]:
    """Apply both settings below; returns which applied (a platform may lack either)."""
    return {"keep_freed_heap": keep_freed_heap(), "numpy_small_pages": numpy_small_pages()}


def keep_freed_heap() -> bool:
    """Ask glibc's ``malloc`` to keep 64 MiB of freed memory at the top of its heap
    (``M_TOP_PAD``) instead of handing each freed stretch back to the system at once,
    and to take blocks of up to 32 MiB from the heap (``M_MMAP_THRESHOLD``).

    Validating a file and drawing a page allocate and free arrays of a few hundred kB
    to a few MB on every run. By default glibc returns that memory when it is freed,
    and every page of it is faulted in again on the next run: ~800 page faults per
    validation of 30,000 rows and ~10,000 at 300,000 rows, about 3 us each on the
    benchmark's virtual machine. With the pad they are reused (0 and ~25 faults). The
    threshold is the ceiling glibc's own adaptive threshold would reach, which setting
    the pad switches off: without it every array from 128 kB up was mapped afresh, and
    the patient covariates of 100,000 patients took 3.0 s instead of 1.2 s. The process
    keeps at most 64 MiB more than it uses. Only glibc has the settings (not musl, macOS
    or Windows): returns whether they applied."""
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):  # not a POSIX system, or not glibc
        return False
    if not libc.startswith("glibc"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    padded = mallopt(M_TOP_PAD, TOP_PAD_BYTES) == 1
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1 and padded


def numpy_small_pages() -> bool:
    """Stop NumPy asking Linux for 2 MiB pages for arrays of 4 MiB and more (its
    ``madvise(MADV_HUGEPAGE)``, which ``NUMPY_MADVISE_HUGEPAGE=0`` also turns off).

    Where the kernel compacts memory to find huge pages on the first touch (``defrag``
    set to ``madvise``, as on the benchmark's machine), fresh large arrays cost 2-3x
    more: 20 new arrays of 24 MB took 0.67-1.35 s with huge pages, 0.30-0.45 s without,
    and ``python -m analytics summary`` on 100,000 patients 3.5 s against 2.7 s (medians
    of 9 alternating runs). Returns whether the setting applied (NumPy's switch is
    ``numpy._core.multiarray._set_madvise_hugepage``; absent elsewhere)."""
    import numpy as np

    switch = getattr(getattr(np, "_core", None), "multiarray", None)
    set_hugepage = getattr(switch, "_set_madvise_hugepage", None)
    if set_hugepage is None:
        return False
    set_hugepage(False)
    return True
