"""dvc.yaml's `train` stage (`riskwatch experiments train`): a challenger fitted on the training
window of the experiments' snapshot with the settings in riskwatch.toml, written to
experiments/model, never into the registry; its metric on the holdout the cron job would use,
beside the production model's on the same rows, and whether the cron job's gate would promote it.

It reads the snapshot only (experiments/data: its manifest stands in for the database), so it
runs the same in the workspace and in the temporary folders of `dvc exp run --queue`, and
nothing it does can move production.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import LockHeld, RiskwatchError
from pipeline.infra.files import atomic_write, atomic_write_bytes, sha256_of
from pipeline.infra.lock import RunLock
from pipeline.infra.progress import current_phase
from pipeline.model import registry
from pipeline.run.record import Run
from pipeline.run.score_step import score
from pipeline.run.snapshot_step import snapshot_dir, snapshot_settings
from pipeline.run.train_step import fit_challenger, gate
from pipeline.run.training_data import TrainingData, training_data
from pipeline.settings import Settings
from pipeline.settings.provenance import (
    EXPERIMENT_RECORD,
    experiments_dir,
    fingerprint,
    training_settings,
)
from pipeline.storage import snapshot

if TYPE_CHECKING:
    from pipeline.model.metrics import Score

log = logging.getLogger("riskwatch")

MODEL_DIR = "model"  # experiments/model: the challenger (a DVC-cached output)
MODEL_FILE = "model.joblib"
MODEL_META = "model.json"
METRICS = "metrics.json"  # experiments/metrics.json: the stage's DVC metrics


def snapshot_run(settings: Settings) -> Run:
    """A Run over the snapshot: its manifest as the database, its folders as paths.ingested and
    paths.models. Not recorded: an experiment writes nothing of riskwatch's state."""
    engine = snapshot.open_manifest(snapshot_dir(settings))
    return Run(snapshot_settings(settings), engine, "experiment")


def snapshot_production(run: Run) -> tuple[int | None, registry.LoadedModel | None, str | None]:
    """The snapshot's production model: (version, the model, None), or (version, None, why it
    cannot be loaded), or (None, None, None) before the first deployment."""
    version = registry.production_version(run.settings, run.engine)
    if version is None:
        return None, None, None
    try:
        return version, registry.load(run.engine, run.settings, version), None
    except (RiskwatchError, KeyError, ValueError) as exc:  # ValueError: a pickle of another
        # scikit-learn; KeyError: features recorded in another shape
        log.warning("production model v%d of the snapshot cannot be loaded: %s", version, exc)
        return version, None, str(exc)[:300]


def score_json(result: Score | None) -> dict[str, Any] | None:
    """A score as DVC metrics: the metric under its own name, its interval and its rows."""
    if result is None:
        return None
    return {
        result.metric: result.value,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "rows": result.n_rows,
    }


@contextmanager
def reading_snapshot(settings: Settings) -> Iterator[None]:
    """The run lock, held while a stage reads the snapshot: a tick with experiments.snapshot =
    "tick" never rewrites it under the stage. (In a queued experiment's folder, the lock and
    the snapshot are that folder's own copies.) A run holding it fails the stage, which DVC
    records as failed, to be run again. The file lock only, never the database's: the snapshot
    is a folder of this machine, which only a tick of this machine rewrites, and the stage
    never opens the database (queued experiments run side by side, each in its folder)."""
    try:
        with RunLock(settings.path("paths.lock")):
            yield
    except LockHeld as exc:
        raise RiskwatchError(
            f"another riskwatch run holds the lock {exc.path} ({exc.holder}) and may be "
            "refreshing the snapshot: run the experiment again when it has finished"
        ) from exc


def _loaded(settings: Settings) -> tuple[Run, TrainingData, int | None, Any, str | None]:
    """The snapshot's training window and production model, read under the lock."""
    with reading_snapshot(settings):
        run = snapshot_run(settings)
        current_phase("loading the training window")
        data = training_data(run)
        version, champion, error = snapshot_production(run)
    return run, data, version, champion, error


def _production(
    run: Run, holdout: Any, version: int | None, champion: Any, error: str | None
) -> tuple[dict[str, Any] | None, Score | None]:
    """The snapshot's production model on the holdout: its metrics and Score (None without one,
    or when it cannot score these rows: the reason is in the metrics)."""
    if version is None:
        return None, None
    if champion is None:
        return {"version": version, "error": error}, None
    if not len(holdout):
        return {"version": version, "note": "no holdout to compare on"}, None
    try:
        result, _, _ = score(run, champion, holdout)
    except (RiskwatchError, KeyError, ValueError) as exc:
        log.warning("production model v%d cannot be scored on the holdout: %s", version, exc)
        return {"version": version, "error": str(exc)[:300]}, None
    return {"version": version, **(score_json(result) or {})}, result


def run_train_stage(settings: Settings) -> dict[str, Any]:
    """Fit, score, write experiments/model, metrics.json and experiment.json; return the
    metrics document."""
    from pipeline.model.estimator import check_model

    check_model(settings)
    run, data, version, champion, error = _loaded(settings)
    s = run.settings
    fitted = fit_challenger(s, data)
    production, champion_score = _production(run, fitted.holdout, version, champion, error)
    # The cron job's gate on these rows; unknown when the production model cannot score them.
    known = version is None or champion_score is not None or fitted.held is None
    would = gate(s, fitted, version is None, champion_score) if known else None
    values = training_settings(settings)
    metrics: dict[str, Any] = {
        "metric": s["model.metric"],
        "challenger": score_json(fitted.held),
        "production": production,
        "would_promote": None if would is None else would.outcome,  # its reason: experiment.json
        "train_rows": len(fitted.train),
        "holdout_rows": len(fitted.holdout),
    }
    recorded = fitted.recorded
    if recorded.source != "holdout":  # the score a version would record (test file, k-fold)
        metrics["recorded"] = {**(score_json(recorded.score) or {}), "source": recorded.source}
    out = experiments_dir(settings)
    _write_model(out / MODEL_DIR, fitted.model, fitted.features.to_json(), data.files)
    text = json.dumps(metrics, indent=2, default=str) + "\n"
    atomic_write_bytes(out / METRICS, text.encode())
    record = {
        "name": os.environ.get("DVC_EXP_NAME"),
        "baseline_rev": os.environ.get("DVC_EXP_BASELINE_REV"),
        "settings_sha256": fingerprint(values),
        "settings": values,
        "metrics": metrics,
        "would_promote": None
        if would is None
        else {"outcome": would.outcome, "reason": would.reason},
        "training_window": str(data.window),
        "training_files": data.files,
    }
    text = json.dumps(record, indent=2, default=str) + "\n"
    atomic_write_bytes(out / EXPERIMENT_RECORD, text.encode())
    return metrics


def _write_model(
    folder: Path,
    model: Any,
    features: dict[str, Any],
    files: list[dict[str, Any]],
) -> None:
    """experiments/model: the fitted model and what the evaluate stage needs to check and use
    it (its SHA-256 and features)."""
    import joblib

    # A new file, renamed into place: DVC may have left the last one as a read-only hard link
    # to its cache (cache.type hardlink), which must not be written through.
    artifact = folder / MODEL_FILE
    atomic_write(artifact, lambda tmp: joblib.dump(model, tmp))
    digest = sha256_of(artifact)
    # What the model is, not how it was chosen (experiment.json has the settings): a change of
    # a setting that leaves the model as it was (policy.promote_margin) leaves this file as it
    # was, and DVC does not rerun the evaluate stage for it.
    meta = {"sha256": digest, "features": features, "training_files": files}
    atomic_write_bytes(folder / MODEL_META, (json.dumps(meta, indent=2) + "\n").encode())
