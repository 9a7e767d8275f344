"""A period's stored predictions (`storage.estimates.period_rows`), on SQLite and PostgreSQL.

By event time a row counts at its own event time when it has one, else at its file's
ingestion (a request's: when it was made). The read finds the same rows as one `coalesce` of
those times over every stored prediction did (kept here as the reference), without that scan:
a file's rows through the segments whose cells lie in the period, the requests' through the
partial indexes (migration 0019's for the ones with an event time).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline import predictions
from pipeline.storage import db, estimates, tables
from tests.conftest import query_plans

RUN = "ab" * 16
DAY = datetime(2026, 11, 2, tzinfo=UTC)
INGESTED = DAY + timedelta(days=3, hours=6)  # both files, and the requests without a time


def _times() -> list[datetime | None]:
    """Event times over five days, each day cut at several hours, and some rows without."""
    out: list[datetime | None] = []
    for day in range(5):
        out += [DAY + timedelta(days=day, hours=h, minutes=7) for h in (0, 5, 11, 23)]
        out.append(None)
    return out


# (name, model version, labelled whole, ingested at, event times): a file each, one segment
# each, so that a period's days touch only some segments.
TIMES = _times()
FILES = [
    ("early", 1, False, INGESTED, TIMES[:12]),
    ("late", 1, False, INGESTED + timedelta(days=1), TIMES[12:]),
    ("whole", 1, True, INGESTED, TIMES),
    ("other", 2, False, INGESTED, TIMES),
]


def _seed(engine: sa.Engine) -> None:
    """Version 1: files waiting for labels (event times over five days, some rows without), a
    file that came labelled whole, requests with and without an event time (API, web page) made
    at three times, the test file's diagnostics; version 2: a file of its own. Every stored
    prediction has its own P(positive): a period's rows are known by them."""
    numbers = itertools.count(1)

    def _next() -> float:
        return next(numbers) / 1000

    with engine.begin() as conn:
        conn.execute(tables.runs.insert().values(id=RUN, kind="run", started_at=DAY, status="ok"))
        for version in (1, 2):
            conn.execute(
                tables.model_versions.insert().values(
                    version=version, created_at=DAY, artifact=f"{version}/model.joblib",
                    sha256="0" * 64, estimator="x", params={}, features={}, metric="f1",
                    train_rows=1, holdout_rows=1, training_files=[],
                )
            )  # fmt: skip
    for name, version, whole, ingested, times in FILES:
        with engine.begin() as conn:
            file_id = conn.execute(
                tables.ingested_files.insert().values(
                    run_id=RUN, sha256=name.ljust(64, "0"), name=name, size_bytes=1,
                    status="ingested", rows=len(times), labelled_rows=len(times) if whole else 0,
                    ingested_at=ingested,
                )
            ).inserted_primary_key[0]  # fmt: skip
        batch = predictions.Batch(
            row_numbers=list(range(len(times))),
            predictions=[1.0] * len(times),
            labels=["1"] * len(times),
            probability=[_next() for _ in times],
            event_times=times,
            classes=["0", "1"],
        )
        who = predictions.FileRun(file_id, version, RUN, ingested, stamp=ingested)
        predictions.record_file(engine, who, iter([batch]))
    rows = [
        {"source": source, "model_version": 1, "features": {"x": 1}, "event_time": when,
         "label": "1", "probability": _next()}
        for source in ("api", "webapp", "diagnostics")
        for when in TIMES
    ]  # fmt: skip
    p = tables.predictions
    for i, made in enumerate((INGESTED - timedelta(days=2), INGESTED, INGESTED + timedelta(1))):
        with engine.begin() as conn:  # write.record stamps its rows with the time of writing
            before = conn.execute(sa.select(sa.func.max(p.c.id))).scalar()
            predictions.record(conn, rows[i::3])
            conn.execute(p.update().where(p.c.id > before).values(created_at=made))


def _reference(
    conn: sa.Connection,
    version: int,
    start: datetime,
    end: datetime,
    by_event_time: bool,
    files_only: bool = False,
) -> list[float]:
    """The rows of the period as one `coalesce` over every prediction says (a scan); only the
    files' with `files_only`."""
    p, f = tables.predictions, tables.ingested_files
    at = (
        sa.func.coalesce(p.c.event_time, f.c.ingested_at, p.c.created_at)
        if by_event_time
        else sa.func.coalesce(f.c.ingested_at, p.c.created_at)
    )
    query = (
        sa.select(p.c.probability)
        .select_from(p.outerjoin(f, f.c.id == p.c.file_id))
        .where(p.c.model_version == version, p.c.source != "diagnostics")
        .where(p.c.probability.is_not(None), at >= start, at < end)
        .where(sa.or_(p.c.file_id.is_(None), f.c.labelled_rows < f.c.rows))
    )
    if files_only:
        query = query.where(p.c.file_id.is_not(None))
    return sorted(conn.execute(query).scalars())


@pytest.fixture
def seeded(database_url: str) -> Iterator[sa.Engine]:
    engine = db.make_engine(database_url)
    _seed(engine)
    yield engine
    engine.dispose()


PERIODS = [
    (DAY, DAY + timedelta(days=1)),  # a whole day
    (DAY + timedelta(hours=6), DAY + timedelta(days=1, hours=12)),  # cut days at both ends
    (DAY + timedelta(days=3), DAY + timedelta(days=4)),  # the day of ingestion: untimed rows too
    (DAY - timedelta(days=30), DAY + timedelta(days=30)),  # all of it
    (DAY + timedelta(days=40), DAY + timedelta(days=41)),  # nothing
    # Bounds in another zone: 09:00 in Tokyo is midnight UTC.
    (datetime(2026, 11, 3, 9, tzinfo=timezone(timedelta(hours=9))), DAY + timedelta(days=2)),
]


@pytest.mark.parametrize("by_event_time", [True, False])
@pytest.mark.parametrize("version", [1, 2])
def test_a_period_holds_the_rows_the_coalesce_of_their_times_puts_there(
    seeded: sa.Engine, version: int, by_event_time: bool
) -> None:
    with seeded.connect() as conn:
        seen_any = False
        for start, end in PERIODS:
            got = estimates.period_rows(conn, version, start, end, by_event_time=by_event_time)
            want = _reference(conn, version, start, end, by_event_time)
            assert sorted(got.probability) == want, (start, end)
            assert got.labels == ["1"] * len(want)
            count = estimates.period_count(conn, version, start, end, by_event_time=by_event_time)
            assert count == len(want), (start, end)  # what tells a period is estimated already
            seen_any = seen_any or bool(want)
    assert seen_any


def test_the_fixture_holds_every_kind_of_row(seeded: sa.Engine) -> None:
    """What the reference is compared on: timed and untimed rows of files and of requests,
    rows of a file labelled whole and diagnostics (left out), in more than one segment."""
    p, g = tables.predictions, tables.prediction_segments
    with seeded.connect() as conn:
        kinds = set(
            conn.execute(
                sa.select(p.c.source, p.c.file_id.is_(None), p.c.event_time.is_(None)).distinct()
            )
        )
        segments = conn.execute(sa.select(sa.func.count()).select_from(g)).scalar()
    assert len(kinds) == 8 and segments == len(FILES)


def _loss_rows(c: sa.Connection, start: datetime, end: datetime, by_event_time: bool) -> list:
    chunks = estimates.period_loss_rows(c, 1, start, end, by_event_time=by_event_time, chunk=3)
    return [row for chunk in chunks for row in chunk]


def test_a_regressors_period_has_the_same_rows_in_chunks(seeded: sa.Engine) -> None:
    """`period_loss_rows` reads the rows `period_rows` reads that have a numeric prediction
    (here the files'; the requests were stored without one), in chunks, each with where its
    features are."""
    p = tables.predictions
    with seeded.connect() as conn:
        where = sa.select(p.c.file_id, p.c.row_number, p.c.probability, p.c.model_version)
        known = {(r[0], r[1]): r[2] for r in conn.execute(where) if r[0] and r[3] == 1}
        for by_event_time in (True, False):
            for start, end in PERIODS:
                got = _loss_rows(conn, start, end, by_event_time)
                assert all(r.prediction == 1.0 and r.features is None for r in got)
                found = sorted(known[(r.file_id, r.row_number)] for r in got)
                want = _reference(conn, 1, start, end, by_event_time, files_only=True)
                assert found == want, (start, end)
        everything = _loss_rows(conn, *PERIODS[3], by_event_time=True)
    assert len(everything) == sum(len(t) for _, v, whole, _, t in FILES if v == 1 and not whole)


@pytest.mark.parametrize("reader", ["period_rows", "period_loss_rows", "period_count"])
@pytest.mark.parametrize("by_event_time", [True, False])
def test_a_period_reads_no_prediction_it_does_not_need(
    seeded: sa.Engine, by_event_time: bool, reader: str
) -> None:
    """Each read goes down an index: the segments' key, then each one's range of the rows';
    the requests' partial indexes. None scans the predictions (SQLite has no statistics here,
    as in a project that never ran ANALYZE: its planner must still take the segments first)."""
    end = DAY + timedelta(days=1)

    def read(c: sa.Connection) -> object:
        if reader == "period_rows":
            return estimates.period_rows(c, 1, DAY, end, by_event_time=by_event_time)
        if reader == "period_count":
            return estimates.period_count(c, 1, DAY, end, by_event_time=by_event_time)
        return _loss_rows(c, DAY, end, by_event_time)

    plans = query_plans(seeded, read)
    assert len(plans) == (4 if by_event_time else 2)
    for plan in plans:
        # SQLite names a scan of the table as "SCAN predictions"; PostgreSQL's plan with
        # sequential scans off still says "Seq Scan on predictions" when nothing else can do.
        assert "SCAN predictions" not in plan and "Seq Scan on predictions" not in plan, plan
    timed = any("ix_predictions_model_version_event_time" in plan for plan in plans)
    assert timed == by_event_time, plans


@pytest.mark.parametrize("by_event_time", [True, False])
def test_the_days_with_new_rows_are_the_days_of_the_periods_rows(
    seeded: sa.Engine, by_event_time: bool
) -> None:
    """`days_with_new_rows` names every UTC day that has a row `period_rows` reads (what an
    estimate of stored predictions starts from), and none other; read without a scan of the
    predictions. Rows stored after a time: none after the newest."""
    from datetime import date

    p = tables.predictions
    with seeded.connect() as conn:
        days = estimates.days_with_new_rows(conn, 1, None, by_event_time=by_event_time)
        want: set[date] = set()
        for d in {DAY.date() + timedelta(days=i) for i in range(-3, 8)}:
            start = datetime(d.year, d.month, d.day, tzinfo=UTC)
            if _reference(conn, 1, start, start + timedelta(days=1), by_event_time):
                want.add(d)
        assert want and days == want
        newest = conn.execute(sa.select(sa.func.max(p.c.created_at))).scalar()
        later = estimates.days_with_new_rows(conn, 1, newest, by_event_time=by_event_time)
    assert later == set()
    plans = query_plans(
        seeded, lambda c: estimates.days_with_new_rows(c, 1, DAY, by_event_time=by_event_time)
    )
    for plan in plans:
        assert "SCAN predictions" not in plan and "Seq Scan on predictions" not in plan, plan


def _estimate(engine: sa.Engine, run_id: str, started: datetime, counts: dict) -> None:
    """A run started at `started` that estimated each period start of `counts` over that
    many rows."""
    with engine.begin() as conn:
        conn.execute(
            tables.runs.insert().values(id=run_id, kind="labels", started_at=started, status="ok")
        )
    rows = [
        {"period": "day", "period_start": start, "model_version": 1, "metric": "accuracy",
         "value": 0.5, "ci_low": 0.4, "ci_high": 0.6, "n_rows": n, "reliable": True,
         "reason": None}
        for start, n in counts.items()
    ]  # fmt: skip
    estimates.record_estimates(engine, run_id, rows)


@pytest.mark.parametrize("by_event_time", [True, False])
def test_the_periods_to_estimate_are_those_with_rows_their_newest_estimate_lacks(
    seeded: sa.Engine, by_event_time: bool, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """Without an estimate, every period with a waiting row (the newest MAX_NEW_PERIODS, the
    rest logged); after one, the periods with rows stamped from COMMIT_GRACE before the
    estimating run started, less those holding as many rows as their newest estimate says."""
    from types import SimpleNamespace

    from pipeline.monitor import period_end
    from pipeline.run import estimate_period

    stamp = "event_time" if by_event_time else None
    run: Any = SimpleNamespace(
        settings={"monitoring.period": "day", "data.timestamp_column": stamp}
    )

    def count(c: sa.Connection, start: datetime) -> int:
        end = period_end(start, "day")
        return estimates.period_count(c, 1, start, end, by_event_time=by_event_time)

    with seeded.connect() as conn:
        days = estimates.days_with_new_rows(conn, 1, None, by_event_time=by_event_time)
        every = sorted(datetime(d.year, d.month, d.day, tzinfo=UTC) for d in days)
        assert estimate_period.new_period_starts(run, conn, 1, set()) == every
        assert estimate_period.new_period_starts(run, conn, 1, {every[0]}) == every[1:]
        monkeypatch.setattr(estimate_period, "MAX_NEW_PERIODS", 2)
        assert estimate_period.new_period_starts(run, conn, 1, set()) == every[-2:]
        assert f"the first left out starts {every[-3].isoformat()}" in caplog.text
        monkeypatch.undo()
        # The newest requests were stamped at INGESTED + 1 day: a run that started 5 minutes
        # later may have read the period before their writer committed them.
        started = INGESTED + timedelta(days=1, minutes=5)
        since = started - estimates.COMMIT_GRACE
        recent = estimates.days_with_new_rows(conn, 1, since, by_event_time=by_event_time)
        near = sorted(datetime(d.year, d.month, d.day, tzinfo=UTC) for d in recent)
        assert len(near) >= (2 if by_event_time else 1) and (by_event_time or near != every)
        exact = {start: count(conn, start) for start in every}
    older = {start: exact[start] - 1 for start in near}  # only the newest estimate counts
    _estimate(seeded, "cd" * 16, started - timedelta(hours=1), older)
    short = {**exact, near[0]: exact[near[0]] - 1}  # one row came after its estimate's read
    # A period with no row stamped since is not looked at again, whatever its count.
    short.update({start: 0 for start in every if start not in near})
    _estimate(seeded, "ef" * 16, started, short)
    with seeded.connect() as conn:
        assert estimates.covered_until(conn, 1, "day") == since
        assert estimate_period.new_period_starts(run, conn, 1, set()) == [near[0]]
