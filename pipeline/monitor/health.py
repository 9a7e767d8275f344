"""Prediction health per period (issue 12, point 6): how many predictions, the share of each
class (a classifier) or their mean and spread (a regressor), and the distribution of
P(positive class) (a binary classifier) as a histogram of fixed bins.

Pure computation over a frame of predictions, no I/O. A period is `monitoring.period`'s day,
week or month (UTC) of each prediction's time: its event time when data.timestamp_column is set
(and the row has one), else when it was predicted (`created_at`). Periods are per model version:
two versions' predictions in one day are two rows, never one mixture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.monitor.periods import period_starts

if TYPE_CHECKING:
    import pandas as pd

# P(positive) in [0, 0.1), [0.1, 0.2), ..., [0.9, 1.0]: fixed edges, so periods, versions and
# runs compare bin for bin (a presentation choice, not a decision: no setting).
HISTOGRAM_BINS = 10
COLUMNS = ("at", "model_version", "prediction", "label", "probability")


@dataclass(frozen=True)
class PeriodHealth:
    """The health of one model version's predictions in one period."""

    period_start: datetime
    model_version: int
    count: int
    class_counts: dict[str, int] | None  # a classifier: predictions per class (as text)
    positive_label: str | None  # a binary classifier: the class P(positive) is of
    positive_share: float | None  # its share of the period's predictions
    mean: float | None  # a regressor: the predictions' mean and standard deviation
    std: float | None
    histogram: list[int] | None  # a binary classifier: counts per bin of P(positive)

    @property
    def single_class(self) -> str | None:
        """The one class every prediction of the period is, if there is one."""
        present = [c for c, n in (self.class_counts or {}).items() if n]
        return present[0] if len(present) == 1 else None

    def as_dict(self) -> dict[str, Any]:
        """As JSON (`GET /predictions/summary`, `run --json`)."""
        shares = None
        if self.class_counts is not None and self.count:
            shares = {c: n / self.count for c, n in self.class_counts.items()}
        return {
            "period_start": self.period_start.isoformat(),
            "model_version": self.model_version,
            "count": self.count,
            "class_counts": self.class_counts,
            "class_shares": shares,
            "positive_label": self.positive_label,
            "positive_share": self.positive_share,
            "mean": self.mean,
            "std": self.std,
            "histogram": None
            if self.histogram is None
            else {"edges": bin_edges(), "counts": self.histogram},
        }


def bin_edges() -> list[float]:
    """The histogram's HISTOGRAM_BINS + 1 edges, 0 to 1 (the last bin includes 1)."""
    return [round(i / HISTOGRAM_BINS, 10) for i in range(HISTOGRAM_BINS + 1)]


def histogram(probabilities: Any) -> list[int]:
    """Counts of P(positive) per fixed bin; a missing or non-finite value is not counted."""
    import numpy as np

    p = np.asarray(probabilities, dtype="float64")
    p = p[np.isfinite(p)]
    index = np.clip(np.floor(p * HISTOGRAM_BINS), 0, HISTOGRAM_BINS - 1).astype(int)
    return np.bincount(index, minlength=HISTOGRAM_BINS).tolist()


def positive_class(labels: Any) -> str | None:
    """The positive class of a binary classifier (riskwatch's probability is of the larger
    class): the larger of two class labels given as text, by number when both are numbers."""
    classes = sorted({str(x) for x in labels if x is not None})
    if len(classes) != 2:
        return None

    def key(text: str) -> tuple[int, float, str]:
        try:
            return (0, float(text), text)
        except ValueError:
            return (1, 0.0, text)

    return max(classes, key=key)


def health_by_period(
    frame: pd.DataFrame, period: str, task: str, positive: str | None = None
) -> list[PeriodHealth]:
    """The health of every (period, model version) in `frame`, oldest first.

    `frame` has COLUMNS: `at` (the time each prediction counts at, UTC), `model_version`,
    `prediction` (a number, or None for a text class), `label` (the class as text, None for a
    regressor) and `probability` (P(positive), binary classifiers). `positive`: the positive
    class as text (`positive_class` of the version's classes); None: a binary classifier's
    share and histogram are not computed.
    """
    import pandas as pd

    if frame.empty:
        return []
    work = pd.DataFrame(
        {
            "start": period_starts(frame["at"], period),
            "model_version": frame["model_version"].astype("int64"),
            "prediction": pd.to_numeric(frame["prediction"], errors="coerce"),
            "label": frame["label"],
            "probability": pd.to_numeric(frame["probability"], errors="coerce"),
        }
    )
    work = work[work["start"].notna()]
    out = []
    for (start, version), group in work.groupby(["start", "model_version"], sort=True):
        out.append(_one(start.to_pydatetime(), int(version), group, task, positive))
    return out


def _one(
    start: datetime, version: int, group: pd.DataFrame, task: str, positive: str | None
) -> PeriodHealth:
    n = len(group)
    if task != "classification":
        values = group["prediction"].dropna()
        mean = float(values.mean()) if len(values) else None
        std = float(values.std(ddof=1)) if len(values) > 1 else None
        return PeriodHealth(start, version, n, None, None, None, mean, _finite(std), None)
    labels = group["label"].dropna().astype(str)
    counts = {str(k): int(v) for k, v in labels.value_counts().sort_index().items()}
    share = hist = None
    if positive is not None:
        counts.setdefault(positive, 0)
        share = counts[positive] / n if n else None
        probabilities = group["probability"].dropna()
        hist = histogram(probabilities.to_numpy()) if len(probabilities) else None
    return PeriodHealth(start, version, n, counts, positive, share, None, None, hist)


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None
