"""Per-dimension z-score normalisation of features with one global mean and std.

The statistics live in a directory as ``global_mean.npy`` and ``global_std.npy`` (the InterHuman file names),
one value per feature dimension. The same statistics serve both people of a pair.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_path

MEAN_FILE = "global_mean.npy"
STD_FILE = "global_std.npy"
# A dimension whose std falls below this is constant in the data (real features vary far more: the smallest
# InterHuman std, a per-frame velocity, is about 1e-3 m). Such a dimension gets std 1 rather than a tiny floor:
# dividing by a floor like 1e-8 would turn float noise, or any value unseen in training, into numbers of order
# 1e8 that swamp every loss, while std 1 keeps it centred and at its raw, already small, scale.
CONSTANT_STD_THRESHOLD = 1e-5


def _as_rows(chunk, index: int) -> np.ndarray:
    if isinstance(chunk, torch.Tensor):
        chunk = chunk.detach().cpu().numpy()
    chunk = np.asarray(chunk, dtype=np.float64)
    if chunk.ndim < 1 or chunk.shape[-1] == 0:
        raise ValueError(f"features[{index}]: expected shape (..., dim), got {chunk.shape}")
    if not np.isfinite(chunk).all():
        raise ValueError(f"features[{index}]: contains NaN or inf ({int((~np.isfinite(chunk)).sum())} values)")
    return chunk.reshape(-1, chunk.shape[-1])


class Normalizer:
    """z-score with fixed statistics: ``normalize(x) = (x - mean) / std``, on numpy arrays or torch tensors.

    mean, std: (dim,). Torch input keeps its device and dtype; numpy input keeps its floating dtype.
    """

    def __init__(self, mean, std):
        mean = np.asarray(mean, dtype=np.float32)
        std = np.asarray(std, dtype=np.float32)
        if mean.ndim != 1 or std.shape != mean.shape:
            raise ValueError(f"mean and std must both be (dim,), got mean {mean.shape} and std {std.shape}")
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            raise ValueError("mean and std must be finite")
        if (std <= 0).any():
            raise ValueError(f"std must be positive, got {int((std <= 0).sum())} non-positive entries "
                             f"(first at dimension {int(np.argmax(std <= 0))})")
        self.mean = mean
        self.std = std
        self._torch_stats = {}

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def __repr__(self) -> str:
        return f"Normalizer(dim={self.dim})"

    def _stats_like(self, x):
        if isinstance(x, torch.Tensor):
            dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
            key = (x.device, dtype)
            if key not in self._torch_stats:
                self._torch_stats[key] = (torch.as_tensor(self.mean, device=x.device, dtype=dtype),
                                          torch.as_tensor(self.std, device=x.device, dtype=dtype))
            return (x.to(dtype), *self._torch_stats[key])
        x = np.asarray(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.float32
        return x.astype(dtype, copy=False), self.mean.astype(dtype), self.std.astype(dtype)

    def _check(self, x, what: str):
        if x.shape[-1:] != (self.dim,):
            raise ValueError(f"{what}: expected shape (..., {self.dim}), got {tuple(x.shape)}")

    def normalize(self, x):
        """Raw -> normalised features. (..., dim) -> (..., dim)."""
        self._check(x, "normalize input")
        x, mean, std = self._stats_like(x)
        return (x - mean) / std

    def denormalize(self, x):
        """Normalised -> raw features. (..., dim) -> (..., dim)."""
        self._check(x, "denormalize input")
        x, mean, std = self._stats_like(x)
        return x * std + mean

    @classmethod
    def fit(cls, features, eps: float = CONSTANT_STD_THRESHOLD) -> "Normalizer":
        """Statistics of a feature set: an array (rows, dim) or (..., dim), or an iterable of (frames, dim) clips.

        Chunks are merged with the parallel-variance formula in float64, so a large dataset never has to sit in
        memory at once. The std is the population std (ddof 0); dimensions with std below ``eps`` are constant
        and get std 1 (see CONSTANT_STD_THRESHOLD).
        """
        chunks = [features] if isinstance(features, (np.ndarray, torch.Tensor)) else features
        count, mean, squares = 0, None, None
        for index, chunk in enumerate(chunks):
            rows = _as_rows(chunk, index)
            if mean is not None and rows.shape[1] != mean.shape[0]:
                raise ValueError(f"features[{index}]: has {rows.shape[1]} dims, earlier chunks had {mean.shape[0]}")
            if len(rows) == 0:
                continue
            chunk_mean = rows.mean(0)
            chunk_squares = ((rows - chunk_mean) ** 2).sum(0)
            if mean is None:
                count, mean, squares = len(rows), chunk_mean, chunk_squares
                continue
            total = count + len(rows)
            delta = chunk_mean - mean
            mean = mean + delta * (len(rows) / total)
            squares = squares + chunk_squares + delta ** 2 * (count * len(rows) / total)
            count = total
        if count == 0:
            raise ValueError("features: no rows to fit normalisation statistics on")
        std = np.sqrt(squares / count)
        return cls(mean, np.where(std < eps, 1.0, std))

    def save(self, directory) -> None:
        """Write ``global_mean.npy`` and ``global_std.npy`` into ``directory`` (created if missing), atomically."""
        directory = Path(directory)
        for name, array in ((MEAN_FILE, self.mean), (STD_FILE, self.std)):
            with atomic_path(directory / name, durable=True) as temporary:
                np.save(temporary, array)

    @classmethod
    def load(cls, directory) -> "Normalizer":
        """Read the statistics written by ``save`` (or InterHuman's own files) from ``directory``."""
        directory = Path(directory)
        arrays = []
        for name in (MEAN_FILE, STD_FILE):
            path = directory / name
            if not path.is_file():
                raise FileNotFoundError(
                    f"normalisation statistics file {path} is missing; create it by fitting on the training "
                    f"features, Normalizer.fit(train_features).save('{directory}'), or copy the dataset's "
                    f"{MEAN_FILE} and {STD_FILE} into that directory")
            array = np.load(path, allow_pickle=False)
            if array.ndim != 1:
                raise ValueError(f"{path}: expected a 1-D array of per-dimension statistics, got shape {array.shape}")
            arrays.append(array)
        return cls(*arrays)
