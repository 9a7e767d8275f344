"""Predictions (issue 12): recording them (a few from the API, or a whole ingested file in
bounded batches with its watermark, exactly once per model version), and, in later modules,
the scheduled prediction step, keyset pages of past predictions and their features read back.

It may import storage, the model, settings and the base; the run, the CLI and the app call it.
pandas, pyarrow and scikit-learn are imported inside the functions that need them.
"""

from pipeline.predictions.files import unpredicted
from pipeline.predictions.health import health_summary, period_health
from pipeline.predictions.keys import row_key, row_keys
from pipeline.predictions.scheduled import Columns, file_batches
from pipeline.predictions.write import (
    SOURCES,
    Batch,
    FileRun,
    PredictionsError,
    is_marked,
    probabilities_json,
    record,
    record_file,
)

__all__ = [
    "SOURCES",
    "Batch",
    "Columns",
    "FileRun",
    "PredictionsError",
    "file_batches",
    "health_summary",
    "is_marked",
    "period_health",
    "probabilities_json",
    "record",
    "record_file",
    "row_key",
    "row_keys",
    "unpredicted",
]
