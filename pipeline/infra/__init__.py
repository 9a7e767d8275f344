"""The operating-system edge: atomic files and file hashes (`files`), file names as they may be
shown and stored (`names`), the run lock (`lock`),
memory hand-back (`memory`), crash points for the kill tests (`failpoints`), the versions of
the libraries in use (`versions`), pip's cached list of outdated packages (`outdated`) and
the progress of long work on a terminal or in a log (`progress`), and time arithmetic that
stays within the times there are (`times`).

Standard library only (memory also talks to pyarrow when it is already loaded): the no-op tick
imports it. It imports nothing else of riskwatch but `pipeline.errors`.
"""

# The modules other packages may import (tests/test_layout.py holds every import to this list);
# the rest are this package's own.
__all__ = [
    "dvc",
    "failpoints",
    "files",
    "lock",
    "memory",
    "names",
    "outdated",
    "progress",
    "times",
    "versions",
]
