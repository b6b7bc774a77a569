"""Draw one frame grid per synthetic interaction family, to look at the motions by eye.

    python scripts/plot_synthetic_families.py [--out /tmp/synthetic_families] [--seed 0] [--frames 6]

Each PNG has three rows. Row 1: evenly spaced frames seen from the side, person 1 on the left of the page
(person 1 blue, person 2 red; left limbs solid, right limbs dashed; left wrist a circle, right wrist a square,
head a triangle). Row 2: the same frames seen from behind person 1, so the page's right is person 1's right.
Row 3: both pelvis paths seen from above (+Y toward the viewer: counterclockwise on the page is
counterclockwise from above), with planted-foot marks, and the captions. All views are orthographic
projections by rotations, never reflections.
"""
from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from intermask.data.synthetic import FAMILY_NAMES, generate_clip  # noqa: E402
from intermask.motion.skeleton import KINEMATIC_CHAINS  # noqa: E402

COLOURS = ("tab:blue", "tab:red")
LEFT_CHAINS = {1, 4}  # indices in KINEMATIC_CHAINS of the left leg and the left arm
RIGHT_CHAINS = {0, 3}
UP = np.array([0.0, 1.0, 0.0])


def facing(joints_frame):
    """Ground facing (x, z) of one person's pose (22, 3): up x (left hip - right hip)... as a unit 3-vector."""
    left = joints_frame[1] - joints_frame[2]
    forward = np.cross(left, UP)
    forward[1] = 0.0
    return forward / np.linalg.norm(forward)


def project(points, screen_right):
    """Orthographic view whose page-right is ``screen_right`` (horizontal unit vector) and page-up is +Y."""
    return np.stack([points @ screen_right, points[..., 1]], -1)


def draw_view(ax, joints, frame, screen_right, centre, half_width):
    for person, colour in enumerate(COLOURS):
        pose = project(joints[person, frame], screen_right)
        for index, chain in enumerate(KINEMATIC_CHAINS):
            style = "--" if index in RIGHT_CHAINS else "-"
            ax.plot(*pose[list(chain)].T, style, color=colour, lw=1.6)
        ax.scatter(*pose[20], color=colour, marker="o", s=26, zorder=3)
        ax.scatter(*pose[21], color=colour, marker="s", s=26, zorder=3)
        ax.scatter(*pose[15], color=colour, marker="^", s=22, zorder=3)
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set_xlim(centre - half_width, centre + half_width)
    ax.set_ylim(-0.1, 2.0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([0, 1, 2])
    ax.tick_params(labelsize=6)


def plot_clip(clip, path: Path, num_frames: int) -> None:
    joints = clip.joints
    frames = np.linspace(0, clip.num_frames - 1, num_frames).round().astype(int)
    fig = plt.figure(figsize=(2.6 * num_frames, 9.5))
    grid = fig.add_gridspec(3, num_frames, height_ratios=(1.0, 1.0, 1.15))
    for column, frame in enumerate(frames):
        between = joints[1, frame, 0] - joints[0, frame, 0]
        between[1] = 0.0
        side_right = between / max(np.linalg.norm(between), 1e-6)
        if np.linalg.norm(between) < 1e-6:
            side_right = np.array([1.0, 0.0, 0.0])
        centre = 0.5 * (joints[0, frame, 0] + joints[1, frame, 0]) @ side_right
        spread = abs(between @ side_right)
        half_width = max(1.0, 0.5 * spread + 0.6)
        ax = fig.add_subplot(grid[0, column])
        draw_view(ax, joints, frame, side_right, centre, half_width)
        ax.set_title(f"side  t={frame / 30:.1f}s", fontsize=8)
        behind_right = -np.cross(UP, facing(joints[0, frame]))  # person 1's right, seen from behind
        centre = 0.5 * (joints[0, frame, 0] + joints[1, frame, 0]) @ behind_right
        spread = abs((joints[1, frame, 0] - joints[0, frame, 0]) @ behind_right)
        ax = fig.add_subplot(grid[1, column])
        draw_view(ax, joints, frame, behind_right, centre, max(1.0, 0.5 * spread + 0.6))
        ax.set_title("behind person 1", fontsize=8)
    top = fig.add_subplot(grid[2, :2])
    for person, colour in enumerate(COLOURS):
        pelvis = joints[person, :, 0]
        top.plot(pelvis[:, 0], -pelvis[:, 2], color=colour, lw=1.2, label=f"person {person + 1}")
        forward = 0.4 * facing(joints[person, 0])
        top.arrow(pelvis[0, 0], -pelvis[0, 2], forward[0], -forward[2], color=colour, width=0.012)
        for foot, marker in ((10, "."), (11, "x")):
            planted = clip.stance[person, :, 0 if foot == 10 else 1]
            top.scatter(joints[person, planted, foot, 0], -joints[person, planted, foot, 2], color=colour, s=5,
                        marker=marker, alpha=0.5)
    top.set_aspect("equal", adjustable="datalim")
    top.set_title("from above (x right, -z up): pelvis paths, facing at start, planted feet (. left, x right)",
                  fontsize=8)
    top.legend(fontsize=7)
    top.tick_params(labelsize=6)
    text = fig.add_subplot(grid[2, 2:])
    text.set_axis_off()
    lines = [f"{clip.family}  {clip.params}", ""] + [textwrap.fill(c, 80) for c in clip.captions]
    text.text(0.0, 1.0, "\n".join(lines), va="top", fontsize=9, family="monospace")
    fig.subplots_adjust(left=0.03, right=0.99, top=0.97, bottom=0.04, wspace=0.15, hspace=0.25)
    fig.savefig(path, dpi=70)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/synthetic_families")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--families", nargs="*", default=list(FAMILY_NAMES))
    parser.add_argument("--variants", type=int, default=1, help="clips per family")
    parser.add_argument("--indices", type=int, nargs="*", default=[], help="draw these clip indices instead")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for index in args.indices:
        clip = generate_clip(index, seed=args.seed)
        path = out / f"clip_{index:06d}_{clip.family}.png"
        plot_clip(clip, path, args.frames)
        print(path)
    for name in [] if args.indices else args.families:
        for variant in range(args.variants):
            index = FAMILY_NAMES.index(name) + variant * len(FAMILY_NAMES)
            clip = generate_clip(index, seed=args.seed)
            path = out / f"{name}_{variant}.png"
            plot_clip(clip, path, args.frames)
            print(path)


if __name__ == "__main__":
    main()
