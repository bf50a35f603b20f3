"""The exit codes of every command, and one exception type per kind of failure a user can cause.

The CLI's one error boundary prints an exception's message as one line and exits with its
code; nothing else in the package chooses an exit code by number.
"""

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


class UsageError(VbenchError):
    """An option or argument that cannot work: a bad value, a path that cannot be written."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


class ConfigError(VbenchError):
    """A config or scenario file that does not validate (exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


class BadRunDir(VbenchError):
    """A run or compare directory that is not one, or whose JSON files do not decode (exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


class RunFailed(VbenchError):
    """The run itself failed: engine died, target unreachable, invariant broken, a measurement
    file missing or unreadable (exit 3)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_RUN_FAILED)


class Interrupted(VbenchError):
    """Stopped by Ctrl-C or SIGTERM; what was measured so far is written (exit 130)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_INTERRUPTED)
