"""Files kept in the database (`stored_files`), for `registry.store = "database"`.

On Heroku a web dyno and a scheduler dyno have a disk each, and neither outlives a restart: the
model versions and the reports live in the database instead, which both share. A file is
written once with its SHA-256, and `get` checks the bytes against it before handing them out.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from pipeline.errors import ModelIntegrityError
from pipeline.settings import Settings
from pipeline.storage import tables

MODELS = "models"
REPORTS = "reports"


def put(conn: sa.Connection, area: str, path: str, data: bytes) -> str:
    """Store `data` as `area`/`path` (replacing what was there); return its SHA-256."""
    t = tables.stored_files
    digest = hashlib.sha256(data).hexdigest()
    conn.execute(sa.delete(t).where(t.c.area == area, t.c.path == path))
    conn.execute(
        t.insert().values(
            area=area,
            path=path,
            sha256=digest,
            size_bytes=len(data),
            data=data,
            stored_at=tables.utcnow(),
        )
    )
    return digest


def get(conn: sa.Connection, area: str, path: str) -> bytes | None:
    """The bytes stored as `area`/`path`, checked against their SHA-256; None when absent."""
    t = tables.stored_files
    row = conn.execute(
        sa.select(t.c.data, t.c.sha256).where(t.c.area == area, t.c.path == path)
    ).first()
    if row is None:
        return None
    data = bytes(row.data)
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise ModelIntegrityError(
            f"the stored file {area}/{path} does not match the SHA-256 it was stored with"
        )
    return data


def paths(conn: sa.Connection, area: str, prefix: str = "") -> list[str]:
    """The paths stored in `area` that start with `prefix`, sorted."""
    t = tables.stored_files
    query = sa.select(t.c.path).where(t.c.area == area)
    if prefix:
        query = query.where(t.c.path.startswith(prefix, autoescape=True))
    return sorted(conn.execute(query).scalars())


def publish_report(engine: sa.Engine, settings: Settings, relative: str, data: bytes) -> None:
    """Keep a report written under paths.reports (a run's PDF, a file's quality page) in the
    database too when registry.store = "database": the web process, on another machine, serves
    it from there."""
    if settings["registry.store"] != "database":
        return
    with engine.begin() as conn:
        put(conn, REPORTS, relative, data)
