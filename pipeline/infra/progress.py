"""Progress of long work on stderr: a redrawn bar on a terminal, plain lines in a log.

`Progress` is a context manager. On a terminal (the stream's `isatty()`, and `TERM` is not
`dumb`) it redraws one line in place with a carriage return: a bar when the total is known, the
count, the rate, the time left, or a spinner and the time elapsed when it is not (a `ticking`
progress redraws itself once a second from a thread, for work such as a scikit-learn fit that
cannot report). Colour only there, and never with `NO_COLOR` set. Anywhere else (cron's log,
a pipe, a test runner) it writes plain lines: no carriage return, no escape code, one line per
phase, at most one every `PLAIN_EVERY` seconds in between, and one when it ends; or none at all
(`plain=False`) where the caller logs each item itself.

`render` is the pure part (tested with a fake clock); the rest never raises: a closed or broken
stream turns the progress off. A log handler that writes to the same terminal calls
`interrupt()` first, so that a log line never lands after a half-drawn bar. Progress nests:
on a terminal only the newest open one draws (a run step's spinner waits while the step's own
bar runs), and `current_phase` names the phase of the newest one, so that code deep in a step
can say "fitting" without being handed the progress.

Standard library only: the CLI imports it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TextIO

__all__ = [
    "PLAIN_EVERY",
    "Progress",
    "configure",
    "current_phase",
    "interrupt",
    "render",
    "use_terminal",
]

# How often the display changes: often enough to look alive, rarely enough to cost nothing.
REDRAW_EVERY = 0.1  # seconds between redraws of a terminal line
PLAIN_EVERY = 10.0  # seconds between plain lines in a log
TICK_EVERY = 1.0  # seconds between the redraws of a ticking progress
BAR_WIDTH = 24
SPINNER = "|/-\\"
GREEN, RESET = "\x1b[32m", "\x1b[0m"

_active: list[Progress] = []  # the progress started and not closed yet, newest last
_lock = threading.RLock()
_enabled = True  # False: no progress at all (riskwatch --quiet)


def use_terminal(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """Whether `stream` is a terminal that can redraw a line (not `TERM=dumb`)."""
    env = os.environ if env is None else env
    try:
        return bool(stream.isatty()) and env.get("TERM", "") != "dumb"
    except (AttributeError, OSError, ValueError):  # a closed or odd stream
        return False


def _clock_text(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _count(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def render(
    label: str,
    done: float,
    total: float | None,
    elapsed: float,
    *,
    unit: str = "",
    note: str = "",
    terminal: bool = False,
    colour: bool = False,
    frame: int = 0,
) -> str:
    """One line of progress, without a line end: what the terminal or the log shows."""
    unit_text = f" {unit}" if unit else ""
    head = [label + ":"]
    if total:
        share = min(1.0, max(0.0, done / total))
        if terminal:
            filled = round(share * BAR_WIDTH)
            bar = "#" * filled
            if colour and filled:
                bar = f"{GREEN}{bar}{RESET}"
            head.append(f"[{bar}{'.' * (BAR_WIDTH - filled)}]")
        head.append(f"{share:.0%} {_count(done)}/{_count(total)}{unit_text}")
    elif done:
        head.append(f"{_count(done)}{unit_text}")
    spinning = terminal and not total and not done
    if spinning:
        head.append(SPINNER[frame % len(SPINNER)])
    tail = [note] if note else []
    rate = done / elapsed if elapsed > 0 else 0.0
    if done and rate > 0 and unit:
        tail.append(f"{_count(rate)} {unit}/s")
    tail.append(f"{_clock_text(elapsed)} elapsed")
    if total and 0 < done < total and rate > 0:
        tail.append(f"{_clock_text((total - done) / rate)} left")
    counted = len(head) > 1 and not spinning
    return " ".join(head) + (", " if counted else " ") + ", ".join(tail)


class Progress:
    """Progress of one piece of work: `advance` or `update` it, name its `phase`, `close` it.

    A context manager, or `start()` and `close()`. On a terminal only the newest open progress
    draws (a step's spinner waits while the step's own bar runs); `keep=False` takes the line
    away at the end instead of leaving its final state.
    """

    def __init__(
        self,
        label: str,
        total: float | None = None,
        *,
        unit: str = "",
        stream: TextIO | None = None,
        plain: bool = True,
        ticking: bool = False,
        keep: bool = True,
        prefix: str = "riskwatch: ",
        clock: Callable[[], float] = time.monotonic,
        env: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if env is None else env
        self.label, self.total, self.unit = label, total, unit
        self.stream: TextIO = sys.stderr if stream is None else stream
        self.terminal = _enabled and use_terminal(self.stream, env)
        self.colour = self.terminal and "NO_COLOR" not in env
        self.plain = plain and _enabled
        self.keep, self.prefix, self.clock = keep, prefix, clock
        self.done: float = 0
        self.note = ""
        self._said: tuple[float, str] | None = None  # (done, note) of the last plain line
        self.start_time = self.last_draw = clock()
        self.drawn = 0  # characters of the line now on the terminal (0: none)
        self.frame = 0
        self.closed = False
        self._ticking = ticking and self.terminal
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Progress:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(failed=kind is not None)

    def start(self) -> Progress:
        """Show the progress (on a terminal) and start its clock; return it."""
        self.start_time = self.clock()
        with _lock:
            if _active and _active[-1].terminal:
                _active[-1].erase()  # the outer line waits until this one is done
            _active.append(self)
        if self.terminal:
            self._draw()
            if self._ticking:
                self._thread = threading.Thread(target=self._tick, daemon=True)
                self._thread.start()
        return self

    def advance(self, amount: float = 1, note: str | None = None) -> None:
        """Count `amount` more done (and change the note, if given); redraw when it is time."""
        self.update(self.done + amount, note=note)

    def update(self, done: float, total: float | None = None, note: str | None = None) -> None:
        """Set the count done (and the total, the note); a new note is a new phase."""
        if total is not None:
            self.total = total
        self.done = done
        if note is not None and note != self.note:
            self.phase(note)
            return
        now = self.clock()
        if self.terminal and now - self.last_draw >= REDRAW_EVERY:
            self._draw()
        elif not self.terminal and self.plain and now - self.last_draw >= PLAIN_EVERY:
            self._line()

    def phase(self, note: str, total: float | None = None) -> None:
        """Start a new phase of the work: its name, and its own count when `total` is given."""
        self.note = note
        if total is not None:
            self.total, self.done = total, 0
        if self.terminal:
            self._draw()
        elif self.plain:
            self._line()

    def line(self) -> str:
        """The progress as it stands: what `render` makes of it."""
        return render(
            self.label,
            self.done,
            self.total,
            self.clock() - self.start_time,
            unit=self.unit,
            note=self.note,
            terminal=self.terminal,
            colour=self.colour,
            frame=self.frame,
        )

    def close(self, failed: bool = False) -> None:
        """The last word: the final state on its own line, or (`keep=False`) no line at all."""
        if self.closed:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=TICK_EVERY * 2)
            self._thread = None
        with _lock:
            if self in _active:
                _active.remove(self)
            if failed:
                self.note = f"{self.note}, stopped" if self.note else "stopped"
            if self.terminal and self.keep:
                self._draw(force=True)
                self._write("\n")
            elif self.terminal:
                self.erase()
            elif self.plain and (failed or self._said != (self.done, self.note)):
                self._line()
            self.closed = True

    # -- drawing ---------------------------------------------------------------------------

    def _draw(self, force: bool = False) -> None:
        with _lock:
            if self.closed or not (force or (_active and _active[-1] is self)):
                return
            self.frame += 1
            text = self.prefix + self.line()
            visible = len(text.replace(GREEN, "").replace(RESET, ""))
            pad = " " * max(0, self.drawn - visible)
            self._write("\r" + text + pad)
            self.drawn = visible
            self.last_draw = self.clock()

    def _line(self) -> None:
        self._write(self.prefix + self.line() + "\n")
        self._said = (self.done, self.note)
        self.last_draw = self.clock()

    def erase(self) -> None:
        """Take the drawn line off the terminal; the next update draws it again."""
        with _lock:
            if self.drawn:
                self._write("\r" + " " * self.drawn + "\r")
                self.drawn = 0

    def _write(self, text: str) -> None:
        if self.closed:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError, AttributeError):  # closed, a broken pipe, no stream at all
            self.closed = True  # progress is not worth failing for

    def _tick(self) -> None:
        while not self._stop.wait(TICK_EVERY):
            self._draw()


def configure(enabled: bool) -> None:
    """Show progress, or not at all (`riskwatch --quiet`)."""
    global _enabled
    _enabled = enabled


def interrupt() -> None:
    """Erase the progress line drawn on a terminal, before something else is written there."""
    with _lock:
        for progress in _active:
            if progress.terminal:
                progress.erase()


def current_phase(note: str) -> None:
    """Name the phase of the newest open progress (none open: nothing happens)."""
    with _lock:
        newest = _active[-1] if _active else None
    if newest is not None:
        newest.phase(note)
