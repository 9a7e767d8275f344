"""The model: `features` (which columns, of which kind, their dtypes), `design` (the design
matrix: impute, scale, one-hot, or the numbers as they are), `estimator` (build, fit and apply
any scikit-learn estimator, or the user's own pipeline), `examples` (factories for
model.pipeline), `keys` (a row's key: its ids as the stores index them), `kind` (how a version
was built), `metrics` (scores with bootstrap intervals), `policy` (retrain and promote
decisions), and `registry` (versions, the production pointer, verified loads), with `stored`
(where a version's files are: folders or the database), `artifact` (checking and unpickling an
artifact's bytes) and `safe_pickle` (the unpickler that admits only what fitted models are made
of), and `artifact_check` (a version's files against their SHA-256s, hashed, never unpickled:
`status`, the cleanup).

`features`, `design`, `keys`, `kind`, `metrics` and `policy` are pure computation; `registry`
does the file I/O of versions and records them through `pipeline.storage.writes`. The package
may import storage, settings and the base (infra, formatting, errors); never ingestion, drift,
the run or the CLI.
"""

# The modules other packages may import (tests/test_layout.py holds every import to this list);
# the rest are this package's own.
__all__ = [
    "artifact_check",
    "estimator",
    "examples",
    "features",
    "keys",
    "kind",
    "metrics",
    "policy",
    "registry",
]
