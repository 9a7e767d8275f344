"""Reads for the web app's run pages: a page of runs with their columns, and one run whole.

Each reads only what its page shows: the list takes one page of runs (keyset on started_at and
id, newest first) and, for those runs only, their production score, decisions, drift summary
and checked files; the run page adds the rows of one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from pipeline.storage import reads, tables

RUN_STATUSES = ("running", "succeeded", "noop", "skipped", "failed")
RUN_KINDS = ("run", "ingest", "labels", "score", "train", "predict", "diagnose", "rollback")
QUIET = ("noop", "skipped")  # ticks that found nothing to do: hidden unless asked for
# The score a run's row shows: the production model on the new labelled rows, else the test
# file, else the holdout (a first run's challenger).
SCORE_ORDER = {("production", "new"): 0, ("production", "test"): 1, ("challenger", "holdout"): 2}


@dataclass(frozen=True)
class RunFilter:
    """Which runs a page lists: one status or kind (None: any); quiet ticks shown or not."""

    status: str | None = None
    kind: str | None = None
    show_quiet: bool = False


def run_position(conn: sa.Connection, run_id: str) -> tuple[Any, str] | None:
    """(started_at, id) of a run, the keyset cursor of the page after it; None when unknown."""
    r = tables.runs
    row = conn.execute(sa.select(r.c.started_at, r.c.id).where(r.c.id == run_id)).first()
    return None if row is None else (row.started_at, row.id)


def runs_page(
    conn: sa.Connection, where: RunFilter, limit: int, after: tuple[Any, str] | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `limit` runs newest first (after the cursor `after`), each with its columns; and
    the id of the last one when more follow (the next page's cursor), else None."""
    r = tables.runs
    cols = [c for c in r.c if c.name not in ("log", "summary")]
    query = sa.select(*cols).order_by(r.c.started_at.desc(), r.c.id.desc()).limit(limit + 1)
    if where.status is not None:
        query = query.where(r.c.status == where.status)
    elif not where.show_quiet:  # in the partial index's words (tables.SHOWN)
        query = query.where(sa.text(tables.SHOWN))
    if where.kind is not None:
        query = query.where(r.c.kind == where.kind)
    if after is not None:
        started, run_id = after
        query = query.where(
            sa.or_(r.c.started_at < started, sa.and_(r.c.started_at == started, r.c.id < run_id))
        )
    runs = [reads.row_dict(x) for x in conn.execute(query)]
    more = len(runs) > limit
    runs = runs[:limit]
    _add_columns(conn, runs)
    return runs, runs[-1]["id"] if more else None


def _by_run(conn: sa.Connection, table: sa.Table, ids: list[str], *cols: str) -> dict[str, list]:
    columns = [table.c.run_id, *(table.c[c] for c in cols)]
    query = sa.select(*columns).where(table.c.run_id.in_(ids)).order_by(table.c.id)
    found: dict[str, list[dict[str, Any]]] = {}
    for row in conn.execute(query):
        found.setdefault(row.run_id, []).append(reads.row_dict(row))
    return found


def _add_columns(conn: sa.Connection, runs: list[dict[str, Any]]) -> None:
    """Each run's score, decisions, drift summary, checked files and whether it has a PDF."""
    ids = [x["id"] for x in runs]
    if not ids:
        return
    score_cols = ("model_version", "role", "dataset", "metric", "value", "ci_low", "ci_high")
    scores = _by_run(conn, tables.scores, ids, *score_cols, "n_rows")
    decisions = _by_run(conn, tables.decisions, ids, "kind", "outcome", "reason")
    quality = _by_run(conn, tables.quality_files, ids, "rows_read", "rows_invalid", "rejected")
    drift = reads.drift_by_run(conn, ids)
    rep = tables.reports
    have = set(conn.execute(sa.select(rep.c.run_id).where(rep.c.run_id.in_(ids))).scalars())
    for x in runs:
        ranked = [s for s in scores.get(x["id"], []) if (s["role"], s["dataset"]) in SCORE_ORDER]
        ranked.sort(key=lambda s: SCORE_ORDER[s["role"], s["dataset"]])
        x["score"] = ranked[0] if ranked else None
        x["decisions"] = decisions.get(x["id"], [])
        x["quality_files"] = quality.get(x["id"], [])
        x["drift"] = drift.get(x["id"])
        x["has_report"] = x["id"] in have


def run_record(conn: sa.Connection, run_id: str) -> dict[str, Any]:
    """Everything recorded about one run (reads.get_run), with its checked files and its drift
    per column; NotFound when there is no such run."""
    doc = reads.get_run(conn, run_id)
    qf = tables.quality_files
    files = conn.execute(
        sa.select(
            qf.c.id,
            qf.c.file_name,
            qf.c.rows_read,
            qf.c.rows_valid,
            qf.c.rows_invalid,
            qf.c.criticality,
            qf.c.rejected,
            qf.c.report_path.is_not(None).label("has_report"),
        )
        .where(qf.c.run_id == run_id)
        .order_by(qf.c.id)
    )
    doc["quality_files"] = [reads.row_dict(x) for x in files]
    dr = tables.drift_results
    columns = ("column_name", "kind", "test", "statistic", "p_value", "p_adjusted", "effect_size")
    query = (
        sa.select(*(dr.c[c] for c in columns), dr.c.psi, dr.c.status, dr.c.drifted)
        .where(dr.c.run_id == run_id)
        .order_by(dr.c.id)
    )
    doc["drift_results"] = [reads.row_dict(x) for x in conn.execute(query)]
    return doc
