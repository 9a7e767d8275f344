"""Drift on a reference too small to test, through the CLI in-process, on SQLite and PostgreSQL:
"not tested", with the reason and the rows needed, in every place the drift of a run is shown
(issue 9, point 4): run --json and its text, the log line, drift --json and its text, status,
the stored summary, GET /runs and the run's JSON, the run list, the PDF, the trigger's reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from app import create_app
from pipeline.settings import load_settings
from pipeline.tools.sampledata import write_sample_data
from tests.e2e import drop, invoke, rows, run_json

pytestmark = pytest.mark.slow

# v1 trains on 48 of the 60 rows (the rest is its holdout): its profile has 48 rows.
REASON = "the reference has 48 rows, drift.min_rows is 50"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample_data(out, batches=2, rows=600, test_rows=100)
    return out


def _small_first(project: Path, sample: Path, database_url: str) -> None:
    toml = project / "riskwatch.toml"
    toml.write_text(
        toml.read_text().replace("[policy]\n", "[policy]\ntrigger = 'drift'\nmin_rows = 1\n")
        + "\n[drift]\nmin_rows = 50\n"
    )
    (project / "testdata").mkdir(exist_ok=True)
    shutil.copy(sample / "testdata" / "testdata.csv", project / "testdata" / "testdata.csv")
    head = pd.read_csv(sample / "sourcedata" / "clients_batch_01.csv").head(60)
    head.to_csv(project / "clients_small.csv", index=False)
    drop(project, project / "clients_small.csv")
    assert run_json(project, database_url)["production_version"] == 1


def test_a_tiny_reference_is_not_tested_everywhere(
    project: Path, sample: Path, database_url: str
) -> None:
    _small_first(project, sample, database_url)
    drop(project, sample / "sourcedata" / "clients_batch_02.csv")
    out = invoke(project, "run", "--json", database_url=database_url)
    assert out.returncode == 0, out.stderr
    tick = json.loads(out.stdout)
    drift = tick["drift"]
    assert drift["status"] == "not_tested" and drift["dataset_drift"] is None
    assert drift["reason"] == REASON and drift["drifted_share"] is None
    assert drift["confirmed"] is False
    # The log line says the same, never "0 of 0 tested columns drifted".
    assert f"riskwatch: drift: not tested: {REASON}" in out.stderr
    assert "0 of 0" not in out.stderr
    # The trigger counts it as no drift, and says it was not tested.
    assert tick["decision"]["retrain"] is False
    assert f"not tested: {REASON}" in tick["decision"]["reason"]

    text = invoke(project, "drift", database_url=database_url).stdout
    assert text.splitlines()[0] == f"data set drift: not tested: {REASON}"
    latest = json.loads(invoke(project, "drift", "--json", database_url=database_url).stdout)
    assert latest["run_id"] == tick["run_id"]
    assert latest["status"] == "not_tested" and latest["dataset_drift"] is None
    assert latest["reason"] == REASON

    runs_text = invoke(project, "runs", database_url=database_url).stdout
    assert f"drift: not tested: {REASON}" in runs_text.splitlines()[0]
    status = json.loads(invoke(project, "status", "--json", database_url=database_url).stdout)
    assert status["drift"]["status"] == "not_tested" and status["drift"]["reason"] == REASON
    status_text = invoke(project, "status", database_url=database_url).stdout
    assert f"drift: not tested: {REASON} (run {tick['run_id']})" in status_text

    [stored] = rows(
        database_url,
        f"SELECT dataset_drift, thresholds FROM drift_summaries WHERE run_id = '{tick['run_id']}'",
    )
    thresholds = stored["thresholds"]
    thresholds = thresholds if isinstance(thresholds, dict) else json.loads(thresholds)
    assert thresholds["dataset"]["status"] == "not_tested"
    assert thresholds["dataset"]["reason"] == REASON
    assert not stored["dataset_drift"]  # what the persistence rule counts

    pdf = "".join(p.extract_text() for p in PdfReader(tick["report"]).pages)
    assert f"not tested: {REASON}" in " ".join(pdf.split())

    settings = load_settings(project / "riskwatch.toml", environ={"DATABASE_URL": database_url})
    app = create_app({"TESTING": True, "RISKWATCH_SETTINGS": settings})
    try:
        client = app.test_client()
        runs = client.get("/runs").get_json()["runs"]
        by_id = {r["id"]: r for r in runs}
        assert by_id[tick["run_id"]]["drift"]["status"] == "not_tested"
        assert by_id[tick["run_id"]]["drift"]["dataset_drift"] is None
        run = client.get(f"/runs/{tick['run_id']}").get_json()
        assert run["drift"]["reason"] == REASON
        page = client.get("/").get_data(as_text=True)
        assert f"not tested: {REASON}" in page
    finally:
        app.extensions["riskwatch"].engine.dispose()


def test_every_printer_counts_the_same_columns(project: Path, sample: Path) -> None:
    """One count and one share, over the features: the run text, the log, drift, the PDF."""
    toml = project / "riskwatch.toml"
    toml.write_text(toml.read_text() + "\n[drift]\ndataset_share = 0.3\n")
    (project / "testdata").mkdir(exist_ok=True)
    shutil.copy(sample / "testdata" / "testdata.csv", project / "testdata" / "testdata.csv")
    drop(project, sample / "sourcedata" / "clients_batch_01.csv")
    assert run_json(project)["production_version"] == 1
    drop(project, sample / "sourcedata" / "clients_batch_02.csv")
    out = invoke(project, "run")
    assert out.returncode == 0, out.stderr
    [log] = [x for x in out.stderr.splitlines() if x.startswith("riskwatch: drift: ")]
    [line] = [x for x in out.stdout.splitlines() if x.startswith("data drift: ")]
    sentence = log.removeprefix("riskwatch: drift: ")
    assert line == f"data drift: {sentence}"
    assert "of 7 tested features" in sentence  # the 7 features; not the prediction or label
    assert "model prediction" in sentence and "label" in sentence  # named apart, in words
    latest = invoke(project, "drift").stdout.splitlines()[0]
    assert latest == f"data set drift: {sentence}"
    doc = json.loads(invoke(project, "drift", "--json").stdout)
    assert doc["features_tested"] == 7
    assert doc["drifted_share"] == pytest.approx(doc["features_drifted"] / 7)
