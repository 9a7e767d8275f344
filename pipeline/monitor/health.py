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


def bin_of(p: float) -> int:
    """The histogram bin of one P(positive): how many inner edges lie at or below it (so the
    storage's CASE over the same edges agrees to the last bit)."""
    return sum(1 for edge in bin_edges()[1:-1] if p >= edge)


def histogram(probabilities: Any) -> list[int]:
    """Counts of P(positive) per fixed bin; a missing or non-finite value is not counted."""
    import numpy as np

    p = np.asarray(probabilities, dtype="float64")
    p = p[np.isfinite(p)]
    index = np.searchsorted(np.asarray(bin_edges()[1:-1]), p, side="right")
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


@dataclass(frozen=True)
class Cell:
    """Predictions of one day, model version, class and histogram bin: how many, and the sum
    and sum of squares of their numeric predictions (what the database's GROUP BY returns, so
    that a period of millions of predictions is a few dozen numbers)."""

    day: datetime  # its UTC day
    model_version: int
    label: str | None
    bin: int | None  # None: no probability
    n: int
    total: float | None  # sum of the numeric predictions (None: none is numeric)
    squares: float | None


def cells_of(frame: pd.DataFrame) -> list[Cell]:
    """The cells of a frame of predictions (COLUMNS), as the database would count them."""
    import pandas as pd

    if frame.empty:
        return []
    probability = pd.to_numeric(frame["probability"], errors="coerce")
    prediction = pd.to_numeric(frame["prediction"], errors="coerce")
    work = pd.DataFrame(
        {
            "day": period_starts(frame["at"], "day"),
            "model_version": frame["model_version"].astype("int64"),
            "label": frame["label"].astype("object").where(frame["label"].notna(), "\0"),
            "bin": probability.map(lambda p: bin_of(p) if math.isfinite(p) else -1),
            "prediction": prediction,
            "squares": prediction * prediction,
        }
    )
    work = work[work["day"].notna()]
    out = []
    keys = ["day", "model_version", "label", "bin"]
    for (day, version, label, b), g in work.groupby(keys, sort=True):
        numeric = g["prediction"].notna().any()
        out.append(
            Cell(
                day.to_pydatetime(),
                int(version),
                None if label == "\0" else str(label),
                None if b < 0 else int(b),
                len(g),
                float(g["prediction"].sum()) if numeric else None,
                float(g["squares"].sum()) if numeric else None,
            )
        )
    return out


def health_by_period(
    frame: pd.DataFrame, period: str, task: str, positive: str | None = None
) -> list[PeriodHealth]:
    """`health_from_cells` of a frame of predictions (COLUMNS: `at`, `model_version`,
    `prediction`, `label`, `probability`)."""
    return health_from_cells(cells_of(frame), period, task, positive)


def health_from_cells(
    cells: list[Cell], period: str, task: str, positive: str | None = None
) -> list[PeriodHealth]:
    """The health of every (period, model version) the cells fall in, oldest first.

    `positive`: a binary classifier's positive class as text (`positive_class` of the
    version's classes); None: its share and histogram are not computed.
    """
    from pipeline.monitor.periods import period_start

    groups: dict[tuple[datetime, int], list[Cell]] = {}
    for c in cells:
        groups.setdefault((period_start(c.day, period), c.model_version), []).append(c)
    return [
        _one(start, version, groups[(start, version)], task, positive)
        for start, version in sorted(groups)
    ]


def _one(
    start: datetime, version: int, cells: list[Cell], task: str, positive: str | None
) -> PeriodHealth:
    n = sum(c.n for c in cells)
    if task != "classification":
        numeric = [c for c in cells if c.total is not None]
        k = sum(c.n for c in numeric)
        total = sum(c.total or 0.0 for c in numeric)
        squares = sum(c.squares or 0.0 for c in numeric)
        mean = total / k if k else None
        std = math.sqrt(max(0.0, (squares - total * total / k) / (k - 1))) if k > 1 else None
        return PeriodHealth(start, version, n, None, None, None, mean, _finite(std), None)
    counts: dict[str, int] = {}
    for c in cells:
        if c.label is not None:
            counts[c.label] = counts.get(c.label, 0) + c.n
    share = hist = None
    if positive is not None:
        counts.setdefault(positive, 0)
        share = counts[positive] / n if n else None
        binned = [c for c in cells if c.bin is not None]
        if binned:
            hist = [0] * HISTOGRAM_BINS
            for c in binned:
                hist[c.bin] += c.n  # type: ignore[index]
    counts = dict(sorted(counts.items()))
    return PeriodHealth(start, version, n, counts, positive, share, None, None, hist)


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None
