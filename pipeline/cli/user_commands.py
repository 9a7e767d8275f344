"""Sub-commands about the pages' users: add one (a password typed twice, or read from stdin),
list them, remove one. The password is stored only as its salted scrypt hash."""

from __future__ import annotations

import sys
from typing import Any

import click

from pipeline.cli.root import database, emit, engine_command, main, read, settings_of
from pipeline.cli.token_commands import ROLES


@main.group(name="user")
def user_group() -> None:
    """Users who sign in to the pages with a name and a password."""


def _password(from_stdin: bool) -> str:
    if not from_stdin:
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    text = sys.stdin.readline()
    return text[:-1] if text.endswith("\n") else text  # one line; only its newline is dropped


@engine_command(user_group, "add", json=True)
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(ROLES),
    help="read: every page; predict: also the predictions; admin: everything.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin instead of asking for it.",
)
def add(ctx: click.Context, name: str, role: str, password_stdin: bool, as_json: bool) -> None:
    """Add a user who signs in to the pages with NAME and a password (stored only hashed)."""
    from pipeline.storage import users

    settings = settings_of(ctx)
    users.check_name(name)  # before the password is asked for
    password = _password(password_stdin)
    with database(settings) as engine:
        record = users.add(engine, name, role, password, settings["auth.password_min_length"])
    emit(record, as_json, lambda d: f"user {d['name']!r} added, role {d['role']}")


def _list_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no users yet (riskwatch user add NAME --role read|predict|admin)"
    return "\n".join(f"{r['name']:<24} {r['role']:<8} created {r['created_at'][:19]}" for r in rows)


@engine_command(user_group, "list", json=True)
def list_(ctx: click.Context, as_json: bool) -> None:
    """Every user with their role (never a password or its hash)."""
    from pipeline.storage import users

    emit(read(ctx, lambda conn, _: users.list_users(conn)), as_json, _list_text)


@engine_command(user_group, "remove", json=True)
@click.argument("name")
def remove(ctx: click.Context, name: str, as_json: bool) -> None:
    """Remove a user: their sessions are signed out at their next request."""
    from pipeline.storage import users

    with database(settings_of(ctx)) as engine:
        doc = users.remove(engine, name)
    emit(doc, as_json, lambda d: f"user {d['name']!r} removed: their sessions are signed out")
