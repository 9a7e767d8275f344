"""The record of a run: its row in `runs` (start, outcome, log) and one `steps` row per step.

A step's row is written when it starts (status running) and completed when it ends, with the
run's log so far; a run that dies, killed or cut off from the database, is thus found by the
next one (`writes.mark_interrupted`, under the lock) with the step it died in and the steps it
finished. The lock is the file lock and, on PostgreSQL, the database's advisory lock
(pipeline.infra.lock): runs on other machines sharing the database are kept apart too, so the
runs marked interrupted are dead ones, never one running elsewhere. The lock's connection can
close mid-run (a server restart, `idle_session_timeout`, a network cut) and another run take
the lock and mark this one failed: the run checks the lock and its own status before each
step, before it records its work and its end, and right before a deploy (`Run.check_lock`),
and writes its counts and its end only over its own `running` (a mark found stays): either
way DatabaseLockLost, the run stops failed (exit 1). A database lost mid-run
ends the run as one DatabaseUnreachable (exit 5), never a traceback: the run marks itself
failed if the database answers again, else the next run does.

Standard library and SQLAlchemy only: the no-op tick goes through here.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from pipeline.errors import DatabaseUnreachable
from pipeline.infra.lock import DatabaseLock, DatabaseLockLost, LockHeld, RunLock
from pipeline.infra.progress import Progress
from pipeline.settings import Settings
from pipeline.storage import db, tables, writes

log = logging.getLogger("riskwatch")


class LogCapture(logging.Handler):
    """Keeps the run's log lines so they are stored with the run."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Run:
    """The state of one run while it executes."""

    settings: Settings
    engine: sa.Engine
    kind: str
    run_id: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    # Runs found dead at the start of this one (`writes.mark_interrupted`), and the step now
    # running (what a lost database connection names).
    recovered: list[dict[str, Any]] = field(default_factory=list)
    current_step: str | None = None
    capture: LogCapture = field(default_factory=LogCapture)
    # The database's run lock (PostgreSQL), checked as each step starts, before the run records
    # its work and its end, and right before a deploy (`check_lock`).
    lock: DatabaseLock | None = None

    def _counts(self, status: str) -> dict[str, object]:
        return {
            "new_files": self.summary.get("new_files", 0),
            "rows_ingested": self.summary.get("rows_ingested", 0),
            "files_quarantined": self.summary.get("files_quarantined", 0),
            "rows_quarantined": self.summary.get("rows_quarantined", 0),
            "rows_labelled": self.summary.get("rows_labelled", 0),
            "rows_unlabelled": self.summary.get("rows_unlabelled", 0),
            "production_version": self.summary.get("production_version"),
            "summary": {**self.summary, "status": status},
        }

    def record_work(self) -> None:
        """Write the counts and the summary before the report (which shows them, and when the
        work finished), the status left 'running': a run is `succeeded` only once its report
        is written."""
        self.check_lock("the run recorded its work")
        written = writes.update_run(
            self.engine,
            self.run_id,
            **self._counts("running"),
            finished_at=tables.utcnow(),
            log=self.capture.text(),
        )
        if not written:
            raise self._marked("the run recorded its work")

    def record_outcome(self, **values: object) -> None:
        """Write the status, the counts and the summary: the run's end, over its own `running`
        only (the lock checked first; a run marked meanwhile: DatabaseLockLost)."""
        self.check_lock("the run recorded its end")
        status = self.summary.get("status", "succeeded")
        counts = self._counts(status)
        if not writes.finish_run(self.engine, self.run_id, status=status, **counts, **values):
            raise self._marked("the run recorded its end")

    def _marked(self, before: str) -> DatabaseLockLost:
        status = writes.run_status(self.engine, self.run_id)
        return DatabaseLockLost(
            f"the run lock was lost before {before}: another run marked this one {status} "
            "meanwhile, and that mark stays: this run stops"
        )

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block and record it as step `name`, failed if it raises; on a terminal, a
        spinner with the time elapsed (and the step's phase) while it runs."""
        self.check_lock(f"the {name} step")
        started = tables.utcnow()
        t0 = time.perf_counter()
        log.info("%s …", name)
        step_id = writes.start_step(
            self.engine, self.run_id, name, started, log=self.capture.text()
        )
        self.current_step = name
        status, detail = "succeeded", None
        spinner = Progress(name, plain=False, ticking=True, keep=False).start()
        try:
            yield
        except BaseException as exc:
            status, detail = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            spinner.close()
            seconds = time.perf_counter() - t0
            self.timings[name] = round(seconds, 4)
            if status == "succeeded":
                log.info("%s done in %.2f s", name, seconds)
            writes.finish_step(
                self.engine,
                step_id,
                seconds,
                status,
                detail,
                run_id=self.run_id,
                log=self.capture.text(),
            )
            self.current_step = None

    def check_lock(self, before: str) -> None:
        """Before a step, before the run records its work and its end, right before a deploy
        (`before` says which, "the train step"): the database's lock is still held, and this
        run is still `running`. The lock's connection may have closed while the run's own
        reconnected (a server restart between statements); then it is taken again, if no other
        run took it meanwhile and this run is still `running` (not marked interrupted by a run
        that held it in between). Otherwise DatabaseLockLost."""
        if self.lock is None:
            return
        if self.lock.held():
            if self.run_id and writes.run_status(self.engine, self.run_id) != "running":
                raise self._marked(before)
            return
        try:
            self.lock.take_again()
        except LockHeld as exc:
            raise DatabaseLockLost(
                f"the connection holding the database's run lock closed before {before}, and "
                f"{exc.holder} holds the lock now: this run stops"
            ) from exc
        status = writes.run_status(self.engine, self.run_id) if self.run_id else "running"
        if status != "running":
            raise DatabaseLockLost(
                f"the connection holding the database's run lock closed before {before}, and "
                f"another run marked this one {status} meanwhile: this run stops"
            )
        log.warning(
            "the connection holding the database's run lock closed before %s; the lock is "
            "taken again (no other run took it meanwhile)",
            before,
        )


@contextmanager
def run_locked(settings: Settings) -> Iterator[tuple[sa.Engine, DatabaseLock]]:
    """The run lock held and the database opened: the file lock (`paths.lock`, the runs of this
    machine), then on PostgreSQL the database's advisory lock (the runs of every machine that
    shares the database). Either held elsewhere: LockHeld (exit 0, saying which lock)."""
    with (
        RunLock(settings.path("paths.lock")),
        db.opened(settings.database_url) as engine,
        DatabaseLock(engine) as lock,
    ):
        yield engine, lock


@contextmanager
def recorded(settings: Settings, kind: str) -> Iterator[Run]:
    """Hold the lock, record the run's start, its end and its log; mark it failed on error.

    Runs that died before recording their end are marked first (`Run.recovered`).
    """
    with run_locked(settings) as (engine, lock):
        run = Run(settings, engine, kind, lock=lock if lock.applies else None)
        capture = run.capture
        try:
            run.recovered = writes.mark_interrupted(engine)
            run.run_id = writes.start_run(engine, kind)
        except Exception as exc:
            _raise_lost(run, exc)
            raise
        log.addHandler(capture)
        log.info("run %s (%s) started", run.run_id, kind)
        for dead in run.recovered:
            log.warning("run %s (%s) had died: %s", dead["id"], dead["kind"], _died(dead))
        try:
            yield run
        except BaseException as exc:
            if isinstance(exc, Exception):
                from pipeline.run.events import failed

                failed(run, exc)  # told before the database is known lost (it may be)
                _raise_lost(run, exc)  # a lost database: one line, exit 5
            _record_failed(run, exc)
            raise
        else:
            try:
                run.record_outcome(log=capture.text())
            except DatabaseLockLost as exc:
                _record_failed(run, exc)  # only over its own `running`: a mark found stays
                raise
            except Exception as exc:
                _raise_lost(run, exc)
                raise
        finally:
            log.removeHandler(capture)


def _record_failed(run: Run, exc: BaseException) -> None:
    """Record the run failed, if it is still `running` (a run that took the lock after this one
    lost it may have marked it already: that mark stays)."""
    log.error("run %s failed: %s", run.run_id, exc)
    run.summary.update(run_id=run.run_id, status="failed", error=str(exc))
    with contextlib.suppress(AttributeError):  # what `--json` prints of a failed run
        exc.run_summary = run.summary  # type: ignore[attr-defined]
    try:
        writes.finish_run(  # with what it did before it failed (the files it ingested)
            run.engine,
            run.run_id,
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            log=run.capture.text(),
            **run._counts("failed"),
        )
    except Exception as lost:
        _raise_lost(run, lost)
        raise


def _died(dead: dict[str, Any]) -> str:
    if dead["step"]:
        where = f"in its {dead['step']} step"
    elif dead["finished"]:  # every step it began had finished: it stopped between or after
        where = "after its last step"
    else:
        where = "before its first step"
    done = ", ".join(dead["finished"]) or "no step"
    return f"stopped {where} (finished: {done}); marked failed"


def _raise_lost(run: Run, exc: Exception) -> None:
    """Raise DatabaseUnreachable (one line, exit 5) if `exc` means the database is lost, after
    recording the run failed if the database answers again, else saying the next run will; a
    SQLite file that is not a database is DatabaseNotReady. Any other error: return."""
    step = f", in its {run.current_step} step" if run.current_step else ""
    doing = f" during run {run.run_id}{step}" if run.run_id else " as the run started"
    mapped = db.as_riskwatch_error(exc, run.engine.url, doing)
    if mapped is None:
        return
    if not isinstance(mapped, DatabaseUnreachable) or not run.run_id:
        raise mapped from exc
    line = f"run {run.run_id} failed: {mapped}"
    # Stored with the run if the database answers again; stderr gets the CLI's one line only.
    run.capture.handle(log.makeRecord(log.name, logging.ERROR, __file__, 0, line, (), None))
    try:
        writes.fail_run(
            run.engine,
            run.run_id,
            step_detail=f"DatabaseUnreachable: {mapped}",
            error=f"DatabaseUnreachable: {mapped}",
            summary={**run.summary, "run_id": run.run_id, "status": "failed", "error": str(mapped)},
            log=run.capture.text(),
        )
    except Exception:
        raise DatabaseUnreachable(
            f"{mapped}; the run could not record its end: the next run marks it failed"
        ) from exc
    raise DatabaseUnreachable(f"{mapped}; the run is recorded as failed") from exc
