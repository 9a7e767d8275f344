"""Performance estimated without labels: the tables `calibrations` and `performance_estimates`
(part of `tables.metadata`; migration 0014 builds them), their writes and reads.

`calibrations` holds, per model version, the calibration chosen on its holdout at training time
(method, JSON parameters, ECE) or why there is none; the registry writes it in the transaction
that records the version. `performance_estimates` holds a run's estimates per metric, over the
run's new rows (period "run") and per period of `monitoring.period`; `fill_realised` puts the
realised value beside each estimate when the labels of its period arrive.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipeline.storage.prediction_tables import NOT_SCHEDULED, TIMED_REQUESTS
from pipeline.storage.tables import UTCDateTime, metadata, utcnow

RUN_PERIOD = "run"  # the period of an estimate over all of a run's new rows

calibrations = sa.Table(
    "calibrations",
    metadata,
    sa.Column("model_version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), index=True),  # the training run
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("method", sa.String(20)),  # none, sigmoid, isotonic; NULL: not calibrated (reason)
    sa.Column("params", sa.JSON, nullable=False),  # the map's numbers ({} for none)
    sa.Column("criterion", sa.Text),  # what chose the method
    sa.Column("candidates", sa.JSON, nullable=False),  # {method: cross-validated log loss}
    sa.Column("ece", sa.Float),  # expected calibration error on the holdout, out of fold
    sa.Column("ece_uncalibrated", sa.Float),  # the same of the model's own probabilities
    sa.Column("holdout_rows", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text),  # why the version has no calibration
)

performance_estimates = sa.Table(
    "performance_estimates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("period", sa.String(10), nullable=False),  # run, day, week, month
    sa.Column("period_start", UTCDateTime, index=True),  # NULL for period "run"
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("metric", sa.String(20), nullable=False),
    sa.Column("value", sa.Float),  # NULL: not estimated (reason) or undefined
    sa.Column("ci_low", sa.Float),
    sa.Column("ci_high", sa.Float),
    sa.Column("n_rows", sa.Integer, nullable=False),
    sa.Column("reliable", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text),  # why it is unreliable, or not estimated
    sa.Column("realised_value", sa.Float),  # once the period's labels arrived
    sa.Column("estimation_error", sa.Float),  # value - realised_value
    sa.Column("realised_at", UTCDateTime),
)


def record_calibration(conn: sa.Connection, row: Mapping[str, Any]) -> None:
    """A version's calibration row, in the caller's transaction (the version's own)."""
    conn.execute(calibrations.insert().values(**row))


def calibration_of(conn: sa.Connection, version: int) -> dict[str, Any] | None:
    """The calibration row of a version, or None for a version trained before they existed."""
    row = conn.execute(
        sa.select(calibrations).where(calibrations.c.model_version == version)
    ).first()
    return None if row is None else dict(row._mapping)


def record_estimates(engine: sa.Engine, run_id: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """A run's estimates, in one transaction (a row without a realised value has none)."""
    if not rows:
        return
    now = utcnow()
    # One insert of many rows takes its columns from the first: every row names them all.
    unset = {"realised_value": None, "estimation_error": None, "realised_at": None}
    with engine.begin() as conn:
        conn.execute(
            performance_estimates.insert(),
            [{"run_id": run_id, "created_at": now, **unset, **r} for r in rows],
        )


def recent_checks(
    conn: sa.Connection, model_version: int, period: str, limit: int, before: datetime | None
) -> dict[str, list[tuple[float | None, float | None, float | None]]]:
    """Per metric, (ci_low, ci_high, realised_value) of the newest `limit` periods of
    `model_version` whose realised value arrived, newest period first (periods starting before
    `before`, when given): the evidence `pipeline.estimate.reliability` reads for concept drift.
    A period estimated by several runs counts once, by its newest estimate."""
    t = performance_estimates
    query = (
        sa.select(t.c.metric, t.c.period_start, t.c.ci_low, t.c.ci_high, t.c.realised_value)
        .where(t.c.model_version == model_version, t.c.period == period)
        .where(t.c.realised_value.is_not(None), t.c.period_start.is_not(None))
        .order_by(t.c.period_start.desc(), t.c.id.desc())
    )
    if before is not None:
        query = query.where(t.c.period_start < before)
    out: dict[str, list[tuple[float | None, float | None, float | None]]] = {}
    seen: set[tuple[str, datetime]] = set()
    for r in conn.execute(query.limit(limit * 50)):
        key = (r.metric, r.period_start)
        if key in seen or len(out.setdefault(r.metric, [])) >= limit:
            continue
        seen.add(key)
        out[r.metric].append((r.ci_low, r.ci_high, r.realised_value))
    return out


def recent_run_checks(
    conn: sa.Connection, model_version: int, metric: str, limit: int
) -> list[tuple[float | None, float | None, float | None]]:
    """(ci_low, ci_high, realised_value) of the newest `limit` run-level estimates of
    `model_version` and `metric` whose realised value is known (the run scored the same rows),
    newest first."""
    t = performance_estimates
    query = (
        sa.select(t.c.ci_low, t.c.ci_high, t.c.realised_value)
        .where(t.c.model_version == model_version, t.c.period == RUN_PERIOD)
        .where(t.c.metric == metric, t.c.realised_value.is_not(None))
        .order_by(t.c.created_at.desc(), t.c.id.desc())
        .limit(limit)
    )
    return [(r.ci_low, r.ci_high, r.realised_value) for r in conn.execute(query)]


def fill_realised(where: sa.Engine | sa.Connection, realised: Iterable[Mapping[str, Any]]) -> int:
    """Put each realised value (a `realised_performance` row: period, period_start,
    model_version, metric, value) beside the estimates of the same period, model version and
    metric, with the estimation error (estimate - realised); return the estimates filled. A
    realised value arriving again (more labels came) replaces the one before. A period whose
    rows came in several runs has an estimate from each run, each over the period's rows
    stored by then: each is set beside the
    period's realised value as it is (their n_rows say how much each covers)."""
    if isinstance(where, sa.Engine):
        with where.begin() as conn:
            return fill_realised(conn, realised)
    conn = where  # the caller's transaction: the labels join's, which computed them
    t = performance_estimates
    filled = 0
    now = utcnow()
    for r in realised:
        if r.get("period_start") is None:
            continue
        match = sa.and_(
            t.c.period == r["period"],
            t.c.period_start == r["period_start"],
            t.c.model_version == r["model_version"],
            t.c.metric == r["metric"],
        )
        value = r.get("value")
        error = None if value is None else t.c.value - value
        result = conn.execute(
            t.update()
            .where(match)
            .values(realised_value=value, estimation_error=error, realised_at=now)
        )
        filled += result.rowcount or 0
    return filled


def estimates_of(conn: sa.Connection, model_version: int, period: str) -> list[dict[str, Any]]:
    """Every estimate of `model_version` per `period` (not the run-level ones), oldest period
    first, the newest run's estimate of each (period, metric): what the report charts."""
    t = performance_estimates
    rows = conn.execute(
        sa.select(t)
        .where(t.c.model_version == model_version, t.c.period == period)
        .where(t.c.period_start.is_not(None))
        .order_by(t.c.period_start, t.c.metric, t.c.id.desc())
    )
    newest: dict[tuple[datetime, str], dict[str, Any]] = {}
    for r in rows:
        newest.setdefault((r.period_start, r.metric), dict(r._mapping))
    return list(newest.values())


@dataclass(frozen=True)
class PeriodRows:
    """The stored predictions of one period and version: P(positive) (binary), the predicted
    class as text, and {class: p} (with `classes`)."""

    probability: list[float | None]
    labels: list[str | None]
    probabilities: list[Any]


def period_rows(
    conn: sa.Connection,
    model_version: int,
    start: datetime,
    end: datetime,
    *,
    by_event_time: bool,
    classes: bool = False,
) -> PeriodRows:
    """The production predictions of `model_version` in the period [start, end) that wait for
    labels: what the period's estimate covers, whichever run or request made them. A row's
    period is the one its realised value takes: its event time when `by_event_time`, else when
    its file was ingested (a request's prediction: when it was made). Left out: the test file's
    predictions (source `diagnostics`), the rows of files that came labelled whole (the
    training data among them: their labels are scored by their run, never joined later) and
    the labelled rows of a partly labelled file (marked `labelled` when predicted), and
    rows without P(positive) (binary) or without their {class: p} (`classes`: a multiclass
    classifier's; rows stored before the API kept it have none)."""
    from pipeline.storage.tables import predictions as p

    columns = (p.c.probability, p.c.label, p.c.probabilities if classes else sa.null())
    if classes:  # None as sa.JSON stores it is the JSON text 'null', not SQL's NULL
        kept = [p.c.probabilities.is_not(None), sa.cast(p.c.probabilities, sa.Text) != "null"]
    else:
        kept = [p.c.probability.is_not(None)]
    queries = _period_queries(columns, kept, model_version, start, end, by_event_time)
    rows = [row for query in queries for row in conn.execute(query)]
    return PeriodRows([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


def period_loss_rows(
    conn: sa.Connection,
    model_version: int,
    start: datetime,
    end: datetime,
    *,
    by_event_time: bool,
    chunk: int = 100_000,
) -> Iterator[list[sa.Row]]:
    """The same rows as `period_rows`, of a regressor: (prediction, file_id, row_number,
    features) of each, in lists of at most `chunk` rows, read as they are consumed (a long
    period is never held whole). A request's row carries its features; a file's are in its
    ingested Parquet file, at its row number."""
    from pipeline.storage.tables import predictions as p

    columns = (p.c.prediction, p.c.file_id, p.c.row_number, p.c.features)
    kept = [p.c.prediction.is_not(None)]
    for query in _period_queries(columns, kept, model_version, start, end, by_event_time):
        result = conn.execute(query.execution_options(yield_per=chunk))
        for part in result.partitions():
            yield list(part)


def _period_queries(
    columns: Sequence[Any],
    kept: Sequence[Any],
    model_version: int,
    start: datetime,
    end: datetime,
    by_event_time: bool,
) -> list[sa.Select[Any]]:
    """The reads of `period_rows` (its docstring): `columns` of the period's rows that meet
    `kept` too, one query for each way a row reaches the period."""
    from pipeline.storage.tables import ingested_files as f
    from pipeline.storage.tables import prediction_cells as c
    from pipeline.storage.tables import prediction_segments as g
    from pipeline.storage.tables import predictions as p

    common = [
        p.c.model_version == model_version,
        p.c.source != "diagnostics",
        p.c.labelled.is_(None),  # a row its own file labelled waits for nothing
        *kept,
    ]
    waiting = f.c.labelled_rows < f.c.rows  # a file that came labelled whole is not waiting
    # A file's rows through their segments, each a range of the key, the segments given by their
    # ids (so a planner without statistics, SQLite's, starts from them); the requests' rows
    # through the partial indexes of the sources other than the schedule (by time made, by event
    # time). By event time a row counts at its own when it has one, else at its file's ingestion
    # (a request's: when it was made). Each read is bounded by an index; none scans.
    files = sa.select(f.c.id).where(waiting)
    segment_rows = (
        sa.select(*columns)
        .select_from(
            g.join(p, sa.and_(p.c.id.between(g.c.first_id, g.c.last_id), p.c.segment_id == g.c.id))
        )
        .where(g.c.model_version == model_version, *common)
    )
    of_files = g.alias("of_files")
    ingested = g.c.id.in_(
        sa.select(of_files.c.id).where(
            of_files.c.file_id.in_(files.where(f.c.ingested_at >= start, f.c.ingested_at < end))
        )
    )
    requests = sa.select(*columns).where(*common, p.c.file_id.is_(None))
    made: list[Any] = [sa.text(NOT_SCHEDULED), p.c.created_at >= start, p.c.created_at < end]
    if not by_event_time:
        return [segment_rows.where(ingested), requests.where(*made)]
    # The segments with rows whose UTC day lies in the period (a cell per day of them).
    days = sa.select(c.c.segment_id).where(c.c.day >= _day_of(start), c.c.day < end)
    timed = [p.c.event_time >= start, p.c.event_time < end]
    return [
        segment_rows.where(g.c.id.in_(days), g.c.file_id.in_(files), *timed),
        segment_rows.where(ingested, p.c.event_time.is_(None)),
        requests.where(*made, p.c.event_time.is_(None)),
        requests.where(sa.text(TIMED_REQUESTS), *timed),
    ]


def _day_of(when: datetime) -> datetime:
    """The start of the UTC day of `when` (a naive time is UTC), as a cell's `day` is stored."""
    aware = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return aware.replace(hour=0, minute=0, second=0, microsecond=0)


# How long after its request stamps a prediction (`created_at`) its writer may still commit it:
# the committer's turn and the gunicorn worker's timeout (30 s) bound it, with room to spare.
# An estimate sees what was committed when its run read the period, so the predictions stamped
# up to this long before that run started are looked at again by the next one.
COMMIT_GRACE = timedelta(minutes=10)


def covered_until(conn: sa.Connection, model_version: int, period: str) -> datetime | None:
    """Up to when the estimates of `model_version`'s periods have seen every stored prediction:
    the start of the newest run that recorded one, less COMMIT_GRACE (a prediction stamped
    earlier was committed before that run read it); None when no period was estimated."""
    from pipeline.storage.tables import runs

    t = performance_estimates
    query = (
        sa.select(sa.func.max(runs.c.started_at))
        .select_from(t.join(runs, runs.c.id == t.c.run_id))
        .where(t.c.model_version == model_version, t.c.period == period)
    )
    started = conn.execute(query).scalar()
    return None if started is None else started - COMMIT_GRACE


def newest_period_rows(
    conn: sa.Connection, model_version: int, period: str, start: datetime
) -> int | None:
    """The rows the newest estimate of one period covered, None when it has none."""
    t = performance_estimates
    query = (
        sa.select(t.c.n_rows)
        .where(t.c.model_version == model_version, t.c.period == period)
        .where(t.c.period_start == start)
        .order_by(t.c.id.desc())
        .limit(1)
    )
    return conn.execute(query).scalar()


def period_count(
    conn: sa.Connection, model_version: int, start: datetime, end: datetime, *, by_event_time: bool
) -> int:
    """How many predictions `period_rows` would read of the period (with or without their
    probabilities): as many as its newest estimate covered means none came since (the rows
    waiting in a period are never taken away), down the same indexes as the reads."""
    queries = _period_queries((sa.literal(1),), (), model_version, start, end, by_event_time)
    counts = (sa.select(sa.func.count()).select_from(q.subquery()) for q in queries)
    return sum(conn.execute(count).scalar_one() for count in counts)


def days_with_new_rows(
    conn: sa.Connection, model_version: int, since: datetime | None, *, by_event_time: bool
) -> set[date]:
    """The UTC days of the production predictions of `model_version` stamped after `since`
    (`covered_until`; all without it) that wait for labels, by the time `period_rows` puts
    them in a period. Each read goes down an index: the requests' by the time they were made;
    a file's through its segments (made after `since`), their cells and their file."""
    from pipeline.storage.tables import ingested_files as f
    from pipeline.storage.tables import prediction_cells as c
    from pipeline.storage.tables import prediction_segments as g
    from pipeline.storage.tables import predictions as p

    made: list[Any] = [sa.text(NOT_SCHEDULED), p.c.model_version == model_version]
    made += [p.c.source != "diagnostics", p.c.file_id.is_(None)]
    if since is not None:
        made.append(p.c.created_at > since)
    at = sa.func.coalesce(p.c.event_time, p.c.created_at) if by_event_time else p.c.created_at
    queries = [sa.select(_utc_day(conn, at)).where(*made)]
    new = [g.c.model_version == model_version, f.c.labelled_rows < f.c.rows]
    if since is not None:
        new.append(g.c.created_at > since)
    segments = g.join(f, f.c.id == g.c.file_id)
    ingested = _utc_day(conn, f.c.ingested_at)
    if by_event_time:  # a cell without a day holds rows without an event time: the file's day
        day = sa.case((c.c.day.is_(None), ingested), else_=_utc_day(conn, c.c.day))
        queries.append(
            sa.select(day).select_from(segments.join(c, c.c.segment_id == g.c.id)).where(*new)
        )
    else:
        queries.append(sa.select(ingested).select_from(segments).where(*new))
    days: set[date] = set()
    for query in queries:
        days.update(date.fromisoformat(str(d)[:10]) for (d,) in conn.execute(query.distinct()))
    return days


def _utc_day(conn: sa.Connection, when: Any) -> Any:
    """The UTC day of a stored time as text, YYYY-MM-DD: SQLite's times are that text already
    (naive UTC), PostgreSQL's are formatted in UTC."""
    if conn.dialect.name == "sqlite":
        return sa.func.substr(when, 1, 10)
    return sa.func.to_char(sa.func.timezone("UTC", when), "YYYY-MM-DD")
