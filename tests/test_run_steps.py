"""The run's record (its row, its steps, its log) and the helpers its steps share, in-process."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
import sqlalchemy as sa

from pipeline.errors import DataError
from pipeline.model.metrics import Score
from pipeline.run.record import LogCapture, recorded
from pipeline.run.score_step import score_doc
from pipeline.run.train_step import split
from pipeline.settings import Settings, load_settings
from pipeline.storage import tables


def _steps(settings: Settings) -> list[tuple[str, str, str | None]]:
    engine = sa.create_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            query = sa.select(tables.steps.c.name, tables.steps.c.status, tables.steps.c.detail)
            return [tuple(r) for r in conn.execute(query.order_by(tables.steps.c.id))]
    finally:
        engine.dispose()


def _run_row(settings: Settings) -> sa.Row:
    engine = sa.create_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(tables.runs)).one()
    finally:
        engine.dispose()


def test_a_run_records_its_steps_timings_and_log(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="riskwatch")  # the CLI sets it; this test has no CLI
    with recorded(settings, "ingest") as run:
        with run.step("discover"):
            logging.getLogger("riskwatch").info("looking")
        run.summary.update(status="noop")
    assert _steps(settings) == [("discover", "succeeded", None)]
    assert set(run.timings) == {"discover"} and run.timings["discover"] >= 0
    row = _run_row(settings)
    assert (row.id, row.kind, row.status) == (run.run_id, "ingest", "noop")
    assert "looking" in row.log and "discover done in" in row.log


def test_a_failed_step_fails_the_run_and_says_why(settings: Settings) -> None:
    with (
        pytest.raises(DataError, match="bad rows"),
        recorded(settings, "train") as run,
        run.step("train"),
    ):
        raise DataError("bad rows")
    assert _steps(settings) == [("train", "failed", "DataError: bad rows")]
    row = _run_row(settings)
    assert (row.status, row.error) == ("failed", "DataError: bad rows")
    assert row.summary["status"] == "failed"
    assert not [h for h in logging.getLogger("riskwatch").handlers if isinstance(h, LogCapture)]


@pytest.fixture
def split_settings(tmp_path) -> Settings:
    def make(holdout: str, fraction: float = 0.25) -> Settings:
        (tmp_path / "riskwatch.toml").write_text(
            f'[split]\nholdout = "{holdout}"\nholdout_fraction = {fraction}\n'
        )
        return load_settings(tmp_path / "riskwatch.toml", environ={})

    return make


def test_the_newest_rows_are_held_out(split_settings) -> None:
    frame = pd.DataFrame({"x": range(8)})
    train, holdout = split(split_settings("newest"), frame)
    assert (train["x"].tolist(), holdout["x"].tolist()) == ([0, 1, 2, 3, 4, 5], [6, 7])


def test_a_random_holdout_is_seeded_and_disjoint(split_settings) -> None:
    frame = pd.DataFrame({"x": range(40)})
    settings = split_settings("random")
    train, holdout = split(settings, frame)
    again = split(settings, frame)[1]
    assert len(holdout) == 10 and holdout["x"].tolist() == again["x"].tolist()
    assert sorted([*train["x"], *holdout["x"]]) == list(range(40))
    assert holdout["x"].tolist() != list(range(30, 40))


def test_too_few_rows_to_train_and_hold_out(split_settings) -> None:
    with pytest.raises(DataError, match="only 2 labelled rows in the training window"):
        split(split_settings("newest"), pd.DataFrame({"x": [1, 2]}))


def test_score_doc_is_the_summary_score_object() -> None:
    doc = score_doc(Score("f1", 0.8, 0.7, 0.9, 120))
    assert doc == {"metric": "f1", "value": 0.8, "ci_low": 0.7, "ci_high": 0.9, "n_rows": 120}
    assert list(doc) == ["metric", "value", "ci_low", "ci_high", "n_rows"]


class _Predicts:
    """A stand-in for a loaded artifact: predicts `value` for every row."""

    def __init__(self, value: int) -> None:
        self.value = value

    def predict(self, x: pd.DataFrame) -> list[int]:
        return [self.value] * len(x)


@pytest.mark.parametrize(("loaded_predicts", "refused"), [(1, False), (0, True)])
def test_a_registered_version_must_load_and_predict_as_trained(
    monkeypatch: pytest.MonkeyPatch, loaded_predicts: int, refused: bool
) -> None:
    """The challenger is read back from its file (checksum and unpickling) before any promotion."""
    import numpy as np

    from pipeline.errors import ModelIntegrityError
    from pipeline.model import estimator, registry
    from pipeline.model.features import FeatureSpec
    from pipeline.run import train_step

    loaded = registry.LoadedModel(
        version=7,
        model=_Predicts(loaded_predicts),
        features=FeatureSpec(("x",), ()),
        metric="f1",
        holdout_score=0.5,
        holdout_ci=None,
        sha256="0" * 64,
    )
    calls: list[int] = []

    def load(_engine: object, _settings: object, version: int) -> registry.LoadedModel:
        calls.append(version)
        return loaded

    monkeypatch.setattr(registry, "load", load)
    monkeypatch.setattr(estimator, "predict", lambda m, f, rows: (np.array(m.predict(rows)), None))
    run = type("RunStub", (), {"engine": None, "settings": None})()
    holdout = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    if refused:
        with pytest.raises(ModelIntegrityError, match="version 7: the artifact as loaded"):
            train_step._check_round_trip(run, 7, holdout, np.array([1, 1, 1]))
    else:
        train_step._check_round_trip(run, 7, holdout, np.array([1, 1, 1]))
    assert calls == [7]


def test_a_run_that_died_is_marked_by_the_next_with_what_it_finished(settings: Settings) -> None:
    from pipeline.storage import db, writes

    engine = db.make_engine(settings.database_url)
    try:
        dead = writes.start_run(engine, "run")  # then killed in its ingest step
        step = writes.start_step(engine, dead, "discover", tables.utcnow(), log="a")
        writes.finish_step(engine, step, 0.1, "succeeded", run_id=dead, log="a\nb")
        writes.start_step(engine, dead, "ingest", tables.utcnow(), log="a\nb\ningest …")
    finally:
        engine.dispose()
    with recorded(settings, "ingest") as run:
        run.summary.update(status="noop")
    assert run.recovered == [
        {"id": dead, "kind": "run", "step": "ingest", "finished": ["discover"]}
    ]
    engine = sa.create_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.select(tables.runs).where(tables.runs.c.id == dead)).one()
    finally:
        engine.dispose()
    assert row.status == "failed" and row.log == "a\nb\ningest …"
    assert row.error == (
        "interrupted in its ingest step: the process stopped (killed, or cut off from the "
        "database) before the run recorded its end; finished: discover"
    )
    assert _steps(settings)[:2] == [
        ("discover", "succeeded", None),
        ("ingest", "failed", "interrupted"),
    ]
