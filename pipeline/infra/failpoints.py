"""Crash points for the kill tests: RISKWATCH_FAILPOINT=<name> SIGKILLs the process there.

Tests use them to prove that a run killed at any point leaves the last good state intact; an
in-process test may instead have a function called there (`hooked`: a TCP proxy cutting the
run off from its database at that point, issue 11). A production run never sets the variable
nor a hook; the check is two dictionary look-ups.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ENV = "RISKWATCH_FAILPOINT"
_HOOKS: dict[str, Callable[[], None]] = {}


def failpoint(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    hook = _HOOKS.get(name)
    if hook is not None:
        hook()


@contextmanager
def hooked(name: str, fn: Callable[[], None]) -> Iterator[None]:
    """Call `fn` at the failpoint `name` while the block runs (in this process)."""
    _HOOKS[name] = fn
    try:
        yield
    finally:
        _HOOKS.pop(name, None)
