"""The CLI's one error type and its exit codes.

Every failure a user or the machine causes (a bad option, a damaged file, a busy run
folder, a full disk, a diverging run) is raised as :class:`CLIError`; ``main`` prints its
message on one line and exits with its code. Anything else is a bug: one line too, with a
traceback only under ``--debug`` or ``SPIKEFORGE_DEBUG=1``.
"""

from __future__ import annotations

__all__ = [
    "EXIT_BUG",
    "EXIT_DIVERGED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CLIError",
    "Interrupted",
    "Reported",
    "Terminated",
    "TrainingDiverged",
]

EXIT_OK = 0
EXIT_BUG = 1  # an unexpected exception: a bug in spikeforge
EXIT_USAGE = 2  # a bad option or file, a busy or occupied run folder, a full disk (as argparse)
EXIT_DIVERGED = 3  # the loss became NaN or infinite
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT); SIGTERM gives 143


class CLIError(Exception):
    """A failure the user can fix; ``str(err)`` says what happened and what to do."""

    code = EXIT_USAGE

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class TrainingDiverged(CLIError):
    """The training loss became non-finite; nothing of that epoch was saved."""

    code = EXIT_DIVERGED


class Interrupted(CLIError):
    """Ctrl-C or SIGTERM; the message says what was saved and how to continue."""

    code = EXIT_INTERRUPTED


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that a command ends as on Ctrl-C."""


class Reported(CLIError):
    """A failure a worker process already printed; ``main`` only exits with its code."""
