"""What Heroku's Python buildpack reads: requirements.txt and .python-version (issue 11).

The buildpack runs `pip install -r requirements.txt` with the Python that .python-version
names. The file installs riskwatch itself with every package constrained to requirements.lock,
so a dyno gets the set the tests ran with; pip's own resolution of it is checked here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pins


def test_requirements_txt_installs_riskwatch_under_the_lock() -> None:
    lines = [
        line
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ["-c requirements.lock", "."]


def test_python_version_is_the_one_tested_and_allowed() -> None:
    version = (REPO / ".python-version").read_text().strip()
    assert version == f"{sys.version_info.major}.{sys.version_info.minor}"
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=" + version


def test_pip_resolves_requirements_txt_to_the_pinned_versions(tmp_path: Path) -> None:
    """What the buildpack's `pip install -r requirements.txt` would install, without installing
    it: every package at its pin, and only the web's and the cron job's (no dev extra)."""
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--disable-pip-version-check",
            "--report",
            str(report),
            "-r",
            "requirements.txt",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    pins = _pins()
    chosen = {
        re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower(): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    assert chosen.pop("riskwatch") == "0.1.0"
    unpinned = {name: v for name, v in chosen.items() if pins.get(name) != v}
    assert not unpinned, f"resolved away from requirements.lock: {unpinned}"
    assert {"flask", "gunicorn", "scikit-learn", "psycopg"} <= chosen.keys()
    assert not {"pytest", "mypy", "dvc"} & chosen.keys()
