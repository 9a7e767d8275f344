"""The wheel: it carries the code, the migrations, the templates and static files, nothing else,
and, installed into a fresh virtual environment outside the checkout, it migrates a database
and runs a tick on the sample data (what the Procfile's `release:` line and cron rely on).

The wheel is built once per session from a copy of the checkout: pip builds a local folder in
place, and an in-place build would leave `build/` in the working tree, whose stale files a
later build would ship. The new environment gets the wheel only (`--no-deps`); the dependencies
already installed for the tests are made visible through a `.pth` file instead of downloaded
again. The old environment's own `.pth` files (the editable install of this checkout) are not
processed through a path entry, so what the new environment imports is the wheel's code.
Like `make`, the build takes setuptools from the package index (pip's build isolation).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.errors import RiskwatchError
from pipeline.storage import db, tables
from tests.conftest import REPO

PACKAGES = ("pipeline", "app", "sql")
# Folders of the checkout that a build never reads: caches, environments, what runs produce.
_NOT_COPIED = {"__pycache__", "build", "dist", "ingesteddata", "models", "reports", "logs"}
# What npm installs for `make static` (git ignores it too): the wheel carries the vendored copies.
_NOT_COPIED |= {"node_modules"}
CONFIG = "[diagnostics]\noutdated_packages = false\n\n[policy]\nbootstrap_samples = 200\n"


def _not_copied(folder: str, names: list[str]) -> set[str]:
    return {
        n
        for n in names
        if n.startswith(".")
        or n in _NOT_COPIED
        or n.endswith(".egg-info")
        or (Path(folder) == REPO and n.startswith("riskwatch.db"))
    }


def _run(*args: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a command outside the checkout, with no PYTHONPATH and no riskwatch settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "DATABASE_URL", "RISKWATCH_CONFIG", "RISKWATCH_FAILPOINT")
    }
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@dataclass(frozen=True)
class Build:
    source: Path  # the copy of the checkout the wheel was built from
    wheel: Path
    stderr: str


@dataclass(frozen=True)
class Install:
    venv: Path
    python: Path
    site_packages: Path
    project: Path  # a folder outside the checkout with the sample data and riskwatch.toml


@pytest.fixture(scope="session")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO, source, ignore=_not_copied)
    # Absolute paths only: pip takes a bare name for a requirement on the package index.
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check"]
    result = _run(*pip_wheel, "-w", root / "dist", source, cwd=root)
    _ok(result)
    (wheel,) = (root / "dist").glob("riskwatch-*.whl")
    return Build(source, wheel, result.stderr)


@pytest.fixture(scope="session")
def installed(build: Build, tmp_path_factory: pytest.TempPathFactory) -> Install:
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    _ok(_run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root))
    python = venv / "bin" / "python"
    # pip of this environment installs into the new one (`--python`): no pip needed there.
    pip_install = [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps"]
    _ok(_run(*pip_install, "--no-index", "--disable-pip-version-check", build.wheel, cwd=root))
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site_packages = Path(_ok(_run(python, "-c", purelib, cwd=root)).strip())
    ours = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site_packages / "riskwatch-test-dependencies.pth").write_text("\n".join(ours) + "\n")
    project = root / "project"
    project.mkdir()
    return Install(venv, python, site_packages, project)


@pytest.fixture(scope="session")
def tick(installed: Install) -> dict[str, object]:
    """`riskwatch sample-data`, `db upgrade` and `run --json`, by the installed console script."""
    riskwatch = installed.venv / "bin" / "riskwatch"
    project = installed.project
    sample = ["sample-data", ".", "--batches", "1", "--rows", "300", "--test-rows", "200"]
    _ok(_run(riskwatch, *sample, cwd=project))
    (project / "riskwatch.toml").write_text(CONFIG)
    upgraded = _ok(_run(riskwatch, "db", "upgrade", cwd=project))
    assert f"database at schema revision {tables.SCHEMA_REVISION}" in upgraded
    return json.loads(_ok(_run(riskwatch, "run", "--json", cwd=project)))


def _files_under(source: Path, package: str) -> set[str]:
    return {
        p.relative_to(source).as_posix()
        for p in (source / package).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.mark.slow
@pytest.mark.xdist_group("wheel")
def test_the_wheel_carries_every_file_of_the_packages_and_nothing_else(build: Build) -> None:
    names = set(zipfile.ZipFile(build.wheel).namelist())
    expected = set().union(*(_files_under(build.source, p) for p in PACKAGES))
    assert {"sql/env.py", "sql/script.py.mako", "app/templates/base.html"} <= expected
    assert any(n.startswith("sql/versions/0001_") for n in expected)
    assert any(n.startswith("app/static/") for n in expected)
    code = {n for n in names if not n.startswith("riskwatch-")}
    assert sorted(expected - code) == [], "left out of the wheel"
    assert sorted(code - expected) == [], "in the wheel but not in the checkout's packages"
    assert {n.split("/")[0] for n in code} == set(PACKAGES)  # no tests/, bench/, screenshots/


@pytest.mark.slow
@pytest.mark.xdist_group("wheel")
def test_the_build_prints_no_warnings(build: Build) -> None:
    # Python warnings from the build backend (setuptools) reach pip's stderr as
    # "file:line: SomeWarning: message"; pip's own notes about the index are not ours.
    warnings = [line for line in build.stderr.splitlines() if "Warning:" in line]
    assert warnings == []


@pytest.mark.slow
@pytest.mark.xdist_group("wheel")
def test_the_new_environment_imports_the_wheel_not_the_checkout(installed: Install) -> None:
    code = (
        "import app, pipeline, sql; from pipeline.storage import db; "
        "print(app.__file__, pipeline.__file__, sql.__file__, db.migrations_dir())"
    )
    paths = _ok(_run(installed.python, "-c", code, cwd=installed.project)).split()
    assert len(paths) == 4
    for path in paths:
        assert Path(path).is_relative_to(installed.site_packages), path
    assert (Path(paths[3]) / "env.py").is_file()


@pytest.mark.slow
@pytest.mark.xdist_group("wheel")
def test_the_installed_wheel_migrates_and_runs_one_tick(
    installed: Install, tick: dict[str, object]
) -> None:
    assert tick["status"] == "succeeded"
    assert tick["new_files"] == 1 and tick["rows_ingested"] == 300
    assert tick["production_version"] == 1
    report = Path(str(tick["report"]))
    assert report.is_relative_to(installed.project)
    assert report.read_bytes().startswith(b"%PDF")


@pytest.mark.slow
@pytest.mark.xdist_group("wheel")
def test_the_installed_app_serves_its_templates_and_static_files(
    installed: Install, tick: dict[str, object]
) -> None:
    code = (
        "from app import create_app; client = create_app().test_client(); "
        "page = client.get('/'); css = client.get('/static/style.css'); "
        "print(page.status_code, css.status_code, page.get_data(as_text=True))"
    )
    out = _ok(_run(installed.python, "-c", code, cwd=installed.project))
    page_status, css_status, page = out.split(" ", 2)
    assert (page_status, css_status) == ("200", "200")
    assert str(tick["run_id"]) in page


def test_the_migrations_are_found_in_the_checkout() -> None:
    assert db.migrations_dir() == REPO / "sql"
    assert (db.migrations_dir() / "env.py").is_file()


def test_missing_migrations_are_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "MIGRATIONS_FOLDER", "riskwatch_no_such_migrations")
    with pytest.raises(RiskwatchError, match="installed without its migrations"):
        db.migrations_dir()


def test_another_sql_package_on_the_path_does_not_shadow_the_migrations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "sql", raising=False)
    assert db.migrations_dir() == REPO / "sql"
