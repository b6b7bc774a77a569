"""Axis conventions and the canonical frame of a clip.

A person's canonical frame puts the floor (their lowest joint height over the clip) at y = 0, their first-frame
pelvis at x = z = 0, and turns them about +Y so that their first-frame facing is +Z. A pair of people is
expressed in the first person's canonical frame, which keeps how the two stand relative to each other.
Facing is ``up x (right hip - left hip)``: with the body's left at +X, a body facing +Z has that cross product
along +Z. The shoulders are not used.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .features import joints_to_features, validate_joints, validate_rot6d
from .layout import INTERHUMAN, FeatureLayout
from .rotation import yaw_matrix
from .skeleton import FACE_JOINTS, PELVIS_JOINT

RIGHT_HIP, LEFT_HIP = FACE_JOINTS[0], FACE_JOINTS[1]
# hips closer than this in the ground plane leave the facing undefined
MIN_HIP_SPREAD = 1e-6


def _stack(arrays, axis: int = -1):
    if isinstance(arrays[0], torch.Tensor):
        return torch.stack(arrays, dim=axis)
    return np.stack(arrays, axis=axis)


def zup_to_yup(points):
    """Z-up to Y-up: (x, y, z) -> (x, z, -y). points: (..., 3), numpy or torch."""
    return _stack([points[..., 0], points[..., 2], -points[..., 1]])


def yup_to_zup(points):
    """Y-up to Z-up, the inverse of ``zup_to_yup``: (x, y, z) -> (x, -z, y). points: (..., 3)."""
    return _stack([points[..., 0], -points[..., 2], points[..., 1]])


def facing_angle(joints):
    """Yaw of the facing direction. joints: (..., joint, 3), Y-up -> (...) radians.

    The yaw is measured from +Z towards +X, so ``yaw_matrix(yaw)`` turns +Z into the facing and
    ``yaw_matrix(-yaw)`` turns the facing into +Z.
    """
    across = joints[..., RIGHT_HIP, :] - joints[..., LEFT_HIP, :]
    # up x across = (across_z, 0, -across_x) for up = +Y
    facing_x, facing_z = across[..., 2], -across[..., 0]
    if isinstance(joints, torch.Tensor):
        return torch.atan2(facing_x, facing_z)
    return np.arctan2(facing_x, facing_z)


class CanonicalFrame(NamedTuple):
    """The rigid change of frame that canonicalises one person.

    yaw: first-frame facing yaw of the input (radians); offset: first-frame pelvis (x, 0, z);
    floor: lowest joint height over the clip. Canonical points = yaw_matrix(-yaw) @ (p - offset - floor * up).
    """

    yaw: float
    offset: np.ndarray
    floor: float

    def _translation(self) -> np.ndarray:
        return np.array([self.offset[0], self.floor, self.offset[2]], dtype=np.float64)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Input frame -> canonical frame. points: (..., 3) -> (..., 3), same dtype."""
        points = np.asarray(points)
        rotation = yaw_matrix(np.asarray(-self.yaw, dtype=np.float64))
        moved = (points.astype(np.float64) - self._translation()) @ rotation.T
        return moved.astype(points.dtype if points.dtype.kind == "f" else np.float64)

    def invert(self, points: np.ndarray) -> np.ndarray:
        """Canonical frame -> input frame. points: (..., 3) -> (..., 3), same dtype."""
        points = np.asarray(points)
        rotation = yaw_matrix(np.asarray(self.yaw, dtype=np.float64))
        moved = points.astype(np.float64) @ rotation.T + self._translation()
        return moved.astype(points.dtype if points.dtype.kind == "f" else np.float64)


def canonical_frame(joints: np.ndarray, name: str = "joints") -> CanonicalFrame:
    """The canonical frame of one person's clip. joints: (frames, joint, 3), Y-up metres."""
    joints = np.asarray(validate_joints(joints, name, min_frames=1))
    if joints.ndim != 3:
        raise ValueError(f"{name}: expected one person's clip (frames, joint, 3), got {joints.shape}")
    first = joints[0].astype(np.float64)
    across = first[RIGHT_HIP] - first[LEFT_HIP]
    spread = float(np.hypot(across[0], across[2]))
    if spread < MIN_HIP_SPREAD:
        raise ValueError(f"{name}: the facing at frame 0 is undefined: the hips (joints {RIGHT_HIP}, {LEFT_HIP}) "
                         f"are {spread:.2e} m apart in the ground plane")
    offset = np.array([first[PELVIS_JOINT, 0], 0.0, first[PELVIS_JOINT, 2]])
    return CanonicalFrame(yaw=float(facing_angle(first)), offset=offset, floor=float(joints[..., 1].min()))


def canonicalize_person(joints: np.ndarray) -> tuple[np.ndarray, CanonicalFrame]:
    """Put one person in their own canonical frame. joints: (frames, joint, 3), Y-up metres.

    Returns the canonical joints (frames, joint, 3) in the input's dtype, and the ``CanonicalFrame`` applied.
    """
    frame = canonical_frame(joints)
    return frame.apply(joints), frame


def canonicalize_pair(joints_a: np.ndarray, joints_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Put two people in person A's canonical frame. joints_*: (frames, joint, 3), Y-up -> the same two, moved.

    Each person is floored by their own lowest height. Person B then takes A's translation and turn, which is
    the same as canonicalising B on its own, turning it by the inverse of the heading change from A to B and
    placing it at A's turn applied to (B's first pelvis - A's first pelvis). Their relative pose in the ground
    plane is therefore exactly the input's.
    """
    frame_a = canonical_frame(joints_a, "joints_a")
    frame_b = canonical_frame(joints_b, "joints_b")
    if tuple(joints_a.shape) != tuple(joints_b.shape):
        raise ValueError(f"joints_a and joints_b must have the same shape, got {tuple(joints_a.shape)} and "
                         f"{tuple(joints_b.shape)}")
    b_in_a = frame_a._replace(floor=frame_b.floor)
    return frame_a.apply(joints_a), b_in_a.apply(joints_b)


def person_to_features(joints: np.ndarray, rot6d: np.ndarray, layout: FeatureLayout = INTERHUMAN) -> np.ndarray:
    """Canonicalise one person over the whole clip and encode. (frames, joint, 3), (frames, joint - 1, 6)
    -> (frames - 1, layout.dim)."""
    canonical, _ = canonicalize_person(joints)
    return joints_to_features(canonical, np.asarray(rot6d), layout)


def pair_to_features(joints_a: np.ndarray, rot6d_a: np.ndarray, joints_b: np.ndarray, rot6d_b: np.ndarray,
                     layout: FeatureLayout = INTERHUMAN) -> np.ndarray:
    """Canonicalise a pair into A's frame and encode each person. joints_*: (frames, joint, 3) Y-up,
    rot6d_*: (frames, joint - 1, 6) -> (person=2, frames - 1, layout.dim). Rotations are local, so they are
    copied unchanged."""
    for name, joints, rot6d in (("a", joints_a, rot6d_a), ("b", joints_b, rot6d_b)):
        validate_rot6d(rot6d, f"rot6d_{name}", min_frames=2, num_joints=layout.num_joints)
        if rot6d.shape[:-2] != joints.shape[:-2]:
            raise ValueError(f"rot6d_{name} has {tuple(rot6d.shape)[:-2]} leading (frames,) axes but joints_{name} "
                             f"has {tuple(joints.shape)[:-2]}")
    canonical_a, canonical_b = canonicalize_pair(joints_a, joints_b)
    return np.stack([joints_to_features(canonical_a, np.asarray(rot6d_a), layout),
                     joints_to_features(canonical_b, np.asarray(rot6d_b), layout)])
