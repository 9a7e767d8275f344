"""The estimate step's estimators (`estimate_step`): CBPE of a binary classifier's rows from
P(positive), of a multiclass one's from its per-class probabilities, and the estimate of a
whole period from every production prediction stored in it.

A period's estimate covers the rows its realised value is computed on: every prediction of the
version in the period, whichever run or request made it (earlier ticks' files, the API's, this
run's), read back from their stored probabilities (`estimates.period_rows`), not this run's rows
alone. A regressor's period is estimated on the run's rows: its loss model reads features the
predictions do not keep.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.run.record import Run
from pipeline.storage import estimates

if TYPE_CHECKING:
    import numpy as np
    import sqlalchemy as sa

    from pipeline.estimate.cbpe import Estimate
    from pipeline.model.registry import LoadedModel


def binary(
    run: Run, cal: dict[str, Any], positive: np.ndarray, proba: np.ndarray, seed: int
) -> dict[str, Estimate]:
    """CBPE on these rows, the interval carrying the calibration's uncertainty
    (`monitoring.calibration_draws` maps drawn from it) and the labels' randomness."""
    import numpy as np

    from pipeline.estimate.cbpe import estimate
    from pipeline.estimate.maps import apply_map, draws

    s = run.settings
    k = s["monitoring.calibration_draws"]
    drawn = draws(cal["method"], cal["params"], k, np.random.default_rng(seed)) if k else None
    return estimate(
        apply_map(cal["method"], cal["params"], proba),
        positive,
        proba,
        samples=s["policy.bootstrap_samples"],
        confidence=s["policy.confidence"],
        seed=seed,
        p_draws=None if drawn is None else drawn.apply,
    )


def multiclass(
    run: Run, cal: dict[str, Any], matrix: np.ndarray, index: np.ndarray, seed: int
) -> dict[str, Estimate]:
    """Multiclass CBPE of these rows: `matrix` the model's probabilities (rows x classes, in
    the model's class order), `index` each row's predicted class; each class's map applied and
    the rows normalised (`pipeline.estimate.multiclass`), the interval under
    `monitoring.calibration_draws` draws of every class's map."""
    import numpy as np

    from pipeline.estimate import cbpe_multiclass
    from pipeline.estimate import multiclass as ovr

    s = run.settings
    k = s["monitoring.calibration_draws"]
    drawn = ovr.draws_all(cal["params"], k, np.random.default_rng(seed)) if k else None
    return cbpe_multiclass.estimate(
        ovr.apply_all(cal["params"], matrix),
        index,
        matrix,
        samples=s["policy.bootstrap_samples"],
        confidence=s["policy.confidence"],
        seed=seed,
        p_draws=None if drawn is None else drawn.apply,
    )


def whole_period(
    run: Run,
    conn: sa.Connection,
    production: LoadedModel,
    cal: dict[str, Any],
    start: datetime,
    n_run: int,
    seed: int,
) -> dict[str, Estimate] | None:
    """A classifier's estimate of the whole period starting at `start` (module docstring).
    None (estimate the run's rows) for a regressor, and when fewer rows are stored than the run
    brought to the period (its predictions were not recorded)."""
    import numpy as np

    from pipeline.estimate import loss
    from pipeline.estimate import multiclass as ovr
    from pipeline.monitor import period_end
    from pipeline.predictions import value_text

    if cal["method"] in loss.METHODS:
        return None
    s = run.settings
    many = cal["method"] == ovr.METHOD
    stored = estimates.period_rows(
        conn,
        production.version,
        start,
        period_end(start, s["monitoring.period"]),
        by_event_time=bool(s["data.timestamp_column"]),
        classes=many,
    )
    if len(stored.labels) < n_run:
        return None
    classes = [str(value_text(c)) for c in getattr(production.model, "classes_", [0, 1])]
    if not many:
        positive = np.array([label == classes[-1] for label in stored.labels], dtype=bool)
        return binary(run, cal, positive, np.asarray(stored.probability, dtype=np.float64), seed)
    matrix = _matrix(stored.probabilities, classes)
    if matrix is None:
        return None
    where = {c: i for i, c in enumerate(classes)}
    index = np.array([where.get(str(label), -1) for label in stored.labels], dtype=np.int64)
    if (index < 0).any():
        return None  # a class this version does not know: not its predictions
    return multiclass(run, cal, matrix, index, seed)


def _matrix(probabilities: list[Any], classes: list[str]) -> np.ndarray | None:
    """Stored {class: p} objects as a rows x classes matrix in the model's class order; None
    when one lacks a class."""
    import numpy as np

    out = np.empty((len(probabilities), len(classes)), dtype=np.float64)
    for i, doc in enumerate(probabilities):
        found = json.loads(doc) if isinstance(doc, str) else doc
        if not isinstance(found, dict) or not set(classes) <= found.keys():
            return None
        out[i] = [float(found[c]) for c in classes]
    return out
