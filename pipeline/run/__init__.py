"""One run and its steps: discover, ingest, score, drift, decide, retrain, promote, diagnose,
report, each recorded under the run's id; and the one-step commands (`ingest`, `train`, ...).

`record` keeps the run's row, its steps and its log; one module per step (`ingest_step`,
`predict_step` (also `riskwatch predict`), `score_step`, `train_step`, `diagnose_step`,
`report_step`; drift's step is `pipeline.drift.step`), with the train step's `training_data` (the
rows of `training.window`) and `evaluation` (a version's recorded metric: holdout, test file or
k-fold cross-validation); `tick` orchestrates a whole run and `commands` the one-step runs;
`snapshot_step` refreshes the experiments' snapshot (experiments/data) for dvc.yaml's stages, which
`pipeline.experiments` builds from the training modules exported here.
The steps call storage (`pipeline.storage.writes` for every row they add), the registry and
the pure computations; nothing here imports the CLI or the app. What the CLI, the app and the
tests use is exported below.
"""

from pipeline.run import (
    evaluation,
    record,
    score_step,
    snapshot_step,
    train_step,
    training_data,
)
from pipeline.run.commands import (
    diagnose_only,
    ingest_only,
    report_for,
    rollback,
    score_only,
    train_only,
)
from pipeline.run.predict_step import predict_only
from pipeline.run.tick import run_once

__all__ = [
    "diagnose_only",
    "evaluation",
    "ingest_only",
    "predict_only",
    "record",
    "report_for",
    "rollback",
    "run_once",
    "score_only",
    "score_step",
    "snapshot_step",
    "train_only",
    "train_step",
    "training_data",
]
