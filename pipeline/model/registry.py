"""The model registry: `models/<version>/` folders, immutable, and the production pointer.

A version is written in a staging folder, fsynced, renamed into place, then recorded in the
database with its artifact's SHA-256; its metadata.json and its `model_versions` row are written
once, from the same values. `models/production.json` names the production version; it is
replaced atomically (write, fsync, rename), so a crash leaves either the old pointer or the new
one. Every load reads the artifact once, checks those bytes against the recorded SHA-256 and
unpickles the same bytes (safe_pickle: no global a model cannot need), refusing a mismatch.

With registry.store = "database" the same files live in `stored_files`, written in the
transaction that records the version, and the latest `deployments` row is the pointer: a web
process and a cron process that share only the database (Heroku's dynos) share the registry.

Only this module writes `model_versions` and `deployments` (through `pipeline.storage.writes`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pipeline.errors import InvalidArgument, ModelIntegrityError, NoProductionModel, NotFound
from pipeline.infra.failpoints import failpoint
from pipeline.infra.files import atomic_write_bytes, fsync_dir
from pipeline.model import stored
from pipeline.model.artifact import MOVED_MODULES as MOVED_MODULES
from pipeline.model.artifact import trusted_modules as trusted_modules
from pipeline.model.artifact import unpickle as unpickle
from pipeline.model.artifact import verified
from pipeline.model.stored import ARTIFACT as ARTIFACT
from pipeline.model.stored import METADATA as METADATA
from pipeline.model.stored import in_database as in_database
from pipeline.model.stored import metadata as metadata
from pipeline.model.stored import read_extra as read_extra
from pipeline.settings import Settings
from pipeline.storage import blobs, estimates, tables, writes

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

    from pipeline.model.features import FeatureSpec

POINTER = "production.json"

log = logging.getLogger("riskwatch")


@dataclass(frozen=True)
class LoadedModel:
    version: int
    model: BaseEstimator  # fitted: a Pipeline, or whatever model.pipeline's factory built
    features: FeatureSpec
    metric: str
    holdout_score: float | None
    holdout_ci: tuple[float, float] | None
    sha256: str
    score_source: str = "holdout"  # where holdout_score comes from: holdout, test or cv:K


_root = stored.root


def production_version(settings: Settings, engine: sa.Engine | None = None) -> int | None:
    """The version in production, or None before the first deployment: the one production.json
    names, or with registry.store = "database" the latest deployment's."""
    if in_database(settings):
        with stored.engine_for(settings, engine) as eng, eng.connect() as conn:
            d = tables.deployments
            found = conn.execute(
                sa.select(d.c.to_version).order_by(d.c.id.desc()).limit(1)
            ).scalar()
        return None if found is None else int(found)
    pointer = _root(settings) / POINTER
    try:
        seen = os.stat(pointer)
        key = (seen.st_dev, seen.st_ino, seen.st_mtime_ns, seen.st_size)
        known = _POINTERS.get(pointer)
        if known is not None and known[0] == key:
            return known[1]
        version = int(json.loads(pointer.read_text())["version"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelIntegrityError(f"{pointer} is not a valid production pointer: {exc}") from exc
    _POINTERS[pointer] = (key, version)
    return version


# production.json's version by path, with the file's identity when read: the pointer is only
# replaced whole (atomic_write_bytes: a new file), so a file that stats the same says the same.
_POINTERS: dict[Path, tuple[tuple[int, int, int, int], int]] = {}


def _next_version(conn: sa.Connection, root: Path, settings: Settings) -> int:
    in_db = conn.execute(sa.select(sa.func.max(tables.model_versions.c.version))).scalar() or 0
    if in_database(settings):
        folders = {p.split("/")[0] for p in blobs.paths(conn, blobs.MODELS)}
        names = folders
    else:
        names = {p.name for p in root.glob("[0-9]*")}
    # ASCII digits only: str.isdigit() admits "²" and other scripts' digits, which int() refuses
    on_disk = max((int(n) for n in names if re.fullmatch(r"[0-9]+", n)), default=0)
    return max(in_db, on_disk) + 1


def register(
    engine: sa.Engine,
    settings: Settings,
    model: BaseEstimator,
    *,
    features: FeatureSpec,
    metric: str,
    holdout_score: float | None,
    train_rows: int,
    holdout_rows: int,
    training_files: list[dict[str, Any]],
    run_id: str | None,
    holdout_ci: tuple[float, float] | None = None,
    metrics: dict[str, Any] | None = None,
    contract_version: str | None = None,
    extra_files: dict[str, bytes] | None = None,
    score_source: str = "holdout",
    score_rows: int | None = None,
    training_window: str = "all",
    provenance: dict[str, Any] | None = None,
    calibration: dict[str, Any] | None = None,
) -> int:
    """Write a new immutable version and record it; return its number.

    Its metadata.json and its `model_versions` row are written once, from the same values.
    `extra_files` (name to bytes, e.g. the reference profile for drift) are written into the
    version's folder before it is renamed into place, with their SHA-256 in the metadata.
    `calibration` (pipeline.run.calibrate_step) goes in the metadata and its table likewise.
    """
    root = _root(settings)
    artifact = _dumped(model)
    digest = hashlib.sha256(artifact).hexdigest()
    files = {ARTIFACT: artifact, **_checked_extras(extra_files or {})}
    extras = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    del extras[ARTIFACT]
    staging = None if in_database(settings) else _fresh_staging(root)
    try:
        with engine.begin() as conn:
            version = _next_version(conn, root, settings)
            # One set of values for the row and the metadata, so the two never disagree.
            row = {
                "version": version,
                "run_id": run_id,
                "created_at": tables.utcnow(),
                "artifact": f"{version}/{ARTIFACT}",
                "sha256": digest,
                # What was fitted: the estimator class and its parameters, or model.pipeline's
                # factory (its parameters are its own); features.preprocessing says which.
                "estimator": settings["model.pipeline"] or settings["model.estimator"],
                "params": {} if settings["model.pipeline"] else settings["model.params"],
                "features": features.to_json(),
                "metric": metric,
                "holdout_score": holdout_score,
                "holdout_ci_low": None if holdout_ci is None else holdout_ci[0],
                "holdout_ci_high": None if holdout_ci is None else holdout_ci[1],
                "train_rows": train_rows,
                "holdout_rows": holdout_rows,
                "training_files": training_files,
                "contract_version": contract_version,
                "score_source": score_source,
                "score_rows": holdout_rows if score_rows is None else score_rows,
                "training_window": training_window,
                "provenance": provenance,
            }
            files[METADATA] = stored.metadata_bytes(row, settings, metrics, extras, calibration)
            if staging is None:
                # In the same transaction as the version's row: both, or neither.
                for name, data in files.items():
                    blobs.put(conn, blobs.MODELS, f"{version}/{name}", data)
            else:
                _publish(staging, root / str(version), files)
            failpoint("after_model_written")
            writes.record_model_version(conn, row)
            _record_calibration(conn, row, calibration)
        return version
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _record_calibration(
    conn: sa.Connection, row: dict[str, Any], calibration: dict[str, Any] | None
) -> None:
    """The version's `calibrations` row (the columns `calibration` gives), if it has one."""
    if calibration is not None:
        extra = {"model_version": row["version"], "run_id": row["run_id"]}
        estimates.record_calibration(
            conn, {**extra, "created_at": row["created_at"], **calibration}
        )


def _dumped(model: BaseEstimator) -> bytes:
    """The artifact's bytes: joblib's pickle of the fitted model."""
    import io

    import joblib

    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def _checked_extras(extra_files: dict[str, bytes]) -> dict[str, bytes]:
    for name in extra_files:
        if "/" in name or name in (ARTIFACT, METADATA) or name.startswith(".") or not name:
            raise InvalidArgument(f"not a valid extra file name for a model version: {name!r}")
    return dict(extra_files)


def _fresh_staging(root: Path) -> Path:
    """A new, empty staging folder in the registry, after removing any a killed run left."""
    root.mkdir(parents=True, exist_ok=True)
    # Callers hold the run lock, so any staging folder left is from a killed run.
    for stale in root.glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = root / f".staging-{uuid.uuid4().hex}"
    staging.mkdir()
    return staging


def _publish(staging: Path, final: Path, files: dict[str, bytes]) -> None:
    """Write the version's files (fsynced) in `staging`, then rename it to `final`, durably."""
    for name, data in files.items():
        with (staging / name).open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    fsync_dir(staging)
    os.rename(staging, final)
    fsync_dir(final.parent)


def deploy(
    engine: sa.Engine,
    settings: Settings,
    version: int,
    *,
    kind: str,
    reason: str,
    run_id: str | None,
) -> None:
    """Point production at `version` (atomically) and record the deployment; with
    registry.store = "database" the deployment's row is the pointer."""
    row = _version_row(engine, version)
    previous = production_version(settings, engine)
    if in_database(settings):
        writes.record_deployment(engine, run_id, previous, version, kind, reason)
        return
    pointer = {
        "version": version,
        "sha256": row.sha256,
        "artifact": row.artifact,
        "deployed_at": tables.utcnow().isoformat(),
        "reason": reason,
    }
    atomic_write_bytes(_root(settings) / POINTER, json.dumps(pointer, indent=2).encode())
    failpoint("after_pointer_switch")
    writes.record_deployment(engine, run_id, previous, version, kind, reason)


def reconcile(engine: sa.Engine, settings: Settings, run_id: str | None) -> int | None:
    """Record a deployment that a killed run made on disk but not in the database (in the
    database store, the deployment is the pointer: nothing can differ)."""
    current = production_version(settings, engine)
    if current is None or in_database(settings):
        return current
    with engine.connect() as conn:
        last = conn.execute(
            sa.select(tables.deployments.c.to_version)
            .order_by(tables.deployments.c.id.desc())
            .limit(1)
        ).scalar()
        known = conn.execute(
            sa.select(tables.model_versions.c.version).where(
                tables.model_versions.c.version == current
            )
        ).first()
    if last != current and known is None:
        # Only a hand (or a forger) points production at a version no row knows: a run
        # registers before it deploys. Not recorded as a deployment; every load refuses it.
        log.warning(
            "%s names model version %d, which the registry database does not hold: not "
            "recorded as a deployment (every load refuses it)",
            POINTER,
            current,
        )
    elif last != current:
        why = "production pointer was switched by a run that stopped before recording it"
        writes.record_deployment(engine, run_id, last, current, "recovered", why)
    return current


def _version_row(engine: sa.Engine, version: int) -> sa.Row:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(tables.model_versions).where(tables.model_versions.c.version == version)
        ).first()
    if row is None:
        raise NotFound(f"model version {version} is not in the registry")
    return row


def load(engine: sa.Engine, settings: Settings, version: int) -> LoadedModel:
    """Load a version: its artifact's bytes are read once, checked against the recorded SHA-256,
    and those same bytes are unpickled (a file swapped after the check is never opened)."""
    from pipeline.model.features import FeatureSpec

    row = _version_row(engine, version)
    path, data = stored.artifact_bytes(engine, settings, version, row.artifact)
    digest = verified(data, row.sha256, version, path)
    return LoadedModel(
        version=version,
        model=unpickle(data, path, trusted_modules(settings)),
        features=FeatureSpec.from_json(row.features),
        metric=row.metric,
        holdout_score=row.holdout_score,
        holdout_ci=None
        if row.holdout_ci_low is None or row.holdout_ci_high is None
        else (row.holdout_ci_low, row.holdout_ci_high),
        sha256=digest,
        score_source=row.score_source or "holdout",
    )


def materialise(engine: sa.Engine, settings: Settings) -> int:
    """With registry.store = "database", write the stored versions as folders under
    paths.models (each file checked against its SHA-256, written once) and the production
    pointer as production.json, for what reads the registry as files (the experiments'
    snapshot); return the files written. Nothing to do for the files store."""
    if not in_database(settings):
        return 0
    root, written = _root(settings), 0
    with engine.connect() as conn:
        for rel in blobs.paths(conn, blobs.MODELS):
            target = root / rel
            if target.is_file():
                continue  # versions are immutable: a file there is the one stored
            data = blobs.get(conn, blobs.MODELS, rel)
            if data is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(target, data)
                written += 1
    version = production_version(settings, engine)
    if version is not None:
        row = _version_row(engine, version)
        pointer = {"version": version, "sha256": row.sha256, "artifact": row.artifact}
        atomic_write_bytes(root / POINTER, json.dumps(pointer, indent=2).encode())
    return written


def load_production(engine: sa.Engine, settings: Settings) -> LoadedModel:
    version = production_version(settings, engine)
    if version is None:
        raise NoProductionModel("no model is deployed yet: run `riskwatch run` first")
    return load(engine, settings, version)


def rollback(
    engine: sa.Engine,
    settings: Settings,
    to_version: int | None,
    *,
    reason: str,
    run_id: str | None,
) -> int:
    """Put a previous version back in production: `to_version`, or the one before the current."""
    current = production_version(settings, engine)
    if current is None:
        raise NoProductionModel("nothing to roll back: no model is deployed yet")
    if to_version is None:
        with engine.connect() as conn:
            to_version = conn.execute(
                sa.select(tables.deployments.c.from_version)
                .where(tables.deployments.c.to_version == current)
                .where(tables.deployments.c.from_version.is_not(None))
                .order_by(tables.deployments.c.id.desc())
                .limit(1)
            ).scalar()
        if to_version is None:
            raise NotFound(f"version {current} has no earlier version to roll back to")
    if to_version == current:
        raise NotFound(f"version {current} is already in production")
    load(engine, settings, to_version)  # refuses a missing or modified artifact before switching
    deploy(engine, settings, to_version, kind="rollback", reason=reason, run_id=run_id)
    return to_version
