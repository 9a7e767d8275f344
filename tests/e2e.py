"""Helpers for tests that drive the real `riskwatch` CLI in a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

RISKWATCH = str(Path(sys.executable).with_name("riskwatch"))


def cli(
    project: Path,
    *args: str,
    database_url: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "RISKWATCH_FAILPOINT")
    }
    full_env["RISKWATCH_CONFIG"] = str(project / "riskwatch.toml")
    if database_url:
        full_env["DATABASE_URL"] = database_url
    full_env.update(env or {})
    return subprocess.run(
        [RISKWATCH, *args],
        cwd=project,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_json(project: Path, database_url: str | None = None, **kw) -> dict:
    proc = cli(project, "run", "--json", database_url=database_url, **kw)
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
