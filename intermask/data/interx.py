"""Reading the Inter-X on-disk layout and its "smpl" representation.

Layout under ``root``::

    motions/{train,val,test}.h5        one dataset per clip id: (frame, 56, 6) — rows 0..54 SMPL-X axis-angle
                                       joints, row 55 root translation; channels 0:3 person 1, 3:6 person 2
    splits/{train,val,test}.txt        clip ids, one per line
    texts_processed/<id>.txt           lines "caption#word/POS tokens#start#end"
    glove/                             the hhi_vab word vectors (read by the Inter-X evaluator)

Per person the representation is (frame, 56, 6): 55 joint rotations as 6D, then one row holding the root
translation (3) and its per-frame velocity (3; zero on the last frame). The two people are joined on the channel
axis: (frame, 56, 12). Inter-X is used without canonicalisation or normalisation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from einops import rearrange
from torch.utils.data import Dataset

from ..errors import DatasetError
from ..motion.body_model import BodyModelError, PosedJoints, load_body_model
from ..motion.layout import INTERX
from ..motion.rotation import axis_angle_to_matrix, rot6d_to_matrix
from .datasets import MotionWindows
from .interhuman import SPLITS, read_id_list

OBTAIN = ("Inter-X is distributed by its authors (github.com/liangxuy/Inter-X, 'Dataset Download'); unpack it and "
          "set data.root to the folder holding motions/, splits/ and texts_processed/.")
NUM_ROTATIONS = 55
ROWS = NUM_ROTATIONS + 1
# the rotation rows the published Inter-X models pose SMPL-X with: root and body (0..21) and hands (25..54); the
# jaw and eyes (22..24) stay unrotated (they move no joint)
UNPOSED_ROWS = (22, 23, 24)
BODY_MODEL = ("The SMPL-X model file (SMPLX_NEUTRAL.npz) comes from https://smpl-x.is.tue.mpg.de (free after "
              "registering; it is not part of this project); set data.body_model to its path.")


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise DatasetError(f"{what} not found: expected {path}. {OBTAIN}")
    return path


def read_descriptions(path: Path) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(caption, its "word/POS" tokens) of each line of a ``texts_processed`` file; the time tags must be 0 or
    NaN (the whole clip). The tokens are what Inter-X's evaluator reads; the caption is what a model reads."""
    descriptions = []
    for number, line in enumerate(_require(path, "Inter-X descriptions").read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.strip().split("#")
        if len(fields) != 4:
            raise DatasetError(f"{path}:{number}: expected 'caption#tokens#start#end', got {line.strip()!r}")
        caption, tokens, start, end = fields
        for tag in (start, end):
            value = float(tag) if tag.strip() else 0.0
            if not (math.isnan(value) or value == 0.0):
                raise DatasetError(f"{path}:{number}: time tags other than 0/NaN are not supported, got {tag!r}")
        tokens = tuple(tokens.split())
        if not tokens or not all("/" in token for token in tokens):
            raise DatasetError(f"{path}:{number}: expected space-separated 'word/POS' tokens, got {fields[1]!r}")
        descriptions.append((caption.strip(), tokens))
    if not descriptions:
        raise DatasetError(f"{path} holds no description")
    return tuple(descriptions)


def matrix_to_rows_6d(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 6): the matrix's first two rows, one after the other, as Inter-X's loader (and so its
    evaluator and the published Inter-X models) writes 6D rotations. InterHuman's features hold the first two
    columns instead (``rotation.matrix_to_rot6d``)."""
    return matrix[..., :2, :].reshape(*matrix.shape[:-2], 6)


def rows_6d_to_matrix(rows_6d: torch.Tensor) -> torch.Tensor:
    """Inverse of ``matrix_to_rows_6d`` for torch: (..., 6) -> (..., 3, 3), Gram-Schmidt on the two stored rows."""
    columns = rot6d_to_matrix(rearrange(rows_6d, "... (r c) -> ... (c r)", r=2, c=3))
    return columns.transpose(-1, -2)


def person_representation(axis_angle: np.ndarray) -> np.ndarray:
    """(frame, 56, 3) axis-angle rows + translation row -> (frame, 56, 6) "smpl" representation."""
    rotations = matrix_to_rows_6d(axis_angle_to_matrix(axis_angle[:, :NUM_ROTATIONS].astype(np.float64)))
    translation = axis_angle[:, NUM_ROTATIONS]
    velocity = np.zeros_like(translation)
    velocity[:-1] = translation[1:] - translation[:-1]
    root_row = np.concatenate([translation, velocity], axis=-1)[:, None]
    return np.concatenate([rotations, root_row], axis=1).astype(np.float32)


@dataclass(frozen=True)
class InterXClip:
    name: str
    motion: np.ndarray  # (frame, 56, 12): person 1 channels 0:6, person 2 channels 6:12
    texts: tuple[str, ...]
    tokens: tuple[tuple[str, ...], ...]  # the "word/POS" tokens of each caption, in the same order

    @property
    def num_frames(self) -> int:
        return len(self.motion)


def clip_features(clip: InterXClip, start: int = 0, frames: int | None = None, swap: bool = False) -> np.ndarray:
    """Both people's features (person=2, frame, 336) of ``frames`` frames from ``start`` (``swap``: the second
    stored person first). As the published loaders compute the root velocity after cutting, the last frame's is
    zero."""
    stop = clip.num_frames if frames is None else start + frames
    rows = clip.motion[start:stop].copy()
    rows[-1, NUM_ROTATIONS, 3:6] = rows[-1, NUM_ROTATIONS, 9:12] = 0
    people = rearrange(rows, "f row (n c) -> n f (row c)", n=2)
    return people[::-1].copy() if swap else people


def load_split(root: str | Path, split: str, min_frames: int = 24, max_source_frames: int = 1000,
               **_unused) -> list[InterXClip]:
    """Clips of a split with ``min_frames <= frames < max_source_frames``; a listed clip with no data is an error."""
    try:
        import h5py
    except ImportError as error:  # pragma: no cover - the interx extra installs it
        raise DatasetError("reading Inter-X needs h5py: pip install 'intermask[interx]'") from error
    root = Path(root)
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; expected one of {SPLITS}")
    ids = read_id_list(_require(root / "splits" / f"{split}.txt", "Inter-X split file"))
    clips = []
    with h5py.File(_require(root / "motions" / f"{split}.h5", "Inter-X motion file"), "r") as motions:
        for clip_id in ids:
            if clip_id not in motions:
                raise DatasetError(f"clip {clip_id} of {root / 'splits' / f'{split}.txt'} is missing from "
                                   f"{root / 'motions' / f'{split}.h5'}")
            raw = np.asarray(motions[clip_id], dtype=np.float32)
            if raw.ndim != 3 or raw.shape[1:] != (ROWS, 6):
                raise DatasetError(f"{root / 'motions' / f'{split}.h5'}[{clip_id}]: expected (frames, {ROWS}, 6), "
                                   f"got {raw.shape}")
            if not np.isfinite(raw).all():
                raise DatasetError(f"{root / 'motions' / f'{split}.h5'}[{clip_id}]: holds NaN or infinite values")
            if not (min_frames <= len(raw) < max_source_frames):
                continue
            motion = np.concatenate([person_representation(raw[..., :3]), person_representation(raw[..., 3:])], -1)
            descriptions = read_descriptions(root / "texts_processed" / f"{clip_id}.txt")
            clips.append(InterXClip(clip_id, motion, tuple(caption for caption, _ in descriptions),
                                    tuple(tokens for _, tokens in descriptions)))
    if not clips:
        raise DatasetError(f"{root}/{split}: no clip of {min_frames}..{max_source_frames - 1} frames")
    return clips


class InterXWindows(MotionWindows):
    """The VQ-VAE's single-person windows of Inter-X clips (``MotionWindows``), item (window, 336). As the published
    loader computes the root velocity within each window, the window's last frame has none."""

    features = staticmethod(clip_features)
    root_velocity = slice(NUM_ROTATIONS * 6 + 3, ROWS * 6)

    def __getitem__(self, i: int) -> torch.Tensor:
        window = super().__getitem__(i).clone()
        window[..., -1, self.root_velocity] = 0
        return window


class InterXInteractions(Dataset):
    """Items of the Inter-X text-to-motion protocol: a crop whose length is a multiple of 4 (one unit shorter with
    probability 1/3) at a random start, then truncated to its first ``max_frames`` frames or zero-padded to them.
    As in the published loader, the root velocity of the crop's last frame is zero (it is computed after
    cropping), and a long clip is cropped whole first, so its items start within its first 8 frames.

    Item: ``motion`` (max_frames, 56, 12) float32, ``length``, ``text`` (a random caption), ``tokens`` (that
    caption's "word/POS" tokens), ``texts``, ``name``.
    """

    unit = 4

    def __init__(self, clips: list[InterXClip], max_frames: int = 150, seed: int = 0):
        self.clips, self.max_frames, self.seed, self.epoch = clips, max_frames, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> dict:
        clip = self.clips[i]
        rng = np.random.default_rng((self.seed, self.epoch, i))
        units = len(clip.motion) // self.unit
        if units > 1 and rng.random() < 1 / 3:
            units -= 1
        crop = units * self.unit
        start = int(rng.integers(0, len(clip.motion) - crop + 1))
        length = min(crop, self.max_frames)
        motion = np.zeros((self.max_frames, *clip.motion.shape[1:]), dtype=np.float32)
        motion[:length] = clip.motion[start:start + length]
        if crop <= self.max_frames:  # the crop's last frame has no next frame to move to
            motion[crop - 1, NUM_ROTATIONS, 3:6] = 0
            motion[crop - 1, NUM_ROTATIONS, 9:12] = 0
        caption = int(rng.integers(len(clip.texts)))
        return {"motion": torch.from_numpy(motion), "length": length, "text": clip.texts[caption],
                "tokens": list(clip.tokens[caption]), "texts": list(clip.texts), "name": clip.name}

    layout = INTERX  # a person's (56, 6) rows flattened to 336 features, as Inter-X's VQ-VAE reads them

    @staticmethod
    def from_people(raw: torch.Tensor) -> torch.Tensor:
        """Two people's features (batch, 2, frame, 336) as items hold them: (batch, frame, 56, 12), person 1 in
        channels 0:6, person 2 in 6:12."""
        return rearrange(raw, "b n f (row c) -> b f row (n c)", row=ROWS)

    @staticmethod
    def joints(motion: torch.Tensor) -> None:
        """None: joint positions of Inter-X motion need the SMPL-X body model (``InterXJoints``), which evaluation
        does not read, so its physical metrics are left out."""
        return None


class InterXJoints:
    """Joint positions of Inter-X features through the user's SMPL-X body model (mean shape), differentiable.

    ``positions(features (..., 336))`` -> (..., 55, 3) metres: the SMPL-X joints posed by the rotation rows (read
    in Inter-X's row convention; the jaw and eyes unrotated), shifted by the root translation of row 55. Its
    first 22 joints are the SMPL-22 body joints. ``rotations`` gives the 55 rows' rotation matrices.
    """

    # Inter-X's translations start from the first person's first root position, so its ground lies below y = 0
    floor_at_zero = False

    def __init__(self, body_model_path: str | Path):
        try:
            body = load_body_model(body_model_path)
        except BodyModelError as error:
            raise DatasetError(f"Inter-X joint positions need the SMPL-X body model: {error}. {BODY_MODEL}") from error
        if body.num_joints != NUM_ROTATIONS:
            raise DatasetError(f"{body_model_path}: a body model of {body.num_joints} joints; Inter-X's rows rotate "
                               f"the {NUM_ROTATIONS} joints of SMPL-X. {BODY_MODEL}")
        self.skeleton = PosedJoints(body)
        posed = torch.ones(NUM_ROTATIONS, 1, 1)
        posed[list(UNPOSED_ROWS)] = 0
        self.posed = posed

    @classmethod
    def configured(cls, data_cfg) -> "InterXJoints":
        """The reader of the SMPL-X file that ``data.body_model`` names."""
        path = data_cfg.get("body_model")
        if not path:
            raise DatasetError(f"data.body_model is not set: Inter-X joint positions need the SMPL-X body model. "
                               f"{BODY_MODEL}")
        return cls(path)

    def rotations(self, features: torch.Tensor) -> torch.Tensor:
        rows = rearrange(features[..., : NUM_ROTATIONS * 6], "... (row c) -> ... row c", c=6)
        return rows_6d_to_matrix(rows)

    def positions(self, features: torch.Tensor) -> torch.Tensor:
        posed = self.posed.to(features)
        rotations = posed * self.rotations(features) + (1 - posed) * torch.eye(3).to(features)
        translation = features[..., NUM_ROTATIONS * 6: NUM_ROTATIONS * 6 + 3]
        return self.skeleton(rotations, translation)
