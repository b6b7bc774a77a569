"""A training-time term that shows the transformer where its predicted people stand against each other.

The masked-token loss scores every wrong code alike: a code that puts a hand 2 cm off and one that puts the partner's
chest through the torso cost the same. On the synthetic data the generated people overlap six times as often as the
data's (the tokenizer keeps the data's overlap; docs/synthetic-training.md: v12 per family). This term decodes what the
transformer predicts, through the frozen tokenizer, and compares the distances between the two people's joints with
those of the ground-truth tokens: each masked position becomes the blend of code vectors its predicted distribution
gives (the known positions keep their own code), a window of steps is decoded for both people, and the L1 gap between
the two distance tables is taken over the joint pairs that are close in either. It is not used at sampling and has no
weights. On the CPU recipe it lowered the overlap by a fifth but slowed the learning of the tokens, and the samples
moved away from the data: off in every experiment (docs/synthetic-training.md: the two people's distances in the
transformer's loss).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from einops import rearrange


class PairGeometryTerm:
    """The weighted distance-table gap between predicted and ground-truth token maps of both people.

    weight: its share of the transformer's loss; window: token steps decoded per sample (a random stretch of its valid
    steps, for the cost); reach: metres within which a joint pair of the two people counts as close.
    """

    def __init__(self, weight: float = 1.0, window: int = 8, reach: float = 0.5):
        if not weight > 0 or window < 1 or not reach > 0:
            raise ValueError(f"pair geometry: weight and reach must be > 0 and window >= 1, got {weight}, {window}, "
                             f"{reach}")
        self.weight, self.window, self.reach = float(weight), int(window), float(reach)

    def windows(self, lengths_tokens: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """(b, window) step indices: a random stretch inside each sample's valid steps (all of them if shorter)."""
        window = min(self.window, int(lengths_tokens.min()))
        room = (lengths_tokens - window + 1).clamp(min=1).to(torch.float32)
        start = (torch.rand(len(lengths_tokens), generator=generator, device=lengths_tokens.device) * room).long()
        return start[:, None] + torch.arange(window, device=lengths_tokens.device)

    def __call__(self, logits: torch.Tensor, mask: torch.Tensor, ids: torch.Tensor, lengths_tokens: torch.Tensor,
                 codebook: torch.Tensor, decode_joints: Callable[[torch.Tensor], torch.Tensor],
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """logits (b, 2, part, step, v >= num_codes) and mask (b, 2, part, step) of a masked-token pass on the
        ground-truth ids (b, 2, part, step) with ``lengths_tokens`` (b,) valid steps -> (weighted loss, logs).
        codebook (num_codes, code_dim); decode_joints: code vectors (b, part, step, code_dim) -> joints (b, 4 step,
        joint, 3) in metres (the frozen tokenizer's decoder and the feature statistics)."""
        num_codes = codebook.shape[0]
        steps = self.windows(lengths_tokens.to(ids.device), generator)  # b w
        pick = rearrange(steps, "b w -> b 1 1 w").expand(*ids.shape[:3], -1)
        ids, mask = ids.gather(3, pick), mask.gather(3, pick)
        logits = logits.gather(3, pick[..., None].expand(-1, -1, -1, -1, logits.shape[-1]))
        known = codebook[ids.clamp(max=num_codes - 1)]
        blended = logits[..., :num_codes].float().softmax(-1) @ codebook
        predicted = torch.where(mask[..., None], blended, known)
        people = ids.shape[0]
        joints = decode_joints(rearrange(predicted, "b n p t d -> (b n) p t d"))
        with torch.no_grad():
            target = decode_joints(rearrange(known, "b n p t d -> (b n) p t d"))
        table = pair_distances(rearrange(joints, "(b n) f j c -> b n f j c", b=people))
        target_table = pair_distances(rearrange(target, "(b n) f j c -> b n f j c", b=people))
        close = ((target_table < self.reach) | (table.detach() < self.reach)).float()
        gap = ((table - target_table).abs() * close).sum() / close.sum().clamp(min=1.0)
        return self.weight * gap, {"pair_geometry": gap.detach()}


def pair_distances(joints: torch.Tensor) -> torch.Tensor:
    """Joints (b, 2, frame, joint, 3) -> (b, frame, joint, joint): each joint of person 1 to each of person 2 (with a
    gradient where two joints meet)."""
    offsets = joints[:, 0, :, :, None] - joints[:, 1, :, None]
    return (offsets.square().sum(-1) + 1e-8).sqrt()
