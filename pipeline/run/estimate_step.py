"""The estimate step: the production model's performance on the run's new rows, without their
labels (`pipeline.estimate`: confidence-based estimation of a classifier's metrics, direct loss
estimation of a regressor's MAE), over the run and per period of `monitoring.period`; each
estimate judged reliable or not, recorded in `performance_estimates`, and the `estimate` object
of `run --json`.

It reads the probabilities the model gave every new row, labelled or not, and never a label: an
estimate is what is known before the labels come. A binary classifier's P(positive) comes with
its predictions; a multiclass one's per-class probabilities from its predict_proba
(`pipeline.model.estimator.class_probabilities`). A version without a calibration (trained
before calibrations were recorded, a regressor, no holdout) is not estimated, and its rows say
why rather than guess.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.formatting import fmt_metric
from pipeline.run import estimate_period
from pipeline.run.record import Run
from pipeline.storage import estimates, performance, tables

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import sqlalchemy as sa

    from pipeline.estimate.cbpe import Estimate
    from pipeline.model.metrics import Score
    from pipeline.model.policy import Decision
    from pipeline.model.registry import LoadedModel

log = logging.getLogger("riskwatch")


def row_periods(run: Run, frame: pd.DataFrame, ingested_at: pd.Series) -> pd.Series:
    """Each row's period start: by its event time (`data.timestamp_column`) when set, else by
    when its file was ingested (`ingested_at`, one time per row). A row without an event time
    has none (NaT): it counts in the run's estimate, not in a period's."""
    from pipeline.monitor import period_starts

    s = run.settings
    column = s["data.timestamp_column"]
    times = frame[column] if column and column in frame.columns else ingested_at
    return period_starts(times.reset_index(drop=True), s["monitoring.period"])


def _not_estimated(run: Run, version: int, n_rows: int, reason: str) -> dict[str, Any]:
    from pipeline.estimate.cbpe import METRICS

    rows = [
        {
            "period": estimates.RUN_PERIOD,
            "period_start": None,
            "model_version": version,
            "metric": m,
            "value": None,
            "ci_low": None,
            "ci_high": None,
            "n_rows": n_rows,
            "reliable": False,
            "reason": f"not estimated: {reason}",
        }
        for m in METRICS
    ]
    estimates.record_estimates(run.engine, run.run_id, rows)
    log.info("estimate: not estimated — %s", reason)
    return {"model_version": version, "estimated": False, "reason": reason, "n_rows": n_rows}


def _judged(
    run: Run,
    found: dict[str, Estimate],
    ece: float,
    checks: dict[str, list[tuple[float | None, float | None, float | None]]],
) -> dict[str, dict[str, Any]]:
    """Each estimate as a dict with its verdict: reliable, and why not."""
    from pipeline.estimate.reliability import Check, judge

    s = run.settings
    out = {}
    for metric, e in found.items():
        reliable, why = judge(
            n_rows=e.n_rows,
            ece=ece,
            checks=[Check(*c) for c in checks.get(metric, [])],
            max_calibration_error=s["monitoring.max_calibration_error"],
            min_rows=s["monitoring.min_period_rows"],
            check_periods=s["monitoring.estimate_check_periods"],
            confidence=s["policy.confidence"],
            interval=e.ci_low is not None,
            ci=(e.ci_low, e.ci_high),
            max_width=None if metric == "mae" else s["monitoring.max_interval_width"],
        )
        out[metric] = {
            "value": e.value,
            "ci_low": e.ci_low,
            "ci_high": e.ci_high,
            "n_rows": e.n_rows,
            "reliable": reliable,
            "reason": why,
        }
    return out


def _rows(
    version: int, period: str, start: datetime | None, judged: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    return [
        {
            "period": period,
            "period_start": start,
            "model_version": version,
            "metric": metric,
            **doc,
            **({"realised_at": tables.utcnow()} if "realised_value" in doc else {}),
        }
        for metric, doc in judged.items()
    ]


def ingest_times(files: Sequence[sa.Row], n_rows: int) -> pd.Series:
    """When each row of the run's frame was ingested: its file's `ingested_at`, in the order
    `score_step.load_rows` concatenates the files."""
    import pandas as pd

    times = [r.ingested_at for r in files for _ in range(r.rows)]
    if len(times) != n_rows:  # not the frame of these files: no row can be placed
        times = [pd.NaT] * n_rows
    return pd.Series(pd.to_datetime(times, utc=True))


def decision(run: Run, production: LoadedModel, doc: dict[str, Any]) -> Decision | None:
    """The `estimated` trigger's decision from the run's estimate of `model.metric`; None when
    the metric is not one the estimate has."""
    from pipeline.model.metrics import Score
    from pipeline.model.policy import estimated_decision

    s = run.settings
    metric = s["model.metric"]
    found: dict[str, Any] | None = (doc.get("metrics") or {}).get(metric)
    if not doc.get("estimated"):
        found = {
            "value": None,
            "ci_low": None,
            "ci_high": None,
            "n_rows": doc["n_rows"],
            "reliable": False,
            "reason": doc["reason"],
        }
    if found is None:
        return None  # rmse, r2: not a metric estimation gives
    score = Score(metric, found["value"], found["ci_low"], found["ci_high"], found["n_rows"])
    return estimated_decision(
        score,
        found["reliable"],
        found["reason"],
        production.holdout_score,
        baseline_ci=production.holdout_ci,
        baseline_source=production.score_source,
        tolerance=s["policy.tolerance"],
        require_interval=s["policy.require_interval"],
        min_rows=s["policy.min_rows"],
        confidence=s["policy.confidence"],
    )


Estimator = Callable[["np.ndarray | None", int], dict[str, "Estimate"]]


def _estimator(
    run: Run,
    production: LoadedModel,
    frame: pd.DataFrame,
    cal: dict[str, Any],
    pred: np.ndarray,
    proba: np.ndarray | None,
) -> Estimator | str:
    """What estimates a subset of the rows (a mask, or None for all, and a seed): CBPE for a
    classifier, the loss model for a regressor; or why nothing can be estimated."""
    import numpy as np

    from pipeline.estimate import loss, multiclass
    from pipeline.run.calibrate_step import numeric_matrix

    n, confidence = len(frame), run.settings["policy.confidence"]
    if cal["method"] in loss.METHODS:
        numeric = numeric_matrix(frame, production.features)

        def mae(mask: np.ndarray | None, seed: int) -> dict[str, Estimate]:
            rows = slice(None) if mask is None else mask
            found = loss.estimate_mae(
                cal["params"], numeric[rows], pred[rows], confidence=confidence,
                method=cal["method"],
            )  # fmt: skip
            return {"mae": found}

        return mae
    if cal["method"] == multiclass.METHOD:
        return _multiclass_estimator(run, production, frame, cal, pred)
    if proba is None or len(proba) != n:
        return "the model gave no probabilities for the rows"
    positive = np.asarray(pred) == getattr(production.model, "classes_", [0, 1])[-1]

    def cbpe(mask: np.ndarray | None, seed: int) -> dict[str, Estimate]:
        if mask is None:
            return estimate_period.binary(run, cal, positive, proba, seed)
        return estimate_period.binary(run, cal, positive[mask], proba[mask], seed)

    return cbpe


def _multiclass_estimator(
    run: Run, production: LoadedModel, frame: pd.DataFrame, cal: dict[str, Any], pred: np.ndarray
) -> Estimator | str:
    """Multiclass CBPE of a subset of the rows: the model's predict_proba of every row, each
    class's map applied and the rows normalised (`pipeline.estimate.multiclass`), the interval
    under `monitoring.calibration_draws` draws of every class's map."""
    import numpy as np
    import pandas as pd

    from pipeline.model.estimator import class_probabilities

    matrix = class_probabilities(production.model, production.features, frame)
    classes = list(getattr(production.model, "classes_", []))
    if matrix is None or len(classes) != len(cal["params"]["classes"]):
        return "the model gave no probabilities per class for the rows"
    index = np.asarray(pd.Categorical(pred, categories=classes).codes, dtype=int)

    def cbpe(mask: np.ndarray | None, seed: int) -> dict[str, Estimate]:
        rows = slice(None) if mask is None else mask
        return estimate_period.multiclass(run, cal, matrix[rows], index[rows], seed)

    return cbpe


_METRICS_ALL = ("accuracy", "precision", "recall", "f1", "roc_auc", "mae")


def _realised_of(
    conn: sa.Connection, period: str, version: int, start: datetime, judged: dict[str, Any]
) -> None:
    """Put the period's realised values beside its estimates when its labels came before them
    (the labels join fills those made earlier)."""
    found = performance.realised_values(conn, period, version, [start])
    for metric, doc in judged.items():
        value = found.get((start, metric))
        if value is not None and doc["value"] is not None:
            doc["realised_value"] = value
            doc["estimation_error"] = doc["value"] - value


def _with_realised(judged: dict[str, dict[str, Any]], realised: Score | None, n: int) -> None:
    """Put the run's realised value of a metric beside its estimate when it was measured on
    the very rows estimated."""
    if realised is None or realised.value is None or realised.n_rows != n:
        return
    doc = judged.get(realised.metric)
    if doc is not None and doc["value"] is not None:
        doc["realised_value"] = realised.value
        doc["estimation_error"] = doc["value"] - realised.value


def _period_rows(
    run: Run,
    conn: sa.Connection,
    version: int,
    cal: dict[str, Any],
    when: datetime,
    found: dict[str, Estimate],
    periods: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """A period's estimates judged (its recent checks), the realised values beside them when
    its labels came first, as `performance_estimates` rows; its document added to `periods`."""
    s = run.settings
    period = s["monitoring.period"]
    checks = estimates.recent_checks(
        conn, version, period, s["monitoring.estimate_check_periods"], when
    )
    judged = _judged(run, found, cal["ece"] or 0.0, checks)
    _realised_of(conn, period, version, when, judged)
    n_period = next(iter(found.values())).n_rows if found else 0
    periods.append({"period_start": when.isoformat(), "n_rows": n_period, "metrics": judged})
    return _rows(version, period, when, judged)


def stored_periods(
    run: Run,
    conn: sa.Connection,
    production: LoadedModel,
    cal: dict[str, Any],
    done: set[datetime],
    periods: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The estimates of the periods that got predictions since the version's periods were
    last estimated (`estimate_period.new_period_starts`: the API's requests, a backfill's
    files) other than those `done`, each over every prediction stored in it; their documents
    added to `periods`. What makes a period estimated is a prediction in it, not a file of
    this run's."""
    rows: list[dict[str, Any]] = []
    seed = run.settings["model.random_seed"] + 10_000
    for i, when in enumerate(
        estimate_period.new_period_starts(run, conn, production.version, done)
    ):
        found = estimate_period.whole_period(run, conn, production, cal, when, 0, seed + i)
        if found and next(iter(found.values())).n_rows:
            rows += _period_rows(run, conn, production.version, cal, when, found, periods)
    return rows


def estimate_for_run(
    run: Run,
    production: LoadedModel,
    frame: pd.DataFrame,
    pred: np.ndarray,
    proba: np.ndarray | None,
    ingested_at: pd.Series,
    realised: Score | None = None,
) -> dict[str, Any]:
    """Estimate, judge and record the production model's performance on the run's new rows
    (`pred`, `proba`: its decisions and P(positive) on every row of `frame`); the `estimate`
    object of the run's summary. `realised`, the run's score of the same rows when every one
    of them came with its label, is recorded beside the run's estimate of its metric (never
    used to make it): the evidence later runs judge concept drift on."""
    from pipeline.model.features import labelled_mask

    s, version, n = run.settings, production.version, len(frame)
    with run.engine.connect() as conn:
        cal = estimates.calibration_of(conn, version)
    if cal is None:
        why = f"model version {version} was trained before calibrations were recorded"
        return _not_estimated(run, version, n, why)
    if cal["method"] is None:
        return _not_estimated(
            run, version, n, f"model version {version} has no calibration: {cal['reason']}"
        )
    estimator = _estimator(run, production, frame, cal, pred, proba)
    if isinstance(estimator, str):
        return _not_estimated(run, version, n, estimator)
    period = s["monitoring.period"]
    starts = row_periods(run, frame, ingested_at)
    ece = cal["ece"] or 0.0  # a loss model (regression) has no calibration error
    limit = s["monitoring.estimate_check_periods"]
    with run.engine.connect() as conn:
        history = {m: estimates.recent_run_checks(conn, version, m, limit) for m in _METRICS_ALL}
        whole = _judged(run, estimator(None, s["model.random_seed"]), ece, history)
        _with_realised(whole, realised, n)
        rows = _rows(version, estimates.RUN_PERIOD, None, whole)
        periods: list[dict[str, Any]] = []
        done: set[datetime] = set()
        waits = ~labelled_mask(frame, s["data.target"])
        for i, start in enumerate(sorted(starts.dropna().unique())):
            when = start.to_pydatetime()
            mask = (starts == start).to_numpy()
            # The period's rows that wait for labels: those of the run without one (a row its
            # own file labelled is scored by its run, and marked so when it was predicted);
            # all of the run's rows in it when every one came labelled.
            mask = mask & waits if (mask & waits).any() else mask
            seed = s["model.random_seed"] + 1 + i
            found = estimate_period.whole_period(
                run, conn, production, cal, when, int(mask.sum()), seed
            )
            found = estimator(mask, seed) if found is None else found
            rows += _period_rows(run, conn, version, cal, when, found, periods)
            done.add(when)
        rows += stored_periods(run, conn, production, cal, done, periods)
    estimates.record_estimates(run.engine, run.run_id, rows)
    main = whole.get(s["model.metric"])
    if main is not None and n:  # a value of 0 is a value: n/a only where there is none
        log.info(
            "estimate: %s %s [%s, %s] on %d rows without labels%s",
            s["model.metric"],
            fmt_metric(main["value"]),
            fmt_metric(main["ci_low"]),
            fmt_metric(main["ci_high"]),
            n,
            "" if main["reliable"] else f" (unreliable: {main['reason']})",
        )
    return {
        "model_version": version,
        "estimated": True,
        "reason": None,
        "n_rows": n,
        "calibration": {"method": cal["method"], "ece": cal["ece"]},
        "confidence": s["policy.confidence"],
        "metrics": whole,
        "period": period,
        "periods": periods,
    }
