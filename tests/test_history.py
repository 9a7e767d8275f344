"""Duplicates across files (quality.duplicates = "history"): the hashes, the check, the index.

The hashes are pure and tested without files; the index is tested through `riskwatch ingest` on
SQLite and PostgreSQL, including a run killed between writing a file and recording it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from pipeline.ingest import contract as contracts
from pipeline.ingest.checks import check_frame
from pipeline.ingest.history import Seen, flag_repeats, hash_frame, new_entries
from pipeline.storage import db, row_index, tables
from tests.conftest import QUICK_SETTINGS
from tests.e2e import cli, count, invoke, rows

CONTRACT_TOML = """
[contract]
target = "exited"
id_columns = ["corporation"]
label_values = [0, 1]
unique_ids = true

[columns.corporation]
kind = "id"

[columns.employees]
kind = "numeric"
nullable = true

[columns.industry]
kind = "categorical"
nullable = true

[columns.exited]
kind = "label"
"""
CONTRACT = contracts.from_toml(CONTRACT_TOML)
HEADER = "corporation,employees,industry,exited\n"


def _frame(**columns: list) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base: dict[str, list] = {
        "corporation": [f"C{i}" for i in range(n)],
        "employees": [10.0] * n,
        "industry": ["retail"] * n,
        "exited": [0] * n,
    }
    base.update(columns)
    return pd.DataFrame(base)


# --- the hashes ------------------------------------------------------------------------------


def test_hashes_are_the_same_on_every_platform_and_version():
    """Literal hashes, computed once: a change of platform, pandas or numpy that moved them
    would make every index built before it silently useless."""
    frame = pd.DataFrame(
        {
            "corporation": ["C1", "Zürich AG"],
            "employees": [10.0, -0.0],
            "industry": ["retail", None],
            "exited": [0, 1],
        }
    )
    hashes = hash_frame(frame, CONTRACT)
    assert hashes.rows.tolist() == [-8004468027340564716, 3675174753171518621]
    assert hashes.ids.tolist() == [-6442639008381336376, 3606237844246095521]
    assert hashes.has_id.tolist() == [True, True]


def _row_hash(**values: object) -> int:
    return int(hash_frame(pd.DataFrame({k: [v] for k, v in values.items()}), CONTRACT).rows[0])


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"employees": float("nan")}, {"employees": None}),  # NaN and None: both missing
        ({"employees": -0.0}, {"employees": 0.0}),
        ({"employees": 1}, {"employees": 1.0}),
        ({"employees": "1"}, {"employees": 1}),  # a number read as text is the same number
        ({"industry": None}, {"industry": float("nan")}),
        ({"industry": None}, {"industry": pd.NA}),
        ({"corporation": 7}, {"corporation": "7"}),  # an id from JSON and from CSV
        ({"industry": "Zürich ✓ 日本"}, {"industry": "Zürich ✓ 日本"}),
        ({"industry": "x" * 100_000}, {"industry": "x" * 100_000}),
    ],
)
def test_equal_rows_hash_equal(a: dict, b: dict):
    base = {"corporation": "C1", "employees": 5.0, "industry": "retail", "exited": 0}
    assert _row_hash(**{**base, **a}) == _row_hash(**{**base, **b})


def test_a_column_the_file_lacks_is_missing_in_every_row():
    """So a nullable column added to the contract later leaves earlier rows' hashes alone."""
    assert _row_hash(corporation="C1", exited=0) == _row_hash(
        corporation="C1", exited=0, industry=None, employees=float("nan")
    )
    assert _row_hash(corporation="C1", exited=0) != _row_hash(corporation="C1", exited=1)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"employees": 0.0}, {"employees": None}),  # zero is not missing
        ({"industry": ""}, {"industry": None}),  # an empty text is not missing
        ({"industry": "nan"}, {"industry": None}),
        ({"industry": "None"}, {"industry": None}),
        ({"employees": 1.0}, {"employees": 1.0000000000000002}),
        ({"industry": "e\u0301"}, {"industry": "\u00e9"}),  # NFD and NFC: other bytes
        ({"industry": "x" * 99_999 + "a"}, {"industry": "x" * 99_999 + "b"}),
        ({"industry": "1"}, {"corporation": "1"}),  # the same value in another column
        ({"exited": 0}, {"exited": 1}),
    ],
)
def test_different_rows_hash_differently(a: dict, b: dict):
    base = {"corporation": "C1", "employees": 5.0, "industry": "retail", "exited": 0}
    assert _row_hash(**{**base, **a}) != _row_hash(**{**base, **b})


def test_swapped_values_of_two_columns_hash_differently():
    two = contracts.from_toml(
        '[contract]\ntarget = "y"\n[columns.a]\nkind = "categorical"\n'
        '[columns.b]\nkind = "categorical"\n[columns.y]\nkind = "label"\n'
    )
    frame = pd.DataFrame({"a": ["p", "q"], "b": ["q", "p"], "y": ["0", "0"]})
    h = hash_frame(frame, two).rows
    assert h[0] != h[1]


def test_a_million_random_rows_do_not_collide():
    rng = np.random.default_rng(0)
    n = 1_000_000
    frame = _frame(
        corporation=[f"C{i}" for i in range(n)], employees=rng.normal(size=n).round(3).tolist()
    )
    hashes = hash_frame(frame, CONTRACT)
    assert len(np.unique(hashes.rows)) == n
    assert len(np.unique(hashes.ids)) == n


# --- the check, pure -------------------------------------------------------------------------


def _seen(frame: pd.DataFrame, rows: list[int], ids: list[int]) -> Seen:
    """What an index holding rows `rows` and ids `ids` of `frame` (from file 7) would answer."""
    hashes = hash_frame(frame, CONTRACT)
    return Seen(
        {int(hashes.rows[i]): 7 for i in rows},
        {int(hashes.ids[i]): 7 for i in ids},
        {7: "batch_01.csv"},
    )


def test_a_row_of_an_earlier_file_is_a_duplicate_row_and_an_id_a_duplicate_id():
    frame = _frame(corporation=["C1", "C2", "C3", "C3"], employees=[1.0, 2.0, 3.0, 3.0])
    earlier = _frame(corporation=["C1", "C2"], employees=[1.0, 99.0])  # C2 had other values
    seen = _seen(earlier, rows=[0], ids=[0, 1])
    result = check_frame(frame, CONTRACT)
    assert result.errors_by_type == {"duplicate_row": 1}  # row 4 copies row 3, within the file
    flag_repeats(result, frame, CONTRACT, hash_frame(frame, CONTRACT), seen)
    assert result.errors_by_type == {"duplicate_row": 2, "duplicate_id": 1}
    assert result.bad.tolist() == [True, True, False, True]
    messages = {v.error_type + str(v.rows.tolist()): v.message for v in result.violations}
    assert "first ingested from 'batch_01.csv' (file 7)" in messages["duplicate_row[0]"]
    assert "already used by an earlier file, first in 'batch_01.csv'" in messages["duplicate_id[1]"]
    assert messages["duplicate_row[3]"] == "1 row(s): an exact copy of an earlier row"


def test_ids_repeat_freely_without_unique_ids():
    loose = contracts.from_toml(CONTRACT_TOML.replace("unique_ids = true", "unique_ids = false"))
    frame = _frame(corporation=["C1"], employees=[5.0])
    earlier = _frame(corporation=["C1"], employees=[1.0])
    result = check_frame(frame, loose)
    flag_repeats(result, frame, loose, hash_frame(frame, loose), _seen(earlier, [0], [0]))
    assert result.errors_by_type == {}


def test_new_entries_are_the_distinct_kept_hashes_the_index_lacks():
    hashes = np.array([5, 3, 5, 9, 1], dtype=np.int64)
    keep = np.array([True, True, True, True, False])
    assert new_entries(hashes, keep, {3: 1}).tolist() == [5, 9]


# --- the index, through the CLI, on SQLite and PostgreSQL -----------------------------------


def _project(project: Path, duplicates: str) -> None:
    (project / "riskwatch.toml").write_text(
        QUICK_SETTINGS + f'\n[quality]\nduplicates = "{duplicates}"\n'
    )
    (project / "contract.toml").write_text(CONTRACT_TOML)


def _drop(project: Path, name: str, lines: list[str]) -> None:
    (project / "sourcedata" / name).write_text(HEADER + "".join(line + "\n" for line in lines))


def _ingest(project: Path, url: str) -> dict:
    """`riskwatch ingest --json`: its summary, with its log under "log"."""
    proc = invoke(project, "ingest", "--json", database_url=url)
    assert proc.returncode == 0, proc.stderr
    return {**json.loads(proc.stdout), "log": proc.stderr}


def _errors(summary: dict, name: str) -> dict[str, int]:
    return next(f for f in summary["quality"]["files"] if f["name"] == name)["errors_by_type"]


def _issues(url: str, error_type: str) -> list[str]:
    sql = f"SELECT message FROM quality_issues WHERE error_type = '{error_type}' ORDER BY id"
    return [r["message"] for r in rows(url, sql)]


FIRST = ["C1,10,retail,0", "C2,20,finance,1", "C3,30,retail,0"]
SECOND = ["C1,10,retail,0", "C4,40,finance,1", "C2,25,retail,0", "C5,50,,1"]


@pytest.mark.parametrize("duplicates", ["file", "history"])
def test_a_row_and_an_id_of_an_earlier_file(project: Path, database_url: str, duplicates: str):
    _project(project, duplicates)
    _drop(project, "batch_01.csv", FIRST)
    assert _ingest(project, database_url)["rows_ingested"] == 3
    _drop(project, "batch_02.csv", SECOND)
    second = _ingest(project, database_url)
    if duplicates == "file":  # today's behaviour: only within the file
        assert second["rows_ingested"] == 4
        assert _errors(second, "batch_02.csv") == {}
        assert count(database_url, "history_rows") == 0
        return
    # C1's whole row repeats batch_01; C2 is another row with an id batch_01 used
    assert second["rows_ingested"] == 2
    assert second["rows_quarantined"] == 2
    errors = {"duplicate_row": 1, "duplicate_id": 1, "invalid_share": 1}  # 2 of 4 rows
    assert _errors(second, "batch_02.csv") == errors
    (row_message,) = _issues(database_url, "duplicate_row")
    assert "an exact copy of a row of an earlier file, first ingested from 'batch_01.csv'" in (
        row_message
    )
    (id_message,) = _issues(database_url, "duplicate_id")
    assert "id corporation already used by an earlier file, first in 'batch_01.csv'" in id_message
    quarantined = pd.read_parquet(next((project / "ingesteddata" / "quarantine").glob("*.parquet")))
    assert sorted(quarantined["_riskwatch_errors"]) == [
        "duplicate_id:corporation",
        "duplicate_row:None",
    ]
    assert count(database_url, "history_rows") == 5  # 3 + the 2 new good rows
    assert count(database_url, "history_ids") == 5
    assert count(database_url, "history_files") == 2
    # a third file repeating rows of both is quarantined whole: no row passed
    _drop(project, "batch_03.csv", ["C3,30,retail,0", "C4,40,finance,1"])
    third = _ingest(project, database_url)
    assert third["files_quarantined"] == 1
    assert "duplicate_row (2)" in third["files"][0]["reason"]


def test_switching_to_history_indexes_the_earlier_files_once(project: Path, database_url: str):
    _project(project, "file")
    _drop(project, "batch_01.csv", FIRST)
    _drop(project, "batch_02.csv", SECOND)  # repeats C1 and C2: kept, in file mode
    assert _ingest(project, database_url)["rows_ingested"] == 7
    assert count(database_url, "history_files") == 0
    _project(project, "history")
    _drop(project, "batch_03.csv", ["C4,40,finance,1", "C9,90,retail,0"])
    third = _ingest(project, database_url)
    assert 'quality.duplicates = "history": indexed 7 rows of earlier files (once)' in third["log"]
    assert _errors(third, "batch_03.csv") == {"duplicate_row": 1, "invalid_share": 1}
    assert "first ingested from 'batch_02.csv'" in _issues(database_url, "duplicate_row")[0]
    # the earlier files' repeats are indexed once, under the first file that held them
    assert count(database_url, "history_rows") == 7  # C1..C5, C2 again (25 employees), C9
    assert count(database_url, "history_ids") == 6  # C1..C5 and C9
    assert count(database_url, "history_files") == 3
    _drop(project, "batch_04.csv", ["C10,1,retail,0"])
    fourth = _ingest(project, database_url)
    assert fourth["rows_ingested"] == 1
    assert "indexed" not in fourth["log"]  # once: later files are indexed as they are recorded


def test_a_missing_ingested_file_is_a_clear_error(project: Path, database_url: str):
    _project(project, "file")
    _drop(project, "batch_01.csv", FIRST)
    _ingest(project, database_url)
    for path in (project / "ingesteddata" / "data").glob("*.parquet"):
        path.unlink()
    _project(project, "history")
    _drop(project, "batch_02.csv", SECOND)
    proc = invoke(project, "ingest", "--json", database_url=database_url)
    assert proc.returncode == 1
    assert "'batch_01.csv'" in proc.stderr and 'set quality.duplicates = "file"' in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("point", ["after_file_written", "after_file_recorded"])
def test_a_run_killed_around_the_record_keeps_file_and_index_together(
    project: Path, database_url: str, point: str
):
    _project(project, "history")
    _drop(project, "batch_01.csv", FIRST)
    _ingest(project, database_url)
    _drop(project, "batch_02.csv", SECOND)
    killed = cli(project, "ingest", database_url=database_url, env={"RISKWATCH_FAILPOINT": point})
    assert killed.returncode == -9
    recorded = count(database_url, "ingested_files")
    assert recorded == (2 if point == "after_file_recorded" else 1)
    # a file is recorded with its entries, or neither is there
    assert count(database_url, "history_files") == recorded
    assert count(database_url, "history_rows") == (5 if recorded == 2 else 3)
    again = _ingest(project, database_url)
    assert again["new_files"] == (0 if recorded == 2 else 1)
    # batch_02 is judged against batch_01 only, never against its own half-written self
    assert count(database_url, "history_rows") == 5
    assert count(database_url, "history_files") == 2
    assert len(_issues(database_url, "duplicate_row")) == 1


def test_lookups_and_inserts_in_batches(database_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(row_index, "SQLITE_BATCH", 7)
    monkeypatch.setattr(row_index, "POSTGRES_BATCH", 7)
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as conn:
            file_id = _a_file(conn)
            hashes = [-(2**63), -1, 0, 1, 2**63 - 1, *range(100, 150)]
            row_index.add(conn, file_id, row_index.Entries(hashes, hashes[:3], 55))
        with engine.connect() as conn:
            asked = sorted([*hashes[::2], 5, 6, 2**62])
            assert row_index.lookup(conn, "row", asked) == {h: file_id for h in hashes[::2]}
            assert row_index.lookup(conn, "id", asked) == {-(2**63): file_id, 0: file_id}
            assert row_index.size(conn) == {"row": len(hashes), "id": 3}
            assert row_index.unindexed(conn) == []
    finally:
        engine.dispose()


def _a_file(conn: sa.Connection) -> int:
    """Record a run and one ingested file; return the file's id."""
    run_id = "0" * 32
    now = tables.utcnow()
    conn.execute(
        tables.runs.insert().values(id=run_id, kind="ingest", started_at=now, status="running")
    )
    t = tables.ingested_files
    values = {"run_id": run_id, "sha256": "a" * 64, "name": "f.csv", "size_bytes": 1}
    values |= {"status": "ingested", "rows": 55, "data_path": "data/x.parquet", "ingested_at": now}
    return int(conn.execute(t.insert().returning(t.c.id).values(**values)).scalar_one())
