"""Progress on a terminal and in logs: the rendering, the redraw rules, and the CLI's use of it."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.infra import progress
from pipeline.infra.progress import PLAIN_EVERY, Progress, render, use_terminal

ANSI = re.compile(r"\x1b\[")
BAR = re.compile(r"\[#*\.*\]")
RISKWATCH = Path(sys.executable).parent / "riskwatch"


class FakeStream(io.StringIO):
    """A stream that says it is a terminal (or not)."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(tty: bool, env: dict[str, str] | None = None, **kwargs: object):
    stream, clock = FakeStream(tty), FakeClock()
    bar = Progress("ingest", stream=stream, clock=clock, env=env or {}, **kwargs)  # type: ignore[arg-type]
    return bar, stream, clock


@pytest.mark.parametrize(
    ("done", "total", "elapsed", "terminal", "expected"),
    [
        (500, 2000, 5.0, False, "ingest: 25% 500/2,000 rows, 100 rows/s, 0:05 elapsed, 0:15 left"),
        (2000, 2000, 20.0, False, "ingest: 100% 2,000/2,000 rows, 100 rows/s, 0:20 elapsed"),
        (0, 2000, 0.0, False, "ingest: 0% 0/2,000 rows, 0:00 elapsed"),
        (1500, None, 3.0, False, "ingest: 1,500 rows, 500 rows/s, 0:03 elapsed"),
        (
            1000,
            2000,
            4000.0,
            False,
            "ingest: 50% 1,000/2,000 rows, 0.2 rows/s, 1:06:40 elapsed, 1:06:40 left",
        ),
        (
            1000,
            2000,
            10.0,
            True,
            "ingest: [############............] 50% 1,000/2,000 rows, "
            "100 rows/s, 0:10 elapsed, 0:10 left",
        ),
    ],
)
def test_render(done, total, elapsed, terminal, expected) -> None:
    assert render("ingest", done, total, elapsed, unit="rows", terminal=terminal) == expected


def test_render_without_a_total_spins_on_a_terminal_and_shows_the_phase() -> None:
    frames = {
        render("train", 0, None, 2.0, note="fitting", terminal=True, frame=f) for f in range(4)
    }
    assert frames == {f"train: {c} fitting, 0:02 elapsed" for c in "|/-\\"}
    assert render("train", 0, None, 2.0, note="fitting") == "train: fitting, 0:02 elapsed"
    assert render("train", 0, None, 65.0) == "train: 1:05 elapsed"


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    coloured = render("x", 1, 2, 1.0, terminal=True, colour=True)
    assert "\x1b[32m" in coloured
    assert not ANSI.search(render("x", 1, 2, 1.0, terminal=True, colour=False))
    bar, stream, clock = make(True, env={"NO_COLOR": "1"}, total=4)
    with bar:
        bar.advance()
        clock.now += 1
        bar.advance()
    assert BAR.search(stream.getvalue()) and not ANSI.search(stream.getvalue())
    bar, stream, clock = make(True, total=4)
    with bar:
        clock.now += 1
        bar.advance()
    assert "\x1b[32m#" in stream.getvalue()


def test_a_terminal_gets_one_line_redrawn_in_place_and_throttled() -> None:
    bar, stream, clock = make(True, total=100, unit="rows")
    with bar:
        for _ in range(50):  # fifty updates in no time: drawn once (at the start)
            bar.advance()
        clock.now += 1
        bar.advance()
    out = stream.getvalue()
    assert out.count("\r") == 3  # the start, one redraw a second later, the final state
    assert "\n" not in out[:-1] and out.endswith("\n")
    last = out.rsplit("\r", 1)[1]
    assert last.startswith("riskwatch: ingest: [") and "51% 51/100 rows" in last


def test_a_log_gets_plain_lines_every_few_seconds_and_at_the_end() -> None:
    bar, stream, clock = make(False, total=1000, unit="rows")
    with bar:
        for _ in range(10):
            clock.now += PLAIN_EVERY / 4
            bar.advance(50)
    out = stream.getvalue()
    assert "\r" not in out and not ANSI.search(out) and not BAR.search(out)
    lines = out.splitlines()
    assert len(lines) == 3, lines  # after 10 s, after 20 s, and the last word
    assert lines[0] == "riskwatch: ingest: 20% 200/1,000 rows, 20 rows/s, 0:10 elapsed, 0:40 left"
    assert lines[-1].startswith("riskwatch: ingest: 50% 500/1,000 rows")


def test_each_phase_is_a_line_in_a_log_and_the_last_is_not_repeated() -> None:
    bar, stream, clock = make(False, total=3, unit="files")
    with bar:
        for name in ("a.csv", "b.csv", "c.csv"):
            clock.now += 1
            bar.update(bar.done + 1, note=f"wrote {name}")
    lines = stream.getvalue().splitlines()
    assert [line.split(", ")[1] for line in lines] == ["wrote a.csv", "wrote b.csv", "wrote c.csv"]


def test_plain_false_writes_nothing_in_a_log_and_keep_false_leaves_no_line() -> None:
    bar, stream, _ = make(False, total=3, plain=False)
    with bar:
        bar.advance(3)
    assert stream.getvalue() == ""
    bar, stream, _ = make(True, total=3, keep=False)
    with bar:
        bar.advance(3)
    out = stream.getvalue()
    drawn = out.split("\r")[1]
    assert drawn.startswith("riskwatch: ingest: [")
    assert out.endswith("\r" + " " * len(drawn) + "\r")  # the line is taken away at the end


def test_term_dumb_is_not_a_terminal() -> None:
    assert use_terminal(FakeStream(True), {"TERM": "xterm"})
    assert not use_terminal(FakeStream(True), {"TERM": "dumb"})
    assert not use_terminal(FakeStream(False), {})
    bar, stream, _ = make(True, env={"TERM": "dumb"}, total=2)
    with bar:
        bar.advance(2)
    assert "\r" not in stream.getvalue() and stream.getvalue().count("\n") == 1


def test_a_closed_stream_never_raises() -> None:
    for tty in (True, False):
        bar, stream, clock = make(tty, total=10, ticking=True)
        with bar:
            stream.close()
            clock.now += 20
            bar.advance(5)
            bar.phase("still going")
        bar.close()
    assert not use_terminal(stream)


def test_interrupt_erases_the_line_for_a_log_line_and_the_newest_progress_draws() -> None:
    outer, stream, clock = make(True, keep=False)
    outer.label = "train"
    with outer:
        inner = Progress("ingest", 2, stream=stream, clock=clock, env={}, keep=False)
        with inner:
            progress.current_phase("reading")  # the newest open progress
            assert inner.note == "reading" and outer.note == ""
            progress.interrupt()
            assert stream.getvalue().endswith(" \r")
            before = stream.getvalue()
            outer.phase("fitting")  # the outer line waits while the inner one is open
            assert stream.getvalue() == before
        progress.current_phase("scoring")
        assert outer.note == "scoring"
    assert stream.getvalue().count("riskwatch: train:") == 2  # at the start, and "scoring"


def test_quiet_shows_no_progress() -> None:
    progress.configure(enabled=False)
    try:
        for tty in (True, False):
            bar, stream, _ = make(tty, total=2)
            with bar:
                bar.advance(2)
            assert stream.getvalue() == ""
    finally:
        progress.configure(enabled=True)


# --- the CLI: a bar on a terminal, plain lines in a log ------------------------------------


def _on_a_terminal(args: list[str], cwd: Path) -> tuple[str, str]:
    """Run riskwatch with stderr on a pseudo-terminal: (stdout, what the terminal got)."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "DATABASE_URL")}
    env["TERM"] = "xterm"
    child = subprocess.Popen(
        [str(RISKWATCH), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=slave, env=env
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = child.communicate(timeout=120)
    os.close(master)
    assert child.returncode == 0, seen.decode()
    return stdout.decode(), seen.decode()


def _in_a_log(args: list[str], cwd: Path) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [str(RISKWATCH), *args], cwd=cwd, capture_output=True, text=True, env=env, check=True
    )
    return done.stdout, done.stderr


@pytest.mark.slow
def test_sample_data_and_a_run_draw_bars_on_a_terminal_and_plain_lines_in_a_log(tmp_path):
    sample = ["sample-data", ".", "--batches", "2", "--rows", "300", "--test-rows", "100"]
    stdout, terminal = _on_a_terminal(sample, tmp_path)
    assert stdout.splitlines()[-1].endswith("testdata.csv")  # stdout: only the paths
    assert "\rriskwatch: sample-data: [" in terminal and "700 rows" in terminal

    log_dir = tmp_path / "again"
    log_dir.mkdir()
    stdout, log = _in_a_log(sample, log_dir)
    assert stdout.splitlines()[-1].endswith("testdata.csv")
    assert "\r" not in log and not ANSI.search(log) and not BAR.search(log)
    assert [line.split(", ")[1] for line in log.splitlines()] == [
        "wrote clients_batch_01.csv",
        "wrote clients_batch_02.csv",
        "wrote testdata.csv",
    ]
    assert log.splitlines()[-1].startswith("riskwatch: sample-data: 100% 700/700 rows")

    config = "[diagnostics]\noutdated_packages = false\n"
    (tmp_path / "riskwatch.toml").write_text(config)
    stdout, terminal = _on_a_terminal(["run", "--json"], tmp_path)
    assert json.loads(stdout)["status"] == "succeeded"  # progress never reaches stdout
    assert "\rriskwatch: ingest: [" in terminal  # the files' bar
    assert re.search(r"\rriskwatch: train: [|/\\-]", terminal)  # the step's spinner

    (log_dir / "riskwatch.toml").write_text(config)  # the same tick, as cron logs it
    stdout, log = _in_a_log(["run", "--json"], log_dir)
    assert json.loads(stdout)["status"] == "succeeded"
    assert "\r" not in log and not ANSI.search(log) and not BAR.search(log)
    assert "riskwatch: [1/2] clients_batch_01.csv: 300 rows ingested" in log

    # The self-test on the deployed model: a bar on a terminal, its phases as lines in a log.
    selftest = ["drift", "selftest", "--runs", "20", "--json"]
    stdout, terminal = _on_a_terminal(selftest, tmp_path)
    assert json.loads(stdout)["runs"] == 20
    assert "\rriskwatch: drift selftest: [" in terminal and "20/20 runs" in terminal
    stdout, log = _in_a_log(selftest, log_dir)
    assert json.loads(stdout)["runs"] == 20
    assert "\r" not in log and not ANSI.search(log)
    lines = [line for line in log.splitlines() if line.startswith("riskwatch: drift selftest:")]
    assert list(dict.fromkeys(line.split(", ")[1] for line in lines)) == [
        "drawing batches",
        "deciding",
    ]
    assert "100% 20/20 runs, deciding" in lines[-1]


def test_selftest_tells_its_progress_and_gives_the_same_answer() -> None:
    import numpy as np

    from pipeline.drift import ReferenceProfile
    from pipeline.drift.selftest import selftest

    rng = np.random.default_rng(3)
    profile = ReferenceProfile().fit(
        {"x": rng.normal(0, 1, 2000), "c": rng.choice(np.array(["a", "b"]), 2000, p=[0.7, 0.3])}
    )
    told: list[tuple[int, int, str]] = []
    report = selftest(profile, 100, runs=12, seed=5, progress=lambda *a: told.append(a))
    assert told == [(r, 12, "drawing batches") for r in range(1, 13)] + [
        (r, 12, "deciding") for r in range(1, 13)
    ]
    assert selftest(profile, 100, runs=12, seed=5) == report
