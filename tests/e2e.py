"""Helpers for tests that drive the `riskwatch` CLI: in this process, or in a real subprocess.

`invoke` runs the click group in-process (no interpreter start, no imports paid again) with
what the console script would get: the environment, RISKWATCH_CONFIG, DATABASE_URL and the
project as the working directory. `cli` runs the installed console script in a subprocess; keep
it where the process is the point: a SIGKILL, the lock between two processes, the exit status
of the real script, a fresh interpreter's imports.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path

import sqlalchemy as sa

RISKWATCH = str(Path(sys.executable).with_name("riskwatch"))
# Never inherited from the test process: each test says which database and failpoint it wants.
_NOT_INHERITED = ("DATABASE_URL", "RISKWATCH_FAILPOINT")


def cli_env(
    project: Path, database_url: str | None = None, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment a `riskwatch` command in `project` gets."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        # Nor any setting a developer's shell gives (RISKWATCH_<SECTION>__<KEY>).
        if k not in _NOT_INHERITED and not (k.startswith("RISKWATCH_") and "__" in k)
    }
    full_env["RISKWATCH_CONFIG"] = str(project / "riskwatch.toml")
    if database_url:
        full_env["DATABASE_URL"] = database_url
    full_env.update(env or {})
    return full_env


def cli(
    project: Path,
    *args: str,
    database_url: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    """Run the real `riskwatch` console script in a subprocess, in `project`."""
    return subprocess.run(
        [RISKWATCH, *args],
        cwd=project,
        env=cli_env(project, database_url, env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextlib.contextmanager
def isolated(cwd: Path, environ: Mapping[str, str]) -> Iterator[None]:
    """Run with exactly `environ` in `cwd`; put back the environment, cwd and logging after.

    The CLI sets the process up as a console script may: it adds a stderr handler to the
    `riskwatch` logger (bound to the stream of that invocation), and sets environment variables
    (the Arrow memory pool). Left behind, they would leak from one test into the next.
    """
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    loggers = [logging.getLogger(), logging.getLogger("riskwatch")]
    saved_logs = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        for lg, handlers, level, propagate in saved_logs:
            for handler in lg.handlers:
                if handler not in handlers:
                    handler.close()
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate


def invoke(
    project: Path,
    *args: str,
    database_url: str | None = None,
    env: dict[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `riskwatch ARGS` in this process, as `cli` runs it in a subprocess, same result shape
    (`input`: what the command reads on stdin).

    `environ`, when given, is the whole environment (as `subprocess.run(env=...)`), instead of
    this process's with `env` and the project's settings file. An exception that escapes the
    command would be a traceback and exit status 1 from the console script: here it is the
    same, the traceback on stderr.
    """
    from click.testing import CliRunner

    from pipeline.cli import main

    if environ is None:
        environ = cli_env(project, database_url, env)
    with isolated(project, environ):
        result = CliRunner().invoke(main, list(args), prog_name="riskwatch", input=input)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return subprocess.CompletedProcess(
        ["riskwatch", *args], result.exit_code, result.stdout, stderr
    )


def run_json(project: Path, database_url: str | None = None, **kw) -> dict:
    """One `riskwatch run --json` in this process; its summary."""
    proc = invoke(project, "run", "--json", database_url=database_url, **kw)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def drop(project: Path, source: Path, name: str | None = None) -> Path:
    """Put a file into the project's inbox, as a producer would (written, then renamed)."""
    target = project / "sourcedata" / (name or source.name)
    tmp = target.with_name(target.name + ".part")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    return target


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def count(url: str, table: str, where: str = "") -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT count(*) FROM {table} {where}")).scalar()
    finally:
        engine.dispose()


def rows(url: str, sql: str) -> list[dict]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()
