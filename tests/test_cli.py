"""The CLI in this process (click's CliRunner): errors to exit codes, --json, the shared decorator.

The subprocess tests (test_e2e, test_recovery) prove the console script end to end; these pin
the mapping itself, for every exception class riskwatch has, without starting an interpreter.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import pipeline
import pipeline.errors as errors
import pipeline.run
from pipeline.cli import main
from pipeline.cli.root import emit, engine_command
from pipeline.errors import (
    ConfigError,
    DatabaseNotReady,
    DatabaseUnreachable,
    DataError,
    InboxMissing,
    InvalidArgument,
    LockHeld,
    ModelIntegrityError,
    NoProductionModel,
    NotFound,
    RiskwatchError,
    ToolError,
)
from pipeline.infra.lock import LockHeld as LockHeldFromLock
from pipeline.settings import CONFIG_ENV, SETTINGS

# One instance of every exception class in pipeline.errors, with the exit code the CLI gives it.
RAISED: list[tuple[RiskwatchError, int]] = [
    (RiskwatchError("something failed"), 1),
    (ConfigError("model.metric: expected one of roc_auc, got 'x'"), 2),
    (InboxMissing("the inbox sourcedata/ is missing"), 2),
    (InvalidArgument("wrong_type: the count must be a whole number, got 'x'"), 2),
    (DatabaseNotReady("the database has no riskwatch schema"), 3),
    (DatabaseUnreachable("cannot reach the database postgresql+psycopg://db:1/x: refused"), 5),
    (DataError("clients.csv: column 'age' is missing", column="age"), 1),
    (ModelIntegrityError("model v2: artifact checksum mismatch"), 4),
    (NoProductionModel("no model in production yet"), 1),
    (NotFound("no run 'abc'"), 1),
    (LockHeld(Path("/srv/riskwatch/.riskwatch.lock"), "pid 12 since 2026-01-01T00:00:00"), 0),
    (ToolError("`dvc add experiments/data` failed (exit 1): no space left"), 1),
]


@pytest.fixture(autouse=True)
def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty project folder as the working directory; the riskwatch logger put back after."""
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    log = logging.getLogger("riskwatch")
    saved = (list(log.handlers), log.level, log.propagate)
    try:
        yield tmp_path
    finally:
        log.handlers[:], log.level, log.propagate = saved


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), prog_name="riskwatch")


def test_every_exception_class_is_a_riskwatch_error_and_is_tested() -> None:
    classes = {
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, BaseException) and c.__module__ == errors.__name__
    }
    assert all(issubclass(c, RiskwatchError) for c in classes), classes
    assert classes == {type(exc) for exc, _ in RAISED}
    assert LockHeldFromLock is LockHeld  # the lock raises the one class the CLI maps


def test_every_exception_the_engine_defines_is_a_riskwatch_error() -> None:
    """One root: a class raised anywhere in pipeline/ (or app/) reaches the CLI's mapping."""
    import app

    defined = []
    modules = [
        *pkgutil.walk_packages(pipeline.__path__, "pipeline."),
        *pkgutil.walk_packages(app.__path__, "app."),
    ]
    for info in modules:
        module = importlib.import_module(info.name)
        defined += [
            c
            for _, c in inspect.getmembers(module, inspect.isclass)
            if issubclass(c, BaseException) and c.__module__ == info.name
        ]
    assert len(defined) >= len(RAISED)
    # click's exceptions are how the CLI presents an error, not errors the engine raises.
    reported = [c for c in defined if not issubclass(c, click.ClickException)]
    assert [c for c in reported if not issubclass(c, RiskwatchError)] == []


@pytest.mark.parametrize(("exc", "code"), RAISED, ids=[type(exc).__name__ for exc, _ in RAISED])
def test_each_error_exits_with_its_class_code_and_says_why_on_stderr(
    monkeypatch: pytest.MonkeyPatch, exc: RiskwatchError, code: int
) -> None:
    def failing(_settings: object) -> dict[str, object]:
        raise exc

    monkeypatch.setattr(pipeline.run, "run_once", failing)
    result = invoke("run")
    assert result.exit_code == code == type(exc).exit_code
    assert result.stdout == ""
    if isinstance(exc, InvalidArgument):  # as click reports its own bad arguments
        assert result.stderr == (
            "Usage: riskwatch run [OPTIONS]\n"
            "Try 'riskwatch run --help' for help.\n\n"
            f"Error: {exc}\n"
        )
    elif code == 0:  # another run holds the lock: not a failure, no "error:"
        assert result.stderr == f"riskwatch: {exc}\n"
        assert "holds the lock /srv/riskwatch/.riskwatch.lock (pid 12 since" in result.stderr
    else:
        assert result.stderr == f"riskwatch: error: {exc}\n"


@pytest.mark.parametrize(("exc", "code"), RAISED, ids=[type(exc).__name__ for exc, _ in RAISED])
def test_with_json_each_error_is_a_json_document_on_stdout_too(
    monkeypatch: pytest.MonkeyPatch, exc: RiskwatchError, code: int
) -> None:
    """A script that reads `--json` reads why it failed and the exit code (the reason stays on
    stderr); a bad argument stays click's usage error."""

    def failing(_settings: object) -> dict[str, object]:
        raise exc

    monkeypatch.setattr(pipeline.run, "run_once", failing)
    result = invoke("run", "--json")
    assert result.exit_code == code
    if isinstance(exc, InvalidArgument):
        assert result.stdout == ""
        return
    assert json.loads(result.stdout) == {"ok": code == 0, "error": str(exc), "exit_code": code}


def test_an_error_in_a_subgroup_command_is_mapped_too(monkeypatch: pytest.MonkeyPatch) -> None:
    result = invoke("--config", "absent.toml", "db", "upgrade")
    assert result.exit_code == 2
    assert result.stderr == "riskwatch: error: settings file 'absent.toml' does not exist\n"


def test_an_error_outside_riskwatch_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_settings: object) -> dict[str, object]:
        raise KeyError("bug")

    monkeypatch.setattr(pipeline.run, "run_once", broken)
    result = invoke("run")
    assert result.exit_code == 1 and isinstance(result.exception, KeyError)


def test_settings_json_parses_and_lists_every_setting() -> None:
    result = invoke("settings", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["key"] for r in rows] == [s.key for s in SETTINGS]
    assert set(rows[0]) == {"key", "value", "default", "help"}


def test_settings_text_is_not_json() -> None:
    result = invoke("settings")
    assert result.exit_code == 0, result.stderr
    first = SETTINGS[0]
    assert result.stdout.startswith(f"{first.key} = ")
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)


def test_an_unknown_command_is_a_usage_error() -> None:
    result = invoke("nosuchcommand")
    assert result.exit_code == 2
    assert "Error: No such command 'nosuchcommand'." in result.stderr


def _commands(command: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, f"{path} {name}")


def test_every_command_refuses_an_option_given_twice() -> None:
    """Every command and group is riskwatch's class, which refuses a repeated option."""
    from pipeline.cli.root import Command, Group

    found = list(_commands(main, "riskwatch"))
    assert len(found) > 30
    for path, command in found:
        assert isinstance(command, Group if isinstance(command, click.Group) else Command), path


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["predictions", "--source", "api", "--source", "all"], "--source"),
        (["predictions", "--source=api", "--since", "2026-01-01", "--source", "api"], "--source"),
        (["--config", "a.toml", "--config", "b.toml", "status"], "--config"),
        (["drift", "selftest", "--runs", "1", "--runs", "2"], "--runs"),
        (["sample-data", "out", "--rows", "10", "--seed", "1", "--rows", "20"], "--rows"),
    ],
)
def test_an_option_given_twice_is_a_usage_error_naming_it(
    _project: Path, args: list[str], option: str
) -> None:
    """click alone keeps the last value silently: `--source api --source all` would list every
    source. Nothing runs: the database is never made."""
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert f"Error: option {option} was given more than once; give it once" in result.stderr
    assert not (_project / "riskwatch.db").exists()


def test_flags_and_repeatable_options_may_repeat() -> None:
    from pipeline.cli.root import Group

    result = invoke("-q", "--quiet", "settings", "--json", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)

    @click.group(cls=Group)
    def root() -> None:
        """A group for the test."""

    @engine_command(root, "mix", json=True)
    @click.option("--inject", multiple=True)
    @click.option("--seed", type=int)
    def mix(ctx: click.Context, inject: tuple[str, ...], seed: int, as_json: bool) -> None:
        click.echo(",".join(inject))

    done = CliRunner().invoke(root, ["mix", "--inject", "a=1", "--inject", "b=2", "--seed", "1"])
    assert (done.exit_code, done.stdout) == (0, "a=1,b=2\n")
    twice = CliRunner().invoke(root, ["mix", "--seed", "1", "--inject", "a=1", "--seed", "2"])
    assert twice.exit_code == 2
    assert "Error: option --seed was given more than once; give it once" in twice.stderr


def test_split_reports_a_bad_argument_as_usage(_project: Path) -> None:
    source = _project / "few.csv"
    source.write_text("a,b\n1,2\n3,4\n")
    result = invoke("split", str(source), str(_project / "parts"), "--files", "3")
    assert result.exit_code == 2
    assert result.stderr.startswith("Usage: riskwatch split [OPTIONS] DATASET OUTDIR\n")
    assert result.stderr.endswith("Error: cannot split few.csv into 3 files: it has only 2 rows\n")
    done = invoke("split", str(source), str(_project / "parts"), "--files", "2")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.splitlines() == [
        str(_project / "parts" / "few_part_001.csv"),
        str(_project / "parts" / "few_part_002.csv"),
    ]


# --- the shared decorator -------------------------------------------------------------------


def _group() -> click.Group:
    @click.group()
    def root() -> None:
        """A group for the test."""

    @engine_command(root, "show", json="Print it as JSON.")
    @click.option("--n", type=int, default=1)
    def show(ctx: click.Context, n: int, as_json: bool) -> None:
        """Show n."""
        assert isinstance(ctx, click.Context)
        emit({"n": n}, as_json, lambda d: f"n is {d['n']}")

    @engine_command(root, "fail")
    def fail(ctx: click.Context) -> None:
        """Fail the riskwatch way."""
        raise ModelIntegrityError("tampered")

    return root


def test_engine_command_adds_json_after_the_options_and_passes_the_context() -> None:
    group = _group()
    show = group.commands["show"]
    assert [p.name for p in show.params] == ["n", "as_json"]
    assert show.help == "Show n."
    runner = CliRunner()
    assert runner.invoke(group, ["show", "--n", "3"]).stdout == "n is 3\n"
    assert json.loads(runner.invoke(group, ["show", "--json"]).stdout) == {"n": 1}
    helped = runner.invoke(group, ["show", "--help"]).stdout
    assert helped.index("--n INTEGER") < helped.index("--json") < helped.index("Print it as JSON.")


def test_engine_command_maps_errors_without_a_json_flag() -> None:
    group = _group()
    assert [p.name for p in group.commands["fail"].params] == []
    result = CliRunner().invoke(group, ["fail"])
    assert result.exit_code == 4
    assert result.stderr == "riskwatch: error: tampered\n"


def test_every_command_keeps_json_last_but_settings() -> None:
    """`--json` is where it was before the commands shared one decorator (the --help order)."""
    seen = {}
    for name, command in main.commands.items():
        subs = getattr(command, "commands", {})
        for sub_name, sub in [(name, command), *((f"{name} {s}", c) for s, c in subs.items())]:
            names = [p.name for p in sub.params if isinstance(p, click.Option)]
            if "as_json" in names:
                seen[sub_name] = names.index("as_json") == len(names) - 1
    assert seen.pop("settings") is False  # --json, then --markdown, as it always was
    assert all(seen.values()), seen
    assert set(seen) >= {"run", "status", "runs", "drift", "drift selftest", "contract check"}


def test_reads_create_a_new_database_and_db_upgrade_an_older_one(_project: Path) -> None:
    from pipeline.storage import db

    engine = db.make_engine(f"sqlite:///{_project / 'riskwatch.db'}")
    db.upgrade(engine, "0001")
    engine.dispose()
    before = invoke("status")
    assert before.exit_code == 3
    assert "run `riskwatch db upgrade`" in before.stderr
    upgraded = invoke("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.stderr
    assert upgraded.stdout.startswith("database at schema revision ")
    assert str(_project / "riskwatch.db") in upgraded.stdout
    (_project / "riskwatch.db").unlink()  # a new database: created on first use
    status = invoke("status", "--json")
    assert status.exit_code == 0, status.stderr
    assert json.loads(status.stdout)["production_version"] is None
    assert json.loads(invoke("runs", "--json").stdout) == []
    assert invoke("runs").stdout == "no runs yet\n"


def _lost() -> Exception:
    """SQLAlchemy's error for a PostgreSQL connection lost mid-statement, as psycopg words it."""
    import psycopg
    import sqlalchemy as sa

    orig = psycopg.OperationalError(
        "consuming input failed: server closed the connection unexpectedly\n"
        "\tThis probably means the server terminated abnormally\n"
        "\tbefore or while processing the request."
    )
    return sa.exc.OperationalError("INSERT INTO steps (run_id) VALUES (%(run_id)s)", {}, orig)


def _pending_after_loss() -> Exception:
    import sqlalchemy as sa

    try:
        raise _lost()
    except sa.exc.OperationalError:
        try:
            raise sa.exc.PendingRollbackError("Can't reconnect until invalid transaction")
        except sa.exc.PendingRollbackError as exc:
            return exc


def _raw_psycopg() -> Exception:
    import psycopg

    return psycopg.OperationalError("server closed the connection unexpectedly\n\tThis probably")


@pytest.mark.parametrize("make", [_lost, _pending_after_loss, _raw_psycopg])
def test_a_lost_database_from_anywhere_is_one_line_and_exit_5(
    monkeypatch: pytest.MonkeyPatch, make
) -> None:
    def failing(_settings: object) -> dict[str, object]:
        raise make()

    monkeypatch.setattr(pipeline.run, "run_once", failing)
    result = invoke("run")
    assert result.exit_code == 5 == DatabaseUnreachable.exit_code
    assert result.stderr.startswith("riskwatch: error: cannot reach the database: ")
    assert "server closed the connection unexpectedly" in result.stderr
    assert result.stderr.count("\n") == 1 and "INSERT" not in result.stderr


def test_a_database_error_that_is_not_a_lost_connection_is_not_swallowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sqlalchemy as sa

    def failing(_settings: object) -> dict[str, object]:
        raise sa.exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))

    monkeypatch.setattr(pipeline.run, "run_once", failing)
    result = invoke("run")  # a bug of riskwatch's: a traceback, for its report
    assert result.exit_code == 1 and isinstance(result.exception, sa.exc.IntegrityError)


def test_a_predict_run_with_a_file_it_could_not_take_says_which_in_its_json(
    project: Path,
) -> None:
    """`riskwatch predict --json` exits 1 when a file could not be predicted, and its JSON
    names the file and why (the summary of the failed run), for a script to act on."""
    from pipeline.tools.sampledata import write_sample_data
    from tests.e2e import invoke as invoke_cli
    from tests.e2e import rows, run_json

    write_sample_data(project, batches=2, rows=300, test_rows=100)
    later = project / "sourcedata" / "clients_batch_02.csv"
    later.rename(project / "held.csv")
    run_json(project)
    (project / "held.csv").rename(later)
    assert invoke_cli(project, "ingest").returncode == 0
    url = f"sqlite:///{project / 'riskwatch.db'}"
    [held] = rows(url, "SELECT data_path FROM ingested_files WHERE name = 'clients_batch_02.csv'")
    (project / "ingesteddata" / held["data_path"]).write_bytes(b"not parquet")
    done = invoke_cli(project, "predict", "--json")
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 1
    [failed] = doc["summary"]["failed"]
    assert failed["name"] == "clients_batch_02.csv" and failed["reason"]
    assert doc["summary"]["status"] == "failed"
