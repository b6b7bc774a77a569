"""Synthetic-data generation speed on one CPU core: clips per second, in memory and written to disk.

    python scripts/bench_synthetic.py [--clips 320] [--seed 0] [--json results.json]

Clip i has family i % 16, so a multiple of 16 clips weighs every family equally. The first 16 clips warm up
imports and caches and are not timed.
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from intermask.data.synthetic import FAMILY_NAMES, generate_clip, generate_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=320)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(1)

    for index in range(len(FAMILY_NAMES)):
        generate_clip(index, seed=args.seed + 1)

    start = time.perf_counter()
    frames = sum(generate_clip(index, seed=args.seed).num_frames for index in range(args.clips))
    in_memory = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        generate_dataset(Path(folder) / "synthetic", num_clips=args.clips, seed=args.seed, progress=False)
        on_disk = time.perf_counter() - start

    results = {
        "clips": args.clips,
        "seed": args.seed,
        "torch_threads": torch.get_num_threads(),
        "mean_seconds_per_clip": frames / args.clips / 30,
        "in_memory_clips_per_second": args.clips / in_memory,
        "written_clips_per_second": args.clips / on_disk,
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }
    for key, value in results.items():
        print(f"{key:>28}: {value:.2f}" if isinstance(value, float) else f"{key:>28}: {value}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
