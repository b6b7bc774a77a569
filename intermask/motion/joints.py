"""Where a dataset's features keep their joints: the seam between a feature layout and the losses, metrics and
writers that measure joints.

A *joint reader* turns features (..., feature) into joint positions (..., joint, 3) and local joint rotations
(..., rotation, 3, 3). ``ChannelJoints`` reads both straight from a layout's channels (InterHuman); a layout
without position channels brings its own reader from its data code (Inter-X: ``data.interx.InterXJoints``, which
poses the SMPL-X body model).
"""
from __future__ import annotations

from typing import Protocol

import torch
from einops import rearrange

from .layout import FeatureLayout
from .rotation import rot6d_to_matrix


class JointReader(Protocol):
    floor_at_zero: bool  # whether y = 0 is the ground the positions stand on

    def positions(self, features: torch.Tensor) -> torch.Tensor: ...

    def rotations(self, features: torch.Tensor) -> torch.Tensor: ...


def joint_positions(features: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """The position channels: (..., feature) -> (..., joint, 3)."""
    return rearrange(features[..., layout.position], "... (j c) -> ... j c", c=3)


def joint_rotations(features: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """The rotation channels, 6D as a matrix's first two columns: (..., feature) -> (..., rotation, 3, 3)."""
    return rot6d_to_matrix(rearrange(features[..., layout.rotation], "... (j c) -> ... j c", c=6))


class ChannelJoints:
    """The joints a layout's features hold in channels. On z-scored features the positions are z-scores too."""

    floor_at_zero = True

    def __init__(self, layout: FeatureLayout):
        if not layout.has_positions:
            raise ValueError("this layout holds no position channels; its data code reads its joints")
        self.layout = layout

    def positions(self, features: torch.Tensor) -> torch.Tensor:
        return joint_positions(features, self.layout)

    def rotations(self, features: torch.Tensor) -> torch.Tensor:
        return joint_rotations(features, self.layout)


def on_the_floor(joints):
    """Clips of joints (clip, person, frame, joint, 3), Y-up, each moved up or down so that its lowest joint (over
    both people and every frame) is at y = 0."""
    lowest = joints[..., 1].min(axis=(1, 2, 3), keepdims=True)
    lifted = joints.copy()
    lifted[..., 1] -= lowest
    return lifted
