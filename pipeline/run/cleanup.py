"""What dead runs leave on disk, cleaned up by the next tick, under the run lock.

- Temporary files of atomic writes (`.<name>.<pid>-<random>.tmp`, pipeline.infra.files): a
  zero-byte or partial PDF, Parquet file or pointer that a killed process never renamed into
  place. Only the folders where a run's atomic writes put them are listed, each one level, never
  a tree (a tick's cost must not grow with every file ever ingested): `paths.reports` (the
  run PDFs, `apicalls`' returns) and its `quality/` (the files' quality pages),
  `paths.ingested`, its `data/` (the Parquet files) and its `quarantine/` (rejected rows,
  files kept whole and their reasons), and the top of `paths.models` (the production
  pointer). A version's files are written in its staging folder (below). One whose writer is
  still alive (a `riskwatch report` or `apicalls` of the moment, which do not take the lock)
  is left alone.
- Registry staging folders (`models/.staging-*`): a version being written, never published.
- A version folder (`models/<n>/`) that no `model_versions` row knows: the registry publishes
  a folder, then records its row in one transaction, so a run killed (or cut off from the
  database) between the two leaves a version nobody knows. It is never adopted: a folder on
  disk proves nothing (whoever can write `models/` can write a model.joblib and a metadata.json
  that matches it, naming any run), and a row recorded from it would be an artifact trusted
  from then on. It is moved aside to `models/.unregistered-<n>-<time>/` for a person to look
  at: never loaded, never deleted. The log line says whether its files match its metadata (a
  run killed between the two writes) or not. Its number is free again (no row, deployment or
  pointer ever had it): the next version may take it. The one folder left in place is the one
  `production.json` names (every load refuses it without its row; a person decides).

Each action is a log line (stored with the run) and an entry of the run's summary (`cleanup`).
Standard library and SQLAlchemy only: the no-op tick goes through here.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

import sqlalchemy as sa

from pipeline.errors import ModelIntegrityError
from pipeline.infra.files import process_alive, temp_writer
from pipeline.model import registry
from pipeline.model.artifact_check import complete_version
from pipeline.model.registry import METADATA
from pipeline.run.record import Run
from pipeline.storage import tables

log = logging.getLogger("riskwatch")

# The subfolders where atomic writes happen (pipeline.ingest.ingestion, report.file_page).
DATA_DIR, QUARANTINE_DIR = "data", "quarantine"
QUALITY_DIR = "quality"
STAGING_PREFIX = ".staging-"  # the registry's staging folders (registry._fresh_staging)
ASIDE_PREFIX = ".unregistered-"  # where a version folder no row knows is moved


def leftovers(run: Run) -> list[dict[str, str]]:
    """Clean up what dead runs left; return what was done, one {"path", "action", "why"} each.

    The caller holds the run lock (every run does, from `recorded`).
    """
    s = run.settings
    models = s.path("paths.models")
    reports, ingested = s.path("paths.reports"), s.path("paths.ingested")
    folders = [
        reports,
        reports / QUALITY_DIR,
        ingested,
        ingested / DATA_DIR,
        ingested / QUARANTINE_DIR,
        models,
    ]
    done = [entry for folder in folders for entry in _temp_files(folder, s.base_dir)]
    if models.is_dir():
        done += _staging(models, s.base_dir)
        if not registry.in_database(s):  # there, folders are a copy of what the database holds
            done += _unregistered(run, models)
    return done


def _shown(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def _temp_files(folder: Path, base: Path) -> list[dict[str, str]]:
    """The temporary files left in `folder` itself (its subfolders are not looked into)."""
    done: list[dict[str, str]] = []
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return done
    for name in names:
        path = folder / name
        writer = temp_writer(path)
        if writer is None or not path.is_file() or path.is_symlink():
            continue
        target, pid = writer
        if pid is not None and pid != os.getpid() and process_alive(pid):
            continue  # a write going on in another process
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:  # its writer finished or failed meanwhile
            continue
        who = "an earlier riskwatch" if pid is None else f"process {pid}, which is gone"
        why = f"the temporary file of a write of {target} that {who} never finished"
        log.warning("removed %s (%d bytes): %s", _shown(path, base), size, why)
        done.append({"path": _shown(path, base), "action": "removed", "why": why})
    return done


def _staging(models: Path, base: Path) -> list[dict[str, str]]:
    done = []
    for folder in sorted(models.glob(f"{STAGING_PREFIX}*")):
        shutil.rmtree(folder, ignore_errors=True)
        why = "a model version that a run was writing and never published"
        log.warning("removed %s: %s", _shown(folder, base), why)
        done.append({"path": _shown(folder, base), "action": "removed", "why": why})
    return done


def version_number(name: str) -> int | None:
    """The version a folder's name stands for: ASCII digits only (`str.isdigit` also admits
    superscripts and other scripts' digits, which int() refuses or reads as another number)."""
    return int(name) if re.fullmatch(r"[0-9]+", name) else None


def _unregistered(run: Run, models: Path) -> list[dict[str, str]]:
    with run.engine.connect() as conn:
        known = set(conn.execute(sa.select(tables.model_versions.c.version)).scalars())
    try:
        production = registry.production_version(run.settings, run.engine)
    except ModelIntegrityError:
        production = None  # a broken pointer: the tick reports it; nothing is moved for it
    done = []
    numbered = [(version_number(p.name), p) for p in models.iterdir()]
    folders = [(n, p) for n, p in numbered if n is not None and p.is_dir()]
    for number, folder in sorted(folders, key=lambda item: (item[0], item[1].name)):
        if number in known:
            continue
        if number == production:
            # Only by hand: deploying needs the row. Every load refuses it; a person decides.
            log.warning(
                "%s is what production.json names, but no model_versions row knows it: left "
                "in place (every load refuses it)",
                _shown(folder, run.settings.base_dir),
            )
            continue
        done.append(_move_aside(run, folder))
    return done


def _move_aside(run: Run, folder: Path) -> dict[str, str]:
    base = run.settings.base_dir
    state = _described(folder)
    stamp = tables.utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    aside = folder.with_name(f"{ASIDE_PREFIX}{folder.name}-{stamp}")
    os.rename(folder, aside)
    why = f"no model_versions row knows it; {state}"
    log.warning(
        "moved %s aside to %s (never loaded, kept for a person to look at): %s",
        _shown(folder, base),
        _shown(aside, base),
        why,
    )
    return {"path": _shown(folder, base), "action": f"moved to {aside.name}", "why": why}


def _described(folder: Path) -> str:
    """What a person looking at the folder would want to know first: whether its files match
    its metadata.json (read only when it is a regular file: a FIFO would block the tick)."""
    if not (folder / METADATA).is_file():
        return f"it has no {METADATA} (or not a regular file)"
    try:
        meta, mismatch = complete_version(folder)
    except OSError as exc:  # unreadable: it is moved aside all the same
        return f"its files cannot be read ({type(exc).__name__}: {exc})"
    if meta is None:
        return mismatch
    return (
        f"its files match its {METADATA} (a run killed between writing a version and recording "
        "it?), which proves nothing: a folder on disk is never adopted"
    )
