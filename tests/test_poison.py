"""No poison file (issue 11): whatever lands in the inbox, the tick goes on with the other files.

Each odd file goes through the real CLI (`riskwatch ingest`, in this process), as real files on
disk: the tick succeeds, the good file beside it is ingested, the odd one is quarantined or
skipped with its reason, and a second tick neither fails nor reports it again. The text a file
brings that a database cannot store as it is (bytes that are not UTF-8 in a name, NUL in a
column name or value) is checked on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.infra.failpoints import ENV as FAILPOINT
from pipeline.ingest import intake
from pipeline.ingest.ingestion import QUARANTINE_NAME_BYTES
from pipeline.storage import db
from tests.conftest import QUICK_SETTINGS
from tests.e2e import RISKWATCH, cli, cli_env, count, invoke, rows
from tests.test_history import CONTRACT_TOML

HEADER = "corporation,employees,industry,exited\n"
GOOD = HEADER + "C1,10,retail,0\nC2,20,retail,1\nC3,30,energy,0\n"


def _setup(project: Path, extra: str = "") -> None:
    (project / "riskwatch.toml").write_text(QUICK_SETTINGS + extra)
    (project / "contract.toml").write_text(CONTRACT_TOML)
    (project / "sourcedata" / "good.csv").write_text(GOOD)


@pytest.fixture
def sqlite_url(project: Path) -> str:
    url = f"sqlite:///{project / 'riskwatch.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    return url


def _ingest(project: Path, url: str) -> tuple[dict, str]:
    """`riskwatch ingest --json`, which must succeed: its summary and its stderr."""
    proc = invoke(project, "ingest", "--json", database_url=url)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout), proc.stderr


def _files(summary: dict) -> dict[str, dict]:
    return {f["name"]: f for f in summary["files"]}


def _two_ticks(project: Path, url: str, poison: str) -> dict:
    """Two ticks: the first takes good.csv and the poison file (the poison's record returned),
    the second has nothing new and says nothing of it."""
    first, _ = _ingest(project, url)
    files = _files(first)
    assert files["good.csv"]["status"] == "ingested" and files["good.csv"]["rows"] == 3
    second, log = _ingest(project, url)
    assert second["status"] == "noop" and second["files"] == []
    assert poison not in log
    return files[poison]


def _write(project: Path, name: str, content: bytes | str) -> Path:
    path = project / "sourcedata" / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


LATIN1 = (HEADER + "".join(f"C{i},{i},retail,0\n" for i in range(400))).encode()
LATIN1_AT = len(LATIN1) + len(b"C400,1,")  # beyond the first 4 KiB that are checked first
E_ACUTE = "C400,1,é,0\n".encode("latin-1")
POISON = [
    ("reserved-errors", "a.csv", "corporation,_riskwatch_errors,exited\nC9,x,0\n", "reserves"),
    ("reserved-row", "b.csv", "corporation,_riskwatch_row,exited\nC9,1,0\nC8,2,1\n", "reserves"),
    ("utf-16", "c.csv", GOOD.encode("utf-16"), "UTF-16 text"),
    ("utf-16-no-bom", "d.csv", GOOD.encode("utf-16-le"), "UTF-16 text without a byte-order"),
    ("json-not-objects", "e.jsonl", '{"corporation": "C9"}\n[1, 2]\n', "line 2 is an array"),
    ("json-scalars", "f.jsonl", "5\n6\n", "line 1 is a number, not a JSON object"),
    ("latin-1", "g.csv", LATIN1 + E_ACUTE, f"byte {LATIN1_AT:,} (line 402"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "reason"), [p[1:] for p in POISON], ids=[p[0] for p in POISON]
)
def test_a_poison_file_is_quarantined_and_the_next_tick_does_not_trip_on_it(
    project: Path, sqlite_url: str, name: str, content: str | bytes, reason: str
):
    _setup(project)
    _write(project, name, content)
    poison = _two_ticks(project, sqlite_url, name)
    assert poison["status"] == "quarantined"
    assert reason in poison["reason"], poison["reason"]
    assert "TypeError" not in poison["reason"] and "binary" not in poison["reason"]


def test_a_file_rejected_whole_records_the_rows_it_has(project: Path, sqlite_url: str):
    _setup(project)
    _write(project, "twice.csv", "corporation,exited,exited\nC7,0,1\nC8,1,0\n")
    _write(project, "reserved.csv", "corporation,_riskwatch_row,exited\nC7,1,0\nC8,2,1\nC9,3,0\n")
    _two_ticks(project, sqlite_url, "twice.csv")
    found = rows(sqlite_url, "SELECT file_name, rows_read, rejected FROM quality_files")
    read = {r["file_name"]: (r["rows_read"], bool(r["rejected"])) for r in found}
    assert read == {"good.csv": (3, False), "twice.csv": (2, True), "reserved.csv": (3, True)}


@pytest.mark.parametrize("name", ["x" * 230 + ".csv", "é" * 120 + ".csv", "a\\b" + "é" * 125])
def test_a_very_long_name_on_a_file_rejected_whole_gets_a_bounded_quarantine_name(
    project: Path, sqlite_url: str, name: str
):
    _setup(project)
    _write(project, name, "corporation,exited\n")  # a header and no rows: rejected whole
    poison = _two_ticks(project, sqlite_url, name)
    assert poison["status"] == "quarantined"
    [kept] = rows(sqlite_url, "SELECT name, quarantine_path FROM ingested_files WHERE rows = 0")
    assert kept["name"] == name  # the full name, in the database
    copy = project / "ingesteddata" / kept["quarantine_path"]
    assert copy.read_bytes() == b"corporation,exited\n"
    assert len(copy.name.encode()) <= 16 + 1 + QUARANTINE_NAME_BYTES + len(".csv")
    assert f"source file: {name}" in Path(f"{copy}.reason.txt").read_text()


def test_text_no_database_can_store_as_it_is_is_stored_escaped(project: Path, database_url: str):
    """A name that is not UTF-8, NUL in a column name and in a value: on both databases."""
    url = database_url
    _setup(project)
    raw = os.fsdecode(b"caf\xe9-latin1-name.csv")  # the name os.listdir gives: a surrogate
    _write(project, raw, GOOD.replace("C1", "D1").replace("C2", "D2").replace("C3", "D3"))
    columns = {"corporation": ["N1", "N2"], "employees": [1.0, 2.0], "industry": ["a", "b"]}
    table = pa.table({**columns, "exit\x00ed": [0, 1], "exited": [0, 1]})
    pq.write_table(table, project / "sourcedata" / "nul-column.parquet")
    _write(
        project,
        "nul-value.jsonl",
        '{"corporation": "J1", "employees": 1, "industry": "re\\u0000tail", "exited": 0}\n'
        '{"corporation": "J2", "employees": 2, "industry": "energy", "exited": 3}\n',
    )
    os.mkfifo(project / "sourcedata" / os.fsdecode(b"pipe\xff\n.csv"))  # skipped, stored
    first, log = _ingest(project, url)
    files = _files(first)
    assert files["caf\\xe9-latin1-name.csv"]["status"] == "ingested"
    skipped = rows(url, "SELECT name FROM skipped_sources")
    assert [r["name"] for r in skipped] == ["pipe\\xff\\n.csv"]
    assert files["nul-column.parquet"]["status"] == "ingested"  # an extra column, ignored
    assert files["nul-value.jsonl"]["status"] == "ingested"
    assert "caf\\xe9-latin1-name.csv" in log
    names = {r["name"] for r in rows(url, "SELECT name FROM ingested_files")}
    assert "caf\\xe9-latin1-name.csv" in names
    issues = rows(url, "SELECT column_name, message FROM quality_issues")
    assert any(r["column_name"] == "exit\\x00ed" for r in issues)
    status = invoke(project, "status", database_url=url)
    assert status.returncode == 0, status.stderr
    assert "caf\\xe9-latin1-name.csv" in status.stdout
    assert "pipe\\xff\\n.csv: a FIFO" in status.stdout
    second, log = _ingest(project, url)
    assert second["status"] == "noop" and "latin1" not in log
    assert json.loads(invoke(project, "status", "--json", database_url=url).stdout)


def test_a_newline_in_a_name_never_makes_a_line_of_its_own(project: Path, sqlite_url: str):
    _setup(project)
    name = "evil\nERROR forged line.csv"
    _write(project, name, "corporation,exited\n")
    proc = invoke(project, "ingest", database_url=sqlite_url)
    assert proc.returncode == 0, proc.stderr
    for text in (proc.stderr, proc.stdout):
        assert "evil\\nERROR forged line.csv" in text
        assert not any(line.startswith("ERROR forged") for line in text.splitlines())
    [log] = rows(sqlite_url, "SELECT log FROM runs")
    assert "evil\\nERROR forged" in log["log"] and "\nERROR forged" not in log["log"]
    status = invoke(project, "status", database_url=sqlite_url).stdout
    assert "evil\\nERROR forged line.csv" in status
    assert not any(line.startswith("ERROR forged") for line in status.splitlines())


def test_any_exception_on_one_file_quarantines_that_file_with_its_type(
    project: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
):
    """An exception riskwatch does not expect, from one file's content, ends at that file."""
    from pipeline.ingest import checks

    real = checks.check_frame

    def breaks_on_one_file(frame, *args, **kwargs):
        if "B1" in set(frame["corporation"]):
            raise RuntimeError("an unforeseen\nfailure")
        return real(frame, *args, **kwargs)

    monkeypatch.setattr(checks, "check_frame", breaks_on_one_file)
    _setup(project)
    _write(project, "breaks.csv", HEADER + "B1,1,retail,0\n")
    poison = _two_ticks(project, sqlite_url, "breaks.csv")
    assert poison["status"] == "quarantined"
    assert poison["reason"] == (
        "riskwatch could not process the file (RuntimeError: an unforeseen failure)"
    )
    assert len(list((project / "ingesteddata" / "data").glob("*.parquet"))) == 1  # good.csv's


def test_a_file_without_read_permission_is_skipped_reported_once_and_taken_when_readable(
    project: Path, sqlite_url: str
):
    _setup(project)
    locked = _write(project, "locked.csv", HEADER + "L1,1,retail,0\n")
    locked.chmod(0)

    def ingest() -> subprocess.CompletedProcess[str]:
        # root reads any file: the real console script runs without the capabilities that
        # let it (as any other user would).
        drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
        return subprocess.run(
            [*(drop if os.geteuid() == 0 else []), RISKWATCH, "ingest", "--json"],
            cwd=project,
            env=cli_env(project, sqlite_url),
            capture_output=True,
            text=True,
            timeout=180,
        )

    first = ingest()
    assert first.returncode == 0, first.stderr
    assert "skipped locked.csv: cannot be read (permission denied)" in first.stderr
    assert [f["name"] for f in json.loads(first.stdout)["files"]] == ["good.csv"]
    [skip] = json.loads(first.stdout)["skipped"]
    assert skip["kind"] == "unreadable"
    second = ingest()
    assert second.returncode == 0, second.stderr
    assert "locked.csv" not in second.stderr  # said once
    assert json.loads(second.stdout)["skipped"][0]["name"] == "locked.csv"
    locked.chmod(0o644)
    third = ingest()
    assert third.returncode == 0, third.stderr
    assert [f["name"] for f in json.loads(third.stdout)["files"]] == ["locked.csv"]
    assert count(sqlite_url, "skipped_sources") == 0


def test_links_fifos_folders_and_devices_are_skipped_never_opened(project: Path, sqlite_url: str):
    _setup(project)
    inbox = project / "sourcedata"
    (inbox / "passwd.csv").symlink_to("/etc/passwd")
    (inbox / "inside.csv").symlink_to(inbox / "good.csv")
    (inbox / "dangling.csv").symlink_to(inbox / "nothing.csv")
    os.mkfifo(inbox / "pipe.csv")  # opening it for reading would block the tick
    (inbox / "folder.csv").mkdir()
    (inbox / "folder.csv" / "hidden.csv").write_text(GOOD.replace("C", "H"))
    kinds = {"passwd.csv", "inside.csv", "dangling.csv", "pipe.csv", "folder.csv"}
    if os.geteuid() == 0:
        os.mknod(inbox / "null.csv", 0o600 | 0o020000, os.makedev(1, 3))  # /dev/null's
        kinds.add("null.csv")
    first, log = _ingest(project, sqlite_url)
    assert [f["name"] for f in first["files"]] == ["good.csv"]
    skipped = {s["name"]: s for s in first["skipped"]}
    assert set(skipped) == kinds
    assert "not followed (ingest.follow_symlinks is off)" in skipped["passwd.csv"]["reason"]
    assert skipped["pipe.csv"]["kind"] == "fifo" and skipped["folder.csv"]["kind"] == "folder"
    for name in kinds:
        assert f"skipped {name}: " in log
    stored = {r["name"]: r["kind"] for r in rows(sqlite_url, "SELECT * FROM skipped_sources")}
    assert set(stored) == kinds
    assert not list((project / "ingesteddata").rglob("*passwd*"))
    quarantine = project / "ingesteddata" / "quarantine"
    assert not quarantine.exists() or not any(
        b"root:" in p.read_bytes() for p in quarantine.iterdir() if p.is_file()
    )
    status = invoke(project, "status", database_url=sqlite_url).stdout
    assert f"skipped in the inbox: {len(kinds)}" in status and "pipe.csv: a FIFO" in status
    second, log = _ingest(project, sqlite_url)
    assert second["status"] == "noop"
    assert not [name for name in kinds if f"skipped {name}" in log]  # said once
    assert {s["name"] for s in second["skipped"]} == kinds
    (inbox / "pipe.csv").unlink()
    _ingest(project, sqlite_url)
    assert "pipe.csv" not in {r["name"] for r in rows(sqlite_url, "SELECT * FROM skipped_sources")}


def test_with_follow_symlinks_a_link_inside_the_inbox_is_taken_one_outside_is_not(
    project: Path, sqlite_url: str, tmp_path_factory: pytest.TempPathFactory
):
    _setup(project, "\n[ingest]\nfollow_symlinks = true\n")
    inbox = project / "sourcedata"
    (inbox / "sub").mkdir()
    (inbox / "sub" / "real.csv").write_text(HEADER + "S1,1,retail,0\n")
    (inbox / "link.csv").symlink_to(inbox / "sub" / "real.csv")
    outside = tmp_path_factory.mktemp("outside") / "other.csv"
    outside.write_text(HEADER + "O1,1,retail,0\n")
    (inbox / "out.csv").symlink_to(outside)
    first, _ = _ingest(project, sqlite_url)
    assert sorted(_files(first)) == ["good.csv", "link.csv"]
    skipped = {s["name"]: s["reason"] for s in first["skipped"]}
    assert skipped["out.csv"] == "a symbolic link to outside the inbox: not followed"
    assert skipped["sub"].startswith("a folder")
    assert _ingest(project, sqlite_url)[0]["status"] == "noop"


@pytest.mark.parametrize("change", ["truncated", "rewritten", "deleted"])
def test_a_file_that_changes_while_the_tick_reads_it_is_never_taken_twice(
    project: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, change: str
):
    """Between discovery's hash and the read, the producer truncates, rewrites or deletes the
    file: the tick leaves it (nothing recorded); the next takes what it holds then, once."""
    _setup(project)
    nine = "".join(f"M{i},{i},retail,0\n" for i in range(9))
    moving = _write(project, "moving.csv", HEADER + nine)
    real = intake.failpoint
    done = []

    def producer_acts(name: str) -> None:
        real(name)
        if name == "before_source_copy" and not done and moving.exists():
            done.append(name)
            if change == "deleted":
                moving.unlink()
            else:
                lines = moving.read_text().splitlines(keepends=True)
                kept = lines[:4] if change == "truncated" else [*lines, "M99,1,retail,1\n"]
                moving.write_text("".join(kept))

    monkeypatch.setattr(intake, "failpoint", producer_acts)
    first, log = _ingest(project, sqlite_url)
    assert done and [f["name"] for f in first["files"]] in (["good.csv"], [])
    assert "moving.csv left for a later tick" in log
    if not first["files"]:  # moving.csv was first in the order: good.csv came after
        first, _ = _ingest(project, sqlite_url)
    assert count(sqlite_url, "ingested_files", "WHERE name = 'moving.csv'") == 0
    assert not list((project / "ingesteddata" / "quarantine").glob(".source-*"))
    _ingest(project, sqlite_url)
    taken = rows(sqlite_url, "SELECT name, rows FROM ingested_files WHERE name = 'moving.csv'")
    expected = {"truncated": [3], "rewritten": [10], "deleted": []}[change]
    assert [r["rows"] for r in taken] == expected
    third, _ = _ingest(project, sqlite_url)
    assert third["status"] == "noop"
    assert count(sqlite_url, "ingested_files", "WHERE name = 'moving.csv'") == len(expected)


def test_a_run_killed_before_it_copies_a_file_takes_it_once_later(project: Path, sqlite_url: str):
    """SIGKILL between discovery's hash and the copy: nothing recorded; the next tick takes
    each file once, and removes a private copy a killed run left."""
    _setup(project)
    env = {FAILPOINT: "before_source_copy"}
    killed = cli(project, "ingest", database_url=sqlite_url, env=env)
    assert killed.returncode == -9
    assert count(sqlite_url, "ingested_files") == 0
    left = project / "ingesteddata" / "quarantine" / ".source-left.tmp"
    left.parent.mkdir(parents=True, exist_ok=True)
    left.write_text("half a copy")
    summary, log = _ingest(project, sqlite_url)
    assert [f["name"] for f in summary["files"]] == ["good.csv"]
    assert not left.exists() and "removed 1 private cop" in log
    assert count(sqlite_url, "ingested_files") == 1


def _nested_parquet(path: Path) -> None:
    table = pa.table(
        {
            "corporation": ["P1", "P2"],
            "employees": [[1, 2], [3]],  # lists where numbers belong
            "industry": [{"a": 1}, {"a": 2}],
            "exited": [0, 1],
        }
    )
    pq.write_table(table, path)


ODD = [
    ("nested.parquet", _nested_parquet),
    ("nested.jsonl", '{"corporation": {"x": 1}, "employees": [1], "exited": 0}\n'),
    ("deep.jsonl", '{"corporation": ' + "[" * 5000 + "]" * 5000 + ', "exited": 0}\n'),
    ("huge-number.jsonl", '{"corporation": "Q1", "employees": 1' + "0" * 400 + ', "exited": 0}\n'),
    ("no-header.csv", "\n\n\n"),
    ("quote.csv", HEADER + 'Z1,"10,retail,0\n'),
    ("not-parquet.parquet", b"PAR1" + b"\x00" * 64 + b"PAR1"),
]


@pytest.mark.parametrize(("name", "content"), ODD, ids=[o[0] for o in ODD])
def test_other_odd_files_end_as_a_verdict_on_the_file_never_a_failed_tick(
    project: Path, sqlite_url: str, name: str, content
):
    _setup(project)
    if callable(content):
        content(project / "sourcedata" / name)
    else:
        _write(project, name, content)
    odd = _two_ticks(project, sqlite_url, name)
    assert odd["status"] in ("ingested", "quarantined")
    if odd["status"] == "quarantined":
        assert odd["reason"] and "\n" not in odd["reason"]
        assert ".source-" not in odd["reason"] and str(project) not in odd["reason"]


# --- the pure parts: names shown, text stored, quarantine names, where UTF-8 stops -----------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("batch_01.csv", "batch_01.csv"),
        ("été.csv", "été.csv"),
        (os.fsdecode(b"caf\xe9.csv"), "caf\\xe9.csv"),
        ("a\nb\r\tc.csv", "a\\nb\\r\\tc.csv"),
        ("\x1b[31mred.csv", "\\x1b[31mred.csv"),
        ("gpj\u202e.exe", "gpj\\u202e.exe"),
        ("line\u2028sep.csv", "line\\u2028sep.csv"),
    ],
)
def test_names_are_shown_on_one_printable_line_and_showing_twice_changes_nothing(
    name: str, expected: str
):
    from pipeline.infra.names import shown

    assert shown(name) == expected
    assert shown(expected) == expected
    assert expected.isprintable()


def test_path_keys_are_storable_and_tell_every_path_apart():
    from pipeline.infra.names import path_key

    assert path_key("/in/a.csv") == "/in/a.csv"  # the keys saved before stay valid
    odd = path_key(os.fsdecode(b"/in/caf\xe9.csv"))
    assert odd == "bytes:" + b"/in/caf\xe9.csv".hex()
    assert odd != path_key("/in/caf\\xe9.csv")


def test_storable_escapes_nul_and_lone_surrogates_everywhere_in_a_value():
    from pipeline.storage.text import storable

    value = {"a\x00": ["x\udcff", ("y",), 3, None], "ok": "fine\n"}
    assert storable(value) == {"a\\x00": ["x\\udcff", ["y"], 3, None], "ok": "fine\n"}
    assert storable("plain") == "plain"


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("batch.csv", "batch.csv"),
        ("a b:c?\\d.csv", "a_b_c__d.csv"),
        (os.fsdecode(b"caf\xe9\n.csv"), "caf__.csv"),
        ("x" * 300 + ".csv", "x" * QUARANTINE_NAME_BYTES + ".csv"),
        ("é" * 100 + ".csv", "é" * (QUARANTINE_NAME_BYTES // 2) + ".csv"),
    ],
)
def test_quarantine_names_are_safe_and_bounded(name: str, kept: str):
    from pipeline.ingest.discovery import SourceFile
    from pipeline.ingest.ingestion import quarantine_name

    source = SourceFile(Path("/in") / name, 1, 1, "ab" * 32)
    assert quarantine_name(source) == "abababababababab-" + kept


@pytest.mark.parametrize("at", [0, 5, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 << 20])
def test_the_first_byte_that_is_not_utf8_is_found_at_its_offset(tmp_path: Path, at: int):
    from pipeline.ingest.readers import _first_bad_utf8

    text = ("é" * (at // 2 + 1)).encode()[:at] if at % 2 == 0 else b"a" + "é".encode() * (at // 2)
    assert len(text) == at
    path = tmp_path / "f.csv"
    path.write_bytes(text + b"\xff" + b"\nmore\n")
    lines = text.count(b"\n") + 1
    assert _first_bad_utf8(path) == f"byte {at:,} (line {lines:,}): 0xff"


def test_a_full_tick_goes_on_past_poison_and_skipped_entries(tmp_path: Path, built_project: Path):
    """`riskwatch run`, the cron tick, on a trained project: a poison file, a link to
    /etc/passwd and a FIFO beside a new batch; the tick succeeds and says what it skipped."""
    from pipeline.tools.sampledata import generate_batch
    from tests.conftest import copy_project
    from tests.e2e import drop, run_json

    project = tmp_path / "project"
    copy_project(built_project, project)
    inbox = project / "sourcedata"
    batch = tmp_path / "clients_batch_09.csv"
    generate_batch(9, 200).to_csv(batch, index=False)
    drop(project, batch)
    _write(project, "reserved.csv", "client_id,_riskwatch_errors\nX,1\n")
    (inbox / "passwd.csv").symlink_to("/etc/passwd")
    os.mkfifo(inbox / "pipe.csv")
    tick = run_json(project)
    assert tick["status"] == "succeeded" and tick["new_files"] == 2
    [quarantined] = tick["quarantined"]
    assert quarantined["name"] == "reserved.csv" and "reserves" in quarantined["reason"]
    assert {s["name"] for s in tick["skipped"]} == {"passwd.csv", "pipe.csv"}
    again = run_json(project)
    assert again["status"] == "noop" and len(again["skipped"]) == 2
