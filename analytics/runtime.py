"""Settings of the app's own processes: the dashboard, the command line and the bench.

:func:`keep_freed_memory` is called once at the start of each (``app.py``,
``python -m analytics``, ``python -m bench``), never on import: a program that uses
:mod:`analytics` as a library keeps its own allocator settings.
"""

from __future__ import annotations

import ctypes
import functools
import os

# glibc's mallopt parameter: how much free memory the top of the heap keeps when it
# shrinks, and gets extra when it grows.
M_TOP_PAD = -2
TOP_PAD_BYTES = 64 << 20


@functools.cache
def keep_freed_memory() -> bool:
    """Ask glibc's ``malloc`` to keep 64 MiB of freed memory at the top of its heap
    (``M_TOP_PAD``) instead of handing each freed stretch back to the system at once.

    Validating a file and drawing a page allocate and free arrays of a few hundred kB
    to a few MB on every run. By default glibc returns that memory when it is freed,
    and every page of it is faulted in again on the next run: ~800 page faults per
    validation of 30,000 rows and ~10,000 at 300,000 rows, at about 3 µs each on the
    benchmark's virtual machine. With the pad they are reused (0 and ~25 faults). The
    process keeps at most 64 MiB more than it uses. Returns whether the setting was
    applied: only glibc has it (not musl, macOS or Windows)."""
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
    return mallopt(M_TOP_PAD, TOP_PAD_BYTES) == 1
