"""Validation of the joint arrays every output takes: one person (frame, joint, xyz) or several
(person, frame, joint, xyz), Y-up metres."""
from __future__ import annotations

import numpy as np

from ..motion.skeleton import NUM_JOINTS


def as_people(joints, what: str = "joints", max_people: int = 2) -> np.ndarray:
    """Check a clip and return it as float64 (person, frame, joint, 3).

    Accepts (frame, joint, 3) for one person or (person, frame, joint, 3) for up to ``max_people``.
    Raises ValueError naming ``what`` when the shape is wrong, the clip is empty or holds NaN/inf.
    """
    if hasattr(joints, "detach"):  # a torch tensor
        joints = joints.detach().cpu().numpy()
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim == 3:
        joints = joints[None]
    if joints.ndim != 4 or joints.shape[2:] != (NUM_JOINTS, 3) or not 1 <= joints.shape[0] <= max_people:
        raise ValueError(
            f"{what} must be (person<= {max_people}, frame, {NUM_JOINTS}, 3) or (frame, {NUM_JOINTS}, 3), "
            f"got {tuple(joints.shape)}"
        )
    if joints.shape[1] == 0:
        raise ValueError(f"{what} has no frames: shape {tuple(joints.shape)}")
    if not np.isfinite(joints).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(joints))[0])
        raise ValueError(f"{what} holds NaN or inf, first at (person, frame, joint, xyz) = {where}")
    return joints


def check_text(text: str, what: str = "text") -> str:
    """A caption must be a non-empty string."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{what} must be a non-empty string, got {text!r}")
    return text.strip()
