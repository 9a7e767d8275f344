"""Numbers of 2**63 or more in size are never cast to int64 (they wrapped around: a regression
label of 1e19 gave a realised MAE of 9.2e18, and 1e308 was -9223372036854775808 in the joined
training file). Whole numbers int64 holds are still int64, as the gate stores a file's target.
Pure parts on literal values; the labels step and the gate through the real CLI (scikit-learn's
diabetes data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sklearn.datasets import load_diabetes
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

from pipeline.ingest import contract as contracts
from pipeline.labels.realised import predicted, realised, typed_labels
from pipeline.labels.validate import label_text
from pipeline.model.features import labels, whole_int64
from pipeline.model.metrics import compute, score_with_interval
from pipeline.settings import load_settings
from pipeline.storage import label_writes
from tests.e2e import drop, invoke, run_json
from tests.test_ingest import _ingest

HUGE = [1e19, 1e308, -1e19, 2.0**63, -(2.0**65)]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0, 1, 150, -7], True),
        ([-(2.0**63)], True),  # int64's least value
        ([2.0**63 - 1024], True),  # the largest float below 2**63
        ([2.0**63], False),
        ([1e19], False),
        ([-1e19], False),
        ([1e308], False),
        ([1.5], False),
        ([np.nan], False),
        ([np.inf], False),
        ([], True),
    ],
)
def test_whole_int64_is_whole_and_within_int64(values: list, expected: bool) -> None:
    assert whole_int64(np.array(values, dtype="float64")) is expected


@pytest.mark.parametrize("value", HUGE)
def test_a_label_past_int64_stays_the_float_it_is(value: float) -> None:
    texts = pd.Series([label_text(value), "150"])  # as the labels step stores them
    typed = typed_labels(texts, numeric=True)
    assert typed.dtype == np.float64
    assert typed.tolist() == [value, 150.0]
    assert labels(pd.Series([value, 150.0])).tolist() == [value, 150.0]


def test_small_whole_labels_are_integers_as_before() -> None:
    typed = typed_labels(pd.Series(["0", "1", "150", "-3"]), numeric=True)
    assert typed.dtype == np.int64 and typed.tolist() == [0, 1, 150, -3]
    assert typed_labels(pd.Series(["0.5", "2"]), numeric=True).tolist() == [0.5, 2.0]
    assert labels(pd.Series([0.0, 1.0])).dtype == np.int64
    rows = pd.DataFrame({"prediction": [1.0, 0.0]})
    assert predicted(rows, numeric=True, classification=True).dtype == np.int64


def test_a_predicted_class_past_int64_stays_the_float_it_is() -> None:
    rows = pd.DataFrame({"prediction": [1.0, 0.0, 1e19]})
    assert predicted(rows, numeric=True, classification=True).tolist() == [1.0, 0.0, 1e19]


SKLEARN_REGRESSION = {"mae": mean_absolute_error, "rmse": root_mean_squared_error, "r2": r2_score}


@pytest.mark.parametrize("metric", sorted(SKLEARN_REGRESSION))
def test_regression_metrics_near_the_float_limit_neither_overflow_nor_change(metric) -> None:
    """A label of 1e308 held twice by a bootstrap draw summed to inf (an interval of NaN);
    scaled by a power of two, the metric is the one of the scaled-down values, scaled up."""
    y = np.array([1e308, 1e308, 150.0, -1e19, 3.0])
    pred = np.array([0.0, 150.0, 140.0, 80.0, 2.5])
    expected = SKLEARN_REGRESSION[metric](y * 1e-300, pred * 1e-300)
    value = compute(metric, y, pred)
    assert value == pytest.approx(expected if metric == "r2" else expected * 1e300, rel=1e-12)
    scored = score_with_interval(metric, y, pred, samples=300, seed=1)
    assert np.isfinite([scored.ci_low, scored.ci_high]).all()
    assert scored.ci_low <= scored.ci_high
    small_y, small_pred = y[2:], pred[2:]  # nothing scaled: the very same number as before
    err = small_pred - small_y
    before = {
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "r2": 1.0 - float((err**2).sum()) / float(((small_y - small_y.mean()) ** 2).sum()),
    }
    assert compute(metric, small_y, small_pred) == before[metric]


def _regression_settings(tmp_path: Path):
    (tmp_path / "riskwatch.toml").write_text(
        '[model]\ntask = "regression"\nmetric = "mae"\n[policy]\nbootstrap_samples = 200\n'
    )
    return load_settings(tmp_path / "riskwatch.toml", environ={})


@pytest.mark.parametrize("value", HUGE)
def test_realised_mae_of_a_label_past_int64_is_scikit_learns(tmp_path: Path, value) -> None:
    y = np.array([value, 150.0, 75.0])
    pred = np.array([140.0, 151.0, 80.0])
    rows = pd.DataFrame(
        {
            "label": [label_text(v) for v in y],
            "prediction": pred,
            "predicted_label": None,
            "probability": np.nan,
            "period_start": pd.Timestamp("2026-03-02", tz="UTC"),
            "model_version": 1,
        }
    )
    [r] = realised(rows, _regression_settings(tmp_path), numeric=True)
    assert r.score.metric == "mae"
    assert r.score.value == pytest.approx(mean_absolute_error(y, pred), rel=1e-12)


@pytest.mark.parametrize("value", HUGE)
def test_the_gate_stores_a_target_past_int64_as_the_float_it_is(tmp_path: Path, value) -> None:
    contract = contracts.from_toml(
        '[contract]\ntarget = "y"\n[columns.x]\nkind = "numeric"\n[columns.y]\nkind = "label"\n'
    )
    item = _ingest(tmp_path, "r.csv", f"x,y\n1,{value!r}\n2,150\n", contract)
    assert (item.status, item.rows) == ("ingested", 2)
    stored = pd.read_parquet(tmp_path / "out" / item.data_path)
    assert stored["y"].dtype == np.float64 and stored["y"].tolist() == [value, 150.0]
    item = _ingest(tmp_path, "s.csv", "x,y\n1,151\n2,150\n", contract)
    assert pd.read_parquet(tmp_path / "out" / item.data_path)["y"].dtype == np.int64


# --- through the CLI ------------------------------------------------------------------------

LABELS = {"000401": 1e19, "000402": 1e308, "000403": -1e19, "000404": 150}


@pytest.mark.slow
def test_labels_past_int64_give_their_realised_mae_and_joined_values(
    project: Path, database_url: str
) -> None:
    (project / "riskwatch.toml").write_text(
        "[diagnostics]\noutdated_packages = false\n"
        '[data]\ntarget = "progression"\nid_columns = ["rid"]\n'
        '[model]\ntask = "regression"\nestimator = "sklearn.linear_model.Ridge"\nparams = {}\n'
        'metric = "mae"\n[policy]\nbootstrap_samples = 200\n'
    )
    data = load_diabetes(as_frame=True).frame.rename(columns={"target": "progression"})
    data.insert(0, "rid", [f"{i:06d}" for i in range(len(data))])
    data.iloc[:400].to_csv(project / "train.csv", index=False)
    drop(project, project / "train.csv")
    assert run_json(project, database_url)["production_version"] == 1
    data.iloc[400:].assign(progression=None).to_csv(project / "unlabelled.csv", index=False)
    drop(project, project / "unlabelled.csv")
    run_json(project, database_url)
    (project / "labels").mkdir(exist_ok=True)
    lines = ["rid,progression", *(f"{k},{v!r}" for k, v in LABELS.items())]
    (project / "labels" / "late.csv").write_text("\n".join(lines) + "\n")
    proc = invoke(project, "labels", "--json", database_url=database_url)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["labels"]["joined"] == len(LABELS)

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            [mae] = label_writes.latest_realised(conn, "mae")
            keys = [json.dumps([k]) for k in LABELS]
            stored = label_writes.predictions_of(conn, keys)
            [path] = conn.execute(
                sa.text("SELECT data_path FROM ingested_files WHERE kind = 'labels'")
            ).scalars()
    finally:
        engine.dispose()
    by_key = {json.loads(r.row_key)[0]: r.prediction for r in stored}
    y = np.array(list(LABELS.values()), dtype="float64")
    pred = np.array([by_key[k] for k in LABELS], dtype="float64")
    assert mae["n_rows"] == len(LABELS)
    assert mae["value"] == pytest.approx(mean_absolute_error(y, pred), rel=1e-12)
    settings = load_settings(project / "riskwatch.toml", environ={"DATABASE_URL": database_url})
    joined = pq.read_table(settings.path("paths.ingested") / path).to_pandas()
    assert dict(zip(joined["rid"], joined["progression"], strict=True)) == LABELS
