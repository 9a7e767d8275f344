"""Production traffic end to end through `riskwatch run` (issue 12), on SQLite and PostgreSQL:
a labelled file trains v1 (its probabilities calibrated on the holdout); a file without the
target is inference data: ingested, predicted once by the schedule, measured for drift and
estimated without labels; its labels arrive later in the labels inbox: joined to those
predictions, the realised performance computed per period and put beside the estimate with the
estimation error, the joined rows scored; GET /performance shows both side by side, and
`riskwatch predictions` lists the predictions with their features and their labels' source."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import f1_score

from pipeline.settings import load_settings
from pipeline.tools.sampledata import write_sample_data
from tests.e2e import drop, invoke, rows, run_json
from tests.test_api import make_app

CONFIG = "[diagnostics]\noutdated_packages = false\n\n[policy]\nbootstrap_samples = 200\n"


def test_unlabelled_rows_are_predicted_estimated_and_reconciled_with_their_labels(
    project: Path, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    write_sample_data(project, batches=2, rows=600, test_rows=100)
    (project / "riskwatch.toml").write_text(CONFIG)
    batches = sorted((project / "sourcedata").glob("*.csv"))
    second = batches[1]
    outside = tmp_path_factory.mktemp("outside")
    held = outside / second.name
    second.rename(held)
    first = run_json(project, database_url)
    assert first["production_version"] == 1

    # The second batch without its target: inference data.
    frame = pd.read_csv(held)
    frame.drop(columns=["exited"]).to_csv(outside / "unlabelled.csv", index=False)
    drop(project, outside / "unlabelled.csv")
    tick = run_json(project, database_url)
    assert tick["status"] == "succeeded"
    assert (tick["rows_ingested"], tick["files_quarantined"]) == (len(frame), 0)
    assert tick["predictions"]["rows"] == len(frame)  # predicted once, by the schedule
    assert tick["score"] is None  # nothing labelled to score
    assert tick["drift"]["status"] == "not_drifted"  # measured: same world, no label needed
    assert tick["drift"]["features_tested"] == 7
    estimate = tick["estimate"]
    assert estimate["model_version"] == 1 and estimate["n_rows"] == len(frame)
    [stored] = rows(
        database_url,
        "SELECT count(*) AS n FROM predictions p JOIN ingested_files f ON f.id = p.file_id "
        "WHERE p.source = 'scheduled' AND f.name = 'unlabelled.csv'",
    )
    assert stored["n"] == len(frame)

    # Their labels arrive later.
    (project / "labels").mkdir()
    frame[["corporation", "exited"]].to_csv(project / "labels" / "outcomes.csv", index=False)
    late = run_json(project, database_url)
    assert late["labels"]["joined"] == len(frame)
    scheduled = rows(
        database_url,
        "SELECT p.row_key, p.label FROM predictions p WHERE p.source = 'scheduled' "
        "AND p.file_id = (SELECT id FROM ingested_files WHERE name = 'unlabelled.csv')",
    )
    predicted = {r["row_key"].strip('[]"'): int(float(r["label"])) for r in scheduled}
    truth = dict(zip(frame["corporation"], frame["exited"], strict=True))
    keys = sorted(truth)
    expected = f1_score([truth[k] for k in keys], [predicted[k] for k in keys])
    [realised] = late["labels"]["realised"]
    assert realised["value"] == pytest.approx(expected, abs=1e-12)
    assert late["score"]["n_rows"] == len(frame)  # the joined rows count for the policy

    # The estimate of that period now stands beside the realised value, with its error.
    [filled] = rows(
        database_url,
        "SELECT value, realised_value, estimation_error FROM performance_estimates "
        "WHERE period = 'day' AND metric = 'f1' AND realised_value IS NOT NULL",
    )
    assert filled["realised_value"] == pytest.approx(expected, abs=1e-12)
    assert filled["estimation_error"] == pytest.approx(filled["value"] - expected, abs=1e-12)
    settings = load_settings(
        project / "riskwatch.toml", environ={}, overrides={"database.url": database_url}
    )
    with make_app(settings) as app:
        doc = app.test_client().get("/performance").get_json()
    [period] = doc["periods"]
    assert period["realised"]["value"] == pytest.approx(expected, abs=1e-12)
    assert period["estimated"]["value"] == pytest.approx(filled["value"])
    assert period["estimation_error"] == pytest.approx(filled["estimation_error"])

    # Every scheduled prediction, with its features read back from the ingested Parquet.
    out = outside / "scheduled.csv"
    listed = invoke(
        project,
        "predictions",
        "--source",
        "scheduled",
        "--csv",
        str(out),
        database_url=database_url,
    )
    assert listed.returncode == 0, listed.stderr
    table = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(table) == 2 * len(frame)  # the first file's rows too, once v1 existed
    assert {r["years_as_client"] for r in table} - {""}  # a feature column, filled

    # More unlabelled rows the same day: the period's new estimate covers them and the rows
    # whose labels came, and stands beside the realised values at once, every metric.
    more = frame.drop(columns=["exited"]).assign(corporation=frame["corporation"] + "-b")
    more.to_csv(outside / "more.csv", index=False)
    drop(project, outside / "more.csv")
    again = run_json(project, database_url)["estimate"]
    [day] = again["periods"]
    assert day["n_rows"] == 2 * len(frame)
    for metric in ("f1", "accuracy", "roc_auc"):
        doc = day["metrics"][metric]
        assert doc["realised_value"] is not None, metric
        assert doc["estimation_error"] == pytest.approx(doc["value"] - doc["realised_value"])
    assert day["metrics"]["f1"]["realised_value"] == pytest.approx(expected, abs=1e-12)
