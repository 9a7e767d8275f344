"""Settings rows: where things live (paths, the database) and what the data holds."""

from __future__ import annotations

from pipeline.settings.setting import Setting

WHERE: tuple[Setting, ...] = (
    Setting("paths.source", "sourcedata", "path", "The inbox: new data files are dropped here."),
    Setting("paths.ingested", "ingesteddata", "path", "Ingested data (Parquet) and quarantine."),
    Setting(
        "paths.labels",
        "labels",
        "path",
        "The labels inbox: files of labels that arrive after their rows (the id columns, the "
        "target and optionally labels.observed_at_column), taken once by content hash.",
    ),
    Setting("paths.models", "models", "path", "The model registry: one folder per version."),
    Setting("paths.reports", "reports", "path", "PDF reports, one per run, and API call records."),
    Setting(
        "paths.test_data",
        "testdata/testdata.csv",
        "path",
        "Labelled test file used for diagnostics (predictions, confusion matrix).",
    ),
    Setting("paths.logs", "logs", "path", "Log files written by execute_fullprocess.sh."),
    Setting("paths.lock", ".riskwatch.lock", "path", "Lock file that keeps two runs apart."),
    Setting(
        "paths.contract",
        "contract.toml",
        "path",
        "The data contract incoming files are checked against (`riskwatch contract infer`).",
    ),
    Setting(
        "database.url",
        "sqlite:///riskwatch.db",
        "str",
        "SQLAlchemy URL; a relative SQLite path resolves against the settings file's folder. "
        "DATABASE_URL overrides it (postgres:// accepted).",
        env="DATABASE_URL",
    ),
    Setting(
        "registry.store",
        "files",
        "choice",
        "Where model versions, the production pointer and the reports live: files (under "
        "paths.models and paths.reports) or database (in database.url, so a web and a cron "
        "process on different machines, such as Heroku dynos, share them).",
        choices=("files", "database"),
    ),
    Setting(
        "registry.trusted_modules",
        [],
        "list",
        "Packages whose code a model artifact may name when it is loaded, beyond the classes "
        "fitted models are made of (scikit-learn's, NumPy's, SciPy's, pandas', riskwatch's); "
        "model.pipeline's and a non-scikit-learn model.estimator's package are trusted already. "
        "Any other global is refused.",
    ),
    Setting("data.target", "exited", "str", "The label column."),
    Setting("data.id_columns", ["corporation"], "list", "Identifier columns, never features."),
    Setting(
        "data.unique_ids",
        True,
        "bool",
        "An id names one row: a row reusing an earlier row's id is a duplicate_id. false: ids "
        "may repeat (a client seen again in a later batch); exact copies are still duplicates. "
        "Written into the contract when it is inferred.",
    ),
    Setting(
        "data.timestamp_column",
        "",
        "text",
        "The column holding each row's event time (when the outcome's clock starts); empty: "
        "none, and periods go by the time rows were ingested. Never a feature. ISO 8601 text "
        "(an offset converted to UTC, none taken as UTC); a number, garbage or no value "
        "quarantines the row; stored in the ingested Parquet as a UTC timestamp.",
    ),
    Setting(
        "data.unlabelled_files",
        "allow",
        "choice",
        "A file without the target column, or with the target empty in every row: allow (its "
        "rows are inference data: checked, predicted, measured for drift, never trained or "
        "scored on) or quarantine (the whole file, as `unlabelled`). Rows without a label in "
        "a partly labelled file are always kept.",
        choices=("allow", "quarantine"),
    ),
    Setting(
        "data.features",
        [],
        "list",
        "Feature columns; empty means every column but the target and ids, from the first data.",
    ),
    Setting(
        "data.categorical",
        [],
        "list",
        "Features to one-hot encode; empty means every non-numeric feature.",
    ),
    Setting(
        "data.min_file_age_seconds",
        0.0,
        "float",
        "A source file must be unchanged for this long before it is taken.",
        minimum=0,
    ),
    Setting(
        "ingest.follow_symlinks",
        False,
        "bool",
        "Take a symbolic link in the inbox whose target is a file inside the inbox (else every "
        "link is skipped, never opened).",
    ),
)
