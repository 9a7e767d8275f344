"""Periods (`monitoring.period`) and the event-time column setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import ConfigError
from pipeline.monitor import period_end, period_start, period_starts
from pipeline.settings import from_document


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("day", datetime(2026, 12, 31, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("week", datetime(2026, 12, 28, tzinfo=UTC), datetime(2027, 1, 4, tzinfo=UTC)),
        ("month", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_time_falls_in_its_day_iso_week_and_month(
    period: str, start: datetime, end: datetime
) -> None:
    when = datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert period_start(when, period) == start
    assert period_end(start, period) == end
    assert period_start(end, period) == end  # the end belongs to the next period


def test_naive_times_are_utc_and_aware_ones_are_converted() -> None:
    assert period_start(datetime(2026, 3, 1, 0, 30), "day") == datetime(2026, 3, 1, tzinfo=UTC)
    tokyo = timezone(timedelta(hours=9))
    # 08:00 in Tokyo on 1 March is 23:00 UTC on 28 February.
    assert period_start(datetime(2026, 3, 1, 8, tzinfo=tokyo), "month") == datetime(
        2026, 2, 1, tzinfo=UTC
    )


def test_series_match_the_scalar_function_and_keep_missing_times() -> None:
    times = pd.Series(
        pd.to_datetime(["2024-02-29 13:00", "2025-01-05 00:00", "2025-01-06 00:00", None])
    )
    for period in ("day", "week", "month"):
        got = period_starts(times, period)
        for when, start in zip(times[:3], got[:3], strict=True):
            assert start.to_pydatetime() == period_start(when.to_pydatetime(), period)
        assert pd.isna(got.iloc[3])


def test_an_unknown_period_is_refused() -> None:
    with pytest.raises(ValueError, match="period must be one of"):
        period_start(datetime(2026, 1, 1), "fortnight")


def test_the_event_time_column_is_never_a_feature_the_target_or_an_id(tmp_path: Path) -> None:
    from pipeline.model.features import infer_features

    doc = {"data": {"target": "y", "id_columns": ["id"], "timestamp_column": "at"}}
    s = from_document(doc, tmp_path, "riskwatch.toml")
    frame = pd.DataFrame({"id": [1], "at": ["2026-01-01"], "x": [1.0], "y": [0]})
    assert infer_features(frame, s).columns == ["x"]
    for clash in ("y", "id"):
        doc = {"data": {"target": "y", "id_columns": ["id"], "timestamp_column": clash}}
        with pytest.raises(ConfigError, match=r"data\.timestamp_column"):
            from_document(doc, tmp_path, "riskwatch.toml")


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_the_last_period_there_is_ends_at_the_last_time_there_is(period: str) -> None:
    """A request may say its event time is 9999-12-31: its period's end is no OverflowError
    (the estimate of the periods the API's predictions fell in reads it)."""
    last = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    start = period_start(last, period)
    assert period_end(start, period) == datetime.max.replace(tzinfo=UTC)
    assert period_end(datetime(9999, 11, 3, tzinfo=UTC), "month") == datetime(
        9999, 12, 1, tzinfo=UTC
    )
