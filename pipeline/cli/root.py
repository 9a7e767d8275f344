"""The `riskwatch` group, and what every sub-command shares: settings, output, errors, database.

Exit codes: 0 done (also "nothing new" and "another run holds the lock"), 1 failed, 2 a bad
setting or usage (also a missing inbox), 3 the database needs `riskwatch db upgrade` (or holds
another application's tables, or is a SQLite file that is not a database), 4 a model artifact
failed its checksum (also `status` finding it modified), 5 the database cannot be reached or
was lost mid-run. Each is the `exit_code` of the riskwatch error behind it
(pipeline/errors.py), mapped here in one place, where a database error from anywhere (SQLAlchemy's
or the driver's: a connection lost or never made, a SQLite file that is not a database) becomes
its riskwatch error too (`pipeline.storage.db.as_riskwatch_error`): one line, never a traceback.
The reason goes to stderr; `--json` output goes to stdout.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypeVar

import click

from pipeline.errors import InvalidArgument, RiskwatchError
from pipeline.infra import progress

if TYPE_CHECKING:  # the no-op tick imports the CLI: sqlalchemy only when a command needs it
    import sqlalchemy as sa

    from pipeline.settings import Settings

log = logging.getLogger("riskwatch")
T = TypeVar("T")


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Log to the sys.stderr of the moment, which click's test runner swaps per invocation."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        progress.interrupt()  # a log line never lands after a half-drawn progress line
        super().emit(record)


def _setup_logging(quiet: bool) -> None:
    if not log.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("riskwatch: %(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    progress.configure(enabled=not quiet)


class _OnceEach:
    """A command whose options that take one value may each be given once: `--source a --source
    b` is a usage error naming the option (click itself keeps the last value, silently), as a
    repeated query parameter is a 400 in the API (app.query_params). Flags, counted options and
    options that take many values (`multiple=True`) may repeat."""

    def make_parser(self, ctx: click.Context) -> Any:
        parser = super().make_parser(ctx)  # type: ignore[misc]
        parse = parser.parse_args

        def parse_once(args: list[str]) -> Any:
            opts, rest, order = parse(args)
            seen: set[str | None] = set()
            for param in order:
                if not _takes_one_value(param):
                    continue
                if param.name in seen:
                    names = " / ".join(param.opts)
                    raise click.UsageError(
                        f"option {names} was given more than once; give it once", ctx
                    )
                seen.add(param.name)
            return opts, rest, order

        parser.parse_args = parse_once
        return parser


def _takes_one_value(param: click.Parameter) -> bool:
    if not isinstance(param, click.Option):
        return False
    return not (param.is_flag or param.count or param.multiple)


class Command(_OnceEach, click.Command):
    """riskwatch's sub-commands (`_OnceEach`)."""


class Group(_OnceEach, click.Group):
    """riskwatch's command groups (`_OnceEach`); their sub-commands and sub-groups are too."""

    command_class = Command
    group_class = type  # a sub-group is a Group too


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    help="Settings file (default: $RISKWATCH_CONFIG, else ./riskwatch.toml).",
)
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.version_option(package_name="riskwatch")
@click.pass_context
def main(ctx: click.Context, config: str | None, quiet: bool) -> None:
    """riskwatch: keep a production model on tabular data honest, one cron tick at a time."""
    from pipeline.infra import memory

    memory.configure()
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    _setup_logging(quiet)


class _BadArgument(click.UsageError):
    """click's report of a bad argument (the usage line, then the reason) for InvalidArgument."""

    exit_code = InvalidArgument.exit_code


def fail(exc: RiskwatchError) -> NoReturn:
    """Report a riskwatch error as the CLI does: the reason on stderr, the class's exit code."""
    if isinstance(exc, InvalidArgument):  # shown as click shows its own bad arguments
        raise _BadArgument(str(exc)) from exc
    if exc.exit_code == 0:  # not a failure (another run holds the lock): say so, and leave
        click.echo(f"riskwatch: {exc}", err=True)
    else:
        click.echo(f"riskwatch: error: {exc}", err=True)
    sys.exit(exc.exit_code)


def engine_command(
    parent: click.Group, name: str, *, json: bool | str = False, **attrs: object
) -> Callable[[Callable[..., None]], click.Command]:
    """Register the function as `parent`'s sub-command `name`, called with the click context.

    `json` adds the `--json` flag (as `as_json`; a string is its help), after the command's own
    options; riskwatch's errors become a message on stderr and their exit code (`fail`).
    `attrs` go to click (e.g. `cls=click.Group` for a command with sub-commands).
    """

    def decorate(fn: Callable[..., None]) -> click.Command:
        @wraps(fn)
        def mapped(*args: object, **kwargs: object) -> None:
            try:
                return fn(*args, **kwargs)
            except RiskwatchError as exc:
                _json_failure(exc, exc, kwargs)
                fail(exc)
            except Exception as exc:
                mapped_error = _database_error(exc)
                if mapped_error is None:
                    raise
                _json_failure(mapped_error, exc, kwargs)
                fail(mapped_error)

        command = parent.command(name, **attrs)(click.pass_context(mapped))
        if json:
            help_text = json if isinstance(json, str) else None
            command.params.append(click.Option(["--json", "as_json"], is_flag=True, help=help_text))
        return command

    return decorate


EMITTED = "riskwatch.json_emitted"  # click context meta: the command printed its document


def _json_failure(error: RiskwatchError, raised: Exception, kwargs: Mapping[str, object]) -> None:
    """With `--json`, a failure is a JSON document on stdout too (the reason stays on stderr):
    ok false, the error and the exit code, and the run's summary when a run failed (a script
    reads the files a predict run could not take there)."""
    ctx = click.get_current_context(silent=True)
    if not kwargs.get("as_json") or isinstance(error, InvalidArgument):
        return
    if ctx is not None and ctx.meta.get(EMITTED):
        return
    doc: dict[str, object] = {
        "ok": error.exit_code == 0,
        "error": str(error),
        "exit_code": error.exit_code,
    }
    summary = getattr(raised, "run_summary", None)
    if summary is not None:
        doc["summary"] = summary
    click.echo(json.dumps(doc, indent=2, default=str))


def _database_error(exc: Exception) -> RiskwatchError | None:
    """The riskwatch error a database error means (a lost connection: DatabaseUnreachable), or
    None; sqlalchemy is not imported for it: without it loaded, no database error can occur."""
    if "sqlalchemy" not in sys.modules:
        return None
    from pipeline.storage.db import as_riskwatch_error

    return as_riskwatch_error(exc)


def settings_of(ctx: click.Context) -> Settings:
    """This invocation's settings: `--config`, else $RISKWATCH_CONFIG, else ./riskwatch.toml."""
    from pipeline.settings import load_settings

    return load_settings(ctx.find_root().obj.get("config"))


def emit(data: T, as_json: bool, human: Callable[[T], str]) -> None:
    """Print `data` as JSON (`--json`) or as the text `human` makes of it."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        ctx = click.get_current_context(silent=True)
        if ctx is not None:  # a failure after it (status: exit 4) prints no second document
            ctx.meta[EMITTED] = True
    else:
        click.echo(human(data))


@contextmanager
def database(settings: Settings, *, check: bool = True) -> Iterator[sa.Engine]:
    """The settings' database, its schema checked first unless `check` is False; disposed after."""
    from pipeline.storage import db

    with db.opened(settings.database_url, check=check) as engine:
        yield engine


def read(ctx: click.Context, fn: Callable[[sa.Connection, Settings], T]) -> T:
    """Call fn(connection, settings) on the checked database."""
    settings = settings_of(ctx)
    with database(settings) as engine, engine.connect() as conn:
        return fn(conn, settings)
