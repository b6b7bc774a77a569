"""Stand-ins that know each clip of a small synthetic split: an evaluator that embeds a caption and a motion as their
clip's one-hot vector, and a model that draws, for a caption, a chosen clip's motion."""
from __future__ import annotations

import numpy as np
import torch

from intermask.motion.augment import swap_person_names
from intermask.motion.layout import INTERHUMAN

NAMES = ("first person", "second person")


def start_key(motion):
    """Raw features (2, frame, 262) -> the sum of the distances between all 44 joints of the first frame: the same
    in either person order and under the items' rigid canonicalisation, different for different clips."""
    joints = motion[:, 0, INTERHUMAN.position].reshape(-1, 3)
    return float(torch.cdist(joints, joints).sum())


class ClipEvaluator:
    """Stands in for a trained evaluator that knows each clip: a caption embeds as its clip's one-hot vector, a
    motion as the one-hot vector of the clip whose first frame it starts with (the items' crops start at frame 0
    when the clip fits)."""

    text_key = "text"

    def __init__(self, items):
        self.index, self.keys = {}, np.array([start_key(item["motion"]) for item in items])
        for i, item in enumerate(items):
            for caption in item["texts"]:
                self.index[caption] = self.index[swap_person_names(caption, NAMES)] = i

    def embed_text(self, texts):
        return torch.eye(len(self.keys))[[self.index[text] for text in texts]]

    def embed_motion(self, motion, lengths):
        return torch.eye(len(self.keys))[[int(np.abs(self.keys - start_key(m)).argmin()) for m in motion]]


class OtherClipModel:
    """Stands in for a model that draws, for the captions of clip i, the clip ``drawn[i]``."""

    frames_per_token, cond_scale, collision_rounds, collision_steps, remask_noise, lowpass_hz = 4, 1.5, 0, None, 0.0, None
    separate_bodies = False

    def __init__(self, evaluator, items, drawn):
        self.evaluator, self.items, self.drawn = evaluator, items, drawn

    def use_lowpass(self, asked, where):
        self.lowpass_hz = asked

    def use_separation(self, asked, where):
        self.separate_bodies = self.separate_bodies if asked is None else asked

    def generate(self, texts, frames, generator=None, **options):
        features = torch.zeros(len(texts), 2, int(frames.max()), INTERHUMAN.dim)
        for row, text in enumerate(texts):
            motion = self.items[self.drawn[self.evaluator.index[text]]]["motion"]
            features[row] = motion[:, : features.shape[2]]
        return None, features

    def denormalize(self, features):
        return features
