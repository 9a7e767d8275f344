"""The API's tables: tokens (stored hashed, with their role), the rate limits' counters, and
the pages' users (a name and a password, stored as a salted scrypt hash, with their role).

They are part of `tables.metadata` (the package's `__init__` imports this module, so whoever
imports `tables` has them); migration 0008 builds the first two, 0017 the users.
"""

from __future__ import annotations

import sqlalchemy as sa

from pipeline.errors import NotFound
from pipeline.storage.tables import UTCDateTime, metadata

# `riskwatch token create`: the secret is shown once and stored only as its SHA-256.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),  # never reused
    sa.Column("role", sa.String(10), nullable=False),  # read, predict, admin
    sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime),  # to the minute (pipeline.storage.tokens)
    sa.Column("revoked_at", UTCDateTime),
)

# One counter per client ("token:<id>" or "anonymous") and kind (requests: per minute;
# predictions: per UTC day): `period` is the window's number, `used` what it has used so far.
# A new window overwrites the old one, so the table holds two rows per client at most.
api_usage = sa.Table(
    "api_usage",
    metadata,
    sa.Column("client", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("period", sa.BigInteger, nullable=False),
    sa.Column("used", sa.BigInteger, nullable=False),
)

# `riskwatch user add`: who may sign in to the pages with a password (pipeline.storage.users).
# A removed user's row is deleted: a session that named it is signed out at its next request.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(10), nullable=False),  # read, predict, admin
    sa.Column("password_hash", sa.String(255), nullable=False),  # scrypt$n$r$p$salt$hash
    sa.Column("created_at", UTCDateTime, nullable=False),
)


def named(conn: sa.Connection, table: sa.Table, name: str, noun: str) -> sa.Row:
    """The row of `table` (api_tokens or users) with this name; NotFound naming the command that
    lists them."""
    row = conn.execute(sa.select(table).where(table.c.name == name)).first()
    if row is None:
        raise NotFound(f"no {noun} named {name[:80]!r} (riskwatch {noun} list shows them)")
    return row
