"""Self-describing, atomically written checkpoints.

A checkpoint is one `torch.save` file holding a dict of plain data and tensors only, so it loads with
`torch.load(weights_only=True)` and nothing in it can run code:

    format_version  int, FORMAT_VERSION
    kind            "vqvae" | "transformer" | "evaluator" (any non-empty name a task gives)
    model           the model's state_dict
    config          the resolved run config as plain dict/list/str/int/float/bool/None
    optimizer       optimizer state_dict, or None for a weights-only export
    scheduler       LR scheduler state_dict, or None
    step            optimizer steps completed
    epoch           epoch in progress, and `batch_in_epoch` batches of it already consumed
    rng             per-rank random states (python, numpy, torch, cuda) as lists and tensors
    metrics         latest validation metrics {name: float}

`sample` and `eval` rebuild a model from `config` and `model` alone.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_path, temporaries
from .errors import CheckpointError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = (1,)
REQUIRED_KEYS = ("format_version", "kind", "model", "config")
LAST_NAME = "last.pt"
BEST_NAME = "best.pt"
_ZIP_MAGIC = b"PK\x03\x04"


# ----------------------------------------------------------------------------------------------- config


def plain_config(config: Any) -> dict:
    """The config as plain nested dicts/lists of str/int/float/bool/None; OmegaConf nodes are resolved.

    Tuples become lists, paths strings, dataclasses dicts; anything else (tensors, arrays, objects) raises
    ValueError naming where in the config it sits, since it would not survive a weights-only load.
    """
    if config is None:
        return {}
    config = _omegaconf_to_container(config)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    if not isinstance(config, Mapping):
        raise ValueError(f"config must be a mapping, got {type(config).__name__}")
    return _plain(config, "config")


def _omegaconf_to_container(value: Any) -> Any:
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:  # omegaconf is a dependency, but plain dicts need nothing from it
        return value
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _plain(value: Any, where: str) -> Any:
    value = _omegaconf_to_container(value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if hasattr(value, "dtype") and getattr(value, "shape", None) == ():
        # numpy / torch scalars that slipped into a config: keep the number, drop the array type
        item = value.item()
        if isinstance(item, (bool, int, float)):
            return item
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        plain = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: keys must be strings, got {key!r} ({type(key).__name__})")
            plain[key] = _plain(item, f"{where}.{key}")
        return plain
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise ValueError(
        f"{where}: {type(value).__name__} is not plain data (dict/list/str/int/float/bool/None)"
    )


def config_differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two plain configs (added and removed keys included)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        changed = []
        for key in sorted(set(old) | set(new), key=str):
            where = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                changed.append(where)
            else:
                changed.extend(config_differences(old[key], new[key], where))
        return changed
    if _same_value(old, new):
        return []
    return [prefix or "<root>"]


def _same_value(old: Any, new: Any) -> bool:
    if isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new):
        return True
    if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
        return len(old) == len(new) and all(_same_value(a, b) for a, b in zip(old, new))
    return type(old) is type(new) and old == new


# ------------------------------------------------------------------------------------------ save / load


def save_checkpoint(path: str | os.PathLike, payload: Mapping[str, Any]) -> Path:
    """Write `payload` to `path` atomically: either the old file or the complete new one is there, never half.

    The bytes go to a temporary file in the same directory, are fsynced, then `os.replace`d over `path`, and
    the directory entry is fsynced (``intermask.atomic.atomic_path``). On any error the temporary file is
    removed and the previous checkpoint stays as it was. `format_version` is filled in; `config` is converted to plain data.
    """
    path = Path(path)
    payload = _checked_payload(payload, path)
    with atomic_path(path, durable=True) as temporary:
        torch.save(payload, temporary)
    return path


def remove_stale_temporaries(directory: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Delete temporary files that a process killed in the middle of `save_checkpoint` left in `directory`.

    Only call this while no other process is saving into the same directory.
    """
    removed = temporaries(directory, name)
    for temporary in removed:
        temporary.unlink(missing_ok=True)
    return removed


def _checked_payload(payload: Mapping[str, Any], path: Path) -> dict:
    if not isinstance(payload, Mapping):
        raise ValueError(f"checkpoint payload for {path} must be a dict, got {type(payload).__name__}")
    payload = dict(payload)
    version = payload.setdefault("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ValueError(f"checkpoint payload for {path}: format_version {version!r}, writer is {FORMAT_VERSION}")
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise ValueError(f"checkpoint payload for {path} lacks {missing}")
    kind = payload["kind"]
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"checkpoint payload for {path}: kind must be a non-empty string, got {kind!r}")
    payload["config"] = plain_config(payload["config"])
    _check_weights_only_safe(payload, "payload")
    return payload


# What torch.load(weights_only=True) accepts, restricted to what a training payload needs.
_SAFE_LEAVES = (torch.Tensor, str, bytes, int, float, bool, type(None), torch.Size, torch.dtype, torch.device)


def _check_weights_only_safe(value: Any, where: str) -> None:
    """Fail at save time, naming the entry, rather than at load time with an unpickling error."""
    if isinstance(value, _SAFE_LEAVES):
        return
    if isinstance(value, dict):  # OrderedDict included
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise ValueError(f"{where}: key {key!r} ({type(key).__name__}) cannot be loaded weights-only")
            _check_weights_only_safe(item, f"{where}[{key!r}]")
        return
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        for index, item in enumerate(value):
            _check_weights_only_safe(item, f"{where}[{index}]")
        return
    raise ValueError(
        f"{where}: {type(value).__module__}.{type(value).__name__} cannot be loaded with weights_only=True; "
        "store tensors, lists or plain numbers instead"
    )


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu", kind: str | None = None
) -> dict:
    """Load a checkpoint written by `save_checkpoint` with `torch.load(weights_only=True)`.

    Raises CheckpointError naming the file when it is missing, empty, truncated, corrupt, not a checkpoint,
    of an unsupported format_version, or (with `kind`) of another kind than expected.
    """
    path = Path(path)
    _check_readable_file(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"{path}: holds objects that cannot be loaded safely (weights_only=True): {_first_line(error)}"
        ) from error
    except (RuntimeError, EOFError, KeyError, ValueError, OSError, zipfile.BadZipFile) as error:
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({_first_line(error)})") from error
    _check_stored_bytes(path)
    payload = check_payload(payload, path, kind)
    _check_finite_weights(payload, path)
    return payload


def _check_stored_bytes(path: Path) -> None:
    """Every record's CRC-32, which torch writes but does not check on loading: damaged bytes inside a tensor would
    otherwise load as silently wrong weights."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError) as error:
        raise CheckpointError(f"{path}: corrupt checkpoint ({_first_line(error)})") from error
    if damaged is not None:
        raise CheckpointError(f"{path}: corrupt checkpoint: record {damaged!r} fails its CRC check (damaged on disk "
                              f"or in a copy)")


def _check_finite_weights(payload: dict, path: Path) -> None:
    model = payload["model"]
    for key, value in model.items() if isinstance(model, dict) else ():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{path}: weight {key!r} holds NaN or infinite values")


def check_payload(payload: Any, path: str | os.PathLike, kind: str | None = None) -> dict:
    """Validate a loaded checkpoint dict: required keys, supported format_version, expected kind."""
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path}: not a checkpoint (top-level object is {type(payload).__name__}, not dict)")
    if "format_version" not in payload:
        raise CheckpointError(f"{path}: not a checkpoint of this library (no format_version)")
    version = payload["format_version"]
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise CheckpointError(
            f"{path}: format_version {version!r} unsupported (supported: {list(SUPPORTED_FORMAT_VERSIONS)})"
        )
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{path}: not a complete checkpoint, missing {missing}")
    if kind is not None and payload["kind"] != kind:
        raise CheckpointError(f"{path}: kind {kind!r} expected, got {payload['kind']!r}")
    return payload


def _check_readable_file(path: Path) -> None:
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint file not found")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path}: empty file (0 bytes), truncated write")
    with path.open("rb") as file:
        head = file.read(len(_ZIP_MAGIC))
    if head != _ZIP_MAGIC:
        raise CheckpointError(f"{path}: not a checkpoint (no torch zip header; {size} bytes starting {head!r})")


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def peek_kind(path: str | os.PathLike) -> str:
    """The `kind` of a checkpoint without reading its tensors into memory (memory-mapped load)."""
    path = Path(path)
    _check_readable_file(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError, ValueError, OSError) as error:
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({_first_line(error)})") from error
    return check_payload(payload, path)["kind"]


# ------------------------------------------------------------------------------------------- discovery


def latest_checkpoint(directory: str | os.PathLike, kind: str | None = None, name: str = LAST_NAME) -> Path:
    """The most recently written `name` (default last.pt) anywhere under a runs root, by modification time.

    With `kind`, only checkpoints of that kind count; unreadable candidates are skipped with a warning.
    Used for defaults such as `vq_ckpt=latest`.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: runs directory not found")
    candidates = sorted(directory.rglob(name), key=lambda candidate: candidate.stat().st_mtime, reverse=True)
    for candidate in candidates:
        if kind is None:
            return candidate
        try:
            if peek_kind(candidate) == kind:
                return candidate
        except CheckpointError as error:
            logger.warning("skipping unreadable checkpoint: %s", error)
    wanted = f"{name} of kind {kind!r}" if kind else name
    raise CheckpointError(f"{directory}: no {wanted} found under this directory")


def resolve_checkpoint(value: str | os.PathLike, runs_root: str | os.PathLike, kind: str | None = None) -> Path:
    """`"latest"` means the newest last.pt of `kind` under `runs_root`; a run directory means its last.pt; anything
    else is a checkpoint file."""
    if isinstance(value, str) and value == "latest":
        return latest_checkpoint(runs_root, kind=kind)
    path = Path(value)
    if path.is_dir() and (path / LAST_NAME).is_file():
        return path / LAST_NAME
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    return path
