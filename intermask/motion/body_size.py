"""A person's body size apart from their motion: features rescaled to one skeleton size, and back.

A small tokenizer spends its few hundred codes where its encoder's outputs vary most (where people stand, how they
move) and draws everyone at the mean size: a person's size, carried by every token at once, falls between its codes
(docs/synthetic-training.md: what the demo's tokenizer loses in its quantiser). Scaled to one size first, the
tokens carry the motion alone, and the size is one number a person, kept beside them.

A person's *scale* is their skeleton's size (the sum of their bone lengths, averaged over the frames) over a
reference size. ``to_unit_size`` scales each frame's body about the root's point on the ground by 1 / scale, the
ground path itself unchanged: the heights, the limbs and the reach shrink or grow, where the person stands and walks
does not. ``from_unit_size`` undoes it exactly (the root's point on the ground is the same before and after). The
velocities follow the positions; rotations and foot contacts are unchanged.

All functions take raw (de-normalised) features (..., frame, feature) and scales (...,) per person.
"""
from __future__ import annotations

import torch

from .layout import FeatureLayout
from .partner import GROUND_AXES


def _check_layout(layout: FeatureLayout) -> None:
    if not layout.has_positions:
        raise ValueError("a body size apart from the motion needs features with joint positions; this layout has none "
                         "(Inter-X's rotations only): keep model.vqvae.body_size null for it")


def skeleton_size(features: torch.Tensor, layout: FeatureLayout, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """The sum of the skeleton's bone lengths in metres, averaged over the frames (over the first ``lengths`` (...,)
    frames where given: past them the features are padding): (..., frame, feature) -> (...,)."""
    _check_layout(layout)
    joints = features[..., layout.position].unflatten(-1, (-1, 3))
    parents = list(layout.parents[1:])
    per_frame = (joints[..., 1:, :] - joints[..., parents, :]).norm(dim=-1).sum(-1)  # (..., frame)
    if lengths is None:
        return per_frame.mean(-1)
    valid = torch.arange(per_frame.shape[-1], device=per_frame.device) < lengths.to(per_frame.device)[..., None]
    return (per_frame * valid).sum(-1) / valid.sum(-1).clamp(min=1)


def body_scale(features: torch.Tensor, layout: FeatureLayout, reference: float,
               lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Each person's skeleton size over ``reference`` (metres of bones): (..., frame, feature) -> (...,)."""
    scale = skeleton_size(features, layout, lengths) / reference
    if not bool((scale > 0).all()):
        raise ValueError(f"body_scale: a person's skeleton has no size (all joints at one point: "
                         f"{int((scale <= 0).sum())} of {scale.numel()})")
    return scale


def _rescale(features: torch.Tensor, factor: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    _check_layout(layout)
    factor = torch.as_tensor(factor, dtype=features.dtype, device=features.device)
    if factor.shape != features.shape[:-2]:
        raise ValueError(f"scales: expected one scale a person, shape {tuple(features.shape[:-2])}, got "
                         f"{tuple(factor.shape)}")
    ground = torch.zeros(3, dtype=features.dtype, device=features.device)
    ground[list(GROUND_AXES)] = 1
    factor = factor[..., None, None, None]  # over frames, joints, axes
    out = features.clone()
    for channels in (layout.position, layout.velocity):
        joints = features[..., channels].unflatten(-1, (-1, 3))
        anchor = joints[..., :1, :] * ground  # the root on the ground: its position, or its step along the ground
        out[..., channels] = (anchor + factor * (joints - anchor)).flatten(-2)
    return out


def to_unit_size(features: torch.Tensor, scales: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """Each person's body scaled by 1 / their scale about their root's point on the ground, frame by frame."""
    return _rescale(features, 1 / torch.as_tensor(scales), layout)


def from_unit_size(features: torch.Tensor, scales: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """The inverse of ``to_unit_size``: each body scaled back to ``scales`` (...,) about the same ground points."""
    return _rescale(features, torch.as_tensor(scales), layout)
