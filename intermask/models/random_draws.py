"""Random draws that take an optional ``torch.Generator``.

Numbers are drawn on the generator's device and moved to the data's, so a CPU generator reproduces the same
masks and samples on any device; without a generator they come from the device's global generator.
"""
from __future__ import annotations

import torch


def uniform(shape: tuple, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
    """U(0, 1) draws of ``shape`` on ``device``."""
    draw_device = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=draw_device).to(device)


def bernoulli(like: torch.Tensor, prob: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """A bool tensor shaped like ``like``, each entry True with probability ``prob``."""
    return uniform(tuple(like.shape), like.device, generator) < prob


def gumbel_noise(shape: tuple, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard Gumbel noise -log(-log U); drawn on the generator's device, returned on ``device``."""
    exponential = -torch.log(uniform(shape, device, generator).clamp(min=1e-20))
    return -torch.log(exponential.clamp(min=1e-20))
