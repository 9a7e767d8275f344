"""Realised performance: the production model's metrics on the joined labels of each period and
model version, with the same bootstrap interval as the run's scores. Pure: no I/O.

`model.metric` first, then every other metric of `model.task` (what `GET /performance?metric=`
may ask for, and what each estimate of the period is compared with). The policy's bootstrap
settings (`policy.bootstrap_samples`, `policy.confidence`, `policy.bootstrap_max_rows`, seeded
by `model.random_seed`) are those `pipeline.run.score_step.score_predictions` uses: a period's
realised value is the number the run would have scored had those rows come labelled. The other
metrics' intervals take at most OTHER_SAMPLES bootstrap samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.model.metrics import Score, settings_score
from pipeline.settings import Settings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True)
class Realised:
    period_start: datetime
    model_version: int
    score: Score  # model.metric's
    others: tuple[Score, ...] = ()  # the task's other metrics, in task_metrics order

    @property
    def scores(self) -> tuple[Score, ...]:
        """Every metric's score, model.metric's first."""
        return (self.score, *self.others)


def typed_labels(labels: pd.Series, numeric: bool) -> np.ndarray:
    """Stored label texts as the values a model predicts, as ingestion types a file's target:
    whole numbers int64 holds as integers (0/1), other numbers as floats (1e19 too: it would
    wrap around as int64), text as it is."""
    import pandas as pd

    from pipeline.model.features import whole_int64

    if not numeric:
        return labels.astype(str).to_numpy()
    values = pd.to_numeric(labels).astype("float64").to_numpy()
    return values.astype("int64") if whole_int64(values) else values


def predicted(rows: pd.DataFrame, numeric: bool, classification: bool) -> np.ndarray:
    """The predicted values of joined rows as `typed_labels` types them: a text class
    (`predicted_label`) for text labels, the number (`prediction`) otherwise."""
    from pipeline.model.features import whole_int64

    if classification and not numeric:
        return rows["predicted_label"].astype(str).to_numpy()
    values = rows["prediction"].astype("float64").to_numpy()
    if classification and whole_int64(values):
        return values.astype("int64")
    return values


def realised(
    rows: pd.DataFrame,
    settings: Settings,
    *,
    numeric: bool,
    classes: Sequence[Any] | None = None,
) -> list[Realised]:
    """The metrics of each (period_start, model_version) of `rows`: label (text), prediction,
    predicted_label, probability, period_start, model_version. `settings`: the run's settings
    (model.metric, model.task and the bootstrap's keys). `classes`: the task's classes (the
    contract's label values; None: not known), so a multiclass model's precision, recall and F1
    are macro as the run scores them, even on a period whose labels show one class or two."""
    from pipeline.settings import table

    classification = settings["model.task"] == "classification"
    main = settings["model.metric"]
    metrics = [main, *(m for m in table.task_metrics(settings["model.task"]) if m != main)]
    out = []
    for (start, version), group in rows.groupby(["period_start", "model_version"], sort=True):
        y = typed_labels(group["label"], numeric or not classification)
        pred = predicted(group, numeric, classification)
        proba = group["probability"].astype("float64").to_numpy()
        use_proba = None if group["probability"].isna().any() else proba
        scores = [_score(m, y, pred, use_proba, settings, m == main, classes) for m in metrics]
        out.append(Realised(start.to_pydatetime(), int(version), scores[0], tuple(scores[1:])))
    return out


# The other metrics' intervals: ROC-AUC's and a regressor's are bootstrapped in a loop (100,000
# rows of a period: about 3 s per 1,000 samples), and a join may touch many periods.
OTHER_SAMPLES = 200


def _score(
    metric: str,
    y: np.ndarray,
    pred: np.ndarray,
    proba: np.ndarray | None,
    settings: Settings,
    main: bool,
    classes: Sequence[Any] | None,
) -> Score:
    if metric == "roc_auc" and proba is None:
        return Score("roc_auc", None, None, None, len(y))  # no probabilities recorded
    most = None if main else OTHER_SAMPLES
    return settings_score(settings, metric, y, pred, proba, most_samples=most, classes=classes)
