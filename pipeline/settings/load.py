"""Loading settings: find riskwatch.toml, read it, override from the environment, validate.

A wrong value stops riskwatch at start with the key's name and what was expected.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.settings.table import (
    BY_KEY,
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    SETTINGS,
    Setting,
)
from pipeline.settings.window import parse_window

CONFIG_ENV = "RISKWATCH_CONFIG"
CONFIG_NAME = "riskwatch.toml"


@dataclass(frozen=True)
class Settings:
    """Validated settings; `settings["model.metric"]`, `settings.path("paths.source")`."""

    values: Mapping[str, Any]  # TOML values: each key's type is its row's kind
    base_dir: Path
    source: Path | None = None  # the settings file, when there is one
    _resolved: dict[str, Path] = field(default_factory=dict, compare=False, repr=False)

    def __getitem__(self, key: str) -> Any:
        if key not in BY_KEY:
            raise KeyError(key)
        return self.values[key]

    def path(self, key: str) -> Path:
        """Return a path setting resolved against the settings file's folder."""
        if BY_KEY[key].kind != "path":
            raise KeyError(f"{key} is not a path setting")
        return resolve(self.base_dir, self.values[key])

    @property
    def database_url(self) -> str:
        return self.values["database.url"]

    def with_values(self, **changes: object) -> Settings:
        """Return a copy with dotted keys given as `section__key=value` replaced."""
        raw = dict(self.values)
        for name, value in changes.items():
            raw[name.replace("__", ".")] = value
        return Settings(_validate(raw, self.base_dir), self.base_dir, self.source)


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
    raw.update(from_environment(environ))
    if overrides:
        for key, value in overrides.items():
            if key not in BY_KEY:
                raise ConfigError(f"unknown setting {key!r}")
            raw[key] = value
    return Settings(_validate(raw, base_dir), base_dir, config)


ENV_PREFIX = "RISKWATCH_"
ENV_NAMES = {s.env_var: s for s in SETTINGS}


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings the environment gives: a setting's own variable (DATABASE_URL) and, over it,
    RISKWATCH_<SECTION>__<KEY> for every key. Text kinds take the value as it is; the others a
    TOML value (`true`, `0.5`, `["a", "b"]`, `{ C = 0.1 }`); a list may also be comma-separated.
    An unknown RISKWATCH_X__Y is an error, as an unknown key in the file is."""
    raw: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.env and environ.get(setting.env):
            raw[setting.key] = environ[setting.env]
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name[len(ENV_PREFIX) :]:
            continue
        known = ENV_NAMES.get(name)
        if known is None:
            near = sorted(n for n in ENV_NAMES if n.split("__")[0] == name.split("__")[0])
            hint = f"; variables of that section: {', '.join(near)}" if near else ""
            raise ConfigError(f"environment variable {name}: no such setting{hint}")
        if value != "":
            raw[known.key] = _env_value(name, known, value)
    return raw


TEXT_KINDS = ("path", "str", "text", "choice", "secret")


def _env_value(name: str, setting: Setting, value: str) -> Any:
    """An environment variable's text as a value of the setting's kind; ConfigError naming
    the variable when it is not one."""
    if setting.kind in TEXT_KINDS:
        return value
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        if setting.kind != "list":
            raise ConfigError(
                f"environment variable {name} (setting {setting.key!r}): expected "
                f"{_EXPECTED[setting.kind]} written as a TOML value, got {value!r}"
            ) from None
        parsed = [part.strip() for part in value.split(",") if part.strip()]
    if not _CHECKS[setting.kind](parsed):
        raise ConfigError(
            f"environment variable {name} (setting {setting.key!r}): expected "
            f"{_EXPECTED[setting.kind]}, got {value!r}"
        )
    return parsed


def from_document(doc: Mapping[str, Any], base_dir: Path, origin: str) -> Settings:
    """Settings from a parsed riskwatch.toml document (say, an experiment's parameters as
    `dvc exp show` gives them), without the environment; ConfigError naming the bad key."""
    return Settings(_validate(_flatten(doc, Path(origin)), base_dir), base_dir)


def _flatten(doc: Mapping[str, Any], origin: Path) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section, body in doc.items():
        if not isinstance(body, dict):
            raise ConfigError(
                f"{origin}: top-level key {section!r} must be a [section]; "
                f"known sections: {', '.join(sorted({k.split('.')[0] for k in BY_KEY}))}"
            )
        for key, value in body.items():
            dotted = f"{section}.{key}"
            if dotted not in BY_KEY:
                near = [k for k in BY_KEY if k.startswith(section + ".")]
                hint = f"; keys of [{section}]: {', '.join(near)}" if near else ""
                raise ConfigError(f"{origin}: unknown setting {dotted!r}{hint}")
            flat[dotted] = value
    return flat


_CHECKS: dict[str, Callable[[object], bool]] = {
    "path": lambda v: isinstance(v, str) and v != "",
    "str": lambda v: isinstance(v, str) and v != "",
    "text": lambda v: isinstance(v, str),
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
    "text": "a string",
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
    """Check every row on its own, then the rules that tie several keys together."""
    values = {s.key: _checked(s, raw.get(s.key, s.default)) for s in SETTINGS}
    _check_consistency(values)
    values["database.url"] = normalise_database_url(values["database.url"], base_dir)
    return values


def _checked(s: Setting, value: Any) -> Any:
    """Return `value` for setting `s` (floats as float), or raise ConfigError naming the key."""
    if s.kind == "choice" and isinstance(value, bool) and {"true", "false"} <= set(s.choices):
        value = "true" if value else "false"  # `required = true` as well as "true"
    if not _CHECKS[s.kind](value):
        raise ConfigError(f"setting {s.key!r}: expected {_EXPECTED[s.kind]}, got {value!r}")
    if s.kind == "float":
        value = float(value)
    if s.choices and value not in s.choices:
        raise ConfigError(
            f"setting {s.key!r}: expected one of {', '.join(s.choices)}, got {value!r}"
        )
    if s.below_minimum(value):
        raise ConfigError(f"setting {s.key!r}: expected {s.range_words()[0]}, got {value!r}")
    if s.above_maximum(value):
        raise ConfigError(f"setting {s.key!r}: expected {s.range_words()[-1]}, got {value!r}")
    return value


def _check_consistency(values: Mapping[str, Any]) -> None:
    """Raise ConfigError when keys that are each valid contradict one another."""
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
    stamp = values["data.timestamp_column"]
    if stamp and stamp in (target, *values["data.id_columns"], *values["data.features"]):
        raise ConfigError(
            f"setting 'data.timestamp_column': {stamp!r} is also the target, an id or a feature"
        )
    _check_criticality(values["quality.criticality"])
    _check_events(values["alerts.events"])
    _check_import_path("model.estimator", values["model.estimator"])
    _check_model_choice(values)
    parse_window(values["training.window"])
    url = values["alerts.webhook_url"]
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError("setting 'alerts.webhook_url': expected an http:// or https:// URL")


def _check_import_path(key: str, path: str) -> None:
    """Raise ConfigError unless `path` is a dotted import path whose top-level package exists.

    Only what needs no import is checked here: settings are loaded by every tick, and importing
    the estimator's module would import scikit-learn, which the no-op tick must not (issue 9).
    The class (or model.pipeline's factory) is imported by `pipeline.model.estimator.check_model`
    as soon as a run has work, before anything else is done, and by `riskwatch train` at once.
    """
    import importlib.util

    parts = path.split(".")
    if len(parts) < 2 or not all(part.isidentifier() for part in parts):
        raise ConfigError(
            f"setting {key!r}: expected an import path such as "
            f"'sklearn.linear_model.LogisticRegression', got {path!r}"
        )
    if importlib.util.find_spec(parts[0]) is None:
        raise ConfigError(f"setting {key!r}: cannot import {path!r} (no module {parts[0]!r})")


def _check_model_choice(values: Mapping[str, Any]) -> None:
    """Raise ConfigError when the model's settings contradict one another.

    model.pipeline replaces the estimator, its parameters and the preprocessing: one of those
    set beside it would be silently ignored, so it is refused, naming both keys.
    """
    if values["model.preprocessing"] == "none" and values["data.categorical"]:
        raise ConfigError(
            "setting 'model.preprocessing': \"none\" takes numeric features only, and "
            f'data.categorical names {values["data.categorical"]}; use "standard" (one-hot '
            "encoding) or model.pipeline"
        )
    factory = values["model.pipeline"]
    if not factory:
        return
    _check_factory_path("model.pipeline", factory)
    replaced = [
        key
        for key in ("model.estimator", "model.params", "model.preprocessing")
        if values[key] != BY_KEY[key].default
    ]
    if replaced:
        raise ConfigError(
            f"setting 'model.pipeline': the pipeline {factory!r} replaces "
            f"{', '.join(replaced)}; remove {'it' if len(replaced) == 1 else 'them'} from the "
            "settings, or leave model.pipeline empty"
        )


def _check_factory_path(key: str, path: str) -> None:
    """Raise ConfigError unless `path` is 'package.module:function' whose top-level package
    exists (nothing is imported here: see `_check_import_path`)."""
    import importlib.util

    module, _, name = path.partition(":")
    parts = module.split(".")
    if not name.isidentifier() or not all(part.isidentifier() for part in parts):
        raise ConfigError(
            f"setting {key!r}: expected 'package.module:function' such as "
            f"'pipeline.model.examples:liblinear_logistic', got {path!r}"
        )
    if importlib.util.find_spec(parts[0]) is None:
        raise ConfigError(
            f"setting {key!r}: cannot import {path!r} (no module {parts[0]!r}; the module must "
            "be importable by riskwatch's Python: installed, or on PYTHONPATH)"
        )


def _check_events(names: list[str]) -> None:
    """Raise ConfigError unless every name is an alert event."""
    from pipeline.settings.keys_quality import ALERT_EVENTS

    unknown = [name for name in names if name not in ALERT_EVENTS]
    if unknown:
        raise ConfigError(
            f"setting 'alerts.events': unknown event {unknown[0]!r}; expected some of "
            f"{', '.join(ALERT_EVENTS)}"
        )


def _check_criticality(levels: Mapping[str, object]) -> None:
    """Raise ConfigError unless every key is an error type and every value a criticality."""
    from pipeline.vocabulary import CRITICALITIES, ERROR_TYPES

    for error_type, level in levels.items():
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
