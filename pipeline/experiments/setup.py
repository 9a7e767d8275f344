"""`riskwatch experiments init`: make the project a DVC project for riskwatch's experiments.

It needs git (DVC experiments are git commits). It runs `dvc init` when .dvc/ is missing, turns
DVC's analytics off, makes DVC's cache hard links when the project has not chosen a cache type,
writes dvc.yaml when the project has none, adds to riskwatch.toml the sections dvc.yaml reads as
parameters when they are missing, and sets the folder `experiments.remote` as the default DVC
remote when the project has none.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, ToolError
from pipeline.infra import dvc
from pipeline.run.snapshot_step import default_remote, ensure_remote, remote_folder
from pipeline.settings import Settings
from pipeline.settings.provenance import TRAINING_SECTIONS
from pipeline.settings.table import default

DVC_YAML = "dvc.yaml"
SHIPPED = "stages.yaml"  # dvc.yaml as the package ships it (DVC would read a dvc.yaml there)


def pipeline_text() -> str:
    """The dvc.yaml riskwatch ships (the repository's own is the same file)."""
    return resources.files("pipeline.experiments").joinpath(SHIPPED).read_text(encoding="utf-8")


def _git_root(root: Path) -> Path:
    try:
        top = dvc.run("git", ["rev-parse", "--show-toplevel"], root, timeout=60).stdout.strip()
    except ToolError as exc:
        raise ToolError(
            f"{root} is not in a git repository, and DVC experiments are git commits: "
            "`git init && git add -A && git commit -m start` first"
        ) from exc
    return Path(top).resolve()


def _complete_settings(path: Path) -> list[str]:
    """Add to riskwatch.toml the sections (and paths.test_data) dvc.yaml reads; return what
    was added. Comments and order are kept (tomlkit)."""
    import tomlkit

    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    added = []
    paths = doc.get("paths")
    if paths is None:
        paths = tomlkit.table()
        doc["paths"] = paths
    if "test_data" not in paths:
        paths["test_data"] = default("paths.test_data")
        added.append("paths.test_data")
    for section in TRAINING_SECTIONS:
        if section not in doc:
            doc[section] = tomlkit.table()
            added.append(f"[{section}]")
    if added:
        path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    return added


def _cache_links(root: Path) -> None:
    """Unless the project chose a cache type: hard links, so that the snapshot, its files in
    DVC's cache and the live data are one file on disk (a copy across file systems). DVC then
    makes those files read-only, which riskwatch never writes anyway: it replaces files."""
    try:
        chosen = dvc.run("dvc", ["config", "cache.type"], root, timeout=60).stdout.strip()
    except ToolError:  # not set: DVC says so with a non-zero exit
        chosen = ""
    if not chosen:
        dvc.run("dvc", ["config", "cache.type", "hardlink,copy"], root, timeout=60)


def init(settings: Settings) -> dict[str, Any]:
    """Set the project up; return what was done (`--json`)."""
    root = settings.base_dir
    if settings.source is None:
        raise ConfigError(
            f"no riskwatch.toml in {root}: DVC reads the experiments' parameters from it "
            "(start from the project's own, or from `riskwatch settings --profile NAME`)"
        )
    if not dvc.initialised(root) or not default_remote(root):
        remote_folder(settings)  # the remote init will set: a bad one fails before any change
    top = _git_root(root)
    created = not dvc.initialised(root)
    if created:
        dvc.run("dvc", ["init", "--quiet", *(["--subdir"] if top != root.resolve() else [])], root)
    dvc.run("dvc", ["config", "core.analytics", "false"], root, timeout=60)
    _cache_links(root)
    wrote_pipeline = not (root / DVC_YAML).is_file()
    if wrote_pipeline:
        (root / DVC_YAML).write_text(pipeline_text(), encoding="utf-8")
    added = _complete_settings(settings.source)
    return {
        "root": str(root),
        "dvc_initialised": created,
        "dvc_yaml_written": wrote_pipeline,
        "settings_added": added,
        "remote": ensure_remote(settings),
    }
