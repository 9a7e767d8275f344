"""Realised performance: the production model's metric on the joined labels of each period and
model version, with the same bootstrap interval as the run's scores. Pure: no I/O.

`model.metric` and the policy's bootstrap settings (`policy.bootstrap_samples`,
`policy.confidence`, `policy.bootstrap_max_rows`, seeded by `model.random_seed`) are those
`pipeline.run.score_step.score_predictions` uses: a period's realised value is the number the
run would have scored had those rows come labelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from pipeline.model.metrics import Score, score_with_interval
from pipeline.settings import Settings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True)
class Realised:
    period_start: datetime
    model_version: int
    score: Score


def typed_labels(labels: pd.Series, numeric: bool) -> np.ndarray:
    """Stored label texts as the values a model predicts: whole numbers as integers (0/1),
    other numbers as floats, text as it is."""
    import numpy as np
    import pandas as pd

    if not numeric:
        return labels.astype(str).to_numpy()
    values = pd.to_numeric(labels).astype("float64").to_numpy()
    return values.astype("int64") if np.all(values == np.round(values)) else values


def predicted(rows: pd.DataFrame, numeric: bool, classification: bool) -> np.ndarray:
    """The predicted values of joined rows as `typed_labels` types them: a text class
    (`predicted_label`) for text labels, the number (`prediction`) otherwise."""
    import numpy as np

    if classification and not numeric:
        return rows["predicted_label"].astype(str).to_numpy()
    values = rows["prediction"].astype("float64").to_numpy()
    if classification and np.all(values == np.round(values)):
        return values.astype("int64")
    return values


def realised(rows: pd.DataFrame, settings: Settings, *, numeric: bool) -> list[Realised]:
    """The metric of each (period_start, model_version) of `rows`: label (text), prediction,
    predicted_label, probability, period_start, model_version. `settings`: the run's settings
    (model.metric, model.task and the bootstrap's keys)."""
    classification = settings["model.task"] == "classification"
    out = []
    for (start, version), group in rows.groupby(["period_start", "model_version"], sort=True):
        y = typed_labels(group["label"], numeric or not classification)
        pred = predicted(group, numeric, classification)
        proba = group["probability"].astype("float64").to_numpy()
        use_proba = None if group["probability"].isna().any() else proba
        if settings["model.metric"] == "roc_auc" and use_proba is None:
            score = Score("roc_auc", None, None, None, len(group))  # no probabilities recorded
        else:
            score = score_with_interval(
                settings["model.metric"],
                y,
                pred,
                use_proba,
                samples=settings["policy.bootstrap_samples"],
                confidence=settings["policy.confidence"],
                seed=settings["model.random_seed"],
                max_rows=settings["policy.bootstrap_max_rows"],
            )
        out.append(Realised(start.to_pydatetime(), int(version), score))
    return out
