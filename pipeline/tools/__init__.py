"""Tools around the engine: the sample data, the split and corrupt tools, the API client.

`sampledata` writes the demo data set; `split` cuts a file into N; `corrupt` writes a copy with a
known mix of the gate's error types (its injectors in `injectors`, the file formats both tools
read and write in `formats`); `apicalls` calls a running app's API. They may import ingestion,
the model, storage, settings and the base; the CLI calls them, the run never does.
"""

# The modules other packages may import (tests/test_layout.py holds every import to this list);
# the rest are this package's own.
__all__ = [
    "apicalls",
    "corrupt",
    "sampledata",
    "split",
]
