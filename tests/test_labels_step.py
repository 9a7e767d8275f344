"""Labels that arrive later, against a real database (SQLite and PostgreSQL) and real files:
labels before, after and without their predictions, duplicated and conflicting, hostile label
files, realised performance equal to scikit-learn's on the joined rows, joined rows in the
training window exactly once. Predictions are written with `pipeline.predictions.record_file`
(as the scheduled prediction step writes them) for an ingested file of unlabelled rows."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from pipeline import predictions
from pipeline.run import labels_only
from pipeline.run.record import Run
from pipeline.run.training_data import training_data
from pipeline.settings import Settings, load_settings
from pipeline.storage import label_tables, label_writes, tables, writes
from tests.e2e import invoke
from tests.test_history import CONTRACT_TOML

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SEED_RUN = "b" * 32
N = 10  # rows C0..C9 of the unlabelled file; C8 and C9 carry labels in it (0 and 1)


def _settings(project: Path, url: str, extra: str = "") -> Settings:
    (project / "riskwatch.toml").write_text(
        "[diagnostics]\noutdated_packages = false\n[policy]\nbootstrap_samples = 200\n" + extra
    )
    (project / "contract.toml").write_text(CONTRACT_TOML)
    (project / "labels").mkdir(exist_ok=True)
    return load_settings(project / "riskwatch.toml", environ={}, overrides={"database.url": url})


def _seed(engine: sa.Engine, settings: Settings, name: str = "batch.parquet") -> int:
    """A model version and an ingested file of N rows, C8 and C9 labelled in it; its id."""
    frame = pd.DataFrame(
        {
            "corporation": [f"C{i}" for i in range(N)],
            "employees": np.arange(N, dtype=float),
            "industry": ["retail", "energy"] * (N // 2),
            "exited": [np.nan] * (N - 2) + [0.0, 1.0],
        }
    )
    rel = f"data/{name}"
    path = settings.path("paths.ingested") / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    with engine.begin() as conn:
        if not conn.execute(
            sa.select(tables.runs.c.id).where(tables.runs.c.id == SEED_RUN)
        ).first():
            conn.execute(
                tables.runs.insert().values(
                    id=SEED_RUN, kind="run", started_at=WHEN, status="succeeded"
                )
            )
            conn.execute(
                tables.model_versions.insert().values(
                    version=1,
                    created_at=WHEN,
                    artifact="1/model.joblib",
                    sha256="0" * 64,
                    estimator="x",
                    params={},
                    features={"numeric": ["employees"], "categorical": ["industry"]},
                    metric="f1",
                    train_rows=1,
                    holdout_rows=1,
                    training_files=[],
                )
            )
        return int(
            conn.execute(
                tables.ingested_files.insert().values(
                    run_id=SEED_RUN,
                    sha256=name.ljust(64, "0")[:64],
                    name=name,
                    size_bytes=path.stat().st_size,
                    status="ingested",
                    rows=N,
                    labelled_rows=int(frame["exited"].notna().sum()),
                    data_path=rel,
                    ingested_at=WHEN,
                    processed_run_id=SEED_RUN,
                )
            ).inserted_primary_key[0]
        )


PREDICTED = [1, 0, 1, 1, 0, 0, 1, 0, 0, 1]
PROBA = [0.9, 0.2, 0.7, 0.6, 0.4, 0.1, 0.8, 0.3, 0.2, 0.95]


def _predict(engine: sa.Engine, file_id: int, created_at: datetime = WHEN) -> None:
    batch = predictions.Batch(
        row_numbers=list(range(N)),
        predictions=[float(p) for p in PREDICTED],
        labels=[str(p) for p in PREDICTED],
        probability=PROBA,
        row_keys=[json.dumps([f"C{i}"]) for i in range(N)],
    )
    who = predictions.FileRun(file_id, 1, SEED_RUN, created_at, stamp=created_at)
    predictions.record_file(engine, who, iter([batch]))


def _labels_file(settings: Settings, name: str, text: str) -> Path:
    path = settings.path("paths.labels") / name
    path.write_text(text)
    return path


def _statuses(engine: sa.Engine) -> dict[str, str]:
    t = label_tables.labels
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.row_key, t.c.label, t.c.status).order_by(t.c.id))
        return {f"{json.loads(r.row_key)[0]}={r.label}#{i}": r.status for i, r in enumerate(rows)}


@pytest.fixture
def world(project: Path, database_url: str):
    settings = _settings(project, database_url)
    engine = sa.create_engine(database_url)
    file_id = _seed(engine, settings)
    yield settings, engine, file_id
    engine.dispose()


def test_labels_after_their_predictions_are_joined_and_become_labelled_data(world):
    settings, engine, file_id = world
    _predict(engine, file_id)
    _labels_file(settings, "day1.csv", "corporation,exited\nC0,1\nC1,0\nC2,0\nC3,1\nC4,1\n")
    done = labels_only(settings)["labels"]
    assert (done["received"], done["joined"], done["pending"], done["conflict"]) == (5, 5, 0, 0)
    joined = pd.read_parquet(settings.path("paths.ingested") / done["joined_file"])
    assert joined["corporation"].tolist() == ["C0", "C1", "C2", "C3", "C4"]
    assert joined["exited"].tolist() == [1, 0, 0, 1, 1]
    assert joined["employees"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]  # the row's features
    with engine.connect() as conn:
        [row] = conn.execute(
            sa.select(tables.ingested_files).where(tables.ingested_files.c.kind == "labels")
        ).all()
        assert row.rows == 5 and row.processed_run_id is None  # the next run scores them
        [perf] = label_writes.latest_realised(conn, "f1")
        every = {r["metric"]: r for r in label_writes.latest_realised(conn)}
    y, pred = [1, 0, 0, 1, 1], PREDICTED[:5]
    assert perf["value"] == pytest.approx(f1_score(y, pred))
    # Every metric of the task is realised too, each what scikit-learn says of the same rows.
    assert set(every) == {"f1", "accuracy", "roc_auc", "precision", "recall"}
    assert every["accuracy"]["value"] == pytest.approx(accuracy_score(y, pred))
    assert every["precision"]["value"] == pytest.approx(precision_score(y, pred))
    assert every["recall"]["value"] == pytest.approx(recall_score(y, pred))
    assert every["roc_auc"]["value"] == pytest.approx(roc_auc_score(y, PROBA[:5]))
    assert done["realised"][0]["metrics"]["accuracy"]["value"] == every["accuracy"]["value"]
    assert perf["n_rows"] == 5 and perf["model_version"] == 1 and perf["period"] == "day"
    assert perf["period_start"] == datetime(2026, 3, 2, tzinfo=UTC)  # the file's ingested day
    assert perf["ci_low"] <= perf["value"] <= perf["ci_high"]
    again = labels_only(settings)
    assert again["status"] == "noop" and again["labels"]["new_files"] == 0


def test_labels_before_their_predictions_wait_and_are_joined_when_they_come(world):
    settings, engine, file_id = world
    _labels_file(settings, "early.csv", "corporation,exited\nC0,1\nC1,1\n")
    first = labels_only(settings)["labels"]
    assert (first["received"], first["joined"], first["pending"]) == (2, 0, 2)
    from pipeline.labels import inbox

    assert not inbox.has_work(engine, settings, inbox.new_label_files(engine, settings))
    _predict(engine, file_id, created_at=datetime.now(UTC) + timedelta(seconds=1))
    assert inbox.has_work(engine, settings, inbox.new_label_files(engine, settings))
    second = labels_only(settings)["labels"]
    assert (second["new_files"], second["joined"], second["pending"]) == (0, 2, 0)


def test_labels_without_predictions_wait_then_are_unmatched(project: Path, database_url: str):
    settings = _settings(project, database_url, "[labels]\nmax_wait_days = 0\n")
    engine = sa.create_engine(database_url)
    try:
        _predict(engine, _seed(engine, settings))
        _labels_file(settings, "x.csv", "corporation,exited\nNOBODY,1\nC0,1\n")
        done = labels_only(settings)["labels"]
        assert (done["joined"], done["unmatched"], done["pending"]) == (1, 1, 0)
        assert _statuses(engine) == {"NOBODY=1#0": "unmatched", "C0=1#1": "joined"}
    finally:
        engine.dispose()


def test_duplicates_count_once_and_conflicts_are_reported_and_not_used(world):
    settings, engine, file_id = world
    _predict(engine, file_id)
    _labels_file(
        settings,
        "a.csv",
        "corporation,exited\nC0,1\nC0,1\nC1,0\nC1,1\nC9,1\nC8,1\nC2,1\n",
    )
    done = labels_only(settings)["labels"]
    # C0 twice: once joined, once a duplicate; C1 0 and 1: both conflicts; C9 says what its own
    # file says: a duplicate; C8's own file says 0: a conflict; C2: joined.
    assert (done["joined"], done["duplicate"], done["conflict"]) == (2, 2, 3)
    _labels_file(settings, "b.csv", "corporation,exited\nC0,0\nC2,1\nC1,0\nC3,0\n")
    later = labels_only(settings)["labels"]
    # C0 was joined to 1: 0 is a conflict and 1 stays; C2 1 and C1 0 again: received before,
    # duplicates; C3: joined.
    assert (later["joined"], later["duplicate"], later["conflict"]) == (1, 2, 1)
    assert _statuses(engine)["C0=0#7"] == "conflict"
    with engine.connect() as conn:
        files = conn.execute(
            sa.select(tables.ingested_files.c.data_path).where(
                tables.ingested_files.c.kind == "labels"
            )
        ).scalars()
        joined = pd.concat([pd.read_parquet(settings.path("paths.ingested") / p) for p in files])
    assert sorted(joined["corporation"]) == ["C0", "C2", "C3"]  # each row once, none in conflict


def test_realised_performance_of_a_period_is_computed_again_with_history(world):
    settings, engine, file_id = world
    _predict(engine, file_id)
    _labels_file(settings, "1.csv", "corporation,exited\nC0,1\nC1,0\nC2,0\n")
    labels_only(settings)
    _labels_file(settings, "2.csv", "corporation,exited\nC3,0\nC4,1\nC5,0\nC6,1\n")
    labels_only(settings)
    t = label_tables.realised_performance
    with engine.connect() as conn:
        history = conn.execute(sa.select(t).order_by(t.c.id)).all()
        [now] = label_writes.latest_realised(conn, "f1")
    assert [r.n_rows for r in history if r.metric == "f1"] == [3, 7]
    y = [1, 0, 0, 0, 1, 0, 1]
    assert now["value"] == pytest.approx(f1_score(y, PREDICTED[:7])) and now["n_rows"] == 7


def test_joined_rows_join_the_training_window_exactly_once(world):
    settings, engine, file_id = world
    _predict(engine, file_id)
    _labels_file(settings, "1.csv", "corporation,exited\nC0,1\nC1,0\nC9,1\n")
    labels_only(settings)
    _labels_file(settings, "2.csv", "corporation,exited,observed_at\nC0,1,\nC1,0,2026-03-05\n")
    labels_only(settings)  # C0 again: a duplicate; C1 again with a time: joined already
    engine2 = sa.create_engine(settings.database_url)
    run = Run(settings, engine2, "train")
    frame = training_data(run).frame
    engine2.dispose()
    labelled = frame[frame["exited"].notna()]
    # C0 and C1 from the joined file, C8 and C9 from their own: every labelled row once.
    assert sorted(labelled["corporation"]) == ["C0", "C1", "C8", "C9"]
    with engine.connect() as conn:
        assert len(writes.ingested_rows(conn, pending_only=True)) == 1  # the joined file


HOSTILE = [
    ("empty.csv", "", "empty"),
    ("header-only.csv", "corporation,exited\n", "header but no rows"),
    ("no-id.csv", "company,exited\nC0,1\n", "id column 'corporation' is missing"),
    ("no-target.csv", "corporation\nC0\n", "the target 'exited' is missing"),
    ("binary.csv", b"\x00\x01\x02\xff" * 100, "binary"),
    ("odd.jsonl", '{"corporation": "C0", "exited": 1}\n[1, 2]\n', "line 2 is an array"),
]


def test_hostile_label_files_are_quarantined_and_never_stop_the_tick(world):
    settings, engine, file_id = world
    _predict(engine, file_id)
    for name, content, _ in HOSTILE:
        path = settings.path("paths.labels") / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    _labels_file(
        settings,
        "garbage-times.csv",
        "corporation,exited,observed_at\nC0,1,not-a-time\nC1,1,2026-99-01\n,1,\nC2,7,\nC3,1,\n",
    )
    done = labels_only(settings)["labels"]
    files = {f["name"]: f for f in done["files"]}
    for name, _, reason in HOSTILE:
        assert files[name]["status"] == "quarantined", name
        assert reason in files[name]["reason"], (name, files[name]["reason"])
    times = files["garbage-times.csv"]
    assert times["invalid_by_type"] == {"bad_time": 2, "no_id": 1, "invalid_label": 1}
    assert done["rows_invalid"] == 4 and done["joined"] == 1  # C3
    with engine.connect() as conn:
        t = label_tables.label_files
        kept = dict(conn.execute(sa.select(t.c.name, t.c.quarantine_path)).all())
    quarantine = settings.path("paths.ingested")
    bad = pd.read_parquet(quarantine / kept["garbage-times.csv"])
    assert bad["_riskwatch_row"].tolist() == [1, 2, 3, 4]
    assert (quarantine / kept["no-id.csv"]).read_bytes() == b"company,exited\nC0,1\n"
    again = labels_only(settings)
    assert again["status"] == "noop" and again["labels"]["files"] == []


@pytest.mark.parametrize(
    "rows",
    ["C0,maybe\n", ",1\n,0\n", "C0,1,1767225600\nC1,0,2026-02-30\n"],
    ids=["invalid_label", "no_id", "bad_time"],
)
def test_a_labels_file_whose_every_row_is_bad_is_taken_beside_good_ones(world, rows):
    """Every row of a file in quarantine with its reason (none is a label to record), and the
    other files of the inbox joined in the same tick; the next tick has nothing to do."""
    settings, engine, file_id = world
    _predict(engine, file_id)
    header = "corporation,exited" + (",observed_at" if rows.count(",") > rows.count("\n") else "")
    _labels_file(settings, "all-bad.csv", header + "\n" + rows)
    _labels_file(settings, "good.csv", "corporation,exited\nC1,1\n")
    done = labels_only(settings)["labels"]
    files = {f["name"]: f for f in done["files"]}
    bad = files["all-bad.csv"]
    assert bad["status"] == "taken" and bad["rows_valid"] == 0
    assert bad["rows_invalid"] == rows.count("\n") and done["joined"] == 1
    assert labels_only(settings)["status"] == "noop"


def test_a_huge_labels_file_is_taken_in_one_tick(world):
    settings, engine, file_id = world
    _predict(engine, file_id)
    n = 100_000
    lines = "".join(f"X{i},{i % 2}\n" for i in range(n))
    _labels_file(settings, "huge.csv", "corporation,exited\n" + lines + "C0,1\n")
    done = labels_only(settings)["labels"]
    assert done["received"] == n + 1 and done["joined"] == 1 and done["pending"] == n


def test_the_labels_command_prints_its_counts(world):
    settings, engine, file_id = world
    _predict(engine, file_id)
    _labels_file(settings, "day1.csv", "corporation,exited\nC0,1\nC1,2\n")
    url = settings.database_url
    proc = invoke(settings.base_dir, "labels", database_url=url)
    assert proc.returncode == 0, proc.stderr
    assert "1 received, 1 bad rows, 1 joined" in proc.stdout
    assert "day1.csv: 1 bad rows: invalid_label (1)" in proc.stdout
    assert "realised day 2026-03-02 v1: f1" in proc.stdout
    proc = invoke(settings.base_dir, "labels", "--json", database_url=url)
    assert json.loads(proc.stdout)["status"] == "noop"


@pytest.mark.parametrize(
    "point", ["after_label_file_recorded", "before_labels_joined", "after_labels_joined"]
)
def test_a_labels_run_killed_anywhere_joins_every_label_exactly_once(world, point):
    from pipeline.infra.failpoints import ENV
    from tests.e2e import cli

    settings, engine, file_id = world
    _predict(engine, file_id)
    _labels_file(settings, "day1.csv", "corporation,exited\nC0,1\nC1,0\nC2,0\n")
    url = settings.database_url
    killed = cli(settings.base_dir, "labels", "--json", database_url=url, env={ENV: point})
    assert killed.returncode == -9, killed.stderr
    proc = invoke(settings.base_dir, "labels", "--json", database_url=url)
    assert proc.returncode == 0, proc.stderr
    assert _statuses(engine) == {"C0=1#0": "joined", "C1=0#1": "joined", "C2=0#2": "joined"}
    with engine.connect() as conn:
        files = conn.execute(
            sa.select(tables.ingested_files.c.rows).where(tables.ingested_files.c.kind == "labels")
        ).scalars()
        assert list(files) == [3]
        assert len(label_writes.latest_realised(conn, "f1")) == 1


def test_with_event_times_a_label_resolves_the_row_of_its_time_and_its_period(
    project: Path, database_url: str
):
    """One id seen in two batches (data.unique_ids = false): the label observed between them
    resolves the first; periods go by the rows' event time."""
    settings = _settings(project, database_url, '[data]\ntimestamp_column = "seen_at"\n')
    engine = sa.create_engine(database_url)
    try:
        first, second = _seed(engine, settings, "a.parquet"), _seed(engine, settings, "b.parquet")
        for file_id, day in ((first, 2), (second, 20)):
            batch = predictions.Batch(
                row_numbers=[0],
                predictions=[1.0],
                labels=["1"],
                probability=[0.9],
                row_keys=['["C0"]'],
                event_times=[datetime(2026, 3, day, tzinfo=UTC)],
            )
            predictions.record_file(
                engine, predictions.FileRun(file_id, 1, SEED_RUN, WHEN, stamp=WHEN), [batch]
            )
        _labels_file(
            settings, "l.csv", "corporation,exited,observed_at\nC0,0,2026-03-10T08:00:00Z\n"
        )
        done = labels_only(settings)["labels"]
        assert done["joined"] == 1
        t = label_tables.labels
        with engine.connect() as conn:
            row = conn.execute(sa.select(t.c.file_id, t.c.period_start)).one()
        assert row.file_id == first and row.period_start == datetime(2026, 3, 2, tzinfo=UTC)
        assert done["realised"][0]["period_start"] == "2026-03-02T00:00:00+00:00"
    finally:
        engine.dispose()


def test_a_label_of_an_api_prediction_takes_the_features_stored_with_it(world):
    settings, engine, _ = world
    predictions.record(
        engine,
        [
            {
                "source": "api",
                "model_version": 1,
                "features": {"employees": 41.0, "industry": "retail"},
                "row_key": '["API1"]',
                "prediction": 1.0,
                "label": "1",
                "probability": 0.8,
            }
        ],
    )
    _labels_file(settings, "api.csv", "corporation,exited\nAPI1,0\n")
    done = labels_only(settings)["labels"]
    assert done["joined"] == 1
    joined = pd.read_parquet(settings.path("paths.ingested") / done["joined_file"])
    assert joined.to_dict("records") == [
        {"employees": 41.0, "industry": "retail", "corporation": "API1", "exited": 0}
    ]
    assert done["realised"][0]["value"] == 0.0 and done["realised"][0]["n_rows"] == 1


def test_a_parquet_labels_file_with_numeric_ids_and_real_times(project: Path, database_url: str):
    settings = _settings(project, database_url, "[labels]\nmax_wait_days = 0\n")
    engine = sa.create_engine(database_url)
    try:
        _predict(engine, _seed(engine, settings))
        frame = pd.DataFrame(
            {
                "corporation": ["C0", "C1", "C2"],
                "exited": [1, 0, 1],
                "observed_at": pd.to_datetime(["2026-03-03", "2026-03-01", None], utc=True),
            }
        )
        frame.to_parquet(settings.path("paths.labels") / "l.parquet", index=False)
        done = labels_only(settings)["labels"]
        # C1 was observed before its row was predicted (and may wait no time): unmatched.
        assert (done["received"], done["joined"], done["unmatched"]) == (3, 2, 1)
    finally:
        engine.dispose()


def test_a_tick_with_waiting_labels_and_nothing_new_is_a_cheap_noop(world):
    import subprocess
    import sys

    settings, _, _ = world
    _labels_file(settings, "early.csv", "corporation,exited\nLATER,1\n")
    assert labels_only(settings)["labels"]["pending"] == 1
    probe = (
        "import sys\n"
        "from pipeline.cli import main\n"
        "try:\n"
        "    main(['run', '--json'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = sorted(m for m in ('pandas', 'numpy', 'sklearn') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
    )
    env = {
        "RISKWATCH_CONFIG": str(settings.base_dir / "riskwatch.toml"),
        "DATABASE_URL": settings.database_url,
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.environ["PYTHONPATH"],  # this checkout (conftest)
    }
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=settings.base_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"status": "noop"' in proc.stdout and "HEAVY=\n" in proc.stderr


def test_waiting_labels_wake_only_for_predictions_of_their_ids(world):
    from pipeline.labels import inbox

    settings, engine, file_id = world
    _labels_file(settings, "early.csv", "corporation,exited\nNOBODY,1\n")
    labels_only(settings)
    found = inbox.new_label_files(engine, settings)
    assert not inbox.has_work(engine, settings, found)
    _predict(engine, file_id, created_at=datetime.now(UTC))
    assert not inbox.has_work(engine, settings, found)  # other ids' predictions: no wake
    predictions.record(
        engine,
        [
            {
                "source": "api",
                "model_version": 1,
                "features": {"employees": 3, "industry": "retail"},
                "row_key": json.dumps(["NOBODY"]),
                "prediction": 1.0,
                "label": "1",
            }
        ],
    )
    assert inbox.has_work(engine, settings, found)  # a prediction of the waiting id came
    assert labels_only(settings)["labels"]["joined"] == 1
    assert not inbox.has_work(engine, settings, found)  # and the next tick is a no-op again


def test_ids_written_with_a_zero_fraction_find_integer_ids(world):
    """A labels CSV written from a float column ("3.0") resolves the predictions of integer ids
    (3); a zero-padded id ("00004") is another id, left waiting, never joined by a guess."""
    settings, engine, file_id = world
    batch = predictions.Batch(
        row_numbers=list(range(N)),
        predictions=[float(p) for p in PREDICTED],
        labels=[str(p) for p in PREDICTED],
        probability=PROBA,
        row_keys=predictions.row_keys(pd.DataFrame({"n": range(N)}), ["n"]).to_pylist(),
    )
    predictions.record_file(engine, predictions.FileRun(file_id, 1, SEED_RUN, WHEN), iter([batch]))
    _labels_file(settings, "floats.csv", "corporation,exited\n3.0,1\n5.00,0\n00004,1\n")
    done = labels_only(settings)["labels"]
    assert (done["received"], done["joined"], done["pending"]) == (3, 2, 1)
    assert _statuses(engine) == {"3=1#0": "joined", "5=0#1": "joined", "00004=1#2": "pending"}


def test_the_log_line_says_what_run_json_says(world, caplog):
    """A repeat inside the file is a duplicate there too (it was left out of the log)."""
    settings, engine, file_id = world
    _predict(engine, file_id)
    _labels_file(settings, "dup.csv", "corporation,exited\nC0,1\nC0,1\nC1,0\nC1,1\nNOBODY,1\n")
    with caplog.at_level("INFO", logger="riskwatch"):
        summary = labels_only(settings)
    done = summary["labels"]
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("labels: ")]
    counts = {k: done[k] for k in ("received", "joined", "duplicate", "conflict", "pending")}
    assert counts == {"received": 5, "joined": 1, "duplicate": 1, "conflict": 2, "pending": 1}
    assert said == ["labels: 5 received, 1 joined, 1 duplicate, 2 conflict, 1 pending"]
