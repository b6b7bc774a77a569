"""EMA vector quantiser with dead-code reset: the codebook of the 2D motion VQ-VAE.

The published model wraps this in a "residual" quantiser with a single layer and a quantise-dropout
probability; with one layer there is nothing to drop and no residual to quantise, so a plain quantiser is the
same computation. Its checkpoint key ``quantizer.layers.0.codebook`` maps to ``codebook`` here.

Everything the quantiser learns lives in buffers (codebook, EMA sums and counts, the initialised flag), so a
state dict restores it exactly and resuming never re-initialises the codebook.
"""
from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from .official_quirks import first_rows
from .random_draws import gumbel_noise


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def perplexity_of(counts: torch.Tensor) -> torch.Tensor:
    """exp(entropy) of the code histogram: 1 when one code is used, num_codes when all are used evenly."""
    probs = counts / counts.sum().clamp_min(1.0)
    return torch.exp(-(probs * torch.log(probs + 1e-7)).sum())


class EMAQuantizer(nn.Module):
    """Nearest-neighbour quantiser whose codebook follows an exponential moving average of its assignments.

    Args:
        num_codes: codebook size.
        code_dim: vector size.
        decay: EMA factor for the per-code sums and counts.
        gumbel_temperature: training assignment is argmax(-distance / temperature + Gumbel noise).
        stochastic: use that Gumbel assignment while training; otherwise (and always in eval) argmin.
        legacy_reset: initialise and revive codes with the batch's first vectors, for converted checkpoints
            only (``official_quirks``, 3); by default they are drawn at random from the batch, so a revived code
            is not always a frame of the first few clips.
    """

    def __init__(self, num_codes: int = 1024, code_dim: int = 512, decay: float = 0.99,
                 gumbel_temperature: float = 0.5, stochastic: bool = True, legacy_reset: bool = False):
        super().__init__()
        self.num_codes = num_codes
        self.code_dim = code_dim
        self.decay = decay
        self.gumbel_temperature = gumbel_temperature
        self.stochastic = stochastic
        self.legacy_reset = legacy_reset
        self.register_buffer("codebook", torch.zeros(num_codes, code_dim))
        self.register_buffer("code_sum", torch.zeros(num_codes, code_dim))
        self.register_buffer("code_count", torch.zeros(num_codes))
        self.register_buffer("initialized", torch.tensor(False))
        # logging aid only: which codes were used since the last ``reset_running_usage``
        self.register_buffer("codes_seen", torch.zeros(num_codes, dtype=torch.bool), persistent=False)

    # ---- codebook bookkeeping -------------------------------------------------------------------------

    def _pick_vectors(self, vectors: torch.Tensor) -> torch.Tensor:
        """``num_codes`` vectors from a batch (vector, dim); with fewer vectors than codes they are tiled and
        jittered (std 0.01/sqrt(dim)) so repeated picks are distinct codes."""
        count = vectors.shape[0]
        if self.legacy_reset:
            picked = first_rows(vectors, self.num_codes)
        elif count >= self.num_codes:
            picked = vectors[torch.randperm(count, device=vectors.device)[:self.num_codes]]
        else:
            picked = vectors[torch.randint(count, (self.num_codes,), device=vectors.device)]
        if count >= self.num_codes:
            return picked
        return picked + torch.randn_like(picked) * (0.01 / math.sqrt(self.code_dim))

    @torch.no_grad()
    def initialize(self, vectors: torch.Tensor) -> None:
        """Fill the codebook from a batch of vectors (vector, dim) and start the EMA from it.

        In a multi-process run every process starts from the first process's codebook.
        """
        codebook = self._pick_vectors(vectors.float())
        if _distributed():
            dist.broadcast(codebook, src=0)
        self.set_codebook(codebook)

    @torch.no_grad()
    def set_codebook(self, codebook: torch.Tensor) -> None:
        """Adopt a given codebook (num_codes, dim), e.g. a converted checkpoint's, as a freshly started EMA."""
        if tuple(codebook.shape) != (self.num_codes, self.code_dim):
            raise ValueError(f"codebook must be ({self.num_codes}, {self.code_dim}), got {tuple(codebook.shape)}")
        self.codebook.copy_(codebook)
        self.code_sum.copy_(codebook)
        self.code_count.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _ema_update(self, vectors: torch.Tensor, codes: torch.Tensor, batch_counts: torch.Tensor) -> None:
        """Move every live code to the EMA mean of its assignments; revive dead ones (count < 1).

        In a multi-process run the assignments of all processes' batches are summed first, so the codebook follows
        the whole global batch (each process would otherwise average its own, and data-parallel training keeps
        only the first process's buffers).
        """
        batch_sum = torch.zeros_like(self.code_sum).index_add_(0, codes, vectors)
        if _distributed():
            batch_counts = batch_counts.clone()
            dist.all_reduce(batch_sum)
            dist.all_reduce(batch_counts)
        self.code_sum.mul_(self.decay).add_(batch_sum, alpha=1 - self.decay)
        self.code_count.mul_(self.decay).add_(batch_counts, alpha=1 - self.decay)
        alive = (self.code_count >= 1.0).unsqueeze(1)
        means = self.code_sum / self.code_count.clamp_min(1e-12).unsqueeze(1)
        self.codebook.copy_(torch.where(alive, means, self._pick_vectors(vectors)))
        if _distributed():  # dead codes were revived from each process's own batch: adopt the first process's
            dist.broadcast(self.codebook, src=0)

    # ---- assignment -----------------------------------------------------------------------------------

    def distances(self, vectors: torch.Tensor) -> torch.Tensor:
        """Squared L2 distance of each vector to each code. (vector, dim) -> (vector, code)."""
        return (vectors.pow(2).sum(-1, keepdim=True)
                - 2 * vectors @ self.codebook.t()
                + self.codebook.pow(2).sum(-1)[None])

    def _assign(self, vectors: torch.Tensor, sample: bool) -> torch.Tensor:
        distance = self.distances(vectors)
        if sample and self.gumbel_temperature > 0:
            return (-distance / self.gumbel_temperature + gumbel_noise(tuple(distance.shape), distance.device)).argmax(-1)
        return distance.argmin(-1)

    def _check_vectors(self, z: torch.Tensor) -> None:
        if z.ndim < 2 or z.shape[-1] != self.code_dim:
            raise ValueError(f"quantizer input must be (..., {self.code_dim}), got {tuple(z.shape)}")
        if z.numel() == 0:
            raise ValueError(f"quantizer input is empty: {tuple(z.shape)}")

    def forward(self, z: torch.Tensor):
        """Quantise ``z`` (..., dim).

        Returns ``(quantized (..., dim), codes (...), commit_loss, stats)``: ``quantized`` carries the
        straight-through gradient to ``z``; ``commit_loss = MSE(z, sg(quantized))``; ``stats`` holds the
        batch ``perplexity`` and ``usage`` (fraction of codes used in this batch).
        While training, the first call initialises the codebook and every call updates the EMA.
        """
        self._check_vectors(z)
        # distances and EMA statistics in float32, whatever autocast does around us
        with torch.autocast(device_type=z.device.type, enabled=False):
            vectors = z.reshape(-1, self.code_dim).float()
            if self.training and not bool(self.initialized):
                self.initialize(vectors.detach())
            codes = self._assign(vectors.detach(), sample=self.training and self.stochastic)
            chosen = F.embedding(codes, self.codebook)
            batch_counts = torch.bincount(codes, minlength=self.num_codes).float()
            if self.training:
                self._ema_update(vectors.detach(), codes, batch_counts)
            commit_loss = F.mse_loss(vectors, chosen.detach())
            quantized = vectors + (chosen - vectors).detach()
        self.codes_seen |= batch_counts > 0
        stats = {"perplexity": perplexity_of(batch_counts),
                 "usage": (batch_counts > 0).float().mean()}
        return quantized.reshape(z.shape).to(z.dtype), codes.reshape(z.shape[:-1]), commit_loss, stats

    @torch.no_grad()
    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """Nearest code of each vector (argmin, whatever the mode). (..., dim) -> (...) int64."""
        self._check_vectors(z)
        with torch.autocast(device_type=z.device.type, enabled=False):
            codes = self._assign(z.reshape(-1, self.code_dim).float(), sample=False)
        return codes.reshape(z.shape[:-1])

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Code vectors of ``codes`` (...) -> (..., dim). Ids >= num_codes (mask, pad) give zero vectors."""
        if codes.dtype.is_floating_point or codes.dtype == torch.bool:
            raise ValueError(f"codes must be an integer tensor, got {codes.dtype}")
        if codes.numel() and int(codes.min()) < 0:
            raise ValueError(f"codes must be >= 0, got a minimum of {int(codes.min())}")
        known = codes < self.num_codes
        vectors = F.embedding(codes.clamp(max=self.num_codes - 1), self.codebook)
        return vectors * known.unsqueeze(-1).to(vectors.dtype)

    # ---- logging ----------------------------------------------------------------------------------------

    def running_usage(self) -> float:
        """Fraction of the codebook used since the last ``reset_running_usage``."""
        return self.codes_seen.float().mean().item()

    def reset_running_usage(self) -> None:
        self.codes_seen.zero_()

    def extra_repr(self) -> str:
        return (f"num_codes={self.num_codes}, code_dim={self.code_dim}, decay={self.decay}, "
                f"gumbel_temperature={self.gumbel_temperature}, stochastic={self.stochastic}, "
                f"legacy_reset={self.legacy_reset}")
