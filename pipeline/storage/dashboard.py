"""What the web app's overview, data-quality and drift pages read (issue 13): each a bounded
query over a time range, through an index where the table grows with traffic (quality files by
`checked_at`, drift results by run). No read here touches `predictions`: the pages take
prediction health from its stored counts (`health`) and performance from its per-period rows
(`performance`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline.storage import tables
from pipeline.storage.reads import drift_of, row_dict

# The most runs, files and alerts one page shows; a longer range shows its newest ones.
MAX_RUNS = 200
MAX_FILES = 200
MAX_ALERTS = 20


def production(conn: sa.Connection, version: int | None) -> dict[str, Any] | None:
    """The production version with its metric and holdout score, and the deployment that put
    it there (since when, why, by which run); None before any model."""
    if version is None:
        return None
    mv, d = tables.model_versions, tables.deployments
    model = conn.execute(
        sa.select(mv.c.version, mv.c.metric, mv.c.holdout_score, mv.c.score_source).where(
            mv.c.version == version
        )
    ).first()
    deployed = conn.execute(
        sa.select(d.c.deployed_at, d.c.kind, d.c.reason, d.c.run_id, d.c.from_version)
        .where(d.c.to_version == version)
        .order_by(d.c.deployed_at.desc(), d.c.id.desc())
        .limit(1)
    ).first()
    doc: dict[str, Any] = {"version": version, "metric": None, "holdout_score": None}
    if model is not None:
        doc.update(row_dict(model))
    doc["deployment"] = None if deployed is None else row_dict(deployed)
    return doc


def holdout_scores(conn: sa.Connection, versions: Sequence[int]) -> dict[int, float | None]:
    """{version: its holdout score} for these versions (one query; a version not registered is
    left out)."""
    if not versions:
        return {}
    mv = tables.model_versions
    query = sa.select(mv.c.version, mv.c.holdout_score).where(mv.c.version.in_(list(versions)))
    return {int(v): score for v, score in conn.execute(query)}


def last_run(conn: sa.Connection) -> dict[str, Any] | None:
    """The newest run that did something (a no-op tick is not a verdict), with its summary
    (what its verdict is said from), decisions and drift summary."""
    r = tables.runs
    cols = [c for c in r.c if c.name != "log"]
    row = conn.execute(
        sa.select(*cols).where(r.c.status != "noop").order_by(r.c.started_at.desc()).limit(1)
    ).first()
    if row is None:
        return None
    doc = row_dict(row)
    dec = tables.decisions
    doc["decisions"] = [
        {"kind": x.kind, "outcome": bool(x.outcome), "reason": x.reason}
        for x in conn.execute(
            sa.select(dec.c.kind, dec.c.outcome, dec.c.reason)
            .where(dec.c.run_id == row.id)
            .order_by(dec.c.id)
        )
    ]
    s = tables.drift_summaries
    drift = conn.execute(sa.select(s).where(s.c.run_id == row.id).limit(1)).first()
    doc["drift"] = None if drift is None else drift_of(drift._mapping)
    return doc


def _window(column: sa.ColumnElement[Any], start: datetime, end: datetime) -> list[Any]:
    return [column >= start, column < end]


def deployments(conn: sa.Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Deployments in [start, end), oldest first."""
    d = tables.deployments
    query = (
        sa.select(d.c.id, d.c.run_id, d.c.from_version, d.c.to_version, d.c.deployed_at)
        .add_columns(d.c.kind, d.c.reason)
        .where(*_window(d.c.deployed_at, start, end))
        .order_by(d.c.deployed_at, d.c.id)
        .limit(MAX_RUNS)
    )
    return [row_dict(x) for x in conn.execute(query)]


def drift_runs(
    conn: sa.Connection, start: datetime, end: datetime, limit: int = MAX_RUNS
) -> list[dict[str, Any]]:
    """The drift summaries of the newest `limit` runs in [start, end) (at most MAX_RUNS), oldest
    first, each with its run id and time."""
    s = tables.drift_summaries
    query = (
        sa.select(s)
        .where(*_window(s.c.created_at, start, end))
        .order_by(s.c.created_at.desc(), s.c.id.desc())
        .limit(min(limit, MAX_RUNS))
    )
    out = [
        {"run_id": x.run_id, "created_at": x.created_at, **drift_of(x._mapping)}
        for x in conn.execute(query)
    ]
    return out[::-1]


def drift_results(conn: sa.Connection, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The per-column drift results of these runs (through the index by run), without their
    details."""
    if not run_ids:
        return []
    t = tables.drift_results
    query = sa.select(
        t.c.run_id, t.c.column_name, t.c.kind, t.c.test, t.c.p_adjusted, t.c.effect_size
    ).add_columns(t.c.psi, t.c.status, t.c.drifted)
    query = query.where(t.c.run_id.in_(list(run_ids))).order_by(t.c.id)
    return [dict(x._mapping) for x in conn.execute(query)]  # no times: nothing to convert


def feature_history(
    conn: sa.Connection, column: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """One column's drift results with their details over the newest MAX_RUNS runs in
    [start, end), oldest first, each with its run's time."""
    t, s = tables.drift_results, tables.drift_summaries
    query = (
        sa.select(t, s.c.created_at, s.c.model_version)
        .join(s, s.c.run_id == t.c.run_id)
        .where(t.c.column_name == column, *_window(s.c.created_at, start, end))
        .order_by(s.c.created_at.desc(), t.c.id.desc())
        .limit(MAX_RUNS)
    )
    return [row_dict(x) for x in conn.execute(query)][::-1]


def column_stats(conn: sa.Connection, run_id: str | None, dataset: str, column: str) -> Any:
    """A column's mean, median, std, min and max as one run recorded them for `dataset`."""
    if run_id is None:
        return None
    fs = tables.feature_stats
    row = conn.execute(
        sa.select(fs.c.run_id, fs.c.count, fs.c.mean, fs.c.median, fs.c.std, fs.c.min, fs.c.max)
        .where(fs.c.run_id == run_id, fs.c.dataset == dataset, fs.c.column_name == column)
        .limit(1)
    ).first()
    return None if row is None else row_dict(row)


def quality_files(
    conn: sa.Connection,
    start: datetime,
    end: datetime,
    *,
    name: str | None = None,
    criticality: str | None = None,
) -> list[dict[str, Any]]:
    """The newest MAX_FILES checked files in [start, end) (by `checked_at`, indexed), oldest
    first; `name`: file names containing it; `criticality`: of that highest criticality
    ("none": clean files)."""
    qf = tables.quality_files
    shown = [c for c in qf.c if c.name not in ("sha256", "contract_version", "report_path")]
    query = sa.select(*shown).where(*_window(qf.c.checked_at, start, end))
    if name:
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(qf.c.file_name.ilike(f"%{escaped}%", escape="\\"))
    if criticality == "none":
        query = query.where(qf.c.criticality.is_(None))
    elif criticality is not None:
        query = query.where(qf.c.criticality == criticality)
    query = query.order_by(qf.c.checked_at.desc(), qf.c.id.desc()).limit(MAX_FILES)
    return [row_dict(x) for x in conn.execute(query)][::-1]


def issue_counts(conn: sa.Connection, file_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """{quality file id: {error type: offending rows (or 1 for a file-level problem)}}."""
    if not file_ids:
        return {}
    qi = tables.quality_issues
    query = (
        sa.select(qi.c.quality_file_id, qi.c.error_type, sa.func.sum(qi.c.count))
        .where(qi.c.quality_file_id.in_(list(file_ids)))
        .group_by(qi.c.quality_file_id, qi.c.error_type)
    )
    out: dict[int, dict[str, int]] = {}
    for file_id, error_type, count in conn.execute(query):
        out.setdefault(file_id, {})[error_type] = int(count or 0)
    return out


def quality_alerts(conn: sa.Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The newest MAX_ALERTS data-quality alerts sent in [start, end), newest first."""
    a = tables.alerts
    query = (
        sa.select(a.c.id, a.c.run_id, a.c.quality_file_id, a.c.sent_at, a.c.criticality)
        .add_columns(a.c.delivered)
        .where(a.c.quality_file_id.is_not(None), *_window(a.c.sent_at, start, end))
        .order_by(a.c.sent_at.desc(), a.c.id.desc())
        .limit(MAX_ALERTS)
    )
    return [row_dict(x) for x in conn.execute(query)]


def training_run(conn: sa.Connection, version: int) -> str | None:
    """The run that trained a model version (its training statistics are that run's)."""
    mv = tables.model_versions
    return conn.execute(sa.select(mv.c.run_id).where(mv.c.version == version)).scalar()
