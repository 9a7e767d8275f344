"""The record of a run: its row in `runs` (start, outcome, log) and one `steps` row per step.

Standard library and SQLAlchemy only: the no-op tick goes through here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from pipeline.infra.lock import RunLock
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

    def record_outcome(self, **values: object) -> None:
        """Write status and counts: before the report (which shows them) and at the end."""
        writes.finish_run(
            self.engine,
            self.run_id,
            status=self.summary.get("status", "succeeded"),
            new_files=self.summary.get("new_files", 0),
            rows_ingested=self.summary.get("rows_ingested", 0),
            files_quarantined=self.summary.get("files_quarantined", 0),
            rows_quarantined=self.summary.get("rows_quarantined", 0),
            production_version=self.summary.get("production_version"),
            summary=self.summary,
            **values,
        )

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block and record it as step `name`, failed if it raises; on a terminal, a
        spinner with the time elapsed (and the step's phase) while it runs."""
        started = tables.utcnow()
        t0 = time.perf_counter()
        log.info("%s …", name)
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
            writes.record_step(self.engine, self.run_id, name, started, seconds, status, detail)
            if status == "succeeded":
                log.info("%s done in %.2f s", name, seconds)


@contextmanager
def recorded(settings: Settings, kind: str) -> Iterator[Run]:
    """Hold the lock, record the run's start, its end and its log; mark it failed on error."""
    with RunLock(settings.path("paths.lock")), db.opened(settings.database_url) as engine:
        run = Run(settings, engine, kind)
        run.run_id = writes.start_run(engine, kind)
        capture = LogCapture()
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
                log=capture.text(),
            )
            raise
        else:
            run.record_outcome(log=capture.text())
        finally:
            log.removeHandler(capture)
