"""Storage: the schema (`tables`), engines and migrations (`db`), what runs write (`writes`),
what people read (`reads`), the index of ingested rows for duplicates across files
(`row_index`), files kept in the database when registry.store = "database" (`blobs`), the
schema of predictions and their watermark (`prediction_tables`, part of `tables`), the
column types (`coltypes`), what the inbox skips (`inbox`), text made storable (`text`), the
Protocols naming what `writes` reads of the objects it records (`shapes`), and the API's tokens
and usage counters (`tokens`, on the tables of `api_tables`).

SQLAlchemy Core only, no pandas: the no-op tick imports it. It may import `pipeline.errors`,
`pipeline.settings` and `pipeline.infra`; nothing above it.
"""

# The modules other packages may import (tests/test_layout.py holds every import to this list);
# the rest are this package's own.
# Its tables join `tables.metadata` here, so that every importer of `tables` has the whole schema.
from pipeline.storage import api_tables

__all__ = [
    "api_tables",
    "blobs",
    "db",
    "inbox",
    "reads",
    "row_index",
    "snapshot",
    "tables",
    "text",
    "tokens",
    "writes",
]
