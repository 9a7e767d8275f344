"""Find new files in the inbox by content hash. Standard library only: the no-op tick uses it.

Only regular files are taken. Everything else the inbox holds is skipped with its reason and
never opened (issue 11): a symbolic link (unless `ingest.follow_symlinks` and its target is a
file inside the inbox; a link to /etc/passwd is never read), a sub-folder, a FIFO (opening one
would block the tick), a device, a socket, and a file riskwatch may not read. A file that
vanishes while it is looked at is left out with a log line.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.infra.files import NotAFile, kind_of, open_regular
from pipeline.infra.names import path_key, shown

# Names a writer uses while a file is still on its way; never taken.
IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", ".download")
FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class SourceFile:
    """A file in the inbox, identified by what it holds."""

    path: Path
    size: int
    mtime_ns: int
    sha256: str
    # The file a followed symbolic link points at (ingest.follow_symlinks): what is read.
    target: Path | None = None

    @property
    def name(self) -> str:
        """The file's name as it may be printed and stored (`names.shown`)."""
        return shown(self.path.name)

    @property
    def format(self) -> str | None:
        return FORMATS.get(self.path.suffix.lower())

    @property
    def read_path(self) -> Path:
        return self.target or self.path


@dataclass(frozen=True)
class Skipped:
    """An entry of the inbox that is not taken, and why (it is never opened)."""

    path: Path
    kind: str  # symlink, folder, fifo, socket, device, unreadable
    reason: str
    size: int = 0
    mtime_ns: int = 0

    @property
    def name(self) -> str:
        return shown(self.path.name)

    @property
    def key(self) -> str:
        return path_key(str(self.path))


@dataclass
class Discovery:
    new: list[SourceFile] = field(default_factory=list)
    # Files left for a later tick, with why: still growing, too young, a copy of another new file.
    deferred: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)  # never taken while they stay so
    vanished: list[str] = field(default_factory=list)  # listed, then gone (shown names)
    known: int = 0  # files whose content was taken before
    hashes: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # cache updates
    # Frames already read (by content hash, with the columns read as text), when the first
    # tick's contract was inferred from the new files: ingestion takes them instead of
    # reading those files again.
    read: dict[str, tuple[object, frozenset[str]]] = field(default_factory=dict)


def is_candidate(path: Path) -> bool:
    name = path.name
    hidden = name.startswith((".", "~"))
    return not (hidden or name.lower().endswith(IGNORED_SUFFIXES))


def sha256_of(path: Path) -> str:
    """The SHA-256 of a regular file's bytes (`files.open_regular`: never a link or a FIFO)."""
    digest = hashlib.sha256()
    with open_regular(path) as fh:
        while block := fh.read(HASH_CHUNK):
            digest.update(block)
    return digest.hexdigest()


_REASONS = {
    "folder": "a folder: sub-folders of the inbox are not read",
    "fifo": "a FIFO (named pipe), not a regular file: never opened",
    "socket": "a socket, not a regular file: never opened",
    "device": "a device, not a regular file: never opened",
    "special file": "not a regular file: never opened",
}


def _link_target(path: Path, inbox: Path, follow: bool) -> Path | str:
    """The file a symbolic link may be read through, or why it may not."""
    if not follow:
        return "a symbolic link: not followed (ingest.follow_symlinks is off)"
    target = Path(os.path.realpath(path))
    root = Path(os.path.realpath(inbox))
    if target == root or not target.is_relative_to(root):
        return "a symbolic link to outside the inbox: not followed"
    try:
        kind = kind_of(os.lstat(target).st_mode)
    except OSError:
        return "a symbolic link to nothing (dangling): not followed"
    if kind != "file":
        return f"a symbolic link to a {kind}, not a regular file: not followed"
    return target


def discover(
    source_dir: Path,
    known_hashes: Iterable[str],
    cache: Mapping[str, tuple[int, int, str]],
    min_age_seconds: float = 0.0,
    now: float | None = None,
    follow_symlinks: bool = False,
) -> Discovery:
    """Return the files whose content riskwatch has not taken yet, and what it skips.

    `cache` maps a path's key (`names.path_key`) to (size, mtime_ns, sha256) from earlier ticks,
    so an unchanged file is not read again. A file whose size or mtime changes while it is
    hashed, or that is younger than `min_age_seconds`, is deferred to a later tick.
    """
    known = set(known_hashes)
    result = Discovery()
    if not source_dir.is_dir():
        return result
    now = time.time() if now is None else now
    seen_this_tick: set[str] = set()
    for entry in sorted(os.scandir(source_dir), key=lambda e: e.name):
        path = Path(entry.path)
        if not is_candidate(path):
            continue
        looked = _regular(entry, source_dir, follow_symlinks, result)
        if looked is None:
            continue
        before, target = looked
        if min_age_seconds > 0 and now - before.st_mtime < min_age_seconds:
            result.deferred.append((shown(entry.name), f"younger than {min_age_seconds:g} s"))
            continue
        digest = _digest(path, target, before, cache, result)
        if digest is None:
            continue
        if digest in known:
            result.known += 1
        elif digest in seen_this_tick:
            result.deferred.append((shown(entry.name), "same content as another new file"))
        else:
            seen_this_tick.add(digest)
            result.new.append(
                SourceFile(path, before.st_size, before.st_mtime_ns, digest, target=target)
            )
    return result


def _regular(
    entry: os.DirEntry[str], inbox: Path, follow: bool, result: Discovery
) -> tuple[os.stat_result, Path | None] | None:
    """The stat of the regular file an entry is (or links to, when followed) and the link's
    target; None, with the entry in `result.skipped` or `result.vanished`, for anything else."""
    path = Path(entry.path)
    try:
        st = entry.stat(follow_symlinks=False)
    except FileNotFoundError:  # removed since the listing
        result.vanished.append(shown(entry.name))
        return None
    kind = kind_of(st.st_mode)
    if kind == "file":
        return st, None
    if kind != "symlink":
        # A folder's mtime moves with what it holds: it is reported once, not at each change.
        result.skipped.append(Skipped(path, kind, _REASONS[kind]))
        return None
    found = _link_target(path, inbox, follow)
    if isinstance(found, str):
        result.skipped.append(Skipped(path, "symlink", found, st.st_size, st.st_mtime_ns))
        return None
    try:
        return os.stat(found, follow_symlinks=False), found
    except FileNotFoundError:
        result.vanished.append(shown(entry.name))
        return None


def _digest(
    path: Path,
    target: Path | None,
    before: os.stat_result,
    cache: Mapping[str, tuple[int, int, str]],
    result: Discovery,
) -> str | None:
    """The file's content hash, from the cache while its size and mtime hold; None, with the
    file deferred, skipped or vanished in `result`, when it cannot be had now."""
    key = path_key(str(path))
    cached = cache.get(key)
    if cached and cached[0] == before.st_size and cached[1] == before.st_mtime_ns:
        if not os.access(target or path, os.R_OK):  # made unreadable since it was hashed
            result.skipped.append(_unreadable(path, before, "permission denied"))
            return None
        return cached[2]
    try:
        digest = sha256_of(target or path)
        after = os.stat(target or path, follow_symlinks=False)
    except FileNotFoundError:
        result.vanished.append(shown(path.name))
        return None
    except NotAFile as exc:  # replaced since it was listed
        result.skipped.append(Skipped(path, exc.kind, _REASONS.get(exc.kind, str(exc))))
        return None
    except OSError as exc:  # permission denied, an I/O error: tried again next tick
        result.skipped.append(_unreadable(path, before, exc.strerror or str(exc)))
        return None
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        result.deferred.append((shown(path.name), "changed while it was read"))
        return None
    result.hashes[key] = (before.st_size, before.st_mtime_ns, digest)
    return digest


def _unreadable(path: Path, st: os.stat_result, why: str) -> Skipped:
    reason = f"cannot be read ({why.lower()}): tried again at each tick, reported once"
    return Skipped(path, "unreadable", reason, st.st_size, st.st_mtime_ns)
