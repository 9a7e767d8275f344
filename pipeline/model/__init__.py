"""The model: features, the design matrix, the estimator, metrics, the retrain and promote
policies, and the registry of versions on disk.

`metrics`, `policy` and `design` are pure computation; `registry` does the file I/O of versions
and records them through `pipeline.storage`.
"""
