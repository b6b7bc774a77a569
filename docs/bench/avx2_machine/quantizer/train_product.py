"""`python -m intermask.train` with a product quantiser: each code vector is GROUPS sub-vectors, each from its own EMA codebook
of num_codes ** (1 / GROUPS) entries; a token id is the sub-codes' mixed-radix number (same ids, same grid).

    PQ_GROUPS=2 python docs/bench/avx2_machine/quantizer/train_product.py vqvae experiment=demo model.vqvae.num_codes=256 ...
"""
import os
import sys

import torch
from torch import nn
from intermask.models import quantizer as qmod, vqvae as vmod

GROUPS = int(os.environ.get("PQ_GROUPS", "2"))
Base = qmod.EMAQuantizer


class ProductQuantizer(nn.Module):
    def __init__(self, num_codes=1024, code_dim=512, **kw):
        super().__init__()
        self.groups = GROUPS
        self.per_group = round(num_codes ** (1 / GROUPS))
        assert self.per_group ** GROUPS == num_codes and code_dim % GROUPS == 0
        self.num_codes, self.code_dim = num_codes, code_dim
        self.parts = nn.ModuleList(Base(self.per_group, code_dim // GROUPS, **kw) for _ in range(GROUPS))
        self.register_buffer("codes_seen", torch.zeros(num_codes, dtype=torch.bool), persistent=False)

    def _digits(self, codes):
        return [(codes // self.per_group ** (self.groups - 1 - g)) % self.per_group for g in range(self.groups)]

    def forward(self, z):
        outs = [part(chunk) for part, chunk in zip(self.parts, z.chunk(self.groups, -1))]
        quantized = torch.cat([o[0] for o in outs], -1)
        codes = sum(o[1] * self.per_group ** (self.groups - 1 - g) for g, o in enumerate(outs))
        commit = sum(o[2] for o in outs) / self.groups
        counts = torch.bincount(codes.flatten(), minlength=self.num_codes).float()
        self.codes_seen |= counts > 0
        return quantized, codes, commit, {"perplexity": qmod.perplexity_of(counts), "usage": (counts > 0).float().mean()}

    @torch.no_grad()
    def encode(self, z):
        return sum(part.encode(chunk) * self.per_group ** (self.groups - 1 - g)
                   for g, (part, chunk) in enumerate(zip(self.parts, z.chunk(self.groups, -1))))

    def decode(self, codes):
        known = codes < self.num_codes
        digits = self._digits(codes.clamp(max=self.num_codes - 1))
        vectors = torch.cat([part.decode(d) for part, d in zip(self.parts, digits)], -1)
        return vectors * known.unsqueeze(-1).to(vectors.dtype)

    @property
    def codebook(self):
        ids = torch.arange(self.num_codes)
        return self.decode(ids)

    def running_usage(self):
        return self.codes_seen.float().mean().item()

    def reset_running_usage(self):
        self.codes_seen.zero_()


vmod.EMAQuantizer = ProductQuantizer
from intermask import train
sys.argv = ["intermask.train", *sys.argv[1:]]
train.main()
