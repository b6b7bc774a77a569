"""Forward kinematics of a joint tree (by default the SMPL-22 skeleton), for torch tensors and numpy arrays.

Convention (SMPL, BVH): the rotation of joint j is relative to its parent's frame and turns the offsets of
j's children; ``global[j] = global[parent] @ local[j]`` and
``position[j] = position[parent] + global[parent] @ offset[j]``.
"""
from __future__ import annotations

import numpy as np
import torch

from .skeleton import NUM_JOINTS, PARENTS, REST_OFFSETS


def forward_kinematics(root_position, local_rotations, offsets=None, parents=PARENTS):
    """Joint positions from a root trajectory, per-joint local rotations and bone offsets.

    root_position: (..., 3); local_rotations: (..., joint, 3, 3) with joint 0 the global root orientation;
    offsets: (joint, 3) or broadcastable (..., joint, 3), rest offsets from each parent (default: REST_OFFSETS);
    parents: each joint's parent, listed before its children, the root's first (default: SMPL-22's).
    Returns positions (..., joint, 3) in the type of ``local_rotations``.
    """
    is_numpy = isinstance(local_rotations, np.ndarray)
    if is_numpy:
        dtype = local_rotations.dtype
        root_position = torch.from_numpy(np.asarray(root_position, dtype=np.float64))
        local_rotations = torch.from_numpy(np.asarray(local_rotations, dtype=np.float64))
    if offsets is None:
        offsets = REST_OFFSETS
    offsets = torch.as_tensor(np.asarray(offsets) if isinstance(offsets, np.ndarray) else offsets,
                              dtype=local_rotations.dtype, device=local_rotations.device)
    num_joints = len(parents)
    if local_rotations.shape[-3:] != (num_joints, 3, 3):
        raise ValueError(f"local_rotations must be (..., {num_joints}, 3, 3), got {tuple(local_rotations.shape)}")
    offsets = offsets.expand(*local_rotations.shape[:-3], num_joints, 3)
    global_rotations = [local_rotations[..., 0, :, :]]
    # root_position may come as a tensor on another dtype, a numpy array or a list
    positions = [torch.as_tensor(root_position, dtype=local_rotations.dtype, device=local_rotations.device)]
    for joint in range(1, num_joints):
        parent = parents[joint]
        positions.append(positions[parent] + (global_rotations[parent] @ offsets[..., joint, :, None])[..., 0])
        global_rotations.append(global_rotations[parent] @ local_rotations[..., joint, :, :])
    joints = torch.stack(positions, dim=-2)
    return joints.numpy().astype(dtype) if is_numpy else joints


def global_rotations(local_rotations):
    """Accumulate local rotations (..., joint, 3, 3) along the tree into global ones (same shape)."""
    is_numpy = isinstance(local_rotations, np.ndarray)
    rot = torch.from_numpy(local_rotations) if is_numpy else local_rotations
    out = [rot[..., 0, :, :]]
    for joint in range(1, NUM_JOINTS):
        out.append(out[PARENTS[joint]] @ rot[..., joint, :, :])
    result = torch.stack(out, dim=-3)
    return result.numpy() if is_numpy else result
