"""API tokens and the usage counters behind the API's rate limits (issue 11).

A token's secret is `rw_` and 43 characters of `secrets.token_urlsafe(32)`: 256 random bits,
shown once, stored only as its SHA-256. A plain hash is enough for a secret of that entropy (no
guessing can find a preimage, so a slow password hash such as bcrypt would buy nothing and cost
every request its time); the lookup is by the hash, so no secret is ever compared in Python.

The usage counters are one row per client and kind in `api_usage`, updated by one conditional
upsert per charge, so every gunicorn worker and every host on the database share them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipeline.errors import InvalidArgument
from pipeline.storage import api_tables, db, tables

ROLES = ("read", "predict", "admin")  # each role implies the ones before it
SECRET_PREFIX = "rw_"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# last_used_at is kept to this precision: a token used all day costs one write a minute, not
# one per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Token:
    """A token as a request presents it (the secret is not kept)."""

    id: int
    name: str
    role: str
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def client(self) -> str:
        """The key of its usage counters."""
        return f"token:{self.id}"


def allows(role: str, needed: str) -> bool:
    """Whether `role` may do what `needed` may (admin implies predict, predict implies read)."""
    return ROLES.index(role) >= ROLES.index(needed)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def _check(name: str, role: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidArgument(
            f"token name {name[:80]!r}: expected 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if role not in ROLES:
        raise InvalidArgument(f"token role {role!r}: expected one of {', '.join(ROLES)}")


def _public(row: sa.Row) -> dict[str, Any]:
    doc = {k: v for k, v in row._mapping.items() if k not in ("id", "secret_sha256")}
    doc["status"] = "revoked" if row.revoked_at is not None else "active"
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in doc.items()}


def create(engine: sa.Engine, name: str, role: str) -> tuple[dict[str, Any], str]:
    """Create a token; return its record and its secret (shown once, never stored)."""
    _check(name, role)
    t = api_tables.api_tokens
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    try:
        with engine.begin() as conn:
            _refuse_duplicate(conn, name)
            conn.execute(
                t.insert().values(
                    name=name,
                    role=role,
                    secret_sha256=secret_hash(secret),
                    created_at=tables.utcnow(),
                )
            )
    except sa.exc.IntegrityError as exc:  # another process created the same name meanwhile
        message = f"a token named {name!r} already exists: choose another name"
        raise InvalidArgument(message) from exc
    with engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.name == name)).one()
    return _public(row), secret


def _refuse_duplicate(conn: sa.Connection, name: str) -> None:
    t = api_tables.api_tokens
    row = conn.execute(sa.select(t.c.revoked_at).where(t.c.name == name)).first()
    if row is None:
        return
    if row.revoked_at is not None:
        raise InvalidArgument(
            f"a token named {name!r} existed and was revoked at {row.revoked_at.isoformat()}; "
            "names are never reused: choose another name"
        )
    raise InvalidArgument(f"a token named {name!r} already exists: choose another name")


def list_tokens(conn: sa.Connection) -> list[dict[str, Any]]:
    """Every token, oldest first, with its role and times; never a secret or its hash."""
    t = api_tables.api_tokens
    return [_public(r) for r in conn.execute(sa.select(t).order_by(t.c.id))]


def revoke(engine: sa.Engine, name: str) -> dict[str, Any]:
    """Revoke a token at once; `already` says whether it was revoked before."""
    t = api_tables.api_tokens
    with engine.begin() as conn:
        row = api_tables.named(conn, t, name, "token")
        already = row.revoked_at is not None
        if not already:
            conn.execute(t.update().where(t.c.id == row.id).values(revoked_at=tables.utcnow()))
        row = conn.execute(sa.select(t).where(t.c.id == row.id)).one()
    return {**_public(row), "already": already}


def find(conn: sa.Connection, secret: str) -> Token | None:
    """The token whose secret this is, revoked or not; None when there is none."""
    t = api_tables.api_tokens
    row = conn.execute(
        sa.select(t.c.id, t.c.name, t.c.role, t.c.last_used_at, t.c.revoked_at).where(
            t.c.secret_sha256 == secret_hash(secret)
        )
    ).first()
    return None if row is None else Token(**row._mapping)


def by_id(conn: sa.Connection, token_id: int) -> Token | None:
    """The token of this id, revoked or not (a session signed in with it: app.sessions)."""
    t = api_tables.api_tokens
    row = conn.execute(
        sa.select(t.c.id, t.c.name, t.c.role, t.c.last_used_at, t.c.revoked_at).where(
            t.c.id == token_id
        )
    ).first()
    return None if row is None else Token(**row._mapping)


def revoked_among(conn: sa.Connection, ids: set[int]) -> set[int]:
    """Which of the tokens `ids` are revoked (or gone), in the caller's transaction: one query
    for a whole batch of requests (app.commits), however many tokens it names; a revocation
    committed after it waits for the caller's commit, so none stores what it should not."""
    if not ids:
        return set()
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    # PostgreSQL: FOR SHARE, so that a revocation committed after this check waits for the
    # batch's commit (SQLite's BEGIN IMMEDIATE already serialises the two).
    sql = (
        "SELECT id FROM api_tokens WHERE revoked_at IS NULL AND id IN "
        f"({', '.join(mark for _ in ids)})" + ("" if sqlite else " FOR SHARE")
    )
    with db.driver_cursor(conn) as cursor:
        cursor.execute(sql, tuple(ids))
        live = {int(row[0]) for row in cursor.fetchall()}
    return ids - live


def active_count(conn: sa.Connection) -> int:
    """How many tokens are not revoked."""
    t = api_tables.api_tokens
    query = sa.select(sa.func.count()).select_from(t).where(t.c.revoked_at.is_(None))
    return conn.execute(query).scalar_one()


def touch(engine: sa.Engine, token: Token, now: datetime) -> bool:
    """Record that the token was used now, at most once per LAST_USED_RESOLUTION; say if written."""
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return False
    t = api_tables.api_tokens
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.id == token.id).values(last_used_at=now))
    return True


def charge(engine: sa.Engine, client: str, kind: str, period: int, amount: int, limit: int) -> bool:
    """Add `amount` to the client's counter of `kind` in window `period` if it stays within
    `limit`, in a transaction of its own; say whether it did (see `charge_in`)."""
    with engine.begin() as conn:
        return charge_in(conn, client, kind, period, amount, limit) is not None


# charge_in's conditional upsert, as the driver takes it (one statement, both databases): the
# same SQL SQLAlchemy's on_conflict_do_update would render, without building it per request.
_CHARGE = (
    "INSERT INTO api_usage (client, kind, period, used) VALUES ({m}, {m}, {m}, {m}) "
    "ON CONFLICT (client, kind) DO UPDATE SET "
    "used = CASE WHEN excluded.period > api_usage.period THEN excluded.used "
    "ELSE api_usage.used + excluded.used END, "
    "period = CASE WHEN excluded.period > api_usage.period THEN excluded.period "
    "ELSE api_usage.period END "
    "WHERE excluded.period > api_usage.period OR api_usage.used + excluded.used <= {m} "
    "RETURNING used"
)
_CHARGE_SQL = {"sqlite": _CHARGE.format(m="?"), "postgresql": _CHARGE.format(m="%s")}


def charge_in(
    conn: sa.Connection, client: str, kind: str, period: int, amount: int, limit: int
) -> int | None:
    """Add `amount` to the client's counter of `kind` in window `period` if it stays within
    `limit`, in the caller's transaction: the counter's new value, or None when it would pass
    the limit (nothing added). One statement: a conditional upsert, atomic on SQLite and
    PostgreSQL alike, so concurrent workers never overshoot the limit together.

    A later window replaces the stored one (counting starts again); an earlier one (a worker
    whose clock lags) counts in the stored window.
    """
    if amount > limit:
        return None
    with db.driver_cursor(conn) as cursor:
        cursor.execute(_CHARGE_SQL[conn.dialect.name], (client, kind, period, amount, limit))
        row = cursor.fetchone()
    return None if row is None else int(row[0])
