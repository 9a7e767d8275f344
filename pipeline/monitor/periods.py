"""The period a time falls in (`monitoring.period`): its day, ISO week (from Monday) or month,
in UTC. A period is named by its start; it ends where the next one starts.

Standard library only for one time; `period_starts` takes a pandas Series (imported there).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

PERIODS = ("day", "week", "month")
_LAST = datetime.max.replace(tzinfo=UTC)  # pure: no pipeline.infra here


def _check(period: str) -> None:
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")


def _utc(when: datetime) -> datetime:
    """A naive time is taken as UTC (as the database stores them); an aware one is converted."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def period_start(when: datetime, period: str) -> datetime:
    """The start (UTC, aware) of the day, ISO week or month `when` falls in."""
    _check(period)
    day = _utc(when).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def period_end(start: datetime, period: str) -> datetime:
    """The start of the period after the one starting at `start` (its exclusive end); for the
    last period there is (December 9999), the last time there is."""
    _check(period)
    start = period_start(start, period)
    if period in ("day", "week"):
        try:
            return start + timedelta(days=1 if period == "day" else 7)
        except OverflowError:  # the last day or week there is
            return _LAST
    if (start.year, start.month) == (_LAST.year, 12):
        return _LAST
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month)


def period_starts(times: pd.Series, period: str) -> pd.Series:
    """The period start of every time in `times` (datetime64, naive = UTC): a UTC Series; NaT
    stays NaT."""
    import pandas as pd

    _check(period)
    stamps = pd.to_datetime(times, utc=True)
    day = stamps.dt.floor("D")
    if period == "week":
        return day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    if period == "month":
        return day - pd.to_timedelta(day.dt.day - 1, unit="D")
    return day
