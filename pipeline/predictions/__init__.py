"""Predictions (issue 12): recording them (`write`: a few from the API, or a whole ingested file in
bounded batches with its watermark, exactly once per model version), predicting an ingested file
a batch at a time (`scheduled`, with the rows' keys from `model.keys` and the files to do from
`files`), and reading them back: keyset pages newest first (`pages`, parameters checked by
`params`; all of them as CSV: `export`) with every prediction's features (`features`: JSON, or
the ingested Parquet rows; as numeric matrices for a regressor's period estimate:
`period_features`).

It may import storage, the model, settings and the base; the run, the CLI and the app call it.
pandas, pyarrow and scikit-learn are imported inside the functions that need them.
"""

from pipeline.model.keys import MAX_KEY_BYTES, row_key, row_keys, too_long, value_text
from pipeline.predictions.export import csv_lines, write_csv
from pipeline.predictions.features import attach_features, feature_columns, read_rows
from pipeline.predictions.files import unpredicted
from pipeline.predictions.health import health_summary, period_health
from pipeline.predictions.pages import Page, every, page
from pipeline.predictions.params import (
    CURSOR_PATTERN,
    DEFAULT_LIMIT,
    MAX_INT,
    SOURCE_FILTERS,
    BadParameter,
    PageQuery,
    decode_cursor,
    encode_cursor,
    page_query,
    parse_time,
)
from pipeline.predictions.period_features import Unread, numeric_chunks
from pipeline.predictions.requests import check_keys, latest_event_time, request_rows
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
    resume_row,
)

__all__ = [
    "CURSOR_PATTERN",
    "DEFAULT_LIMIT",
    "MAX_INT",
    "MAX_KEY_BYTES",
    "SOURCES",
    "SOURCE_FILTERS",
    "BadParameter",
    "Batch",
    "Columns",
    "FileRun",
    "Page",
    "PageQuery",
    "PredictionsError",
    "Unread",
    "attach_features",
    "check_keys",
    "csv_lines",
    "decode_cursor",
    "encode_cursor",
    "every",
    "feature_columns",
    "file_batches",
    "health_summary",
    "is_marked",
    "latest_event_time",
    "numeric_chunks",
    "page",
    "page_query",
    "parse_time",
    "period_health",
    "probabilities_json",
    "read_rows",
    "record",
    "record_file",
    "request_rows",
    "resume_row",
    "row_key",
    "row_keys",
    "too_long",
    "unpredicted",
    "value_text",
    "write_csv",
]
