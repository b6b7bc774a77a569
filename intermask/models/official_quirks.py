"""The official InterMask code's quirks: what only its converted checkpoints need, in one list.

Models trained here compute what the paper describes. The published weights were trained with the published
code, which differs from that description in four places; a converted checkpoint turns each quirk on through a
flag in its stored config (``official.weights`` sets them), so that it computes exactly what the official
modules compute. The golden tests (``tests/test_convert.py``, fixtures in ``tests/fixtures/official/``) pin
this against the official code at commit ``e69d496``.

1. Graph batching (``legacy_graph=True`` of ``MotionVQVAE``, ``legacy=True`` of ``SkeletonGraphConv``;
   ``first_frame_aggregate``). The published graph convolution flattens every frame of the batch into one big
   graph without offsetting the edge indices per frame, so only sample 0, frame 0 sees its neighbours: every
   other node gets a zero aggregate and computes ``lin_l.bias + lin_r(x)``. A sample's tokens then depend on
   its position in the batch. Needed by: converted InterHuman VQ-VAEs (and the transformers built on them);
   Inter-X's VQ-VAE has no graph layers.
2. Doubled residual (``parity=True`` of ``InterMTransformer``; ``doubled_residual``). The spatio-temporal step
   sums ``(X + g_s S) + (X + g_t T)``, counting the residual ``X`` twice, where the paper adds both attentions
   to one residual. Needed by: every converted transformer (InterHuman and Inter-X).
3. First-rows codebook resets (``legacy_reset=True`` of ``EMAQuantizer``, via ``MotionVQVAE``;
   ``first_rows``). Codes are initialised and dead codes revived with the *first* vectors of the batch (tiled
   when there are fewer vectors than codes) instead of vectors drawn at random. Only training changes the
   codebook, so this matters when a converted VQ-VAE is trained further. Set on every converted VQ-VAE.
4. Decoding conventions (``parity`` of the transformer, read by ``generation.decoding.generate``). Confidence
   ties, which the two people's identical first step makes common, are broken by torch's default (unstable)
   sort rather than by position; multinomial sampling ignores ``temperature`` (the published code divides the
   probabilities by it, which normalisation undoes); and the draw runs over the whole top-k filtered
   vocabulary, so that a seed gives the published sampler's tokens. Needed by: every converted transformer.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F


def first_frame_aggregate(aggregate: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Quirk 1: the neighbour aggregate of sample 0, frame 0 only, zeros everywhere else.

    x: (batch, time, joint, ch); ``aggregate`` maps such a tensor to its neighbour means.
    """
    batch, time = x.shape[:2]
    first = aggregate(x[:1, :1])
    return F.pad(first, (0, 0, 0, 0, 0, time - 1, 0, batch - 1))


def doubled_residual(persons: torch.Tensor, spatial: torch.Tensor, temporal: torch.Tensor) -> torch.Tensor:
    """Quirk 2: the published spatio-temporal sum, with the residual counted twice."""
    return (persons + spatial) + (persons + temporal)


def first_rows(vectors: torch.Tensor, num_codes: int) -> torch.Tensor:
    """Quirk 3: ``num_codes`` codebook vectors from a batch (vector, dim): its first rows, tiled when too few."""
    return vectors.repeat(math.ceil(num_codes / vectors.shape[0]), 1)[:num_codes]
