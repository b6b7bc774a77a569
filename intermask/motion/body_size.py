"""A person's body size apart from their motion: features rescaled to one skeleton size, and back.

A small tokenizer spends its few hundred codes where its encoder's outputs vary most (where people stand, how they
move) and draws everyone at the mean size: a person's size, carried by every token at once, falls between its codes
(docs/synthetic-training.md: what the demo's tokenizer loses in its quantiser). Scaled to one size first, the
tokens carry the motion alone, and the size is one number a person, kept beside them.

A person's *scale* is their skeleton's size (the sum of their bone lengths, averaged over the frames) over a
reference size. ``to_unit_size`` scales each body by 1 / their scale about the point on the ground midway between
the two people's roots, frame by frame: the heights, the limbs and the reach shrink or grow, and so does each
person's distance from that point, so that where two people touch near it (hands meeting, a push, an embrace) they
still touch. Scaled about their own roots instead, a short person grown to the reference size reaches into a tall one
shrunk to it: on the demo data's test split the two bodies overlapped in 1.7% of frames at unit size about their own
roots, 0.6% about the point between them, 0.4% as recorded (docs/synthetic-training.md). ``from_unit_size`` undoes
it exactly. The velocities follow the positions; rotations and foot contacts are unchanged.

All functions take a pair's raw (de-normalised) features (..., person=2, frame, feature) and scales (..., 2), except
``skeleton_size`` and ``body_scale``, which read any person (..., frame, feature).
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


def _rescale(features: torch.Tensor, factor: torch.Tensor, weights: torch.Tensor,
             layout: FeatureLayout) -> torch.Tensor:
    """Each person's positions and velocities scaled by ``factor`` (..., person=2) about the point on the ground
    ``weights`` (..., 2) makes of the two roots (their positions, and for the velocities their steps), frame by
    frame."""
    _check_layout(layout)
    if features.ndim < 3 or features.shape[-3] != 2:
        raise ValueError(f"a body size apart from the motion reads pairs (..., person=2, frame, feature), got "
                         f"{tuple(features.shape)}")
    if factor.shape != features.shape[:-2]:
        raise ValueError(f"scales: expected one scale a person, shape {tuple(features.shape[:-2])}, got "
                         f"{tuple(factor.shape)}")
    ground = torch.zeros(3, dtype=features.dtype, device=features.device)
    ground[list(GROUND_AXES)] = 1
    weights = weights[..., None, None, None]  # over frames, joints, axes
    factor = factor[..., None, None, None]
    out = features.clone()
    for channels in (layout.position, layout.velocity):
        joints = features[..., channels].unflatten(-1, (-1, 3))  # (..., person, frame, joint, 3)
        anchor = (weights * joints[..., :1, :] * ground).sum(-4, keepdim=True)  # (..., 1, frame, 1, 3)
        out[..., channels] = (anchor + factor * (joints - anchor)).flatten(-2)
    return out


def _scales(scales, features: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(scales, dtype=features.dtype, device=features.device)


def to_unit_size(features: torch.Tensor, scales: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """A pair's raw features (..., person=2, frame, feature) with each body scaled by 1 / their scale (..., 2) about
    the point midway between the two roots on the ground, frame by frame."""
    scales = _scales(scales, features)
    return _rescale(features, 1 / scales, torch.full_like(scales, 0.5), layout)


def from_unit_size(features: torch.Tensor, scales: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """The inverse of ``to_unit_size``: each body scaled back to ``scales`` (..., 2) about the same points. At unit
    size the point midway between the roots is their mean weighted by the scales (each root moved from it by the
    same ground offset over their scale), so it is found again from the scaled pair alone."""
    scales = _scales(scales, features)
    return _rescale(features, scales, scales / scales.sum(-1, keepdim=True), layout)
