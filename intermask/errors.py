"""Errors that describe a user's mistake (a missing file, a bad input) rather than a bug.

Every layer may raise them; the entry points report them as one line (``cli.guarded``).
"""
from __future__ import annotations


class IntermaskError(Exception):
    """Base class of the project's user-facing errors."""


class DatasetError(IntermaskError, FileNotFoundError):
    """A dataset file or folder is missing or malformed."""


class ConfigError(IntermaskError, ValueError):
    """A configuration value cannot be used."""


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, or not what the caller expected; the message names the file."""


class UsageError(Exception):
    """A mistake in what a command was asked to do (its flags or inputs), reported without a traceback."""


def user_facing_errors() -> tuple[type[BaseException], ...]:
    """Every error type reported to a user as one line: the project's own and bad-input errors of lower layers."""
    # a path that exists but is the wrong kind of thing, or cannot be written, is the user's to fix too
    path_errors = (FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError)
    return (IntermaskError, CheckpointError, FileNotFoundError, ValueError, *path_errors)
