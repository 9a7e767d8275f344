"""Drift in the life of a model: the reference profile stored with each version, the run's
comparison recorded per column, the latest results and the self-test (ad-hoc comparisons of two
files are `adhoc`'s: they need no database, so they import none).

This is the I/O edge of pipeline.drift: it reads and writes the registry, the database and data
files. The statistics and the decision are pure and live in the package's other modules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pipeline.drift.shares import distribution
from pipeline.errors import NotFound
from pipeline.formatting import fmt_drift
from pipeline.model import registry
from pipeline.settings import Settings
from pipeline.storage import reads, tables, writes

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from pipeline.drift.decision import DriftResult
    from pipeline.drift.profile import ReferenceProfile
    from pipeline.drift.thresholds import DriftThresholds
    from pipeline.model.features import FeatureSpec

log = logging.getLogger("riskwatch")

PROFILE = "profile.bin"  # the reference profile's file in a model version's folder
IMPORTANCE = "importance.json"  # permutation importance of each feature on the holdout
IMPORTANCE_ROWS = 5000  # holdout rows used to estimate it (a sample above that)
PREDICTION = "__prediction__"
TARGET = "__target__"


def thresholds(settings: Settings) -> DriftThresholds:
    """The run's drift thresholds: the ``drift.*`` settings."""
    from pipeline.drift.thresholds import DriftThresholds

    return DriftThresholds.from_settings(settings)


class _Columns(MutableMapping[str, "np.ndarray"]):
    """Drift columns by name. A model feature is converted from the frame when it is read and
    is not kept: the profile and the tests take one column at a time, so a converted copy of
    every feature never exists at once. Other columns (prediction, label) are stored."""

    def __init__(self, frame: pd.DataFrame, features: FeatureSpec) -> None:
        self._frame = frame
        self._categorical = set(features.categorical)
        self._lazy = list(features.columns)
        self._stored: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self._stored:
            return self._stored[name]
        if name not in self._lazy:
            raise KeyError(name)
        from pipeline.model.features import model_column

        # A feature the rows lack (a column their contract does not require) is missing in
        # each, as the model took it: all missing, not a column left out of the comparison.
        return model_column(self._frame, name, name in self._categorical).to_numpy()

    def __setitem__(self, name: str, value: np.ndarray) -> None:
        self._stored[name] = value

    def __delitem__(self, name: str) -> None:
        raise TypeError("drift columns are not removed")

    def __iter__(self) -> Iterator[str]:
        yield from self._lazy
        yield from (name for name in self._stored if name not in self._lazy)

    def __len__(self) -> int:
        return len(set(self._lazy) | set(self._stored))


def _columns(
    settings: Settings,
    features: FeatureSpec,
    frame: pd.DataFrame,
    pred: np.ndarray,
    proba: np.ndarray | None,
) -> tuple[_Columns, dict[str, str], dict[str, float]]:
    """Features, the model's output and the label as drift columns, with their kinds."""
    data = _Columns(frame, features)
    kinds = {c: "numeric" for c in features.numeric}
    kinds.update({c: "categorical" for c in features.categorical})
    classify = settings["model.task"] == "classification"
    data[PREDICTION] = proba if proba is not None else pred
    kinds[PREDICTION] = "numeric" if proba is not None or not classify else "categorical"
    # The labels of the labelled rows only: an unlabelled row is no evidence of label drift.
    data[TARGET] = _labels(frame, settings["data.target"])
    kinds[TARGET] = "categorical" if classify else "numeric"
    # The data set's drift is the features'; the prediction and the label are reported apart.
    weights = {c: 1.0 for c in features.columns}
    return data, kinds, weights


def _labels(frame: pd.DataFrame, target: str) -> np.ndarray:
    import numpy as np

    from pipeline.model.features import labelled_rows

    if target not in frame.columns:
        return np.empty(0)
    return labelled_rows(frame[[target]], target)[target].to_numpy()


def profile_bytes(
    settings: Settings,
    features: FeatureSpec,
    train: pd.DataFrame,
    holdout_pred: np.ndarray,
    holdout_proba: np.ndarray | None,
) -> bytes:
    """Profile a new version, once: features and labels of its training rows, and its
    predictions on the holdout (out of sample, as production will see them)."""
    from pipeline.drift.profile import ReferenceProfile

    data, kinds, _ = _columns(settings, features, train, holdout_pred, holdout_proba)
    return ReferenceProfile().fit(data, kinds=kinds).to_bytes()


def importance_bytes(
    settings: Settings, model: Pipeline, features: FeatureSpec, holdout: pd.DataFrame
) -> bytes:
    """Permutation importance of each feature on (a sample of) the holdout, as JSON."""
    import json

    import numpy as np
    from sklearn.inspection import permutation_importance

    from pipeline.model.features import feature_frame

    rows = holdout.sample(
        min(len(holdout), IMPORTANCE_ROWS), random_state=settings["model.random_seed"]
    )
    scoring = {"rmse": "neg_root_mean_squared_error", "mae": "neg_mean_absolute_error"}.get(
        settings["model.metric"], settings["model.metric"]
    )
    result = permutation_importance(
        model,
        feature_frame(rows, features),
        rows[settings["data.target"]].to_numpy(),
        scoring=scoring,
        n_repeats=3,
        random_state=settings["model.random_seed"],
    )
    values = np.clip(np.nan_to_num(result.importances_mean), 0, None)
    return json.dumps(dict(zip(features.columns, values.tolist(), strict=True))).encode()


def _weights(
    engine: sa.Engine, settings: Settings, version: int, equal: dict[str, float]
) -> dict[str, float]:
    """Equal weights, or the version's permutation importances when the settings ask for them."""
    import json

    if settings["drift.weights"] != "importance":
        return equal
    raw = registry.read_extra(settings, version, IMPORTANCE, engine)
    importance = json.loads(raw) if raw else {}
    weights = {c: float(importance.get(c, 0.0)) for c in equal}
    if sum(weights.values()) <= 0:
        log.info("model version %d has no usable feature importance: equal weights", version)
        return equal
    return weights


def detect_for_run(
    engine: sa.Engine,
    settings: Settings,
    run_id: str,
    production: registry.LoadedModel,
    frame: pd.DataFrame,
    pred: np.ndarray,
    proba: np.ndarray | None,
) -> dict[str, Any] | None:
    """Compare the run's new rows with the production model's profile; record and summarise."""
    from pipeline.drift.decision import detect, persistent
    from pipeline.drift.profile import ReferenceProfile

    raw = registry.read_extra(settings, production.version, PROFILE, engine)
    if raw is None:
        log.info(
            "model version %d has no reference profile: drift not computed", production.version
        )
        return None
    profile = ReferenceProfile.from_bytes(raw)
    data, _, weights = _columns(settings, production.features, frame, pred, proba)
    weights = _weights(engine, settings, production.version, weights)
    counted: dict[str, Any] = {}  # the categorical columns' counts, shown again below
    result = detect(profile, data, thresholds(settings), weights=weights, counted=counted)
    m, n = settings["drift.persistence"]
    history = [*_earlier_decisions(engine, n - 1), bool(result.dataset_drift)]
    confirmed = persistent(history, m, n)  # not tested counts as not drifted, and says so
    summary = {**result.summary(), "weights": settings["drift.weights"]}
    _record(engine, run_id, production.version, profile, result, len(frame), [m, n], summary)
    _record_columns(engine, run_id, profile, result, data, counted)
    log.info("drift: %s", fmt_drift(summary))
    return {
        **summary,
        "confirmed": confirmed,
        "persistence": [m, n],
        "excluded": result.excluded,
    }


def _earlier_decisions(engine: sa.Engine, count: int) -> list[bool]:
    """The data-set decisions of the `count` latest recorded runs, oldest first."""
    s = tables.drift_summaries
    with engine.connect() as conn:
        newest_first = (
            conn.execute(
                sa.select(s.c.dataset_drift)
                .order_by(s.c.created_at.desc(), s.c.id.desc())
                .limit(count)
            )
            .scalars()
            .all()
        )
    return list(reversed(newest_first))


def _record(
    engine: sa.Engine,
    run_id: str,
    version: int,
    profile: ReferenceProfile,
    result: DriftResult,
    current_rows: int,
    persistence: list[int],
    summary: dict[str, Any],
) -> None:
    """The run's drift summary: the decision, the sizes and the thresholds it was taken with.

    A data set that was not tested is stored as not drifted (what the persistence rule counts)
    with its status and reason in the JSON, which every reader turns back into the tri-state.
    """
    writes.record_drift_summary(
        engine,
        run_id,
        {
            "model_version": version,
            "dataset_drift": bool(result.dataset_drift),
            "drifted_share": result.drifted_share,
            "reference_rows": profile.n_rows_,
            "current_rows": current_rows,
            "thresholds": {
                **result.to_dict()["thresholds"],
                "persistence": persistence,
                reads.DATASET_KEY: summary,
            },
        },
    )


def _record_columns(
    engine: sa.Engine,
    run_id: str,
    profile: ReferenceProfile,
    result: DriftResult,
    data: _Columns,
    counted: Mapping[str, Any] | None = None,
) -> None:
    """One drift_results row per column, with the shares the report plots and the histogram
    the feature page draws (one conversion of the column for both, and a categorical column's
    categories counted once for both: by the test, in `counted`, or here)."""
    from pipeline.drift.columns import NUMERIC, category_counts
    from pipeline.drift.histogram import histogram

    rows = []
    for c in result.to_dict()["columns"]:
        prof = profile.columns_.get(c["column"])
        values = data.get(c["column"])
        counts = (counted or {}).get(c["column"])
        if counts is None and values is not None and c["kind"] != NUMERIC:
            counts = category_counts(values)
        if prof is not None and values is not None:
            c["details"]["distribution"] = distribution(prof, values, counted=counts)
        c["details"]["histogram"] = histogram(c["kind"], prof, values, counted=counts)
        rows.append(
            {
                "column_name": c["column"],
                "kind": c["kind"],
                "test": c["test"],
                "statistic": c["statistic"],
                "p_value": c["p_value"],
                "p_adjusted": c["p_adjusted"],
                "effect_size": c["effect_size"],
                "psi": c["psi"],
                "status": c["status"],
                "drifted": c["drifted"],
                "details": c["details"],
            }
        )
    writes.record_rows(engine, tables.drift_results, run_id, rows)


def latest(conn: sa.Connection, run_id: str | None = None) -> dict[str, Any]:
    """The drift results of a run (the latest with any by default), as `drift --json` prints."""
    s, r = tables.drift_summaries, tables.drift_results
    query = sa.select(s).order_by(s.c.created_at.desc(), s.c.id.desc()).limit(1)
    if run_id is not None:
        query = sa.select(s).where(s.c.run_id == run_id)
    summary = conn.execute(query).first()
    if summary is None:
        raise NotFound("no drift results yet" + (f" for run {run_id!r}" if run_id else ""))
    columns = conn.execute(sa.select(r).where(r.c.run_id == summary.run_id).order_by(r.c.id))
    return {
        "run_id": summary.run_id,
        "model_version": summary.model_version,
        **reads.drift_of(summary._mapping),
        "columns": [
            {
                "column": c.column_name,
                "kind": c.kind,
                "test": c.test,
                "statistic": c.statistic,
                "p_value": c.p_value,
                "p_adjusted": c.p_adjusted,
                "effect_size": c.effect_size,
                "status": c.status,
                "drifted": c.drifted,
            }
            for c in columns
        ],
    }


def selftest(
    engine: sa.Engine,
    settings: Settings,
    batch_size: int | None,
    runs: int,
    seed: int,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """False-alarm rate and power of the current thresholds on the production profile."""
    from pipeline.drift.profile import ReferenceProfile
    from pipeline.drift.selftest import selftest as run_selftest

    version = registry.production_version(settings, engine)
    if version is None:
        raise NotFound("no model is deployed yet: nothing to self-test against")
    raw = registry.read_extra(settings, version, PROFILE, engine)
    if raw is None:
        raise NotFound(f"model version {version} has no reference profile")
    if batch_size is None:  # the real batch size: the newest file's rows
        f = tables.ingested_files
        with engine.connect() as conn:
            batch_size = (
                conn.execute(
                    sa.select(f.c.rows).where(f.c.status == "ingested").order_by(f.c.id.desc())
                ).scalar()
                or 1000
            )
    profile = ReferenceProfile.from_bytes(raw)
    features = [c for c in profile.columns_ if c not in (PREDICTION, TARGET)]
    out = run_selftest(
        profile,
        batch_size,
        runs=runs,
        seed=seed,
        thresholds=thresholds(settings),
        weights={c: 1.0 for c in features},
        progress=progress,
    )
    return {"model_version": version, "batch_size": batch_size, **out}
