"""Diagnostics: summary statistics, missing values, and pip's cached answer, never waited for."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from pipeline.infra import files, outdated, versions
from pipeline.report import diagnostics
from pipeline.run import diagnose_only, diagnose_step
from pipeline.settings import load_settings
from pipeline.storage import db, tables
from tests.conftest import copy_project

REPO = Path(__file__).resolve().parent.parent


def test_summary_stats_skip_missing_and_match_pandas():
    frame = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0, np.inf], "b": [np.nan] * 5})
    a, b = diagnostics.summary_stats(frame, ["a", "b"], "new")
    finite = pd.Series([1.0, 2.0, 4.0])
    assert a == {
        "dataset": "new",
        "column_name": "a",
        "count": 3,
        "mean": pytest.approx(finite.mean()),
        "median": 2.0,
        "std": pytest.approx(finite.std()),
        "min": 1.0,
        "max": 4.0,
    }
    assert b["count"] == 0 and b["mean"] is None and b["std"] is None


def test_missing_values_count_and_share():
    frame = pd.DataFrame({"a": [1, None, 3, None], "b": ["x", "y", None, "z"]})
    rows = {r["column_name"]: r for r in diagnostics.missing_values(frame, ["a", "b"], "test")}
    assert (rows["a"]["missing"], rows["a"]["share"]) == (2, 0.5)
    assert (rows["b"]["missing"], rows["b"]["rows"], rows["b"]["share"]) == (1, 4, 0.25)
    assert diagnostics.missing_values(frame.iloc[:0], ["a"], "new")[0]["share"] == 0.0


# A fake pip: waits until its gate file exists (so a test decides when it answers), then
# prints pip's JSON. Never the network.
FAKE_PIP = """
import pathlib, sys, time
gate = pathlib.Path(sys.argv[1])
while not gate.exists():
    time.sleep(0.02)
print('[{"name": "numpy", "version": "1.0", "latest_version": "2.0"}]')
"""
ANSWER = [{"name": "numpy", "installed": "1.0", "latest": "2.0"}]


def fake_pip(tmp_path: Path) -> tuple[list[str], Path]:
    script = tmp_path / "fake_pip.py"
    script.write_text(FAKE_PIP)
    return [sys.executable, str(script), str(tmp_path / "gate")], tmp_path / "gate"


def write_cache(cache: Path, hours_old: float, packages: object = ANSWER) -> None:
    checked = datetime.now(UTC) - timedelta(hours=hours_old)
    doc = {"checked_at": checked.isoformat(), "packages": packages, "error": None}
    cache.write_text(json.dumps(doc))


def running(pid: int) -> bool:
    return os.waitpid(pid, os.WNOHANG) == (0, 0)


def check(cache: Path, command: list[str]) -> outdated.OutdatedPackages:
    return outdated.OutdatedPackages(cache, max_age_hours=24, timeout=30, command=command)


def test_a_fresh_cache_is_used_and_pip_is_not_asked(tmp_path: Path):
    command, _gate = fake_pip(tmp_path)  # never opened: a refresh would hang, not pass
    cache = tmp_path / "outdated.json"
    write_cache(cache, hours_old=23)
    result = check(cache, command)
    assert result.refresh_pid is None
    assert result.result() == ANSWER
    assert result.status()["reason"] == "cached"
    assert result.status()["checked_at"] == json.loads(cache.read_text())["checked_at"]
    assert not outdated._marker(cache).exists()  # no refresh was even tried


def test_a_stale_cache_starts_one_refresh_and_the_run_does_not_wait(tmp_path: Path):
    command, gate = fake_pip(tmp_path)
    cache = tmp_path / "outdated.json"
    write_cache(cache, hours_old=25)
    before = cache.read_bytes()
    first = check(cache, command)
    assert (first.result(), first.status()["reason"]) == ("unknown", "cache stale; refreshing")
    assert first.refresh_pid is not None
    assert running(first.refresh_pid)  # the answer is owed, and nobody waited for it
    second = check(cache, command)
    assert second.refresh_pid is None
    assert second.status()["reason"] == "cache stale; a refresh is already running"
    assert cache.read_bytes() == before  # untouched while pip is being asked
    gate.touch()
    os.waitpid(first.refresh_pid, 0)
    after = check(cache, command)
    assert (after.result(), after.status()["reason"], after.refresh_pid) == (ANSWER, "cached", None)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file


def test_a_killed_refresh_leaves_the_old_cache_and_frees_its_marker(tmp_path: Path):
    command, gate = fake_pip(tmp_path)
    cache = tmp_path / "outdated.json"
    write_cache(cache, hours_old=30)
    before = cache.read_bytes()
    first = check(cache, command)
    assert first.refresh_pid is not None
    os.kill(first.refresh_pid, signal.SIGKILL)
    os.waitpid(first.refresh_pid, 0)
    assert cache.read_bytes() == before
    again = check(cache, command)
    assert again.status()["reason"] == "cache stale; refreshing"  # the marker died with it
    assert again.refresh_pid is not None
    gate.touch()
    os.waitpid(again.refresh_pid, 0)


def test_the_refresh_replaces_the_cache_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cache = tmp_path / "outdated.json"
    write_cache(cache, hours_old=30)
    before = cache.read_bytes()
    answer = ["/bin/echo", '[{"name": "numpy", "version": "1.0", "latest_version": "2.0"}]']

    def no_rename(src: object, dst: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(files.os, "replace", no_rename)
    with pytest.raises(OSError, match="disk gone"):
        outdated.refresh(cache, answer, timeout=10)
    assert cache.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outdated.json"]
    monkeypatch.undo()
    outdated.refresh(cache, answer, timeout=10)
    doc = json.loads(cache.read_text())
    assert (doc["packages"], doc["error"]) == (ANSWER, None)


@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", '{"checked_at": "yesterday", "packages": []}', '{"packages": []}',
     '{"checked_at": "2026-01-01T00:00:00", "packages": []}',  # no time zone
     '{"checked_at": "2026-01-01T00:00:00+00:00", "packages": "many"}'],
)  # fmt: skip
def test_a_broken_cache_is_treated_as_missing(tmp_path: Path, content: str):
    command, gate = fake_pip(tmp_path)
    cache = tmp_path / "outdated.json"
    cache.write_text(content)
    result = check(cache, command)
    assert (result.result(), result.status()) == (
        "unknown",
        {"checked_at": None, "reason": "cache unreadable; refreshing"},
    )
    gate.touch()
    assert result.refresh_pid is not None
    os.waitpid(result.refresh_pid, 0)
    assert check(cache, command).result() == ANSWER


def test_no_cache_starts_a_refresh_and_a_failed_answer_is_cached(tmp_path: Path):
    cache = tmp_path / "reports" / "outdated.json"  # its folder does not exist yet either
    result = check(cache, ["/bin/false"])
    assert result.status() == {"checked_at": None, "reason": "no cache; refreshing"}
    assert result.refresh_pid is not None
    os.waitpid(result.refresh_pid, 0)
    later = check(cache, ["/bin/false"])
    assert later.refresh_pid is None  # offline: pip is asked again a day later, not every run
    assert later.result() == "unknown"
    assert later.status()["reason"] == "pip gave no answer: pip exited with status 1"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["/bin/false"], (None, "pip exited with status 1")),
        (["/bin/echo", "not json"], (None, "pip's answer is not the expected JSON")),
        (
            ["/bin/echo", '[{"name": "numpy", "version": "1.0", "latest_version": "2.0"}]'],
            (ANSWER, None),
        ),
        (["/nonexistent/pip"], (None, "[Errno 2] No such file or directory: '/nonexistent/pip'")),
        (["/bin/sleep", "30"], (None, "no answer within 0.5 s")),
    ],
)
def test_pips_answer_is_parsed_or_said_why_not(command: list[str], expected: tuple):
    assert outdated._ask(command, timeout=0.5) == expected


def test_the_diagnose_run_records_unknown_with_the_reason_then_the_cached_answer(
    tmp_path: Path, built_project: Path, monkeypatch: pytest.MonkeyPatch
):
    copy_project(built_project, tmp_path / "project")
    settings = load_settings(
        tmp_path / "project" / "riskwatch.toml",
        environ={},
        overrides={"diagnostics.outdated_packages": True},
    )
    command, gate = fake_pip(tmp_path)
    monkeypatch.setattr(outdated, "pip_command", lambda timeout: command)
    cache = settings.path("paths.reports") / diagnose_step.OUTDATED_CACHE
    cache.unlink(missing_ok=True)

    def recorded(run_id: str) -> dict[str, object]:
        with db.opened(settings.database_url) as engine, engine.connect() as conn:
            rows = conn.execute(
                sa.select(tables.diagnostics.c.name, tables.diagnostics.c.value).where(
                    tables.diagnostics.c.run_id == run_id
                )
            )
            return {r.name: r.value for r in rows}

    first = recorded(diagnose_only(settings)["run_id"])
    assert first["outdated_packages"] == "unknown"
    assert first["outdated_packages_checked"] == {
        "checked_at": None,
        "reason": "no cache; refreshing",
    }
    gate.touch()
    deadline = time.monotonic() + 60
    while not cache.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    second = recorded(diagnose_only(settings)["run_id"])
    assert second["outdated_packages"] == ANSWER
    assert second["outdated_packages_checked"]["reason"] == "cached"


def test_library_versions_name_the_stack():
    versions = diagnostics.library_versions()
    assert versions["python"].count(".") == 2
    assert versions["scikit-learn"] and versions["pandas"]
    assert not any(isinstance(v, float) and math.isnan(v) for v in versions.values())


def test_library_versions_live_in_infra_and_need_no_library():
    code = (
        "import sys\n"
        "from pipeline.infra.versions import LIBRARIES, library_versions\n"
        "versions = library_versions()\n"
        "assert list(versions) == ['python', *LIBRARIES], versions\n"
        "heavy = {'pandas', 'numpy', 'sklearn', 'flask'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    assert diagnostics.library_versions is versions.library_versions


def test_the_refresh_and_pip_run_at_the_lowest_cpu_priority(tmp_path: Path):
    script = tmp_path / "nice_pip.py"  # answers with its own niceness as a package's version
    script.write_text(
        "import json, os\n"
        'print(json.dumps([{"name": "nice", "version": str(os.nice(0)), "latest_version": "x"}]))\n'
    )
    cache = tmp_path / "outdated.json"
    first = check(cache, [sys.executable, str(script)])
    assert first.refresh_pid is not None
    os.waitpid(first.refresh_pid, 0)
    assert check(cache, []).result() == [{"name": "nice", "installed": "19", "latest": "x"}]
