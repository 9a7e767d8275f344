"""A column that some files lack (the inferred contract says `required = false`) through the
real CLI, on SQLite and PostgreSQL: the files without it are predicted and scored, its value
missing in every row and imputed as in training, by the run's predict, score, drift, estimate
and diagnose steps and by `riskwatch predict`, tick after tick; POST /prediction takes a
record without it. A required column missing is still the gate's quarantine, and the API's
400."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app import create_app
from pipeline.model import estimator, registry
from pipeline.settings import load_settings
from pipeline.tools.sampledata import write_sample_data
from tests.e2e import count, drop, invoke, rows, run_json
from tests.test_api import RECORD

pytestmark = pytest.mark.slow

OPTIONAL = "support_tickets"


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four sample batches: the first whole, the second and third without OPTIONAL, the
    fourth without `region`, a column every training file holds (required)."""
    out = tmp_path_factory.mktemp("optional-sample")
    write_sample_data(out, batches=4, rows=300, test_rows=100)
    source = out / "sourcedata"
    for name, column in (("02", OPTIONAL), ("03", OPTIONAL), ("04", "region")):
        path = source / f"clients_batch_{name}.csv"
        pd.read_csv(path).drop(columns=[column]).to_csv(path, index=False)
    return source


def _scheduled(url: str, file_id: int) -> list[dict]:
    """The scheduled predictions of ingested file `file_id`, in row order."""
    return rows(
        url,
        "SELECT s.model_version, p.row_number, p.probability FROM predictions p "
        "JOIN prediction_segments s ON s.id = p.segment_id "
        f"WHERE s.file_id = {file_id} ORDER BY s.model_version, p.row_number",
    )


def _as_trained(project: Path, url: str, file_id: int, got: list[dict]) -> None:
    """The stored probabilities of file `file_id` are what its model gives its rows with
    OPTIONAL missing in each (imputed as training imputed it)."""
    settings = load_settings(project / "riskwatch.toml", environ={"DATABASE_URL": url})
    [path] = rows(url, f"SELECT data_path FROM ingested_files WHERE id = {file_id}")
    frame = pd.read_parquet(settings.path("paths.ingested") / path["data_path"])
    assert OPTIONAL not in frame.columns
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        loaded = registry.load(engine, settings, got[0]["model_version"])
    finally:
        engine.dispose()
    _, proba = estimator.predict(loaded.model, loaded.features, frame.assign(**{OPTIONAL: np.nan}))
    assert proba is not None
    stored = [r["probability"] for r in got if r["model_version"] == got[0]["model_version"]]
    np.testing.assert_allclose(stored, proba, rtol=1e-9)


def test_files_without_an_optional_column_are_predicted_every_tick(
    project: Path, database_url: str, batches: Path
) -> None:
    url = database_url
    drop(project, batches / "clients_batch_01.csv")
    drop(project, batches / "clients_batch_02.csv")
    first = run_json(project, url)
    assert first["production_version"] == 1
    contract = (project / "contract.toml").read_text()
    assert f'[columns.{OPTIONAL}]\nkind = "integer"\nrequired = false' in contract
    # The file v1 was trained on, without the column, is predicted by it.
    assert first["predictions"]["failed"] == []
    assert len(_scheduled(url, 2)) == 300
    _as_trained(project, url, 2, _scheduled(url, 2))

    drop(project, batches / "clients_batch_03.csv")
    second = run_json(project, url)  # was a KeyError from the score step, exit 1, every tick
    assert second["status"] == "succeeded" and second["predictions"]["failed"] == []
    assert second["score"]["n_rows"] == 300
    assert second["estimate"] is not None  # estimated from the same predictions
    assert len(_scheduled(url, 3)) >= 300
    _as_trained(project, url, 3, _scheduled(url, 3))
    [missing] = rows(
        url,
        "SELECT missing, rows FROM missing_values WHERE dataset = 'new' AND "
        f"column_name = '{OPTIONAL}' AND run_id = '{second['run_id']}'",
    )
    assert missing == {"missing": 300, "rows": 300}  # the new rows lack it, every one

    # A required column missing is still quarantined by the gate, with its reason; the tick
    # after is as good as the one before.
    drop(project, batches / "clients_batch_04.csv")
    third = run_json(project, url)
    assert third["status"] == "succeeded"
    [quarantined] = third["quarantined"]
    assert quarantined["name"] == "clients_batch_04.csv"
    assert "required column 'region' is missing" in quarantined["reason"]
    assert run_json(project, url)["status"] == "noop"  # nothing new, and nothing failing
    proc = invoke(project, "predict", "--json", database_url=url)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["failed"] == []
    assert count(url, "predictions", "WHERE source = 'scheduled'") >= 900


def test_the_api_takes_a_record_without_an_optional_column(
    project: Path, database_url: str, batches: Path
) -> None:
    drop(project, batches / "clients_batch_01.csv")
    drop(project, batches / "clients_batch_02.csv")
    run_json(project, database_url)
    settings = load_settings(project / "riskwatch.toml", environ={"DATABASE_URL": database_url})
    app = create_app({"TESTING": True, "RISKWATCH_SETTINGS": settings})
    without = {k: v for k, v in RECORD.items() if k != OPTIONAL}
    try:
        client = app.test_client()
        one = client.post("/prediction", json=[without])
        assert one.status_code == 200, one.get_data(as_text=True)
        # Eight records and more are checked a column at a time: the same answer.
        many = client.post("/prediction", json=[without, RECORD] * 5)
        assert many.status_code == 200, many.get_data(as_text=True)
        nulled = client.post("/prediction", json=[{**RECORD, OPTIONAL: None}])
        assert one.get_json()["predictions"] == nulled.get_json()["predictions"]
        assert one.get_json()["probabilities"] == nulled.get_json()["probabilities"]
        assert many.get_json()["probabilities"][::2] == one.get_json()["probabilities"] * 5
        # A required column missing is a 400 naming it, as it was.
        refused = client.post(
            "/prediction", json=[{k: v for k, v in without.items() if k != "region"}]
        )
        assert refused.status_code == 400
        assert refused.get_json()["error"] == "record 0: feature column 'region' is missing"
        # The page's form path takes it too.
        page = client.post("/predict", json=[without])
        assert page.status_code == 200, page.get_data(as_text=True)
        assert "error" not in page.get_json()["results"][0]
    finally:
        app.extensions["riskwatch"].engine.dispose()
    stored = rows(
        database_url,
        "SELECT features FROM predictions WHERE source = 'api' ORDER BY id LIMIT 1",
    )
    features = stored[0]["features"]
    features = features if isinstance(features, dict) else json.loads(features)
    assert features[OPTIONAL] is None
