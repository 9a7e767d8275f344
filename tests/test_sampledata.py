"""The sample data: deterministic, well formed, learnable, and drifting where the story says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pipeline.tools.sampledata import (
    COLUMNS,
    FEATURES_CATEGORICAL,
    FEATURES_NUMERIC,
    ID_COLUMN,
    INDUSTRIES,
    MISSING_COLUMNS,
    REGIONS,
    TARGET,
    generate_batch,
    generate_test,
    write_sample_data,
)

REPO = Path(__file__).resolve().parent.parent
FEATURES = [*FEATURES_NUMERIC, *FEATURES_CATEGORICAL]
HOLDOUT_SHARE = 0.2
TOLERANCE = 0.02  # the retrain policy's default: a drop must exceed this and clear the interval


def _model() -> Pipeline:
    """The product's default model: impute, scale, one-hot encode, logistic regression."""
    preprocess = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                list(FEATURES_NUMERIC),
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                list(FEATURES_CATEGORICAL),
            ),
        ]
    )
    return Pipeline([("preprocess", preprocess), ("model", LogisticRegression(random_state=42))])


def _fit(frame: pd.DataFrame) -> Pipeline:
    return _model().fit(frame[FEATURES], frame[TARGET])


def _split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on the older rows, hold out the newest 20%."""
    cut = len(frame) - round(len(frame) * HOLDOUT_SHARE)
    return frame.iloc[:cut], frame.iloc[cut:]


def _f1(model: Pipeline, frame: pd.DataFrame) -> float:
    return float(f1_score(frame[TARGET], model.predict(frame[FEATURES])))


def _f1_interval(model: Pipeline, frame: pd.DataFrame, samples: int = 1000) -> tuple[float, float]:
    """95% percentile bootstrap interval of F1 over the rows of frame."""
    truth = frame[TARGET].to_numpy().astype(bool)
    predicted = model.predict(frame[FEATURES]).astype(bool)
    index = np.random.default_rng(0).integers(0, len(frame), size=(samples, len(frame)))
    t, p = truth[index], predicted[index]
    tp = (t & p).sum(axis=1)
    wrong = (t ^ p).sum(axis=1)
    f1 = np.where(2 * tp + wrong > 0, 2 * tp / np.maximum(2 * tp + wrong, 1), 0.0)
    low, high = np.quantile(f1, [0.025, 0.975])
    return float(low), float(high)


def _retrains(recorded: float, model: Pipeline, new: pd.DataFrame) -> bool:
    """The default policy: retrain when the drop exceeds the tolerance and clears the interval."""
    _, high = _f1_interval(model, new)
    return recorded - _f1(model, new) > TOLERANCE and recorded > high


# -- shape of the data -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: generate_batch(1, 300),
        lambda: generate_batch(4, 300),
        lambda: generate_test(300),
    ],
    ids=["base batch", "drifted batch", "test file"],
)
def test_columns_dtypes_and_ranges(make) -> None:
    frame = make()
    assert tuple(frame.columns) == COLUMNS
    assert len(frame) == 300
    assert frame[ID_COLUMN].str.fullmatch(r"C\d{9}").all()
    for column in ("lastmonth_activity", "lastyear_activity", "years_as_client"):
        assert frame[column].dtype == np.float64, column
    for column in ("number_of_employees", "support_tickets", TARGET):
        assert frame[column].dtype == np.int64, column
    assert (frame["number_of_employees"] >= 1).all()
    assert (frame["support_tickets"] >= 0).all()
    assert (frame["years_as_client"].dropna() >= 0).all()
    assert (frame[["lastmonth_activity", "lastyear_activity"]].dropna() > 0).all().all()
    assert set(frame[TARGET]) == {0, 1}
    assert set(frame["industry"]) <= set(INDUSTRIES)
    assert set(frame["region"]) <= set(REGIONS)
    assert len(INDUSTRIES) == 6 and len(REGIONS) == 4


def test_missing_values_are_few_and_only_in_two_feature_columns() -> None:
    frame = pd.concat([generate_batch(1, 2000), generate_batch(3, 2000), generate_test()])
    shares = frame.isna().mean()
    assert len(MISSING_COLUMNS) == 2 and set(MISSING_COLUMNS) <= set(FEATURES_NUMERIC)
    for column in COLUMNS:
        if column in MISSING_COLUMNS:
            assert 0.005 <= shares[column] <= 0.03, (column, shares[column])
        else:
            assert shares[column] == 0, column


def test_attrition_rate_is_realistic_and_drift_moves_the_clients() -> None:
    base, drifted = generate_batch(2, 2000), generate_batch(3, 2000)
    assert 0.2 <= base[TARGET].mean() <= 0.3
    assert 0.2 <= drifted[TARGET].mean() <= 0.4
    east_base, east_drifted = ((frame["region"] == "east").mean() for frame in (base, drifted))
    assert east_base < 0.1 and east_drifted > 0.4, (east_base, east_drifted)
    trend_base, trend_drifted = (
        (frame["lastmonth_activity"] / frame["lastyear_activity"]).median()
        for frame in (base, drifted)
    )
    assert trend_drifted < trend_base - 0.05, (trend_base, trend_drifted)


def test_drift_starts_at_drift_from() -> None:
    assert generate_batch(3, 500, drift_from=4).equals(generate_batch(3, 500, drift_from=5)), (
        "a batch before drift_from comes from the base market whatever drift_from is"
    )
    assert not generate_batch(3, 500, drift_from=4).equals(generate_batch(3, 500, drift_from=3))
    assert (generate_batch(2, 2000, drift_from=2)["region"] == "east").mean() > 0.4


# -- determinism, ids and files ----------------------------------------------------------------


def test_same_seed_same_data_other_seed_other_data() -> None:
    pd.testing.assert_frame_equal(generate_batch(2, 500, seed=11), generate_batch(2, 500, seed=11))
    pd.testing.assert_frame_equal(generate_test(500, seed=11), generate_test(500, seed=11))
    assert not generate_batch(2, 500, seed=11).equals(generate_batch(2, 500, seed=12))
    assert (
        not generate_batch(1, 500)
        .drop(columns=ID_COLUMN)
        .equals(generate_batch(2, 500).drop(columns=ID_COLUMN))
    )


def test_ids_are_unique_across_batches_and_the_test_file() -> None:
    frames = [generate_batch(batch, 1000) for batch in range(1, 5)] + [generate_test(1000)]
    ids = pd.concat([frame[ID_COLUMN] for frame in frames])
    assert ids.is_unique
    assert len(ids) == 5000


def test_write_sample_data_writes_the_generated_frames(tmp_path: Path) -> None:
    written = write_sample_data(tmp_path, batches=3, rows=200, test_rows=100)
    assert written == [
        tmp_path / "sourcedata" / "clients_batch_01.csv",
        tmp_path / "sourcedata" / "clients_batch_02.csv",
        tmp_path / "sourcedata" / "clients_batch_03.csv",
        tmp_path / "testdata" / "testdata.csv",
    ]
    # Nothing else: no temporary file left behind.
    assert sorted(tmp_path.rglob("*")) == sorted(
        [*written, tmp_path / "sourcedata", tmp_path / "testdata"]
    )
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in written)
    for batch, path in enumerate(written[:3], start=1):
        pd.testing.assert_frame_equal(pd.read_csv(path), generate_batch(batch, 200))
    pd.testing.assert_frame_equal(pd.read_csv(written[3]), generate_test(100))


def test_files_are_byte_identical_and_independent_of_the_number_of_batches(
    tmp_path: Path,
) -> None:
    first = write_sample_data(tmp_path / "a", batches=2, rows=300, test_rows=100)
    again = write_sample_data(tmp_path / "b", batches=2, rows=300, test_rows=100)
    more = write_sample_data(tmp_path / "c", batches=4, rows=300, test_rows=100)
    for path, same in zip(first, again, strict=True):
        assert path.read_bytes() == same.read_bytes(), path.name
    for path, same in zip(first[:2], more[:2], strict=True):
        assert path.read_bytes() == same.read_bytes(), path.name
    assert first[-1].read_bytes() == more[-1].read_bytes()
    assert first[0].read_bytes() != first[1].read_bytes()


def test_write_sample_data_overwrites_existing_files(tmp_path: Path) -> None:
    target = tmp_path / "sourcedata" / "clients_batch_01.csv"
    target.parent.mkdir()
    target.write_text("stale\n")
    write_sample_data(tmp_path, batches=1, rows=50, test_rows=10)
    assert target.read_text().startswith(",".join(COLUMNS) + "\n")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: write_sample_data(d, rows=0), r"rows must be between 1 and \d+, got 0"),
        (lambda d: write_sample_data(d, batches=0), r"batches must be between 1 and 99, got 0"),
        (lambda d: write_sample_data(d, drift_from=0), r"drift_from must be >= 1, got 0"),
        (lambda d: write_sample_data(d, test_rows=0), r"test_rows must be between 1"),
        (lambda d: write_sample_data(d, seed=-1), r"seed must be >= 0, got -1"),
        (lambda d: write_sample_data(d, rows=2.5), r"rows must be an integer, got 2.5"),
        (lambda d: generate_batch(0, 10), r"batch must be between 1 and 99, got 0"),
        (lambda d: generate_batch(1, 0), r"rows must be between 1 and \d+, got 0"),
        (lambda d: generate_batch(1, True), r"rows must be an integer, got True"),
        (lambda d: generate_batch(1, 10, drift_from=0), r"drift_from must be >= 1, got 0"),
        (lambda d: generate_test(0), r"rows must be between 1 and \d+, got 0"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(
    tmp_path: Path, call, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_importing_the_module_does_not_import_pandas() -> None:
    code = "import sys, pipeline.tools.sampledata; sys.exit('pandas' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


# -- what the product will see: learn, keep on like data, retrain on drifted data --------------


def test_model_learns_something_real() -> None:
    model = _fit(pd.concat([generate_batch(1, 2000), generate_batch(2, 2000)]))
    test = generate_test(1000)
    predicted = model.predict(test[FEATURES])
    baseline_accuracy = max(test[TARGET].mean(), 1 - test[TARGET].mean())
    # The majority class is "stayed", so the baseline's F1 for "exited" is 0.
    assert f1_score(test[TARGET], predicted) > 0.55
    assert accuracy_score(test[TARGET], predicted) > baseline_accuracy + 0.07
    assert roc_auc_score(test[TARGET], model.predict_proba(test[FEATURES])[:, 1]) > 0.8


@pytest.fixture(scope="module", params=[500, 2000], ids=lambda rows: f"rows={rows}")
def ticks(request: pytest.FixtureRequest) -> dict:
    """Ticks 1-3 of the product on batches of the given size: v1 and what it records."""
    rows = request.param
    batches = [generate_batch(batch, rows) for batch in (1, 2, 3)]
    train, holdout = _split(batches[0])
    v1 = _fit(train)
    return {"batches": batches, "v1": v1, "recorded": _f1(v1, holdout)}


def test_tick_2_like_data_does_not_trigger_a_retrain(ticks: dict) -> None:
    v1, recorded, batch_2 = ticks["v1"], ticks["recorded"], ticks["batches"][1]
    assert not _retrains(recorded, v1, batch_2), (
        recorded,
        _f1(v1, batch_2),
        _f1_interval(v1, batch_2),
    )


def test_tick_3_drifted_data_degrades_v1_clearly(ticks: dict) -> None:
    v1, recorded, batch_3 = ticks["v1"], ticks["recorded"], ticks["batches"][2]
    score = _f1(v1, batch_3)
    _, high = _f1_interval(v1, batch_3)
    assert recorded - score > 0.1, (recorded, score)
    assert recorded > high, (recorded, high)
    assert _retrains(recorded, v1, batch_3)


def test_tick_3_challenger_beats_v1_on_the_newest_holdout(ticks: dict) -> None:
    rows = len(ticks["batches"][0])
    train, holdout = _split(pd.concat(ticks["batches"], ignore_index=True))
    assert holdout[ID_COLUMN].str.startswith("C03").all(), "the holdout is from batch 3"
    assert train[ID_COLUMN].str.startswith("C03").sum() == rows - len(holdout)
    champion, challenger = _f1(ticks["v1"], holdout), _f1(_fit(train), holdout)
    assert challenger > champion + 0.08, (champion, challenger)
