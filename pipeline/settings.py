"""Settings: declared once in SETTINGS, read from riskwatch.toml, overridden by the environment.

Every key a user may set is a row of SETTINGS (name, default, kind, help). The README's
settings table and `riskwatch settings` are derived from it, and a test fails when a key is
undocumented. A wrong value stops riskwatch at start with the key's name and what was expected.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

CONFIG_ENV = "RISKWATCH_CONFIG"
CONFIG_NAME = "riskwatch.toml"

CLASSIFICATION_METRICS = ("f1", "accuracy", "roc_auc", "precision", "recall")
REGRESSION_METRICS = ("mae", "rmse", "r2")


@dataclass(frozen=True)
class Setting:
    """One key of riskwatch.toml: its default, its kind and what it means."""

    key: str
    default: Any
    kind: str  # path, str, int, float, bool, list, dict, choice
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    env: str | None = None
    exclusive_max: bool = False


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
        choices=("low", "medium", "high"),
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
        "Ask pip for outdated packages during a run (in the background).",
    ),
    Setting(
        "diagnostics.outdated_timeout_seconds",
        5.0,
        "float",
        "Longest wait for pip's answer; 'unknown' after that.",
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

_BY_KEY = {s.key: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Validated settings; `settings["model.metric"]`, `settings.path("paths.source")`."""

    values: Mapping[str, Any]
    base_dir: Path
    source: Path | None = None  # the settings file, when there is one
    _resolved: dict[str, Path] = field(default_factory=dict, compare=False, repr=False)

    def __getitem__(self, key: str) -> Any:
        if key not in _BY_KEY:
            raise KeyError(key)
        return self.values[key]

    def path(self, key: str) -> Path:
        """Return a path setting resolved against the settings file's folder."""
        if _BY_KEY[key].kind != "path":
            raise KeyError(f"{key} is not a path setting")
        return resolve(self.base_dir, self.values[key])

    @property
    def database_url(self) -> str:
        return self.values["database.url"]

    def with_values(self, **changes: Any) -> Settings:
        """Return a copy with dotted keys given as `section__key=value` replaced."""
        raw = dict(self.values)
        for name, value in changes.items():
            raw[name.replace("__", ".")] = value
        return Settings(_validate(raw, self.base_dir), self.base_dir, self.source)


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


def resolve(base: Path, value: str | os.PathLike[str]) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p)


def find_config(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """Return the settings file: explicit path, $RISKWATCH_CONFIG, or ./riskwatch.toml."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"settings file {str(path)!r} does not exist")
        return path.resolve()
    env = (os.environ if environ is None else environ).get(CONFIG_ENV)
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV}={env!r}: no such settings file")
        return path.resolve()
    path = Path.cwd() / CONFIG_NAME
    return path.resolve() if path.is_file() else None


def load_settings(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read, override from the environment, validate; raise ConfigError naming the bad key."""
    environ = os.environ if environ is None else environ
    config = find_config(path, environ)
    raw: dict[str, Any] = {}
    base_dir = Path.cwd().resolve()
    if config is not None:
        base_dir = config.parent
        try:
            with config.open("rb") as fh:
                doc = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config}: not valid TOML: {exc}") from exc
        raw.update(_flatten(doc, config))
    for setting in SETTINGS:
        if setting.env and environ.get(setting.env):
            raw[setting.key] = environ[setting.env]
    if overrides:
        for key, value in overrides.items():
            if key not in _BY_KEY:
                raise ConfigError(f"unknown setting {key!r}")
            raw[key] = value
    return Settings(_validate(raw, base_dir), base_dir, config)


def _flatten(doc: Mapping[str, Any], origin: Path) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section, body in doc.items():
        if not isinstance(body, dict):
            raise ConfigError(
                f"{origin}: top-level key {section!r} must be a [section]; "
                f"known sections: {', '.join(sorted({k.split('.')[0] for k in _BY_KEY}))}"
            )
        for key, value in body.items():
            dotted = f"{section}.{key}"
            if dotted not in _BY_KEY:
                near = [k for k in _BY_KEY if k.startswith(section + ".")]
                hint = f"; keys of [{section}]: {', '.join(near)}" if near else ""
                raise ConfigError(f"{origin}: unknown setting {dotted!r}{hint}")
            flat[dotted] = value
    return flat


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "path": lambda v: isinstance(v, str) and v != "",
    "str": lambda v: isinstance(v, str) and v != "",
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
    "bool": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list) and all(isinstance(x, str) and x for x in v),
    "dict": lambda v: isinstance(v, dict),
    "choice": lambda v: isinstance(v, str),
    "secret": lambda v: isinstance(v, str),
    "pair": lambda v: (
        isinstance(v, list)
        and len(v) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
        and 1 <= v[0] <= v[1]
    ),
}

_EXPECTED = {
    "path": "a non-empty path string",
    "str": "a non-empty string",
    "int": "an integer",
    "float": "a finite number",
    "bool": "true or false",
    "list": "a list of non-empty strings",
    "dict": "a table",
    "choice": "a string",
    "secret": "a string",
    "pair": "[M, N] with 1 <= M <= N",
}


def _validate(raw: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for s in SETTINGS:
        value = raw.get(s.key, s.default)
        if not _CHECKS[s.kind](value):
            raise ConfigError(f"setting {s.key!r}: expected {_EXPECTED[s.kind]}, got {value!r}")
        if s.kind == "float":
            value = float(value)
        if s.choices and value not in s.choices:
            raise ConfigError(
                f"setting {s.key!r}: expected one of {', '.join(s.choices)}, got {value!r}"
            )
        if s.minimum is not None and value < s.minimum:
            raise ConfigError(f"setting {s.key!r}: expected at least {s.minimum}, got {value!r}")
        if s.maximum is not None and (value >= s.maximum if s.exclusive_max else value > s.maximum):
            word = "below" if s.exclusive_max else "at most"
            raise ConfigError(f"setting {s.key!r}: expected {word} {s.maximum}, got {value!r}")
        values[s.key] = value

    classify = values["model.task"] == "classification"
    metrics = CLASSIFICATION_METRICS if classify else REGRESSION_METRICS
    if values["model.metric"] not in metrics:
        raise ConfigError(
            f"setting 'model.metric': {values['model.metric']!r} does not fit model.task "
            f"{values['model.task']!r}; expected one of {', '.join(metrics)}"
        )
    target = values["data.target"]
    if target in values["data.id_columns"] or target in values["data.features"]:
        raise ConfigError(f"setting 'data.target': {target!r} is also an id or feature column")
    overlap = set(values["data.id_columns"]) & set(values["data.features"])
    if overlap:
        raise ConfigError(f"setting 'data.features': {sorted(overlap)} are also id columns")
    from pipeline.ingest.vocabulary import CRITICALITIES, ERROR_TYPES

    for error_type, level in values["quality.criticality"].items():
        if error_type not in ERROR_TYPES:
            raise ConfigError(
                f"setting 'quality.criticality': unknown error type {error_type!r}; "
                f"expected one of {', '.join(ERROR_TYPES)}"
            )
        if level not in CRITICALITIES:
            raise ConfigError(
                f"setting 'quality.criticality.{error_type}': expected low, medium or high, "
                f"got {level!r}"
            )
    url = values["alerts.webhook_url"]
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError("setting 'alerts.webhook_url': expected an http:// or https:// URL")
    values["database.url"] = normalise_database_url(values["database.url"], base_dir)
    return values


def normalise_database_url(url: str, base_dir: Path) -> str:
    """Accept Heroku's postgres:// and plain postgresql://; anchor relative SQLite paths."""
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    elif url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rest = url[len("sqlite:///") :]
        if rest and rest != ":memory:" and not rest.startswith("file:"):
            url = "sqlite:///" + str((base_dir / rest).resolve())
    elif not (url.startswith("sqlite:") or url.startswith("postgresql+")):
        raise ConfigError(
            "setting 'database.url': expected a sqlite:/// or postgres:// URL, "
            f"got {url.split(':', 1)[0]!r}"
        )
    return url
