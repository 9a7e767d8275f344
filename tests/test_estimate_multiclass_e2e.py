"""Multiclass performance without labels through the real CLI: a three-class target, its
one-vs-rest calibration chosen at training time (the table row and metadata.json agree) and
the run's estimates of accuracy, macro precision, recall, F1 and one-vs-rest ROC-AUC, on SQLite
and a real PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipeline.estimate import multiclass
from pipeline.estimate.calibration import METHODS
from pipeline.estimate.cbpe import METRICS
from pipeline.tools.sampledata import write_sample_data
from tests.e2e import drop, rows, run_json

pytestmark = pytest.mark.slow

CLASSES = ["0", "1", "2"]  # as the calibration records them: the model's classes as text


def _three_classes(path: Path) -> None:
    """The sample's `exited` made a three-class target: 2 for a client that left, else 1 or 0
    by its support tickets (a relation the model can learn)."""
    frame = pd.read_csv(path)
    tickets = frame["support_tickets"] > frame["support_tickets"].median()
    frame["exited"] = (2 * frame["exited"]).where(frame["exited"] == 1, tickets.astype(int))
    frame.to_csv(path, index=False)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample3")
    write_sample_data(out, batches=2, rows=1500, test_rows=200)
    for path in [*(out / "sourcedata").glob("*.csv"), out / "testdata" / "testdata.csv"]:
        _three_classes(path)
    return out


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


def test_a_three_class_model_is_calibrated_per_class_and_estimated(
    project: Path, sample: Path, database_url: str
) -> None:
    (project / "testdata").mkdir()
    shutil.copy(sample / "testdata" / "testdata.csv", project / "testdata" / "testdata.csv")
    drop(project, sample / "sourcedata" / "clients_batch_01.csv")
    first = run_json(project, database_url)
    assert first["production_version"] == 1
    (cal,) = rows(database_url, "SELECT * FROM calibrations")
    assert cal["method"] == multiclass.METHOD and cal["reason"] is None, cal["reason"]
    params = _json(cal["params"])
    assert params["classes"] == CLASSES
    assert all(c["method"] in METHODS for c in params["per_class"])
    assert set(_json(cal["candidates"])) == set(CLASSES)
    assert 0 <= cal["ece"] < 1 and cal["holdout_rows"] == 300
    meta = json.loads((project / "models" / "1" / "metadata.json").read_text())
    assert meta["calibration"]["method"] == multiclass.METHOD
    assert meta["calibration"]["params"] == params

    drop(project, sample / "sourcedata" / "clients_batch_02.csv")
    second = run_json(project, database_url)
    est = second["estimate"]
    assert est["estimated"], est.get("reason")
    assert est["calibration"]["method"] == multiclass.METHOD and est["n_rows"] == 1500
    assert set(est["metrics"]) == set(METRICS)
    for metric, doc in est["metrics"].items():
        assert doc["ci_low"] <= doc["value"] <= doc["ci_high"], metric
        assert 0 <= doc["value"] <= 1
    # The rows' labels, which the estimate never read: the run scored them (macro, as the
    # estimate is), and the estimate is near what they say.
    metric = second["score"]["metric"]
    realised = second["score"]["value"]
    assert abs(est["metrics"][metric]["value"] - realised) < 0.1
    assert est["metrics"][metric]["realised_value"] == pytest.approx(realised)
    assert est["metrics"][metric]["reliable"] == (cal["ece"] <= 0.05)
    recorded = rows(
        database_url,
        f"SELECT * FROM performance_estimates WHERE run_id = '{second['run_id']}'",
    )
    assert len(recorded) == 2 * len(METRICS)  # the run and its one period
    assert all(r["value"] is not None and r["ci_low"] is not None for r in recorded)
    # Two unlabelled files in two more runs of the same day: the day's estimate covers both,
    # read back from their stored {class: p}, not the last run's rows alone.
    for n, name in ((1, "later.csv"), (2, "later_still.csv")):
        frame = pd.read_csv(sample / "sourcedata" / f"clients_batch_{n:02d}.csv")
        frame.drop(columns="exited").to_csv(project / "sourcedata" / name, index=False)
        if n == 2:  # one prediction asked of the API the same day: stored with its {class: p}
            _ask_the_api(project, database_url, frame.drop(columns="exited").iloc[0].to_dict())
        later = run_json(project, database_url)["estimate"]
    [period] = later["periods"]
    assert later["n_rows"] == 1500 and period["n_rows"] == 3001
    assert all(0 <= d["value"] <= 1 for d in period["metrics"].values())


def _ask_the_api(project: Path, database_url: str, record: dict) -> None:
    from pipeline.settings import load_settings
    from tests.test_api import make_app

    settings = load_settings(project / "riskwatch.toml", environ={"DATABASE_URL": database_url})
    with make_app(settings) as app:
        answer = app.test_client().post("/prediction", json={"records": [record]})
        assert answer.status_code == 200, answer.get_json()
    [stored] = rows(database_url, "SELECT probabilities FROM predictions WHERE source = 'api'")
    shares = _json(stored["probabilities"])
    assert set(shares) == set(CLASSES) and sum(shares.values()) == pytest.approx(1.0)
