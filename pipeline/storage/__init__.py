"""Storage: the schema (`tables`), engines and migrations (`db`), what runs write (`writes`),
what people read (`reads`), the index of ingested rows for duplicates across files
(`row_index`), what the inbox skips (`inbox`), text made storable (`text`), and the Protocols
naming what `writes` reads of the objects it records (`shapes`).

SQLAlchemy Core only, no pandas: the no-op tick imports it. It may import `pipeline.errors`,
`pipeline.settings` and `pipeline.infra`; nothing above it.
"""

# The modules other packages may import (tests/test_layout.py holds every import to this list);
# the rest are this package's own.
__all__ = [
    "db",
    "inbox",
    "reads",
    "row_index",
    "snapshot",
    "tables",
    "text",
    "writes",
]
