"""The one-step commands (`riskwatch ingest`, `labels`, `score`, `train`, `diagnose`,
`report`, `rollback`): each a run of its own kind, recorded like a tick, doing one step of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.model import registry
from pipeline.run import ingest_step
from pipeline.run.diagnose_step import diagnose, outdated_check
from pipeline.run.record import recorded
from pipeline.run.score_step import read_scorable, record_scored, score, score_doc
from pipeline.run.train_step import train
from pipeline.settings import Settings
from pipeline.storage import db, reads


def ingest_only(settings: Settings) -> dict[str, Any]:
    """Take new files into ingesteddata/ without scoring them; the next full run processes them."""
    with recorded(settings, "ingest") as run:
        with run.step("discover"):
            found = ingest_step.discover(run)
        items = []
        if found.new:
            with run.step("ingest"):
                items = ingest_step.ingest(run, found, ingest_step.contract(run, found))
        run.summary.update(
            run_id=run.run_id,
            status="succeeded" if items else "noop",
            new_files=len(items),
            rows_ingested=sum(i.rows for i in items),
            rows_labelled=sum(i.labelled_rows for i in items),
            rows_unlabelled=sum(i.rows - i.labelled_rows for i in items),
            files_quarantined=sum(i.status != "ingested" for i in items),
            rows_quarantined=sum(i.rows_quarantined for i in items),
            files=[
                {
                    "name": i.source.name,
                    "sha256": i.source.sha256,
                    "status": i.status,
                    "rows": i.rows,
                    "labelled_rows": i.labelled_rows,
                    "reason": i.reason,
                }
                for i in items
            ],
            quality=ingest_step.quality_summary(items),
            timings=run.timings,
        )
        return run.summary


def labels_only(settings: Settings) -> dict[str, Any]:
    """Take the labels inbox's new files and join every waiting label to its prediction, under
    the run lock; the next full run scores and trains on the joined rows."""
    from pipeline.labels import inbox
    from pipeline.labels.step import labels_step
    from pipeline.run.estimate_stored import estimate_stored

    with recorded(settings, "labels") as run:
        with run.step("discover"):
            found = inbox.new_label_files(run.engine, settings)
        if found.new or inbox.has_work(run.engine, settings, found):
            # The periods the labels may resolve, estimated first if no run did (the API's
            # predictions): an estimate is what was known before the labels came.
            with run.step("estimate"):
                estimated = estimate_stored(run)
            if estimated is not None:
                run.summary["estimate"] = estimated
        with run.step("labels"):
            done = labels_step(run.engine, settings, run.run_id, found)
        busy = done["new_files"] or any(done[k] for k in ("joined", "conflict", "unmatched"))
        run.summary.update(
            run_id=run.run_id,
            status="succeeded" if busy else "noop",
            production_version=registry.production_version(settings, run.engine),
            labels=done,
            timings=run.timings,
        )
        return run.summary


def score_only(settings: Settings, data: Path | None = None) -> dict[str, Any]:
    """Score the production model on a labelled file (the test file by default) and record it."""
    with recorded(settings, "score") as run:
        with run.step("score"):
            loaded = registry.load_production(run.engine, settings)
            path = data or settings.path("paths.test_data")
            frame = read_scorable(path, loaded)
            result, pred, _ = score(run, loaded, frame)
            record_scored(run, loaded.version, "production", "test", frame, result, pred)
        run.summary.update(
            run_id=run.run_id,
            status="succeeded",
            data=str(path),
            production_version=loaded.version,
            score=score_doc(result),
            timings=run.timings,
        )
        return run.summary


def train_only(settings: Settings) -> dict[str, Any]:
    """Train a challenger on the training window and promote it if the policy says so (without
    a holdout, it is deployed outright)."""
    from pipeline.model.estimator import check_model

    check_model(settings)  # a typo or a broken factory fails before the run is recorded
    with recorded(settings, "train") as run:
        production = None
        if registry.production_version(settings, run.engine) is not None:
            production = registry.load_production(run.engine, settings)
        with run.step("train"):
            promotion = train(run, production)
        run.summary.update(
            run_id=run.run_id,
            status="succeeded",
            promotion=promotion,
            production_version=registry.production_version(settings, run.engine),
            timings=run.timings,
        )
        return run.summary


def diagnose_only(settings: Settings) -> dict[str, Any]:
    """Diagnostics of the production model on the test file, recorded as a run of their own."""
    with recorded(settings, "diagnose") as run:
        outdated = outdated_check(settings)
        with run.step("diagnose"):
            diagnose(run, None, outdated)
        run.summary.update(
            run_id=run.run_id,
            status="succeeded",
            production_version=registry.production_version(settings, run.engine),
            timings=run.timings,
        )
        return run.summary


def report_for(settings: Settings, run_id: str | None) -> str:
    """(Re)build the PDF report of a run, the latest finished one by default."""
    from pipeline.errors import NotFound
    from pipeline.report.run_pdf import build_report

    with db.opened(settings.database_url) as engine:
        if run_id is None:
            with engine.connect() as conn:
                run_id = reads.latest_finished_run(conn)
            if run_id is None:
                raise NotFound("no finished run yet: run `riskwatch run` first")
        return str(build_report(engine, settings, run_id).path)


def rollback(settings: Settings, to_version: int | None, reason: str) -> dict[str, Any]:
    """Put an earlier version back in production, recorded as a run of its own."""
    with recorded(settings, "rollback") as run:
        previous = registry.production_version(settings, run.engine)
        version = registry.rollback(
            run.engine, settings, to_version, reason=reason, run_id=run.run_id
        )
        run.summary.update(
            run_id=run.run_id, status="succeeded", from_version=previous, production_version=version
        )
        return run.summary
