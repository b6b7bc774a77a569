"""Torch datasets over two-person clips: single-person VQ windows and whole interactions.

Every random choice (crop, caption, person order) comes from a generator seeded by (seed, epoch, index), so a
run is reproducible whatever the number of loader workers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DatasetError
from ..motion.augment import swap_person_names
from ..motion.canonical import pair_to_features
from ..motion.layout import INTERHUMAN
from ..motion.normalize import Normalizer
from ..motion.partner import to_partner_frame
from .interhuman import RawClip

PERSON_ORDERS = ("canonical", "official")


def clip_features(clip: RawClip, start: int = 0, frames: int | None = None, swap: bool = False) -> np.ndarray:
    """Canonical raw features (person=2, frame, 262) of ``frames`` frames from ``start``; one row fewer than frames.

    ``swap`` puts the second stored person first, so the canonical frame follows that person.
    """
    stop = clip.num_frames if frames is None else start + frames
    first, second = (1, 0) if swap else (0, 1)
    joints, rot6d = clip.joints[:, start:stop], clip.rot6d[:, start:stop]
    return pair_to_features(joints[first], rot6d[first], joints[second], rot6d[second]).astype(np.float32)


def fit_normalizer(clips: Sequence[RawClip]) -> Normalizer:
    """Mean/std over every frame of both people of ``clips`` (canonicalised over the whole clip)."""
    features = [person for clip in clips for person in clip_features(clip)]
    return Normalizer.fit(features)


class MotionWindows(Dataset):
    """Single-person windows for the VQ-VAE: each person of each clip, cut into ``window`` frames every ``stride``.

    Item: normalised features (window, 262) float32; with ``pairs`` both people of a clip over the same frames,
    (person=2, window, 262), in the clip's one frame (for a loss between the two reconstructed bodies).
    ``partner_frame`` (pairs only): each clip in both person orders, the second person placed relative to the
    first's root (``motion.partner``), as a tokenizer with that convention codes pairs.
    """

    features = staticmethod(clip_features)  # a clip's (person, frame, feature) features

    def __init__(self, clips: Sequence[RawClip], normalizer: Normalizer, window: int = 64, stride: int = 10,
                 pairs: bool = False, partner_frame: bool = False):
        self.window = window
        if partner_frame and not pairs:
            raise ValueError("partner_frame windows are pairs: pass pairs=True")
        if partner_frame:
            raw = [to_partner_frame(torch.from_numpy(self.features(clip, swap=swap)), INTERHUMAN).numpy()
                   for clip in clips for swap in (False, True)]
        else:
            raw = [self.features(clip) for clip in clips]
        people = [normalizer.normalize(pair).astype(np.float32) for pair in raw]
        people = [pair for pair in people if pair.shape[1] >= window]
        self.people = people if pairs else [person for pair in people for person in pair]
        self.index = [(i, start) for i, person in enumerate(self.people)
                      for start in range(0, person.shape[-2] - window + 1, stride)]
        if not self.index:
            raise DatasetError(f"no person of the {len(clips)} clips has {window} frames for a VQ window")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> torch.Tensor:
        person, start = self.index[i]
        return torch.from_numpy(self.people[person][..., start:start + self.window, :])


@dataclass
class ClipSampling:
    """How an interaction item is drawn from a clip."""

    max_frames: int = 300
    # raw frames a crop takes (features have one row fewer); None: max_frames + 1, so a crop fills every row
    crop_frames: int | None = None
    person_order: str = "canonical"  # "canonical": one random order, then canonicalise; "official": swap twice
    random_order: bool = True
    seed: int = 0
    # the phrases by which captions name the first and the second person ("first person", "second person"): when
    # the people are exchanged they are exchanged in the caption too, so it still names the right person. None: the
    # caption stays as it is (the paper's pipeline; InterHuman's captions say "one person" and "the other")
    person_names: tuple[str, str] | None = None


def captions_for_order(texts: Sequence[str], swapped: bool, person_names: tuple[str, str] | None) -> list[str]:
    """A clip's captions as they read for its people in stored order (``swapped`` False) or exchanged."""
    if not swapped or person_names is None:
        return list(texts)
    return [swap_person_names(text, person_names) for text in texts]


class Interactions(Dataset):
    """Two-person items: a random crop of at most ``max_frames`` frames, a random caption, a random person order
    (with the caption's names of the people exchanged too where ``sampling.person_names`` says how it names them).

    Item: ``motion`` (person=2, max_frames, 262) float32 zero-padded after ``length`` rows, normalised when a
    normaliser is given (else raw features, which the evaluator reads); ``length``; ``text``; ``texts`` (all of
    the clip's descriptions); ``name``.
    """

    def __init__(self, clips: Sequence[RawClip], sampling: ClipSampling, normalizer: Normalizer | None = None):
        if sampling.person_order not in PERSON_ORDERS:
            raise DatasetError(f"person_order must be one of {PERSON_ORDERS}, got {sampling.person_order!r}")
        self.crop = sampling.max_frames + 1 if sampling.crop_frames is None else sampling.crop_frames
        if not 2 <= self.crop <= sampling.max_frames + 1:
            raise DatasetError(f"crop_frames={self.crop} must lie in [2, max_frames + 1 = {sampling.max_frames + 1}]")
        self.clips = list(clips)
        self.sampling = sampling
        self.normalizer = normalizer
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clips)

    def rng(self, i: int) -> np.random.Generator:
        return np.random.default_rng((self.sampling.seed, self.epoch, i))

    def __getitem__(self, i: int) -> dict:
        clip, sampling, rng = self.clips[i], self.sampling, self.rng(i)
        # features have one row fewer than frames, so a crop of max_frames + 1 frames fills max_frames rows
        frames = min(clip.num_frames, self.crop)
        start = int(rng.integers(0, clip.num_frames - frames + 1))
        swap = sampling.random_order and rng.random() < 0.5
        motion = clip_features(clip, start, frames, swap)
        swap_again = sampling.random_order and sampling.person_order == "official" and rng.random() < 0.5
        if swap_again:
            motion = motion[::-1]  # the second swap keeps the first person's frame
        if self.normalizer is not None:
            motion = self.normalizer.normalize(motion)
        length = motion.shape[1]
        padded = np.zeros((2, sampling.max_frames, motion.shape[-1]), dtype=np.float32)
        padded[:, :length] = motion
        texts = captions_for_order(clip.texts, swap != swap_again, sampling.person_names)
        return {"motion": torch.from_numpy(padded), "length": length,
                "text": texts[int(rng.integers(len(texts)))], "texts": texts, "name": clip.name}

    layout = INTERHUMAN  # the per-person features a model of this data reads and writes

    @staticmethod
    def from_people(raw: torch.Tensor) -> torch.Tensor:
        """Two people's raw features (batch, 2, frame, 262) as items hold them: unchanged."""
        return raw

    @staticmethod
    def joints(raw: torch.Tensor) -> torch.Tensor:
        """Raw (not normalised) features (..., frame, 262) -> joint positions (..., frame, 22, 3)."""
        return raw[..., INTERHUMAN.position].unflatten(-1, (-1, 3))


def collate(items: list[dict]) -> dict:
    """Stack tensors and numbers; keep strings and lists of strings as lists."""
    batch = {}
    for key in items[0]:
        values = [item[key] for item in items]
        if isinstance(values[0], torch.Tensor):
            batch[key] = torch.stack(values)
        elif isinstance(values[0], (int, float, np.integer, np.floating)):
            batch[key] = torch.tensor(values)
        else:
            batch[key] = values
    return batch
