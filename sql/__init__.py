"""The database migrations (Alembic scripts), shipped inside the installed package."""
