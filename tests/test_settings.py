"""Settings: defaults, riskwatch.toml, RISKWATCH_CONFIG, path anchoring, every bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.settings import CONFIG_ENV, SETTINGS, load_settings
from pipeline.settings.table import Setting, default


@pytest.fixture(autouse=True)
def _no_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's own RISKWATCH_CONFIG or DATABASE_URL must not leak into these tests.
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)


def write_config(folder: Path, text: str, name: str = "riskwatch.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


# --- where the settings come from -----------------------------------------------------------


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={})
    assert s.source is None
    assert s.base_dir == tmp_path.resolve()
    for setting in SETTINGS:
        if setting.key != "database.url":
            assert s[setting.key] == setting.default, setting.key
    assert s.database_url == f"sqlite:///{tmp_path.resolve() / 'riskwatch.db'}"
    assert s.path("paths.source") == tmp_path.resolve() / "sourcedata"


def test_values_from_riskwatch_toml_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(
        tmp_path,
        '[model]\ntask = "regression"\nmetric = "mae"\nparams = {alpha = 0.5}\n'
        "[policy]\ntolerance = 0\nrequire_interval = false\nbootstrap_samples = 200\n"
        '[data]\ntarget = "y"\nid_columns = []\nfeatures = ["a", "b"]\n',
    )
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={})
    assert s.source == config.resolve()
    assert s["model.task"] == "regression"
    assert s["model.metric"] == "mae"
    assert s["model.params"] == {"alpha": 0.5}
    assert s["policy.tolerance"] == 0.0
    assert isinstance(s["policy.tolerance"], float)
    assert s["policy.require_interval"] is False
    assert s["policy.bootstrap_samples"] == 200
    assert s["data.target"] == "y"
    assert s["data.id_columns"] == []
    assert s["data.features"] == ["a", "b"]
    assert s["policy.confidence"] == 0.95  # untouched keys keep their defaults


def test_riskwatch_config_env_wins_over_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # the environment is passed in, never read from os.environ behind the caller's back
    write_config(tmp_path / "cwd", '[model]\nmetric = "accuracy"\n')
    elsewhere = write_config(tmp_path / "etc", '[model]\nmetric = "recall"\n', name="rw.toml")
    monkeypatch.chdir(tmp_path / "cwd")
    s = load_settings(environ={CONFIG_ENV: str(elsewhere)})
    assert s["model.metric"] == "recall"
    assert s.source == elsewhere.resolve()
    assert s.base_dir == elsewhere.parent.resolve()


def test_explicit_path_wins_over_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from_env = write_config(tmp_path / "env", '[model]\nmetric = "recall"\n')
    explicit = write_config(tmp_path / "explicit", '[model]\nmetric = "precision"\n')
    s = load_settings(explicit, environ={CONFIG_ENV: str(from_env)})
    assert s["model.metric"] == "precision"
    assert s.source == explicit.resolve()


@pytest.mark.parametrize("how", ["explicit", "env"])
def test_missing_settings_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    missing = tmp_path / "nope.toml"
    if how == "env":
        with pytest.raises(ConfigError, match=rf"{CONFIG_ENV}=.*nope\.toml"):
            load_settings(environ={CONFIG_ENV: str(missing)})
    else:
        with pytest.raises(ConfigError, match=r"nope\.toml"):
            load_settings(missing, environ={})


@pytest.mark.parametrize(
    ("key", "value", "relative_to_config"),
    [
        ("paths.source", "inbox", True),
        ("paths.ingested", "data/ingested", True),
        ("paths.models", "../registry", True),
        ("paths.test_data", "testdata/t.csv", True),
        ("paths.reports", "/abs/reports", False),
    ],
)
def test_paths_resolve_against_the_settings_folder_not_the_cwd(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    value: str,
    relative_to_config: bool,
) -> None:
    section, name = key.split(".")
    config = write_config(tmp_path / "project", f'[{section}]\n{name} = "{value}"\n')
    (tmp_path / "somewhere_else").mkdir()
    monkeypatch.chdir(tmp_path / "somewhere_else")
    s = load_settings(config, environ={})
    expected = (config.parent.resolve() / value) if relative_to_config else Path(value)
    assert s.path(key) == expected


def test_default_paths_resolve_against_the_settings_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path / "project", "")
    monkeypatch.chdir(tmp_path)
    s = load_settings(config, environ={})
    assert s.path("paths.source") == config.parent.resolve() / "sourcedata"
    assert s.path("paths.lock") == config.parent.resolve() / ".riskwatch.lock"


# --- wrong settings fail at start, naming the key -------------------------------------------


@pytest.mark.parametrize(
    ("toml", "match"),
    [
        pytest.param(
            '[model]\nmetrc = "f1"\n', r"unknown setting 'model\.metrc'", id="unknown-key"
        ),
        pytest.param("[polcy]\ntolerance = 0.1\n", r"'polcy\.tolerance'", id="unknown-section"),
        pytest.param('metric = "f1"\n', r"top-level key 'metric'", id="top-level-non-table"),
        pytest.param(
            '[policy]\ntolerance = "0.1"\n', r"'policy\.tolerance'.*number", id="str-for-float"
        ),
        pytest.param(
            "[policy]\nbootstrap_samples = 1000.0\n",
            r"'policy\.bootstrap_samples'.*an integer",
            id="float-for-int",
        ),
        pytest.param(
            "[policy]\nbootstrap_samples = true\n",
            r"'policy\.bootstrap_samples'.*an integer",
            id="bool-for-int",
        ),
        pytest.param(
            '[policy]\nrequire_interval = "yes"\n',
            r"'policy\.require_interval'.*true or false",
            id="str-for-bool",
        ),
        pytest.param(
            '[data]\nid_columns = "corporation"\n', r"'data\.id_columns'.*list", id="str-for-list"
        ),
        pytest.param('[data]\nfeatures = ["a", 3]\n', r"'data\.features'.*list", id="int-in-list"),
        pytest.param('[model]\nparams = "C=1"\n', r"'model\.params'.*table", id="str-for-table"),
        pytest.param('[paths]\nsource = ""\n', r"'paths\.source'.*non-empty path", id="empty-path"),
        pytest.param(
            "[policy]\ntolerance = -0.1\n", r"'policy\.tolerance'.*at least 0", id="below-minimum"
        ),
        pytest.param(
            "[policy]\nconfidence = 1.0\n", r"'policy\.confidence'.*below 1", id="exclusive-max"
        ),
        pytest.param(
            "[policy]\nconfidence = 0.4\n",
            r"'policy\.confidence'.*at least 0\.5",
            id="confidence-low",
        ),
        pytest.param(
            "[split]\nholdout_fraction = 0.95\n",
            r"'split\.holdout_fraction'.*at most 0\.9",
            id="above-maximum",
        ),
        pytest.param(
            "[policy]\nbootstrap_samples = 10\n",
            r"'policy\.bootstrap_samples'.*at least 50",
            id="int-below-minimum",
        ),
        pytest.param(
            '[model]\ntask = "clustering"\n',
            r"'model\.task'.*classification, regression",
            id="bad-choice",
        ),
        pytest.param(
            '[model]\nmetric = "F1"\n', r"'model\.metric'.*one of", id="bad-metric-choice"
        ),
        pytest.param(
            '[split]\nholdout = "oldest"\n',
            r"'split\.holdout'.*newest, random",
            id="bad-holdout-choice",
        ),
        pytest.param(
            '[model]\ntask = "regression"\n',
            r"'model\.metric'.*'f1' does not fit.*regression",
            id="metric-vs-task",
        ),
        pytest.param(
            '[model]\nmetric = "rmse"\n',
            r"'model\.metric'.*'rmse' does not fit.*classification",
            id="regression-metric-for-classifier",
        ),
        pytest.param(
            '[data]\nfeatures = ["exited", "x"]\n',
            r"'data\.target'.*'exited'",
            id="target-is-feature",
        ),
        pytest.param(
            '[data]\nid_columns = ["exited"]\n', r"'data\.target'.*'exited'", id="target-is-id"
        ),
        pytest.param(
            '[data]\nfeatures = ["corporation"]\n',
            r"'data\.features'.*corporation",
            id="id-is-feature",
        ),
        # NaN is valid TOML and slips through every `<`/`>` range check.
        pytest.param("[policy]\nconfidence = nan\n", r"'policy\.confidence'", id="nan-confidence"),
        pytest.param("[policy]\ntolerance = nan\n", r"'policy\.tolerance'", id="nan-tolerance"),
        pytest.param(
            "[split]\nholdout_fraction = nan\n", r"'split\.holdout_fraction'", id="nan-holdout"
        ),
    ],
)
def test_bad_setting_names_the_key(tmp_path: Path, toml: str, match: str) -> None:
    config = write_config(tmp_path, toml)
    with pytest.raises(ConfigError, match=match):
        load_settings(config, environ={})


def test_unknown_override_names_the_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    with pytest.raises(ConfigError, match=r"unknown setting 'policy\.tolerence'"):
        load_settings(config, environ={}, overrides={"policy.tolerence": 0.1})


def test_with_values_validates(tmp_path: Path) -> None:
    s = load_settings(write_config(tmp_path, ""), environ={})
    assert s.with_values(policy__tolerance=0.1)["policy.tolerance"] == 0.1
    with pytest.raises(ConfigError, match=r"'policy\.tolerance'"):
        s.with_values(policy__tolerance=-1)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[model\nmetric = f1\n", name="broken.toml")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_settings(config, environ={})


# --- the database URL -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@db.example:5432/rw", "postgresql+psycopg://u:p@db.example:5432/rw"),
        ("postgresql://u:p@db.example/rw", "postgresql+psycopg://u:p@db.example/rw"),
        ("postgresql+psycopg://u@h/rw", "postgresql+psycopg://u@h/rw"),
        ("sqlite:///x.db", "sqlite:///{base}/x.db"),
        ("sqlite:///data/x.db", "sqlite:///{base}/data/x.db"),
        ("sqlite:////var/lib/rw.db", "sqlite:////var/lib/rw.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("sqlite://", "sqlite://"),
    ],
)
@pytest.mark.parametrize("via", ["toml", "DATABASE_URL"])
def test_database_url_is_normalised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, expected: str, via: str
) -> None:
    folder = tmp_path / "project"
    if via == "toml":
        config = write_config(folder, f'[database]\nurl = "{url}"\n')
        environ: dict[str, str] = {}
    else:
        config = write_config(folder, '[database]\nurl = "sqlite:///from-the-file.db"\n')
        environ = {"DATABASE_URL": url}
    monkeypatch.chdir(tmp_path)  # relative SQLite paths must not follow the cwd
    s = load_settings(config, environ=environ)
    assert s.database_url == expected.format(base=folder.resolve())


def test_database_url_env_beats_the_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[database]\nurl = "sqlite:///file.db"\n')
    s = load_settings(config, environ={"DATABASE_URL": "postgres://h/prod"})
    assert s.database_url == "postgresql+psycopg://h/prod"
    assert load_settings(config, environ={}).database_url == f"sqlite:///{tmp_path / 'file.db'}"


@pytest.mark.parametrize("via", ["toml", "DATABASE_URL"])
@pytest.mark.parametrize("url", ["mysql://u@h/rw", "oracle://h/rw", "not-a-url"])
def test_unsupported_database_url_names_the_key(tmp_path: Path, via: str, url: str) -> None:
    if via == "toml":
        config = write_config(tmp_path, f'[database]\nurl = "{url}"\n')
        environ: dict[str, str] = {}
    else:
        config = write_config(tmp_path, "")
        environ = {"DATABASE_URL": url}
    with pytest.raises(ConfigError, match=r"'database\.url'"):
        load_settings(config, environ=environ)


# --- the package: one table, one loader --------------------------------------------------------


def test_the_table_is_keyed_once_and_imports_nothing_of_riskwatch_but_its_rows() -> None:
    import ast

    from pipeline.settings import BY_KEY, table

    assert list(BY_KEY) == [s.key for s in SETTINGS]
    assert len(BY_KEY) == len(SETTINGS)  # no key declared twice
    folder = Path(table.__file__).parent
    modules = ["table", "setting", *(p.stem for p in folder.glob("keys_*.py"))]
    for name in modules:
        tree = ast.parse((folder / f"{name}.py").read_text())
        imported = {
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        riskwatch = {m for m in imported if m and m.split(".")[0] in {"pipeline", "app"}}
        # the rows and the table import only one another: the no-op tick reads them
        assert riskwatch <= {f"pipeline.settings.{m}" for m in modules}, name


def test_a_valid_key_that_contradicts_another_names_both(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[model]\ntask = "regression"\nmetric = "f1"\n')
    with pytest.raises(ConfigError, match=r"'model\.metric': 'f1' does not fit model\.task"):
        load_settings(config, environ={})


def test_the_criticality_choices_are_the_vocabularys() -> None:
    """The table imports nothing of riskwatch, so it spells the levels out; they must agree."""
    from pipeline.settings.table import BY_KEY
    from pipeline.vocabulary import CRITICALITIES

    assert BY_KEY["alerts.min_criticality"].choices == CRITICALITIES


def _parameter_defaults() -> list[tuple[object, str, str]]:
    from pipeline.ingest import alerts, checks, contract_infer, ingestion
    from pipeline.model import metrics

    return [
        (metrics.score_with_interval, "samples", "policy.bootstrap_samples"),
        (metrics.score_with_interval, "confidence", "policy.confidence"),
        (metrics.score_with_interval, "max_rows", "policy.bootstrap_max_rows"),
        (contract_infer.infer_summary, "range_margin", "quality.range_margin"),
        (contract_infer.infer_summary, "missing_margin", "quality.missing_margin"),
        (contract_infer.infer_summary, "missing_significance", "quality.missing_significance"),
        (checks.check_frame, "missing_alpha", "quality.missing_significance"),
        (ingestion.ingest_file, "missing_alpha", "quality.missing_significance"),
        (ingestion.ingest_file, "max_invalid_share", "quality.max_invalid_share"),
        (alerts.send, "timeout", "alerts.timeout_seconds"),
        (alerts.send, "retries", "alerts.retries"),
        (alerts.send, "deadline", "alerts.deadline_seconds"),
    ]


def test_code_that_takes_a_setting_as_a_parameter_defaults_to_the_tables_value() -> None:
    """A value written once: the pure functions' defaults are the settings table's."""
    import inspect

    from pipeline.settings.table import BY_KEY

    for func, parameter, key in _parameter_defaults():
        found = inspect.signature(func).parameters[parameter].default  # type: ignore[arg-type]
        assert found == BY_KEY[key].default, (func, parameter, key)


# --- every setting from the environment: RISKWATCH_<SECTION>__<KEY> (issue 11) --------------


def _empty(folder: Path) -> Path:
    (folder / "riskwatch.toml").write_text("")
    return folder / "riskwatch.toml"


TEXT_FROM_ENV = {
    "database.url": "sqlite:///from-env.db",
    "model.estimator": "sklearn.linear_model.RidgeClassifier",
}


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.key for s in SETTINGS])
def test_every_setting_is_read_from_its_environment_variable(
    setting: Setting, tmp_path: Path
) -> None:
    """Each key is set by its variable: the value arrives (text kinds as they are, the others
    parsed as TOML), or the key's own check refuses it, naming the key or the variable."""
    name = setting.env_var
    assert name == "RISKWATCH_" + setting.key.replace(".", "__").upper()
    text = TEXT_FROM_ENV.get(setting.key, "from-env-1" if setting.kind != "dict" else "{ a = 1 }")
    try:
        loaded = load_settings(_empty(tmp_path), environ={name: text})
    except ConfigError as exc:
        assert setting.key in str(exc) or name in str(exc)
        return
    expected = {"list": ["from-env-1"], "dict": {"a": 1}}.get(setting.kind, text)
    got = loaded.values[setting.key]
    assert got == expected or (setting.key == "database.url" and got.endswith("from-env.db"))


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("{ C = 0.1, max_iter = 50 }", "model.params", {"C": 0.1, "max_iter": 50}),
        ("false", "data.unique_ids", False),
        ("0.25", "policy.tolerance", 0.25),
        ('["id", "branch"]', "data.id_columns", ["id", "branch"]),
        ("id, branch", "data.id_columns", ["id", "branch"]),
        ("database", "registry.store", "database"),
        ('{ duplicate_id = "high" }', "quality.criticality", {"duplicate_id": "high"}),
    ],
)
def test_environment_values_are_typed_by_the_settings_kind(
    text: str, key: str, value: object, tmp_path: Path
) -> None:
    (tmp_path / "riskwatch.toml").write_text("[policy]\ntolerance = 0.1\n")
    name = "RISKWATCH_" + key.replace(".", "__").upper()
    loaded = load_settings(tmp_path / "riskwatch.toml", environ={name: text})
    assert loaded[key] == value


def test_the_environment_beats_the_file_and_the_generic_name_beats_database_url(
    tmp_path: Path,
) -> None:
    (tmp_path / "riskwatch.toml").write_text('[database]\nurl = "sqlite:///file.db"\n')
    env = {"DATABASE_URL": "sqlite:///named.db"}
    assert load_settings(tmp_path / "riskwatch.toml", environ=env).database_url.endswith("named.db")
    env["RISKWATCH_DATABASE__URL"] = "sqlite:///generic.db"
    loaded = load_settings(tmp_path / "riskwatch.toml", environ=env)
    assert loaded.database_url.endswith("generic.db")


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"RISKWATCH_POLICY__TOLERANCES": "1"}, "RISKWATCH_POLICY__TOLERANCES: no such setting; "),
        ({"RISKWATCH_NOPE__X": "1"}, "RISKWATCH_NOPE__X: no such setting$"),
        ({"RISKWATCH_POLICY__TOLERANCE": "abc"}, "RISKWATCH_POLICY__TOLERANCE .*finite number"),
        ({"RISKWATCH_DATA__UNIQUE_IDS": "yes"}, "RISKWATCH_DATA__UNIQUE_IDS .*true or false"),
        ({"RISKWATCH_MODEL__PARAMS": "[1]"}, "RISKWATCH_MODEL__PARAMS .*a table"),
        ({"RISKWATCH_REGISTRY__STORE": "s3"}, "'registry.store': expected one of files"),
    ],
)
def test_a_bad_environment_variable_names_itself(
    env: dict[str, str], match: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=match):
        load_settings(_empty(tmp_path), environ=env)


def test_riskwatch_variables_that_are_not_settings_are_left_alone(tmp_path: Path) -> None:
    env = {"RISKWATCH_ENV": "production", "RISKWATCH_TOKEN": "x", "RISKWATCH_POLICY__TOLERANCE": ""}
    assert load_settings(_empty(tmp_path), environ=env)["policy.tolerance"] == default(
        "policy.tolerance"
    )


@pytest.mark.parametrize(
    ("toml", "value"), [("true", "true"), ("false", "false"), ('"auto"', "auto")]
)
def test_auth_required_takes_a_toml_boolean_or_auto(tmp_path: Path, toml: str, value: str) -> None:
    (tmp_path / "riskwatch.toml").write_text(f"[auth]\nrequired = {toml}\n")
    assert load_settings(tmp_path / "riskwatch.toml", environ={})["auth.required"] == value
