"""A training-time head that makes the generator's caption condition carry who acts and which side.

The masked-token loss rewards reading the caption only as far as the caption changes the likely tokens, and a
caption's twin with the two people's names exchanged (or left and right mirrored) shares every word with it: the
text encoder learns to give both one condition, and the transformer then cannot tell them apart (on the synthetic
demo, the masked-token loss under a name-swapped caption was within 0.0015 nats of the loss under the caption
itself). This head ties the condition to the ground-truth token maps contrastively, and ranks each caption against
its one-detail twin alone, so the gradient that reaches the text encoder asks for those details. It is not used at
sampling: its weights ride along in the checkpoint and cost nothing there.
"""
from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from .text_motion_evaluators import detail_loss, symmetric_info_nce


class CaptionAligner(nn.Module):
    """Token maps (batch, person=2, part, step) and conditions (batch, cond_dim) -> one embedding space.

    The motion side embeds each code, averages it over each sample's valid steps per person and part (who does what
    with which body part, not when), and maps the concatenation through a small MLP; the condition side is linear.

    weight: the head's share of the transformer's loss; detail_weight: the one-detail twins' term against the
    batch-wide contrastive term.
    """

    def __init__(self, num_codes: int, num_parts: int, cond_dim: int, width: int = 32, hidden: int = 128,
                 embed: int = 64, weight: float = 0.3, detail_weight: float = 3.0, init_log_scale: float = 3.0):
        super().__init__()
        if not weight > 0 or detail_weight < 0:
            raise ValueError(f"caption aligner: weight must be > 0 and detail_weight >= 0, got {weight}, {detail_weight}")
        self.num_parts = num_parts
        self.weight, self.detail_weight = float(weight), float(detail_weight)
        self.codes = nn.Embedding(num_codes, width)
        self.motion = nn.Sequential(nn.Linear(2 * num_parts * width, hidden), nn.GELU(), nn.Linear(hidden, embed))
        self.condition = nn.Linear(cond_dim, embed)
        self.log_scale = nn.Parameter(torch.tensor(float(init_log_scale)))  # the contrastive temperature, learnt

    def embed_maps(self, ids: torch.Tensor, lengths_tokens: torch.Tensor) -> torch.Tensor:
        """Token maps (b, 2, part, step) whose steps from ``lengths_tokens`` (b,) on are padding -> (b, embed)."""
        if ids.ndim != 4 or ids.shape[1] != 2 or ids.shape[2] != self.num_parts:
            raise ValueError(f"caption aligner: token maps must be (batch, 2, {self.num_parts}, step), "
                             f"got {tuple(ids.shape)}")
        valid = torch.arange(ids.shape[-1], device=ids.device)[None] < lengths_tokens.to(ids.device)[:, None]  # b t
        valid = rearrange(valid, "b t -> b 1 1 t")
        codes = self.codes(ids.masked_fill(~valid, 0)) * valid[..., None]  # b n p t w; padding contributes nothing
        pooled = codes.sum(3) / valid.sum(-1, keepdim=True).clamp(min=1)  # b n p w
        return self.motion(rearrange(pooled, "b n p w -> b (n p w)"))

    def forward(self, ids: torch.Tensor, lengths_tokens: torch.Tensor, cond: torch.Tensor,
                rows: torch.Tensor | None = None, changed_cond: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The weighted loss and its terms: the batch's conditions (b, ...) against its token maps, and where given,
        the maps at ``rows`` (pairs,) against their own condition and the one-detail twin's ``changed_cond``
        (pairs, ...). Conditions are flattened per sample (one per person with person views)."""
        motion = self.embed_maps(ids, lengths_tokens)
        text = self.condition(cond.flatten(1))
        scale = self.log_scale.exp()
        contrastive = symmetric_info_nce(text, motion, scale)
        logs = {"align": contrastive.detach()}
        total = contrastive
        if rows is not None and len(rows):
            detail = detail_loss(motion[rows], text[rows], self.condition(changed_cond.flatten(1)), scale)
            total = total + self.detail_weight * detail
            logs["align_detail"] = detail.detach()
        return self.weight * total, logs
