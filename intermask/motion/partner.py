"""The second person seen from the first: a pair's features with person 2 placed relative to person 1's root.

In the data's world frame each person's features carry where they stand, so two people who touch are two token
maps that must agree on a point to a few centimetres. In the *partner frame* person 2's positions and velocities
are taken relative to person 1's root on the ground (x and z, frame by frame): person 2's tokens then say where
they stand beside person 1, and decoding adds back wherever person 1's own tokens put person 1. The heights, the
rotations (local, and the root's about the vertical) and the foot contacts are unchanged.

Both functions take raw (de-normalised) pair features (..., person=2, frame, feature) and return a new tensor; each
undoes the other exactly. Layouts without position channels (Inter-X's) have no root to move: an error.
"""
from __future__ import annotations

import torch

from .layout import FeatureLayout

GROUND_AXES = (0, 2)  # x and z; y is up


def _root_on_ground(features: torch.Tensor, layout: FeatureLayout) -> tuple[torch.Tensor, torch.Tensor]:
    """Person 1's root position and velocity per frame, on the ground only: two (..., frame, 3) tensors."""
    if not layout.has_positions:
        raise ValueError("the partner frame needs features with joint positions; this layout has none (Inter-X's "
                         "rotations only): keep model.vqvae.partner_frame off for it")
    if features.shape[-3] != 2:
        raise ValueError(f"the partner frame reads pairs (..., person=2, frame, feature), got {tuple(features.shape)}")
    first = features[..., 0, :, :]
    ground = torch.zeros(3, dtype=features.dtype, device=features.device)
    ground[list(GROUND_AXES)] = 1
    root_position = first[..., layout.position.start:layout.position.start + 3] * ground
    root_velocity = first[..., layout.velocity.start:layout.velocity.start + 3] * ground
    return root_position, root_velocity


def _shift_second(features: torch.Tensor, layout: FeatureLayout, sign: float) -> torch.Tensor:
    root_position, root_velocity = _root_on_ground(features, layout)
    out = features.clone()
    second = out[..., 1, :, :]
    for channels, offset in ((layout.position, root_position), (layout.velocity, root_velocity)):
        joints = second[..., channels].unflatten(-1, (-1, 3))
        second[..., channels] = (joints + sign * offset[..., None, :]).flatten(-2)
    return out


def to_partner_frame(features: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """World-frame pair features -> person 2 relative to person 1's root on the ground (person 1 unchanged)."""
    return _shift_second(features, layout, -1.0)


def from_partner_frame(features: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """The inverse of ``to_partner_frame``: person 2 put back beside wherever person 1's features stand."""
    return _shift_second(features, layout, 1.0)
