"""Column types of the schema: times stored in UTC and read back timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("riskwatch stores only timezone-aware times")
        value = value.astimezone(UTC)
        # SQLite has no time zones: store naive UTC, re-attach UTC when reading.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def driver_time(value: datetime | None, sqlite: bool) -> datetime | str | None:
    """A time as the driver is sent it for a UTCDateTime column, by statements that bypass
    SQLAlchemy (the API's and the schedule's executemany): SQLite's naive UTC text, as
    SQLAlchemy writes it; an aware time for PostgreSQL. A naive time is refused."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("riskwatch stores only timezone-aware times")
    if not sqlite:
        return value
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def utcnow() -> datetime:
    return datetime.now(UTC)
