"""Freed memory goes back to the OS: what `pipeline.memory.configure` sets, and what it leaves."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import os, sys
from pipeline import memory
if "--no-configure" not in sys.argv:
    memory.configure()
    memory.configure()  # once is enough; a second call changes nothing
import numpy as np, pyarrow as pa
print(pa.default_memory_pool().backend_name)
# glibc raises its mmap threshold when a large mapped buffer is freed; later large buffers
# then come from the heap, and small blocks allocated after them keep the heap from shrinking.
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
first = np.ones(16 << 20, dtype=np.uint8)
del first
before = rss()
big, pins = [], []
for _ in range(8):
    big.append(np.ones(8 << 20, dtype=np.uint8))
    pins.append(bytearray(5000))  # from malloc, after each large buffer
del big
print(rss() - before < (16 << 20))  # the 64 MiB went back (without configure: still held)
"""


def _probe(*args: str, **env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ARROW_", "MALLOC_"))}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env={**clean, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc")
def test_arrow_allocates_through_malloc_and_large_buffers_are_given_back() -> None:
    assert _probe() == ["system", "True"]
    pool, given_back = _probe("--no-configure")  # what it changes
    assert pool != "system" and given_back == "False"


def test_a_pool_the_user_chose_is_kept() -> None:
    assert _probe(ARROW_DEFAULT_MEMORY_POOL="mimalloc")[0] == "mimalloc"


def test_configure_after_pyarrow_is_imported_still_switches_the_pool() -> None:
    code = (
        "import pyarrow as pa; from pipeline import memory; memory.configure(); "
        "print(pa.default_memory_pool().backend_name)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARROW_")}
    out = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True)
    assert out.stdout.split() == ["system"], out.stderr
