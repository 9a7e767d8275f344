"""The run lock: one holder at a time, named to the loser; freed on exit and on SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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


# The database's run lock (PostgreSQL): runs on machines that share one database, each with a
# lock file of its own, never overlap either.


@pytest.mark.postgres
def test_the_database_lock_keeps_apart_what_the_file_lock_cannot(
    tmp_path: Path, pg_database: str
) -> None:
    from pipeline.infra.lock import DatabaseLock, DatabaseLockHeld
    from pipeline.storage.db import make_engine

    one, other = make_engine(pg_database), make_engine(pg_database)
    try:
        # Two lock files (two machines' disks): both file locks are taken.
        with RunLock(tmp_path / "a.lock"), RunLock(tmp_path / "b.lock"):
            with DatabaseLock(one) as held:
                assert held.applies and held.held()
                with pytest.raises(DatabaseLockHeld) as exc, DatabaseLock(other):
                    pytest.fail("two holders of the database lock at once")
                assert isinstance(exc.value, LockHeld) and exc.value.exit_code == 0
                message = str(exc.value)
                assert message.startswith("another riskwatch run holds the lock of the database ")
                assert f"held by riskwatch pid {os.getpid()} " in message
                assert "PostgreSQL advisory lock 8244247498279973987" in message
                assert "PostgreSQL session " in message and message.endswith("; exiting")
                assert one.url.render_as_string(hide_password=True) in message
                # Out of the pool: the lock's session is not one the run's engine reuses.
                assert one.pool.checkedout() == 0
            # Released by closing its connection: the other takes it at once.
            with DatabaseLock(other) as taken:
                assert taken.held()
    finally:
        one.dispose()
        other.dispose()


@pytest.mark.postgres
def test_the_database_lock_is_freed_when_its_holder_is_killed(pg_database: str) -> None:
    from pipeline.infra.lock import DatabaseLock, DatabaseLockHeld
    from pipeline.storage.db import make_engine

    hold = (
        "import sys\n"
        "from pipeline.infra.lock import DatabaseLock\n"
        "from pipeline.storage.db import make_engine\n"
        "with DatabaseLock(make_engine(sys.argv[1])):\n"
        "    print('locked', flush=True)\n"
        "    sys.stdin.read()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", hold, pg_database],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    engine = make_engine(pg_database)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
        with (
            pytest.raises(DatabaseLockHeld, match=rf"riskwatch pid {proc.pid} "),
            DatabaseLock(engine),
        ):
            pytest.fail("took the database lock another process holds")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        # The server ends the session of a killed client, and its lock with it, once its backend
        # sees the socket closed (soon, not within the kill: polled, with a generous bound).
        for _ in range(600):
            try:
                with DatabaseLock(engine) as lock:
                    assert lock.held()
                break
            except DatabaseLockHeld:
                time.sleep(0.05)
        else:
            pytest.fail("the database lock outlived its killed holder")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        engine.dispose()


def test_sqlite_has_the_file_lock_only(tmp_path: Path) -> None:
    from pipeline.infra.lock import DatabaseLock
    from pipeline.storage.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with DatabaseLock(engine) as one, DatabaseLock(engine) as two:
            assert not one.applies and one.held() and two.held()
    finally:
        engine.dispose()
