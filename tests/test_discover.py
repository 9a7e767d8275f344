"""Discovery: new files by content, never by name; files still on their way are left alone."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from pipeline.ingest import discovery as discover_module
from pipeline.ingest.discovery import discover

GOOD = b"corporation,exited\n1,0\n2,1\n"
OTHER = b"corporation,exited\n3,1\n4,0\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(folder: Path, name: str, data: bytes, age: float = 0.0) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if age:
        when = time.time() - age
        os.utime(path, (when, when))
    return path


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "sourcedata"
    folder.mkdir()
    return folder


def names(found: discover_module.Discovery) -> list[str]:
    return [f.name for f in found.new]


def test_new_files_are_found_by_content(inbox: Path) -> None:
    put(inbox, "b.csv", OTHER)
    put(inbox, "a.csv", GOOD)
    found = discover(inbox, known_hashes=[], cache={})
    assert names(found) == ["a.csv", "b.csv"]
    assert [f.sha256 for f in found.new] == [sha(GOOD), sha(OTHER)]
    assert [f.size for f in found.new] == [len(GOOD), len(OTHER)]
    assert found.new[0].format == "csv"
    assert found.deferred == []
    assert found.known == 0
    assert found.hashes[str(inbox / "a.csv")][2] == sha(GOOD)


def test_a_renamed_copy_of_a_known_file_is_not_new(inbox: Path) -> None:
    put(inbox, "batch_1_renamed.csv", GOOD)
    found = discover(inbox, known_hashes=[sha(GOOD)], cache={})
    assert found.new == []
    assert found.known == 1
    assert found.deferred == []


def test_a_changed_file_with_the_same_name_is_new(inbox: Path) -> None:
    put(inbox, "batch.csv", GOOD)
    first = discover(inbox, known_hashes=[], cache={})
    put(inbox, "batch.csv", GOOD + b"5,1\n")
    found = discover(inbox, known_hashes=[sha(GOOD)], cache=first.hashes)
    assert names(found) == ["batch.csv"]
    assert found.new[0].sha256 == sha(GOOD + b"5,1\n")
    assert found.known == 0


def test_two_identical_new_files_in_one_tick(inbox: Path) -> None:
    put(inbox, "a.csv", GOOD)
    put(inbox, "copy_of_a.csv", GOOD)
    found = discover(inbox, known_hashes=[], cache={})
    assert names(found) == ["a.csv"]
    assert found.deferred == [("copy_of_a.csv", "same content as another new file")]
    # Next tick, once a.csv is taken, the copy is simply known.
    later = discover(inbox, known_hashes=[sha(GOOD)], cache=found.hashes)
    assert (later.new, later.deferred, later.known) == ([], [], 2)


@pytest.mark.parametrize(
    "name",
    [
        ".hidden.csv",
        ".~lock.batch.csv#",
        "~lock.batch.csv#",
        "~$batch.csv",
        "batch.csv.tmp",
        "batch.CSV.TMP",
        "batch.csv.part",
        "batch.csv.partial",
        "batch.csv.crdownload",
        "sub/batch.csv",
    ],
)
def test_files_on_their_way_and_subfolders_are_ignored(inbox: Path, name: str) -> None:
    put(inbox, "good.csv", GOOD)
    put(inbox, name, OTHER)
    found = discover(inbox, known_hashes=[], cache={})
    assert names(found) == ["good.csv"]
    assert found.deferred == []
    assert list(found.hashes) == [str(inbox / "good.csv")]


@pytest.mark.parametrize(("age", "taken"), [(10.0, False), (59.0, False), (61.0, True)])
def test_a_file_younger_than_min_age_is_deferred(inbox: Path, age: float, taken: bool) -> None:
    path = put(inbox, "a.csv", GOOD)
    now = path.stat().st_mtime + age
    found = discover(inbox, known_hashes=[], cache={}, min_age_seconds=60, now=now)
    if taken:
        assert names(found) == ["a.csv"]
        assert found.deferred == []
    else:
        assert found.new == []
        assert found.deferred == [("a.csv", "younger than 60 s")]
        assert found.hashes == {}


def test_min_age_zero_takes_a_file_with_a_future_mtime(inbox: Path) -> None:
    # Files copied from a machine whose clock runs ahead (or via NFS) can carry an mtime in the
    # future. With the default minimum age of 0 there is no age rule, so the file is taken;
    # otherwise it would sit in the inbox until the local clock catches up.
    path = put(inbox, "a.csv", GOOD)
    future = time.time() + 3600
    os.utime(path, (future, future))
    found = discover(inbox, known_hashes=[], cache={}, min_age_seconds=0.0)
    assert names(found) == ["a.csv"]
    assert found.deferred == []


def test_a_file_that_changes_while_hashed_is_deferred(
    inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(inbox, "growing.csv", GOOD)
    put(inbox, "still.csv", OTHER)
    real = discover_module.sha256_of

    def hash_while_writer_appends(path: Path, *args: object) -> str:
        digest = real(path)
        if path.name == "growing.csv":
            with path.open("ab") as fh:
                fh.write(b"5,0\n")
        return digest

    monkeypatch.setattr(discover_module, "sha256_of", hash_while_writer_appends)
    found = discover(inbox, known_hashes=[], cache={})
    assert names(found) == ["still.csv"]
    assert found.deferred == [("growing.csv", "changed while it was read")]
    assert str(inbox / "growing.csv") not in found.hashes


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = discover_module.sha256_of

    def counting(path: Path, *args: object) -> str:
        calls.append(path.name)
        return real(path)

    monkeypatch.setattr(discover_module, "sha256_of", counting)
    return calls


def test_the_cache_avoids_reading_an_unchanged_file(inbox: Path, hash_calls: list[str]) -> None:
    put(inbox, "a.csv", GOOD)
    put(inbox, "b.csv", OTHER)
    first = discover(inbox, known_hashes=[], cache={})
    assert sorted(hash_calls) == ["a.csv", "b.csv"]
    hash_calls.clear()
    second = discover(inbox, known_hashes=[sha(GOOD)], cache=first.hashes)
    assert hash_calls == []
    assert names(second) == ["b.csv"]
    assert second.new[0].sha256 == sha(OTHER)
    assert second.known == 1
    assert second.hashes == {}  # nothing new to cache


@pytest.mark.parametrize("change", ["size", "mtime"])
def test_a_file_with_new_size_or_mtime_is_read_again(
    inbox: Path, hash_calls: list[str], change: str
) -> None:
    path = put(inbox, "a.csv", GOOD)
    put(inbox, "b.csv", OTHER)
    first = discover(inbox, known_hashes=[], cache={})
    hash_calls.clear()
    if change == "size":
        path.write_bytes(GOOD + b"5,1\n")
        expected = sha(GOOD + b"5,1\n")
    else:
        path.write_bytes(GOOD.replace(b"1,0", b"1,1"))  # same size, new content
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, first.hashes[str(path)][1] - 100_000_000_000))
        expected = sha(GOOD.replace(b"1,0", b"1,1"))
    found = discover(inbox, known_hashes=[sha(GOOD), sha(OTHER)], cache=first.hashes)
    assert hash_calls == ["a.csv"]
    assert names(found) == ["a.csv"]
    assert found.new[0].sha256 == expected
    assert found.hashes[str(path)][2] == expected
    assert found.known == 1


@pytest.mark.parametrize("how", ["missing", "a-file"])
def test_a_missing_source_folder_gives_nothing(tmp_path: Path, how: str) -> None:
    source = tmp_path / "sourcedata"
    if how == "a-file":
        source.write_bytes(GOOD)
    found = discover(source, known_hashes=[], cache={})
    assert (found.new, found.deferred, found.known, found.hashes) == ([], [], 0, {})


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.csv", "csv"), ("a.CSV", "csv"), ("a.parquet", "parquet"), ("a.jsonl", "jsonl"),
     ("a.ndjson", "jsonl"), ("a.xlsx", None)],
)  # fmt: skip
def test_format_from_the_suffix(inbox: Path, name: str, fmt: str | None) -> None:
    put(inbox, name, GOOD)
    found = discover(inbox, known_hashes=[], cache={})
    assert [f.format for f in found.new] == [fmt]
