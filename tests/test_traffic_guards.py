"""Guards found in review of issue 12's production traffic: a labels join that meets mixed
value types, or fails, never stops a tick; waiting labels wake only for their own ids (in
test_labels_step); prediction health leaves the test file's predictions out; a worker that met
a client's limit refuses its next requests before any work; the committer gives a database
error to the whole batch at once."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import sqlalchemy as sa

from app import limits
from app.commits import Committer
from pipeline.labels.step import _one_type_per_column
from pipeline.settings import Settings
from pipeline.storage import health, tables
from pipeline.tools.sampledata import write_sample_data
from tests.e2e import run_json
from tests.test_api import RECORD, assert_error
from tests.test_auth import bearer, new_token
from tests.test_auth_limits import two_apps


def test_joined_rows_of_mixed_types_write_to_parquet(tmp_path: Path) -> None:
    from pipeline.ingest.ingestion import write_parquet

    frame = pd.DataFrame(
        {
            "geography": pd.Series([5, "France", None, 2.0], dtype=object),  # API and CSV rows
            "employees": pd.Series([1, 2.5, None, 4], dtype=object),
            "flag": pd.Series([True, "yes", None, False], dtype=object),
        }
    )
    fixed = _one_type_per_column(frame.copy())
    write_parquet(fixed, tmp_path / "joined.parquet")
    back = pd.read_parquet(tmp_path / "joined.parquet")
    assert back["geography"].tolist()[:2] == ["5", "France"] and back["geography"].isna()[2]
    assert back["geography"].tolist()[3] == "2"
    assert back["employees"].dtype == "float64" and back["employees"].tolist()[1] == 2.5
    assert back["flag"].tolist()[:2] == ["true", "yes"]


def test_a_failing_labels_join_is_reported_and_the_tick_goes_on(
    project: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.run import tick

    write_sample_data(project, batches=1, rows=300, test_rows=100)
    (project / "labels").mkdir()
    (project / "labels" / "late.csv").write_text("corporation,exited\nC1,1\n")

    def broken(*args: object, **kwargs: object) -> dict:
        raise TypeError("Expected bytes, got a 'int' object")

    monkeypatch.setattr(tick, "labels_step", broken)
    summary = run_json(project, database_url)
    assert summary["status"] == "succeeded" and summary["production_version"] == 1
    assert summary["labels"] == {"error": "TypeError: Expected bytes, got a 'int' object"}


def test_prediction_health_leaves_the_test_files_predictions_out(engine: sa.Engine) -> None:
    when = datetime(2026, 11, 2, 12, tzinfo=UTC)
    rows = [
        {
            "source": source,
            "model_version": 1,
            "prediction": p,
            "label": str(int(p)),
            "probability": p,
            "created_at": when,
            "features": {},
        }
        for source, p in [("api", 0.0)] * 4 + [("diagnostics", 1.0)] * 6
    ]
    with engine.begin() as conn:
        conn.execute(tables.predictions.insert(), rows)
        cells = health.health_cells(
            conn, start=None, end=None, by_event_time=False, inner_edges=[0.5]
        )
        assert sum(c["n"] for c in cells) == 4 and {c["label"] for c in cells} == {"0"}
        assert health.share_before(conn, 1, "1", datetime(2027, 1, 1, tzinfo=UTC), False) == (
            4,
            0,
        )


def test_a_worker_that_met_a_limit_refuses_before_any_work(
    predicting: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "time", SimpleNamespace(time=lambda: 1_800_000_020.5))
    settings = predicting.with_values(api__requests_per_minute=2)
    secret = new_token(settings, "busy", "predict")
    with two_apps(settings) as (first, second):
        one, two = first.test_client(), second.test_client()
        for _ in range(2):
            assert one.post("/prediction", json=[RECORD], headers=bearer(secret)).status_code == 200
        assert_error(two.post("/prediction", json=[RECORD], headers=bearer(secret)), 429)
        commits: list[int] = []
        sa.event.listen(
            second.extensions["riskwatch"].engine, "commit", lambda c: commits.append(1)
        )
        assert_error(two.post("/prediction", json=[RECORD], headers=bearer(secret)), 429)
        assert commits == []  # refused by what it saw: no database work, no prediction


def test_a_database_error_fails_the_whole_batch_at_once() -> None:
    engine = sa.create_engine("sqlite://")
    committer = Committer(engine)
    gate = threading.Event()
    calls: list[str] = []

    def hold(conn: sa.Connection) -> None:
        gate.wait(5)

    def locked(name: str):
        def work(conn: sa.Connection) -> None:
            calls.append(name)
            raise sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))

        return work

    errors: dict[str, BaseException] = {}

    def submit(name: str, work) -> None:
        try:
            committer.run(work)
        except sa.exc.OperationalError as exc:
            errors[name] = exc

    first = threading.Thread(target=submit, args=("hold", hold))
    first.start()
    time.sleep(0.3)  # the committer has taken `hold` alone; the rest queue behind it
    others = [threading.Thread(target=submit, args=(n, locked(n))) for n in ("a", "b", "c")]
    for t in others:
        t.start()
    time.sleep(0.3)
    gate.set()
    for t in [first, *others]:
        t.join()
    assert sorted(errors) == ["a", "b", "c"]
    assert calls == ["a"]  # the batch failed at its first piece; nothing was run again alone


def test_past_predictions_of_a_corrupt_ingested_file_answer_without_features(
    built_project: Path, tmp_path: Path
) -> None:
    from tests.conftest import copy_project
    from tests.test_api import make_app

    settings = copy_project(built_project, tmp_path / "p")
    [parquet] = (settings.path("paths.ingested") / "data").glob("*.parquet")
    parquet.write_bytes(parquet.read_bytes()[:200])  # cut short: not Parquet any more
    with make_app(settings) as app:
        answer = app.test_client().get("/past-predictions?source=scheduled&limit=5")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    [first, *_] = answer.get_json()["predictions"]
    assert first["features"] is None
    assert "cannot be read" in json.dumps(first)


def test_a_piece_that_ends_the_committer_thread_never_leaves_a_request_waiting() -> None:
    committer = Committer(sa.create_engine("sqlite://"))

    def fatal(conn: sa.Connection) -> None:
        raise SystemExit(3)  # not an Exception

    with pytest.raises(SystemExit):
        committer.run(fatal)
    assert committer.run(lambda conn: conn.execute(sa.text("SELECT 7")).scalar()) == 7
