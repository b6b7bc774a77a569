"""Where a training step's time goes: run ``python -m intermask.train`` and time its optimiser steps.

The run is the real one (same configuration, data, schedule and checkpoints); this script only wraps the Trainer's
step. It reports the mean wall time of ``--steps`` steps after ``--skip`` and, of those, the time spent in the
backward pass and in the transformer's frozen text features (the caption feature cache), and prints a
torch.profiler table of operators over three steps taken just before the timed ones.

    python scripts/profile_train.py --skip 150 --steps 60 -- transformer experiment=cpu data.max_frames=160 \\
        vq_ckpt=runs/synthetic/vqvae_cpu/last.pt train.max_steps=215 train.val_every=10000 train.ckpt_every=10000

Everything after ``--`` goes to ``intermask.train``; give a ``train.max_steps`` that covers skip + 3 + steps, and a
fresh run folder (``hydra.run.dir=...``), or it resumes. The timings go to stderr and, with --json, to a file.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from intermask.atomic import write_text_atomic
from intermask.training import tasks
from intermask.training.trainer import Trainer


class StepTimer:
    """Wall time per call of the wrapped functions, counted from the first timed step on."""

    def __init__(self, skip: int, steps: int, profiled: int = 3):
        self.skip, self.steps, self.profiled = skip, steps, profiled
        self.seen = 0
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.table: str | None = None

    @property
    def timing(self) -> bool:
        return self.skip + self.profiled < self.seen <= self.skip + self.profiled + self.steps

    def wrap(self, name: str, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            if not self.timing:
                return function(*args, **kwargs)
            start = time.perf_counter()
            result = function(*args, **kwargs)
            self.totals[name] += time.perf_counter() - start
            self.calls[name] += 1
            return result

        return timed

    def wrap_step(self, train_step):
        timed_step = self.wrap("step", train_step)

        @functools.wraps(train_step)
        def step(trainer, batch, module):
            self.seen += 1
            if self.seen == self.skip + 1:
                with profile(activities=[ProfilerActivity.CPU]) as profiler:
                    result = train_step(trainer, batch, module)
                    for _ in range(self.profiled - 1):
                        self.seen += 1
                        result = train_step(trainer, batch, module)
                self.table = profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=30)
                return result
            return timed_step(trainer, batch, module)

        return step

    def report(self) -> dict[str, float]:
        """Milliseconds per step of each wrapped part (a part called twice in a step counts both calls)."""
        steps = max(self.calls["step"], 1)
        parts = [name for name in ("step", "backward", "frozen_text") if name in self.totals]
        return {"steps": self.calls["step"], **{name: 1000 * self.totals[name] / steps for name in parts}}


def main(argv: list[str]) -> None:
    if "--" not in argv:
        raise SystemExit("usage: profile_train.py [--skip N] [--steps N] [--json OUT] -- MODEL key=value ...")
    split = argv.index("--")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip", type=int, default=100, help="steps before the profiled and timed ones")
    parser.add_argument("--steps", type=int, default=50, help="timed steps")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv[:split])

    timer = StepTimer(args.skip, args.steps)
    Trainer._train_step = timer.wrap_step(Trainer._train_step)
    torch.Tensor.backward = timer.wrap("backward", torch.Tensor.backward)
    tasks.TransformerTask._frozen_text = timer.wrap("frozen_text", tasks.TransformerTask._frozen_text)

    from intermask.train import main as train_main

    sys.argv = ["intermask.train", *argv[split + 1:]]
    try:
        train_main()
    finally:
        if timer.table is not None:
            print(timer.table, file=sys.stderr)
        report = timer.report()
        if args.json is not None:
            write_text_atomic(args.json, json.dumps(report, indent=2) + "\n")
        print(f"{report['steps']} timed steps, ms per step: "
              + ", ".join(f"{name} {value:.1f}" for name, value in report.items() if name != "steps"), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
