"""Labels that arrive later (issue 12, point 4): the labels inbox (`paths.labels`), its files
checked row by row (`validate`, pure), each label joined to the prediction it resolves (`join`,
pure), realised performance per period and model version (`realised`, pure), and the step that
does it all against the database and the ingested files (`step`), whose joined rows become
labelled data (an `ingested_files` row of kind 'labels').

It may import ingestion (discovery, the private copy, the readers), the model's metrics,
storage, settings, infra and monitor; the run and the CLI call it.
"""

# The modules other packages may import (tests/test_layout.py holds every import to this list).
__all__ = ["inbox", "join", "realised", "rows", "step", "take", "validate"]
