"""One Alembic script per schema revision."""
