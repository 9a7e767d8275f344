"""A gate that never loses rows on a guess (issue 9, point 1), through the CLI in this process:
a first tick of 1,000 two-row files infers its contract from all of them and ingests every row;
a later batch from the same distribution, beyond the first batch's range, is kept and reported;
`riskwatch contract enforce` then quarantines such rows, as a new contract version.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.tools.sampledata import generate_batch, generate_test
from tests.conftest import reset_pg
from tests.e2e import count, invoke, rows, run_json, sha

pytestmark = pytest.mark.slow


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def _testdata(project: Path) -> None:
    (project / "testdata").mkdir(exist_ok=True)
    _write(generate_test(200), project / "testdata" / "testdata.csv")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, project: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{project / 'riskwatch.db'}"
    database: str = request.getfixturevalue("pg_database")
    reset_pg(database)  # the worker's database: another test's files must not be in it
    return database


def test_a_thousand_two_row_files_are_all_ingested_and_trained_on(project: Path):
    # SQLite only: the storage is the tail test's (both backends); this one is about inference.
    url = f"sqlite:///{project / 'riskwatch.db'}"
    _testdata(project)
    batch = generate_batch(1, 2000)
    for i in range(1000):
        _write(batch.iloc[2 * i : 2 * i + 2], project / "sourcedata" / f"part_{i:04d}.csv")
    first = run_json(project, url)
    assert first["status"] == "succeeded", first
    assert first["production_version"] == 1
    quality = first["quality"]
    assert (quality["rows_read"], quality["rows_valid"]) == (2000, 2000)
    assert quality["rows_quarantined"] == 0
    assert count(url, "quality_files", "WHERE rejected") == 0
    contract = (project / "contract.toml").read_text()
    assert "label_values = [0, 1]" in contract
    assert "enforce = false" in contract
    # the contract saw every file: its range covers the whole batch, not two rows of it
    top = float(batch["number_of_employees"].max())
    line = contract.split("[columns.number_of_employees]")[1].split("[columns.")[0]
    assert float(line.split("\nmax = ")[1].split("\n")[0]) >= top
    # `contract infer` over the ingested data (1,000 Parquet files, one at a time) agrees
    again = invoke(project, "contract", "infer", "--force", database_url=url)
    assert again.returncode == 0, again.stderr
    assert (project / "contract.toml").read_text() == contract


def _beyond(frame: pd.DataFrame, column: str, n: int) -> pd.DataFrame:
    """`frame` with n rows pushed beyond its column's range, as the tail of a bigger sample."""
    out = frame.copy()
    top = out[column].max()
    out.loc[out.index[:n], column] = top * 3 + np.arange(n)
    return out


def test_a_tail_beyond_the_first_batch_is_kept_and_reported_until_enforced(project: Path, url: str):
    _testdata(project)
    first_batch = generate_batch(1, 400)
    _write(first_batch, project / "sourcedata" / "batch_01.csv")
    assert run_json(project, url)["production_version"] == 1
    contract = json.loads(
        invoke(
            project, "contract", "check", "--json", str(project / "sourcedata" / "batch_01.csv")
        ).stdout
    )
    assert contract["rows_quarantined"] == 0

    second = generate_batch(2, 400)
    second["corporation"] = second["corporation"].str.replace("C02", "C12")
    tail = _beyond(second, "lastyear_activity", 3)
    _write(tail, project / "sourcedata" / "batch_02.csv")
    tick = run_json(project, url)
    assert tick["quality"]["rows_quarantined"] == 0
    assert tick["quality"]["rows_valid"] == 400
    assert tick["quality"]["errors_by_type"].get("out_of_range") == 3
    [issue] = rows(
        url,
        "SELECT message, count FROM quality_issues WHERE error_type = 'out_of_range'",
    )
    assert issue["count"] == 3 and "rows kept" in issue["message"]
    [page] = [p for p in (project / "reports").rglob("*.html") if "rows kept" in p.read_text()]
    assert "3 finding(s) of learned rules" in page.read_text()
    assert "their rows are kept" in page.read_text()

    # `contract check` says the same rows are kept
    spare = project / "spare.csv"
    _write(_beyond(generate_batch(2, 50), "lastyear_activity", 2), spare)
    check = invoke(project, "contract", "check", str(spare))
    assert check.returncode == 1  # a finding: exit 1, as any issue
    assert "2 row(s) kept with learned-rule findings" in check.stdout
    assert "50/50 rows valid" in check.stdout

    # A person enforces the learned range: a new contract version, rows now quarantined.
    before = (project / "contract.toml").read_text()
    enforce = invoke(project, "contract", "enforce", "lastyear_activity", "--json")
    assert enforce.returncode == 0, enforce.stderr
    doc = json.loads(enforce.stdout)
    assert doc["changed"] and doc["enforced"] == ["lastyear_activity"]
    assert "number_of_employees" in doc["not_enforced"]
    after = (project / "contract.toml").read_text()
    assert after != before and after.count("\nenforce = true\n") == 1
    again = invoke(project, "contract", "enforce", "lastyear_activity")
    assert again.returncode == 0 and "already enforced" in again.stdout

    third = _beyond(generate_batch(2, 400, seed=11), "lastyear_activity", 4)
    third["corporation"] = third["corporation"].str.replace("C02", "C22")
    _write(third, project / "sourcedata" / "batch_03.csv")
    tick = run_json(project, url)
    assert tick["quality"]["rows_quarantined"] == 4
    versions = rows(url, "SELECT DISTINCT contract_version FROM quality_files")
    assert len(versions) == 2


def test_contract_enforce_refuses_what_it_cannot_do(project: Path):
    shutil.copy(Path(__file__).parents[1] / "contract.toml", project / "contract.toml")
    both = invoke(project, "contract", "enforce", "region", "--all")
    assert both.returncode != 0 and "not both" in both.stderr
    unknown = invoke(project, "contract", "enforce", "nope")
    assert unknown.returncode == 2 and "no column 'nope'" in unknown.stderr
    every = invoke(project, "contract", "enforce", "--all", "--json")
    assert every.returncode == 0, every.stderr
    assert json.loads(every.stdout)["not_enforced"] == []


def test_the_first_tick_reads_each_file_once(project: Path, monkeypatch: pytest.MonkeyPatch):
    from pipeline.ingest import ingestion, readers

    _testdata(project)
    batch = generate_batch(1, 600)
    for i in range(3):
        _write(batch.iloc[200 * i : 200 * i + 200], project / "sourcedata" / f"part_{i}.csv")
    reads: list[str] = []
    real = readers.read_table

    def counted(path: Path, *args, **kw):
        reads.append(path.name)
        return real(path, *args, **kw)

    monkeypatch.setattr(readers, "read_table", counted)
    monkeypatch.setattr(ingestion, "read_table", counted)
    tick = run_json(project, f"sqlite:///{project / 'riskwatch.db'}")
    assert tick["quality"]["rows_valid"] == 600
    # Each file is read from its private copy, `.source-<hash>-*.tmp` (pipeline.ingest.intake).
    inbox = [r.split("-")[1] for r in reads if r.startswith(".source-")]
    parts = [project / "sourcedata" / f"part_{i}.csv" for i in range(3)]
    assert sorted(inbox) == sorted(sha(p)[:16] for p in parts)
