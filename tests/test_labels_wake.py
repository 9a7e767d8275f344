"""When waiting labels wake a tick (`label_writes.pending_work`): exactly when a stored
prediction would resolve one of them (`labels.join.match`), whenever it was made, on SQLite and
PostgreSQL; never for predictions that resolve nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from pipeline import predictions
from pipeline.labels import inbox
from pipeline.run import labels_only
from pipeline.settings import Settings
from pipeline.storage import label_tables, tables
from tests.test_labels_step import (  # noqa: F401 (world: a fixture)
    _labels_file,
    _predict,
    _seed,
    _settings,
    world,
)


def _wakes(settings: Settings, engine: sa.Engine) -> bool:
    return inbox.has_work(engine, settings, inbox.new_label_files(engine, settings))


def _labels_step_began(engine: sa.Engine) -> datetime:
    s = tables.steps
    with engine.connect() as conn:
        query = sa.select(s.c.started_at).where(s.c.name == "labels").order_by(s.c.id.desc())
        return conn.execute(query.limit(1)).scalar_one()


def test_a_prediction_made_before_the_last_labels_step_began_still_wakes_it(world) -> None:  # noqa: F811
    """A file's predictions written before a labels step began and committed after its join
    read them (here: stored after the step, stamped before it) are joined at the next tick,
    not when the labels expire."""
    settings, engine, file_id = world
    _labels_file(settings, "early.csv", "corporation,exited\nC0,1\nC1,0\n")
    assert labels_only(settings)["labels"]["pending"] == 2
    began = _labels_step_began(engine)
    assert not _wakes(settings, engine)
    _predict(engine, file_id, created_at=began - timedelta(seconds=5))
    assert _wakes(settings, engine)
    done = labels_only(settings)["labels"]
    assert (done["joined"], done["pending"]) == (2, 0)
    assert not _wakes(settings, engine)


def _api(engine: sa.Engine, key: str, event_time: datetime) -> None:
    predictions.record(
        engine,
        [
            {
                "source": "api",
                "model_version": 1,
                "features": {"employees": 3, "industry": "retail"},
                "row_key": json.dumps([key]),
                "event_time": event_time,
                "prediction": 1.0,
                "label": "1",
            }
        ],
    )


def test_only_a_prediction_inside_a_labels_window_wakes_it(world) -> None:  # noqa: F811
    """A waiting label resolves a prediction of its id at or before its time plus
    labels.max_wait_days: one after that window (the id's later traffic) wakes nothing, however
    new; one inside it, at the window's very edge, wakes the tick and is joined."""
    settings, engine, _ = world
    _labels_file(settings, "early.csv", "corporation,exited\nLATE,1\n")
    labels_only(settings)
    wait = timedelta(days=settings["labels.max_wait_days"])
    with engine.connect() as conn:
        t = label_tables.labels
        received = conn.execute(sa.select(t.c.received_at)).scalar_one()
    _api(engine, "LATE", received + wait + timedelta(seconds=3))
    assert not _wakes(settings, engine)
    assert labels_only(settings)["labels"]["joined"] == 0  # the join agrees: nothing to join
    _api(engine, "OTHER", received)
    assert not _wakes(settings, engine)
    _api(engine, "LATE", received + wait)
    assert _wakes(settings, engine)
    done = labels_only(settings)["labels"]
    assert (done["joined"], done["pending"]) == (1, 0)
    assert not _wakes(settings, engine)


def test_a_label_observed_long_ago_wakes_for_a_prediction_of_that_time(
    project: Path, database_url: str
) -> None:
    """A label's time is when its outcome was observed, when the file says: a prediction made
    now is past its window, one whose event time is before the observation resolves it."""
    settings = _settings(project, database_url, '[labels]\nobserved_at_column = "seen"\n')
    engine = sa.create_engine(database_url)
    try:
        _seed(engine, settings)
        old = datetime(2025, 1, 10, tzinfo=UTC)
        _labels_file(settings, "old.csv", f"corporation,exited,seen\nOLD,1,{old.isoformat()}\n")
        assert labels_only(settings)["labels"]["pending"] == 1
        _api(engine, "OLD", datetime.now(UTC))
        assert not _wakes(settings, engine)
        _api(engine, "OLD", old - timedelta(days=1))
        assert _wakes(settings, engine)
        assert labels_only(settings)["labels"]["joined"] == 1
    finally:
        engine.dispose()


def test_the_wake_reads_the_waiting_labels_ids_not_every_prediction(world) -> None:  # noqa: F811
    """It runs on every tick that has labels waiting: the labels by their status' index, then
    each one's predictions by the row key's; no scan of the predictions."""
    from pipeline.storage import label_writes
    from tests.conftest import query_plans

    settings, engine, file_id = world
    _labels_file(settings, "early.csv", "corporation,exited\nNOBODY,1\n")
    labels_only(settings)
    _predict(engine, file_id)
    now = datetime.now(UTC)
    plans = query_plans(
        engine, lambda c: label_writes.pending_work(c, now - timedelta(days=9), timedelta(days=9))
    )
    assert len(plans) == 2
    assert "ix_predictions_row_key" in plans[1], plans
    assert "SCAN predictions" not in plans[1] and "Seq Scan on predictions" not in plans[1], plans


def test_labels_of_any_year_are_stored_and_read_back(world) -> None:  # noqa: F811
    """A label observed before the year 1000 is written as SQLAlchemy writes it (its year with
    its zeros, on SQLite's text), so the next labels step reads it back and goes on."""
    settings, engine, file_id = world
    _labels_file(settings, "old.csv", "corporation,exited\nC0,1\n")
    text = "corporation,exited,observed_at\nC1,1,0999-06-01\nC2,0,0001-01-01T00:00:00\n"
    (settings.base_dir / "riskwatch.toml").write_text(
        (settings.base_dir / "riskwatch.toml").read_text()
        + '[labels]\nobserved_at_column = "observed_at"\n'
    )
    _labels_file(settings, "ancient.csv", text)
    from pipeline.settings import load_settings

    settings = load_settings(
        settings.base_dir / "riskwatch.toml",
        environ={},
        overrides={"database.url": settings.database_url},
    )
    assert labels_only(settings)["labels"]["pending"] == 3
    with engine.connect() as conn:
        t = label_tables.labels
        found = sorted(conn.execute(sa.select(t.c.observed_at)).scalars(), key=str)
    assert found[:2] == [datetime(1, 1, 1, tzinfo=UTC), datetime(999, 6, 1, tzinfo=UTC)]
    _predict(engine, file_id)
    done = labels_only(settings)["labels"]
    assert "error" not in done
    # C0 is joined; the old ones wait: their ids were predicted long after their outcomes.
    assert (done["joined"], done["pending"]) == (1, 2)
