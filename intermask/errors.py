"""Errors that describe a user's mistake (a missing file, a bad input) rather than a bug."""
from __future__ import annotations


class IntermaskError(Exception):
    """Base class of the project's user-facing errors."""


class DatasetError(IntermaskError, FileNotFoundError):
    """A dataset file or folder is missing or malformed."""


class ConfigError(IntermaskError, ValueError):
    """A configuration value cannot be used."""


def user_facing_errors() -> tuple[type[BaseException], ...]:
    """Every error type reported to a user as one line: the project's own and bad-input errors of lower layers."""
    from .training.checkpoint import CheckpointError

    # a path that exists but is the wrong kind of thing, or cannot be written, is the user's to fix too
    path_errors = (FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError)
    return (IntermaskError, CheckpointError, FileNotFoundError, ValueError, *path_errors)
