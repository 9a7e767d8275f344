"""A private copy of a source file, hashed as it is copied: the bytes riskwatch checks and keeps
are the bytes whose hash it records (issue 11).

A producer may rewrite, truncate or delete a file between discovery (which hashed it) and the
read. Reading the inbox file twice (once to hash, once to parse) would take the new bytes under
the old hash, and the next tick would take them again under the new one. Here the file is
copied once, a chunk at a time, into a temporary file of riskwatch's own, and hashed on the way:
memory stays at one chunk whatever the file's size, at the cost of one more write of it to disk.
When the copy's hash is not the one discovery found, the file moved: it is left for the next
tick (which hashes it again), and nothing of it is recorded. The copy is what is parsed, and
what a file rejected whole is kept as in quarantine (renamed there, not copied again).
Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import RiskwatchError
from pipeline.infra.failpoints import failpoint
from pipeline.infra.files import NotAFile, fsync_dir, open_regular
from pipeline.ingest.discovery import SourceFile

CHUNK = 1 << 20
PREFIX = ".source-"  # the private copies' names: `.source-<hash>-XXXXXXXX.tmp`


class Moved(RiskwatchError):  # a state of the file, more than an error
    """The source file is no longer what discovery found: left for a later tick."""


class Vanished(Moved):
    """The source file was deleted (or renamed away) since discovery."""


class Unreadable(Moved):
    """The source file can no longer be read (its permissions changed since discovery)."""


@contextmanager
def private_copy(source: SourceFile, work_dir: Path) -> Iterator[Path]:
    """Copy `source` to a temporary file in `work_dir`, check its hash, yield its path.

    Raises `Moved` (or a subclass) when the file changed, vanished or cannot be read any more.
    The copy is removed on exit unless `keep` moved it.
    """
    failpoint("before_source_copy")  # between discovery's hash and the read
    work_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"{PREFIX}{source.sha256[:16]}-"
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=work_dir)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o644)
            digest = hashlib.sha256()
            try:
                with open_regular(source.read_path) as src:
                    while block := src.read(CHUNK):
                        digest.update(block)
                        out.write(block)
            except FileNotFoundError as exc:
                raise Vanished("vanished since it was found") from exc
            except NotAFile as exc:
                raise Moved(f"replaced by a {exc.kind} since it was found") from exc
            except PermissionError as exc:
                raise Unreadable("cannot be read any more (permission denied)") from exc
        if digest.hexdigest() != source.sha256:
            raise Moved("changed while the tick read it (its content hash moved)")
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def keep(copy: Path, target: Path) -> None:
    """Move the private copy to `target` (same folder or file system), durably."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with copy.open("rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(copy, target)
    fsync_dir(target.parent)


def remove_leftovers(work_dir: Path) -> int:
    """Remove private copies a killed run left in `work_dir` (the caller holds the run lock, so
    no other run is copying); return how many."""
    if not work_dir.is_dir():
        return 0
    left = list(work_dir.glob(f"{PREFIX}*.tmp"))
    for path in left:
        path.unlink(missing_ok=True)
    return len(left)


def as_source(text: str, source: SourceFile) -> str:
    """`text` (an error message) with the private copy's path, if it names it, as the source's
    name: a reason speaks of the file a person dropped, not of riskwatch's temporary copy."""
    pattern = rf"[^\s'\"]*{re.escape(PREFIX)}{source.sha256[:16]}-\w+\.tmp"
    return re.sub(pattern, lambda _: source.name, text)
