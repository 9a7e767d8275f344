"""Every row the engine writes goes through here; reads for people are in `reads`.

Runs and steps (their rows written by `run_writes`, offered here), source_hashes,
ingested_files, quality_files, quality_issues, contracts, scores, decisions,
confusion_matrices, feature_stats, missing_values, diagnostics, alerts, drift_summaries,
drift_results, reports and api_returns (predictions: `pipeline.predictions`);
model_versions and deployments, which only `pipeline.model.registry` calls, so a version's row
and its folder agree. Also the few reads a run needs to know what is new (`known_hashes`,
`hash_cache`, `ingested_rows`, `window_files`). Text that came from a source file is made
storable on the way (`text.storable`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from pipeline.infra.failpoints import failpoint
from pipeline.storage import row_index, tables
from pipeline.storage.run_writes import fail_run as fail_run
from pipeline.storage.run_writes import finish_run as finish_run
from pipeline.storage.run_writes import finish_step as finish_step
from pipeline.storage.run_writes import mark_interrupted as mark_interrupted
from pipeline.storage.run_writes import run_status as run_status
from pipeline.storage.run_writes import start_run as start_run
from pipeline.storage.run_writes import start_step as start_step
from pipeline.storage.run_writes import update_run as update_run
from pipeline.storage.text import storable

if TYPE_CHECKING:
    from pipeline.storage.shapes import ContractLike, DecisionLike, IngestedLike, ScoreLike


def known_hashes(conn: sa.Connection) -> set[str]:
    return set(conn.execute(sa.select(tables.ingested_files.c.sha256)).scalars())


def hash_cache(conn: sa.Connection) -> dict[str, tuple[int, int, str]]:
    t = tables.source_hashes
    return {r.path: (r.size_bytes, r.mtime_ns, r.sha256) for r in conn.execute(sa.select(t))}


def save_hash_cache(engine: sa.Engine, updates: Mapping[str, tuple[int, int, str]]) -> None:
    if not updates:
        return
    t = tables.source_hashes
    with engine.begin() as conn:
        conn.execute(t.delete().where(t.c.path.in_(list(updates))))
        conn.execute(
            t.insert(),
            [
                {"path": p, "size_bytes": s, "mtime_ns": m, "sha256": h}
                for p, (s, m, h) in updates.items()
            ],
        )


def forget_hash(engine: sa.Engine, path: str) -> None:
    """Drop a path's cached hash (its file changed under a tick): the next tick hashes it."""
    t = tables.source_hashes
    with engine.begin() as conn:
        conn.execute(t.delete().where(t.c.path == path))


def record_ingested(
    engine: sa.Engine,
    run_id: str,
    item: IngestedLike,
    *,
    contract_version: str | None,
    report_path: str | None,
    checked_at: datetime,
    index: row_index.Entries | None = None,
) -> int:
    """Record one taken file and the gate's verdict on it, in one transaction; with `index`
    (quality.duplicates = "history"), its rows' and ids' hashes too, in the same transaction.

    Its sha256 is never taken again. Returns the verdict's quality_files id.
    """
    with engine.begin() as conn:
        ingested_id = conn.execute(
            tables.ingested_files.insert()
            .returning(tables.ingested_files.c.id)
            .values(
                run_id=run_id,
                sha256=item.source.sha256,
                name=storable(item.source.name),
                size_bytes=item.source.size,
                status=item.status,
                reason=storable(item.reason),
                rows=item.rows,
                rows_quarantined=item.rows_quarantined,
                data_path=item.data_path,
                quarantine_path=storable(item.quarantine_path),
                ingested_at=checked_at,
            )
        ).scalar_one()
        if index is not None:
            row_index.add(conn, ingested_id, index)
        file_id = _insert_quality(conn, run_id, item, contract_version, report_path, checked_at)
    failpoint("after_file_recorded")
    return file_id


def ingested_rows(conn: sa.Connection, *, pending_only: bool) -> list[sa.Row]:
    """Ingested files with good rows, oldest first; only those no run has processed, if asked."""
    t = tables.ingested_files
    query = sa.select(t).where(t.c.status == "ingested").order_by(t.c.id)
    if pending_only:
        query = query.where(t.c.processed_run_id.is_(None))
    return list(conn.execute(query))


def window_files(conn: sa.Connection, kind: str, size: int | None) -> list[sa.Row]:
    """Ingested files with good rows in a training window, oldest first (see
    `pipeline.settings.window`): all of them, the newest `size` files, the newest files that
    hold `size` rows (the oldest of them may hold more), those ingested in the `size` days up
    to the newest ingestion, or those the newest `size` runs that ingested any brought."""
    t = tables.ingested_files
    query = sa.select(t).where(t.c.status == "ingested")
    if kind == "all" or size is None:
        return list(conn.execute(query.order_by(t.c.id)))
    if kind == "files":
        return list(reversed(conn.execute(query.order_by(t.c.id.desc()).limit(size)).all()))
    if kind == "days":
        newest = conn.execute(
            sa.select(sa.func.max(t.c.ingested_at)).where(t.c.status == "ingested")
        ).scalar()
        if newest is None:
            return []
        since = newest - timedelta(days=size)
        return list(conn.execute(query.where(t.c.ingested_at >= since).order_by(t.c.id)))
    if kind == "runs":
        newest_runs = (
            sa.select(t.c.run_id)
            .where(t.c.status == "ingested")
            .group_by(t.c.run_id)
            .order_by(sa.func.max(t.c.id).desc())
            .limit(size)
        )
        return list(conn.execute(query.where(t.c.run_id.in_(newest_runs)).order_by(t.c.id)))
    if kind != "rows":
        raise ValueError(f"unknown training window kind {kind!r}")
    picked, total = [], 0
    for row in conn.execute(query.where(t.c.rows > 0).order_by(t.c.id.desc())):
        picked.append(row)
        total += row.rows
        if total >= size:
            break
    return list(reversed(picked))


def mark_processed(engine: sa.Engine, run_id: str, file_ids: Iterable[int]) -> None:
    ids = list(file_ids)
    if not ids:
        return
    t = tables.ingested_files
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.id.in_(ids)).values(processed_run_id=run_id))


def record_score(
    engine: sa.Engine, run_id: str, version: int, role: str, dataset: str, score: ScoreLike
) -> None:
    with engine.begin() as conn:
        conn.execute(
            tables.scores.insert().values(
                run_id=run_id,
                created_at=tables.utcnow(),
                model_version=version,
                role=role,
                dataset=dataset,
                metric=score.metric,
                value=score.value,
                ci_low=score.ci_low,
                ci_high=score.ci_high,
                n_rows=score.n_rows,
            )
        )


def record_decision(engine: sa.Engine, run_id: str, kind: str, decision: DecisionLike) -> None:
    with engine.begin() as conn:
        conn.execute(
            tables.decisions.insert().values(
                run_id=run_id,
                kind=kind,
                outcome=decision.outcome,
                reason=decision.reason,
                evidence=decision.evidence,
                decided_at=tables.utcnow(),
            )
        )


def record_rows(
    engine: sa.Engine, table: sa.Table, run_id: str, rows: Sequence[Mapping[str, object]]
) -> None:
    """Insert rows that all belong to one run (feature stats, missing values, confusion, ...)."""
    if rows:
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"run_id": run_id, **storable(r)} for r in rows])


def record_diagnostic(engine: sa.Engine, run_id: str, name: str, value: object) -> None:
    record_rows(engine, tables.diagnostics, run_id, [{"name": name, "value": value}])


def record_model_version(conn: sa.Connection, row: Mapping[str, object]) -> None:
    """Insert a `model_versions` row, in the registry's transaction (it also picks the number)."""
    conn.execute(tables.model_versions.insert().values(**row))


def record_deployment(
    engine: sa.Engine,
    run_id: str | None,
    from_version: int | None,
    to_version: int,
    kind: str,
    reason: str,
) -> None:
    """Record that production now points at `to_version` (the registry moved the pointer)."""
    with engine.begin() as conn:
        conn.execute(
            tables.deployments.insert().values(
                run_id=run_id,
                from_version=from_version,
                to_version=to_version,
                deployed_at=tables.utcnow(),
                kind=kind,
                reason=reason,
            )
        )


def record_contract(engine: sa.Engine, run_id: str, contract: ContractLike, path: str) -> None:
    """Record a contract version the first time a run uses it."""
    t = tables.contracts
    with engine.begin() as conn:
        if conn.execute(sa.select(t.c.version).where(t.c.version == contract.version)).first():
            return
        conn.execute(
            t.insert().values(
                version=contract.version,
                created_at=tables.utcnow(),
                run_id=run_id,
                path=path,
                text=contract.text,
            )
        )


def _insert_quality(
    conn: sa.Connection,
    run_id: str,
    item: IngestedLike,
    contract_version: str | None,
    report_path: str | None,
    checked_at: datetime,
) -> int:
    """Insert the gate's verdict on one file and its issues; return the quality_files id."""
    q = item.quality
    file_id: int = conn.execute(
        tables.quality_files.insert()
        .returning(tables.quality_files.c.id)
        .values(
            run_id=run_id,
            checked_at=checked_at,
            sha256=item.source.sha256,
            file_name=storable(item.source.name),
            contract_version=contract_version,
            rows_read=q.rows_read,
            rows_valid=item.rows,
            rows_invalid=q.rows_read - item.rows,
            criticality=q.criticality,
            rejected=item.status != "ingested",
            report_path=report_path,
        )
    ).scalar_one()
    issues = []
    for v in q.violations:
        issue = v.summary()
        issue["column_name"] = issue.pop("column")
        issue["rows_sample"] = issue.pop("rows")
        issues.append({"run_id": run_id, "quality_file_id": file_id, **storable(issue)})
    if issues:
        conn.execute(tables.quality_issues.insert(), issues)
    return file_id


def record_drift_summary(engine: sa.Engine, run_id: str, summary: Mapping[str, object]) -> None:
    """The run's drift decision, with the sizes and thresholds it was taken with."""
    with engine.begin() as conn:
        conn.execute(
            tables.drift_summaries.insert().values(
                run_id=run_id, created_at=tables.utcnow(), **summary
            )
        )


def record_report(engine: sa.Engine, run_id: str, path: str, pages: int, size_bytes: int) -> None:
    """The run's report, once its PDF is on disk; a rebuilt report replaces the earlier row."""
    with engine.begin() as conn:
        conn.execute(sa.delete(tables.reports).where(tables.reports.c.run_id == run_id))
        conn.execute(
            tables.reports.insert().values(
                run_id=run_id,
                created_at=tables.utcnow(),
                path=path,
                pages=pages,
                size_bytes=size_bytes,
            )
        )


def record_api_returns(
    engine: sa.Engine, base_url: str, returns: Sequence[Mapping[str, object]]
) -> None:
    """What `riskwatch apicalls` got back from a running app, one row per call."""
    if returns:
        with engine.begin() as conn:
            conn.execute(
                tables.api_returns.insert(), [{"base_url": base_url, **r} for r in returns]
            )
