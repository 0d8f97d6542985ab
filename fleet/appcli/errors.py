"""The one error type of `fleet app`: a one-line message and the exit code it means."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
"""The hub or a cluster failed, an operation failed, or (diff --exit-code) differences."""
EXIT_BAD_INPUT = 2
"""The request cannot be done as asked (bad argument, operation in progress, rollback refused)."""


class CliError(Exception):
    """Printed as `fleet: <message>` on stderr; `code` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


class AppNotFound(CliError):
    """The named Application does not exist in the hub namespace."""
