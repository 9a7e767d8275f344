"""Exceptions riskwatch raises; the CLI turns each into a message on stderr and an exit code."""


class RiskwatchError(Exception):
    """Base class of every error riskwatch reports to its user."""

    exit_code = 1


class ConfigError(RiskwatchError):
    """A setting is missing, unknown or of the wrong kind."""

    exit_code = 2


class DatabaseNotReady(RiskwatchError):
    """The database has no schema, or an older one than this code needs."""

    exit_code = 3


class DataError(RiskwatchError):
    """Input data cannot be used: unreadable, empty, or without a required column."""

    def __init__(
        self, message: str, *, column: str | None = None, error_type: str | None = None
    ) -> None:
        super().__init__(message)
        self.column = column
        self.error_type = error_type  # the quality gate's name for it: unreadable, empty, ...


class ModelIntegrityError(RiskwatchError):
    """A model artifact does not match the checksum recorded when it was registered."""

    exit_code = 4


class NoProductionModel(RiskwatchError):
    """No model has been deployed yet."""


class NotFound(RiskwatchError):
    """A run, model version or report asked for does not exist."""
