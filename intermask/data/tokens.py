"""Token maps of a dataset split, encoded once by a frozen VQ-VAE and cached on disk.

Each clip is cut into windows of at most ``max_frames`` feature rows (a long clip gives several, every half
window), and each window is encoded in both person orders — canonicalised on whichever person comes first —
so choosing the order at training time needs no re-encoding. The cache file records the VQ checkpoint it came
from (path, size, modification time); a different VQ makes it stale and it is rebuilt.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from ..atomic import atomic_path
from .datasets import captions_for_order
from .source import DataSource

CACHE_VERSION = 1


def window_starts(num_frames: int, window: int) -> list[int]:
    """Starts of ``window``-frame crops covering a clip: every half window, the last one flush with the end."""
    if num_frames <= window:
        return [0]
    starts = list(range(0, num_frames - window + 1, max(window // 2, 1)))
    if starts[-1] != num_frames - window:
        starts.append(num_frames - window)
    return starts


def vq_fingerprint(vq_path: Path) -> str:
    stat = Path(vq_path).stat()
    return f"{Path(vq_path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


@dataclass
class TokenSet:
    """Token maps of one split: ``ids`` (item, order=2, person=2, part, step) int16 in the two person orders,
    ``lengths`` (item,) valid steps, ``texts`` per item (the clip's captions), ``names``."""

    ids: torch.Tensor
    lengths: torch.Tensor
    texts: list[list[str]]
    names: list[str]


@torch.no_grad()
def encode_split(model, source: DataSource, split: str, device: torch.device, batch_size: int = 64,
                 progress: bool = False) -> TokenSet:
    """Encode every window of every clip (mirrored copies included for training) in both person orders."""
    clips = source.clips(split, progress=progress)
    frames = model.max_frames
    windows = [(clip, start) for clip in clips for start in window_starts(clip.num_frames, frames + 1)]
    normalize = model.normalize
    model = model.to(device)
    ids, lengths = [], []
    for i in tqdm(range(0, len(windows), batch_size), desc=f"tokenizing {split}", disable=not progress,
                  leave=False):
        chunk = windows[i:i + batch_size]
        motions = np.zeros((len(chunk), 2, 2, frames, model.layout.dim), dtype=np.float32)
        valid = np.zeros(len(chunk), dtype=np.int64)
        for j, (clip, start) in enumerate(chunk):
            for order in (0, 1):
                # a window of frames + 1 source frames: InterHuman's features are one row shorter than their frames
                features = source.pair_features(clip, start, min(clip.num_frames - start, frames + 1),
                                                swap=bool(order))[:, :frames]
                motions[j, order, :, :features.shape[1]] = features
            valid[j] = features.shape[1]
        motion = normalize(torch.from_numpy(motions).to(device)).flatten(0, 1)  # (chunk * order, 2, frame, c)
        steps = torch.from_numpy(valid).to(device)
        # zero the padding after normalisation, as the datasets do
        frame_index = torch.arange(frames, device=device)
        motion = motion * (frame_index[None, None, :, None] < steps.repeat_interleave(2)[:, None, None, None])
        tokens = model.tokenize(motion, steps.repeat_interleave(2))
        ids.append(tokens.unflatten(0, (len(chunk), 2)).to(torch.int16).cpu())
        lengths.append(steps.cpu() // model.frames_per_token)
    return TokenSet(torch.cat(ids), torch.cat(lengths), [list(clip.texts) for clip, _ in windows],
                    [f"{clip.name}@{start}" for clip, start in windows])


def save_tokens(path: Path, tokens: TokenSet, fingerprint: str) -> None:
    payload = {"version": CACHE_VERSION, "vq": fingerprint, "ids": tokens.ids, "lengths": tokens.lengths,
               "texts": tokens.texts, "names": tokens.names}
    with atomic_path(path) as temporary:
        torch.save(payload, temporary)


def load_tokens(path: Path, fingerprint: str) -> TokenSet | None:
    """The cached tokens, or None when absent, unreadable, or made by another VQ checkpoint."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a broken cache is rebuilt, never trusted
        return None
    if payload.get("version") != CACHE_VERSION or payload.get("vq") != fingerprint:
        return None
    return TokenSet(payload["ids"], payload["lengths"], payload["texts"], payload["names"])


def load_or_build_tokens(model, source: DataSource, split: str, directory: Path, vq_path: Path,
                         device: torch.device, progress: bool = False) -> TokenSet:
    path = Path(directory) / f"{split}.pt"
    fingerprint = vq_fingerprint(vq_path)
    tokens = load_tokens(path, fingerprint)
    if tokens is None:
        tokens = encode_split(model, source, split, device, progress=progress)
        save_tokens(path, tokens, fingerprint)
    return tokens


class TokenInteractions(Dataset):
    """Training items from cached token maps: a random person order and a random caption per draw (its names of
    the people exchanged with them where ``person_names`` says how captions name them).

    Item: ``ids`` (person=2, part, step) long, ``length_tokens``, ``text``, ``name``. With
    ``person_order="official"`` the two maps are swapped once more with probability 1/2 (the frame stays the
    first canonical person's), as the official data pipeline does.
    """

    def __init__(self, tokens: TokenSet, person_order: str = "canonical", seed: int = 0,
                 person_names: tuple[str, str] | None = None):
        self.tokens, self.person_order, self.seed, self.epoch = tokens, person_order, seed, 0
        self.person_names = person_names  # as in ``ClipSampling``: the captions follow the order drawn

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.tokens.names)

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng((self.seed, self.epoch, i))
        order = int(rng.integers(2))
        ids = self.tokens.ids[i, order].long()
        swap_again = self.person_order == "official" and rng.random() < 0.5
        if swap_again:
            ids = ids.flip(0)
        texts = captions_for_order(self.tokens.texts[i], bool(order) != swap_again, self.person_names)
        return {"ids": ids, "length_tokens": int(self.tokens.lengths[i]),
                "text": texts[int(rng.integers(len(texts)))], "name": self.tokens.names[i]}
