"""The pages' users: a name, a role and a password, stored only as a salted scrypt hash.

A password is chosen by a person, so unlike a token's 256 random bits it can be guessed: it is
stored as `scrypt$n$r$p$salt$hash` (hashlib.scrypt, a fresh 16-byte salt per user, N = 2**14,
r = 8, p = 1: 16 MiB of memory per check), compared in constant time, and
an unknown name costs the same hash as a known one, so the time of an answer does not say which
names exist. Passwords are NFC-normalised first: the same word typed on two keyboards matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline.errors import InvalidArgument
from pipeline.storage import api_tables, tables
from pipeline.storage.tokens import NAME_PATTERN, ROLES

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
MAX_PASSWORD_CHARS = 1024  # far above any real password: longer is refused before it is hashed


@dataclass(frozen=True)
class User:
    """A user as a session presents it (never the password's hash)."""

    id: int
    name: str
    role: str
    stamp: str  # changes when the user is added again (a fresh salt): sessions hold it

    @property
    def client(self) -> str:
        """The key of its usage counters."""
        return f"user:{self.id}"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    data = unicodedata.normalize("NFC", password).encode("utf-8", "surrogateescape")
    return hashlib.scrypt(data, salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=KEY_BYTES)


def hash_password(password: str) -> str:
    """The stored form of `password`: scheme, parameters, salt and key, never the password."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(key)
        got = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(got, want)


# Checked against when a name is unknown, so that its answer takes as long as a known one's.
_DUMMY = (
    "$".join(("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(bytes(SALT_BYTES))))
    + "$"
    + _b64(bytes(KEY_BYTES))
)


def check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidArgument(
            f"user name {name[:80]!r}: expected 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )


def check_password(password: str, min_length: int) -> None:
    if len(password) < min_length:
        raise InvalidArgument(
            f"the password has {len(password)} characters: at least {min_length} are needed "
            "(setting auth.password_min_length)"
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidArgument(f"the password is longer than {MAX_PASSWORD_CHARS} characters")


def _public(row: sa.Row) -> dict[str, Any]:
    return {
        "name": row.name,
        "role": row.role,
        "created_at": row.created_at.isoformat() if isinstance(row.created_at, datetime) else None,
    }


def add(engine: sa.Engine, name: str, role: str, password: str, min_length: int) -> dict[str, Any]:
    """Add a user who signs in with `password` (stored hashed); InvalidArgument for a bad name,
    role or password, or a name taken."""
    check_name(name)
    if role not in ROLES:
        raise InvalidArgument(f"user role {role!r}: expected one of {', '.join(ROLES)}")
    check_password(password, min_length)
    u = api_tables.users
    stored = hash_password(password)
    taken = InvalidArgument(f"a user named {name!r} already exists: choose another name")
    try:
        with engine.begin() as conn:
            if conn.execute(sa.select(u.c.id).where(u.c.name == name)).first() is not None:
                raise taken
            conn.execute(
                u.insert().values(
                    name=name, role=role, password_hash=stored, created_at=tables.utcnow()
                )
            )
            row = conn.execute(sa.select(u).where(u.c.name == name)).one()
    except sa.exc.IntegrityError as exc:  # another process added the same name meanwhile
        raise taken from exc
    return _public(row)


def list_users(conn: sa.Connection) -> list[dict[str, Any]]:
    """Every user, oldest first, with their role; never a password's hash."""
    u = api_tables.users
    return [_public(r) for r in conn.execute(sa.select(u).order_by(u.c.id))]


def remove(engine: sa.Engine, name: str) -> dict[str, Any]:
    """Remove a user: their sessions are signed out at their next request."""
    u = api_tables.users
    with engine.begin() as conn:
        row = api_tables.named(conn, u, name, "user")
        conn.execute(u.delete().where(u.c.id == row.id))
    return {**_public(row), "removed": True}


def authenticate(conn: sa.Connection, name: str, password: str) -> User | None:
    """The user of this name and password; None when either is wrong (which, is not said)."""
    u = api_tables.users
    row = None
    if NAME_PATTERN.fullmatch(name) and len(password) <= MAX_PASSWORD_CHARS:
        row = conn.execute(
            sa.select(u.c.id, u.c.name, u.c.role, u.c.password_hash).where(u.c.name == name)
        ).first()
    if row is None:
        verify_password(password[:MAX_PASSWORD_CHARS], _DUMMY)  # the same time as a known name
        return None
    if not verify_password(password, row.password_hash):
        return None
    return _user(row)


def _user(row: sa.Row) -> User:
    # SQLite may give a removed user's id to the next one added: the stamp tells them apart.
    stamp = hashlib.sha256(row.password_hash.encode("ascii")).hexdigest()[:16]
    return User(row.id, row.name, row.role, stamp)


def by_id(conn: sa.Connection, user_id: int) -> User | None:
    """The user of this id; None once removed."""
    u = api_tables.users
    query = sa.select(u.c.id, u.c.name, u.c.role, u.c.password_hash).where(u.c.id == user_id)
    row = conn.execute(query).first()
    return None if row is None else _user(row)
