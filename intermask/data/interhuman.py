"""Reading the InterHuman on-disk layout (the real dataset and the synthetic one share it).

Layout under ``root``::

    annots/<id>.txt                        descriptions, one per line
    motions_processed/person1/<id>.npy     (frames, 492): 62 joints xyz (Z-up) | 51 joints 6D rotations
    motions_processed/person2/<id>.npy
    split/{train,val,test}.txt             clip ids, one per line (the root is searched too)
    ignore_list.txt                        ids to skip (root or split/)
    global_mean.npy, global_std.npy        normalisation statistics (computed from train when absent)
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import DatasetError
from ..motion.augment import mirror_joints, mirror_rot6d, mirror_text
from ..motion.canonical import zup_to_yup
from ..motion.normalize import Normalizer
from ..motion.skeleton import NUM_JOINTS

log = logging.getLogger(__name__)

OBTAIN = ("InterHuman is distributed by the InterGen authors (github.com/tr3e/InterGen, 'InterHuman Dataset'); "
          "unpack it and set data.root to the folder holding annots/, motions_processed/ and split/. The synthetic "
          "data in the same layout is written by `python -m intermask.data.synthetic out=FOLDER`.")
POSITION_COLUMNS = slice(0, NUM_JOINTS * 3)  # the 22 body joints of the 62 stored
ROTATION_COLUMNS = slice(186, 186 + (NUM_JOINTS - 1) * 6)  # 6D rotations of joints 1..21
MIN_COLUMNS = ROTATION_COLUMNS.stop
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class RawClip:
    """One two-person clip as stored: Y-up joints and local 6D rotations, not yet canonicalised."""

    name: str
    joints: np.ndarray  # (person=2, frame, joint=22, xyz)
    rot6d: np.ndarray  # (person=2, frame, joint=21, 6)
    texts: tuple[str, ...]

    @property
    def num_frames(self) -> int:
        return self.joints.shape[1]


def _first_existing(paths: list[Path]) -> Path | None:
    return next((p for p in paths if p.is_file()), None)


def read_id_list(path: Path) -> list[str]:
    """Ids one per line; blank lines and surrounding whitespace ignored (a missing final newline is fine)."""
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def split_ids(root: Path, split: str) -> list[str]:
    """The clip ids of a split, from ``split/<split>.txt`` (or ``<split>.txt`` in the root)."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; expected one of {SPLITS}")
    candidates = [root / "split" / f"{split}.txt", root / f"{split}.txt"]
    path = _first_existing(candidates)
    if path is None:
        raise DatasetError(f"split file not found: expected {candidates[0]} (or {candidates[1]}), one clip id per "
                           f"line. {OBTAIN}")
    ids = read_id_list(path)
    if not ids:
        raise DatasetError(f"split file {path} lists no clip ids")
    return ids


def ignored_ids(root: Path) -> set[str]:
    path = _first_existing([root / "ignore_list.txt", root / "split" / "ignore_list.txt"])
    return set(read_id_list(path)) if path else set()


def read_texts(root: Path, clip_id: str) -> tuple[str, ...]:
    path = root / "annots" / f"{clip_id}.txt"
    if not path.is_file():
        raise DatasetError(f"descriptions of clip {clip_id} not found: expected {path}. {OBTAIN}")
    texts = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not texts:
        raise DatasetError(f"{path} holds no description")
    return texts


def read_person(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One processed person file -> (joints (frame, 22, 3) Y-up, rot6d (frame, 21, 6)), float32."""
    if not path.is_file():
        raise DatasetError(f"motion file not found: expected {path}. {OBTAIN}")
    try:
        data = np.load(path)
    except (ValueError, OSError) as error:
        raise DatasetError(f"{path} is not a readable .npy array ({error})") from error
    if data.ndim != 2 or data.shape[1] < MIN_COLUMNS:
        raise DatasetError(f"{path}: expected an array (frames, >= {MIN_COLUMNS}) of positions and 6D rotations, "
                           f"got shape {data.shape}")
    if not np.isfinite(data[:, :MIN_COLUMNS]).all():
        raise DatasetError(f"{path}: holds NaN or infinite values")
    joints = zup_to_yup(data[:, POSITION_COLUMNS].reshape(-1, NUM_JOINTS, 3).astype(np.float32))
    rot6d = data[:, ROTATION_COLUMNS].reshape(-1, NUM_JOINTS - 1, 6).astype(np.float32)
    return joints, rot6d


def read_clip(root: Path, clip_id: str) -> RawClip:
    folder = root / "motions_processed"
    joints_a, rot_a = read_person(folder / "person1" / f"{clip_id}.npy")
    joints_b, rot_b = read_person(folder / "person2" / f"{clip_id}.npy")
    if len(joints_a) != len(joints_b):
        raise DatasetError(f"clip {clip_id}: person1 has {len(joints_a)} frames but person2 {len(joints_b)}")
    return RawClip(clip_id, np.stack([joints_a, joints_b]), np.stack([rot_a, rot_b]), read_texts(root, clip_id))


def mirror_clip(clip: RawClip) -> RawClip:
    """The left/right mirror image of a clip, with left/right and clockwise words swapped in its texts."""
    return replace(clip, name=f"{clip.name}_swap", joints=mirror_joints(clip.joints), rot6d=mirror_rot6d(clip.rot6d),
                   texts=tuple(mirror_text(t) for t in clip.texts))


def check_root(root: Path) -> None:
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}. {OBTAIN}")
    if not (root / "motions_processed").is_dir():
        raise DatasetError(f"{root} has no motions_processed/ folder (expected motions_processed/person1/<id>.npy "
                           f"and person2/<id>.npy). {OBTAIN}")


def load_split(root: str | Path, split: str, min_frames: int = 15, mirror: bool = False,
               progress: bool = False) -> list[RawClip]:
    """Every readable clip of a split, skipping ignored ids and clips shorter than ``min_frames``.

    A clip listed in the split whose files are missing is an error rather than a silent drop.
    """
    root = Path(root)
    check_root(root)
    ignore = ignored_ids(root)
    ids = [i for i in split_ids(root, split) if i not in ignore]
    clips = []
    short = 0
    for clip_id in tqdm(ids, desc=f"reading {root.name}/{split}", disable=not progress, leave=False):
        clip = read_clip(root, clip_id)
        if clip.num_frames < min_frames:
            short += 1
            continue
        clips.append(clip)
        if mirror:
            clips.append(mirror_clip(clip))
    if short:
        log.info("%s/%s: skipped %d clips shorter than %d frames", root.name, split, short, min_frames)
    if not clips:
        raise DatasetError(f"{root}/{split}: no clip of at least {min_frames} frames")
    return clips


def normalizer_for(root: str | Path, compute) -> Normalizer:
    """The dataset's normaliser: loaded from the root, or computed by ``compute()`` and saved there first."""
    root = Path(root)
    if not ((root / "global_mean.npy").is_file() and (root / "global_std.npy").is_file()):
        normalizer = compute()
        try:
            normalizer.save(root)
        except OSError as error:
            raise DatasetError(
                f"cannot write the normalisation statistics global_mean.npy / global_std.npy into {root} ({error}); "
                f"make it writable, or copy the published ones there (the official code's "
                f"data/stats/global_{{mean,std}}.npy, which the published checkpoints were trained with)") from error
    return Normalizer.load(root)
