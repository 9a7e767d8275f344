"""dvc.yaml's `evaluate` stage (`riskwatch experiments evaluate`): the challenger of
experiments/model and the snapshot's production model on the test file (`paths.test_data`),
as DVC metrics (experiments/evaluation.json) and plots DVC renders (experiments/plots/):

- classification: `confusion.csv` (actual, predicted per row), and for two classes
  `roc.csv` (fpr, tpr) and `precision_recall.csv` (recall, precision);
- regression: `residuals.csv` (predicted, actual, residual per row).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import DataError, ModelIntegrityError, RiskwatchError
from pipeline.experiments.train_stage import (
    MODEL_DIR,
    MODEL_FILE,
    MODEL_META,
    reading_snapshot,
    snapshot_production,
    snapshot_run,
)
from pipeline.infra.files import atomic_write_bytes
from pipeline.model import registry
from pipeline.run.evaluation import test_frame
from pipeline.settings import Settings
from pipeline.settings.provenance import experiments_dir

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pipeline.model.features import FeatureSpec

log = logging.getLogger("riskwatch")

EVALUATION = "evaluation.json"
PLOTS = "plots"
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION_METRICS = ("mae", "rmse", "r2")


def load_challenger(settings: Settings) -> tuple[Any, FeatureSpec]:
    """experiments/model's model, after checking its SHA-256 against model.json."""
    from pipeline.model.features import FeatureSpec

    folder = experiments_dir(settings) / MODEL_DIR
    try:
        meta = json.loads((folder / MODEL_META).read_text(encoding="utf-8"))
        data = (folder / MODEL_FILE).read_bytes()
    except (OSError, ValueError) as exc:
        raise DataError(
            f"no trained experiment in {folder} ({exc}): run the train stage first (dvc repro)"
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != meta.get("sha256"):
        raise ModelIntegrityError(
            f"{folder / MODEL_FILE} has SHA-256 {digest[:12]}…, {MODEL_META} says "
            f"{str(meta.get('sha256'))[:12]}…; refusing to load it"
        )
    model = registry.unpickle(data, folder / MODEL_FILE, registry.trusted_modules(settings))
    return model, FeatureSpec.from_json(meta["features"])


def _metrics(task: str, y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None) -> dict:
    from pipeline.model.metrics import compute

    names = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    out: dict[str, Any] = {"rows": len(y)}
    for name in names:
        if name == "roc_auc" and proba is None:
            continue
        out[name] = compute(name, y, pred, proba)
    return out


def _production_on(settings: Settings, test_for: Any) -> dict[str, Any] | None:
    from pipeline.model.estimator import predict

    with reading_snapshot(settings):
        version, champion, error = snapshot_production(snapshot_run(settings))
    if version is None:
        return None
    if champion is None:
        return {"version": version, "error": error}
    try:
        frame, y = test_for(champion.features)
        pred, proba = predict(champion.model, champion.features, frame)
    except (RiskwatchError, KeyError, ValueError) as exc:
        return {"version": version, "error": str(exc)[:300]}
    return {"version": version, **_metrics(settings["model.task"], y, pred, proba)}


def _plots(folder: Path, task: str, y: np.ndarray, pred: np.ndarray, proba: Any) -> list[str]:
    """Write the plot files afresh; return their names."""
    import pandas as pd

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    frames: dict[str, pd.DataFrame] = {}
    if task == "classification":
        frames["confusion.csv"] = pd.DataFrame({"actual": y, "predicted": pred})
        if proba is not None and len(set(y.tolist())) == 2:
            frames.update(_curves(y, proba))
    else:
        residual = y.astype(float) - pred.astype(float)
        frames["residuals.csv"] = pd.DataFrame(
            {"predicted": pred, "actual": y, "residual": residual}
        )
    for name, frame in frames.items():
        frame.to_csv(folder / name, index=False)
    return sorted(frames)


def _curves(y: np.ndarray, proba: np.ndarray) -> dict[str, pd.DataFrame]:
    import pandas as pd
    from sklearn.metrics import precision_recall_curve, roc_curve

    positive = max(set(y.tolist()))
    fpr, tpr, _ = roc_curve(y, proba, pos_label=positive)
    precision, recall, _ = precision_recall_curve(y, proba, pos_label=positive)
    return {
        "roc.csv": pd.DataFrame({"fpr": fpr, "tpr": tpr}),
        "precision_recall.csv": pd.DataFrame({"recall": recall, "precision": precision}),
    }


def run_evaluate_stage(settings: Settings) -> dict[str, Any]:
    """Score the challenger (and production) on the test file; write metrics and plots."""
    from pipeline.model.estimator import predict

    target = settings["data.target"]
    path = settings.path("paths.test_data")

    def test_for(features: FeatureSpec) -> tuple[pd.DataFrame, np.ndarray]:
        frame = test_frame(settings, features)
        if frame is None:
            raise DataError(f"the test file {path} cannot be used (the log says why)")
        return frame, frame[target].to_numpy()

    model, features = load_challenger(settings)
    frame, y = test_for(features)
    pred, proba = predict(model, features, frame)
    task = settings["model.task"]
    out = experiments_dir(settings)
    doc = {
        "challenger": _metrics(task, y, pred, proba),
        "production": _production_on(settings, test_for),
    }
    text = json.dumps(doc, indent=2, default=str) + "\n"
    atomic_write_bytes(out / EVALUATION, text.encode())
    return {**doc, "test_file": str(path), "plots": _plots(out / PLOTS, task, y, pred, proba)}
