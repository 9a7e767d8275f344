"""Alembic environment: riskwatch passes the connection in; `riskwatch db upgrade` drives it."""

from alembic import context

from pipeline.storage.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
