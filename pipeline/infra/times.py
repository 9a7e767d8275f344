"""Time arithmetic that stays within the times there are: a bound a user gives may be the first
or the last instant Python holds (0001-01-01, 9999-12-31T23:59:59), and a day added to or taken
from it must not raise OverflowError in the middle of a page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MIN_TIME = datetime.min.replace(tzinfo=UTC)
MAX_TIME = datetime.max.replace(tzinfo=UTC)


def shifted(when: datetime, delta: timedelta) -> datetime:
    """`when` + `delta`, or the first or last time there is when that lies beyond it (in
    `when`'s time zone, or naive when it is)."""
    try:
        return when + delta
    except OverflowError:
        edge = MAX_TIME if delta > timedelta(0) else MIN_TIME
        return edge.replace(tzinfo=when.tzinfo)
