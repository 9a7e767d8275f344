"""Where the registry's files are: version folders under paths.models, or the database.

With registry.store = "files" a version is a folder `<paths.models>/<version>/`; with
"database" its files are rows of `stored_files` (pipeline.storage.blobs). Reading either gives
the same bytes; the registry checks them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipeline.errors import ModelIntegrityError
from pipeline.model.kind import model_kind
from pipeline.settings import Settings
from pipeline.storage import blobs

ARTIFACT = "model.joblib"
METADATA = "metadata.json"


def root(settings: Settings) -> Path:
    return settings.path("paths.models")


def in_database(settings: Settings) -> bool:
    """Whether the registry (and the reports) live in the database: registry.store."""
    return bool(settings["registry.store"] == "database")


@contextmanager
def engine_for(settings: Settings, engine: sa.Engine | None) -> Iterator[sa.Engine]:
    """`engine`, or one made for this call (and disposed after) when the caller has none."""
    if engine is not None:
        yield engine
        return
    from pipeline.storage import db

    made = db.make_engine(settings.database_url)
    try:
        yield made
    finally:
        made.dispose()


def artifact_bytes(
    engine: sa.Engine, settings: Settings, version: int, artifact: str
) -> tuple[str, bytes]:
    """Where a version's artifact is (for messages) and its bytes, read once."""
    if in_database(settings):
        with engine.connect() as conn:
            stored = blobs.get(conn, blobs.MODELS, artifact)
        where = f"models/{artifact} in the database"
        if stored is None:
            raise ModelIntegrityError(f"model version {version}: artifact {where} is missing")
        return where, stored
    path = root(settings) / artifact
    try:
        return str(path), path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelIntegrityError(f"model version {version}: artifact {path} is missing") from exc
    except OSError as exc:
        raise ModelIntegrityError(
            f"model version {version}: artifact {path} cannot be read ({exc.strerror or exc})"
        ) from exc


def _version_file(
    settings: Settings, version: int, name: str, engine: sa.Engine | None
) -> bytes | None:
    """One file of a version's folder (or of its stored files); None when it has none."""
    if in_database(settings):
        with engine_for(settings, engine) as eng, eng.connect() as conn:
            return blobs.get(conn, blobs.MODELS, f"{version}/{name}")
    try:
        return (root(settings) / str(version) / name).read_bytes()
    except FileNotFoundError:
        return None


def metadata(
    settings: Settings, version: int, engine: sa.Engine | None = None
) -> dict[str, Any] | None:
    """A version's metadata.json; None when the version has no folder (or no metadata)."""
    raw = _version_file(settings, version, METADATA, engine)
    if raw is None:
        return None
    doc: dict[str, Any] = json.loads(raw)
    return doc


def read_extra(
    settings: Settings, version: int, name: str, engine: sa.Engine | None = None
) -> bytes | None:
    """An extra file of a version, checked against the SHA-256 in its metadata; None if absent."""
    meta = metadata(settings, version, engine)
    if meta is None:
        return None
    expected = meta.get("files", {}).get(name)
    if expected is None:
        return None
    data = _version_file(settings, version, name, engine)
    if data is None or hashlib.sha256(data).hexdigest() != expected:
        raise ModelIntegrityError(
            f"model version {version}: {name} does not match the SHA-256 in its metadata"
        )
    return data


def metadata_document(
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


def metadata_bytes(
    row: dict[str, Any],
    settings: Settings,
    metrics: dict[str, Any] | None,
    extras: dict[str, str],
    calibration: dict[str, Any] | None,
) -> bytes:
    """metadata.json of a version as written, with its calibration when it has one."""
    from pipeline.infra.versions import library_versions

    meta = metadata_document(row, settings, metrics or {}, extras, library_versions())
    if calibration is not None:
        meta["calibration"] = calibration
    return json.dumps(meta, indent=2, default=str).encode()
