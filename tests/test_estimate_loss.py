"""Direct loss estimation of a regressor's MAE without labels: the loss models fitted on the
holdout (linear, and gradient-boosted trees kept as JSON), their estimates against the realised
MAE under covariate shift, the choice between them, and a regression run through the real
CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.estimate import loss, loss_trees


def _data(rng: np.random.Generator, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """y = 2 x1 - x2 + noise whose spread grows with x1: the error is larger where x1 is."""
    x = rng.normal(size=(n, 3)) + np.array([shift, 0.0, 0.0])
    noise = rng.normal(size=n) * (0.5 + 0.4 * np.abs(x[:, 0]))
    return x, 2 * x[:, 0] - x[:, 1] + noise


def test_the_loss_model_follows_the_error_where_it_grows() -> None:
    rng = np.random.default_rng(0)
    x, y = _data(rng, 6000, 0.0)
    pred = 2 * x[:, 0] - x[:, 1]  # the regressor itself is right on average
    params = loss.fit(x, pred, y)
    assert json.loads(json.dumps(params)) == params
    assert params["r2"] > 0.05
    inside, errors, periods = 0, [], 30
    for t in range(periods):
        xs, ys = _data(rng, 2000, shift=t / periods)  # rows move to where the error is larger
        ps = 2 * xs[:, 0] - xs[:, 1]
        e = loss.estimate_mae(params, xs, ps, confidence=0.95)
        realised = float(np.abs(ys - ps).mean())
        inside += e.ci_low <= realised <= e.ci_high
        errors.append(abs(e.value - realised))
    assert inside / periods >= 0.8
    assert np.mean(errors) < 0.04
    first = loss.estimate_mae(params, _data(rng, 2000, 0.0)[0], pred[:2000], confidence=0.95)
    assert first.n_rows == 2000 and first.ci_low < first.value < first.ci_high


def test_missing_numbers_take_the_holdout_median() -> None:
    rng = np.random.default_rng(1)
    x, y = _data(rng, 500, 0.0)
    pred = 2 * x[:, 0] - x[:, 1]
    params = loss.fit(x, pred, y)
    gap = x[:10].copy()
    gap[:, 2] = np.nan
    filled = x[:10].copy()
    filled[:, 2] = params["median"][2]
    a = loss.estimate_mae(params, gap, pred[:10], confidence=0.9)
    b = loss.estimate_mae(params, filled, pred[:10], confidence=0.9)
    assert a == b


@pytest.mark.slow
def test_a_regressor_is_estimated_each_run(project: Path, tmp_path: Path) -> None:
    from pipeline.tools.sampledata import write_sample_data
    from tests.e2e import drop, rows, run_json

    sample = tmp_path / "sample"
    write_sample_data(sample, batches=2, rows=1200, test_rows=200)
    (project / "riskwatch.toml").write_text(
        (project / "riskwatch.toml").read_text()
        + '\n[data]\ntarget = "lastyear_activity"\n\n[model]\ntask = "regression"\n'
        'metric = "mae"\nestimator = "sklearn.linear_model.Ridge"\n'
    )
    (project / "testdata").mkdir()
    shutil.copy(sample / "testdata" / "testdata.csv", project / "testdata" / "testdata.csv")
    drop(project, sample / "sourcedata" / "clients_batch_01.csv")
    run_json(project)
    url = f"sqlite:///{project / 'riskwatch.db'}"
    (cal,) = rows(url, "SELECT * FROM calibrations")
    assert cal["method"] in loss.METHODS and cal["ece"] is None
    candidates = cal["candidates"]
    candidates = json.loads(candidates) if isinstance(candidates, str) else candidates
    assert set(candidates) == set(loss.METHODS)  # both cross-validated, the lower kept
    assert cal["method"] == min(candidates, key=candidates.get)
    drop(project, sample / "sourcedata" / "clients_batch_02.csv")
    second = run_json(project)
    est = second["estimate"]
    assert est["estimated"] and set(est["metrics"]) == {"mae"}
    mae = est["metrics"]["mae"]
    assert mae["ci_low"] < mae["value"] < mae["ci_high"]
    realised = second["score"]["value"]  # the run's labelled rows, which the estimate never read
    assert abs(mae["value"] - realised) < 0.25 * realised
    recorded = rows(url, "SELECT * FROM performance_estimates WHERE metric = 'mae'")
    assert {r["period"] for r in recorded} == {"run", "day"}


def test_the_trees_as_json_predict_what_scikit_learn_does() -> None:
    from sklearn.ensemble import GradientBoostingRegressor

    rng = np.random.default_rng(5)
    x = rng.normal(size=(800, 3))
    target = np.abs(rng.normal(size=800)) * (1 + (x[:, 0] > 0))
    params = json.loads(json.dumps(loss_trees.fit(x, target, seed=3)))
    model = GradientBoostingRegressor(
        **loss_trees.TREE_PARAMS, min_samples_leaf=5, random_state=3
    ).fit(x, target)
    fresh = rng.normal(size=(300, 3)) * 2  # beyond the fitted range too
    assert loss_trees.apply(params, fresh) == pytest.approx(model.predict(fresh), abs=1e-12)


def _corner(
    rng: np.random.Generator, n: int, t: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, each row's true expected |error|): the error's spread jumps where x1 > 0.5 and
    x2 > 0 meet and waves with x3, no line's shape; period t draws more and more rows from
    that corner, inside the holdout's range."""
    x = rng.normal(size=(n, 3)) * (1 - 0.4 * t) + np.array([0.8 * t, 0.5 * t, 0.0])
    sd = 0.2 + 2.0 * ((x[:, 0] > 0.5) & (x[:, 1] > 0)) + 0.8 * np.sin(2 * x[:, 2]) ** 2
    y = 2 * x[:, 0] - x[:, 1] + rng.normal(size=n) * sd
    return x, y, sd * np.sqrt(2 / np.pi)


def test_trees_are_chosen_and_beat_the_line_where_the_error_has_a_shape() -> None:
    rng = np.random.default_rng(3)
    x, y, _ = _corner(rng, 4000, 0.0)
    pred = 2 * x[:, 0] - x[:, 1]
    method, params, mse = loss.choose(x, pred, y, folds=5, seed=0)
    assert method == loss.TREES and mse[loss.TREES] < mse[loss.METHOD]
    assert json.loads(json.dumps(params)) == params
    linear = loss.fit(x, pred, y)
    errors: dict[str, list[float]] = {"trees": [], "linear": []}
    for t in np.linspace(0, 0.9, 10):
        xs, _, truth = _corner(rng, 2000, t)
        ps = 2 * xs[:, 0] - xs[:, 1]
        trees = loss.estimate_mae(params, xs, ps, confidence=0.95, method=loss.TREES)
        line = loss.estimate_mae(linear, xs, ps, confidence=0.95)
        assert trees.ci_low < trees.value < trees.ci_high
        errors["trees"].append(abs(trees.value - truth.mean()))
        errors["linear"].append(abs(line.value - truth.mean()))
    # Against the rows' true expected |error|: the line misses the corner it cannot draw.
    assert np.mean(errors["trees"]) < 0.75 * np.mean(errors["linear"]), errors


@pytest.mark.parametrize("method", loss.METHODS)
def test_one_loss_model_named_is_the_one_fitted(method: str) -> None:
    rng = np.random.default_rng(2)
    x, y, _ = _corner(rng, 300, 0.0)
    pred = 2 * x[:, 0] - x[:, 1]
    chosen, params, mse = loss.choose(x, pred, y, folds=3, seed=0, methods=(method,))
    assert chosen == method and set(mse) == {method}
    found = loss.estimate_mae(params, x[:50], pred[:50], confidence=0.9, method=method)
    assert found.n_rows == 50 and found.ci_low <= found.value <= found.ci_high


def test_the_trees_take_a_sample_of_a_large_holdout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loss, "TREE_ROWS", 200)
    rng = np.random.default_rng(4)
    x, y, _ = _corner(rng, 500, 0.0)
    pred = 2 * x[:, 0] - x[:, 1]
    _, trees, _ = loss.choose(x, pred, y, folds=3, seed=0, methods=(loss.TREES,))
    assert trees["holdout_rows"] == 200  # its interval counts the rows it was fitted on
    _, line, _ = loss.choose(x, pred, y, folds=3, seed=0, methods=(loss.METHOD,))
    assert line["holdout_mae"] == pytest.approx(float(np.abs(y - pred).mean()))  # all 500


def test_rows_fall_in_periods_by_event_time_else_by_ingest_time() -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    import pandas as pd

    from pipeline.run.estimate_step import ingest_times, row_periods

    files = [
        SimpleNamespace(ingested_at=datetime(2026, 11, 3, 23, 59, tzinfo=UTC), rows=2),
        SimpleNamespace(ingested_at=datetime(2026, 11, 4, 0, 1, tzinfo=UTC), rows=1),
    ]
    ingested = ingest_times(files, 3)
    frame = pd.DataFrame(
        {"x": [1, 2, 3], "seen": pd.to_datetime(["2026-10-01 10:00", None, "2026-10-02 00:00"])}
    )
    by_ingest = SimpleNamespace(settings={"data.timestamp_column": "", "monitoring.period": "day"})
    assert [str(d.date()) for d in row_periods(by_ingest, frame, ingested)] == [
        "2026-11-03",
        "2026-11-03",
        "2026-11-04",
    ]
    by_event = SimpleNamespace(
        settings={"data.timestamp_column": "seen", "monitoring.period": "week"}
    )
    starts = row_periods(by_event, frame, ingested)
    assert str(starts[0].date()) == "2026-09-28" and pd.isna(starts[1])  # no event time: none
    assert str(starts[2].date()) == "2026-09-28"
    # A frame that is not these files' rows cannot be placed by ingest time.
    assert ingest_times(files, 4).isna().all()


@pytest.mark.parametrize("n", [1, 2, 4, 9])
def test_a_holdout_too_small_to_cross_validate_gets_the_line_without_a_choice(n: int) -> None:
    """A first model trained on a few labelled rows has a holdout of a few rows: fewer than two
    per fold is no choice to make (the folds would be empty), not a crash of the run."""
    rng = np.random.default_rng(n)
    x, pred = rng.normal(size=(n, 2)), rng.normal(size=n)
    method, params, mse = loss.choose(x, pred, pred + rng.normal(size=n), folds=5, seed=0)
    assert method == loss.METHOD and mse == {}
    assert set(params) >= {"r2"}
