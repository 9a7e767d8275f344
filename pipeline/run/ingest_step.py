"""The discover and ingest steps: new files found by content, the data contract (inferred from
every readable new file when there is none; features made required when the model takes them
unimputed), each file through the gate into ingesteddata/ or quarantine, its quality page, its
record and, when it is bad enough, an alert.

Discovery is light (the no-op tick runs it); everything that reads data is imported inside the
functions that need it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import InboxMissing, RiskwatchError
from pipeline.infra import memory
from pipeline.infra.failpoints import failpoint
from pipeline.infra.names import path_key
from pipeline.infra.progress import Progress
from pipeline.ingest.discovery import Discovery
from pipeline.ingest.discovery import discover as discover_files
from pipeline.run.contract_step import already_read, learn_labels
from pipeline.run.contract_step import contract as contract
from pipeline.run.record import Run
from pipeline.storage import blobs, inbox, tables, writes

if TYPE_CHECKING:
    from pipeline.ingest.contract import Contract
    from pipeline.ingest.discovery import SourceFile
    from pipeline.ingest.ingestion import Ingested, RowIndex

log = logging.getLogger("riskwatch")


def discover(run: Run) -> Discovery:
    """New files in the inbox, by content hash; the hash cache is saved for the next tick."""
    settings = run.settings
    source = settings.path("paths.source")
    if not source.is_dir():  # else every cron tick would be a silent "nothing new" (issue 9)
        what = "is not a folder" if source.exists() else "does not exist"
        raise InboxMissing(
            f"setting 'paths.source': the inbox {source} {what}; create it, or point "
            "paths.source at the folder new data files are dropped into"
        )
    with run.engine.connect() as conn:
        known = writes.known_hashes(conn)
        cache = writes.hash_cache(conn)
    found = discover_files(
        source,
        known,
        cache,
        settings["data.min_file_age_seconds"],
        follow_symlinks=settings["ingest.follow_symlinks"],
    )
    writes.save_hash_cache(run.engine, found.hashes)
    for name, why in found.deferred:
        log.info("left for a later tick: %s (%s)", name, why)
    for name in found.vanished:
        log.warning("%s vanished from the inbox while the tick looked at it: skipped", name)
    # Each skipped entry is said once, when it appears or changes (issue 11): a cron log does
    # not repeat it every tick; `status` and the summary list them all.
    for entry in inbox.sync_skipped(run.engine, tables.skipped_sources, run.run_id, found.skipped):
        log.warning("skipped %s: %s", entry.name, entry.reason)
    run.summary["skipped"] = [
        {"name": e.name, "kind": e.kind, "reason": e.reason} for e in found.skipped
    ]
    return found


def ingest(run: Run, found: Discovery, current: Contract | None) -> list[Ingested]:
    """Take each new file through the gate (against `current`, the contract) and record it."""
    from pipeline.ingest.ingestion import QUARANTINE_DIR
    from pipeline.ingest.intake import Moved, remove_leftovers

    ingested_dir = run.settings.path("paths.ingested")
    if left := remove_leftovers(ingested_dir / QUARANTINE_DIR):
        log.info("removed %d private cop(ies) of source files a stopped run left", left)
    history = _history(run, ingested_dir, current) if found.new else None
    items = []
    total = len(found.new)
    bar = Progress("ingest", total, unit="files", plain=False, keep=False).start()
    for i, source in enumerate(found.new, 1):
        try:
            item = _take(run, found, source, current, history)
            current = learn_labels(run, current, item)
        except Moved as exc:
            # Nothing of it was written; its cached hash is dropped, so the next tick hashes
            # what it holds then and takes that, once.
            writes.forget_hash(run.engine, path_key(str(source.path)))
            log.warning("[%d/%d] %s left for a later tick: %s", i, total, source.name, exc)
            bar.advance()
            continue
        memory.release()  # the file's frame is gone; its buffers need not outlive it
        failpoint("after_file_written")
        file_id = _record(run, item, current)
        _alert(run, item, file_id)
        if item.status == "ingested":
            log.info(
                "[%d/%d] %s: %d rows ingested (%d labelled), %d quarantined",
                i,
                total,
                source.name,
                item.rows,
                item.labelled_rows,
                item.rows_quarantined,
            )
        else:
            log.warning("[%d/%d] %s quarantined: %s", i, total, source.name, item.reason)
        items.append(item)
        bar.advance(note=f"{sum(it.rows for it in items):,} rows")
    bar.close()
    return items


def _take(
    run: Run,
    found: Discovery,
    source: SourceFile,
    current: Contract | None,
    history: RowIndex | None,
) -> Ingested:
    """One file through the gate. The file's own failures end here (issue 11): whatever the
    engine raises on one file's content quarantines that file with the exception's type and
    message, and the tick goes on. The file moving under the tick raises `intake.Moved`; the
    environment failing (a full disk, the database) raises as it is, and the file stays new, as
    does riskwatch's own error (a bad file's is a DataError, already a verdict on the file)."""
    from sqlalchemy.exc import SQLAlchemyError

    from pipeline.ingest.checks import file_problem
    from pipeline.ingest.ingestion import Gate, Ingested, discard_outputs, ingest_file
    from pipeline.ingest.intake import Moved, as_source

    s = run.settings
    ingested_dir = s.path("paths.ingested")
    if current is None:  # nothing new could be read: no contract to check against
        why = "no data contract, and no new file could be read to infer one"
        item = Ingested(source, "quarantined", why, quality=file_problem("unreadable", why))
        _quarantine_copy(ingested_dir, item, why)
        return item
    try:
        return ingest_file(
            source,
            ingested_dir,
            current,
            s["quality.criticality"],
            s["quality.missing_significance"],
            s["quality.max_invalid_share"],
            frame=already_read(found, source, current),
            history=history,
            gate=Gate(
                s["data.unlabelled_files"],
                tables.utcnow(),
                s["quality.timestamp_max_future_days"],
                learn_labels=s["model.task"] == "classification" and current.label_values is None,
            ),
        )
    except (Moved, RiskwatchError, OSError, SQLAlchemyError):
        raise
    except Exception as exc:  # the per-file boundary: see the docstring
        text = " ".join(as_source(str(exc), source).split())[:300]
        why = f"riskwatch could not process the file ({type(exc).__name__}: {text})"
        log.debug("%s: %s", source.name, why, exc_info=True)
        discard_outputs(ingested_dir, source)
        item = Ingested(source, "quarantined", why, quality=file_problem("unreadable", why))
        _quarantine_copy(ingested_dir, item, why)
        return item


def _history(run: Run, ingested_dir: Path, current: Contract | None) -> RowIndex | None:
    """The index of earlier files' rows with quality.duplicates = "history" (else None), brought
    up to date first: files ingested while it was "file" are indexed once, from their Parquet."""
    from pipeline.ingest.ingestion import RowIndex, index_earlier_files

    if run.settings["quality.duplicates"] != "history" or current is None:
        return None
    rows = index_earlier_files(run.engine, ingested_dir, current)
    if rows:
        log.info('quality.duplicates = "history": indexed %d rows of earlier files (once)', rows)
    return RowIndex(run.engine)


def _record(run: Run, item: Ingested, current: Contract | None) -> int:
    """Write the file's quality page and record the file; return its quality_files id."""
    from pipeline.report.file_page import relative_path, write_file_report

    source = item.source
    checked_at = tables.utcnow()
    rel: str | None = relative_path(source.sha256)  # by content: a rewrite is the same page
    try:
        item.report = str(
            write_file_report(
                run.settings.path("paths.reports") / str(rel),
                file_name=source.name,
                sha256=source.sha256,
                result=item.quality,
                contract=current,
                run_id=run.run_id,
                checked_at=checked_at,
                base=run.settings.base_dir,
            )
        )
    except OSError:
        raise
    except Exception as exc:  # a page the file's content breaks: the file is kept
        log.warning(
            "%s: its quality page could not be written (%s: %s)",
            source.name,
            type(exc).__name__,
            " ".join(str(exc).split())[:200],
        )
        rel = None
    if rel is not None and item.report is not None:
        blobs.publish_report(run.engine, run.settings, rel, Path(item.report).read_bytes())
    return writes.record_ingested(
        run.engine,
        run.run_id,
        item,
        contract_version=None if current is None else current.version,
        report_path=rel,
        checked_at=checked_at,
        index=item.index,
    )


def _alert(run: Run, item: Ingested, file_id: int) -> None:
    """Tell the webhook about a file whose problems reach alerts.min_criticality; never fails."""
    from pipeline.ingest import alerts

    s = run.settings
    url = s["alerts.webhook_url"]
    q = item.quality
    if (
        not url
        or "data_quality" not in s["alerts.events"]
        or not alerts.at_least(q.criticality, s["alerts.min_criticality"])
        or q.criticality is None  # never, once at_least: said for mypy
    ):
        return
    base = s["alerts.report_base_url"].rstrip("/")
    link = f"{base}/quality/{file_id}.html" if base else item.report
    alert = alerts.Alert(
        file_name=item.source.name,
        criticality=q.criticality,
        rows_read=q.rows_read,
        rows_invalid=q.rows_read - item.rows,
        errors_by_type=q.errors_by_type,
        report_url=link,
        run_id=run.run_id,
    )
    delivery = alerts.send(
        url,
        alert,
        timeout=s["alerts.timeout_seconds"],
        retries=s["alerts.retries"],
        deadline=s["alerts.deadline_seconds"],
    )
    writes.record_rows(
        run.engine,
        tables.alerts,
        run.run_id,
        [
            {
                "quality_file_id": file_id,
                "sent_at": tables.utcnow(),
                "criticality": q.criticality,
                "target": alerts.target(url),
                "delivered": delivery.delivered,
                "attempts": delivery.attempts,
                "status_code": delivery.status_code,
                "error": delivery.error,
                "payload": alerts.message(alert),
            }
        ],
    )


def _quarantine_copy(ingested_dir: Path, item: Ingested, why: str) -> None:
    """Keep a copy of a file that could not be checked at all, with `why` beside it (the copy
    is of the bytes its hash names: `intake.private_copy`)."""
    from pipeline.ingest.ingestion import QUARANTINE_DIR, quarantine_copy
    from pipeline.ingest.intake import private_copy

    with private_copy(item.source, ingested_dir / QUARANTINE_DIR) as copy:
        item.quarantine_path = quarantine_copy(copy, item.source, ingested_dir, why)


def quality_summary(items: Sequence[Ingested]) -> dict[str, Any]:
    """The `quality` object of `riskwatch run --json` and `riskwatch ingest --json`."""
    from pipeline.ingest.contract_tools import summarise

    return summarise(
        [
            {
                "name": item.source.name,
                "rows_read": item.quality.rows_read,
                "rows_valid": item.rows,
                "rows_invalid": item.quality.rows_read - item.rows,
                "criticality": item.quality.criticality,
                "errors_by_type": item.quality.errors_by_type,
                "report": item.report,
            }
            for item in items
        ]
    )
