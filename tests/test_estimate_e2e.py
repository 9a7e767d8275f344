"""Performance without labels through the real CLI: the calibration chosen at training time (its
table row and metadata.json agree), the run's estimates per run and per period in
`performance_estimates` and in `run --json`, a version without a calibration said to be not
estimated, and the `estimated` trigger. On SQLite and a real PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from pipeline.estimate.calibration import METHODS
from pipeline.estimate.cbpe import METRICS
from pipeline.tools.sampledata import write_sample_data
from tests.e2e import drop, invoke, rows, run_json

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample_data(out, batches=3, rows=1500, test_rows=200)
    return out


def _first(project: Path, sample: Path, url: str | None = None) -> dict:
    (project / "testdata").mkdir()
    shutil.copy(sample / "testdata" / "testdata.csv", project / "testdata" / "testdata.csv")
    drop(project, sample / "sourcedata" / "clients_batch_01.csv")
    first = run_json(project, url)
    assert first["production_version"] == 1
    return first


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


def test_calibrated_at_training_and_estimated_each_run(
    project: Path, sample: Path, database_url: str
) -> None:
    first = _first(project, sample, database_url)
    assert "estimate" not in first  # the first model is trained, nothing watched yet
    (cal,) = rows(database_url, "SELECT * FROM calibrations")
    assert cal["model_version"] == 1 and cal["run_id"] == first["run_id"]
    assert cal["method"] in METHODS and cal["reason"] is None
    assert cal["holdout_rows"] == 300  # split.holdout_fraction 0.2 of 1,500
    assert set(_json(cal["candidates"])) == set(METHODS)
    meta = json.loads((project / "models" / "1" / "metadata.json").read_text())
    assert meta["calibration"]["method"] == cal["method"]
    assert meta["calibration"]["ece"] == pytest.approx(cal["ece"])
    assert meta["calibration"]["params"] == _json(cal["params"])

    drop(project, sample / "sourcedata" / "clients_batch_02.csv")
    proc = invoke(project, "run", "--json", database_url=database_url)
    assert proc.returncode == 0, proc.stderr
    second = json.loads(proc.stdout)
    est = second["estimate"]
    assert est["estimated"] and est["model_version"] == 1 and est["n_rows"] == 1500
    f1_line = f"estimate: f1 {est['metrics']['f1']['value']:.4f} ["
    assert f1_line in proc.stderr and "nan" not in proc.stderr  # the log says what the JSON does
    assert set(est["metrics"]) == set(METRICS)
    f1 = est["metrics"]["f1"]
    assert f1["ci_low"] <= f1["value"] <= f1["ci_high"]
    # The same rows' labels, which the estimate never read: it is near what they say.
    assert abs(f1["value"] - second["score"]["value"]) < 0.1
    assert est["period"] == "day" and len(est["periods"]) == 1  # one file, one ingest day
    # The day's estimate covers the day's predictions that wait for labels: none stored (both
    # files came labelled whole, the first is the training data), so this run's rows.
    assert est["periods"][0]["n_rows"] == 1500
    recorded = rows(
        database_url,
        f"SELECT * FROM performance_estimates WHERE run_id = '{second['run_id']}'",
    )
    assert len(recorded) == 2 * len(METRICS)
    assert {r["period"] for r in recorded} == {"run", "day"}
    run_f1 = next(r for r in recorded if r["period"] == "run" and r["metric"] == "f1")
    assert run_f1["value"] == pytest.approx(f1["value"])
    assert run_f1["period_start"] is None and run_f1["n_rows"] == 1500
    # The run scored the same rows (all labelled): its realised f1 goes beside the run's
    # estimate of it, as the evidence of later runs; no period's labels have arrived.
    assert run_f1["realised_value"] == pytest.approx(second["score"]["value"])
    assert run_f1["estimation_error"] == pytest.approx(f1["value"] - second["score"]["value"])
    assert f1["realised_value"] == pytest.approx(second["score"]["value"])
    assert [r for r in recorded if r["realised_value"] is not None] == [run_f1]
    reliable = est["metrics"]["f1"]["reliable"]
    assert reliable == (cal["ece"] <= 0.05), est["metrics"]["f1"]["reason"]
    steps = {s["name"] for s in rows(database_url, "SELECT name FROM steps")}
    assert "estimate" in steps

    # The labels of the period arrive: the realised value goes beside the estimate, and the
    # report shows both.
    import sqlalchemy as sa

    from pipeline.storage import estimates

    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        (day,) = [r for r in estimates.estimates_of(conn, 1, "day") if r["metric"] == "f1"]
    realised = {"period": "day", "period_start": day["period_start"], "model_version": 1,
                "metric": "f1", "value": second["score"]["value"]}  # fmt: skip
    assert estimates.fill_realised(engine, [realised]) == 1
    engine.dispose()
    (filled,) = rows(database_url, "SELECT * FROM performance_estimates WHERE realised_value "
                     "IS NOT NULL AND period = 'day'")  # fmt: skip
    assert filled["estimation_error"] == pytest.approx(filled["value"] - realised["value"])
    pdf = invoke(project, "report", "--run", second["run_id"], database_url=database_url)
    assert pdf.returncode == 0, pdf.stderr
    text = "".join(p.extract_text() for p in PdfReader(pdf.stdout.strip()).pages)
    assert "6b. Performance without labels (estimated)" in text
    assert "estimated, interval" in text and "realised" in text


def test_a_version_without_a_calibration_is_not_estimated(project: Path, sample: Path) -> None:
    _first(project, sample)
    url = f"sqlite:///{project / 'riskwatch.db'}"
    # As a version trained before calibrations were recorded has none.
    invoke(project, "db", "upgrade")
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM calibrations"))
    engine.dispose()
    drop(project, sample / "sourcedata" / "clients_batch_02.csv")
    est = run_json(project)["estimate"]
    why = "model version 1 was trained before calibrations were recorded"
    assert est == {"model_version": 1, "estimated": False, "reason": why, "n_rows": 1500}
    recorded = rows(url, "SELECT * FROM performance_estimates")
    assert len(recorded) == len(METRICS)
    assert all(r["value"] is None and not r["reliable"] for r in recorded)
    assert all(r["reason"] == f"not estimated: {why}" for r in recorded)


def test_the_estimated_trigger_decides_the_retrain(project: Path, sample: Path) -> None:
    toml = project / "riskwatch.toml"
    toml.write_text(toml.read_text().replace("[policy]\n", "[policy]\ntrigger = 'estimated'\n"))
    _first(project, sample)
    drop(project, sample / "sourcedata" / "clients_batch_02.csv")
    second = run_json(project)
    reason = second["decision"]["reason"]
    assert reason.startswith("trigger estimated: estimated ")
    assert "; metric: " in reason
    assert second["decision"]["retrain"] is False  # batch 2 is drawn as batch 1 was


def test_estimates_that_missed_make_the_next_unreliable(project: Path, tmp_path: Path) -> None:
    """Concept drift, which no estimate sees: the sample's batches 3 and 4 change how the label
    follows the features. The estimate of batch 3 claims what batch 1 had, and its labels
    (scored in the same run) miss it; the next run says its estimate is not to be trusted."""
    drifted = tmp_path / "drifted"
    write_sample_data(drifted, batches=4, rows=1500, test_rows=200, drift_from=3)
    toml = project / "riskwatch.toml"  # the estimate decides: it sees no drop, v1 stays
    toml.write_text(toml.read_text().replace("[policy]\n", "[policy]\ntrigger = 'estimated'\n"))
    _first(project, drifted)
    drop(project, drifted / "sourcedata" / "clients_batch_03.csv")
    third = run_json(project)
    f1 = third["estimate"]["metrics"]["f1"]
    assert f1["reliable"], f1["reason"]
    assert not f1["ci_low"] <= third["score"]["value"] <= f1["ci_high"]  # it missed
    drop(project, drifted / "sourcedata" / "clients_batch_04.csv")
    fourth = run_json(project)
    assert fourth["production_version"] == 1
    f1 = fourth["estimate"]["metrics"]["f1"]
    assert not f1["reliable"]
    assert "concept drift suspected: the estimates of 1 of the last 1 period(s)" in f1["reason"]
    assert "but the estimate is unreliable" in fourth["decision"]["reason"]


def test_a_period_fed_by_several_runs_is_estimated_on_all_its_rows(
    project: Path, sample: Path, database_url: str
) -> None:
    """The estimate of a period covers every production prediction stored in it that waits for
    labels (the earlier runs' unlabelled rows, the API's, this run's; not the rows of files that
    came labelled): it equals CBPE on those rows, computed here from the stored probabilities."""
    import numpy as np
    import pandas as pd

    from pipeline.estimate.cbpe import estimate
    from pipeline.estimate.maps import apply_map
    from pipeline.settings import load_settings
    from tests.test_api import make_app

    _first(project, sample, database_url)
    for n, name in ((2, "later.csv"), (3, "later_still.csv")):
        frame = pd.read_csv(sample / "sourcedata" / f"clients_batch_{n:02d}.csv")
        frame.drop(columns="exited").to_csv(project / "sourcedata" / name, index=False)
        if n == 3:  # one prediction asked of the API the same day
            settings = load_settings(
                project / "riskwatch.toml", environ={"DATABASE_URL": database_url}
            )
            record = frame.drop(columns=["exited", "corporation"]).iloc[0].to_dict()
            with make_app(settings) as app:
                answer = app.test_client().post("/prediction", json={"records": [record]})
                assert answer.status_code == 200, answer.get_json()
        done = run_json(project, database_url)
    [period] = done["estimate"]["periods"]
    assert done["estimate"]["n_rows"] == 1500  # the run's own rows
    assert period["n_rows"] == 1500 + 1500 + 1  # the day's: two unlabelled files, one request
    stored = rows(
        database_url,
        "SELECT probability, label FROM predictions WHERE model_version = 1 AND (source = 'api' "
        "OR file_id IN (SELECT id FROM ingested_files WHERE labelled_rows < rows))",
    )
    assert len(stored) == 3001
    (cal,) = rows(database_url, "SELECT method, params FROM calibrations")
    params = json.loads(cal["params"]) if isinstance(cal["params"], str) else cal["params"]
    proba = np.array([r["probability"] for r in stored])
    positive = np.array([r["label"] == "1" for r in stored])
    p = apply_map(cal["method"], params, proba)
    direct = estimate(p, positive, proba, samples=10, confidence=0.95, seed=0)
    for metric in ("accuracy", "f1", "roc_auc"):
        assert period["metrics"][metric]["value"] == pytest.approx(direct[metric].value, abs=1e-9)


def _requests_then_labels(
    project: Path, sample: Path, url: str, columns: dict[str, list[str]], labels: str
) -> dict:
    """Rows of the second batch asked of the API (`columns` set in them), then a labels file
    and `riskwatch labels --json`: its summary."""
    import pandas as pd

    from pipeline.settings import load_settings
    from tests.test_api import make_app

    settings = load_settings(project / "riskwatch.toml", environ={"DATABASE_URL": url})
    frame = pd.read_csv(sample / "sourcedata" / "clients_batch_02.csv")
    records = frame.drop(columns=["exited"]).head(len(next(iter(columns.values()))))
    with make_app(settings) as app:
        body = records.assign(**columns).to_dict("records")
        answer = app.test_client().post("/prediction", json=body)
        assert answer.status_code == 200, answer.get_json()
    (project / "labels").mkdir()
    (project / "labels" / "late.csv").write_text(labels)
    done = invoke(project, "labels", "--json", database_url=url)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_period_of_api_predictions_alone_is_estimated_before_its_labels_join(
    project: Path, sample: Path, database_url: str
) -> None:
    """No file of a run ever lands in the day the API's predictions are in: the labels run
    estimates that period first (over those predictions, their stored probabilities), then its
    join puts the realised value beside the estimate."""
    _first(project, sample, database_url)
    summary = _requests_then_labels(
        project, sample, database_url, {"corporation": ["API0", "API1", "API2"]},
        "corporation,exited\nAPI0,1\nAPI1,0\nAPI2,1\n",
    )  # fmt: skip
    assert summary["labels"]["joined"] == 3
    [period] = summary["estimate"]["periods"]
    assert period["n_rows"] == 3  # the three requests: the training file came labelled whole
    assert "only 3 rows" in period["metrics"]["f1"]["reason"]
    filled = rows(
        database_url,
        "SELECT value, realised_value, estimation_error FROM performance_estimates "
        "WHERE period = 'day' AND metric = 'accuracy'",
    )
    [one] = filled
    assert one["realised_value"] is not None
    assert one["estimation_error"] == pytest.approx(one["value"] - one["realised_value"])
    again = json.loads(invoke(project, "labels", "--json", database_url=database_url).stdout)
    assert "estimate" not in again  # nothing stored since: no period estimated again


def test_api_predictions_at_the_ends_of_time_are_estimated_without_overflow(
    project: Path, sample: Path, database_url: str
) -> None:
    """A request's event time may be the first or the last day there is: the periods they fall
    in are estimated (their ends saturate), and the labels run goes on."""

    _first(project, sample, database_url)
    toml = project / "riskwatch.toml"
    toml.write_text(  # the last day there is is far more than a day ahead: allowed so
        toml.read_text()
        + '\n[data]\ntimestamp_column = "seen_at"\n[quality]\ntimestamp_max_future_days = 1e7\n'
    )
    times = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]
    summary = _requests_then_labels(
        project, sample, database_url, {"corporation": ["FIRST", "LAST"], "seen_at": times},
        "corporation,exited\nOTHER,1\n",
    )  # fmt: skip
    starts = [p["period_start"][:10] for p in summary["estimate"]["periods"]]
    assert starts == ["0001-01-01", "9999-12-31"]


def test_a_prediction_committed_while_a_period_was_estimated_is_estimated_next(
    project: Path, sample: Path, database_url: str
) -> None:
    """A request's prediction carries the time it was asked, but its writer commits it later:
    one stamped after an estimating run started and committed after that run read the period
    is in no estimate yet, and the next run that estimates finds it. A run that finds nothing
    stored since the period's newest estimate does not estimate it again."""
    import sqlalchemy as sa

    from pipeline.storage.estimates import performance_estimates as e
    from pipeline.storage.tables import predictions as p
    from pipeline.storage.tables import runs

    _first(project, sample, database_url)
    columns = {"corporation": ["API0", "API1", "API2"]}
    first = _requests_then_labels(project, sample, database_url, columns, "corporation,exited\n")
    assert [period["n_rows"] for period in first["estimate"]["periods"]] == [3]
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            started, recorded = conn.execute(
                sa.select(runs.c.started_at, sa.func.max(e.c.created_at))
                .join(e, e.c.run_id == runs.c.id)
                .where(e.c.period == "day")
                .group_by(runs.c.started_at)
            ).one()
            assert started < recorded
            _request(project, sample, database_url, "LATE")
            conn.execute(  # as if its writer had waited through the estimate's reads
                p.update()
                .where(p.c.source == "api", p.c.created_at > recorded)
                .values(created_at=started + (recorded - started) / 2)
            )
    finally:
        engine.dispose()
    labels = project / "labels"
    (labels / "later.csv").write_text("corporation,exited\nNOBODY,1\n")
    later = json.loads(invoke(project, "labels", "--json", database_url=database_url).stdout)
    assert [period["n_rows"] for period in later["estimate"]["periods"]] == [4]
    (labels / "latest.csv").write_text("corporation,exited\nNOBODY_ELSE,1\n")
    again = json.loads(invoke(project, "labels", "--json", database_url=database_url).stdout)
    assert again["labels"]["received"] == 1  # the run took a file: it had work to do
    assert "estimate" not in again  # the period's four rows are its newest estimate's


def _request(project: Path, sample: Path, url: str, corporation: str) -> None:
    """One record of the second batch asked of the API, its id `corporation`."""
    import pandas as pd

    from pipeline.settings import load_settings
    from tests.test_api import make_app

    settings = load_settings(project / "riskwatch.toml", environ={"DATABASE_URL": url})
    frame = pd.read_csv(sample / "sourcedata" / "clients_batch_02.csv").head(1)
    record = frame.drop(columns=["exited"]).assign(corporation=corporation).to_dict("records")
    with make_app(settings) as app:
        answer = app.test_client().post("/prediction", json=record)
        assert answer.status_code == 200, answer.get_json()
