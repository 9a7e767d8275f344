"""A regressor's period estimated on every prediction stored in it (`estimate_period`): the numeric
features read back from the ingested Parquet files and the requests' JSON
(`predictions.period_features`), the loss model applied a chunk at a time (`loss.LossSum`), and
the estimate of a period fed by two ticks and a request through the real CLI and the API, on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from pipeline.estimate import loss
from pipeline.predictions import Unread, numeric_chunks
from pipeline.predictions.period_features import read_numeric


def test_sums_a_chunk_at_a_time_give_the_estimate_of_all_rows() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 3))
    x[rng.random(x.shape) < 0.05] = np.nan
    pred = rng.normal(size=3000)
    y = pred + rng.normal(size=3000) * (1 + np.abs(np.nan_to_num(x[:, 0])))
    line = loss.fit(x[:1000], pred[:1000], y[:1000])
    trees = loss.fit_trees(x[:1000], pred[:1000], y[:1000], seed=0)
    trees.update(resid_var=0.5, holdout_rows=1000)
    for method, params in ((loss.METHOD, line), (loss.TREES, trees)):
        whole = loss.estimate_mae(params, x[1000:], pred[1000:], confidence=0.9, method=method)
        total = loss.LossSum(params, method)
        for part in np.array_split(np.arange(1000, 3000), 7):
            total.add(x[part], pred[part])
        total.add(x[:0], pred[:0])  # an empty chunk adds nothing
        got = total.estimate(confidence=0.9)
        assert got.n_rows == whole.n_rows == 2000
        for a, b in ((got.value, whole.value), (got.ci_low, whole.ci_low)):
            assert a == pytest.approx(b, rel=1e-12)
    assert loss.LossSum(line).estimate(confidence=0.9).value is None


def _parquet(path: Path, groups: int = 3) -> None:
    table = pa.table(
        {
            "a": pa.array([float(i) for i in range(10)]),
            "b": pa.array([i if i % 3 else None for i in range(10)], pa.int64()),
            "text": pa.array([str(i) for i in range(10)]),
            "flag": pa.array([i % 2 == 0 for i in range(10)]),
        }
    )
    pq.write_table(table, path, row_group_size=10 // groups + 1)


def test_parquet_rows_are_read_from_their_row_groups(tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    _parquet(path)
    assert pq.ParquetFile(path).metadata.num_row_groups == 3
    numbers = np.array([9, 0, 4, 4, 12, -1, 5])
    found, got = read_numeric(path, numbers, ["b", "a", "gone", "text", "flag"])
    assert found.tolist() == [True, True, True, True, False, False, True]
    expected = [
        [np.nan, 9.0, np.nan, 9.0, 0.0],  # 9 % 3 == 0: b is null
        [np.nan, 0.0, np.nan, 0.0, 1.0],
        [4.0, 4.0, np.nan, 4.0, 1.0],
        [4.0, 4.0, np.nan, 4.0, 1.0],
        [5.0, 5.0, np.nan, 5.0, 0.0],
    ]
    np.testing.assert_array_equal(got[found], expected)  # text read as numbers where they are
    assert np.isnan(got[~found]).all()


def test_rows_of_a_file_that_cannot_be_read_are_counted_not_guessed(
    tmp_path: Path, engine: sa.Engine
) -> None:
    from pipeline.storage import tables

    _parquet(tmp_path / "good.parquet")
    (tmp_path / "broken.parquet").write_text("not parquet")
    run = "cd" * 16
    with engine.begin() as conn:
        conn.execute(
            tables.runs.insert().values(id=run, kind="run", started_at=tables.utcnow(), status="ok")
        )
        for i, name in enumerate(("good", "broken", "gone"), start=1):
            conn.execute(
                tables.ingested_files.insert().values(
                    id=i, run_id=run, name=f"{name}.csv", sha256=f"{i:064x}", size_bytes=1, rows=10,
                    data_path=f"{name}.parquet",
                    ingested_at=tables.utcnow(), status="ingested",
                )
            )  # fmt: skip
    hostile = json.dumps({"a": "1e999", "b": 10**400, "c": [1]})
    chunks = [
        [(1.5, 1, 2, None), (2.5, None, None, {"a": 7, "b": None}), (0.5, 2, 0, None)],
        [(3.0, 3, 1, None), (4.0, 1, 11, None), (None, None, None, hostile), (5.0, 4, 0, None)],
    ]
    unread = Unread()
    with engine.connect() as conn:
        parts = list(numeric_chunks(conn, tmp_path, chunks, ["a", "b"], unread))
    matrix = np.vstack([m for m, _ in parts])
    pred = np.concatenate([p for _, p in parts])
    np.testing.assert_array_equal(pred, [2.5, 1.5, np.nan])
    np.testing.assert_array_equal(matrix, [[7.0, np.nan], [2.0, 2.0], [np.nan, np.nan]])
    assert unread.rows == 4  # the broken file's, the gone one's, row 11 of ten, file 4
    assert unread.reasons is not None and set(unread.reasons) == {1, 2, 3, 4}
    assert "lacks rows" in unread.reasons[1]
    assert "cannot be read" in unread.reasons[2] and "No such file" in unread.reasons[3]
    assert unread.reasons[4] == "ingested file 4 is not recorded"


@pytest.mark.slow
def test_a_regressors_period_fed_by_two_ticks_and_a_request_is_estimated_on_all_of_them(
    project: Path, tmp_path: Path, database_url: str
) -> None:
    import pandas as pd

    from pipeline.run.calibrate_step import numeric_matrix
    from pipeline.settings import load_settings
    from pipeline.tools.sampledata import write_sample_data
    from tests.e2e import drop, rows, run_json
    from tests.test_api import make_app

    sample = tmp_path / "sample"
    write_sample_data(sample, batches=3, rows=1200, test_rows=200)
    target = "lastyear_activity"
    (project / "riskwatch.toml").write_text(
        (project / "riskwatch.toml").read_text()
        + f'\n[data]\ntarget = "{target}"\n\n[model]\ntask = "regression"\n'
        'metric = "mae"\nestimator = "sklearn.linear_model.Ridge"\n'
    )
    (project / "testdata").mkdir()
    shutil.copy(sample / "testdata" / "testdata.csv", project / "testdata" / "testdata.csv")
    drop(project, sample / "sourcedata" / "clients_batch_01.csv")
    run_json(project, database_url)
    for n in (2, 3):
        frame = pd.read_csv(sample / "sourcedata" / f"clients_batch_{n:02d}.csv")
        frame.drop(columns=target).to_csv(project / "sourcedata" / f"later_{n}.csv", index=False)
        if n == 3:  # one prediction asked of the API the same day
            settings = load_settings(
                project / "riskwatch.toml", environ={"DATABASE_URL": database_url}
            )
            record = frame.drop(columns=[target, "corporation"]).iloc[0].to_dict()
            with make_app(settings) as app:
                answer = app.test_client().post("/prediction", json={"records": [record]})
                assert answer.status_code == 200, answer.get_json()
        done = run_json(project, database_url)
    est = done["estimate"]
    [period] = est["periods"]
    assert est["n_rows"] == 1200  # the run's own rows
    assert period["n_rows"] == 1200 + 1200 + 1  # the day's: two unlabelled files, one request

    # The same estimate, computed here: each stored row's features read with pandas.
    (cal,) = rows(database_url, "SELECT method, params FROM calibrations")
    params = json.loads(cal["params"]) if isinstance(cal["params"], str) else cal["params"]
    (version,) = rows(database_url, "SELECT features FROM model_versions")
    spec = version["features"]
    numeric = (json.loads(spec) if isinstance(spec, str) else spec)["numeric"]
    stored = rows(
        database_url,
        "SELECT p.prediction, p.row_number, p.features, f.data_path FROM predictions p "
        "LEFT JOIN ingested_files f ON f.id = p.file_id WHERE p.source IN ('api', 'scheduled') "
        "AND (p.file_id IS NULL OR f.labelled_rows < f.rows)",
    )
    assert len(stored) == 2401
    parquet = {
        path: pd.read_parquet(project / "ingesteddata" / path)
        for path in {r["data_path"] for r in stored if r["data_path"]}
    }
    features = pd.DataFrame(
        [
            parquet[r["data_path"]].iloc[r["row_number"]][numeric].to_dict()
            if r["data_path"]
            else json.loads(r["features"])
            if isinstance(r["features"], str)
            else r["features"]
            for r in stored
        ]
    )
    from pipeline.model.features import FeatureSpec

    matrix = numeric_matrix(features, FeatureSpec(numeric=tuple(numeric), categorical=()))
    pred = np.array([r["prediction"] for r in stored])
    direct = loss.estimate_mae(params, matrix, pred, confidence=0.95, method=cal["method"])
    mae = period["metrics"]["mae"]
    assert mae["value"] == pytest.approx(direct.value, rel=1e-9)
    # The interval's x' Cov x at the mean design row cancels large terms: the order the rows
    # are summed in moves it in the sixth digit, never more.
    assert mae["ci_low"] == pytest.approx(direct.ci_low, rel=1e-5)
    assert mae["ci_high"] == pytest.approx(direct.ci_high, rel=1e-5)

    # An ingested file removed by hand: its rows are left out, the rest still estimated.
    first = rows(database_url, "SELECT data_path FROM ingested_files WHERE name = 'later_2.csv'")
    (project / "ingesteddata" / first[0]["data_path"]).unlink()
    frame = pd.read_csv(sample / "sourcedata" / "clients_batch_01.csv").drop(columns=target)
    frame.head(300).to_csv(project / "sourcedata" / "later_4.csv", index=False)
    [period] = run_json(project, database_url)["estimate"]["periods"]
    assert period["n_rows"] == 1200 + 1 + 300
