"""Freed memory goes back to the operating system, so one step's peak does not sit under the next.

A tick holds a million-row file in turn as CSV text, as checked rows, as a Parquet file, as a
design matrix. Each is freed when its step ends, but Arrow's default pool (mimalloc) keeps
what it had, so the resident size only grows and every step starts where the largest one
ended. `configure()` (the CLI calls it once, before any data is read) has Arrow allocate
through malloc, which returns large blocks when they are freed, and `release()` (after each
file and each load) trims what malloc still holds. The Arrow pool is left alone when
ARROW_DEFAULT_MEMORY_POOL is set.

Measured with bench/bench_tick.py (bench/README.md): with the system pool a 1,000,000-row
tick's ingestion is also faster than with mimalloc; pinning glibc's mmap threshold as well gave
back 10 to 30 MiB more but made ingestion 30 to 50% slower, so it is not done.
"""

from __future__ import annotations

import contextlib
import os
import sys

_configured = False


def configure() -> None:
    """Set the allocators up for a process that reads large files (once; later calls no-op)."""
    global _configured
    if _configured:
        return
    _configured = True
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
