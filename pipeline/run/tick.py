"""One run: discover, ingest, predict, score, decide, retrain, promote, diagnose, report; all
recorded.

Only the standard library, SQLAlchemy and riskwatch's own light modules are imported until the
run knows there is something to do: a tick with nothing new never loads pandas or scikit-learn.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pipeline.errors import DatabaseUnreachable, RiskwatchError
from pipeline.infra import dvc
from pipeline.infra.failpoints import failpoint
from pipeline.ingest.discovery import Discovery
from pipeline.labels import inbox as label_inbox
from pipeline.labels.step import labels_step
from pipeline.model import registry
from pipeline.run import (
    cleanup,
    estimate_step,
    events,
    health_step,
    ingest_step,
    predict_step,
    snapshot_step,
)
from pipeline.run.diagnose_step import diagnose, outdated_check
from pipeline.run.record import Run, recorded
from pipeline.run.report_step import report, report_of_dead_runs
from pipeline.run.score_step import load_rows, record_scored, score_doc, score_labelled
from pipeline.run.train_step import train
from pipeline.settings import Settings
from pipeline.storage import writes

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import sqlalchemy as sa

    from pipeline.ingest.ingestion import Ingested
    from pipeline.model.metrics import Score
    from pipeline.model.policy import Decision

log = logging.getLogger("riskwatch")

# What the evaluation of a tick gives the summary: the retrain decision, the `score` object and
# the promotion (the last two None when there was nothing to score or train).
Outcome = tuple["Decision", dict[str, Any] | None, dict[str, Any] | None]


def run_once(settings: Settings) -> dict[str, Any]:
    """One cron tick. Returns the summary `riskwatch run --json` prints."""
    with recorded(settings, "run") as run:
        s = run.settings
        run.summary.update(run_id=run.run_id, status="running")
        _recover(run)
        with run.step("discover"):
            found = ingest_step.discover(run)
            labels_found = label_inbox.new_label_files(run.engine, s)
            registry.reconcile(run.engine, s, run.run_id)
            pending = _pending(run)
            # New labels files, or waiting labels with something to do (standard library and
            # SQLAlchemy only: a tick with nothing new stays cheap).
            labels_work = label_inbox.has_work(run.engine, s, labels_found)
        if not found.new and not pending and not labels_work:
            return _noop(run, found)
        # Settings load checked model.estimator and model.pipeline without importing them (the
        # no-op tick must not import scikit-learn); now that there is work, a typo or a broken
        # factory fails before anything is done.
        from pipeline.model.estimator import check_model

        check_model(s)

        outdated = outdated_check(s)
        production = None
        if registry.production_version(s, run.engine) is not None:
            production = registry.load_production(run.engine, s)
            run.summary["production_version"] = production.version  # a failed run says it too
        with run.step("ingest"):
            contract = ingest_step.contract(run, found) if found.new else None
            items = ingest_step.ingest(run, found, contract)
        _record_ingest(run, found, items)
        if production is not None:
            _predict(run, production)
        if labels_work or found.new:  # after the rows are predicted: labels join them
            with run.step("labels"):
                run.summary["labels"] = _labels(run, labels_found)
        pending = _pending(run)  # the joined rows' file (kind 'labels') among them
        new_frame = load_rows(run, pending) if pending else None
        if production is None:
            decision, score_json, promotion = _first_model(run, new_frame, pending)
            if registry.production_version(s, run.engine) is not None:  # the first model
                _predict(run, registry.load_production(run.engine, s))
        else:
            decision, score_json, promotion = _monitor(run, production, new_frame, pending)
        # Before the diagnose step, which scores champion and challenger on the test file.
        run.summary.update(
            score=score_json,
            decision={"retrain": decision.outcome, "reason": decision.reason},
            promotion=promotion,
        )
        if registry.production_version(s, run.engine) is not None:
            with run.step("diagnose"):
                diagnose(run, new_frame, outdated)
        writes.mark_processed(run.engine, run.run_id, [r.id for r in pending])
        failpoint("after_processed")
        _snapshot(run)
        run.summary.update(
            status="succeeded", production_version=registry.production_version(s, run.engine)
        )
        run.record_work()  # `succeeded` is recorded only once the report is written
        with run.step("report"):
            run.summary["report"] = report(run)
        run.summary["timings"] = run.timings
        return run.summary


def _recover(run: Run) -> None:
    """Clean up what dead runs left (their runs were marked failed as this one started), and
    write the report of a run that died writing it (issue 11)."""
    done = cleanup.leftovers(run)
    if done:
        run.summary["cleanup"] = done
    if any(dead["step"] == "report" for dead in run.recovered):
        with run.step("recover"):
            run.summary["recovered_reports"] = report_of_dead_runs(run)


def _predict(run: Run, loaded: registry.LoadedModel) -> None:
    """The files no model version has predicted, by `loaded` (a file it cannot predict is
    reported in the summary and left for `riskwatch predict`)."""
    done = predict_step.step(run, loaded)
    if done is not None:
        run.summary["predictions"] = done
        with run.step("health"):
            run.summary["prediction_health"] = health_step.check(run)


def _labels(run: Run, found: Discovery) -> dict[str, Any]:
    """The labels step; a join the data makes fail (a file, a row it cannot write) is logged
    and reported, and the tick goes on: the labels wait, and the next tick tries again,
    while new data is still ingested, predicted and watched."""
    try:
        return labels_step(run.engine, run.settings, run.run_id, found)
    except (RiskwatchError, ValueError, TypeError, KeyError, OSError) as exc:
        if isinstance(exc, DatabaseUnreachable):
            raise
        reason = f"{type(exc).__name__}: {exc}"[:500]
        log.error("labels: the join failed, the labels wait for the next tick (%s)", reason)
        return {"error": reason}


def _snapshot(run: Run) -> None:
    """experiments.snapshot = "tick" in a DVC project: refresh the experiments' data snapshot."""
    s = run.settings
    if s["experiments.snapshot"] == "tick" and dvc.initialised(s.base_dir):
        with run.step("snapshot"):
            run.summary["snapshot"] = snapshot_step.after_tick(run.engine, s)


def _pending(run: Run) -> list[sa.Row]:
    """Ingested files whose rows no run has processed yet."""
    with run.engine.connect() as conn:
        return writes.ingested_rows(conn, pending_only=True)


def _deferred(found: Discovery) -> list[dict[str, str]]:
    return [{"name": n, "reason": r} for n, r in found.deferred]


def _noop(run: Run, found: Discovery) -> dict[str, Any]:
    """The summary of a tick with nothing new; cheap: nothing heavy is imported."""
    s = run.settings
    log.info("nothing new: %d known file(s) in %s", found.known, s.path("paths.source"))
    run.summary.update(
        status="noop",
        new_files=0,
        rows_ingested=0,
        rows_labelled=0,
        rows_unlabelled=0,
        files_quarantined=0,
        rows_quarantined=0,
        score=None,
        decision={"retrain": False, "reason": "nothing new to process"},
        production_version=registry.production_version(s, run.engine),
        report=None,
        deferred=_deferred(found),
        timings=run.timings,
    )
    return run.summary


def _record_ingest(run: Run, found: Discovery, items: Sequence[Ingested]) -> None:
    """Put the ingest step's counts and quality verdicts in the run's summary."""
    quarantined = [
        {"name": i.source.name, "reason": i.reason} for i in items if i.status != "ingested"
    ]
    run.summary.update(
        new_files=len(items),
        rows_ingested=sum(i.rows for i in items),
        rows_labelled=sum(i.labelled_rows for i in items),
        rows_unlabelled=sum(i.rows - i.labelled_rows for i in items),
        files_quarantined=len(quarantined),
        rows_quarantined=sum(i.rows_quarantined for i in items),
        quarantined=quarantined,
        deferred=_deferred(found),
        quality=ingest_step.quality_summary(items),
    )


def _first_model(run: Run, new_frame: pd.DataFrame | None, pending: Sequence[sa.Row]) -> Outcome:
    """No production model yet: train the first one if any rows came through the gate."""
    from pipeline.model.policy import Decision

    labelled = sum(r.labelled_rows for r in pending)
    if new_frame is None:
        decision = Decision(False, "no usable rows yet: every new file was quarantined")
    elif not labelled:
        why = (
            f"no production model yet, and none of the {len(new_frame)} new rows is labelled: "
            "a first model is trained once labelled rows come in the inbox (a file with its "
            "target filled in some rows); unlabelled rows are kept as inference data, and the "
            "labels inbox cannot label them yet: a label joins its row's prediction, and "
            "predictions need a first model"
        )
        decision = Decision(False, why, {"rows": len(new_frame), "labelled_rows": 0})
    else:
        decision = Decision(True, "no production model yet: training the first one")
    writes.record_decision(run.engine, run.run_id, "retrain", decision)
    promotion = None
    if decision.outcome:
        with run.step("train"):
            promotion = train(run, None, new_frame, [r.id for r in pending])
        events.trained(run, promotion)
    return decision, None, promotion


def _monitor(
    run: Run,
    production: registry.LoadedModel,
    new_frame: pd.DataFrame | None,
    pending: Sequence[sa.Row] = (),
) -> Outcome:
    """Score production on the new rows, measure drift, estimate performance without labels,
    decide, retrain if the policy says so."""
    from pipeline.model.features import labelled_mask
    from pipeline.model.policy import Decision, with_trigger

    s = run.settings
    if new_frame is None:
        decision = Decision(
            False, "no new rows to score: nothing came through the gate or from a labels join"
        )
        writes.record_decision(run.engine, run.run_id, "retrain", decision)
        return decision, None, None
    with run.step("score"):
        result, labelled, pred, proba = score_labelled(run, production, new_frame)
        score_json = None
        if result is not None:
            mask = labelled_mask(new_frame, s["data.target"])
            record_scored(
                run, production.version, "production", "new", labelled, result, pred[mask]
            )
            score_json = {
                **score_doc(result),
                "model_version": production.version,
                "production_metric": production.holdout_score,
                "production_metric_source": production.score_source,
            }
    new = _new_rows(pending, len(new_frame))  # not the rows labels joined: seen before
    drift_doc = _drift(run, production, new_frame, new, pred, proba)
    # Every new row's predictions and probabilities, never its labels (estimate_step); the
    # rows a labels join brought were estimated when their own file came.
    with run.step("estimate"):
        times = estimate_step.ingest_times(pending, len(new_frame))[new].reset_index(drop=True)
        estimate_doc = estimate_step.estimate_for_run(
            run,
            production,
            new_frame[new].reset_index(drop=True),
            pred[new],
            None if proba is None else proba[new],
            times,
            # Beside the estimate only when the score covered exactly these rows: every one
            # labelled, and no joined rows among them.
            result
            if new.all() and result is not None and result.n_rows == len(new_frame)
            else None,
        )
        estimated = estimate_step.decision(run, production, estimate_doc)
    run.summary["estimate"] = estimate_doc
    with run.step("decide"):
        metric = _metric_decision(run, production, result, len(new_frame))
        events.decided(run, production.version, metric, estimated, drift_doc)
        decision = with_trigger(s["policy.trigger"], metric, drift_doc, estimated)
        writes.record_decision(run.engine, run.run_id, "retrain", decision)
        log.info("retrain: %s — %s", decision.outcome, decision.reason)
    promotion = None
    if decision.outcome:
        with run.step("train"):
            promotion = _retrain(run, production)
        events.trained(run, promotion)
    return decision, score_json, promotion


def _drift(
    run: Run,
    production: registry.LoadedModel,
    new_frame: pd.DataFrame,
    new: np.ndarray,
    pred: np.ndarray,
    proba: np.ndarray | None,
) -> dict[str, Any] | None:
    """Drift of the inbox's new rows (`new`) against production's reference; None when off."""
    s = run.settings
    drift_doc = None
    if s["drift.enabled"] and not new.any():
        # Only rows a labels join brought: measured with their own file already. Nothing is
        # recorded, so a tick like this never counts as "not drifted" in drift.persistence.
        why = "no new rows from the inbox: the rows a labels join brought were measured with "
        drift_doc = {"status": "not_tested", "dataset_drift": False, "reason": why + "their file"}
        run.summary["drift"] = drift_doc
    elif s["drift.enabled"]:
        from pipeline.drift.step import detect_for_run

        with run.step("drift"):
            drift_doc = detect_for_run(
                run.engine,
                s,
                run.run_id,
                production,
                new_frame[new].reset_index(drop=True),
                pred[new],
                None if proba is None else proba[new],
            )
        run.summary["drift"] = drift_doc
    return drift_doc


def _metric_decision(
    run: Run, production: registry.LoadedModel, result: Score | None, rows: int
) -> Decision:
    """The metric's retrain decision on the labelled new rows; none labelled: no score, said."""
    from pipeline.model.policy import Decision, retrain_decision

    s = run.settings
    if result is None:
        why = (
            f"no labelled rows among the {rows} new rows: the production model was not scored "
            "(they are inference data; drift was measured on all of them)"
        )
        return Decision(False, why, {"n_rows": 0, "rows": rows, "min_rows": s["policy.min_rows"]})
    return retrain_decision(
        result,
        production.holdout_score,
        baseline_ci=production.holdout_ci,
        baseline_source=production.score_source,
        tolerance=s["policy.tolerance"],
        require_interval=s["policy.require_interval"],
        min_rows=s["policy.min_rows"],
        confidence=s["policy.confidence"],
    )


def _new_rows(pending: Sequence[sa.Row], n: int) -> np.ndarray:
    """Which of the `n` loaded rows came from the inbox (files of kind 'source'): the rows of a
    labels join (kind 'labels') were new, and measured for drift, when their own file came."""
    import numpy as np

    kinds = [getattr(r, "kind", "source") == "source" for r in pending]
    new = np.repeat(kinds, [r.rows for r in pending]) if pending else np.ones(n, dtype=bool)
    return new if len(new) == n else np.ones(n, dtype=bool)  # counts that disagree: every row


def _retrain(run: Run, production: registry.LoadedModel) -> dict[str, Any]:
    """Train a challenger; when the window's data cannot make one (one class only, rows the
    model cannot take), production stays and the run goes on: the same rows would fail the
    same way at every later tick, and the files must still be marked processed."""
    from pipeline.errors import DataError
    from pipeline.model.policy import Decision

    try:
        return train(run, production)
    except DataError as exc:
        reason = f"no challenger could be trained ({exc}): production v{production.version} stays"
        decision = Decision(False, reason, {"error": str(exc), "error_type": exc.error_type})
        writes.record_decision(run.engine, run.run_id, "promote", decision)
        log.warning("promote: False — %s", reason)
        return {"promoted": False, "reason": reason, "challenger_version": None}
