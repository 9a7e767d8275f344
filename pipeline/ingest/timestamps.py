"""Event times (data.timestamp_column) as the gate reads them: ISO 8601 text to UTC instants.

Pure computation, no I/O. The rules, stated once (README, "Event times"):

- ISO 8601 text (`2024-05-01`, `2024-05-01T12:00:00`, `2024-05-01 12:00:00+02:00`, `...Z`):
  a time with an offset is converted to UTC; a time without one is taken as UTC already (as the
  database stores times). Offsets may differ from row to row.
- A number (an int or float cell, or text that is only a number) is refused: an epoch number
  does not say whether it counts seconds, milliseconds or microseconds, and a wrong guess moves
  the row by decades without a sign. Write the time as ISO 8601.
- A native timestamp (Parquet): naive is UTC, aware is converted.
- A missing event time quarantines its row (`missing_value`): a row without one belongs to no
  period, and falling back to its ingestion time would mix two clocks in one chart.
- A time more than quality.timestamp_max_future_days after the file was checked is refused
  (`out_of_range`): an event cannot have happened after it was recorded, beyond clock skew.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.ingest.violations import row_violation

if TYPE_CHECKING:
    from pipeline.ingest.contract_rules import ColumnRule
    from pipeline.ingest.violations import Violation

_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
EXAMPLE = "2024-05-01T12:00:00+00:00"


@dataclass(frozen=True)
class EventTimes:
    values: pd.Series  # datetime64 UTC; NaT where missing or refused
    missing: np.ndarray  # no value at all
    number: np.ndarray  # a number: an ambiguous epoch
    unparseable: np.ndarray  # text that is not an ISO 8601 time
    future: np.ndarray  # parsed, but too far after `now`


def parse_event_times(
    series: pd.Series, now: datetime | None = None, max_future: timedelta | None = None
) -> EventTimes:
    """Parse one column of event times; every row lands in exactly one of: a value, missing,
    number, unparseable, future. `now` and `max_future` given: the future check."""
    n = len(series)
    missing = series.isna().to_numpy()
    number = np.zeros(n, dtype=bool)
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.dt.tz_localize("UTC") if series.dt.tz is None else series
        values = values.dt.tz_convert("UTC")
    elif pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        number = ~missing
        values = pd.Series(pd.NaT, index=series.index, dtype="datetime64[us, UTC]")
    else:
        text = series.astype("string")
        number = ~missing & text.str.match(_NUMBER).fillna(False).to_numpy(dtype=bool)
        if series.dtype == object:  # Python values (JSON lines): a number cell is a number
            number |= series.map(
                lambda v: isinstance(v, int | float | np.number) and not isinstance(v, bool)
            ).to_numpy(dtype=bool)
        candidates = text.where(~pd.Series(number | missing, index=series.index))
        values = pd.to_datetime(candidates, format="ISO8601", utc=True, errors="coerce")
        values = values.astype("datetime64[us, UTC]")
        # One time written to the nanosecond makes pandas parse the whole column in
        # nanoseconds, where a time before 1677 or after 2262 is NaT: those again, alone.
        again = candidates.notna() & values.isna()
        if again.any():
            more = pd.to_datetime(candidates[again], format="ISO8601", utc=True, errors="coerce")
            values[again] = more.astype("datetime64[us, UTC]")
    values = values.astype("datetime64[us, UTC]")
    unparseable = ~missing & ~number & values.isna().to_numpy()
    future = np.zeros(n, dtype=bool)
    if now is not None and max_future is not None:
        stamp = pd.Timestamp(now)
        stamp = stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")
        limit = stamp + max_future
        future = (values > limit).fillna(False).to_numpy(dtype=bool)
    bad = number | unparseable | future
    if bad.any():
        values = values.where(~pd.Series(bad, index=series.index))
    return EventTimes(values, missing, number, unparseable, future)


def event_times_typed(frame: pd.DataFrame, column: str | None) -> pd.DataFrame:
    """`frame` with its event-time `column` as UTC timestamps (NaT where refused: such a row is
    quarantined, not kept), as the ingested Parquet stores it."""
    if column is None or column not in frame.columns:
        return frame
    frame[column] = parse_event_times(frame[column]).values
    return frame


def check_times(
    series: pd.Series,
    rule: ColumnRule,
    overrides: Mapping[str, str] | None,
    future: tuple[datetime, timedelta] | None,
) -> list[Violation]:
    """The event-time column: every value an ISO 8601 time, present, not in the future
    (`timestamps` says why each rule is what it is)."""
    times = parse_event_times(series, *(future or (None, None)))
    name = rule.name
    found = [
        (
            "missing_value",
            times.missing,
            f"no event time in {name!r} (data.timestamp_column): the row belongs to no period",
        ),
        (
            "wrong_type",
            times.unparseable,
            f"{name!r} must hold ISO 8601 times such as {EXAMPLE!r}",
        ),
        (
            "wrong_type",
            times.number,
            f"{name!r} holds a number: an epoch number is ambiguous (seconds? milliseconds?), "
            "write the time as ISO 8601",
        ),
    ]
    if future is not None:
        days = future[1] / timedelta(days=1)
        message = (
            f"{name!r} is more than {days:g} day(s) after the file was checked "
            "(quality.timestamp_max_future_days)"
        )
        found.append(("out_of_range", times.future, message))
    out = [row_violation(t, name, mask, series, why, overrides) for t, mask, why in found]
    return [v for v in out if v is not None]
