"""Reads for people: what the CLI's `runs` and `status` and the web app show. No writes here.

Every query the app makes, its health check included, is a function of this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline.errors import NotFound
from pipeline.settings import Settings
from pipeline.storage import db, tables


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def row_dict(row: sa.Row) -> dict[str, Any]:
    return {k: _jsonable(v) for k, v in row._mapping.items()}


DATASET_KEY = "dataset"  # drift_summaries.thresholds[DATASET_KEY]: the data-set summary


def drift_of(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A drift_summaries row as the data-set summary every printer shows (`fmt_drift`).

    The status is three-way: ``drifted``, ``not_drifted``, or ``not_tested`` with its reason
    (``dataset_drift`` None then). Rows recorded before the status was stored are read from
    their boolean, without counts.
    """
    stored = dict((row["thresholds"] or {}).get(DATASET_KEY) or {})
    status = stored.get("status") or ("drifted" if row["dataset_drift"] else "not_drifted")
    tested = status != "not_tested"
    return {
        "status": status,
        "dataset_drift": bool(row["dataset_drift"]) if tested else None,
        "reason": stored.get("reason"),
        "drifted_share": row["drifted_share"] if tested else None,
        "features_tested": stored.get("features_tested"),
        "features_drifted": stored.get("features_drifted"),
        "drifted_features": stored.get("drifted_features", []),
        "outputs": stored.get("outputs", {}),
        "weights": stored.get("weights"),
        "min_rows": stored.get("min_rows"),
        "reference_rows": row["reference_rows"],
        "current_rows": row["current_rows"],
    }


def drift_by_run(conn: sa.Connection, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The drift summary (`drift_of`) of each of these runs that recorded one."""
    s = tables.drift_summaries
    rows = conn.execute(sa.select(s).where(s.c.run_id.in_(run_ids)).order_by(s.c.id))
    return {row.run_id: drift_of(row._mapping) for row in rows}


def latest_drift(conn: sa.Connection) -> dict[str, Any] | None:
    """The newest run's drift summary with its run id, or None before any."""
    s = tables.drift_summaries
    query = sa.select(s).order_by(s.c.created_at.desc(), s.c.id.desc()).limit(1)
    row = conn.execute(query).first()
    return None if row is None else {"run_id": row.run_id, **drift_of(row._mapping)}


def list_runs(conn: sa.Connection, limit: int = 50) -> list[dict[str, Any]]:
    """Runs, newest first, without their logs; each with its drift summary (None if none)."""
    r = tables.runs
    cols = [c for c in r.c if c.name not in ("log", "summary")]
    query = sa.select(*cols).order_by(r.c.started_at.desc()).limit(limit)
    runs = [row_dict(x) for x in conn.execute(query)]
    if runs:
        rep = tables.reports
        have = set(
            conn.execute(
                sa.select(rep.c.run_id).where(rep.c.run_id.in_([x["id"] for x in runs]))
            ).scalars()
        )
        drift = drift_by_run(conn, [x["id"] for x in runs])
        for x in runs:
            x["has_report"] = x["id"] in have
            x["drift"] = drift.get(x["id"])
    return runs


def check_database(engine: sa.Engine) -> str:
    """Raise DatabaseNotReady unless the database is reachable and migrated; return its revision."""
    db.check_schema(engine)
    return tables.SCHEMA_REVISION


def api_returns(conn: sa.Connection, limit: int) -> list[dict[str, Any]]:
    """What `riskwatch apicalls` recorded, newest first."""
    t = tables.api_returns
    return [row_dict(x) for x in conn.execute(sa.select(t).order_by(t.c.id.desc()).limit(limit))]


def model_sha256(conn: sa.Connection, version: int) -> str | None:
    """The SHA-256 recorded for a model version's artifact; None when no such version."""
    mv = tables.model_versions
    return conn.execute(sa.select(mv.c.sha256).where(mv.c.version == version)).scalar()


def quality_report_path(conn: sa.Connection, file_id: int) -> str | None:
    """The quality page of one checked file, relative to paths.reports; None when unknown."""
    qf = tables.quality_files
    return conn.execute(sa.select(qf.c.report_path).where(qf.c.id == file_id)).scalar()


def _for_run(conn: sa.Connection, table: sa.Table, run_id: str) -> list[dict[str, Any]]:
    query = sa.select(table).where(table.c.run_id == run_id).order_by(*table.primary_key.columns)
    return [row_dict(x) for x in conn.execute(query)]


def get_run(conn: sa.Connection, run_id: str) -> dict[str, Any]:
    """Everything recorded about one run."""
    row = conn.execute(sa.select(tables.runs).where(tables.runs.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"no run with id {run_id!r}")
    doc = row_dict(row)
    for name in (
        "steps",
        "ingested_files",
        "scores",
        "decisions",
        "deployments",
        "confusion_matrices",
        "feature_stats",
        "missing_values",
        "diagnostics",
        "reports",
    ):
        doc[name] = _for_run(conn, tables.metadata.tables[name], run_id)
    doc["drift"] = drift_by_run(conn, [run_id]).get(run_id)
    return doc


def latest_finished_run(conn: sa.Connection) -> str | None:
    """The id of the newest run that succeeded, or None before the first."""
    r = tables.runs
    return conn.execute(
        sa.select(r.c.id).where(r.c.status == "succeeded").order_by(r.c.started_at.desc()).limit(1)
    ).scalar()


def report_relpath(conn: sa.Connection, run_id: str) -> str:
    """A run's PDF report, relative to paths.reports; NotFound when it has none."""
    rep = tables.reports
    rel = conn.execute(
        sa.select(rep.c.path).where(rep.c.run_id == run_id).order_by(rep.c.id.desc()).limit(1)
    ).scalar()
    if rel is None:
        raise NotFound(f"run {run_id!r} has no report")
    return str(rel)


def report_path(conn: sa.Connection, settings: Settings, run_id: str) -> str:
    """The absolute path of a run's PDF report; NotFound when it has none."""
    return str(settings.path("paths.reports") / report_relpath(conn, run_id))


def _latest_run_with(conn: sa.Connection, table: sa.Table) -> str | None:
    return conn.execute(
        sa.select(table.c.run_id)
        .join(tables.runs, tables.runs.c.id == table.c.run_id)
        .order_by(tables.runs.c.started_at.desc())
        .limit(1)
    ).scalar()


def latest_for(conn: sa.Connection, table: sa.Table) -> dict[str, Any]:
    """The rows of `table` from the newest run that wrote any, with that run's id."""
    run_id = _latest_run_with(conn, table)
    return {"run_id": run_id, "rows": _for_run(conn, table, run_id) if run_id else []}


def _stats_of(conn: sa.Connection, run_id: str, dataset: str) -> list[dict[str, Any]]:
    fs = tables.feature_stats
    query = sa.select(fs).where(fs.c.run_id == run_id, fs.c.dataset == dataset).order_by(fs.c.id)
    return [row_dict(x) for x in conn.execute(query)]


def training_stats(conn: sa.Connection, version: int | None) -> dict[str, Any]:
    """Feature statistics of a model version's training rows, from the run that trained it."""
    doc: dict[str, Any] = {"model_version": version, "run_id": None, "rows": []}
    if version is None:
        return doc
    mv = tables.model_versions
    run_id = conn.execute(sa.select(mv.c.run_id).where(mv.c.version == version)).scalar()
    if run_id is not None:
        doc.update(run_id=run_id, rows=_stats_of(conn, run_id, "training"))
    return doc


def latest_stats(conn: sa.Connection, dataset: str) -> dict[str, Any]:
    """Feature statistics of `dataset` (new, test) from the newest run that recorded any, with
    the model in production when that run finished."""
    fs, r = tables.feature_stats, tables.runs
    row = conn.execute(
        sa.select(r.c.id, r.c.production_version)
        .where(r.c.id.in_(sa.select(fs.c.run_id).where(fs.c.dataset == dataset)))
        .order_by(r.c.started_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return {"model_version": None, "run_id": None, "rows": []}
    return {
        "model_version": row.production_version,
        "run_id": row.id,
        "rows": _stats_of(conn, row.id, dataset),
    }


def latest_scores(conn: sa.Connection, version: int | None) -> dict[str, Any]:
    """A model version's metric and its scores from the newest run that scored it."""
    doc: dict[str, Any] = {
        "model_version": version,
        "metric": None,
        "holdout_score": None,
        "score_source": None,
        "run_id": None,
        "scores": [],
    }
    if version is None:
        return doc
    mv = tables.model_versions
    model = conn.execute(
        sa.select(mv.c.metric, mv.c.holdout_score, mv.c.score_source).where(mv.c.version == version)
    ).first()
    if model is not None:
        doc.update(
            metric=model.metric,
            holdout_score=model.holdout_score,
            score_source=model.score_source or "holdout",
        )
    s, r = tables.scores, tables.runs
    run_id = conn.execute(
        sa.select(s.c.run_id)
        .join(r, r.c.id == s.c.run_id)
        .where(s.c.model_version == version)
        .order_by(r.c.started_at.desc(), s.c.id.desc())
        .limit(1)
    ).scalar()
    if run_id is not None:
        rows = conn.execute(
            sa.select(s).where(s.c.run_id == run_id, s.c.model_version == version).order_by(s.c.id)
        )
        doc.update(run_id=run_id, scores=[row_dict(x) for x in rows])
    return doc


def latest_diagnostic(conn: sa.Connection, name: str) -> dict[str, Any] | None:
    """The newest value of a named diagnostic (outdated_packages, library_versions) and its run."""
    d, r = tables.diagnostics, tables.runs
    row = conn.execute(
        sa.select(d.c.run_id, d.c.value)
        .join(r, r.c.id == d.c.run_id)
        .where(d.c.name == name)
        .order_by(r.c.started_at.desc(), d.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else {"run_id": row.run_id, "value": row.value}


def status(conn: sa.Connection, production_version: int | None) -> dict[str, Any]:
    """Production version (the registry's pointer, read by the caller), model versions, ingested
    and quarantined files with their quarantined rows and the totals, the last run, the latest
    drift summary, what the inbox skips."""
    f = tables.ingested_files
    files = [row_dict(x) for x in conn.execute(sa.select(f).order_by(f.c.id))]
    last = conn.execute(
        sa.select(
            tables.runs.c.id,
            tables.runs.c.kind,
            tables.runs.c.status,
            tables.runs.c.started_at,
            tables.runs.c.finished_at,
            tables.runs.c.error,
        )
        .order_by(tables.runs.c.started_at.desc())
        .limit(1)
    ).first()
    mv = tables.model_versions
    versions = [
        row_dict(x)
        for x in conn.execute(
            sa.select(
                mv.c.version,
                mv.c.created_at,
                mv.c.run_id,
                mv.c.sha256,
                mv.c.artifact,
                mv.c.metric,
                mv.c.holdout_score,
                mv.c.score_source,
                mv.c.score_rows,
                mv.c.train_rows,
                mv.c.holdout_rows,
                mv.c.training_window,
                mv.c.estimator,
                mv.c.features,
                mv.c.provenance,
            ).order_by(mv.c.version)
        )
    ]
    for v in versions:  # what `status` shows of a version's provenance: its fingerprint, its
        prov = v.pop("provenance") or {}  # DVC experiment (full record: metadata.json)
        v["settings_sha256"] = prov.get("settings_sha256")
        v["experiment"] = (prov.get("experiment") or {}).get("name")
    keep = ("name", "sha256", "rows", "rows_quarantined", "ingested_at", "run_id")
    quarantined = sum(x["rows_quarantined"] for x in files)
    return {
        "production_version": production_version,
        "model_versions": versions,
        "ingested_files": [{k: x[k] for k in keep} for x in files if x["status"] == "ingested"],
        "quarantined_files": [
            {
                "name": x["name"],
                "sha256": x["sha256"],
                "reason": x["reason"],
                "rows_quarantined": x["rows_quarantined"],
                "quarantine_path": x["quarantine_path"],
                "ingested_at": x["ingested_at"],
            }
            for x in files
            if x["status"] == "quarantined"
        ],
        # Every row taken so far, and those that went to quarantine (bad rows of ingested
        # files, and every row of a file rejected whole).
        "rows_read": sum(x["rows"] for x in files) + quarantined,
        "rows_quarantined": quarantined,
        "last_run": row_dict(last) if last else None,
        "drift": latest_drift(conn),
        # What the inbox holds that is not taken (links, folders, FIFOs, unreadable files), as
        # the last tick saw it.
        "skipped_sources": [
            {"name": r.name, "kind": r.kind, "reason": r.reason, "seen_at": r.seen_at}
            for r in conn.execute(
                sa.select(tables.skipped_sources).order_by(tables.skipped_sources.c.name)
            )
        ],
    }
