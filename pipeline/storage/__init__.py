"""Storage: the schema (`tables`), engines and migrations (`db`), what runs write (`writes`),
what people read (`reads`), the index of ingested rows for duplicates across files
(`row_index`), files kept in the database when registry.store = "database" (`blobs`), the
schema of predictions and their watermark (`prediction_tables`, part of `tables`), prediction
health's reads and alert events (`health`, on the table of `health_tables`), labels that
arrive later (`label_tables`, part of `tables`, and their reads and writes, `label_writes`),
the column types (`coltypes`), what the inbox skips (`inbox`), text made storable (`text`),
the Protocols naming what `writes` reads of the objects it records (`shapes`), the API's
tokens and usage counters (`tokens`, on the tables of `api_tables`), the pages' users and
their password hashes (`users`), performance estimated
without labels with the calibrations behind it (`estimates`: tables, writes and reads), and
realised and estimated performance over time, side by side (`performance`), the reads of
the web app's run and model pages (`run_views`, `model_views`), and what the other pages read
besides predictions: a version's contract, a page's labels (`page_reads`).

SQLAlchemy Core only, no pandas: the no-op tick imports it. It may import `pipeline.errors`,
`pipeline.settings` and `pipeline.infra`; nothing above it.
"""

# The modules other packages may import (tests/test_layout.py holds every import to this list);
# the rest are this package's own.
# Its tables join `tables.metadata` here, so that every importer of `tables` has the whole schema.
from pipeline.storage import api_tables, estimates, label_tables

__all__ = [
    "api_tables",
    "blobs",
    "dashboard",
    "db",
    "estimates",
    "gauges",
    "health",
    "inbox",
    "label_tables",
    "label_writes",
    "model_views",
    "page_reads",
    "performance",
    "reads",
    "row_index",
    "run_views",
    "snapshot",
    "tables",
    "text",
    "tokens",
    "users",
    "writes",
]
