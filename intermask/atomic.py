"""Atomic file writes: a file either exists complete or not at all, even if writing is interrupted.

Every writer of the project (checkpoints, normalisation statistics, caches, results) goes through ``atomic_path``:
the bytes go to a temporary file in the same folder, which is renamed over the target only once complete.
"""
from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

TEMPORARY_MARK = ".tmp"  # temporaries are named ".<name>.<pid>.<random>.tmp<suffix>"


@contextlib.contextmanager
def atomic_path(path, durable: bool = False):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, on failure remove it.

    The temporary name is unique per writer and ends in ``path``'s suffix, so tools that pick a format from the
    extension (ffmpeg, ``np.save``) still work. ``durable``: fsync the file before the rename and the folder
    after it, so that a power cut cannot leave the new name pointing at lost bytes (checkpoints, statistics).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMPORARY_MARK}{path.suffix}")
    try:
        yield temporary
        if durable:
            _fsync(temporary, os.O_RDONLY)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    if durable:
        _fsync(path.parent, os.O_RDONLY)  # the rename itself; not possible on every platform (skipped there)


def temporaries(directory, name: str | None = None) -> list[Path]:
    """The temporary files that interrupted ``atomic_path`` writes of ``name`` (any name if None) left behind."""
    pattern = f".{name}.*{TEMPORARY_MARK}*" if name else f".*{TEMPORARY_MARK}*"
    return sorted(path for path in Path(directory).glob(pattern) if path.is_file())


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs on this machine (a file it left behind may still be in use)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically. Returns the path."""
    path = Path(path)
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return path


def _fsync(path: Path, flags: int) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(path, flags)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
