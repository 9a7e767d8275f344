"""Crash points for the kill tests: RISKWATCH_FAILPOINT=<name> SIGKILLs the process there.

Tests use them to prove that a run killed at any point leaves the last good state intact.
A production run never sets the variable; the check is one dictionary look-up.
"""

from __future__ import annotations

import os
import signal

ENV = "RISKWATCH_FAILPOINT"


def failpoint(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
