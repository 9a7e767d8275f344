"""One run and its steps: discover, ingest, score, drift, decide, retrain, promote, diagnose,
report, each recorded under the run's id; and the one-step commands (`ingest`, `train`, ...).

The run orchestrates; the steps call storage, the registry and the pure computations.
"""

from pipeline.run.tick import (
    diagnose_only,
    ingest_only,
    quality_summary,
    report_for,
    rollback,
    run_once,
    score_only,
    train_only,
)

__all__ = [
    "diagnose_only",
    "ingest_only",
    "quality_summary",
    "report_for",
    "rollback",
    "run_once",
    "score_only",
    "train_only",
]
