"""The versions of Python and of the libraries a model is trained and a run is made with.

Standard library only (importlib.metadata): asking a package its version never imports it.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version

# The stack a model's behaviour depends on, recorded with every model version and run.
LIBRARIES = ("riskwatch", "scikit-learn", "pandas", "numpy", "sqlalchemy", "flask")


def library_versions() -> dict[str, str | None]:
    """Return Python's version and each library's installed version (None when absent)."""
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out
