"""The run lock: one holder at a time, named to the loser; freed on exit and on SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.infra.lock import LockHeld, RunLock

REPO = Path(__file__).resolve().parent.parent

# Takes the lock, says so, and holds it until stdin closes (a clean exit) or it is killed.
HOLDER = """
import sys
from pathlib import Path
from pipeline.infra.lock import RunLock
with RunLock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_second_lock_in_the_same_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    held_by_me = rf"holds the lock .*\(pid {os.getpid()} since "
    with RunLock(path):
        with pytest.raises(LockHeld, match=held_by_me) as exc, RunLock(path):
            pytest.fail("two holders at once")
        assert exc.value.path == path
        assert exc.value.holder.startswith(f"pid {os.getpid()} since ")
    # Released on exit: the next run takes it.
    with RunLock(path):
        pass


def test_lock_is_released_when_the_body_raises(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    with pytest.raises(RuntimeError, match="boom"), RunLock(path):
        raise RuntimeError("boom")
    with RunLock(path):
        pass


def test_lock_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deeper" / "run.lock"
    with RunLock(path):
        assert path.exists()


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """Another process holding the lock."""
    path = tmp_path / "run.lock"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == "locked\n", proc.stderr.read() if proc.stderr else line
        yield proc, path
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("ending", ["clean-exit", "sigkill"])
def test_lock_held_by_another_process(
    holder: tuple[subprocess.Popen[str], Path], ending: str
) -> None:
    proc, path = holder
    with pytest.raises(LockHeld, match=rf"\(pid {proc.pid} since ") as exc, RunLock(path):
        pytest.fail("took a lock another process holds")
    assert exc.value.holder.startswith(f"pid {proc.pid} since ")

    if ending == "clean-exit":
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
    else:
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL

    with RunLock(path):
        assert path.read_text().startswith(f"pid {os.getpid()} since ")
