"""Attention building blocks shared by the Inter-M transformer, the text encoders and the evaluator.

Masks are boolean and say who may be attended to: ``True`` = this key takes part. They are built by the
caller from an explicit validity grid, never inferred here.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .dropout import Dropout, dropout

# Up to this many keys, attention runs as two plain batched products and a softmax: fused SDPA kernels tile
# 64-128 keys per block, so on the Inter-M transformer's 5-part spatial attention they spend most of their
# work on padding, while the plain products are tiny (and torch.compile fuses them).
SHORT_KEYS = 16


def plain_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_mask: torch.Tensor | None,
                    dropout_p: float) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v on (b, h, l, d) tensors, as ``F.scaled_dot_product_attention`` computes it
    (``attn_mask`` boolean, True = attend; dropout on the attention weights)."""
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) * q.shape[-1] ** -0.5
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    weights = dropout(scores.softmax(dim=-1), dropout_p)
    return torch.einsum("bhqk,bhkd->bhqd", weights, v)


class MultiheadAttention(nn.Module):
    """Multi-head attention on batch-first tensors with one packed q/k/v projection.

    The packed ``in_proj`` Linear(dim, 3*dim) (rows ordered q | k | v) and ``out_proj`` Linear(dim, dim) hold
    the same numbers as ``torch.nn.MultiheadAttention``'s ``in_proj_weight``/``in_proj_bias`` and
    ``out_proj``, so checkpoints of either kind convert by renaming keys only.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if dim % heads != 0:
            raise ValueError(f"MultiheadAttention: dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.dropout = dropout
        self.in_proj = nn.Linear(dim, 3 * dim)
        self.out_proj = nn.Linear(dim, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # torch's MultiheadAttention initialises its packed projection this way; the reference model relies on it
        nn.init.xavier_uniform_(self.in_proj.weight)
        nn.init.zeros_(self.in_proj.bias)
        nn.init.zeros_(self.out_proj.bias)

    def forward(
        self,
        query: torch.Tensor,
        context: torch.Tensor | None = None,
        key_valid: torch.Tensor | None = None,
        causal: bool = False,
    ) -> torch.Tensor:
        """Attend from ``query`` (batch, q_len, dim) to ``context`` (batch, k_len, dim), default self-attention.

        key_valid: (batch, k_len) bool, True where a key may be attended to. Every query must see at least one
        valid key, otherwise its output is undefined.
        causal: each query position sees itself and earlier positions only (self-attention).
        Returns (batch, q_len, dim).
        """
        context = query if context is None else context
        dim = query.shape[-1]
        w_q, w_kv = self.in_proj.weight.split([dim, 2 * dim])
        b_q, b_kv = self.in_proj.bias.split([dim, 2 * dim])
        q = F.linear(query, w_q, b_q)
        k, v = F.linear(context, w_kv, b_kv).chunk(2, dim=-1)
        q, k, v = (rearrange(t, "b l (h d) -> b h l d", h=self.heads) for t in (q, k, v))

        attn_mask = None
        if key_valid is not None:
            attn_mask = rearrange(key_valid, "b k -> b 1 1 k")
        dropout_p = self.dropout if self.training else 0.0
        # on a CPU, SDPA with dropout falls back to these same products, but with a slower dropout mask
        cpu_dropout = dropout_p > 0 and q.device.type == "cpu"
        if (k.shape[2] <= SHORT_KEYS or cpu_dropout) and not causal:
            out = plain_attention(q, k, v, attn_mask, dropout_p)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=causal)
        return self.out_proj(rearrange(out, "b h l d -> b l (h d)"))


class FeedForward(nn.Module):
    """Linear -> GELU -> Dropout -> Linear: (..., dim) -> (..., dim)."""

    def __init__(self, dim: int, hidden_dim: int, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden_dim),
            nn.GELU(),
            Dropout(dropout),
            nn.Linear(hidden_dim, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class EncoderLayer(nn.TransformerEncoderLayer):
    """``nn.TransformerEncoderLayer`` (the same parameters and state dict) whose dropout masks are drawn by
    ``models.dropout`` while it trains on a CPU.

    There ``F.dropout`` draws its masks with ``bernoulli_``: in the recipe's evaluator (batch 96, 161 frames) that was
    a quarter of the training step, most of it on the attention weights. Their attention then runs as
    ``plain_attention`` with the cheaper mask, the same function with other random draws. In eval mode, on other
    devices, and for masks other than key padding it is torch's layer unchanged.

    attention_dropout: dropout on the attention weights apart from the layer's ``dropout`` (None: the same, as in
    torch's layer); without it a CPU runs the attention as one fused kernel.
    """

    def __init__(self, *args, attention_dropout: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if attention_dropout is not None:
            if not 0 <= attention_dropout < 1:
                raise ValueError(f"EncoderLayer: attention_dropout must be in [0, 1), got {attention_dropout}")
            self.self_attn.dropout = float(attention_dropout)
        # the same rates; dropout modules hold no state, so the state dict is torch's layer's
        self.dropout, self.dropout1, self.dropout2 = (Dropout(old.p) for old in (self.dropout, self.dropout1,
                                                                                 self.dropout2))

    def _sa_block(self, x: torch.Tensor, attn_mask: torch.Tensor | None, key_padding_mask: torch.Tensor | None,
                  is_causal: bool = False) -> torch.Tensor:
        attention = self.self_attn
        cpu_dropout = (self.training and attention.dropout > 0 and x.device.type == "cpu" and attn_mask is None
                       and not is_causal and attention.batch_first)
        # the padding mask is read only where it is used: elsewhere reading it would cost a pass (and on CUDA a sync)
        valid = _key_valid(key_padding_mask) if cpu_dropout else False
        if valid is False:
            return super()._sa_block(x, attn_mask, key_padding_mask, is_causal)
        q, k, v = rearrange(F.linear(x, attention.in_proj_weight, attention.in_proj_bias),
                            "b l (three h d) -> three b h l d", three=3, h=attention.num_heads)
        valid = None if valid is None else rearrange(valid, "b k -> b 1 1 k")
        out = plain_attention(q, k, v, valid, attention.dropout)
        return self.dropout1(attention.out_proj(rearrange(out, "b h l d -> b l (h d)")))


def _key_valid(key_padding_mask: torch.Tensor | None) -> torch.Tensor | None | bool:
    """torch's key padding mask (True or -inf on padding; ``nn.TransformerEncoder`` hands its layers the float form)
    as a boolean mask of valid keys; False for an additive mask with other values."""
    if key_padding_mask is None or key_padding_mask.dtype == torch.bool:
        return None if key_padding_mask is None else ~key_padding_mask
    padding = key_padding_mask.isneginf()
    if not bool((padding | (key_padding_mask == 0)).all()):
        return False
    return ~padding
