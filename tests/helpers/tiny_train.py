"""A tiny linear-regression task for the Trainer's tests, also runnable as a script (torchrun included).

    python tests/helpers/tiny_train.py --run-dir RUN --max-steps 40 [--step-delay 0.05] [--distributed]

prints one JSON line: {"rank", "world_size", "resumed_from_step", "step", "metrics"}.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from intermask.training import Trainer, TrainerSettings, make_loader, seed_everything

FEATURES = 4
TRUE_WEIGHT = torch.tensor([[1.5, -2.0, 0.5, 3.0]])


def regression_dataset(samples: int = 40, seed: int = 0) -> TensorDataset:
    """inputs (sample, feature) and targets (sample, 1) = inputs @ TRUE_WEIGHT.T + 0.1 noise."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(samples, FEATURES, generator=generator)
    targets = inputs @ TRUE_WEIGHT.T + 0.1 * torch.randn(samples, 1, generator=generator)
    return TensorDataset(inputs, targets)


class RegressionTask:
    """Mean squared error of a linear model; its step draws from python, numpy and torch RNGs on purpose,
    so that a resume which lost any of those states would train differently."""

    kind = "regression"

    def __init__(self, step_delay: float = 0.0, gradient_scale: float = 1.0):
        self.model = nn.Linear(FEATURES, 1)
        self.step_delay = step_delay
        self.gradient_scale = gradient_scale
        self.seen_steps: list[int] = []
        self.gradient_norms: list[float] = []
        self.validation_modes: list[tuple[bool, bool]] = []

    def training_step(self, batch, step):
        inputs, targets = batch
        jitter = 0.01 * torch.randn_like(inputs) + 0.01 * float(np.random.normal()) + 0.01 * random.random()
        predictions = self.model(inputs + jitter)
        loss = self.gradient_scale * nn.functional.mse_loss(predictions, targets)
        self.seen_steps.append(step)
        if self.step_delay:
            time.sleep(self.step_delay)
        return loss, {"mse": float(loss.detach()) / self.gradient_scale}

    def validate(self, loader):
        self.validation_modes.append((self.model.training, torch.is_inference_mode_enabled()))
        errors = [nn.functional.mse_loss(self.model(inputs), targets) for inputs, targets in loader]
        return {"mse": float(torch.stack(errors).mean())}

    def on_after_step(self, step):
        norms = [parameter.grad.norm() for parameter in self.model.parameters()]
        self.gradient_norms.append(float(torch.stack(norms).norm()))

    def preview(self, step):
        shade = int(255 * min(1.0, step / 100))
        return {"weights": np.full((8, 12, 3), shade, dtype=np.uint8)}


def build_trainer(run_dir, max_steps, *, resume="auto", ckpt_every=5, step_delay=0.0, distributed=False,
                  seed=0, model_seed=0, config=None, gradient_scale=1.0, plain_loader=False,
                  **trainer_options) -> Trainer:
    """A Trainer over RegressionTask: 40 training samples in batches of 8 (5 steps per epoch)."""
    seed_everything(model_seed)
    task = RegressionTask(step_delay=step_delay, gradient_scale=gradient_scale)
    if plain_loader:  # a loader the Trainer knows nothing about: resume skips batches by iterating
        train = DataLoader(regression_dataset(), batch_size=8, shuffle=False)
    else:
        train = make_loader(regression_dataset(), batch_size=8, shuffle=True, drop_last=False, seed=seed,
                            distributed=distributed)
    val = make_loader(regression_dataset(16, seed=1), batch_size=8, shuffle=False)
    options = dict(lr=0.2, warmup_steps=3, milestones=(max_steps // 2,), gamma=0.5, log_every=5,
                   val_every=10, ckpt_every=ckpt_every, progress=False, seed=seed,
                   config=config if config is not None else {"model": {"features": FEATURES}, "seed": seed})
    options.update(trainer_options)
    return Trainer(task, train, val, run_dir, TrainerSettings(max_steps, resume=resume, **options))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--max-steps", type=int, default=40)
    parser.add_argument("--ckpt-every", type=int, default=5)
    parser.add_argument("--step-delay", type=float, default=0.0)
    parser.add_argument("--distributed", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    trainer = build_trainer(args.run_dir, args.max_steps, ckpt_every=args.ckpt_every,
                            step_delay=args.step_delay, distributed=args.distributed)
    metrics = trainer.fit()
    resumed = trainer.resume_info.step if trainer.resume_info is not None else None
    print(json.dumps({"rank": trainer.context.rank, "world_size": trainer.context.world_size,
                      "resumed_from_step": resumed, "step": trainer.step, "metrics": metrics}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
