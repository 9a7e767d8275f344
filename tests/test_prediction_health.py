"""Prediction health (issue 12, point 6): the pure computation per period and its alerts, on
small literal data."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from pipeline.monitor import (
    Baseline,
    bin_edges,
    find_alerts,
    health_by_period,
    histogram,
    message,
    positive_class,
    wilson,
)

DAY1 = datetime(2026, 5, 4, tzinfo=UTC)  # a Monday
DAY2 = datetime(2026, 5, 5, tzinfo=UTC)


def _frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["at", "model_version", "prediction", "label", "probability"])


def _at(day: datetime, hour: int) -> datetime:
    return day.replace(hour=hour)


def test_counts_shares_and_histogram_per_period_and_version():
    frame = _frame(
        [
            (_at(DAY1, 1), 1, 1.0, "1", 0.95),
            (_at(DAY1, 2), 1, 0.0, "0", 0.05),
            (_at(DAY1, 23), 1, 0.0, "0", 0.10),  # exactly on an edge: the bin it starts
            (_at(DAY2, 0), 1, 1.0, "1", 1.0),  # 1 falls in the last bin
            (_at(DAY2, 5), 2, 0.0, "0", 0.3),
        ]
    )
    got = health_by_period(frame, "day", "classification", positive="1")
    assert [(h.period_start, h.model_version, h.count) for h in got] == [
        (DAY1, 1, 3),
        (DAY2, 1, 1),
        (DAY2, 2, 1),
    ]
    first = got[0]
    assert first.class_counts == {"0": 2, "1": 1}
    assert first.positive_share == pytest.approx(1 / 3)
    assert first.histogram == [1, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert got[1].histogram == [0] * 9 + [1]
    assert got[2].class_counts == {"0": 1, "1": 0} and got[2].single_class == "0"
    doc = first.as_dict()
    assert doc["class_shares"] == {"0": pytest.approx(2 / 3), "1": pytest.approx(1 / 3)}
    assert doc["histogram"]["edges"] == bin_edges() and len(bin_edges()) == 11


def test_week_and_month_periods():
    frame = _frame(
        [(DAY1, 1, 1.0, "1", 0.9), (datetime(2026, 5, 10, 23, tzinfo=UTC), 1, 0.0, "0", 0.1)]
    )
    [week] = health_by_period(frame, "week", "classification", "1")
    assert (week.period_start, week.count) == (DAY1, 2)
    [month] = health_by_period(frame, "month", "classification", "1")
    assert month.period_start == datetime(2026, 5, 1, tzinfo=UTC)


def test_regression_mean_and_spread():
    frame = _frame([(DAY1, 1, x, None, None) for x in (1.0, 2.0, 3.0, 6.0)])
    [h] = health_by_period(frame, "day", "regression")
    assert (h.count, h.mean, h.std) == (4, 3.0, pytest.approx(2.1602468994))
    assert h.class_counts is None and h.histogram is None and h.positive_share is None


def test_histogram_ignores_missing_and_clips():
    assert histogram([0.0, 0.099, 0.1, 0.5, 1.0, float("nan")]) == [2, 1, 0, 0, 0, 1, 0, 0, 0, 1]


@pytest.mark.parametrize(
    ("labels", "positive"),
    [(["0", "1"], "1"), (["2", "10"], "10"), (["no", "yes"], "yes"), (["a"], None), ([], None)],
)
def test_positive_class_is_the_larger_label(labels, positive):
    assert positive_class(labels) == positive


def test_wilson_interval_matches_a_direct_computation():
    low, high = wilson(30, 100, 0.95)
    assert (round(low, 4), round(high, 4)) == (0.2189, 0.3958)


def _periods(positives: int, n: int, single: bool = False):
    rows = [(DAY1, 1, 1.0, "1", 0.9)] * positives + [(DAY1, 1, 0.0, "0", 0.1)] * (n - positives)
    return health_by_period(_frame(rows), "day", "classification", "1")


def test_a_single_class_period_alerts_only_with_enough_rows():
    assert find_alerts(_periods(0, 99), {}, min_rows=100, tolerance=0.1, confidence=0.95) == []
    [alert] = find_alerts(_periods(0, 100), {}, min_rows=100, tolerance=0.1, confidence=0.95)
    assert alert.kind == "single_class"
    assert "predicted only class '0' for all 100 predictions" in alert.message


@pytest.mark.parametrize(
    ("positives", "n", "alerts"),
    [
        (25, 100, []),  # 25% vs 10% +- 10%: the interval (18%-34%) reaches below 20%: noise
        (3, 10, []),  # fewer rows than the minimum
        (30_000, 100_000, ["positive_share"]),  # clearly beyond
        (12_000, 100_000, []),  # beyond nothing: within the tolerance
    ],
)
def test_positive_share_alerts_only_when_clearly_beyond_the_tolerance(positives, n, alerts):
    periods = _periods(positives, n)
    base = {(1, DAY1): Baseline(0.1, "holdout", 500)}
    got = find_alerts(periods, base, min_rows=50, tolerance=0.1, confidence=0.95)
    assert [a.kind for a in got] == alerts
    if alerts:
        assert "30.0% of 100,000 predictions" in got[0].message
        assert "against 10.0% (holdout)" in got[0].message
        assert got[0].evidence["baseline_source"] == "holdout"


def test_no_baseline_no_share_alert():
    got = find_alerts(_periods(90, 100), {(1, DAY1): Baseline(None, "earlier predictions")},
                      min_rows=10, tolerance=0.1, confidence=0.95)  # fmt: skip
    assert got == []


def test_the_webhook_message_has_the_shape_of_the_quality_alerts():
    [alert] = find_alerts(_periods(0, 100), {}, min_rows=10, tolerance=0.1, confidence=0.95)
    body = message(alert, "r" * 32, "https://rw.example/predictions/summary")
    assert body["type"] == "message" and "prediction-health alert" in body["text"]
    card = body["attachments"][0]["content"]
    assert card["actions"][0]["url"] == "https://rw.example/predictions/summary"
    assert body["riskwatch"]["kind"] == "single_class"
    assert body["riskwatch"]["period_start"] == DAY1.isoformat()


EDGE_CASES = [0.0, 0.1, 0.2, 0.3, 0.30000000000000004, 0.7, 0.9, 0.95, 1.0, None]


def test_the_database_counts_as_the_pure_computation_does(engine):
    """storage.health.health_cells (a GROUP BY, SQLite and PostgreSQL) and cells_of agree,
    bins on their exact edges included, and so does the health made from them."""
    import sqlalchemy as sa

    from pipeline.monitor import bin_edges, cells_of, health_from_cells
    from pipeline.storage import health, tables

    rows = []
    for i, p in enumerate(EDGE_CASES * 3):
        at = datetime(2026, 5, 4 + i % 3, 23, 59, 59, tzinfo=UTC)  # the last second of a day
        label = "1" if p is not None and p >= 0.5 else "0"
        rows.append(
            {"created_at": at, "source": "api", "model_version": 1 + i % 2,
             "prediction": float(label), "label": label, "probability": p}
        )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(sa.insert(tables.predictions), rows)
        got = health.health_cells(
            conn, start=None, end=None, by_event_time=False, inner_edges=bin_edges()[1:-1]
        )
    frame = pd.DataFrame(
        [(r["created_at"], r["model_version"], r["prediction"], r["label"], r["probability"])
         for r in rows],
        columns=["at", "model_version", "prediction", "label", "probability"],
    )  # fmt: skip
    key = lambda c: (c.day, c.model_version, c.label or "", -1 if c.bin is None else c.bin)  # noqa: E731
    from pipeline.monitor import Cell

    assert sorted((Cell(**c) for c in got), key=key) == sorted(cells_of(frame), key=key)
    by_db = health_from_cells([Cell(**c) for c in got], "week", "classification", "1")
    assert by_db == health_by_period(frame, "week", "classification", "1")
    assert sum(sum(h.histogram or []) for h in by_db) == 27  # the 3 rows without one left out


def test_scheduled_rows_are_counted_as_written_as_the_pure_computation_does(engine):
    """The cells `riskwatch predict` counts while it writes a file (prediction_cells) give what
    cells_of gives on the same rows, by event time: with no bound, with bounds on midnights
    (the cells alone) and with bounds inside a day (that day's rows counted from the rows)."""
    import sqlalchemy as sa

    from pipeline import predictions
    from pipeline.monitor import Cell, bin_edges, cells_of
    from pipeline.storage import health, tables
    from tests.test_predictions_store import RUN, WHEN, _seed

    with engine.begin() as conn:
        file_id = _seed(conn)
    frames = []
    for version in (1, 2):
        if version == 2:
            with engine.begin() as conn:
                old = conn.execute(sa.select(tables.model_versions)).one()._mapping
                conn.execute(tables.model_versions.insert().values({**old, "version": 2}))
        ps = [p for i, p in enumerate(EDGE_CASES * 3) if 1 + i % 2 == version]
        ats = [
            datetime(2026, 5, 4 + i % 3, 10 + i % 14, 0, 0, tzinfo=UTC)
            for i in range(len(EDGE_CASES * 3))
            if 1 + i % 2 == version
        ]
        labels = ["1" if p is not None and p >= 0.5 else "0" for p in ps]
        batch = predictions.Batch(
            row_numbers=list(range(len(ps))),
            predictions=[float(x) for x in labels],
            labels=labels,
            probability=ps,
            event_times=ats,
            classes=["0", "1"],
        )
        who = predictions.FileRun(file_id, version, RUN, WHEN)
        predictions.record_file(engine, who, iter([batch]))
        frames.append(
            pd.DataFrame(
                {
                    "at": ats,
                    "model_version": version,
                    "prediction": batch.predictions,
                    "label": labels,
                    "probability": ps,
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    key = lambda c: (c.day, c.model_version, c.label or "", -1 if c.bin is None else c.bin)  # noqa: E731
    bounds = [
        (None, None),
        (datetime(2026, 5, 5, tzinfo=UTC), datetime(2026, 5, 6, tzinfo=UTC)),
        (datetime(2026, 5, 4, 15, tzinfo=UTC), datetime(2026, 5, 6, 12, 30, tzinfo=UTC)),
    ]
    for start, end in bounds:
        with engine.connect() as conn:
            got = health.health_cells(
                conn,
                start=start,
                end=end,
                by_event_time=True,
                inner_edges=bin_edges()[1:-1],
                source="scheduled",
            )
        wanted = frame
        if start is not None:
            wanted = frame[(frame["at"] >= start) & (frame["at"] < end)]
        assert len(wanted) and sum(c["n"] for c in got) == len(wanted)
        assert sorted((Cell(**c) for c in got), key=key) == sorted(cells_of(wanted), key=key)
    # Bounds at the first and last times there are: counted, never an OverflowError.
    first, last = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
    edges = [
        (first, last, len(frame)),
        (first, first, 0),
        (last, last, 0),
        (first, first.replace(second=1), 0),
    ]
    for start, end, n in edges:
        with engine.connect() as conn:
            got = health.health_cells(
                conn, start=start, end=end, by_event_time=True,
                inner_edges=bin_edges()[1:-1], source="scheduled",
            )  # fmt: skip
        assert sum(c["n"] for c in got) == n, (start, end)
