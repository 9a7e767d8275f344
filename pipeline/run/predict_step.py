"""The predict step: every ingested file not predicted yet, predicted by the production model,
each file's predictions and its watermark written together (`pipeline.predictions.write`: one
transaction per file on PostgreSQL, per batch on SQLite, where an unfinished file goes on from
the row it stopped at).

`riskwatch predict` is a run of its own (kind `predict`, its own crontab line) and `riskwatch
run` calls the same step after ingesting, so a file is predicted once per model version
whichever runs first. With nothing to predict, the run is recorded `skipped` having asked the
database only: pandas and scikit-learn are imported once a file is read.

The inbox and the ingested files are never moved or renamed: the step only reads the Parquet.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from pipeline import predictions
from pipeline.errors import DataError
from pipeline.infra import memory
from pipeline.infra.progress import Progress
from pipeline.model import registry
from pipeline.run.record import Run, recorded
from pipeline.settings import Settings
from pipeline.storage import tables

if TYPE_CHECKING:
    import sqlalchemy as sa

log = logging.getLogger("riskwatch")


def unpredicted(run: Run, version: int, *, backfill: bool = False) -> list[sa.Row]:
    """The ingested files `version` is to predict (see `predictions.unpredicted`)."""
    with run.engine.connect() as conn:
        return predictions.unpredicted(conn, version, backfill=backfill)


def predict_files(
    run: Run, loaded: registry.LoadedModel, files: Sequence[sa.Row]
) -> dict[str, Any]:
    """Predict `files` with `loaded`, a file at a time; what was done, for the summary.

    A file the model cannot predict (a DataError: a column missing, a value it refuses) is
    reported and left for a later run; the others go on.
    """
    s = run.settings
    unlabelled = predictions.Columns(tuple(s["data.id_columns"]), s["data.timestamp_column"])
    # A file some of whose rows came labelled reads its target too: those rows are marked, and
    # wait for no label (no period's estimate counts them; their run scores them).
    labelled = dataclasses.replace(unlabelled, target=s["data.target"])
    base = s.path("paths.ingested")
    done: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for i, f in enumerate(files, 1):
        t0 = time.perf_counter()
        who = predictions.FileRun(f.id, loaded.version, run.run_id, tables.utcnow())
        bar = Progress(f"predict {f.name}", f.rows, unit="rows", plain=False, keep=False)
        try:
            with bar:
                with run.engine.connect() as conn:
                    first = predictions.resume_row(conn, f.id, loaded.version)
                columns = labelled if f.labelled_rows else unlabelled
                batches = predictions.file_batches(
                    loaded, base / f.data_path, columns, s["predict.batch_rows"], first
                )
                rows = predictions.record_file(run.engine, who, _advancing(batches, bar))
        except DataError as exc:
            log.warning("[%d/%d] %s not predicted: %s", i, len(files), f.name, exc)
            failed.append({"file_id": f.id, "name": f.name, "reason": str(exc)})
            continue
        finally:
            memory.release()
        seconds = round(time.perf_counter() - t0, 4)
        log.info(
            "[%d/%d] %s: %d rows predicted by v%d", i, len(files), f.name, rows, who.model_version
        )
        done.append(
            {"file_id": f.id, "name": f.name, "sha256": f.sha256, "rows": rows, "seconds": seconds}
        )
    return {
        "model_version": loaded.version,
        "files": done,
        "rows": sum(d["rows"] for d in done),
        "failed": failed,
    }


def _advancing(batches: Iterator[predictions.Batch], bar: Progress) -> Iterator[predictions.Batch]:
    for batch in batches:
        yield batch
        bar.advance(len(batch))


def step(run: Run, loaded: registry.LoadedModel) -> dict[str, Any] | None:
    """The step of `riskwatch run`: the files no version has predicted, by `loaded`; None when
    there are none (no step is recorded)."""
    files = unpredicted(run, loaded.version)
    if not files:
        return None
    with run.step("predict"):
        return predict_files(run, loaded, files)


def predict_only(settings: Settings, *, backfill: bool = False) -> dict[str, Any]:
    """`riskwatch predict`: a run of kind `predict`; `skipped` when there is nothing to do."""
    with recorded(settings, "predict") as run:
        run.summary.update(run_id=run.run_id, status="running", backfill=backfill)
        version = registry.production_version(settings, run.engine)
        run.summary["production_version"] = version  # the run's row shows it, as a tick's does
        files = [] if version is None else unpredicted(run, version, backfill=backfill)
        if version is None or not files:
            reason = "no production model yet" if version is None else "no file to predict"
            log.info("predict: nothing to do (%s)", reason)
            run.summary.update(
                status="skipped",
                reason=reason,
                model_version=version,
                files=[],
                rows=0,
                failed=[],
                timings=run.timings,
            )
            return run.summary
        loaded = registry.load_production(run.engine, settings)
        with run.step("predict"):
            done = predict_files(run, loaded, files)
        from pipeline.run import health_step  # the periods these predictions fall in

        with run.step("health"):
            run.summary["prediction_health"] = health_step.check(run)
        from pipeline.run.estimate_stored import estimate_stored  # and their estimates

        with run.step("estimate"):
            estimated = estimate_stored(run, loaded)
        if estimated is not None:
            run.summary["estimate"] = estimated
        run.summary.update(status="succeeded", **done, timings=run.timings)
        if done["failed"]:  # recorded with the run; exit 1, the files retried next time
            reasons = "; ".join(f"{f['name']}: {f['reason']}" for f in done["failed"])
            raise DataError(f"{len(done['failed'])} file(s) not predicted: {reasons}")
        return run.summary
