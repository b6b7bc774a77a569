"""Synthetic-data generation speed on one CPU core: clips per second, in memory and written to disk.

    python scripts/bench_synthetic.py [--clips 160] [--repeats 3] [--seed 0] [--json results.json]

Clip i has family i % 16, so a multiple of 16 clips weighs every family equally. Imports and caches are
warmed up first. Each measurement is repeated and the best and median rounds are reported: on a shared
machine other jobs slow some rounds down. The per-CPU-second rates count this process's CPU time only.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from intermask.data.synthetic import FAMILY_NAMES, generate_clip, generate_dataset


def timed(work) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of ``work()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=160)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(1)

    for index in range(len(FAMILY_NAMES)):
        generate_clip(index, seed=args.seed + 1)
    frames = sum(generate_clip(index, seed=args.seed).num_frames for index in range(args.clips))

    def in_memory():
        for index in range(args.clips):
            generate_clip(index, seed=args.seed)

    def written():
        with tempfile.TemporaryDirectory() as folder:
            generate_dataset(Path(folder) / "synthetic", num_clips=args.clips, seed=args.seed, progress=False)

    results = {"clips": args.clips, "repeats": args.repeats, "seed": args.seed,
               "torch_threads": torch.get_num_threads(), "mean_seconds_per_clip": frames / args.clips / 30}
    for name, work in (("in_memory", in_memory), ("written", written)):
        rounds = [timed(work) for _ in range(args.repeats)]
        rates = [args.clips / wall for wall, _ in rounds]
        results[f"{name}_clips_per_second_best"] = max(rates)
        results[f"{name}_clips_per_second_median"] = statistics.median(rates)
        results[f"{name}_clips_per_cpu_second"] = args.clips / statistics.median(cpu for _, cpu in rounds)
    results["processor"] = platform.processor() or platform.machine()
    results["python"] = platform.python_version()
    for key, value in results.items():
        print(f"{key:>36}: {value:.2f}" if isinstance(value, float) else f"{key:>36}: {value}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
