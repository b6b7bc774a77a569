"""The per-person frame feature: joints and local rotations in, a (frames - 1, 262) array out, and back.

A clip of T frames of joint positions (T, joint, 3) and 6D local rotations of joints 1..21 (T, 21, 6) becomes
T - 1 feature rows laid out by a ``FeatureLayout`` (InterHuman by default):

    positions 0:66 | velocities 66:132 | 6D rotations 132:258 | foot contacts 258:262

Row t holds frame t's positions and rotations and the displacement to frame t + 1, which is why the last frame
only contributes through the velocities of row T - 2. Every function here works on numpy arrays and on torch
tensors alike and keeps leading batch axes.
"""
from __future__ import annotations

import numpy as np
import torch

from .layout import INTERHUMAN, FeatureLayout
from .rotation import rot6d_to_matrix


def _is_torch(array) -> bool:
    return isinstance(array, torch.Tensor)


def _shape(array) -> tuple:
    return tuple(array.shape)


def _count_non_finite(array) -> int:
    if _is_torch(array):
        return int((~torch.isfinite(array)).sum()) if array.is_floating_point() else 0
    array = np.asarray(array)
    return int((~np.isfinite(array)).sum()) if array.dtype.kind in "fc" else 0


def _check_array(array, name: str):
    if not (isinstance(array, np.ndarray) or _is_torch(array)):
        raise ValueError(f"{name}: expected a numpy array or torch tensor, got {type(array).__name__}")


def _check_finite(array, name: str):
    bad = _count_non_finite(array)
    if bad:
        raise ValueError(f"{name}: contains NaN or inf ({bad} non-finite values of {int(np.prod(_shape(array)))})")


def validate_joints(array, name: str = "joints", min_frames: int = 2, num_joints: int = INTERHUMAN.num_joints,
                    check_finite: bool = True):
    """Check joint positions shaped (..., frames, joint, 3): shape, at least ``min_frames`` frames, all finite.

    Raises ValueError naming ``name`` with the expected and the actual shape. Returns the array unchanged.
    """
    _check_array(array, name)
    shape = _shape(array)
    if len(shape) < 3 or shape[-2:] != (num_joints, 3):
        raise ValueError(f"{name}: expected shape (..., frames, {num_joints}, 3), got {shape}")
    if shape[-3] < min_frames:
        raise ValueError(f"{name}: too few frames: needs at least {min_frames}, got {shape[-3]} (shape {shape})")
    if check_finite:
        _check_finite(array, name)
    return array


def validate_rot6d(array, name: str = "rot6d", min_frames: int = 2, num_joints: int = INTERHUMAN.num_joints):
    """Check 6D local rotations of the non-root joints shaped (..., frames, joint - 1, 6). Returns the array."""
    _check_array(array, name)
    shape = _shape(array)
    if len(shape) < 3 or shape[-2:] != (num_joints - 1, 6):
        raise ValueError(f"{name}: expected shape (..., frames, {num_joints - 1}, 6), got {shape}")
    if shape[-3] < min_frames:
        raise ValueError(f"{name}: too few frames: needs at least {min_frames}, got {shape[-3]} (shape {shape})")
    _check_finite(array, name)
    return array


def validate_features(array, name: str = "features", layout: FeatureLayout = INTERHUMAN, min_frames: int = 1,
                      check_finite: bool = True):
    """Check per-person features shaped (..., frames, layout.dim): shape, frame count and (optionally) finiteness.

    Raises ValueError naming ``name`` with the expected and the actual shape. Returns the array unchanged.
    The decoders below skip the finiteness check: on a GPU it would force a host sync on every call.
    """
    _check_array(array, name)
    shape = _shape(array)
    if len(shape) < 2 or shape[-1] != layout.dim:
        raise ValueError(f"{name}: expected shape (..., frames, {layout.dim}), got {shape}")
    if shape[-2] < min_frames:
        raise ValueError(f"{name}: too few frames: needs at least {min_frames}, got {shape[-2]} (shape {shape})")
    if check_finite:
        _check_finite(array, name)
    return array


def _to_float(mask, like):
    """A boolean mask as 0/1 in the floating dtype of ``like``."""
    if _is_torch(mask):
        return mask.to(like.dtype if like.is_floating_point() else torch.get_default_dtype())
    dtype = like.dtype if like.dtype.kind == "f" else np.float32
    return mask.astype(dtype)


def _concatenate(arrays, axis: int):
    if _is_torch(arrays[0]):
        return torch.cat(arrays, dim=axis)
    return np.concatenate(arrays, axis=axis)


def foot_contacts(joints, layout: FeatureLayout = INTERHUMAN):
    """Foot contact flags. joints: (..., frames, joint, 3), Y-up metres -> (..., frames - 1, foot) as 0./1.

    Foot joint j touches the ground at frame t when its squared displacement to frame t + 1 is below
    ``layout.foot_velocity_limit`` and its height at frame t is below its entry of ``layout.foot_height_limits``.
    The threshold is per frame, so it assumes the layout's frame rate. Only the shape is checked here, so that
    a loss can call this on GPU tensors without a host sync.
    """
    validate_joints(joints, "joints", min_frames=2, num_joints=layout.num_joints, check_finite=False)
    feet = joints[..., list(layout.foot_joints), :]  # (..., frames, foot, 3)
    squared_step = ((feet[..., 1:, :, :] - feet[..., :-1, :, :]) ** 2).sum(-1)  # (..., frames - 1, foot)
    height = feet[..., :-1, :, 1]
    if _is_torch(height):
        limits = torch.as_tensor(layout.foot_height_limits, dtype=height.dtype, device=height.device)
    else:
        limits = np.asarray(layout.foot_height_limits, dtype=height.dtype)
    return _to_float((squared_step < layout.foot_velocity_limit) & (height < limits), joints)


def joints_to_features(joints, rot6d, layout: FeatureLayout = INTERHUMAN):
    """Encode one person's clip. joints: (..., frames, joint, 3), rot6d: (..., frames, joint - 1, 6)
    -> features (..., frames - 1, layout.dim).

    Positions stay in the frame they are given in (the canonical world frame, not root-relative); rotations are
    copied unchanged. At least two frames are needed because velocities and contacts look one frame ahead.
    """
    validate_joints(joints, "joints", min_frames=2, num_joints=layout.num_joints)
    validate_rot6d(rot6d, "rot6d", min_frames=2, num_joints=layout.num_joints)
    if _shape(joints)[:-2] != _shape(rot6d)[:-2]:
        raise ValueError(f"joints and rot6d must share their leading (..., frames) axes, got joints "
                         f"{_shape(joints)} and rot6d {_shape(rot6d)}")
    if _is_torch(joints) != _is_torch(rot6d):
        raise ValueError("joints and rot6d must both be numpy arrays or both be torch tensors")
    frames = _shape(joints)[-3]
    lead = _shape(joints)[:-3]
    positions = joints[..., :-1, :, :].reshape(*lead, frames - 1, -1)
    velocities = (joints[..., 1:, :, :] - joints[..., :-1, :, :]).reshape(*lead, frames - 1, -1)
    rotations = rot6d[..., :-1, :, :].reshape(*lead, frames - 1, -1)
    contacts = foot_contacts(joints, layout)
    if not _is_torch(joints):
        rotations = rotations.astype(positions.dtype, copy=False)
    else:
        rotations = rotations.to(positions.dtype)
    return _concatenate([positions, velocities, rotations, contacts], axis=-1)


def features_to_joints(features, layout: FeatureLayout = INTERHUMAN):
    """Joint positions stored in the features. (..., frames, layout.dim) -> (..., frames, joint, 3)."""
    validate_features(features, "features", layout, check_finite=False)
    positions = features[..., layout.position]
    return positions.reshape(*_shape(positions)[:-1], layout.num_joints, 3)


def features_to_velocities(features, layout: FeatureLayout = INTERHUMAN):
    """Per-frame joint displacements stored in the features. (..., frames, layout.dim) -> (..., frames, joint, 3)."""
    validate_features(features, "features", layout, check_finite=False)
    velocities = features[..., layout.velocity]
    return velocities.reshape(*_shape(velocities)[:-1], layout.num_joints, 3)


def velocities_from_positions(features: torch.Tensor, lengths: torch.Tensor,
                              layout: FeatureLayout = INTERHUMAN) -> torch.Tensor:
    """Features (batch, ..., frames, layout.dim) whose velocities are their own positions' frame differences, as
    ``joints_to_features`` builds them: row t's velocity becomes position t + 1 minus position t wherever row t + 1
    is within the clip's ``lengths`` (batch,) rows. The last row of each clip has no next position and keeps its
    velocity; every other channel and every row past the length are returned unchanged (a new tensor)."""
    validate_features(features, "features", layout, check_finite=False)
    sizes = [channels.stop - channels.start for channels in (layout.position, layout.velocity)]
    if not layout.has_positions or sizes[0] != sizes[1]:
        raise ValueError(f"velocities_from_positions needs position and velocity channels of one size, the layout "
                         f"has {layout.position} and {layout.velocity}")
    lengths = torch.as_tensor(lengths, device=features.device)
    if lengths.shape != features.shape[:1]:
        raise ValueError(f"lengths: expected shape ({features.shape[0]},), got {tuple(lengths.shape)}")
    positions = features[..., layout.position]
    next_row = torch.arange(1, features.shape[-2], device=features.device).view(-1, 1)
    has_next = next_row < lengths.view(-1, *[1] * (features.dim() - 1))  # (batch, 1.., frames - 1, 1)
    out = features.clone()
    velocities = out[..., :-1, layout.velocity]
    out[..., :-1, layout.velocity] = torch.where(has_next, positions[..., 1:, :] - positions[..., :-1, :], velocities)
    return out


def features_to_rot6d(features, layout: FeatureLayout = INTERHUMAN):
    """6D local rotations of joints 1.. stored in the features. (..., frames, layout.dim) -> (..., frames, joint - 1, 6)."""
    validate_features(features, "features", layout, check_finite=False)
    rotations = features[..., layout.rotation]
    return rotations.reshape(*_shape(rotations)[:-1], layout.num_joints - 1, 6)


def features_to_rotations(features, layout: FeatureLayout = INTERHUMAN):
    """Local rotation matrices of every joint. (..., frames, layout.dim) -> (..., frames, joint, 3, 3).

    The features carry no root orientation, so joint 0 gets the identity; joints 1.. come from their 6D
    channels through Gram-Schmidt (``rot6d_to_matrix``), so they are proper rotations even for raw network output.
    """
    matrices = rot6d_to_matrix(features_to_rot6d(features, layout))  # (..., frames, joint - 1, 3, 3)
    lead = _shape(matrices)[:-3]
    if _is_torch(matrices):
        root = torch.eye(3, dtype=matrices.dtype, device=matrices.device).expand(*lead, 1, 3, 3)
    else:
        root = np.broadcast_to(np.eye(3, dtype=matrices.dtype), (*lead, 1, 3, 3))
    return _concatenate([root, matrices], axis=-3)


def features_to_contacts(features, layout: FeatureLayout = INTERHUMAN):
    """Foot contact channels. (..., frames, layout.dim) -> (..., frames, foot)."""
    validate_features(features, "features", layout, check_finite=False)
    return features[..., layout.contact]
