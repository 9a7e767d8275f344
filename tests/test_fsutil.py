"""Atomic writes: the old file or the whole new one, and never a temporary file left behind."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pipeline.infra.files import atomic_copy, atomic_write, atomic_write_bytes


def test_atomic_write_leaves_only_the_target(tmp_path: Path) -> None:
    target = tmp_path / "out" / "data.parquet"  # the folder is made too
    atomic_write(target, lambda tmp: tmp.write_bytes(b"new"))
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["data.parquet"]


def test_atomic_write_replaces_old_content(tmp_path: Path) -> None:
    target = tmp_path / "data.csv"
    target.write_bytes(b"old")
    atomic_write(target, lambda tmp: tmp.write_bytes(b"new"))
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["data.csv"]


class Boom(Exception):
    pass


@pytest.mark.parametrize("error", [Boom, OSError, KeyboardInterrupt])
@pytest.mark.parametrize("existed", [True, False])
def test_a_writer_that_fails_midway_changes_nothing(
    tmp_path: Path, error: type[BaseException], existed: bool
) -> None:
    target = tmp_path / "data.csv"
    if existed:
        target.write_bytes(b"old content")
    seen: list[Path] = []

    def half_then_fail(tmp: Path) -> None:
        seen.append(tmp)
        with tmp.open("wb") as fh:
            fh.write(b"half of the new ")
        raise error("writer died")

    with pytest.raises(error, match="writer died"):
        atomic_write(target, half_then_fail)
    assert seen and seen[0].parent == tmp_path and seen[0] != target
    assert not seen[0].exists()
    if existed:
        assert target.read_bytes() == b"old content"
        assert [p.name for p in tmp_path.iterdir()] == ["data.csv"]
    else:
        assert list(tmp_path.iterdir()) == []


def test_atomic_write_bytes_and_copy(tmp_path: Path) -> None:
    source = tmp_path / "src.bin"
    atomic_write_bytes(source, b"\x00\x01payload")
    assert source.read_bytes() == b"\x00\x01payload"
    copy = tmp_path / "copies" / "dst.bin"
    atomic_copy(source, copy)
    assert copy.read_bytes() == b"\x00\x01payload"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["copies", "dst.bin", "src.bin"]


def test_a_failed_copy_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "dst.bin"
    with pytest.raises(FileNotFoundError):
        atomic_copy(tmp_path / "missing.bin", target)
    assert list(tmp_path.iterdir()) == []


def test_written_files_are_readable_by_others(tmp_path: Path) -> None:
    # mkstemp makes 0600 files; the web app may run as another user and must read them.
    target = tmp_path / "report.pdf"
    atomic_write_bytes(target, b"%PDF")
    assert stat.S_IMODE(target.stat().st_mode) & 0o044 == 0o044


def test_the_temporary_file_names_its_writer(tmp_path: Path) -> None:
    """What lets the next run tell a dead writer's leftover from a write going on (issue 11)."""
    import os

    from pipeline.infra.files import process_alive, temp_writer

    seen: list[Path] = []
    atomic_write(tmp_path / "run-ab12.pdf", lambda tmp: seen.append(tmp) or tmp.write_bytes(b"x"))
    [tmp] = seen
    assert tmp.parent == tmp_path and tmp.name.startswith(f".run-ab12.pdf.{os.getpid()}-")
    assert temp_writer(tmp) == ("run-ab12.pdf", os.getpid())
    assert process_alive(os.getpid())
    assert temp_writer(Path(".run-ab12.pdf.k2j_9xq1.tmp")) == ("run-ab12.pdf", None)  # older
    for other in ("run-ab12.pdf", "batch.csv.tmp", ".x.pdf.123-short.tmp", ".x.pdf.tmp"):
        assert temp_writer(Path(other)) is None, other
