"""Atomic file writes (a reader sees the old file or the whole new one, never half of it), and
file hashes.

The temporary file of a write is `.<target name>.<pid>-<random>.tmp` beside the target: hidden,
and naming the process that writes it, so that the next run can tell a leftover of a process
that died (`temp_writer`) from a write still going on in another one (`riskwatch report`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pipeline.errors import RiskwatchError

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


class NotAFile(RiskwatchError):
    """The path is not a regular file (a symbolic link, a folder, a FIFO, a device, a socket)."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(f"{path} is a {kind}, not a regular file")
        self.kind = kind


def kind_of(mode: int) -> str:
    """What a file-system entry is, from its st_mode: file, symlink, folder, fifo, device, ..."""
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def open_regular(path: Path) -> BinaryIO:
    """Open `path` for reading only if it is a regular file, itself (never through a link).

    O_NOFOLLOW refuses a symbolic link put there since it was listed; O_NONBLOCK makes a FIFO
    put there open at once (and then be refused) instead of blocking until a writer comes.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotAFile(path, "symlink") from exc
        raise
    try:
        kind = kind_of(os.fstat(fd).st_mode)
        if kind != "file":
            raise NotAFile(path, kind)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


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
