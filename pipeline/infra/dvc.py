"""Driving the `dvc` and `git` commands: found beside this Python (the project's environment)
or on PATH, run in the project's folder, never with analytics, failing with the command and
what it printed. The cron job calls nothing here unless .dvc/ exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import ToolError

TIMEOUT_SECONDS = 600  # a `dvc add` of a large snapshot hashes every new file once
OUTPUT_TAIL = 2_000  # characters of a failed command's output kept in its error


def executable(name: str) -> str | None:
    """The program `name` of this environment (beside sys.executable), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def initialised(root: Path) -> bool:
    """Whether `root` is a DVC project (has .dvc/)."""
    return (root / ".dvc").is_dir()


def run(
    tool: str, args: Sequence[str], cwd: Path, *, timeout: float = TIMEOUT_SECONDS
) -> subprocess.CompletedProcess[str]:
    """Run `tool args` in `cwd`; its output, or ToolError saying what failed."""
    program = executable(tool)
    if program is None:
        extra = " (pip install 'riskwatch[experiments]')" if tool == "dvc" else ""
        raise ToolError(f"{tool} is not installed{extra}; it is needed for `{tool} {args[0]}`")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_IGNORE_ISATTY": "1"}
    env.pop("DVC_ROOT", None)  # set by DVC for a stage: a nested dvc must find its own root
    command = [tool, *args]
    try:
        done = subprocess.run(
            [program, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"`{' '.join(command)}` did not finish in {timeout:g} s") from exc
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip())[-OUTPUT_TAIL:]
        raise ToolError(f"`{' '.join(command)}` failed (exit {done.returncode}): {said}")
    return done
