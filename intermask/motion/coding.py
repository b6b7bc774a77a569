"""A pair as a tokenizer codes it, and back: its conventions (``MotionVQVAE.body_size``, ``partner_frame``) applied
to a pair's world features in one order and undone in the other.

Both take raw (de-normalised) pair features (..., person=2, frame, feature). Each person is first scaled to the
tokenizer's size about the point between the two (``motion.body_size``: a point of the world frame, so before the
second person is moved), then the second placed beside the first (``motion.partner``); decoding undoes the partner
frame first, then gives each person back their scale.
"""
from __future__ import annotations

import torch

from .body_size import body_scale, from_unit_size, to_unit_size
from .layout import FeatureLayout
from .partner import from_partner_frame, to_partner_frame


def to_coded_pair(raw: torch.Tensor, layout: FeatureLayout, body_size: float | None = None,
                  partner_frame: bool = False, lengths: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """World pair features -> (what the tokenizer codes, the scales (..., 2) to decode them with, or None without a
    ``body_size``). ``lengths`` (..., 2): each person's valid frames, over which their size is read."""
    scales = None
    if body_size is not None:
        scales = body_scale(raw, layout, body_size, lengths)
        raw = to_unit_size(raw, scales, layout)
    if partner_frame:
        raw = to_partner_frame(raw, layout)
    return raw, scales


def from_coded_pair(coded: torch.Tensor, layout: FeatureLayout, scales: torch.Tensor | None = None,
                    partner_frame: bool = False) -> torch.Tensor:
    """The inverse of ``to_coded_pair``: decoded pair features -> the world's, each person at ``scales`` (..., 2)
    (None: at the tokenizer's size)."""
    if partner_frame:
        coded = from_partner_frame(coded, layout)
    return coded if scales is None else from_unit_size(coded, scales, layout)
