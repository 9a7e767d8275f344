"""The table of settings: every key a user may set, with its default, kind, range and help.

This module is data and the one function derived from it (the README's table). It imports
nothing of riskwatch, so any code may read a setting's default or range from here rather than
writing it a second time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

CLASSIFICATION_METRICS = ("f1", "accuracy", "roc_auc", "precision", "recall")
REGRESSION_METRICS = ("mae", "rmse", "r2")


@dataclass(frozen=True)
class Setting:
    """One key of riskwatch.toml: its default, its kind and what it means."""

    key: str
    default: Any  # a value of the row's kind: text, number, bool, list or table
    kind: str  # path, str, int, float, bool, list, dict, choice
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    env: str | None = None
    exclusive_max: bool = False

    def below_minimum(self, value: float) -> bool:
        return self.minimum is not None and value < self.minimum

    def above_maximum(self, value: float) -> bool:
        if self.maximum is None:
            return False
        return value >= self.maximum if self.exclusive_max else value > self.maximum

    def range_words(self) -> list[str]:
        """The range in words, e.g. ['at least 1e-09', 'at most 0.5']; empty when unbounded."""
        words = [] if self.minimum is None else [f"at least {self.minimum}"]
        if self.maximum is not None:
            words.append(f"{'below' if self.exclusive_max else 'at most'} {self.maximum}")
        return words


SETTINGS: tuple[Setting, ...] = (
    Setting("paths.source", "sourcedata", "path", "The inbox: new data files are dropped here."),
    Setting("paths.ingested", "ingesteddata", "path", "Ingested data (Parquet) and quarantine."),
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
    Setting("data.target", "exited", "str", "The label column."),
    Setting("data.id_columns", ["corporation"], "list", "Identifier columns, never features."),
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
        "model.task",
        "classification",
        "choice",
        "classification or regression.",
        choices=("classification", "regression"),
    ),
    Setting(
        "model.estimator",
        "sklearn.linear_model.LogisticRegression",
        "str",
        "Import path of any scikit-learn estimator; wrapped in impute, scale and one-hot steps.",
    ),
    Setting("model.params", {}, "dict", "Keyword arguments for the estimator."),
    Setting(
        "model.metric",
        "f1",
        "choice",
        "f1, accuracy, roc_auc, precision, recall (classification); mae, rmse, r2 (regression).",
        choices=CLASSIFICATION_METRICS + REGRESSION_METRICS,
    ),
    Setting("model.random_seed", 42, "int", "Seed for the estimator, splits and bootstrap."),
    Setting(
        "split.holdout_fraction",
        0.2,
        "float",
        "Share of the rows held out to compare champion and challenger.",
        minimum=0.01,
        maximum=0.9,
    ),
    Setting(
        "split.holdout",
        "newest",
        "choice",
        "newest: the holdout is the newest rows (what production faces next); random: a "
        "seeded random sample.",
        choices=("newest", "random"),
    ),
    Setting(
        "policy.tolerance",
        0.02,
        "float",
        "A drop of the production metric counts only beyond this (absolute, metric units).",
        minimum=0,
    ),
    Setting(
        "policy.require_interval",
        True,
        "bool",
        "A drop counts only when it is clear of noise: the interval of the difference between "
        "the new score and the recorded one (both bootstrapped) excludes zero.",
    ),
    Setting(
        "policy.confidence",
        0.95,
        "float",
        "Confidence level of the bootstrap interval.",
        minimum=0.5,
        maximum=1,
        exclusive_max=True,
    ),
    Setting(
        "policy.bootstrap_samples",
        1000,
        "int",
        "Bootstrap resamples for the interval.",
        minimum=50,
    ),
    Setting(
        "policy.bootstrap_max_rows",
        100000,
        "int",
        "Above this many rows, metrics that need every row are bootstrapped m-out-of-n and "
        "the interval rescaled by sqrt(m/n); count-based metrics are always exact.",
        minimum=1000,
    ),
    Setting(
        "policy.min_rows",
        30,
        "int",
        "Fewer new labelled rows than this: no retrain decision is taken on them.",
        minimum=1,
    ),
    Setting(
        "policy.promote_margin",
        0.0,
        "float",
        "The challenger is promoted when it is at most this much worse than the champion on "
        "the same holdout (0: not worse).",
        minimum=0,
    ),
    Setting(
        "quality.criticality",
        {},
        "dict",
        "Criticality (low, medium, high) per error type, overriding the defaults, e.g. "
        '{ extra_column = "medium" }.',
    ),
    Setting(
        "quality.range_margin",
        0.5,
        "float",
        "Contract inference widens each numeric range by this share of it on both sides.",
        minimum=0,
    ),
    Setting(
        "quality.missing_margin",
        0.05,
        "float",
        "Contract inference allows this much more missing share than the training data had.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "quality.missing_significance",
        0.001,
        "float",
        "A file is flagged for missing values in a nullable column only when its missing share is "
        "above the contract's at this significance (so a few rows never trip it).",
        minimum=1e-12,
        maximum=0.5,
    ),
    Setting(
        "quality.max_invalid_share",
        0.05,
        "float",
        "A file whose share of quarantined rows is above this gets an invalid_share issue, "
        "criticality high by default (so it alerts); 1: never.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "alerts.webhook_url",
        "",
        "secret",
        "Incoming-webhook URL (Slack or Microsoft Teams) for data-quality alerts; empty: none.",
        env="RISKWATCH_WEBHOOK_URL",
    ),
    Setting(
        "alerts.report_base_url",
        "",
        "secret",
        "Public URL of the riskwatch app; alerts then link to <url>/quality/<id>.html. Empty: "
        "they name the report's file path.",
        env="RISKWATCH_PUBLIC_URL",
    ),
    Setting(
        "alerts.min_criticality",
        "high",
        "choice",
        "A file whose problems reach this criticality raises an alert.",
        choices=("low", "medium", "high"),  # pipeline.vocabulary's order; a test holds them equal
    ),
    Setting(
        "alerts.timeout_seconds",
        5.0,
        "float",
        "Per-attempt timeout of a webhook call.",
        minimum=0.1,
    ),
    Setting("alerts.retries", 3, "int", "Retries of a failed webhook call.", minimum=0),
    Setting(
        "alerts.deadline_seconds",
        15.0,
        "float",
        "Most time all attempts of one alert may take: a dead webhook never stalls a run.",
        minimum=0.1,
    ),
    Setting(
        "policy.trigger",
        "metric",
        "choice",
        "What triggers a retrain: metric (a clear drop of the metric), drift (data drift), "
        "either, or both.",
        choices=("metric", "drift", "either", "both"),
    ),
    Setting("drift.enabled", True, "bool", "Compare each run's new rows with the reference."),
    Setting(
        "drift.alpha",
        0.05,
        "float",
        "False-discovery rate of the Benjamini-Hochberg correction across the run's columns.",
        minimum=1e-9,
        maximum=0.5,
    ),
    Setting(
        "drift.min_wasserstein",
        0.15,
        "float",
        "Smallest Wasserstein distance, in reference standard deviations, that counts as drift "
        "for a numeric column (a mean shift of d std has distance d).",
        minimum=0,
    ),
    Setting(
        "drift.min_jensen_shannon",
        0.1,
        "float",
        "Smallest Jensen-Shannon distance (base 2) that counts as drift for a categorical column.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "drift.dataset_share",
        0.5,
        "float",
        "The data set drifts when at least this share of the tested columns drifts.",
        minimum=0.01,
        maximum=1,
    ),
    Setting(
        "drift.min_rows",
        30,
        "int",
        "Fewer values than this on either side: the column gets status too_few_rows.",
        minimum=1,
    ),
    Setting(
        "drift.weights",
        "equal",
        "choice",
        "How features weigh in the drifted share: equal, or importance (the model's permutation "
        "importance on its holdout, computed when it is trained).",
        choices=("equal", "importance"),
    ),
    Setting(
        "drift.persistence",
        [1, 1],
        "pair",
        "[M, N]: the data set counts as drifted only when it drifted in M of the last N runs "
        "(damps one-off alarms); [1, 1] reacts at once.",
    ),
    Setting(
        "diagnostics.outdated_packages",
        True,
        "bool",
        "Record outdated packages with a run: pip's answer, cached in "
        "<paths.reports>/outdated_packages.json; a run never waits for pip.",
    ),
    Setting(
        "diagnostics.outdated_cache_hours",
        24.0,
        "float",
        "How long pip's answer is used; a run that finds it older records 'unknown' and starts "
        "one refresh in the background, for the next run.",
        minimum=0.0,
    ),
    Setting(
        "diagnostics.outdated_timeout_seconds",
        5.0,
        "float",
        "Longest the background pip query may take; its answer is 'unknown' after that.",
        minimum=0.1,
    ),
    Setting(
        "api.max_records",
        10000,
        "int",
        "Most records one POST /prediction may carry.",
        minimum=1,
    ),
    Setting(
        "api.call_timeout_seconds",
        30.0,
        "float",
        "How long `riskwatch apicalls` waits for each answer of the app.",
        minimum=0.1,
    ),
    Setting(
        "api.max_request_bytes",
        10_000_000,
        "int",
        "Largest request body the app accepts.",
        minimum=1024,
    ),
)
BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}


def default(key: str) -> Any:
    """The default of one setting: code that takes the same value as a parameter defaults to it,
    so the value is written once, here."""
    return BY_KEY[key].default


def markdown_table() -> str:
    """The README's settings table: `riskwatch settings --markdown` prints it."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        d = s.default
        if isinstance(d, bool):
            shown = str(d).lower()
        elif isinstance(d, dict):
            shown = "{}"
        elif isinstance(d, str | list):
            shown = json.dumps(d)
        else:
            shown = str(d)
        env = f" Environment: `{s.env}`." if s.env else ""
        rows.append(f"| `{s.key}` | `{shown}` | {s.help}{env} |")
    return "\n".join(rows)
