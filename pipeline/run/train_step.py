"""The train step: a challenger trained on the training window (`training.window`) but its
holdout, scored before it is registered (so its version row and its metadata.json carry the same
score and say where it comes from: `evaluation`), compared with the champion on the same holdout
and promoted if the policy says so; without a holdout, deployed without comparison.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.infra import memory
from pipeline.infra.failpoints import failpoint
from pipeline.infra.progress import current_phase
from pipeline.model import registry
from pipeline.run.calibrate_step import calibration_row
from pipeline.run.evaluation import Recorded, recorded_score
from pipeline.run.record import Run
from pipeline.run.score_step import model_classes, record_scored, score, score_predictions
from pipeline.run.training_data import TrainingData, training_data
from pipeline.settings import Settings
from pipeline.settings.provenance import provenance
from pipeline.storage import tables, writes

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from pipeline.model.features import FeatureSpec
    from pipeline.model.metrics import Score
    from pipeline.model.policy import Decision

log = logging.getLogger("riskwatch")


def split(settings: Settings, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training rows and the holdout: the newest rows, or a seeded random sample; with
    `split.holdout_fraction = 0`, every row and an empty holdout."""
    import numpy as np

    n = len(frame)
    fraction = settings["split.holdout_fraction"]
    n_hold = 0 if fraction == 0 else max(1, round(n * fraction))
    if n - n_hold < 2:
        from pipeline.errors import DataError

        held = " and hold out" if n_hold else ""
        raise DataError(f"only {n} labelled rows in the training window: too few to train{held}")
    if settings["split.holdout"] == "newest" or n_hold == 0:
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


@dataclass(frozen=True)
class Fitted:
    """A challenger fitted on the window less its holdout, and scored: what the cron job's
    retrain registers, and what dvc.yaml's train stage writes to experiments/ instead."""

    model: Any
    features: FeatureSpec
    train: pd.DataFrame
    holdout: pd.DataFrame  # empty without a holdout
    held: Score | None  # its score on the holdout; None without one
    recorded: Recorded  # the metric its version would record, and where it comes from
    check: pd.DataFrame  # rows it did not learn from (holdout, else test file, else training)
    pred: np.ndarray  # its predictions on `check`
    proba: np.ndarray | None


def fit_challenger(
    settings: Settings,
    data: TrainingData,
    before_fit: Callable[[FeatureSpec, pd.DataFrame], None] | None = None,
) -> Fitted:
    """Split the window, fit on its training rows, score the holdout and the recorded metric.
    `before_fit(features, train)` runs before the fit (the retrain records the training rows'
    statistics there)."""
    from pipeline.model.estimator import fit, predict
    from pipeline.model.features import infer_features

    s = settings
    train, holdout = split(s, data.frame)
    features = infer_features(data.frame, s)
    log.info(
        "training on %d rows of %d file(s) (training.window = %s), holding out %d",
        len(train),
        len(data.files),
        data.window,
        len(holdout),
    )
    if before_fit is not None:
        before_fit(features, train)
    current_phase(f"fitting on {len(train):,} rows")
    model = fit(s, features, train)
    memory.release()
    failpoint("after_fit")
    current_phase("scoring the holdout" if len(holdout) else "scoring without a holdout")
    held = None
    if len(holdout):
        pred, proba = predict(model, features, holdout)
        y = holdout[s["data.target"]].to_numpy()
        held = score_predictions(s, y, pred, proba, classes=model_classes(model))
    recorded = recorded_score(s, model, features, data.frame, held)
    # Rows the model did not learn from check its file and give drift its reference
    # predictions: the holdout, else the test file, else (no holdout, no test file) the
    # training rows themselves.
    check = holdout if len(holdout) else recorded.test if recorded.test is not None else train
    if not len(holdout):
        pred, proba = predict(model, features, check)
    return Fitted(model, features, train, holdout, held, recorded, check, pred, proba)


def gate(settings: Settings, fitted: Fitted, first: bool, champion: Score | None) -> Decision:
    """The promotion decision: against the champion's score on the same holdout, or, without
    a holdout, by the recorded score alone (`first`: there is no champion)."""
    from pipeline.model.policy import deploy_without_holdout, promote_decision

    if fitted.held is None:
        return deploy_without_holdout(first, fitted.recorded.score, fitted.recorded.source)
    return promote_decision(
        champion,
        fitted.held,
        margin=settings["policy.promote_margin"],
        min_rows=settings["policy.min_rows"],
    )


@dataclass(frozen=True)
class Challenger:
    """A fitted challenger, registered as `version`."""

    version: int
    fitted: Fitted
    provenance: dict[str, Any]  # its settings, their fingerprint, the experiment they came from

    @property
    def holdout(self) -> pd.DataFrame:
        return self.fitted.holdout

    @property
    def held(self) -> Score | None:
        return self.fitted.held

    @property
    def pred(self) -> np.ndarray:
        return self.fitted.pred

    @property
    def recorded(self) -> Recorded:
        return self.fitted.recorded


def _challenger(run: Run, data: TrainingData) -> Challenger:
    """Fit on the window less its holdout, score, register: the Challenger."""
    s = run.settings
    fitted = fit_challenger(s, data, lambda f, t: _record_training_data(run, f, t))
    model, features, train, check = fitted.model, fitted.features, fitted.train, fitted.check
    recorded = fitted.recorded
    score = recorded.score
    prov = provenance(s)
    if prov["experiment"] is not None:
        log.info("settings of DVC experiment %s", prov["experiment"]["name"] or "(unnamed)")
    version = registry.register(
        run.engine,
        s,
        model,
        features=features,
        metric=s["model.metric"],
        holdout_score=score.value,
        holdout_ci=None
        if score.ci_low is None or score.ci_high is None
        else (score.ci_low, score.ci_high),
        train_rows=len(train),
        holdout_rows=len(fitted.holdout),
        training_files=data.files,
        run_id=run.run_id,
        contract_version=_contract_version(s),
        extra_files=_drift_files(s, model, features, train, check, fitted.pred, fitted.proba),
        score_source=recorded.source,
        score_rows=score.n_rows,
        training_window=str(data.window),
        provenance=prov,
        calibration=calibration_row(s, model, features, fitted.holdout, fitted.pred, fitted.proba),
    )
    _check_round_trip(run, version, check, fitted.pred)
    return Challenger(version, fitted, prov)


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
    """Train a challenger on the training window less its holdout, compare, promote by policy."""
    s = run.settings
    current_phase("loading the training window")
    data = training_data(run, new_frame, new_ids)
    challenger = _challenger(run, data)
    version, recorded = challenger.version, challenger.recorded
    _record_challenger_scores(run, challenger)
    champion_score = None
    if challenger.held is not None and champion is not None:
        champion_score, _, _ = score(run, champion, challenger.holdout)
        writes.record_score(
            run.engine, run.run_id, champion.version, "champion", "holdout", champion_score
        )
    decision = gate(s, challenger.fitted, champion is None, champion_score)
    decision.evidence.update(
        challenger_version=version,
        champion_version=None if champion is None else champion.version,
        training_window=str(data.window),
        training_files=len(data.files),
        training_rows=len(data.frame),
        recorded_score=recorded.score.value,
        recorded_ci=[recorded.score.ci_low, recorded.score.ci_high],
        score_source=recorded.source,
        score_rows=recorded.score.n_rows,
    )
    writes.record_decision(run.engine, run.run_id, "promote", decision)
    log.info("promote: %s — %s", decision.outcome, decision.reason)
    if decision.outcome:
        # The one switch of production: a run whose lock was lost while it trained (another
        # run may hold it now) stops here, production as it was.
        run.check_lock(f"the deploy of version {version}")
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
        "challenger": None if challenger.held is None else challenger.held.value,
        "champion": None if champion_score is None else champion_score.value,
        "compared": challenger.held is not None and champion is not None,
        "training_window": str(data.window),
        "training_rows": len(data.frame),
        "recorded_score": recorded.score.value,
        "score_source": recorded.source,
        "settings_sha256": challenger.provenance["settings_sha256"],
        "experiment": (challenger.provenance["experiment"] or {}).get("name"),
    }


def _record_challenger_scores(run: Run, challenger: Challenger) -> None:
    """The challenger's score on its holdout, and its recorded one when that came from
    elsewhere (the test file, or cross-validation: dataset cv:K)."""
    recorded, version = challenger.recorded, challenger.version
    if challenger.held is not None:
        record_scored(
            run,
            version,
            "challenger",
            "holdout",
            challenger.holdout,
            challenger.held,
            challenger.pred,
        )
    if recorded.source == "test":
        # The score only: the diagnose step records the test file's confusion counts of the
        # version in production, and this one is deployed (counted twice, the PDF doubled them).
        writes.record_score(run.engine, run.run_id, version, "challenger", "test", recorded.score)
    elif recorded.source.startswith("cv:"):
        writes.record_score(
            run.engine, run.run_id, version, "challenger", recorded.source, recorded.score
        )
