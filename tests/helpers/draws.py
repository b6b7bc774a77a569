"""Seeded random draws for tests."""
import torch


def seeded(seed: int = 0) -> torch.Generator:
    """A CPU generator seeded with ``seed``: the masks, codes and samples a test draws from it repeat exactly."""
    return torch.Generator().manual_seed(seed)
