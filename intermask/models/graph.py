"""A skeleton graph convolution applied to every frame of a (batch, channel, joint, time) grid.

The layer is GraphSAGE with a neighbour projection, written with a dense joint adjacency so it needs no graph
library. For node i with neighbours N(i):

    h_j   = ReLU(lin(x_j))                      # "project" the neighbour features
    agg_i = mean_{j in N(i)} h_j                # dense (joint, joint) row-normalised adjacency
    out_i = lin_l(agg_i) + lin_r(x_i)           # lin_l has a bias, lin_r has none

The submodule names ``lin``, ``lin_l`` and ``lin_r`` are those of PyG's ``SAGEConv(project=True)``, so such a
layer's state dict loads here unchanged.
"""
from __future__ import annotations

from typing import Iterable

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .official_quirks import first_frame_aggregate


def mean_adjacency(edges: Iterable[tuple[int, int]], num_joints: int) -> torch.Tensor:
    """Row-normalised adjacency (joint, joint): row i averages over the neighbours of joint i.

    Every pair in ``edges`` links its two joints both ways (a bone is two directed edges), there are no self
    loops, and a joint without neighbours gets an all-zero row (its aggregate is zero).
    """
    adjacency = torch.zeros(num_joints, num_joints)
    for a, b in edges:
        if not (0 <= a < num_joints and 0 <= b < num_joints):
            raise ValueError(f"edge ({a}, {b}) names a joint outside 0..{num_joints - 1}")
        if a == b:
            raise ValueError(f"edge ({a}, {b}) is a self loop; the root term lin_r already covers a joint itself")
        adjacency[a, b] += 1.0
        adjacency[b, a] += 1.0
    degree = adjacency.sum(dim=1, keepdim=True)
    return adjacency / degree.clamp_min(1.0)


class SkeletonGraphConv(nn.Module):
    """GraphSAGE (mean aggregation, projected neighbours) over the joints of each frame.

    Input (batch, in_ch, joint, time) -> output (batch, out_ch, joint, time).

    ``legacy=True``: the published graph batching, for converted checkpoints only (``official_quirks``, 1).
    """

    def __init__(self, in_ch: int, out_ch: int, edges: Iterable[tuple[int, int]], num_joints: int,
                 legacy: bool = False):
        super().__init__()
        self.num_joints = num_joints
        self.legacy = legacy
        self.lin = nn.Linear(in_ch, in_ch)  # neighbour projection
        self.lin_l = nn.Linear(in_ch, out_ch)  # on the neighbour aggregate
        self.lin_r = nn.Linear(in_ch, out_ch, bias=False)  # on the joint itself
        # derived from the skeleton, so kept out of the state dict (official checkpoints do not carry it)
        self.register_buffer("adjacency", mean_adjacency(edges, num_joints), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.lin.in_features or x.shape[2] != self.num_joints:
            raise ValueError(
                f"SkeletonGraphConv expects (batch, {self.lin.in_features}, {self.num_joints}, time), "
                f"got {tuple(x.shape)}")
        # one copy into (b, t, j, c) order makes each projection below a single matrix product
        x = rearrange(x, "b c j t -> b t j c").contiguous()
        aggregate = first_frame_aggregate(self._aggregate, x) if self.legacy else self._aggregate(x)
        out = self.lin_l(aggregate) + self.lin_r(x)
        return rearrange(out, "b t j c -> b c j t")

    def _aggregate(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of the projected neighbour features. (batch, time, joint, ch) -> same shape."""
        projected = F.relu(self.lin(x))
        # (i j) @ (j c) for every frame: a batched product, several times faster than the general einsum path
        return torch.matmul(self.adjacency.to(projected.dtype), projected)

    def extra_repr(self) -> str:
        return (f"{self.lin.in_features} -> {self.lin_l.out_features}, joints={self.num_joints}, "
                f"legacy={self.legacy}")
