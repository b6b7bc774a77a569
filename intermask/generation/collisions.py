"""Re-decoding where the two generated bodies pass through each other.

A sample's two token maps are drawn together, and where the two people come close a small error in either
placement puts one body inside the other (the torso, head and thigh capsules of ``metrics.physical``). Such
frames are given back to the transformer: the tokens of both people over those frames, widened by ``margin``
token steps on each side, are masked again and decoded given everything else of the sample (the edit
mechanism of ``decoding.generate``), and the new version is kept only if fewer of its frames overlap. Tokens
that the caller fixed (a reaction's given person, an edit's kept span) are never redone.

    colliding_frames(joints, frames)     (b, 2, f, 22, 3) -> (b, f) bool, frames whose bodies overlap
    steps_to_redo(overlap, ...)          (b, f) -> (b, t) bool token steps to decode again
    resolve_collisions(...)              the rounds: redo, decode, keep the better version per sample
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from einops import rearrange

from ..metrics.physical import penetration_depth_per_frame


def colliding_frames(joints: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Joints (b, person=2, frame, 22, 3) in metres with ``frames`` (b,) valid -> (b, frame) bool: the valid frames
    where a torso, head or thigh capsule of one person overlaps one of the other's (the physical metrics' test)."""
    if joints.ndim != 5 or joints.shape[1] != 2:
        raise ValueError(f"colliding_frames: joints must be (batch, 2, frame, joint, 3), got {tuple(joints.shape)}")
    array = joints.detach().float().cpu().numpy()
    overlap = np.zeros(array.shape[:1] + array.shape[2:3], dtype=bool)
    for row, count in enumerate(frames.tolist()):
        if count > 0:
            overlap[row, :count] = penetration_depth_per_frame(array[row, :, :count]) > 0
    return torch.from_numpy(overlap)


def steps_to_redo(overlap: torch.Tensor, num_steps: int, frames_per_token: int, margin: int = 1) -> torch.Tensor:
    """(b, frame) overlapping frames -> (b, num_steps) bool: the token steps that hold them, widened by ``margin``
    steps on each side (the decoder's receptive field spreads a token over its neighbours' frames)."""
    batch, frames = overlap.shape
    hit = torch.zeros(batch, num_steps, dtype=torch.bool)
    rows, frame = overlap.nonzero(as_tuple=True)
    hit[rows, (frame // frames_per_token).clamp(max=num_steps - 1)] = True
    if margin > 0 and bool(hit.any()):
        widened = torch.nn.functional.max_pool1d(hit[:, None].float(), 2 * margin + 1, stride=1, padding=margin)
        hit = widened[:, 0] > 0
    return hit


def resolve_collisions(
    ids: torch.Tensor,
    features: torch.Tensor,
    lengths_tokens: torch.Tensor,
    fixed: torch.Tensor,
    rounds: int,
    redecode: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    decode: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    joints: Callable[[torch.Tensor], torch.Tensor],
    frames_per_token: int,
    margin: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Up to ``rounds`` rounds of re-decoding the colliding frames of each sample.

    ids (b, 2, p, t) and their decoded features (b, 2, frame, feature); lengths_tokens (b,); fixed (b, 2, p, t)
    bool: tokens the caller gave, never redone. redecode(rows, ids, keep) -> new ids of those rows, keep (r, 2, p,
    t) True where a token stays; decode(rows, ids, lengths_tokens) -> features of those rows; joints(features) -> (..,
    2, frame, 22, 3).
    Returns (ids, features, report): per sample the version with the fewest colliding frames seen, and
    {"colliding_frames_before", "colliding_frames_after", "redone"} (totals over the batch; redone counts
    re-decoded samples summed over rounds).
    """
    if rounds < 0:
        raise ValueError(f"resolve_collisions: rounds must be >= 0, got {rounds}")
    lengths_tokens = lengths_tokens.to(ids.device)
    frames = lengths_tokens.cpu() * frames_per_token
    overlap = colliding_frames(joints(features), frames)
    counts = overlap.sum(dim=1)
    report = {"colliding_frames_before": int(counts.sum()), "redone": 0}
    ids, features = ids.clone(), features.clone()
    for _ in range(rounds):
        redo = rearrange(steps_to_redo(overlap, ids.shape[-1], frames_per_token, margin), "b t -> b 1 1 t")
        redo = redo.to(ids.device) & ~fixed
        rows = torch.nonzero(redo.flatten(1).any(dim=1) & (counts > 0).to(ids.device)).flatten()
        if not len(rows):
            break
        new_ids = redecode(rows, ids[rows], ~redo[rows])
        new_features = decode(rows, new_ids, lengths_tokens[rows])
        new_overlap = colliding_frames(joints(new_features), frames[rows.cpu()])
        new_counts = new_overlap.sum(dim=1)
        better = new_counts < counts[rows.cpu()]
        report["redone"] += len(rows)
        if bool(better.any()):
            chosen = rows[better.to(rows.device)]
            ids[chosen] = new_ids[better.to(new_ids.device)]
            features[chosen] = new_features[better.to(new_features.device)].to(features.dtype)
            counts[chosen.cpu()] = new_counts[better]
            overlap[chosen.cpu()] = new_overlap[better]
    report["colliding_frames_after"] = int(counts.sum())
    return ids, features, report
