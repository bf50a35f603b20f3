"""The one exception type a user can cause, carrying the exit code the CLI returns."""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_RUN_FAILED = 3
EXIT_INTERRUPTED = 130


class VbenchError(Exception):
    """An error the user can act on: printed as one line, then the CLI exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class ConfigError(VbenchError):
    """A config or scenario file that does not validate (exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


class RunFailed(VbenchError):
    """The run itself failed: engine died, target unreachable, invariant broken (exit 3)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_RUN_FAILED)
