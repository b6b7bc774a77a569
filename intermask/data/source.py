"""One entry to a dataset from its config: where it lives, how it is read, its normaliser, its datasets.

The config (``configs/data/*.yaml``) names the on-disk ``format``; this module is the only place that maps a
format to its reader.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError, DatasetError
from ..motion.normalize import Normalizer
from . import interhuman, interx
from .datasets import ClipSampling, Interactions, MotionWindows, fit_normalizer

log = logging.getLogger(__name__)

READERS = {"interhuman": interhuman.load_split, "interx": interx.load_split}
# the formats whose features this project's VQ-VAE, transformer and evaluator train on
TRAINABLE = ("interhuman",)


@dataclass
class DataSource:
    """A dataset as configured: ``name``, ``root``, ``format`` and its sampling constants."""

    cfg: Mapping[str, Any]

    @property
    def root(self) -> Path:
        return Path(self.cfg["root"])

    @property
    def name(self) -> str:
        return self.cfg["name"]

    def ensure(self, progress: bool = True) -> Path:
        """The dataset root, generating the synthetic dataset there first when it is configured and missing."""
        generate = self.cfg.get("generate")
        if generate and not (self.root / "motions_processed").is_dir():
            from .synthetic import generate_dataset

            log.info("no dataset at %s: generating %d synthetic clips (seed %d)", self.root,
                     generate["num_clips"], generate["seed"])
            generate_dataset(self.root, num_clips=int(generate["num_clips"]), seed=int(generate["seed"]),
                             progress=progress)
        return self.root

    @property
    def format(self) -> str:
        fmt = self.cfg.get("format", "interhuman")
        if fmt not in READERS:
            raise ConfigError(f"data.format={fmt!r} has no reader here; known formats: {sorted(READERS)}")
        return fmt

    def clips(self, split: str, mirror: bool | None = None, progress: bool = False):
        """Raw clips of a split; training clips get mirrored copies when the config asks for them."""
        fmt = self.format
        self.ensure(progress)
        if mirror is None:
            mirror = bool(self.cfg.get("mirror", False)) and split == "train"
        limits = {"min_frames": int(self.cfg.get("min_frames", 15))}
        if "max_source_frames" in self.cfg:
            limits["max_source_frames"] = int(self.cfg["max_source_frames"])
        return READERS[fmt](self.root, split, mirror=mirror, progress=progress, **limits)

    def require_trainable(self, what: str) -> None:
        """A clear stop where ``what`` needs training on data whose models this project does not train."""
        if self.format not in TRAINABLE:
            raise ConfigError(
                f"{what} is not available for data={self.name}: training here covers the InterHuman feature layout "
                f"(22 joints, 262 features); Inter-X's VQ-VAE losses need joint positions through the SMPL-X body "
                f"model, which is not wired in yet. Inter-X evaluates (its ground truth, and models converted from "
                f"the published Inter-X checkpoints): python -m intermask.eval --dataset interx ckpt=... "
                f"evaluator_ckpt=<converted finest.tar>")

    def normalizer(self) -> Normalizer:
        """Stored statistics, computed from the (mirror-augmented) train split on first use."""
        self.require_trainable("normalisation statistics (and so training)")
        self.ensure()
        return interhuman.normalizer_for(self.root, lambda: fit_normalizer(self.clips("train")))

    def vq_windows(self, split: str, progress: bool = False, multiple_of: int = 1) -> MotionWindows:
        """Single-person windows of ``data.vq.window`` frames every ``data.vq.stride``; the window must be a
        positive multiple of ``multiple_of`` (the VQ-VAE's time downsampling)."""
        vq = self.cfg.get("vq", {})
        window, stride = int(vq.get("window", 64)), int(vq.get("stride", 10))
        if window < 1 or stride < 1 or window % multiple_of:
            raise ConfigError(f"data.vq.window={window} must be a positive multiple of {multiple_of} and "
                              f"data.vq.stride={stride} positive")
        return MotionWindows(self.clips(split, progress=progress), self.normalizer(), window=window, stride=stride)

    def sampling(self, seed: int = 0, random_order: bool = True) -> ClipSampling:
        return ClipSampling(max_frames=int(self.cfg["max_frames"]), person_order=self.cfg.get("person_order",
                            "canonical"), random_order=random_order, seed=seed)

    def interactions(self, split: str, normalized: bool = True, seed: int = 0, mirror: bool | None = None,
                     progress: bool = False) -> Interactions | interx.InterXInteractions:
        """Two-person items; ``normalized=False`` gives the raw features the evaluator reads (Inter-X's are
        never normalised)."""
        if self.format == "interx":
            if normalized:
                self.require_trainable("normalised Inter-X items")
            return interx.InterXInteractions(self.clips(split, progress=progress),
                                             max_frames=int(self.cfg["max_frames"]), seed=seed)
        clips = self.clips(split, mirror=mirror, progress=progress)
        return Interactions(clips, self.sampling(seed), self.normalizer() if normalized else None)


def check_exists(source: DataSource) -> None:
    if not source.cfg.get("generate") and not source.root.is_dir():
        raise DatasetError(f"dataset {source.name!r} not found at {source.root}; set data.root=PATH "
                           f"(see the README's 'Real datasets' section)")
