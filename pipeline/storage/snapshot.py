"""The experiments' data snapshot: what an experiment (dvc.yaml) trains and scores on, kept apart
from production so that no DVC command can change the live data or the registry.

`write` lays out, in one folder (experiments/data by default):

- `ingested/`: every ingested file's Parquet, hard-linked (copied across file systems) from
  `paths.ingested` under its own relative path;
- `models/`: every registered version's folder and the registry's production pointer (its
  file name given by the caller, who knows the registry), likewise;
- `manifest.json`: the `ingested_files` rows of those files and the `model_versions` rows, so
  the snapshot carries what the database knows of them (the training window is chosen from it,
  each artifact is verified against its recorded SHA-256).

The manifest holds no time of writing: an unchanged state writes the same bytes, so DVC sees an
unchanged snapshot and `dvc repro` does nothing. Files are immutable once riskwatch writes them
(a Parquet file per source file, a folder per version), so the snapshot is refreshed by adding
what is new and removing what is gone.

`open_manifest` loads a snapshot's manifest into an in-memory SQLite database with riskwatch's
own tables, so the run's code (training window, registry checks) reads it as it reads the real
database.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipeline.errors import DataError
from pipeline.infra.files import atomic_write_bytes
from pipeline.settings import Settings
from pipeline.storage import tables

MANIFEST = "manifest.json"
INGESTED = "ingested"
MODELS = "models"
FORMAT = 1  # the manifest's layout; a reader refuses another


@dataclass(frozen=True)
class Written:
    folder: Path
    files: int  # ingested files in the snapshot
    rows: int  # their good rows
    versions: int  # model versions
    added: int  # files linked or copied this time
    removed: int  # files no longer in the state, removed


# Columns a later run fills in (the run that processed a file): left out, so that a snapshot
# of unchanged data is the same bytes whether or not a run has processed it since.
MUTABLE_COLUMNS = frozenset({"processed_run_id"})


def _json_row(row: sa.Row) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row._mapping.items():
        if key not in MUTABLE_COLUMNS:
            out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out


def _wanted(
    settings: Settings, conn: sa.Connection, pointer: str
) -> tuple[dict[str, Path], dict[str, Any]]:
    """The snapshot's files (relative path to source) and its manifest document."""
    ingested_dir, models_dir = settings.path("paths.ingested"), settings.path("paths.models")
    t, v = tables.ingested_files, tables.model_versions
    files = [
        _json_row(r)
        for r in conn.execute(sa.select(t).where(t.c.status == "ingested").order_by(t.c.id))
    ]
    versions = [_json_row(r) for r in conn.execute(sa.select(v).order_by(v.c.version))]
    wanted: dict[str, Path] = {}
    for f in files:
        source = ingested_dir / f["data_path"]
        if not source.is_file():
            raise DataError(
                f"ingested file {f['name']!r}: its Parquet file {source} is missing, so the "
                "snapshot cannot hold it; the ingested data must not be edited by hand"
            )
        wanted[f"{INGESTED}/{f['data_path']}"] = source
    for row in versions:
        folder = models_dir / str(row["version"])
        if not folder.is_dir():
            continue  # a version whose folder is gone cannot be trained on or served
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            wanted[f"{MODELS}/{path.relative_to(models_dir).as_posix()}"] = path
    if (models_dir / pointer).is_file():
        wanted[f"{MODELS}/{pointer}"] = models_dir / pointer
    manifest = {"format": FORMAT, "ingested_files": files, "model_versions": versions}
    return wanted, manifest


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:  # another file system, or links not allowed: a copy
        shutil.copy2(source, tmp)
    os.replace(tmp, target)


def _same(source: Path, target: Path, *, mutable: bool) -> bool:
    """riskwatch never rewrites a file it wrote, so a file of the same size is the same file;
    a `mutable` one (the production pointer: small, and it does change) is compared whole."""
    try:
        if target.samefile(source):
            return True
        if mutable:
            return target.read_bytes() == source.read_bytes()
        return target.stat().st_size == source.stat().st_size
    except FileNotFoundError:
        return False


def _existing(folder: Path) -> Iterator[str]:
    for sub in (INGESTED, MODELS):
        root = folder / sub
        if root.is_dir():
            for path in root.rglob("*"):
                if path.is_file() or path.is_symlink():
                    yield path.relative_to(folder).as_posix()


def write(engine: sa.Engine, settings: Settings, folder: Path, *, pointer: str) -> Written:
    """Bring the snapshot in `folder` up to the state in the database and on disk; `pointer` is
    the name of the registry's production pointer. The caller holds the run lock, so no run
    adds a file while it is read."""
    with engine.connect() as conn:
        wanted, manifest = _wanted(settings, conn, pointer)
    folder.mkdir(parents=True, exist_ok=True)
    added = removed = 0
    for rel, source in wanted.items():
        target = folder / rel
        if not _same(source, target, mutable=rel == f"{MODELS}/{pointer}"):
            _link(source, target)
            added += 1
    for rel in sorted(set(_existing(folder)) - set(wanted)):
        (folder / rel).unlink()
        removed += 1
    for sub in (INGESTED, MODELS):  # folders emptied by the removals
        for path in sorted((folder / sub).rglob("*"), reverse=True):
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    text = json.dumps(manifest, indent=1, sort_keys=True, default=str) + "\n"
    atomic_write_bytes(folder / MANIFEST, text.encode())
    return Written(
        folder=folder,
        files=len(manifest["ingested_files"]),
        rows=sum(f["rows"] for f in manifest["ingested_files"]),
        versions=len(manifest["model_versions"]),
        added=added,
        removed=removed,
    )


def _parsed(table: sa.Table, row: object) -> dict[str, Any]:
    """A manifest row as the table's columns; ValueError when it is not one."""
    if not isinstance(row, dict):
        raise ValueError(f"a {table.name} row is {type(row).__name__}, not an object")
    out = {}
    for column in table.columns:
        value = row.get(column.name)
        if isinstance(column.type, tables.UTCDateTime) and value is not None:
            if not isinstance(value, str):
                raise ValueError(f"{table.name}.{column.name} is not a time: {value!r}")
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise ValueError(f"{table.name}.{column.name} has no time zone: {value}")
        out[column.name] = value
    return out


def open_manifest(folder: Path) -> sa.Engine:
    """An in-memory SQLite database holding the snapshot's `ingested_files` and `model_versions`
    rows (with the schema's own tables), for code that reads them from a database."""
    path = folder / MANIFEST
    if not path.is_file():
        raise DataError(
            f"no experiments snapshot at {folder} (no {MANIFEST}): run `riskwatch experiments "
            "snapshot` first (and `dvc pull` for a snapshot pushed from elsewhere)"
        )
    engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise ValueError(f"format {found!r}, this riskwatch reads {FORMAT}")
        rows = {
            table: [_parsed(table, r) for r in _listed(doc, key)]
            for table, key in (
                (tables.ingested_files, "ingested_files"),
                (tables.model_versions, "model_versions"),
            )
        }
        tables.metadata.create_all(
            engine, tables=[tables.runs, tables.ingested_files, tables.model_versions]
        )
        with engine.begin() as conn:
            for table, parsed in rows.items():
                if parsed:
                    conn.execute(table.insert(), parsed)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, sa.exc.SQLAlchemyError) as exc:
        engine.dispose()
        raise DataError(f"{path} is not a riskwatch snapshot manifest: {exc}"[:600]) from exc
    return engine


def _listed(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc[key]
    if not isinstance(value, list):
        raise ValueError(f"{key} is {type(value).__name__}, not a list")
    return value
