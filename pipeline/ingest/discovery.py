"""Find new files in the inbox by content hash. Standard library only: the no-op tick uses it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.infra.files import sha256_of

# Names a writer uses while a file is still on its way; never taken.
IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", ".download")
FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True)
class SourceFile:
    """A file in the inbox, identified by what it holds."""

    path: Path
    size: int
    mtime_ns: int
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def format(self) -> str | None:
        return FORMATS.get(self.path.suffix.lower())


@dataclass
class Discovery:
    new: list[SourceFile] = field(default_factory=list)
    # Files left for a later tick, with why: still growing, too young, a copy of another new file.
    deferred: list[tuple[str, str]] = field(default_factory=list)
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


def discover(
    source_dir: Path,
    known_hashes: Iterable[str],
    cache: Mapping[str, tuple[int, int, str]],
    min_age_seconds: float = 0.0,
    now: float | None = None,
) -> Discovery:
    """Return the files whose content riskwatch has not taken yet.

    `cache` maps a path to (size, mtime_ns, sha256) from earlier ticks, so an unchanged file is
    not read again. A file whose size or mtime changes while it is hashed, or that is younger
    than `min_age_seconds`, is deferred to a later tick.
    """
    known = set(known_hashes)
    result = Discovery()
    if not source_dir.is_dir():
        return result
    now = time.time() if now is None else now
    seen_this_tick: set[str] = set()
    for entry in sorted(os.scandir(source_dir), key=lambda e: e.name):
        path = Path(entry.path)
        if not entry.is_file() or not is_candidate(path):
            continue
        try:
            before = entry.stat()
        except FileNotFoundError:  # removed since the listing
            continue
        if min_age_seconds > 0 and now - before.st_mtime < min_age_seconds:
            result.deferred.append((entry.name, f"younger than {min_age_seconds:g} s"))
            continue
        key = str(path)
        cached = cache.get(key)
        if cached and cached[0] == before.st_size and cached[1] == before.st_mtime_ns:
            digest = cached[2]
        else:
            try:
                digest = sha256_of(path)
                after = path.stat()
            except FileNotFoundError:
                continue
            if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                result.deferred.append((entry.name, "changed while it was read"))
                continue
            result.hashes[key] = (before.st_size, before.st_mtime_ns, digest)
        if digest in known:
            result.known += 1
        elif digest in seen_this_tick:
            result.deferred.append((entry.name, "same content as another new file"))
        else:
            seen_this_tick.add(digest)
            result.new.append(SourceFile(path, before.st_size, before.st_mtime_ns, digest))
    return result
