"""Sub-commands about the database itself: its schema."""

from __future__ import annotations

import click

from pipeline.cli.root import database, engine_command, main, settings_of


@main.group(name="db")
def db_group() -> None:
    """Database schema."""


@engine_command(db_group, "upgrade")
def upgrade(ctx: click.Context) -> None:
    """Apply the migrations in sql/ (creates the schema on a new database)."""
    from pipeline.storage import db

    with database(settings_of(ctx), check=False) as engine:
        revision = db.upgrade(engine)
    click.echo(f"database at schema revision {revision} ({engine.url.render_as_string()})")
