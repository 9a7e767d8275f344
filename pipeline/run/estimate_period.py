"""The estimate step's estimators (`estimate_step`): CBPE of a binary classifier's rows from
P(positive), of a multiclass one's from its per-class probabilities, and the estimate of a
whole period from every production prediction stored in it.

A period's estimate covers the rows that wait for labels in it: every prediction of the version
in the period, whichever run or request made it (earlier ticks' files, the API's, this run's),
read back from their stored probabilities (`estimates.period_rows`), not this run's rows alone;
the rows of files that came labelled whole (the training data among them) and the labelled rows
of a partly labelled file (marked `labelled` when predicted) are not waiting (a
multiclass model's rows from its stored {class: p}, the API's too). A regressor's loss model
reads each row's numeric features besides its prediction: a request's from its stored JSON, a
file's from its ingested Parquet file (`predictions.period_features`), a chunk of rows at a
time, so a long period is never held in memory whole.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pipeline.run.record import Run
from pipeline.storage import estimates

log = logging.getLogger("riskwatch")

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
        p_draws=drawn,
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
    """The estimate of the whole period starting at `start` (module docstring). None (estimate
    the run's rows) when fewer rows are stored, or readable, than the run brought to the period
    (its predictions were not recorded)."""
    import numpy as np

    from pipeline.estimate import loss
    from pipeline.estimate import multiclass as ovr
    from pipeline.monitor import period_end
    from pipeline.predictions import value_text

    s = run.settings
    end = period_end(start, s["monitoring.period"])
    by_event_time = bool(s["data.timestamp_column"])
    if cal["method"] in loss.METHODS:
        return _loss_period(run, conn, production, cal, (start, end), n_run)
    many = cal["method"] == ovr.METHOD
    stored = estimates.period_rows(
        conn, production.version, start, end, by_event_time=by_event_time, classes=many
    )
    if len(stored.labels) < n_run:
        return None
    classes = [str(value_text(c)) for c in getattr(production.model, "classes_", [0, 1])]
    if not many:
        positive = np.array([label == classes[-1] for label in stored.labels], dtype=bool)
        return binary(run, cal, positive, np.asarray(stored.probability, dtype=np.float64), seed)
    where = {c: i for i, c in enumerate(classes)}
    matrix, index = _matrix(stored.probabilities, stored.labels, classes, where)
    if len(index) < n_run:
        return None
    return multiclass(run, cal, matrix, index, seed)


def _loss_period(
    run: Run,
    conn: sa.Connection,
    production: LoadedModel,
    cal: dict[str, Any],
    period: tuple[datetime, datetime],
    n_run: int,
) -> dict[str, Estimate] | None:
    """A regressor's estimated MAE over every prediction of its version stored in `period`
    that waits for labels, its loss model applied a chunk at a time; None when fewer rows are
    read than the run brought to the period."""
    from pipeline.estimate import loss
    from pipeline.predictions import Unread, numeric_chunks

    s = run.settings
    chunks = estimates.period_loss_rows(
        conn, production.version, *period, by_event_time=bool(s["data.timestamp_column"])
    )
    total, unread = loss.LossSum(cal["params"], cal["method"]), Unread()
    columns = list(production.features.numeric)
    for numeric, pred in numeric_chunks(conn, s.path("paths.ingested"), chunks, columns, unread):
        total.add(numeric, pred)
    if unread.rows:
        why = "; ".join(unread.reasons.values())
        log.warning("estimate: %d stored rows of the period left out: %s", unread.rows, why)
    if total.n < n_run:
        return None
    return {"mae": total.estimate(confidence=s["policy.confidence"])}


def _matrix(
    probabilities: list[Any], labels: list[str | None], classes: list[str], where: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Stored {class: p} objects as a rows x classes matrix in the model's class order, and
    each row's predicted class index; a row without every class, or predicting a class the
    version does not know, is left out."""
    import numpy as np

    rows, index = [], []
    for doc, label in zip(probabilities, labels, strict=True):
        found = json.loads(doc) if isinstance(doc, str) else doc
        if isinstance(found, dict) and set(classes) <= found.keys() and str(label) in where:
            rows.append([float(found[c]) for c in classes])
            index.append(where[str(label)])
    matrix = np.array(rows, dtype=np.float64).reshape(len(rows), len(classes))
    return matrix, np.array(index, dtype=np.int64)


# At most this many periods are estimated for the predictions stored since the last estimate,
# the newest first.
MAX_NEW_PERIODS = 100


def new_period_starts(
    run: Run, conn: sa.Connection, version: int, done: set[datetime]
) -> list[datetime]:
    """The starts of the periods (`monitoring.period`) that got a prediction of `version`
    waiting for labels since the version's periods were last estimated, other than `done`,
    oldest first: at most MAX_NEW_PERIODS, the newest (the others are logged).

    "Since" is `estimates.covered_until`, a while before the last estimating run started, as a
    request's prediction may be committed after its time: a period with predictions stamped in
    that while is left out only when it holds as many as its newest estimate covered."""
    from pipeline.monitor import period_end, period_start

    s = run.settings
    period, by_event_time = s["monitoring.period"], bool(s["data.timestamp_column"])
    since = estimates.covered_until(conn, version, period)
    days = estimates.days_with_new_rows(conn, version, since, by_event_time=by_event_time)
    starts = {period_start(datetime(d.year, d.month, d.day, tzinfo=UTC), period) for d in days}
    found: list[datetime] = []
    for start in sorted(starts - done, reverse=True):
        if len(found) > MAX_NEW_PERIODS:  # enough to know some are left out
            break
        covered = estimates.newest_period_rows(conn, version, period, start)
        end = period_end(start, period)
        if covered is None or covered != estimates.period_count(
            conn, version, start, end, by_event_time=by_event_time
        ):
            found.append(start)
    if len(found) > MAX_NEW_PERIODS:
        log.warning(
            "estimate: more than %d periods got predictions since the last estimate; the "
            "newest %d are estimated, the first left out starts %s",
            MAX_NEW_PERIODS, MAX_NEW_PERIODS, found[MAX_NEW_PERIODS].isoformat(),
        )  # fmt: skip
    return sorted(found[:MAX_NEW_PERIODS])
