"""Taking two generated bodies apart where one stands inside the other.

A hug or a pair circling each other brings two torsos to within a few centimetres of touching, and a small generator
draws them 10-20 cm too close, or on one spot: one body inside the other (the torso, head and thigh capsules of
``metrics.physical``). The collision rounds (``generation.collisions``) decode such frames again; where the
transformer keeps drawing the same overlap in every version, this moves the people apart instead: along the
horizontal line between their pelvises, by the overlap plus ``clearance``, each by their share, the push widened over
``ramp`` frames on either side and eased in and out so that it adds no sudden step. Only the placement changes:
poses, heights and the rest of the motion are as generated.

    separation_offsets(joints, movable)   (2, frame, 22, 3) -> (2, frame, 3) horizontal offsets, metres
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from ..metrics.physical import penetration_depth_per_frame
from ..motion.skeleton import NUM_JOINTS

ROOT = 0


def separation_offsets(joints, movable: Sequence[bool] = (True, True), rounds: int = 8, ramp: int = 8,
                       clearance: float = 0.01) -> np.ndarray:
    """Joints (person=2, frame, 22, 3), Y-up metres -> offsets (2, frame, 3) to add to every joint of each person so
    that no frame's bodies overlap (after at most ``rounds`` pushes; each push measures again what is left).

    movable: which people may move; one that may not (a reaction's given person) keeps its place and the other moves
    the whole distance; neither: zeros. ramp: frames on each side over which a push eases in and out (>= 0).
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 4 or joints.shape[0] != 2 or joints.shape[2:] != (NUM_JOINTS, 3):
        raise ValueError(f"separation_offsets: joints must be (2, frame, {NUM_JOINTS}, 3), got {joints.shape}")
    if len(movable) != 2:
        raise ValueError(f"separation_offsets: movable names the two people, got {movable!r}")
    if ramp < 0 or rounds < 0 or clearance < 0:
        raise ValueError(f"separation_offsets: rounds, ramp and clearance must be >= 0, got {rounds}, {ramp}, "
                         f"{clearance}")
    offsets = np.zeros((2, joints.shape[1], 3))
    share = np.asarray(movable, dtype=np.float64)
    if not share.any() or joints.shape[1] == 0:
        return offsets
    share /= share.sum()
    width = 2 * ramp + 1
    for _ in range(rounds):
        moved = joints + offsets[:, :, None]
        depth = penetration_depth_per_frame(moved)
        if not (depth > 0).any():
            break
        # a push at least as deep as the overlap on every overlapping frame: the deepest over +-ramp frames, then its
        # running mean over +-ramp frames (each of which saw the frame's own depth), so it rises and falls over
        # 2 ramp + 1 frames
        push = np.where(depth > 0, depth + clearance, 0.0)
        push = uniform_filter1d(maximum_filter1d(push, width, mode="nearest"), width, mode="nearest")
        push[push < 1e-9] = 0.0  # the running sum's rounding, where nothing is pushed
        apart = moved[1, :, ROOT] - moved[0, :, ROOT]
        apart[:, 1] = 0.0
        apart = uniform_filter1d(apart, width, axis=0, mode="nearest")
        length = np.linalg.norm(apart, axis=-1, keepdims=True)
        direction = np.where(length > 1e-6, apart / np.maximum(length, 1e-6), np.array([1.0, 0.0, 0.0]))
        offsets[0] -= share[0] * push[:, None] * direction
        offsets[1] += share[1] * push[:, None] * direction
    return offsets
