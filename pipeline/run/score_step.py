"""The score step: the rows no run has processed yet, loaded from ingesteddata/; a model's metric
on labelled rows with its confidence interval; the confusion matrix of a classifier.

pandas, numpy and scikit-learn are imported inside the functions: a no-op tick never calls them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.infra import memory
from pipeline.run.record import Run
from pipeline.settings import Settings
from pipeline.storage import tables, writes

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import sqlalchemy as sa

    from pipeline.model.features import FeatureSpec
    from pipeline.model.metrics import Score
    from pipeline.model.registry import LoadedModel

log = logging.getLogger("riskwatch")


def load_rows(run: Run, files: Sequence[sa.Row]) -> pd.DataFrame:
    """The good rows of ingested files (rows of `ingested_files`), as one frame, in order."""
    import pandas as pd

    base = run.settings.path("paths.ingested")
    # Arrow's buffers are freed column by column as pandas takes them over: the table and the
    # frame never both exist whole.
    convert = {"self_destruct": True, "split_blocks": True}
    frames = [pd.read_parquet(base / r.data_path, to_pandas_kwargs=convert) for r in files]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    del frames
    memory.release()
    return out


def read_scorable(path: Path, loaded: LoadedModel) -> pd.DataFrame:
    """A labelled file (the test file) for scoring `loaded`, read as its features want it."""
    from pipeline.ingest.readers import read_file

    return scorable(read_file(path, loaded.features.categorical), loaded.features, path)


def scorable(frame: pd.DataFrame, features: FeatureSpec, path: Path) -> pd.DataFrame:
    """The rows of a file that did not pass the gate (the test file) that a model with these
    features can be scored on. A model that takes its features as they are (model.preprocessing
    = "none") cannot take a row missing one: such rows are left out of its score, as the gate
    would quarantine them, and the log says how many."""
    from pipeline.model.features import complete_rows

    frame, left_out = complete_rows(frame, features)
    if left_out:
        log.warning(
            "%s: %d row(s) lack a feature value, which a model with model.preprocessing = "
            '"none" cannot take: left out of its score',
            path,
            left_out,
        )
    return frame


def model_classes(model: Any) -> Sequence[Any] | None:
    """A fitted model's classes (`classes_`; None for a regressor): whether its precision,
    recall and F1 are binary or macro, whatever classes a batch's rows show."""
    return getattr(model, "classes_", None)


def score_predictions(
    settings: Settings,
    y: np.ndarray,
    pred: np.ndarray,
    proba: np.ndarray | None,
    *,
    classes: Sequence[Any] | None,
) -> Score:
    """The metric of predictions against labels `y`, with its bootstrap interval: a Score.
    `classes`: the model's (`model_classes`), so a multiclass model's score is macro even on
    rows of one or two classes."""
    from pipeline.errors import ConfigError
    from pipeline.model.metrics import multiclass, settings_score

    metric = settings["model.metric"]
    if metric == "roc_auc" and classes is not None and multiclass(classes):  # P(positive)
        raise ConfigError(
            f"model.metric = 'roc_auc' scores a binary model; this one has {len(classes)} "
            "classes: set model.metric to accuracy, or to precision, recall or f1 (macro)"
        )
    return settings_score(settings, metric, y, pred, proba, classes=classes)


def score(
    run: Run, loaded: LoadedModel, frame: pd.DataFrame
) -> tuple[Score, np.ndarray, np.ndarray | None]:
    """Score a loaded model on labelled rows: (Score, predictions, probabilities)."""
    from pipeline.model.estimator import predict

    pred, proba = predict(loaded.model, loaded.features, frame)
    y = frame[run.settings["data.target"]].to_numpy()
    classes = model_classes(loaded.model)
    return score_predictions(run.settings, y, pred, proba, classes=classes), pred, proba


def score_labelled(
    run: Run, loaded: LoadedModel, frame: pd.DataFrame
) -> tuple[Score | None, pd.DataFrame, np.ndarray, np.ndarray | None]:
    """Predict every new row (drift measures them all) and score the labelled ones only:
    (Score, or None when no row is labelled; the labelled rows; all predictions; all
    probabilities)."""
    from pipeline.model.estimator import predict
    from pipeline.model.features import labelled_mask, labelled_rows

    target = run.settings["data.target"]
    pred, proba = predict(loaded.model, loaded.features, frame)
    mask = labelled_mask(frame, target)
    labelled = labelled_rows(frame, target)
    if not mask.any():
        return None, labelled, pred, proba
    y = labelled[target].to_numpy()
    part = None if proba is None else proba[mask]
    result = score_predictions(
        run.settings, y, pred[mask], part, classes=model_classes(loaded.model)
    )
    return result, labelled, pred, proba


def score_doc(score: Score) -> dict[str, Any]:
    """A Score as the `score` object of the JSON summaries."""
    return {
        "metric": score.metric,
        "value": score.value,
        "ci_low": score.ci_low,
        "ci_high": score.ci_high,
        "n_rows": score.n_rows,
    }


def confusion(run: Run, version: int, dataset: str, y: np.ndarray, pred: np.ndarray) -> None:
    """Record a classifier's confusion counts on `dataset`; a regressor has none."""
    if run.settings["model.task"] != "classification":
        return
    from pipeline.model.metrics import class_labels, confusion_counts

    labels = class_labels(y, pred)
    cm = confusion_counts(y, pred, labels)
    rows = [
        {
            "model_version": version,
            "dataset": dataset,
            "actual": str(a),
            "predicted": str(p),
            "count": int(cm[i, j]),
        }
        for i, a in enumerate(labels.tolist())
        for j, p in enumerate(labels.tolist())
    ]
    writes.record_rows(run.engine, tables.confusion_matrices, run.run_id, rows)


def record_scored(
    run: Run,
    version: int,
    role: str,
    dataset: str,
    frame: pd.DataFrame,
    result: Score,
    pred: np.ndarray,
) -> None:
    """Record a model's score on `dataset` (`frame`, with its labels) and its confusion counts."""
    writes.record_score(run.engine, run.run_id, version, role, dataset, result)
    confusion(run, version, dataset, frame[run.settings["data.target"]].to_numpy(), pred)
