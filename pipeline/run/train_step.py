"""The train step: a challenger trained on everything ingested but the holdout, scored on the
holdout before it is registered (so its version row and its metadata.json carry the same score),
compared with the champion on the same rows, and promoted if the policy says so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pipeline.infra import memory
from pipeline.infra.failpoints import failpoint
from pipeline.model import registry
from pipeline.run.record import Run
from pipeline.run.score_step import load_rows, record_scored, score, score_predictions
from pipeline.settings import Settings
from pipeline.storage import tables, writes

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import sqlalchemy as sa
    from sklearn.pipeline import Pipeline

    from pipeline.model.features import FeatureSpec
    from pipeline.model.metrics import Score

log = logging.getLogger("riskwatch")


def split(settings: Settings, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training rows and the holdout: the newest rows, or a seeded random sample."""
    import numpy as np

    n = len(frame)
    n_hold = max(1, round(n * settings["split.holdout_fraction"]))
    if n - n_hold < 2:
        from pipeline.errors import DataError

        raise DataError(f"only {n} labelled rows ingested: too few to train and hold out")
    if settings["split.holdout"] == "newest":
        return frame.iloc[: n - n_hold], frame.iloc[n - n_hold :]
    rng = np.random.default_rng(settings["model.random_seed"])
    hold = np.zeros(n, dtype=bool)
    hold[rng.choice(n, size=n_hold, replace=False)] = True
    return frame[~hold], frame[hold]


def _contract_version(settings: Settings) -> str | None:
    from pipeline.ingest import contract as contracts

    path = settings.path("paths.contract")
    return contracts.load(path).version if path.is_file() else None


def _drift_files(
    settings: Settings,
    model: Pipeline,
    features: FeatureSpec,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    pred: np.ndarray,
    proba: np.ndarray | None,
) -> dict[str, bytes]:
    """The reference profile (and feature importance) stored with the version, if drift is on."""
    if not settings["drift.enabled"]:
        return {}
    from pipeline.drift.step import IMPORTANCE, PROFILE, importance_bytes, profile_bytes

    extra = {PROFILE: profile_bytes(settings, features, train, pred, proba)}
    if settings["drift.weights"] == "importance":
        extra[IMPORTANCE] = importance_bytes(settings, model, features, holdout)
    return extra


def _challenger(
    run: Run, files: Sequence[sa.Row], data: pd.DataFrame
) -> tuple[int, Score, pd.DataFrame, np.ndarray]:
    """Fit, score on the holdout, register: (version, holdout Score, holdout, its predictions)."""
    from pipeline.model.estimator import fit, predict
    from pipeline.model.features import infer_features

    s = run.settings
    train, holdout = split(s, data)
    features = infer_features(data, s)
    log.info("training on %d rows, holding out %d", len(train), len(holdout))
    _record_training_data(run, features, train)
    model = fit(s, features, train)
    memory.release()
    failpoint("after_fit")
    pred, proba = predict(model, features, holdout)
    held = score_predictions(s, holdout[s["data.target"]].to_numpy(), pred, proba)
    version = registry.register(
        run.engine,
        s,
        model,
        features=features,
        metric=s["model.metric"],
        holdout_score=held.value,
        holdout_ci=None
        if held.ci_low is None or held.ci_high is None
        else (held.ci_low, held.ci_high),
        train_rows=len(train),
        holdout_rows=len(holdout),
        training_files=[{"name": f.name, "sha256": f.sha256, "rows": f.rows} for f in files],
        run_id=run.run_id,
        contract_version=_contract_version(s),
        extra_files=_drift_files(s, model, features, train, holdout, pred, proba),
    )
    _check_round_trip(run, version, holdout, pred)
    return version, held, holdout, pred


def _record_training_data(run: Run, features: FeatureSpec, train: pd.DataFrame) -> None:
    """Summary statistics and missing values of the training rows, as dataset "training": the
    version's training run (model_versions.run_id) is how /summarystats finds them."""
    from pipeline.report import diagnostics

    cols = [c for c in train.columns if not str(c).startswith("_")]
    stats = diagnostics.summary_stats(train, features.numeric, "training")
    writes.record_rows(run.engine, tables.feature_stats, run.run_id, stats)
    missing = diagnostics.missing_values(train, cols, "training")
    writes.record_rows(run.engine, tables.missing_values, run.run_id, missing)


ROUND_TRIP_ROWS = 1_000  # enough rows to catch a model that does not survive its file


def _check_round_trip(run: Run, version: int, holdout: pd.DataFrame, pred: np.ndarray) -> None:
    """The version as written, checked against its SHA-256 and unpickled, predicts as the model
    in memory did: the policy never promotes an artifact that does not load."""
    import numpy as np

    from pipeline.errors import ModelIntegrityError
    from pipeline.model.estimator import predict

    loaded = registry.load(run.engine, run.settings, version)
    rows = holdout.iloc[:ROUND_TRIP_ROWS]
    again, _ = predict(loaded.model, loaded.features, rows)
    if not np.array_equal(again, pred[:ROUND_TRIP_ROWS]):
        raise ModelIntegrityError(
            f"model version {version}: the artifact as loaded predicts otherwise than the model "
            "that was trained; it is not promoted"
        )


def train(
    run: Run,
    champion: registry.LoadedModel | None,
    new_frame: pd.DataFrame | None = None,
    new_ids: Sequence[int] = (),
) -> dict[str, Any]:
    """Train a challenger on all ingested data but the holdout, compare, promote by policy."""
    from pipeline.model.policy import promote_decision

    s = run.settings
    with run.engine.connect() as conn:
        files = writes.ingested_rows(conn, pending_only=False)
    if new_frame is not None and [f.id for f in files] == list(new_ids):
        data = new_frame  # every ingested row is new and already loaded: no second copy
    else:
        data = load_rows(run, files)
    version, challenger_score, holdout, pred = _challenger(run, files, data)
    record_scored(run, version, "challenger", "holdout", holdout, challenger_score, pred)
    champion_score = None
    if champion is not None:
        champion_score, _, _ = score(run, champion, holdout)
        writes.record_score(
            run.engine, run.run_id, champion.version, "champion", "holdout", champion_score
        )
    decision = promote_decision(champion_score, challenger_score, margin=s["policy.promote_margin"])
    decision.evidence["challenger_version"] = version
    decision.evidence["champion_version"] = None if champion is None else champion.version
    writes.record_decision(run.engine, run.run_id, "promote", decision)
    log.info("promote: %s — %s", decision.outcome, decision.reason)
    if decision.outcome:
        registry.deploy(
            run.engine,
            s,
            version,
            kind="initial" if champion is None else "promote",
            reason=decision.reason,
            run_id=run.run_id,
        )
    return {
        "promoted": decision.outcome,
        "reason": decision.reason,
        "challenger_version": version,
        "challenger": challenger_score.value,
        "champion": None if champion_score is None else champion_score.value,
    }
