"""GET /summarystats: the production model's training rows by default, the newest run's new rows
or the test file on request; the values are pandas' own `describe` of those rows.

On SQLite and a real PostgreSQL, each on a project that had one real run (tests/test_api.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from pipeline.model import registry
from pipeline.run import ingest_only, train_only
from pipeline.settings import Settings
from pipeline.storage import db, tables
from pipeline.tools.sampledata import generate_batch
from tests.test_api import assert_error, empty_project, make_app

STATS = ("count", "mean", "median", "std", "min", "max")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def built(request: pytest.FixtureRequest) -> Settings:
    return request.getfixturevalue(f"{request.param}_project")


@pytest.fixture
def client(built: Settings) -> Iterator[FlaskClient]:
    with make_app(built) as app:
        yield app.test_client()


def query(settings: Settings, statement: sa.Executable) -> list[sa.Row]:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement))
    finally:
        engine.dispose()


def numeric_features(settings: Settings, version: int) -> list[str]:
    mv = tables.model_versions
    (row,) = query(settings, sa.select(mv.c.features).where(mv.c.version == version))
    return list(row.features["numeric"])


def ingested(settings: Settings, where: sa.ColumnElement[bool]) -> pd.DataFrame:
    """The good rows of the ingested files that `where` picks, in the order they were taken."""
    f = tables.ingested_files
    picked = sa.select(f.c.data_path).where(f.c.status == "ingested", where).order_by(f.c.id)
    base = settings.path("paths.ingested")
    frames = [pd.read_parquet(base / row.data_path) for row in query(settings, picked)]
    return pd.concat(frames, ignore_index=True)


def training_rows(settings: Settings, version: int) -> pd.DataFrame:
    """The version's training files, less the holdout by the split rule written out here: the
    newest holdout_fraction of the rows (at least one) is held out."""
    assert settings["split.holdout"] == "newest"
    mv = tables.model_versions
    (row,) = query(settings, sa.select(mv.c.training_files).where(mv.c.version == version))
    hashes = [f["sha256"] for f in row.training_files]
    data = ingested(settings, tables.ingested_files.c.sha256.in_(hashes))
    assert len(data) == sum(f["rows"] for f in row.training_files)
    n_hold = max(1, round(len(data) * settings["split.holdout_fraction"]))
    return data.iloc[: len(data) - n_hold]


def assert_describes(rows: list[dict[str, Any]], frame: pd.DataFrame, columns: list[str]) -> None:
    """The rows hold pandas' describe() of each column of `frame`, and nothing else."""
    assert [r["column_name"] for r in rows] == columns
    described = frame[columns].apply(pd.to_numeric).describe()
    for row in rows:
        col = described[row["column_name"]]
        expected = {"count": col["count"], "mean": col["mean"], "median": col["50%"]}
        expected |= {"std": col["std"], "min": col["min"], "max": col["max"]}
        assert {k: row[k] for k in STATS} == pytest.approx(expected, rel=1e-12), row


def the_run(settings: Settings) -> str:
    r = tables.runs
    (row,) = query(settings, sa.select(r.c.id).where(r.c.kind == "run"))
    return str(row.id)


def test_default_is_the_production_models_training_rows(client: FlaskClient, built: Settings):
    body = client.get("/summarystats").get_json()
    assert body == client.get("/summarystats?dataset=training").get_json()
    assert (body["dataset"], body["model_version"], body["run_id"]) == (
        "training",
        1,
        the_run(built),
    )
    assert {r["dataset"] for r in body["rows"]} == {"training"}
    assert_describes(body["rows"], training_rows(built, 1), numeric_features(built, 1))


def test_latest_is_the_newest_runs_new_rows(client: FlaskClient, built: Settings):
    body = client.get("/summarystats?dataset=latest").get_json()
    assert (body["dataset"], body["model_version"], body["run_id"]) == ("latest", 1, the_run(built))
    assert {r["dataset"] for r in body["rows"]} == {"new"}
    new = ingested(built, tables.ingested_files.c.run_id == the_run(built))
    assert_describes(body["rows"], new, numeric_features(built, 1))


def test_test_is_the_test_file(client: FlaskClient, built: Settings):
    body = client.get("/summarystats?dataset=test").get_json()
    assert (body["dataset"], body["model_version"], body["run_id"]) == ("test", 1, the_run(built))
    assert {r["dataset"] for r in body["rows"]} == {"test"}
    test = pd.read_csv(built.path("paths.test_data"))
    assert_describes(body["rows"], test, numeric_features(built, 1))


@pytest.mark.parametrize("bad", ["new", "TRAINING", "", "x" * 100, "training,test"])
def test_an_unknown_dataset_is_a_400_naming_the_parameter(client: FlaskClient, bad: str):
    body = assert_error(client.get("/summarystats", query_string={"dataset": bad}), 400)
    assert body["parameter"] == "dataset"
    assert "training, latest, test" in body["error"]
    assert len(body["error"]) < 200  # a long value is cut, not echoed whole


def test_no_production_model_is_an_empty_answer(tmp_path: Path):
    """As /scoring: 200 with model_version null and no rows, before the first run."""
    with make_app(empty_project(tmp_path, migrate=True)) as app:
        client = app.test_client()
        for dataset in ("training", "latest", "test"):
            response = client.get(f"/summarystats?dataset={dataset}")
            assert response.status_code == 200
            body = response.get_json()
            assert body == {"dataset": dataset, "model_version": None, "run_id": None, "rows": []}


def test_the_default_follows_a_promotion(client: FlaskClient, built: Settings):
    """A second batch, a version trained on both: once it is deployed, the default describes
    its training rows (recorded by its own training run); a rollback brings v1's back."""
    before = client.get("/summarystats").get_json()
    batch = built.path("paths.source") / "clients_batch_02.csv"
    generate_batch(2, 300, seed=7, drift_from=3).to_csv(batch, index=False)
    ingest_only(built)
    trained = train_only(built)
    version = trained["promotion"]["challenger_version"]
    engine = db.make_engine(built.database_url)
    try:
        if not trained["promotion"]["promoted"]:
            registry.deploy(engine, built, version, kind="promote", reason="test", run_id=None)
        body = client.get("/summarystats").get_json()
        assert (body["model_version"], body["run_id"]) == (version, trained["run_id"])
        train = training_rows(built, version)
        assert len(train) > len(training_rows(built, 1))
        assert_describes(body["rows"], train, numeric_features(built, version))
        assert body["rows"] != before["rows"]
        # latest and test are still the newest run's: training writes neither.
        assert client.get("/summarystats?dataset=latest").get_json()["run_id"] == the_run(built)
    finally:
        registry.deploy(engine, built, 1, kind="rollback", reason="test", run_id=None)
        engine.dispose()
    assert client.get("/summarystats").get_json() == before
