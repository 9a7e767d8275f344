"""The pages' users (issue 13, point 9): `riskwatch user add|list|remove`, passwords stored only
as salted scrypt hashes, and migration 0017 up and down, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.errors import InvalidArgument, NotFound
from pipeline.storage import api_tables, db, tables, users
from tests.e2e import invoke

PASSWORD = "correct horse battery"


def _stored(url: str) -> list[dict[str, object]]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(api_tables.users))]
    finally:
        engine.dispose()


def test_user_add_list_remove(tmp_path: Path) -> None:
    (tmp_path / "riskwatch.toml").write_text("")
    added = invoke(
        tmp_path, "user", "add", "alice", "--role", "admin", "--password-stdin", "--json",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    doc = json.loads(added.stdout)
    assert doc["name"] == "alice" and doc["role"] == "admin" and doc["created_at"]
    # Asked for twice on a terminal (click's prompt, hidden).
    typed = invoke(
        tmp_path, "user", "add", "bob", "--role", "read", input=f"{PASSWORD}2\n{PASSWORD}2\n"
    )
    assert typed.returncode == 0, typed.stderr
    assert "user 'bob' added, role read" in typed.stdout
    assert PASSWORD not in typed.stdout

    stored = _stored(f"sqlite:///{tmp_path / 'riskwatch.db'}")
    assert PASSWORD not in json.dumps(stored, default=str)
    assert all(str(r["password_hash"]).startswith("scrypt$16384$8$1$") for r in stored)

    listed = invoke(tmp_path, "user", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["role"]) for r in rows] == [("alice", "admin"), ("bob", "read")]
    assert "scrypt" not in listed.stdout and "hash" not in listed.stdout
    assert "alice" in invoke(tmp_path, "user", "list").stdout

    removed = invoke(tmp_path, "user", "remove", "alice", "--json")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(removed.stdout)["removed"] is True
    rows = json.loads(invoke(tmp_path, "user", "list", "--json").stdout)
    assert [r["name"] for r in rows] == ["bob"]
    assert invoke(tmp_path, "user", "remove", "bob").returncode == 0
    assert "no users yet" in invoke(tmp_path, "user", "list").stdout


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["add", "alice", "--role", "read", "--password-stdin"], PASSWORD, 2, "already exists"),
        (["add", "x", "--role", "read", "--password-stdin"], "short", 2, "at least 12 are needed"),
        (["add", "x", "--role", "read", "--password-stdin"], "", 2, "has 0 characters"),
        (["add", "x", "--role", "read", "--password-stdin"], "p" * 1025, 2, "longer than 1024"),
        (["add", "x", "--role", "root", "--password-stdin"], PASSWORD, 2, "'root' is not one of"),
        (["add", "bad name", "--role", "read"], PASSWORD, 2, "expected 1 to 64 letters"),
        (["add", "x" * 65, "--role", "read"], PASSWORD, 2, "expected 1 to 64 letters"),
        (["add", "x", "--password-stdin"], PASSWORD, 2, "Missing option '--role'"),
        (["remove", "nobody"], "", 1, "no user named 'nobody'"),
    ],
)
def test_user_errors_are_clear(
    tmp_path: Path, args: list[str], stdin: str, code: int, message: str
) -> None:
    (tmp_path / "riskwatch.toml").write_text("")
    first = ["user", "add", "alice", "--role", "read", "--password-stdin"]
    assert invoke(tmp_path, *first, input=PASSWORD).returncode == 0
    done = invoke(tmp_path, "user", *args, input=stdin + "\n")
    assert done.returncode == code, (done.stdout, done.stderr)
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_the_minimum_length_is_a_setting(tmp_path: Path) -> None:
    (tmp_path / "riskwatch.toml").write_text("[auth]\npassword_min_length = 30\n")
    args = ["user", "add", "carol", "--role", "read", "--password-stdin"]
    short = invoke(tmp_path, *args, input=PASSWORD + "\n")
    assert short.returncode == 2 and "at least 30" in short.stderr
    assert invoke(tmp_path, *args, input=PASSWORD * 2 + "\n").returncode == 0


def test_passwords_are_salted_and_checked(engine: sa.Engine) -> None:
    users.add(engine, "ann", "read", PASSWORD, 12)
    users.add(engine, "ben", "predict", PASSWORD, 12)
    hashes = [r["password_hash"] for r in _stored(str(engine.url.render_as_string(False)))]
    assert len(set(hashes)) == 2  # the same password, two salts
    with engine.connect() as conn:
        ann = users.authenticate(conn, "ann", PASSWORD)
        assert ann is not None and ann.role == "read"
        assert users.authenticate(conn, "ann", PASSWORD.upper()) is None
        assert users.authenticate(conn, "nobody", PASSWORD) is None
        assert users.authenticate(conn, "ann\x00", PASSWORD) is None
        assert users.by_id(conn, ann.id) == ann
    assert not users.verify_password(PASSWORD, "md5$abc")
    assert not users.verify_password(PASSWORD, "scrypt$x$y")
    with pytest.raises(InvalidArgument, match="already exists"):
        users.add(engine, "ann", "admin", PASSWORD, 12)
    users.remove(engine, "ann")
    with engine.connect() as conn:
        assert users.by_id(conn, ann.id) is None
    with pytest.raises(NotFound, match="no user named 'ann'"):
        users.remove(engine, "ann")


def test_migration_0017_up_and_down(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        users.add(engine, "dora", "admin", PASSWORD, 12)
        db.downgrade(engine, "0016")
        assert "users" not in sa.inspect(engine).get_table_names()
        assert "api_tokens" in sa.inspect(engine).get_table_names()
        assert db.upgrade(engine) == tables.SCHEMA_REVISION
        assert "users" in sa.inspect(engine).get_table_names()
        with engine.connect() as conn:
            assert users.list_users(conn) == []  # the downgrade dropped them
        users.add(engine, "dora", "admin", PASSWORD, 12)
    finally:
        engine.dispose()
