"""How the models run on a device, chosen by settings read by training, sampling and evaluation alike.

``device`` = "auto" | "cpu" | "cuda" | "cuda:N": "auto" means CUDA when torch sees a GPU, else the CPU.

``amp`` = "auto" | "bf16" | "off": "auto" means bf16 autocast on a CUDA device that supports it, and for sampling
(``inference``) also on a CPU with bf16 matrix units (AMX), float32 elsewhere; "bf16" asks for it on any device;
"off" keeps float32. On a CPU, training in bf16 is slower (the CPU recipe's transformer training step took 1,057 ms
under it against 839 ms in float32 on two cores with AMX, its fused attention's backward pass three times as long),
while sampling is faster: the recipe's transformer generated 96 clips in 13.1 s instead of 17.6 s, from
distributions 0.0002 nats a token away from float32's (docs/performance.md: on this CPU). The VQ decoder always
runs in float32 (``InterMask.decode``).

``compile`` = "auto" | true | false: torch.compile. "auto" means on for CUDA, where fusing the transformer's
many small elementwise operations made its training step 1.7x and batched sampling 2.2x faster (H200, bf16), and
off on a CPU, where compiling takes minutes and the matrix products it cannot speed up dominate.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Mapping

import torch

from .errors import ConfigError

AMP_CHOICES = ("auto", "bf16", "off")


def resolve_device(name: str | torch.device) -> torch.device:
    """The device ``name`` means on this machine; a name that is no device, or a GPU it lacks, is a ConfigError."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError(f"device={name!r} is no device; use auto, cpu, cuda or cuda:N") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name} but this torch sees no CUDA GPU; use device=auto or device=cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"device={name} but this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    return device


def cpu_has_bf16_units() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AMX tiles), where bf16 sampling pays off."""
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(probe()) if probe is not None else False


def resolve_amp(amp: str | bool | None, device: torch.device, inference: bool = False) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device``, or None for float32 (True/False/None are accepted too);
    ``inference``: for sampling, where "auto" also means bf16 on a CPU with ``cpu_has_bf16_units``."""
    if amp is True:
        amp = "bf16"
    elif amp is False or amp is None:
        amp = "off"
    if amp not in AMP_CHOICES:
        raise ValueError(f"amp must be one of {AMP_CHOICES}, got {amp!r}")
    if amp == "auto":
        use_bf16 = ((device.type == "cuda" and torch.cuda.is_bf16_supported())
                    or (inference and device.type == "cpu" and cpu_has_bf16_units()))
        return torch.bfloat16 if use_bf16 else None
    return torch.bfloat16 if amp == "bf16" else None


def autocast(amp: str | bool | None, device: torch.device, inference: bool = False):
    """A context manager running its block under ``amp`` on ``device`` (``inference``: see ``resolve_amp``)."""
    return autocast_to(resolve_amp(amp, device, inference), device)


def autocast_to(dtype: torch.dtype | None, device: torch.device):
    """A context manager running its block under autocast to ``dtype`` (a ``resolve_amp`` result; None: float32)."""
    return nullcontext() if dtype is None else torch.autocast(device_type=device.type, dtype=dtype)


def resolve_compile(setting: str | bool | None, device: torch.device) -> bool:
    """Whether to torch.compile on ``device`` for a ``compile`` setting ("auto", True/False; None is False)."""
    if isinstance(setting, bool) or setting is None:
        return bool(setting)
    if setting != "auto":
        raise ValueError(f"compile must be 'auto', true or false, got {setting!r}")
    return device.type == "cuda"


def check_settings(settings: Mapping, where: str) -> None:
    """Raise ConfigError naming ``where.amp`` or ``where.compile`` when either value in ``settings`` is unknown,
    so a run stops before it loads data or models."""
    for name, resolve in (("amp", resolve_amp), ("compile", resolve_compile)):
        try:
            resolve(settings.get(name), torch.device("cpu"))
        except ValueError as error:
            raise ConfigError(f"{where}.{name}: {error}") from None
