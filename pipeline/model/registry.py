"""The model registry: `models/<version>/` folders, immutable, and the production pointer.

A version is written in a staging folder, fsynced, renamed into place, then recorded in the
database with its artifact's SHA-256; its metadata.json and its `model_versions` row are written
once, from the same values. `models/production.json` names the production version; it is
replaced atomically (write, fsync, rename), so a crash leaves either the old pointer or the new
one. Every load checks the artifact against the recorded SHA-256 and refuses a mismatch.

Only this module writes `model_versions` and `deployments` (through `pipeline.storage.writes`).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pipeline.errors import InvalidArgument, ModelIntegrityError, NoProductionModel, NotFound
from pipeline.infra.failpoints import failpoint
from pipeline.infra.files import atomic_write_bytes, fsync_dir, sha256_of
from pipeline.model import safe_pickle
from pipeline.model.kind import model_kind
from pipeline.settings import Settings
from pipeline.storage import tables, writes

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

    from pipeline.model.features import FeatureSpec

ARTIFACT = "model.joblib"
METADATA = "metadata.json"
POINTER = "production.json"


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


def _root(settings: Settings) -> Path:
    return settings.path("paths.models")


def production_version(settings: Settings) -> int | None:
    """The version production.json names, or None before the first deployment."""
    pointer = _root(settings) / POINTER
    try:
        return int(json.loads(pointer.read_text())["version"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelIntegrityError(f"{pointer} is not a valid production pointer: {exc}") from exc


def _next_version(conn: sa.Connection, root: Path) -> int:
    in_db = conn.execute(sa.select(sa.func.max(tables.model_versions.c.version))).scalar() or 0
    on_disk = max((int(p.name) for p in root.glob("[0-9]*") if p.name.isdigit()), default=0)
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
) -> int:
    """Write a new immutable version and record it; return its number.

    Its metadata.json and its `model_versions` row are written once, from the same values.
    `extra_files` (name to bytes, e.g. the reference profile for drift) are written into the
    version's folder before it is renamed into place, with their SHA-256 in the metadata.
    """
    from pipeline.infra.versions import library_versions

    root = _root(settings)
    staging = _fresh_staging(root)
    try:
        digest, extras = _write_files(staging, model, extra_files or {})
        with engine.begin() as conn:
            version = _next_version(conn, root)
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
            meta = _metadata(row, settings, metrics or {}, extras, library_versions())
            _publish(staging, root / str(version), meta)
            failpoint("after_model_written")
            writes.record_model_version(conn, row)
        return version
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _fresh_staging(root: Path) -> Path:
    """A new, empty staging folder in the registry, after removing any a killed run left."""
    root.mkdir(parents=True, exist_ok=True)
    # Callers hold the run lock, so any staging folder left is from a killed run.
    for stale in root.glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = root / f".staging-{uuid.uuid4().hex}"
    staging.mkdir()
    return staging


def _write_files(
    staging: Path, model: BaseEstimator, extra_files: dict[str, bytes]
) -> tuple[str, dict[str, str]]:
    """Write the artifact (fsynced) and the extra files; return their SHA-256s."""
    import joblib

    artifact = staging / ARTIFACT
    joblib.dump(model, artifact)
    with artifact.open("rb+") as fh:
        os.fsync(fh.fileno())
    digest = sha256_of(artifact)
    extras: dict[str, str] = {}
    for name, data in extra_files.items():
        if "/" in name or name in (ARTIFACT, METADATA) or name.startswith("."):
            raise InvalidArgument(f"not a valid extra file name for a model version: {name!r}")
        (staging / name).write_bytes(data)
        extras[name] = hashlib.sha256(data).hexdigest()
    return digest, extras


def _publish(staging: Path, final: Path, meta: dict[str, Any]) -> None:
    """Write metadata.json, then rename the staging folder to `final`, durably."""
    (staging / METADATA).write_text(json.dumps(meta, indent=2, default=str))
    fsync_dir(staging)
    os.rename(staging, final)
    fsync_dir(final.parent)


def _metadata(
    row: dict[str, Any],
    settings: Settings,
    metrics: dict[str, Any],
    extras: dict[str, str],
    libraries: dict[str, str | None],
) -> dict[str, Any]:
    """metadata.json of a version: its `model_versions` row, and what only the folder keeps."""
    low, high = row["holdout_ci_low"], row["holdout_ci_high"]
    return {
        "version": row["version"],
        "created_at": row["created_at"].isoformat(),
        "run_id": row["run_id"],
        "artifact": ARTIFACT,
        "sha256": row["sha256"],
        "task": settings["model.task"],
        "estimator": row["estimator"],
        "params": row["params"],
        **model_kind(row["features"], row["estimator"]),
        "features": row["features"],
        "target": settings["data.target"],
        "metric": row["metric"],
        "holdout_score": row["holdout_score"],
        "holdout_ci": None if low is None or high is None else [low, high],
        "score_source": row["score_source"],
        "score_rows": row["score_rows"],
        "metrics": metrics,
        "train_rows": row["train_rows"],
        "holdout_rows": row["holdout_rows"],
        "training_files": row["training_files"],
        "training_window": row["training_window"],
        "contract_version": row["contract_version"],
        "provenance": row["provenance"],
        "files": extras,
        "library_versions": libraries,
    }


def deploy(
    engine: sa.Engine,
    settings: Settings,
    version: int,
    *,
    kind: str,
    reason: str,
    run_id: str | None,
) -> None:
    """Point production at `version` (atomically) and record the deployment."""
    row = _version_row(engine, version)
    previous = production_version(settings)
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
    """Record a deployment that a killed run made on disk but not in the database."""
    current = production_version(settings)
    if current is None:
        return None
    with engine.connect() as conn:
        last = conn.execute(
            sa.select(tables.deployments.c.to_version)
            .order_by(tables.deployments.c.id.desc())
            .limit(1)
        ).scalar()
    if last != current:
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


# A pickle names the module of each class in it, so a module's path is part of the artifact's
# format. These moved when the engine became subpackages (issue 8); artifacts saved before
# still name the old paths, and still load.
MOVED_MODULES = {
    "pipeline.design": "pipeline.model.design",
    "pipeline.modeling": "pipeline.model.estimator",
}


def trusted_modules(settings: Settings) -> tuple[str, ...]:
    """The packages whose code a model artifact may name beyond what any fitted model needs
    (see safe_pickle): `registry.trusted_modules`, `model.pipeline`'s factory module, and the
    package of a `model.estimator` from outside scikit-learn (xgboost's, say)."""
    trusted = list(settings["registry.trusted_modules"])
    factory = settings["model.pipeline"]
    if factory:
        trusted.append(factory.split(":", 1)[0])
    estimator_root = str(settings["model.estimator"]).split(".", 1)[0]
    if estimator_root not in safe_pickle.CLASS_ROOTS:
        trusted.append(estimator_root)
    return tuple(trusted)


def unpickle(data: bytes, origin: str | Path, trusted: tuple[str, ...] = ()) -> Any:
    """The model in an artifact's bytes (already read once, and checked), whichever riskwatch
    release saved it (see MOVED_MODULES), admitting only what a fitted model is made of
    (safe_pickle) and the `trusted` packages; `origin` names the artifact in errors."""
    import importlib
    import sys

    for old, new in MOVED_MODULES.items():
        if old not in sys.modules:
            sys.modules[old] = importlib.import_module(new)
    try:
        return safe_pickle.load(data, trusted)
    except safe_pickle.RefusedGlobal as exc:
        package = exc.module.split(".", 1)[0]
        if package in safe_pickle.CLASS_ROOTS or package in ("builtins", "os", "posix", "nt"):
            why = "which a model artifact has no use for"
        else:
            why = (
                f"from the package {package!r}, which riskwatch does not trust: if it is your "
                "code, name it in registry.trusted_modules (or model.pipeline)"
            )
        raise ModelIntegrityError(
            f"the model in {origin} names {exc}, {why}; refusing to load it (riskwatch admits "
            "the classes scikit-learn, NumPy, SciPy and riskwatch models are made of, and the "
            "packages of model.pipeline, model.estimator and registry.trusted_modules)"
        ) from exc
    except (ImportError, AttributeError) as exc:
        # A model from model.pipeline names its factory's module (or a class in it): the module
        # must be importable wherever the model is loaded, not only where it was trained.
        missing = getattr(exc, "name", None) or str(exc)
        raise ModelIntegrityError(
            f"the model in {origin} cannot be loaded: it needs {missing!r}, which cannot be "
            f"imported here ({type(exc).__name__}: {exc}); a model built by model.pipeline "
            "needs its module importable by every riskwatch process that loads it"
        ) from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError) as exc:
        raise ModelIntegrityError(
            f"the model in {origin} is not a readable model artifact ({type(exc).__name__}: {exc})"
        ) from exc


def verified(data: bytes, expected: str, version: int, origin: str) -> str:
    """The SHA-256 of `data`, after checking it is the one the registry recorded."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise ModelIntegrityError(
            f"model version {version}: artifact {origin} has SHA-256 {digest[:12]}…, the "
            f"registry recorded {expected[:12]}…; refusing to load a modified or partial artifact"
        )
    return digest


def load(engine: sa.Engine, settings: Settings, version: int) -> LoadedModel:
    """Load a version: its artifact's bytes are read once, checked against the recorded SHA-256,
    and those same bytes are unpickled (a file swapped after the check is never opened)."""
    from pipeline.model.features import FeatureSpec

    row = _version_row(engine, version)
    path = _root(settings) / row.artifact
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelIntegrityError(f"model version {version}: artifact {path} is missing") from exc
    except OSError as exc:
        raise ModelIntegrityError(
            f"model version {version}: artifact {path} cannot be read ({exc.strerror or exc})"
        ) from exc
    digest = verified(data, row.sha256, version, str(path))
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


def metadata(settings: Settings, version: int) -> dict[str, Any] | None:
    """A version's metadata.json; None when the version has no folder (or no metadata)."""
    try:
        doc: dict[str, Any] = json.loads((_root(settings) / str(version) / METADATA).read_text())
    except FileNotFoundError:
        return None
    return doc


def read_extra(settings: Settings, version: int, name: str) -> bytes | None:
    """An extra file of a version, checked against the SHA-256 in its metadata; None if absent."""
    folder = _root(settings) / str(version)
    meta = metadata(settings, version)
    if meta is None:
        return None
    expected = meta.get("files", {}).get(name)
    if expected is None:
        return None
    data = (folder / name).read_bytes()
    if hashlib.sha256(data).hexdigest() != expected:
        raise ModelIntegrityError(
            f"model version {version}: {name} does not match the SHA-256 in its metadata"
        )
    return data


def load_production(engine: sa.Engine, settings: Settings) -> LoadedModel:
    version = production_version(settings)
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
    current = production_version(settings)
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
