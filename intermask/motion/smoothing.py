"""A zero-phase low-pass over time for motion features: what a decoder adds above the motion's own frequencies goes.

The kernel is a windowed sinc (``scipy.signal.firwin``, Hamming) half a second long, symmetric (no delay) and of unit
gain at 0 Hz, so it commutes with any per-channel affine map such as z-scoring. Each clip's ends are extended by
odd reflection (``2 x[0] - x[k]``), which keeps a steady drift steady up to the last frame instead of pulling it
towards a standstill.
"""
from __future__ import annotations

import math

import torch
from scipy.signal import firwin

KERNEL_SECONDS = 0.5  # 15 taps at 30 fps


def check_cutoff(value, fps: float, where: str) -> float | None:
    """A cutoff in Hz, checked: None (no filter) or a finite number strictly between 0 and the Nyquist ``fps / 2``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 < value < fps / 2:
        raise ValueError(f"{where} must be null (no filter) or a cutoff in Hz strictly between 0 and {fps / 2:g} "
                         f"(half of {fps:g} fps), got {value!r}")
    return float(value)


def lowpass_taps(cutoff_hz: float, fps: float) -> torch.Tensor:
    """The filter's taps (an odd number, ``KERNEL_SECONDS`` long) for ``cutoff_hz`` at ``fps``."""
    cutoff_hz = check_cutoff(cutoff_hz, fps, "lowpass cutoff")
    half = max(1, int(KERNEL_SECONDS * fps) // 2)
    return torch.as_tensor(firwin(2 * half + 1, cutoff_hz, fs=fps), dtype=torch.float32)


def lowpass_frames(features: torch.Tensor, lengths: torch.Tensor, cutoff_hz: float, fps: float,
                   channels: torch.Tensor | None = None) -> torch.Tensor:
    """``features`` (batch, ..., frames, dim) low-passed over their frames, each clip over its first ``lengths``
    (batch,) frames only; rows past a clip's length, clips no longer than half the kernel (7 frames at 30 fps: too
    short to reflect), and channels outside the bool mask ``channels`` (dim,) (None: all) come back unchanged.
    Returns a new tensor."""
    if features.dim() < 2:
        raise ValueError(f"features: expected (batch, ..., frames, dim), got shape {tuple(features.shape)}")
    lengths = torch.as_tensor(lengths).reshape(-1)
    if lengths.shape[0] != features.shape[0]:
        raise ValueError(f"lengths: expected {features.shape[0]} clip lengths, got {lengths.shape[0]}")
    taps = lowpass_taps(cutoff_hz, fps).to(features.device, features.dtype)
    half = len(taps) // 2
    out = features.clone()
    for index, length in enumerate(lengths.tolist()):
        length = min(int(length), features.shape[-2])
        if length <= half:
            continue
        clip = features[index, ..., :length, :]
        start, end = clip[..., :1, :], clip[..., -1:, :]
        padded = torch.cat([2 * start - clip[..., 1:half + 1, :].flip(-2), clip,
                            2 * end - clip[..., -half - 1:-1, :].flip(-2)], dim=-2)
        filtered = sum(weight * padded[..., shift:shift + length, :] for shift, weight in enumerate(taps))
        if channels is not None:
            filtered = torch.where(channels.to(features.device), filtered, clip)
        out[index, ..., :length, :] = filtered
    return out
