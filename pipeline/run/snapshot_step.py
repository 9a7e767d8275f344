"""The snapshot step: bring experiments/data up to the ingested data and the registry
(`pipeline.storage.snapshot`), track it with DVC (`dvc add`), and push it to the project's
default DVC remote, which is the folder `experiments.remote` unless the project has set another.

`riskwatch experiments snapshot` calls it; a tick calls it when `experiments.snapshot = "tick"`
and the project has .dvc/, and then a failure is a warning in the run's log, never a failed
tick. Without .dvc/ the snapshot is written and nothing of DVC is called.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipeline.errors import ConfigError, ToolError
from pipeline.infra import dvc
from pipeline.model import registry
from pipeline.settings import Settings
from pipeline.settings.provenance import experiments_dir
from pipeline.storage import snapshot

log = logging.getLogger("riskwatch")

SNAPSHOT_DIR = "data"  # experiments/data: dvc.yaml's stages depend on it
REMOTE_NAME = "riskwatch"


def snapshot_dir(settings: Settings) -> Path:
    return experiments_dir(settings) / SNAPSHOT_DIR


def snapshot_settings(settings: Settings) -> Settings:
    """The settings with paths.ingested and paths.models in the snapshot: the registry's
    functions read the snapshot's versions through them."""
    folder = snapshot_dir(settings)
    return settings.with_values(
        paths__ingested=str(folder / snapshot.INGESTED),
        paths__models=str(folder / snapshot.MODELS),
        registry__store="files",  # the snapshot holds the versions as files, whatever the store
    )


def remote_folder(settings: Settings) -> Path:
    """`experiments.remote`, checked: a folder (or nothing yet) outside what riskwatch owns."""
    folder = settings.path("experiments.remote").resolve()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"setting 'experiments.remote': {folder} exists and is not a folder")
    owned = [settings.path(k).resolve() for k in ("paths.ingested", "paths.models", "paths.source")]
    owned.append(experiments_dir(settings).resolve())
    for path in owned:
        if folder == path or path in folder.parents or folder in path.parents:
            raise ConfigError(
                f"setting 'experiments.remote': {folder} overlaps {path}, which riskwatch or "
                "DVC's stages own; the remote must be a folder of its own"
            )
    return folder


def default_remote(root: Path) -> str:
    """The DVC project's default remote, or "" when it has none."""
    try:
        return dvc.run("dvc", ["remote", "default"], root, timeout=60).stdout.strip()
    except ToolError as exc:  # no default remote: DVC says so with a non-zero exit
        if "No default remote" not in str(exc):
            raise
        return ""


def ensure_remote(settings: Settings) -> str:
    """The project's default DVC remote; when it has none, the folder `experiments.remote`,
    made the default in .dvc/config.local (this machine's, not committed)."""
    root = settings.base_dir
    name = default_remote(root)
    if name:
        return name
    folder = remote_folder(settings)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"setting 'experiments.remote': cannot make {folder}: {exc}") from exc
    dvc.run(
        "dvc",
        ["remote", "add", "--local", "--default", "--force", REMOTE_NAME, str(folder)],
        root,
        timeout=60,
    )
    log.info("DVC remote %r is the folder %s", REMOTE_NAME, folder)
    return REMOTE_NAME


def refresh(engine: sa.Engine, settings: Settings, *, push: bool = True) -> dict[str, Any]:
    """Write the snapshot; with .dvc/, `dvc add` it and (with `push`) push it. The caller holds
    the run lock. Returns what `riskwatch experiments snapshot --json` prints."""
    root = settings.base_dir
    folder = snapshot_dir(settings)
    registry.materialise(engine, settings)  # the database store's versions, as files to link
    written = snapshot.write(engine, settings, folder, pointer=registry.POINTER)
    log.info(
        "snapshot %s: %d ingested file(s), %d row(s), %d model version(s); %d file(s) added, "
        "%d removed",
        folder,
        written.files,
        written.rows,
        written.versions,
        written.added,
        written.removed,
    )
    out: dict[str, Any] = {
        "folder": str(folder),
        "ingested_files": written.files,
        "rows": written.rows,
        "model_versions": written.versions,
        "production_version": registry.production_version(snapshot_settings(settings)),
        "added": written.added,
        "removed": written.removed,
        "dvc": dvc.initialised(root),
        "tracked": None,
        "remote": None,
        "pushed": False,
    }
    if not out["dvc"]:
        log.info("no .dvc/ in %s: the snapshot is not tracked (riskwatch experiments init)", root)
        return out
    rel = folder.relative_to(root).as_posix()
    dvc.run("dvc", ["add", rel], root)
    out["tracked"] = f"{rel}.dvc"
    if push:
        out["remote"] = ensure_remote(settings)
        dvc.run("dvc", ["push", "--remote", out["remote"], f"{rel}.dvc"], root)
        out["pushed"] = True
    return out


def after_tick(engine: sa.Engine, settings: Settings) -> dict[str, Any]:
    """The tick's snapshot (the tick checks experiments.snapshot = "tick" and .dvc/): its work
    is done and recorded by then, so whatever fails here is a warning, never a failed tick."""
    try:
        return refresh(engine, settings)
    except Exception as exc:  # any failure of an optional step, after the tick's work
        kind = "DVC" if isinstance(exc, ToolError) else type(exc).__name__
        log.warning("snapshot not refreshed (%s): %s", kind, exc)
        return {"error": f"{type(exc).__name__}: {exc}"}
