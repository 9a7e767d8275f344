"""Sub-commands about the API's tokens: create one (its secret shown once), list, revoke."""

from __future__ import annotations

from typing import Any

import click

from pipeline.cli.root import database, emit, engine_command, main, read, settings_of

ROLES = ("read", "predict", "admin")  # pipeline.storage.tokens.ROLES; a test holds them equal


@main.group(name="token")
def token_group() -> None:
    """API tokens: who may call the app's API, with which role."""


def _created_text(doc: dict[str, Any]) -> str:
    return (
        f"token {doc['name']!r} created, role {doc['role']}. Its secret, shown this once "
        "(riskwatch keeps only its SHA-256):\n"
        f"{doc['token']}\n"
        "Send it as the header  Authorization: Bearer <secret>"
    )


@engine_command(token_group, "create", json="Print the token's record and secret as JSON.")
@click.option("--name", required=True, help="A unique name: letters, digits, '.', '_', '-'.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(ROLES),
    help="read: every GET; predict: also POST /prediction; admin: everything.",
)
def create(ctx: click.Context, name: str, role: str, as_json: bool) -> None:
    """Create an API token; its secret is printed once and stored only hashed."""
    from pipeline.storage import tokens

    with database(settings_of(ctx)) as engine:
        record, secret = tokens.create(engine, name, role)
    emit({**record, "token": secret}, as_json, _created_text)


def _list_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no tokens yet (riskwatch token create --name NAME --role read|predict|admin)"
    return "\n".join(
        f"{r['name']:<24} {r['role']:<8} {r['status']:<8} created {r['created_at'][:19]}  "
        f"last used {(r['last_used_at'] or 'never')[:19]}"
        + (f"  revoked {r['revoked_at'][:19]}" if r["revoked_at"] else "")
        for r in rows
    )


@engine_command(token_group, "list", json=True)
def list_(ctx: click.Context, as_json: bool) -> None:
    """Every token with its role, status and times (never a secret)."""
    from pipeline.storage import tokens

    emit(read(ctx, lambda conn, _: tokens.list_tokens(conn)), as_json, _list_text)


def _revoked_text(doc: dict[str, Any]) -> str:
    if doc["already"]:
        return f"token {doc['name']!r} was already revoked at {doc['revoked_at']}"
    return f"token {doc['name']!r} revoked: requests with it are refused from now on"


@engine_command(token_group, "revoke", json=True)
@click.argument("name")
def revoke(ctx: click.Context, name: str, as_json: bool) -> None:
    """Revoke a token: the API refuses it from the next request on."""
    from pipeline.storage import tokens

    with database(settings_of(ctx)) as engine:
        doc = tokens.revoke(engine, name)
    emit(doc, as_json, _revoked_text)
