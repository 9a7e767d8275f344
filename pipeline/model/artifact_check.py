"""Check a registry folder's files against their recorded SHA-256s, without unpickling anything.

What `riskwatch status` says of the production artifact, and what the next run says of a
version folder that no database row knows when it moves it aside (`pipeline.run.cleanup`: a
folder that matches its own metadata proves nothing, and is never adopted). Only hashes are
read here: no scikit-learn, no joblib. It reads the registry's layout (`registry.ARTIFACT`,
`registry.METADATA`) and does not write; loading stays `registry.load`'s.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipeline.infra.files import sha256_of
from pipeline.model.stored import ARTIFACT, METADATA, in_database, root
from pipeline.settings import Settings
from pipeline.storage import blobs, tables


def artifact_status(
    settings: Settings, conn: sa.Connection, artifact: str, recorded: str
) -> dict[str, Any]:
    """The artifact `artifact` (relative to the registry's root, or its path in the database
    store) against its recorded SHA-256: {"artifact", "status": verified | modified | missing,
    "sha256" (None when missing), "recorded_sha256"}."""
    doc: dict[str, Any] = {"artifact": artifact, "recorded_sha256": recorded, "sha256": None}
    if in_database(settings):
        t = tables.stored_files
        data = conn.execute(
            sa.select(t.c.data).where(t.c.area == blobs.MODELS, t.c.path == artifact)
        ).scalar()
        if data is None:
            return {**doc, "status": "missing"}
        digest = hashlib.sha256(bytes(data)).hexdigest()
    else:
        path = root(settings) / artifact
        if not path.is_file():
            return {**doc, "status": "missing"}
        digest = sha256_of(path)
    return {**doc, "sha256": digest, "status": "verified" if digest == recorded else "modified"}


def complete_version(folder: Path) -> tuple[dict[str, Any] | None, str]:
    """A version folder's metadata.json when the folder is complete and its files match it
    (the artifact and every extra file, by SHA-256, and the folder's number); else None, and
    why not."""
    try:
        meta = json.loads((folder / METADATA).read_text())
    except FileNotFoundError:
        return None, f"it has no {METADATA}"
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"its {METADATA} cannot be read ({type(exc).__name__}: {exc})"
    if not isinstance(meta, dict):
        return None, f"its {METADATA} is not an object"
    if meta.get("version") != int(folder.name) or meta.get("artifact") != ARTIFACT:
        return None, f"its {METADATA} describes another version or artifact"
    files = meta.get("files")
    if not isinstance(files, dict) or not isinstance(meta.get("sha256"), str):
        return None, f"its {METADATA} lacks the files' SHA-256s"
    artifact = folder / ARTIFACT
    if not artifact.is_file():
        return None, f"it has no {ARTIFACT}"
    if sha256_of(artifact) != meta["sha256"]:
        return None, f"its {ARTIFACT} does not match the SHA-256 in its {METADATA}"
    for name, digest in files.items():
        path = folder / str(name)
        if "/" in str(name) or str(name).startswith(".") or not path.is_file():
            return None, f"its extra file {name!r} is missing or misnamed"
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            return None, f"its extra file {name!r} does not match the SHA-256 in its {METADATA}"
    return meta, ""
