"""Errors that reach the user as one line (the CLI prints ``str(exc)`` and exits)."""
from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: a one-line message and exit code 2 by default."""

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM): raised like Ctrl-C's KeyboardInterrupt, so a run
    commits the rows it has finished before it exits (with 128 + 15 = 143)."""

    exit_code = 143


def as_user_error(exc: BaseException) -> UserError:
    return exc if isinstance(exc, UserError) else UserError(str(exc))
