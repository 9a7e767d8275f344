"""What `pipeline.infra.memory.configure` sets for a process, and what it leaves to the user."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import sys
from pipeline.infra import memory
if "--pyarrow-first" in sys.argv:
    import pyarrow
memory.configure()
memory.configure()  # once is enough; a second call changes nothing
import pyarrow as pa
print(pa.default_memory_pool().backend_name)
"""


def _probe(*args: str, **env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARROW_")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env={**clean, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_arrow_allocates_through_malloc() -> None:
    assert _probe() == ["system"]


def test_configure_after_pyarrow_is_imported_still_switches_the_pool() -> None:
    assert _probe("--pyarrow-first") == ["system"]


def test_a_pool_the_user_chose_is_kept() -> None:
    assert _probe(ARROW_DEFAULT_MEMORY_POOL="mimalloc")[0] == "mimalloc"


def test_the_cli_configures_its_process(tmp_path) -> None:
    """`riskwatch` sets the pool before a command runs: a child it starts inherits it."""
    code = (
        "import os, sys; from pipeline.cli import main; "
        "sys.argv = ['riskwatch', 'settings', '--json']; "
        "\ntry: main()\nexcept SystemExit: pass\n"
        "print(os.environ.get('ARROW_DEFAULT_MEMORY_POOL'), file=sys.stderr)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ARROW_", "RISKWATCH_"))}
    out = subprocess.run(
        [sys.executable, "-c", code], env=clean, cwd=tmp_path, capture_output=True, text=True
    )
    assert out.stderr.strip().splitlines()[-1] == "system", out.stderr
