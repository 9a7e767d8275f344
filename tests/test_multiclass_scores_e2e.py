"""A 3-class model (scikit-learn's wine data) scored through the real CLI on rows that show one
class or two: `riskwatch score --data` and the realised performance of labels joined later
(`riskwatch labels`) are macro over the classes present, scikit-learn's, never the binary F1
of the classes the rows happen to show (30 rows of class 0, all right, were F1 0)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.datasets import load_wine
from sklearn.metrics import f1_score, precision_score, recall_score

from pipeline.model import registry
from pipeline.model.estimator import predict
from pipeline.run.score_step import read_scorable
from pipeline.settings import load_settings
from pipeline.storage import label_writes
from tests.e2e import drop, invoke, run_json

pytestmark = pytest.mark.slow

SKLEARN = {"precision": precision_score, "recall": recall_score, "f1": f1_score}


def _macro(metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    labels = np.union1d(y, pred)
    return float(SKLEARN[metric](y, pred, average="macro", labels=labels, zero_division=0))


def _wine() -> pd.DataFrame:
    frame = load_wine(as_frame=True).frame
    frame.insert(0, "rid", [f"w{i:05d}" for i in range(len(frame))])
    return frame


def _two_classes(wine: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """15 rows of class 0 and 15 of class 2; five of the class-0 rows carry class-2 features,
    so the model calls them 2: the labels and predictions show classes 0 and 2 only."""
    zero = wine[wine.target == 0].iloc[30:45].copy()
    two = wine[wine.target == 2].iloc[:15].copy()
    features = [c for c in wine.columns if c not in ("rid", "target")]
    zero.iloc[:5, zero.columns.get_indexer(features)] = two[features].iloc[:5].to_numpy()
    out = pd.concat([zero, two], ignore_index=True)
    out["rid"] = [f"{prefix}{i:05d}" for i in range(len(out))]
    return out


def _one_class(wine: pd.DataFrame, prefix: str) -> pd.DataFrame:
    out = wine[wine.target == 0].iloc[:30].copy().reset_index(drop=True)
    out["rid"] = [f"{prefix}{i:05d}" for i in range(len(out))]
    return out


@pytest.fixture
def wine_project(project: Path, database_url: str) -> tuple[Path, str]:
    (project / "riskwatch.toml").write_text(
        "[diagnostics]\noutdated_packages = false\n"
        '[data]\ntarget = "target"\nid_columns = ["rid"]\n'
        '[model]\nmetric = "f1"\nparams = { max_iter = 5000 }\n'
        "[policy]\nbootstrap_samples = 200\n"
    )
    src = project / "wine.csv"
    _wine().to_csv(src, index=False)
    drop(project, src)
    assert run_json(project, database_url)["production_version"] == 1
    return project, database_url


def _expected(project: Path, url: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The labels of a file and version 1's predictions of its rows."""
    settings = load_settings(project / "riskwatch.toml", environ={"DATABASE_URL": url})
    engine = sa.create_engine(url)
    try:
        loaded = registry.load(engine, settings, 1)
    finally:
        engine.dispose()
    assert len(loaded.model.classes_) == 3
    frame = read_scorable(path, loaded)
    pred, _ = predict(loaded.model, loaded.features, frame)
    return frame["target"].to_numpy(), np.asarray(pred)


@pytest.mark.parametrize("rows", ["one-class", "two-classes"])
def test_score_of_a_three_class_model_on_one_or_two_classes_is_macro(
    wine_project: tuple[Path, str], rows: str
) -> None:
    project, url = wine_project
    part = (_one_class if rows == "one-class" else _two_classes)(_wine(), "s")
    path = project / "part.csv"
    part.to_csv(path, index=False)
    y, pred = _expected(project, url, path)
    assert set(np.union1d(y, pred)) == ({0} if rows == "one-class" else {0, 2})
    if rows == "two-classes":  # a binary F1 of class 2 would differ
        assert f1_score(y, pred, pos_label=2) != pytest.approx(_macro("f1", y, pred))
    for metric in SKLEARN:
        env = {"RISKWATCH_MODEL__METRIC": metric}
        proc = invoke(project, "score", "--data", str(path), "--json", database_url=url, env=env)
        assert proc.returncode == 0, proc.stderr
        score = json.loads(proc.stdout)["score"]
        assert score["metric"] == metric
        assert score["value"] == pytest.approx(_macro(metric, y, pred), abs=1e-12), metric
        assert score["ci_low"] <= score["value"] <= score["ci_high"]


def test_realised_performance_of_a_three_class_model_is_macro(
    wine_project: tuple[Path, str],
) -> None:
    """Predicted unlabelled, then labelled by a labels file: first a period of one class, then
    the same period with rows of two classes more (realised on all its joined labels)."""
    project, url = wine_project
    wine = _wine()
    (project / "labels").mkdir(exist_ok=True)
    seen_y, seen_pred = [], []
    for i, part in enumerate([_one_class(wine, "u"), _two_classes(wine, "v")]):
        path = project / f"part{i}.csv"
        part.to_csv(path, index=False)
        y, pred = _expected(project, url, path)
        seen_y.append(y)
        seen_pred.append(pred)
        unlabelled = part.assign(target=None)
        unlabelled.to_csv(project / f"unlabelled{i}.csv", index=False)
        drop(project, project / f"unlabelled{i}.csv")
        assert run_json(project, url)["production_version"] == 1
        part[["rid", "target"]].to_csv(project / "labels" / f"labels{i}.csv", index=False)
        proc = invoke(project, "labels", "--json", database_url=url)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["labels"]["joined"] == len(part)
        all_y, all_pred = np.concatenate(seen_y), np.concatenate(seen_pred)
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                found = {r["metric"]: r for r in label_writes.latest_realised(conn)}
        finally:
            engine.dispose()
        for metric in SKLEARN:
            r = found[metric]
            assert r["n_rows"] == len(all_y)
            expected = _macro(metric, all_y, all_pred)
            assert r["value"] == pytest.approx(expected, abs=1e-12), (i, metric)
            assert r["ci_low"] <= r["value"] <= r["ci_high"]
