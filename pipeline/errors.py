"""Exceptions riskwatch raises; the CLI turns each into a message on stderr and an exit code.

Every exception riskwatch raises for its user derives from `RiskwatchError`, and its class's
`exit_code` is the CLI's exit code for it (pipeline/cli/root.py maps them, in one place).
"""

from __future__ import annotations

from pathlib import Path


class RiskwatchError(Exception):
    """Base class of every error riskwatch reports to its user."""

    exit_code = 1


class ConfigError(RiskwatchError):
    """A setting is missing, unknown or of the wrong kind."""

    exit_code = 2


class InboxMissing(ConfigError):
    """paths.source is not a folder: a run cannot look for new files (event inbox_missing)."""


class InvalidArgument(RiskwatchError, ValueError):
    """An argument a command or tool cannot use: a count, a mix, an output path, a file name.

    The CLI shows it under the command's usage line, as click shows its own bad arguments. It is
    a ValueError too, so that code written against the tools' old ValueError still catches it.
    """

    exit_code = 2


class DatabaseNotReady(RiskwatchError):
    """The database has no schema, or an older one than this code needs, or is not riskwatch's
    (another application's tables; a SQLite file that is not a database)."""

    exit_code = 3


class DatabaseUnreachable(RiskwatchError):
    """The database cannot be reached or opened: server down, wrong host or port, bad path."""

    exit_code = 5


class DataError(RiskwatchError):
    """Input data cannot be used: unreadable, empty, or without a required column."""

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        error_type: str | None = None,
        rows: int = 0,
    ) -> None:
        super().__init__(message)
        self.column = column
        self.error_type = error_type  # the quality gate's name for it: unreadable, empty, ...
        self.rows = rows  # the rows the file has, when they could be counted (else 0)


class ModelIntegrityError(RiskwatchError):
    """A model artifact does not match the checksum recorded when it was registered."""

    exit_code = 4


class NoProductionModel(RiskwatchError):
    """No model has been deployed yet."""


class NotFound(RiskwatchError):
    """A run, model version or report asked for does not exist."""


class LockHeld(RiskwatchError):
    """Another riskwatch process holds the run lock.

    Not a failure: the tick that holds the lock does the work, so this one exits 0, saying so.
    """

    exit_code = 0

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"another riskwatch run holds the lock {path} ({holder}); exiting")
        self.path = path
        self.holder = holder


class ToolError(RiskwatchError):
    """An outside tool riskwatch drives (DVC, git) is missing or failed; the message says which
    command and what it printed."""
