"""Learning-rate schedule: linear warm-up, then multi-step decay (the paper's) or a smooth decay to zero.

Both stages of the model use the same shape of schedule, stepped once per optimizer step (warm-up steps
included, so a milestone counts steps from the very first one):

    VQ-VAE       warm-up a quarter epoch, then x0.1 at 70% and 85% of all steps
    transformer  warm-up a quarter epoch, then x1/3 at 50%, 70% and 85% of all steps

Instead of the milestones, the rate may fall from its full value at the end of the warm-up to zero after the last
step, along a straight line ("linear") or half a cosine ("cosine"); such a decay needs the run's length.

The multiplier is a pure function of the step so that `torch.optim.lr_scheduler.LambdaLR` can rebuild it
on resume from the scheduler's saved step count alone.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.optim.lr_scheduler import LambdaLR


DECAYS = ("step", "linear", "cosine")


def lr_lambda(step: int, warmup_steps: int, milestones: Sequence[int], gamma: float, decay: str = "step",
              total_steps: int = 0) -> float:
    """Multiplier of the base learning rate for the optimizer step with 0-based index `step`.

    Warm-up rises linearly as (step + 1) / warmup_steps, so the very first step already moves the weights
    and step `warmup_steps - 1` reaches the full rate. With the "step" decay every milestone m with m <= step
    multiplies by gamma; with "linear" or "cosine" the rate falls from 1 at step `warmup_steps` towards 0 at step
    `total_steps` (the last step, `total_steps - 1`, still moves the weights), milestones and gamma unused.
    """
    warmup = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    if decay == "step":
        return warmup * gamma ** bisect.bisect_right(milestones, step)
    progress = min(max(step - warmup_steps, 0) / max(total_steps - warmup_steps, 1), 1.0)
    if decay == "linear":
        return warmup * (1.0 - progress)
    return warmup * 0.5 * (1.0 + math.cos(math.pi * progress))


def milestones_from_fractions(total_steps: int, fractions: Sequence[float]) -> tuple[int, ...]:
    """Steps at which the rate decays, given as fractions of the whole run, e.g. (0.7, 0.85)."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    for fraction in fractions:
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"milestone fractions must lie in (0, 1], got {tuple(fractions)}")
    if list(fractions) != sorted(fractions):
        raise ValueError(f"milestone fractions must be increasing, got {tuple(fractions)}")
    return tuple(round(fraction * total_steps) for fraction in fractions)


def warmup_steps_from_epoch(steps_per_epoch: int, fraction: float = 0.25) -> int:
    """Warm-up length as a fraction of one epoch (the paper warms up over a quarter epoch)."""
    if steps_per_epoch < 0 or fraction < 0:
        raise ValueError(f"steps_per_epoch and fraction must be >= 0, got {steps_per_epoch}, {fraction}")
    return math.floor(steps_per_epoch * fraction)


@dataclass(frozen=True)
class DecaySchedule:
    """Where (as fractions of the run) and by how much the learning rate steps down."""

    fractions: tuple[float, ...]
    gamma: float

    def milestones(self, total_steps: int) -> tuple[int, ...]:
        return milestones_from_fractions(total_steps, self.fractions)


VQVAE_DECAY = DecaySchedule(fractions=(0.7, 0.85), gamma=0.1)
TRANSFORMER_DECAY = DecaySchedule(fractions=(0.5, 0.7, 0.85), gamma=1 / 3)
DECAY_SCHEDULES = {"vqvae": VQVAE_DECAY, "transformer": TRANSFORMER_DECAY}


def check_schedule(warmup_steps: int, milestones: Sequence[int], gamma: float, decay: str = "step",
                   total_steps: int = 0) -> None:
    """Raise ValueError for a schedule that cannot be meant: negative steps, unsorted milestones, gamma <= 0, an
    unknown decay, a smooth decay without the run's length."""
    if decay not in DECAYS:
        raise ValueError(f"the learning rate's decay must be one of {', '.join(DECAYS)}, got {decay!r}")
    if decay != "step" and total_steps < 1:
        raise ValueError(f"a {decay} decay needs the run's length in steps (>= 1), got {total_steps}")
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
    if any(int(m) != m or m < 0 for m in milestones):
        raise ValueError(f"milestones must be non-negative integers, got {tuple(milestones)}")
    if list(milestones) != sorted(milestones):
        raise ValueError(f"milestones must be increasing, got {tuple(milestones)}")
    if not gamma > 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")


def schedule_multiplier(warmup_steps: int, milestones: Sequence[int], gamma: float, decay: str = "step",
                        total_steps: int = 0):
    """`lr_lambda` with this schedule bound: step -> multiplier of the base learning rate."""
    check_schedule(warmup_steps, milestones, gamma, decay, total_steps)
    return functools.partial(
        lr_lambda, warmup_steps=warmup_steps, milestones=tuple(int(m) for m in milestones), gamma=gamma,
        decay=decay, total_steps=total_steps,
    )


def build_scheduler(
    optimizer: torch.optim.Optimizer, warmup_steps: int, milestones: Sequence[int], gamma: float,
    decay: str = "step", total_steps: int = 0,
) -> LambdaLR:
    """LambdaLR over `lr_lambda`; step it once after every optimizer step."""
    return LambdaLR(optimizer, schedule_multiplier(warmup_steps, milestones, gamma, decay, total_steps))
