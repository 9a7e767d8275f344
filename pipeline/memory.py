"""Freed memory goes back to the operating system, so one step's peak does not sit under the next.

A tick holds a million-row file in turn as CSV text, as checked rows, as a Parquet file, as a
design matrix. Each is freed when its step ends, but by default neither allocator gives the
pages back: glibc raises its mmap threshold after the first large free (so later large arrays
come from a heap that fragments and is not trimmed), and Arrow's mimalloc pool keeps what it
had. The resident size then only grows, and every step starts where the largest one ended.

`configure()` (the CLI calls it once, before any data is read) pins glibc's mmap threshold, so
every buffer of 1 MiB or more is its own mapping and is unmapped when freed, and has Arrow
allocate through the same malloc. Either is left alone when its environment variable
(MALLOC_MMAP_THRESHOLD_, ARROW_DEFAULT_MEMORY_POOL) is already set. bench/bench_tick.py measures
the effect on the peak (see bench/README.md).
"""

from __future__ import annotations

import contextlib
import os
import sys

MMAP_THRESHOLD = 1 << 20
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h
_configured = False


def configure() -> None:
    """Set the allocators up for a process that reads large files (once; later calls no-op)."""
    global _configured
    if _configured:
        return
    _configured = True
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        with contextlib.suppress(OSError, AttributeError):  # mallopt is glibc's
            import ctypes

            ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    # Read by Arrow when it first allocates; pyarrow need not (and on a no-op tick must not)
    # be imported for it to apply.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    if "pyarrow" in sys.modules and os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "system":
        import pyarrow

        pyarrow.set_memory_pool(pyarrow.system_memory_pool())


def release() -> None:
    """Give memory freed so far back to the OS: what Arrow's pool and glibc's free lists keep."""
    import ctypes

    import pyarrow

    pyarrow.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # malloc_trim is glibc's
        ctypes.CDLL(None).malloc_trim(0)
