"""Time video rendering of a two-person clip on one CPU core.

Usage: python scripts/bench_render.py [--seconds 10] [--format mp4|gif] [--cores 1] [--out DIR]
The clip is made here (two people walking around each other with swinging arms), so no data is needed.
The requirement it checks: 10 s of motion (300 frames) renders in under 15 s on one core.
"""
from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from intermask.motion.kinematics import forward_kinematics
from intermask.motion.rotation import axis_angle_to_matrix, yaw_matrix
from intermask.motion.skeleton import REST_OFFSETS
from intermask.outputs.video import ClipRenderer, render_video

BUDGET_SECONDS_PER_300_FRAMES = 15.0


def walking_pair(num_frames: int, fps: float = 30.0) -> np.ndarray:
    """Two people circling each other at 1.2 m apart, legs and arms swinging: (2, frame, 22, 3)."""
    t = np.arange(num_frames) / fps
    swing = np.sin(2 * np.pi * 1.0 * t)
    axis_angles = np.zeros((2, num_frames, 22, 3))
    axis_angles[:, :, 1, 0], axis_angles[:, :, 2, 0] = 0.45 * swing, -0.45 * swing  # hips
    axis_angles[:, :, 4, 0] = axis_angles[:, :, 5, 0] = 0.4 * (1 + np.sin(2 * np.pi * t - 1)) / 2  # knees
    axis_angles[:, :, 16, 2], axis_angles[:, :, 17, 2] = -1.2, 1.2  # arms down
    axis_angles[:, :, 16, 1], axis_angles[:, :, 17, 1] = 0.4 * swing, 0.4 * swing  # arm swing
    rotations = axis_angle_to_matrix(axis_angles)
    angle = 0.3 * t
    for person, phase in enumerate((0.0, np.pi)):
        # walking tangentially around the circle: facing turns with the position angle
        rotations[person, :, 0] = yaw_matrix(angle + phase + np.pi / 2)
    root = np.zeros((2, num_frames, 3))
    for person, phase in enumerate((0.0, np.pi)):
        root[person, :, 0] = 0.6 * np.sin(angle + phase)
        root[person, :, 2] = 0.6 * np.cos(angle + phase)
    root[..., 1] = 0.93
    return forward_kinematics(root, rotations, REST_OFFSETS).astype(np.float32)


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (ffmpeg)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--format", choices=("mp4", "gif"), default="mp4")
    parser.add_argument("--cores", type=int, default=1, help="CPU cores this process and ffmpeg may use")
    parser.add_argument("--out", type=Path, default=None, help="keep the video in this folder")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):  # ffmpeg, a child process, inherits the affinity
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.cores])
    num_frames = int(round(args.seconds * 30))
    joints = walking_pair(num_frames)
    text = "two people walk around each other in a slow circle, swinging their arms"

    start = time.perf_counter()
    renderer = ClipRenderer(joints, text)
    for frame in range(num_frames):
        renderer.frame(frame)
    drawing = time.perf_counter() - start

    out_dir = args.out or Path(tempfile.mkdtemp(prefix="bench_render_"))
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    written = render_video(out_dir / f"bench.{args.format}", joints, text)
    total, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start

    budget = BUDGET_SECONDS_PER_300_FRAMES * num_frames / 300
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "all"
    print(f"cores: {cores}  frames: {num_frames}  size: {renderer.width}x{renderer.height}")
    print(f"drawing only:      {drawing:6.2f} s  ({num_frames / drawing:6.1f} frames/s)")
    print(f"video {written.suffix[1:]:>4} total:  {total:6.2f} s  ({num_frames / total:6.1f} frames/s)"
          f"  budget {budget:.1f} s: {'ok' if total < budget else 'TOO SLOW'}")
    # on a shared machine wall time includes waiting for the core; CPU time is what the work itself costs
    print(f"video cpu time (python + ffmpeg): {cpu:6.2f} s  budget {budget:.1f} s: {'ok' if cpu < budget else 'TOO SLOW'}")
    print(f"written: {written} ({written.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
