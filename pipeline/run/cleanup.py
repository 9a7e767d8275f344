"""What dead runs leave on disk, cleaned up (or adopted) by the next tick, under the run lock.

- Temporary files of atomic writes (`.<name>.<pid>-<random>.tmp`, pipeline.infra.files) in
  `paths.reports`, `paths.ingested` and the top of `paths.models` (the production pointer's):
  a zero-byte or partial PDF, Parquet file or pointer that a killed process never renamed into
  place. One whose writer is still alive (a `riskwatch report` or `apicalls` of the moment,
  which do not take the lock) is left alone.
- Registry staging folders (`models/.staging-*`): a version being written, never published.
- A version folder (`models/<n>/`) that no `model_versions` row knows: the registry publishes
  a folder, then records its row in one transaction, so a run killed (or cut off from the
  database) between the two leaves a complete version nobody knows. It is adopted (its row
  recorded from its metadata.json, which was written from the same values) only when it is
  complete and verifiable: every file matches the SHA-256 in its metadata, and the run it names
  is a run of this database that failed or died, after which the folder was written. Anything
  else (a partial or modified folder, one copied from elsewhere) is moved aside to
  `models/.unregistered-<n>-<time>/` for a person to look at: never loaded, never deleted.
  Adopting a folder never deploys it.

Each action is a log line (stored with the run) and an entry of the run's summary (`cleanup`).
Standard library and SQLAlchemy only: the no-op tick goes through here.
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipeline.errors import ModelIntegrityError
from pipeline.infra.files import process_alive, temp_writer
from pipeline.model import registry
from pipeline.model.artifact_check import complete_version
from pipeline.model.registry import ARTIFACT
from pipeline.run.record import Run
from pipeline.storage import tables, writes

log = logging.getLogger("riskwatch")

STAGING_PREFIX = ".staging-"  # the registry's staging folders (registry._fresh_staging)
ASIDE_PREFIX = ".unregistered-"  # where an unverifiable version folder is moved


def leftovers(run: Run) -> list[dict[str, str]]:
    """Clean up what dead runs left; return what was done, one {"path", "action", "why"} each.

    The caller holds the run lock (every run does, from `recorded`).
    """
    s = run.settings
    models = s.path("paths.models")
    done = [
        *_temp_files(s.path("paths.reports"), s.base_dir, recursive=True),
        *_temp_files(s.path("paths.ingested"), s.base_dir, recursive=True),
        *_temp_files(models, s.base_dir, recursive=False),
    ]
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


def _temp_files(folder: Path, base: Path, *, recursive: bool) -> list[dict[str, str]]:
    done: list[dict[str, str]] = []
    if not folder.is_dir():
        return done
    walked = os.walk(folder) if recursive else [(str(folder), [], os.listdir(folder))]
    for parent, _dirs, names in walked:
        for name in names:
            path = Path(parent) / name
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


def _unregistered(run: Run, models: Path) -> list[dict[str, str]]:
    with run.engine.connect() as conn:
        known = set(conn.execute(sa.select(tables.model_versions.c.version)).scalars())
    try:
        production = registry.production_version(run.settings, run.engine)
    except ModelIntegrityError:
        production = None  # a broken pointer: the tick reports it; nothing is moved for it
    done = []
    folders = [p for p in models.iterdir() if p.name.isdigit() and p.is_dir()]
    for folder in sorted(folders, key=lambda p: int(p.name)):
        if int(folder.name) in known:
            continue
        if int(folder.name) == production:
            # Only by hand: deploying needs the row. Every load refuses it; a person decides.
            log.warning(
                "%s is what production.json names, but no model_versions row knows it: left "
                "in place (every load refuses it)",
                _shown(folder, run.settings.base_dir),
            )
            continue
        done.append(_adopt_or_move(run, folder))
    return done


def _adopt_or_move(run: Run, folder: Path) -> dict[str, str]:
    base = run.settings.base_dir
    meta, why_not = complete_version(folder)
    row = None
    if meta is not None:
        row, why_not = _row_of(run, folder, meta)
    if row is not None:
        with run.engine.begin() as conn:
            writes.record_model_version(conn, row)
        why = (
            f"a complete version that run {row['run_id']} wrote and did not record before it "
            f"stopped; its files match the SHA-256s in its metadata (not deployed)"
        )
        log.warning("adopted %s as model version %s: %s", _shown(folder, base), row["version"], why)
        return {"path": _shown(folder, base), "action": "adopted", "why": why}
    stamp = tables.utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    aside = folder.with_name(f"{ASIDE_PREFIX}{folder.name}-{stamp}")
    os.rename(folder, aside)
    why = f"no model_versions row knows it and it cannot be adopted: {why_not}"
    log.warning(
        "moved %s aside to %s (never loaded, kept for a person to look at): %s",
        _shown(folder, base),
        _shown(aside, base),
        why,
    )
    return {"path": _shown(folder, base), "action": f"moved to {aside.name}", "why": why}


def _row_of(run: Run, folder: Path, meta: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The `model_versions` row a verified folder's metadata.json was written from (registry.
    _metadata), when the run it names failed or died before the folder was written."""
    runs = tables.runs
    with run.engine.connect() as conn:
        origin = conn.execute(
            sa.select(runs.c.status, runs.c.started_at).where(runs.c.id == meta.get("run_id"))
        ).first()
    if origin is None or origin.status != "failed":
        return None, "the run its metadata names is not a run of this database that failed"
    try:
        created = datetime.fromisoformat(meta["created_at"])
        ci = meta["holdout_ci"]
        row = {
            "version": int(folder.name),
            "run_id": meta["run_id"],
            "created_at": created,
            "artifact": f"{folder.name}/{ARTIFACT}",
            "sha256": meta["sha256"],
            "estimator": meta["estimator"],
            "params": meta["params"],
            "features": meta["features"],
            "metric": meta["metric"],
            "holdout_score": meta["holdout_score"],
            "holdout_ci_low": None if ci is None else ci[0],
            "holdout_ci_high": None if ci is None else ci[1],
            "train_rows": int(meta["train_rows"]),
            "holdout_rows": int(meta["holdout_rows"]),
            "training_files": meta["training_files"],
            "contract_version": meta["contract_version"],
            "score_source": meta["score_source"],
            "score_rows": meta["score_rows"],
            "training_window": meta["training_window"],
            "provenance": meta["provenance"],
        }
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        what = f"{type(exc).__name__}: {exc}"
        return None, f"its metadata.json lacks what the registry records ({what})"
    if created.tzinfo is None or created < origin.started_at:
        return None, "its metadata.json says it was made before the run it names started"
    return row, ""
