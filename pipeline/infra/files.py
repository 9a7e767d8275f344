"""Atomic file writes (a reader sees the old file or the whole new one, never half of it), and
file hashes.

The temporary file of a write is `.<target name>.<pid>-<random>.tmp` beside the target: hidden,
and naming the process that writes it, so that the next run can tell a leftover of a process
that died (`temp_writer`) from a write still going on in another one (`riskwatch report`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

TEMP_SUFFIX = ".tmp"
# `.<target>.<pid>-<mkstemp's 8 random characters>.tmp`; before issue 11, without the pid.
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.(?:(?P<pid>[0-9]+)-)?[a-z0-9_]{8}\.tmp$")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(target: Path, write: Callable[[Path], object]) -> None:
    """Call write(tmp) on a temporary path beside target (its return value is ignored), fsync it,
    and rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{target.name}.{os.getpid()}-", suffix=TEMP_SUFFIX, dir=target.parent
    )
    os.fchmod(fd, 0o644)  # mkstemp makes 0600; the app and other users must read these files
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(target: Path, data: bytes) -> None:
    atomic_write(target, lambda tmp: tmp.write_bytes(data))


def atomic_copy(source: Path, target: Path) -> None:
    atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes, read a chunk at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def temp_writer(path: Path) -> tuple[str, int | None] | None:
    """(target name, pid of the writer) when `path` is the temporary file of an `atomic_write`
    (the pid None for a file written before names carried it); None for any other file."""
    match = _TEMP_NAME.match(path.name)
    if match is None:
        return None
    pid = match["pid"]
    return match["target"], None if pid is None else int(pid)


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
