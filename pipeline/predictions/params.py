"""The parameters of a page of past predictions, checked: the API's query string and the CLI's
options are both text, and each bad one is refused by its name (the API answers 400 with it).

Pure: no database, no files. A cursor is opaque to callers: 32 hex digits holding the last row's
(created_at in microseconds since the epoch, id), where the next page starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pipeline.errors import InvalidArgument
from pipeline.infra.times import MAX_TIME, MIN_TIME

SOURCE_FILTERS = ("all", "scheduled", "api", "webapp", "diagnostics")
DEFAULT_LIMIT = 100
MAX_INT = 2**31 - 1  # model_version is an INTEGER column
MAX_ID = 2**63 - 1  # predictions.id is a BIGINT
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
CURSOR_PATTERN = "[0-9a-f]{32}"
_MASK = 2**64 - 1


class BadParameter(InvalidArgument):
    """A parameter of a past-predictions query that cannot be used; `parameter` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class Position:
    """Where a page starts: after the row (created_at, id), going back in time."""

    created_at: datetime
    id: int


@dataclass(frozen=True)
class PageQuery:
    """A checked query: start <= created_at < end, a source or all, a model version or all."""

    start: datetime | None = None
    end: datetime | None = None
    source: str = "all"
    model_version: int | None = None
    limit: int = DEFAULT_LIMIT
    after: Position | None = None


def _shown(raw: str) -> str:
    return repr(raw[:40] + ("…" if len(raw) > 40 else ""))


def parse_time(name: str, raw: str) -> datetime:
    """An ISO 8601 date or date and time; without an offset it is UTC."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadParameter(
            name,
            f"parameter '{name}' must be an ISO 8601 date or time (2026-12-01 or "
            f"2026-12-01T09:30:00Z), got {_shown(raw)}",
        ) from None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+05:00 is before the first time there is
        return MIN_TIME if value.year == 1 else MAX_TIME


def _integer(name: str, raw: str, low: int, high: int) -> int:
    # "2.0" is 2: JSON Schema counts it an integer, and a number input may send it so.
    found = re.fullmatch(r"([0-9]{1,10})(?:\.0{1,10})?", raw)
    if found is None or not low <= int(found[1]) <= high:
        raise BadParameter(
            name, f"parameter '{name}' must be an integer from {low} to {high}, got {_shown(raw)}"
        )
    return int(found[1])


def encode_cursor(at: Position) -> str:
    """32 hex digits: the microseconds since the epoch (signed 64-bit) and the id."""
    micros = (at.created_at - EPOCH) // _MICRO
    return f"{micros & _MASK:016x}{min(at.id, MAX_ID):016x}"


def decode_cursor(raw: str) -> Position:
    """The position a cursor names. Anything but 32 hex digits is BadParameter('cursor'); any
    32 hex digits name a position (beyond the times and ids that can exist, the nearest one)."""
    if not re.fullmatch(CURSOR_PATTERN, raw):
        raise BadParameter(
            "cursor",
            f"parameter 'cursor' must be the next_cursor a page gave (32 hex digits), got "
            f"{_shown(raw)}",
        )
    micros = int(raw[:16], 16)
    micros -= (micros >> 63) << 64  # two's complement
    low, high = (MIN_TIME - EPOCH) // _MICRO, (MAX_TIME - EPOCH) // _MICRO
    return Position(EPOCH + min(max(micros, low), high) * _MICRO, min(int(raw[16:], 16), MAX_ID))


def page_query(
    *,
    start: str | None = None,
    end: str | None = None,
    source: str | None = None,
    model_version: str | None = None,
    limit: str | None = None,
    cursor: str | None = None,
    max_limit: int,
) -> PageQuery:
    """Check the text parameters of a page (None: not given; "" is refused like any bad value)."""
    source = "all" if source is None else source
    if source not in SOURCE_FILTERS:
        raise BadParameter(
            "source",
            f"parameter 'source' must be one of {', '.join(SOURCE_FILTERS)}, got {_shown(source)}",
        )
    return PageQuery(
        # An end at or before the start matches nothing: an empty page, not an error.
        start=None if start is None else parse_time("start", start),
        end=None if end is None else parse_time("end", end),
        source=source,
        model_version=None
        if model_version is None
        else _integer("model_version", model_version, 1, MAX_INT),
        limit=min(DEFAULT_LIMIT, max_limit)
        if limit is None
        else _integer("limit", limit, 1, max_limit),
        after=None if cursor is None else decode_cursor(cursor),
    )
