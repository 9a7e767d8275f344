"""One run: discover, ingest, score, decide, retrain, promote, diagnose, report; all recorded.

Only the standard library, SQLAlchemy and riskwatch's own light modules are imported until the
run knows there is something to do: a tick with nothing new never loads pandas or scikit-learn.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipeline.errors import RiskwatchError
from pipeline.infra import memory
from pipeline.infra.failpoints import failpoint
from pipeline.infra.lock import RunLock
from pipeline.ingest.discovery import Discovery, discover
from pipeline.model import registry
from pipeline.settings import Settings
from pipeline.storage import db, tables, writes

log = logging.getLogger("riskwatch")


class _Capture(logging.Handler):
    """Keeps the run's log lines so they are stored with the run."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Run:
    """The state of one run while it executes."""

    settings: Settings
    engine: sa.Engine
    kind: str
    run_id: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def record_outcome(self, **values: Any) -> None:
        """Write status and counts: before the report (which shows them) and at the end."""
        writes.finish_run(
            self.engine,
            self.run_id,
            status=self.summary.get("status", "succeeded"),
            new_files=self.summary.get("new_files", 0),
            rows_ingested=self.summary.get("rows_ingested", 0),
            files_quarantined=self.summary.get("files_quarantined", 0),
            production_version=self.summary.get("production_version"),
            summary=self.summary,
            **values,
        )

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = tables.utcnow()
        t0 = time.perf_counter()
        log.info("%s …", name)
        status, detail = "succeeded", None
        try:
            yield
        except BaseException as exc:
            status, detail = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            seconds = time.perf_counter() - t0
            self.timings[name] = round(seconds, 4)
            writes.record_step(self.engine, self.run_id, name, started, seconds, status, detail)
            if status == "succeeded":
                log.info("%s done in %.2f s", name, seconds)


def _open(settings: Settings) -> sa.Engine:
    engine = db.make_engine(settings.database_url)
    db.check_schema(engine)
    return engine


@contextmanager
def _recorded(settings: Settings, kind: str) -> Iterator[Run]:
    """Hold the lock, record the run's start, its end and its log; mark it failed on error."""
    with RunLock(settings.path("paths.lock")):
        engine = _open(settings)
        run = Run(settings, engine, kind)
        run.run_id = writes.start_run(engine, kind)
        capture = _Capture()
        log.addHandler(capture)
        log.info("run %s (%s) started", run.run_id, kind)
        try:
            yield run
        except BaseException as exc:
            log.error("run %s failed: %s", run.run_id, exc)
            run.summary.update(run_id=run.run_id, status="failed", error=str(exc))
            writes.finish_run(
                engine,
                run.run_id,
                status="failed",
                error=f"{type(exc).__name__}: {exc}",
                summary=run.summary,
                log="\n".join(capture.lines),
            )
            raise
        else:
            run.record_outcome(log="\n".join(capture.lines))
        finally:
            log.removeHandler(capture)
            engine.dispose()


# --- discovery and ingestion -------------------------------------------------------------


def _discover(run: Run) -> Discovery:
    settings = run.settings
    with run.engine.connect() as conn:
        known = writes.known_hashes(conn)
        cache = writes.hash_cache(conn)
    found = discover(
        settings.path("paths.source"), known, cache, settings["data.min_file_age_seconds"]
    )
    writes.save_hash_cache(run.engine, found.hashes)
    for name, why in found.deferred:
        log.info("left for a later tick: %s (%s)", name, why)
    return found


def _contract(run: Run, found: Discovery) -> Any:
    """The data contract in force; inferred from the first readable new file when there is none."""
    from pipeline.ingest import contract as contracts

    s = run.settings
    path = s.path("paths.contract")
    if path.is_file():
        current = contracts.load(path)
    else:
        current, origin = _bootstrap_contract(run, found)
        if current is None:
            return None
        contracts.save(current, path)
        log.info("no data contract yet: inferred %s from %s", path, origin)
    writes.record_contract(run.engine, run.run_id, current, str(path))
    return current


def _bootstrap_contract(run: Run, found: Discovery) -> tuple[Any, str | None]:
    """Infer a contract from the first new file that can be read and has target and ids."""
    from pipeline.ingest.contract_tools import contract_from_frame
    from pipeline.ingest.readers import read_table

    for source in found.new:
        try:
            frame = read_table(source.path, source.format, tuple(run.settings["data.categorical"]))
            return contract_from_frame(frame, run.settings), source.name
        except RiskwatchError:
            continue
    return None, None


def _ingest(run: Run, found: Discovery, contract: Any) -> list[Any]:
    from pipeline.ingest.checks import file_problem
    from pipeline.ingest.ingestion import Ingested, ingest_file
    from pipeline.report.file_page import relative_path, write_file_report

    s = run.settings
    ingested_dir = s.path("paths.ingested")
    overrides = s["quality.criticality"]
    items = []
    total = len(found.new)
    for i, source in enumerate(found.new, 1):
        if contract is None:  # nothing new could be read: no contract to check against
            why = "no data contract, and no new file could be read to infer one"
            item = Ingested(source, "quarantined", why, quality=file_problem("unreadable", why))
            _quarantine_copy(ingested_dir, item)
        else:
            item = ingest_file(
                source, ingested_dir, contract, overrides, s["quality.missing_significance"]
            )
        memory.release()  # the file's frame is gone; its buffers need not outlive it
        failpoint("after_file_written")
        checked_at = tables.utcnow()
        rel = relative_path(source.sha256)  # by content: a rewrite after a crash is the same page
        item.report = str(
            write_file_report(
                s.path("paths.reports") / rel,
                file_name=source.name,
                sha256=source.sha256,
                result=item.quality,
                contract=contract,
                run_id=run.run_id,
                checked_at=checked_at,
            )
        )
        file_id = writes.record_ingested(
            run.engine,
            run.run_id,
            item,
            contract_version=None if contract is None else contract.version,
            report_path=rel,
            checked_at=checked_at,
        )
        _alert(run, item, file_id)
        if item.status == "ingested":
            log.info(
                "[%d/%d] %s: %d rows ingested, %d quarantined",
                i,
                total,
                source.name,
                item.rows,
                item.rows_quarantined,
            )
        else:
            log.warning("[%d/%d] %s quarantined: %s", i, total, source.name, item.reason)
        items.append(item)
    return items


def _alert(run: Run, item: Any, file_id: int) -> None:
    """Tell the webhook about a file whose problems reach alerts.min_criticality; never fails."""
    from pipeline.ingest import alerts

    s = run.settings
    url = s["alerts.webhook_url"]
    q = item.quality
    if not url or not alerts.at_least(q.criticality, s["alerts.min_criticality"]):
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


def _quarantine_copy(ingested_dir: Path, item: Any) -> None:
    from pipeline.infra.files import atomic_copy, atomic_write
    from pipeline.ingest.ingestion import QUARANTINE_DIR

    rel = f"{QUARANTINE_DIR}/{item.source.sha256[:16]}-{item.source.name}"
    atomic_copy(item.source.path, ingested_dir / rel)
    atomic_write(ingested_dir / f"{rel}.reason.txt", lambda t: t.write_text(item.reason + "\n"))
    item.quarantine_path = rel


def quality_summary(items: list[Any]) -> dict[str, Any]:
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


def _load(run: Run, rows: list[Any]) -> Any:
    import pandas as pd

    base = run.settings.path("paths.ingested")
    # Arrow's buffers are freed column by column as pandas takes them over: the table and the
    # frame never both exist whole.
    convert = {"self_destruct": True, "split_blocks": True}
    frames = [pd.read_parquet(base / r.data_path, to_pandas_kwargs=convert) for r in rows]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    del frames
    memory.release()
    return out


# --- scoring, training, promotion ----------------------------------------------------------


def _score(run: Run, loaded: Any, frame: Any) -> tuple[Any, Any, Any]:
    """Score a loaded model on labelled rows: (Score, predictions, probabilities)."""
    from pipeline.model.estimator import predict
    from pipeline.model.metrics import score_with_interval

    s = run.settings
    pred, proba = predict(loaded.model, loaded.features, frame)
    y = frame[s["data.target"]].to_numpy()
    score = score_with_interval(
        s["model.metric"],
        y,
        pred,
        proba,
        samples=s["policy.bootstrap_samples"],
        confidence=s["policy.confidence"],
        seed=s["model.random_seed"],
        max_rows=s["policy.bootstrap_max_rows"],
    )
    return score, pred, proba


def _confusion(run: Run, version: int, dataset: str, y: Any, pred: Any) -> None:
    if run.settings["model.task"] != "classification":
        return
    from pipeline.model.metrics import class_labels, confusion_counts

    labels = class_labels(y, pred)
    cm = confusion_counts(y, pred, labels)
    rows = [
        {
            "model_version": version,
            "dataset": dataset,
            "actual": str(a),
            "predicted": str(p),
            "count": int(cm[i, j]),
        }
        for i, a in enumerate(labels.tolist())
        for j, p in enumerate(labels.tolist())
    ]
    writes.record_rows(run.engine, tables.confusion_matrices, run.run_id, rows)


def _split(run: Run, frame: Any) -> tuple[Any, Any]:
    """Training rows and the holdout: the newest rows, or a seeded random sample."""
    import numpy as np

    s = run.settings
    n = len(frame)
    n_hold = max(1, round(n * s["split.holdout_fraction"]))
    if n - n_hold < 2:
        from pipeline.errors import DataError

        raise DataError(f"only {n} labelled rows ingested: too few to train and hold out")
    if s["split.holdout"] == "newest":
        return frame.iloc[: n - n_hold], frame.iloc[n - n_hold :]
    rng = np.random.default_rng(s["model.random_seed"])
    hold = np.zeros(n, dtype=bool)
    hold[rng.choice(n, size=n_hold, replace=False)] = True
    return frame[~hold], frame[hold]


def _contract_version(settings: Settings) -> str | None:
    from pipeline.ingest import contract as contracts

    path = settings.path("paths.contract")
    return contracts.load(path).version if path.is_file() else None


def _train(run: Run, champion: Any, new_frame: Any = None, new_ids: Any = ()) -> dict[str, Any]:
    """Train a challenger on all ingested data but the holdout, compare, promote by policy."""
    from pipeline.model import estimator
    from pipeline.model.policy import promote_decision

    s = run.settings
    with run.engine.connect() as conn:
        files = writes.ingested_rows(conn, pending_only=False)
    if new_frame is not None and [f.id for f in files] == list(new_ids):
        data = new_frame  # every ingested row is new and already loaded: no second copy
    else:
        data = _load(run, files)
    train, holdout = _split(run, data)
    features = estimator.infer_features(data, s)
    log.info("training on %d rows, holding out %d", len(train), len(holdout))
    model = estimator.fit(s, features, train)
    memory.release()
    failpoint("after_fit")
    extra = {}
    if s["drift.enabled"]:
        from pipeline.drift.step import IMPORTANCE, PROFILE, importance_bytes, profile_bytes

        hold_pred, hold_proba = estimator.predict(model, features, holdout)
        extra[PROFILE] = profile_bytes(s, features, train, hold_pred, hold_proba)
        if s["drift.weights"] == "importance":
            extra[IMPORTANCE] = importance_bytes(s, model, features, holdout)

    challenger_version = registry.register(
        run.engine,
        s,
        model,
        features=features,
        metric=s["model.metric"],
        holdout_score=None,
        train_rows=len(train),
        holdout_rows=len(holdout),
        training_files=[{"name": f.name, "sha256": f.sha256, "rows": f.rows} for f in files],
        run_id=run.run_id,
        contract_version=_contract_version(s),
        extra_files=extra,
    )
    candidate = registry.load(run.engine, s, challenger_version)
    challenger_score, pred, _ = _score(run, candidate, holdout)
    with run.engine.begin() as conn:
        conn.execute(
            tables.model_versions.update()
            .where(tables.model_versions.c.version == challenger_version)
            .values(
                holdout_score=challenger_score.value,
                holdout_ci_low=challenger_score.ci_low,
                holdout_ci_high=challenger_score.ci_high,
            )
        )
    writes.record_score(
        run.engine, run.run_id, challenger_version, "challenger", "holdout", challenger_score
    )
    _confusion(run, challenger_version, "holdout", holdout[s["data.target"]].to_numpy(), pred)
    champion_score = None
    if champion is not None:
        champion_score, _, _ = _score(run, champion, holdout)
        writes.record_score(
            run.engine, run.run_id, champion.version, "champion", "holdout", champion_score
        )
    decision = promote_decision(champion_score, challenger_score, margin=s["policy.promote_margin"])
    decision.evidence["challenger_version"] = challenger_version
    decision.evidence["champion_version"] = None if champion is None else champion.version
    writes.record_decision(run.engine, run.run_id, "promote", decision)
    log.info("promote: %s — %s", decision.outcome, decision.reason)
    if decision.outcome:
        registry.deploy(
            run.engine,
            s,
            challenger_version,
            kind="initial" if champion is None else "promote",
            reason=decision.reason,
            run_id=run.run_id,
        )
    return {
        "promoted": decision.outcome,
        "reason": decision.reason,
        "challenger_version": challenger_version,
        "challenger": challenger_score.value,
        "champion": None if champion_score is None else champion_score.value,
    }


# --- diagnostics -------------------------------------------------------------------------


def _diagnose(run: Run, new_frame: Any, outdated: Any) -> None:
    import json

    from pipeline.ingest.readers import read_file
    from pipeline.model import estimator
    from pipeline.report import diagnostics

    s = run.settings
    loaded = registry.load_production(run.engine, s)
    features = loaded.features
    if new_frame is not None and len(new_frame):
        cols = [c for c in new_frame.columns if not str(c).startswith("_")]
        writes.record_rows(
            run.engine,
            tables.feature_stats,
            run.run_id,
            diagnostics.summary_stats(new_frame, features.numeric, "new"),
        )
        writes.record_rows(
            run.engine,
            tables.missing_values,
            run.run_id,
            diagnostics.missing_values(new_frame, cols, "new"),
        )
    test_path = s.path("paths.test_data")
    if test_path.is_file():
        test = read_file(test_path, features.categorical)
        missing = [c for c in [*features.columns, s["data.target"]] if c not in test.columns]
        if missing:
            log.warning("test file %s lacks column(s) %s: not scored", test_path, missing)
        else:
            score, pred, proba = _score(run, loaded, test)
            writes.record_score(run.engine, run.run_id, loaded.version, "production", "test", score)
            y = test[s["data.target"]].to_numpy()
            _confusion(run, loaded.version, "test", y, pred)
            records = json.loads(estimator.feature_frame(test, features).to_json(orient="records"))
            writes.record_predictions(
                run.engine,
                [
                    {
                        "run_id": run.run_id,
                        "source": "diagnostics",
                        "model_version": loaded.version,
                        "features": rec,
                        "prediction": float(p),
                        "probability": None if proba is None else float(proba[i]),
                        "actual": float(y[i]),
                    }
                    for i, (rec, p) in enumerate(zip(records, pred, strict=True))
                ],
            )
            writes.record_rows(
                run.engine,
                tables.feature_stats,
                run.run_id,
                diagnostics.summary_stats(test, features.numeric, "test"),
            )
            writes.record_rows(
                run.engine,
                tables.missing_values,
                run.run_id,
                diagnostics.missing_values(test, features.columns, "test"),
            )
    else:
        log.info("no test file at %s: test diagnostics skipped", test_path)
    writes.record_diagnostic(
        run.engine, run.run_id, "library_versions", diagnostics.library_versions()
    )
    if outdated is not None:
        writes.record_diagnostic(run.engine, run.run_id, "outdated_packages", outdated.result())


def _report(run: Run) -> str | None:
    from pipeline.report.run_pdf import build_report

    result = build_report(run.engine, run.settings, run.run_id)
    log.info("report: %s", result.path)
    return str(result.path)


# --- the entry points ----------------------------------------------------------------------


def run_once(settings: Settings) -> dict[str, Any]:
    """One cron tick. Returns the summary `riskwatch run --json` prints."""
    with _recorded(settings, "run") as run:
        s = run.settings
        run.summary.update(run_id=run.run_id, status="running")
        with run.step("discover"):
            found = _discover(run)
            registry.reconcile(run.engine, s, run.run_id)
            with run.engine.connect() as conn:
                pending = writes.ingested_rows(conn, pending_only=True)
        if not found.new and not pending:
            log.info("nothing new: %d known file(s) in %s", found.known, s.path("paths.source"))
            run.summary.update(
                status="noop",
                new_files=0,
                rows_ingested=0,
                files_quarantined=0,
                score=None,
                decision={"retrain": False, "reason": "nothing new to process"},
                production_version=registry.production_version(s),
                report=None,
                deferred=[{"name": n, "reason": r} for n, r in found.deferred],
                timings=run.timings,
            )
            return run.summary

        from pipeline.report.diagnostics import OutdatedPackages

        outdated = None
        if s["diagnostics.outdated_packages"]:
            outdated = OutdatedPackages(s["diagnostics.outdated_timeout_seconds"])
        production = None
        if registry.production_version(s) is not None:
            production = registry.load_production(run.engine, s)
        with run.step("ingest"):
            contract = _contract(run, found) if found.new else None
            items = _ingest(run, found, contract)
        quarantined = [
            {"name": i.source.name, "reason": i.reason} for i in items if i.status != "ingested"
        ]
        run.summary.update(
            new_files=len(items),
            rows_ingested=sum(i.rows for i in items),
            files_quarantined=len(quarantined),
            quarantined=quarantined,
            deferred=[{"name": n, "reason": r} for n, r in found.deferred],
            quality=quality_summary(items),
        )
        with run.engine.connect() as conn:
            pending = writes.ingested_rows(conn, pending_only=True)
        new_frame = _load(run, pending) if pending else None
        score_doc = None
        promotion = None
        if production is None:
            from pipeline.model.policy import Decision

            if new_frame is None:
                decision = Decision(False, "no usable rows yet: every new file was quarantined")
            else:
                decision = Decision(True, "no production model yet: training the first one")
            writes.record_decision(run.engine, run.run_id, "retrain", decision)
            if decision.outcome:
                with run.step("train"):
                    promotion = _train(run, None, new_frame, [r.id for r in pending])
        elif new_frame is None:
            from pipeline.model.policy import Decision

            decision = Decision(False, "no new labelled rows: every new file was quarantined")
            writes.record_decision(run.engine, run.run_id, "retrain", decision)
        else:
            from pipeline.model.policy import retrain_decision, with_trigger

            with run.step("score"):
                score, pred, proba = _score(run, production, new_frame)
                writes.record_score(
                    run.engine, run.run_id, production.version, "production", "new", score
                )
                y = new_frame[s["data.target"]].to_numpy()
                _confusion(run, production.version, "new", y, pred)
                score_doc = {
                    "metric": score.metric,
                    "value": score.value,
                    "ci_low": score.ci_low,
                    "ci_high": score.ci_high,
                    "n_rows": score.n_rows,
                    "model_version": production.version,
                    "production_metric": production.holdout_score,
                }
            drift_doc = None
            if s["drift.enabled"]:
                from pipeline.drift.step import detect_for_run

                with run.step("drift"):
                    drift_doc = detect_for_run(
                        run.engine, s, run.run_id, production, new_frame, pred, proba
                    )
                run.summary["drift"] = drift_doc
            with run.step("decide"):
                decision = retrain_decision(
                    score,
                    production.holdout_score,
                    baseline_ci=production.holdout_ci,
                    tolerance=s["policy.tolerance"],
                    require_interval=s["policy.require_interval"],
                    min_rows=s["policy.min_rows"],
                    confidence=s["policy.confidence"],
                )
                decision = with_trigger(s["policy.trigger"], decision, drift_doc)
                writes.record_decision(run.engine, run.run_id, "retrain", decision)
                log.info("retrain: %s — %s", decision.outcome, decision.reason)
            if decision.outcome:
                with run.step("train"):
                    promotion = _train(run, production)
        if registry.production_version(s) is not None:
            with run.step("diagnose"):
                _diagnose(run, new_frame, outdated)
        writes.mark_processed(run.engine, run.run_id, [r.id for r in pending])
        failpoint("after_processed")
        run.summary.update(
            status="succeeded",
            score=score_doc,
            decision={"retrain": decision.outcome, "reason": decision.reason},
            promotion=promotion,
            production_version=registry.production_version(s),
        )
        run.record_outcome()
        with run.step("report"):
            run.summary["report"] = _report(run)
        run.summary["timings"] = run.timings
        return run.summary


def ingest_only(settings: Settings) -> dict[str, Any]:
    """Take new files into ingesteddata/ without scoring them; the next full run processes them."""
    with _recorded(settings, "ingest") as run:
        with run.step("discover"):
            found = _discover(run)
        items = []
        if found.new:
            with run.step("ingest"):
                items = _ingest(run, found, _contract(run, found))
        run.summary.update(
            run_id=run.run_id,
            status="succeeded" if items else "noop",
            new_files=len(items),
            rows_ingested=sum(i.rows for i in items),
            files_quarantined=sum(i.status != "ingested" for i in items),
            files=[
                {
                    "name": i.source.name,
                    "sha256": i.source.sha256,
                    "status": i.status,
                    "rows": i.rows,
                    "reason": i.reason,
                }
                for i in items
            ],
            quality=quality_summary(items),
            timings=run.timings,
        )
        return run.summary


def score_only(settings: Settings, data: Path | None = None) -> dict[str, Any]:
    """Score the production model on a labelled file (the test file by default) and record it."""
    from pipeline.ingest.readers import read_file

    with _recorded(settings, "score") as run:
        with run.step("score"):
            loaded = registry.load_production(run.engine, settings)
            path = data or settings.path("paths.test_data")
            frame = read_file(path, loaded.features.categorical)
            score, pred, _ = _score(run, loaded, frame)
            writes.record_score(run.engine, run.run_id, loaded.version, "production", "test", score)
            _confusion(run, loaded.version, "test", frame[settings["data.target"]].to_numpy(), pred)
        run.summary.update(
            run_id=run.run_id,
            status="succeeded",
            data=str(path),
            production_version=loaded.version,
            score={
                "metric": score.metric,
                "value": score.value,
                "ci_low": score.ci_low,
                "ci_high": score.ci_high,
                "n_rows": score.n_rows,
            },
            timings=run.timings,
        )
        return run.summary


def train_only(settings: Settings) -> dict[str, Any]:
    """Train a challenger on everything ingested and promote it if the policy says so."""
    with _recorded(settings, "train") as run:
        production = None
        if registry.production_version(settings) is not None:
            production = registry.load_production(run.engine, settings)
        with run.step("train"):
            promotion = _train(run, production)
        run.summary.update(
            run_id=run.run_id,
            status="succeeded",
            promotion=promotion,
            production_version=registry.production_version(settings),
            timings=run.timings,
        )
        return run.summary


def diagnose_only(settings: Settings) -> dict[str, Any]:
    """Diagnostics of the production model on the test file, recorded as a run of their own."""
    from pipeline.report.diagnostics import OutdatedPackages

    with _recorded(settings, "diagnose") as run:
        outdated = None
        if settings["diagnostics.outdated_packages"]:
            outdated = OutdatedPackages(settings["diagnostics.outdated_timeout_seconds"])
        with run.step("diagnose"):
            _diagnose(run, None, outdated)
        run.summary.update(
            run_id=run.run_id,
            status="succeeded",
            production_version=registry.production_version(settings),
            timings=run.timings,
        )
        return run.summary


def report_for(settings: Settings, run_id: str | None) -> str:
    """(Re)build the PDF report of a run, the latest finished one by default."""
    from pipeline.errors import NotFound
    from pipeline.report.run_pdf import build_report

    engine = _open(settings)
    try:
        if run_id is None:
            with engine.connect() as conn:
                run_id = conn.execute(
                    sa.select(tables.runs.c.id)
                    .where(tables.runs.c.status == "succeeded")
                    .order_by(tables.runs.c.started_at.desc())
                    .limit(1)
                ).scalar()
            if run_id is None:
                raise NotFound("no finished run yet: run `riskwatch run` first")
        return str(build_report(engine, settings, run_id).path)
    finally:
        engine.dispose()


def rollback(settings: Settings, to_version: int | None, reason: str) -> dict[str, Any]:
    with _recorded(settings, "rollback") as run:
        previous = registry.production_version(settings)
        version = registry.rollback(
            run.engine, settings, to_version, reason=reason, run_id=run.run_id
        )
        run.summary.update(
            run_id=run.run_id, status="succeeded", from_version=previous, production_version=version
        )
        return run.summary
