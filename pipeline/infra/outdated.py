"""`pip list --outdated`, cached for hours and refreshed in the background: a run never waits.

The answer lives in a JSON cache file: `{"checked_at": ISO time, "packages": [...] or null,
"error": null or why pip gave no answer}`. A run reads it at once: a fresh cache gives its answer;
a stale, missing or unreadable one gives "unknown" and starts one detached refresh (this module
run as a script, in its own session so it outlives the run) that asks pip and writes the cache
atomically for the next run. The refresh holds an flock on a marker file beside the cache for
its whole life, so two never run at once, and the kernel frees the marker when it dies.
A failed answer (offline, pip's error) is cached like a good one: pip is asked again a day later,
not on every run.

Standard library only: the no-op tick may import it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.infra.files import atomic_write_bytes

__all__ = ["OutdatedPackages", "pip_command", "refresh"]

Packages = list[dict[str, str]]


def pip_command(timeout: float) -> list[str]:
    """The pip query: outdated packages as JSON, one attempt per request, within `timeout`."""
    return [
        sys.executable, "-m", "pip", "list", "--outdated", "--format", "json",
        "--disable-pip-version-check", "--timeout", str(max(1, int(timeout))), "--retries", "0",
    ]  # fmt: skip


def _now() -> datetime:
    return datetime.now(UTC)


def _marker(cache: Path) -> Path:
    return cache.with_name(cache.name + ".refreshing")


def _read_cache(cache: Path) -> tuple[datetime, Packages | None, str | None] | None:
    """The cache's time, packages and error; None when it is missing or not a cache at all."""
    try:
        doc = json.loads(cache.read_bytes())
        checked = datetime.fromisoformat(doc["checked_at"])
        packages, error = doc["packages"], doc.get("error")
        if checked.tzinfo is None or not (packages is None or isinstance(packages, list)):
            return None
        return checked, packages, error if isinstance(error, str) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass
class OutdatedPackages:
    """The cached answer, read when a run starts; a refresh started when it is not fresh.

    `command` is the pip query (tests pass their own); `now` the clock.
    """

    cache: Path
    max_age_hours: float
    timeout: float
    command: Sequence[str] | None = None
    now: Callable[[], datetime] = _now

    def __post_init__(self) -> None:
        self.checked_at: datetime | None = None
        self.refresh_pid: int | None = None
        cached = _read_cache(self.cache)
        if cached is None:
            why = "no cache" if not self.cache.exists() else "cache unreadable"
        else:
            self.checked_at, packages, error = cached
            if self.now() - self.checked_at <= timedelta(hours=self.max_age_hours):
                self.packages: Packages | str = "unknown" if packages is None else packages
                self.reason = "cached" if packages is not None else f"pip gave no answer: {error}"
                return
            why = "cache stale"
        self.packages = "unknown"
        self.reason = f"{why}; {self._start_refresh()}"

    def _start_refresh(self) -> str:
        """Start the detached refresh unless one runs already; say which."""
        marker = _marker(self.cache)
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(marker, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            return f"not refreshed: {exc}"
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return "a refresh is already running"
            command = list(self.command or pip_command(self.timeout))
            args = [sys.executable, "-m", "pipeline.infra.outdated", str(self.cache), str(fd)]
            args += [str(self.timeout), "--", *command]
            root = str(Path(__file__).resolve().parent.parent.parent)
            path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
            os.set_inheritable(fd, True)
            try:
                # posix_spawn, not Popen: nothing in this process waits for it or warns about it;
                # its own session: the run's end and a Ctrl-C of the run leave it alone.
                self.refresh_pid = os.posix_spawn(
                    sys.executable,
                    args,
                    {**os.environ, "PYTHONPATH": path},
                    file_actions=[
                        (os.POSIX_SPAWN_OPEN, i, os.devnull, os.O_RDWR, 0) for i in (0, 1, 2)
                    ],
                    setsid=True,
                )
            except OSError as exc:
                return f"not refreshed: {exc}"
            return "refreshing"
        finally:
            os.close(fd)  # the refresh holds the lock through its own copy of the descriptor

    def result(self) -> Packages | str:
        """The outdated packages, or "unknown" when no fresh answer was cached."""
        return self.packages

    def status(self) -> dict[str, Any]:
        """When pip's answer was taken (None: never) and why the run has it or not."""
        checked = None if self.checked_at is None else self.checked_at.isoformat()
        return {"checked_at": checked, "reason": self.reason}


def _ask(command: Sequence[str], timeout: float) -> tuple[Packages | None, str | None]:
    """Run the pip query; its packages, or None and why not."""
    try:
        proc = subprocess.run(
            list(command), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return None, f"no answer within {timeout:g} s"
    except OSError as exc:
        return None, str(exc)
    if proc.returncode != 0:
        return None, f"pip exited with status {proc.returncode}"
    try:
        items = json.loads(proc.stdout)
        return [
            {"name": i["name"], "installed": i["version"], "latest": i["latest_version"]}
            for i in items
        ], None
    except (ValueError, KeyError, TypeError):
        return None, "pip's answer is not the expected JSON"


def refresh(cache: Path, command: Sequence[str], timeout: float) -> None:
    """Ask pip and write its answer (or why there is none) to the cache, atomically."""
    checked = _now()
    packages, error = _ask(command, timeout)
    doc = {"checked_at": checked.isoformat(), "packages": packages, "error": error}
    atomic_write_bytes(cache, json.dumps(doc).encode())


if __name__ == "__main__":  # the detached refresh: CACHE LOCK_FD TIMEOUT -- COMMAND...
    _cache, _fd, _timeout, _sep, *_command = sys.argv[1:]
    # The lowest CPU priority, for pip too: the refresh must not slow the tick that started it
    # (pip's answer takes seconds of CPU; on two busy cores it took a second off the tick).
    with contextlib.suppress(OSError):
        os.nice(19)
    try:
        refresh(Path(_cache), _command, float(_timeout))
    finally:
        os.close(int(_fd))
