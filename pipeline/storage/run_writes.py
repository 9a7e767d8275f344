"""The rows of a run's life: its start, its steps as they start and end, its work, its end,
and the runs a dead process left `running` (marked failed by the next one). Offered through
`pipeline.storage.writes`, like every write of the engine.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa

from pipeline.storage import tables
from pipeline.storage.text import storable


def start_run(engine: sa.Engine, kind: str) -> str:
    """Record a new run; runs still 'running' died without finishing (the caller holds the lock:
    `mark_interrupted` says what each did first, this only catches any left)."""
    run_id = uuid.uuid4().hex
    with engine.begin() as conn:
        conn.execute(
            tables.runs.update()
            .where(tables.runs.c.status == "running")
            .values(
                status="failed",
                finished_at=tables.utcnow(),
                error="interrupted: the process stopped before the run finished",
            )
        )
        conn.execute(
            tables.runs.insert().values(
                id=run_id, kind=kind, started_at=tables.utcnow(), status="running"
            )
        )
    return run_id


def mark_interrupted(engine: sa.Engine) -> list[dict[str, object]]:
    """Mark failed every run still 'running' (killed, or cut off from the database, before it
    recorded its end: the caller holds the run lock, so none is alive), saying in which step it
    stopped and which steps it had finished; its unfinished step is marked failed too.

    Returns one {"id", "kind", "step", "finished"} per run marked, oldest first.
    """
    r, st = tables.runs, tables.steps
    marked: list[dict[str, object]] = []
    with engine.begin() as conn:
        dead = conn.execute(
            sa.select(r.c.id, r.c.kind, r.c.summary)
            .where(r.c.status == "running")
            .order_by(r.c.started_at)
        ).all()
        for run in dead:
            steps = conn.execute(
                sa.select(st.c.name, st.c.status).where(st.c.run_id == run.id).order_by(st.c.id)
            ).all()
            finished = [s.name for s in steps if s.status == "succeeded"]
            open_steps = [s.name for s in steps if s.status == "running"]
            step = open_steps[-1] if open_steps else None
            where = f" in its {step} step" if step else ""
            done = ", ".join(finished) if finished else "no step"
            error = (
                f"interrupted{where}: the process stopped (killed, or cut off from the database) "
                f"before the run recorded its end; finished: {done}"
            )
            now = tables.utcnow()
            values: dict[str, object] = {"status": "failed", "finished_at": now, "error": error}
            if isinstance(run.summary, dict):  # the counts it recorded before its report
                values["summary"] = {**run.summary, "status": "failed", "error": error}
            conn.execute(r.update().where(r.c.id == run.id).values(**values))
            _fail_open_steps(conn, run.id, "interrupted")
            marked.append({"id": run.id, "kind": run.kind, "step": step, "finished": finished})
    return marked


def _fail_open_steps(conn: sa.Connection, run_id: str, detail: str) -> None:
    st = tables.steps
    conn.execute(
        st.update()
        .where(st.c.run_id == run_id, st.c.status == "running")
        .values(status="failed", finished_at=tables.utcnow(), detail=detail)
    )


def _still_running(run_id: str) -> sa.ColumnElement[bool]:
    """A run's own row, while it is `running`: a run writes its outcome only over its own
    `running`, never over the mark of a run that took the lock after this one lost it."""
    return sa.and_(tables.runs.c.id == run_id, tables.runs.c.status == "running")


def fail_run(engine: sa.Engine, run_id: str, *, step_detail: str, **values: object) -> bool:
    """Record a run failed, and the step it was in (which could not record its own end).
    False (nothing written) if the run was no longer `running`: another run marked it."""
    with engine.begin() as conn:
        done = conn.execute(
            tables.runs.update()
            .where(_still_running(run_id))
            .values(status="failed", finished_at=tables.utcnow(), **storable(values))
        ).rowcount
        if done:
            _fail_open_steps(conn, run_id, storable(step_detail))
    return bool(done)


def finish_run(engine: sa.Engine, run_id: str, *, status: str, **values: object) -> bool:
    """Record a run's end. False (nothing written) if the run was no longer `running`: a run
    that took the lock after this one lost it marked it failed, and that mark stays."""
    with engine.begin() as conn:
        done = conn.execute(
            tables.runs.update()
            .where(_still_running(run_id))
            .values(status=status, finished_at=tables.utcnow(), **storable(values))
        ).rowcount
    return bool(done)


def update_run(engine: sa.Engine, run_id: str, **values: object) -> bool:
    """Write a run's counts and summary while it still runs (its status stays as it is).
    False (nothing written) if the run was no longer `running`."""
    with engine.begin() as conn:
        done = conn.execute(
            tables.runs.update().where(_still_running(run_id)).values(**storable(values))
        ).rowcount
    return bool(done)


def run_status(engine: sa.Engine, run_id: str) -> str | None:
    """A run's status (None if no such run)."""
    with engine.connect() as conn:
        return conn.execute(
            sa.select(tables.runs.c.status).where(tables.runs.c.id == run_id)
        ).scalar()


def start_step(engine: sa.Engine, run_id: str, name: str, started: datetime, *, log: str) -> int:
    """Record a step as running when it starts, with the run's log so far, so that a run that
    dies in it says where."""
    with engine.begin() as conn:
        conn.execute(
            tables.runs.update().where(tables.runs.c.id == run_id).values(log=storable(log))
        )
        return int(
            conn.execute(
                tables.steps.insert()
                .returning(tables.steps.c.id)
                .values(run_id=run_id, name=name, started_at=started, status="running")
            ).scalar_one()
        )


def finish_step(
    engine: sa.Engine,
    step_id: int,
    seconds: float,
    status: str,
    detail: str | None = None,
    *,
    run_id: str,
    log: str,
) -> None:
    """A step's end, and the run's log so far (a run that dies later keeps it)."""
    with engine.begin() as conn:
        conn.execute(
            tables.steps.update()
            .where(tables.steps.c.id == step_id, tables.steps.c.status == "running")
            .values(
                finished_at=tables.utcnow(), seconds=seconds, status=status, detail=storable(detail)
            )
        )
        conn.execute(
            tables.runs.update().where(tables.runs.c.id == run_id).values(log=storable(log))
        )
