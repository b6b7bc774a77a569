"""Writing the synthetic dataset in the InterHuman on-disk layout, atomically.

    ROOT/annots/<id>.txt                      three captions, one per line
    ROOT/motions_processed/person{1,2}/<id>.npy   float32 (frame, 492)
    ROOT/split/{train,val,test}.txt          ids, one per line (about 80/10/10, seeded)
    ROOT/ignore_list.txt                     empty
    ROOT/meta.json                           generator version, seed, clip count, family counts

Columns of a person's array: 0:186 are 62 joints x xyz in the raw Z-up frame (raw = (x, -z, y) of Y-up
(x, y, z)); the first 22 are the body joints, then 20 left-hand rows holding the left wrist and 20 right-hand
rows holding the right wrist. 186:492 are 51 joints x 6D local rotations: joints 1..21, then 30 identity hand
rotations. Everything is written under ``ROOT.tmp-<host>-<pid>`` and moved to ROOT at the end, so an interrupted run
never leaves a partial dataset at ROOT. Normalisation statistics are not written here: the dataset reader
computes them from the train split on first use.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ...atomic import process_alive
from ...motion.canonical import yup_to_zup
from ...motion.rotation import matrix_to_rot6d
from .clips import FAMILY_NAMES, SyntheticClip, generate_clip

log = logging.getLogger(__name__)

# 1.1: a caught runner is reached by the chaser's hand, a blocked kick meets the forearms; no caption says
# "tiptoes" or "jumps back"
# 1.2: scenes stay on a capture stage of InterHuman's size (shorter chases, walks and passes, waves nearer)
GENERATOR_VERSION = "1.2"
NUM_STORED_JOINTS = 62
NUM_STORED_ROTATIONS = 51
HAND_ROWS = 20
COLUMNS = NUM_STORED_JOINTS * 3 + NUM_STORED_ROTATIONS * 6  # 492
SPLIT_FRACTIONS = {"val": 0.1, "test": 0.1}  # the rest is train
ID_WIDTH = 6
IDENTITY_6D = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])


def clip_id(index: int) -> str:
    return f"{index:0{ID_WIDTH}d}"


def person_array(joints: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """One person's stored array. joints: (frame, 22, 3) Y-up; rotations: (frame, 22, 3, 3) -> (frame, 492)."""
    frames = joints.shape[0]
    if joints.shape != (frames, 22, 3) or rotations.shape != (frames, 22, 3, 3):
        raise ValueError(f"person_array: expected joints (frame, 22, 3) and rotations (frame, 22, 3, 3), got "
                         f"{joints.shape} and {rotations.shape}")
    out = np.empty((frames, COLUMNS), dtype=np.float32)
    positions = out[:, :NUM_STORED_JOINTS * 3].reshape(frames, NUM_STORED_JOINTS, 3)
    raw = yup_to_zup(joints)
    positions[:, :22] = raw
    positions[:, 22:22 + HAND_ROWS] = raw[:, 20:21]  # left hand rows: the left wrist
    positions[:, 22 + HAND_ROWS:] = raw[:, 21:22]  # right hand rows: the right wrist
    rot6d = out[:, NUM_STORED_JOINTS * 3:].reshape(frames, NUM_STORED_ROTATIONS, 6)
    rot6d[:, :21] = matrix_to_rot6d(rotations[:, 1:])
    rot6d[:, 21:] = IDENTITY_6D
    return out


def write_clip(root: Path, name: str, clip: SyntheticClip) -> None:
    """The annotation file and both people's arrays of one clip."""
    root = Path(root)
    (root / "annots" / f"{name}.txt").write_text("\n".join(clip.captions) + "\n")
    for person in range(2):
        array = person_array(clip.joints[person], clip.rotations[person])
        np.save(root / "motions_processed" / f"person{person + 1}" / f"{name}.npy", array)


def split_assignment(num_clips: int, seed: int) -> dict:
    """Clip indices of train / val / test: a seeded shuffle cut about 80/10/10 (every split non-empty)."""
    if num_clips < 3:
        raise ValueError(f"num_clips must be at least 3 to fill train, val and test, got {num_clips}")
    order = np.random.default_rng([seed, 2]).permutation(num_clips)
    sizes = {name: max(1, int(round(fraction * num_clips))) for name, fraction in SPLIT_FRACTIONS.items()}
    val_end = sizes["val"]
    test_end = val_end + sizes["test"]
    return {"train": sorted(order[test_end:].tolist()), "val": sorted(order[:val_end].tolist()),
            "test": sorted(order[val_end:test_end].tolist())}


def _make_and_write(job) -> str:
    root, index, seed = job
    clip = generate_clip(index, seed)
    write_clip(Path(root), clip_id(index), clip)
    return clip.family


def _move_into_place(staging: Path, root: Path, overwrite: bool) -> None:
    if root.exists() and any(root.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{root} exists and is not empty; choose another folder or pass overwrite=True")
        retired = root.with_name(f"{root.name}.old-{os.getpid()}")
        os.replace(root, retired)
        os.replace(staging, root)
        shutil.rmtree(retired)
    else:
        os.replace(staging, root)


def _staging_folder(root: Path) -> Path:
    """Where this process writes before moving into place: ``<root>.tmp-<host>-<pid>``."""
    return root.with_name(f"{root.name}.tmp-{socket.gethostname()}-{os.getpid()}")


def _remove_abandoned_staging(root: Path) -> None:
    """Delete this machine's ``<root>.tmp-<host>-<pid>`` folders whose process is gone (killed before it could
    clean up); another machine's (a shared file system) are left to it."""
    for staging in root.parent.glob(f"{root.name}.tmp-{socket.gethostname()}-*"):
        pid = staging.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            log.info("removing %s, left by an interrupted generation", staging)
            shutil.rmtree(staging, ignore_errors=True)


def generate_dataset(root, num_clips: int = 4000, seed: int = 0, progress: bool = True, workers: int = 1,
                     overwrite: bool = False) -> Path:
    """Generate ``num_clips`` clips with ``seed`` into ``root`` (InterHuman layout) and return ``root``.

    The same seed gives byte-identical files whatever ``workers`` is. The caller computes normalisation
    statistics (the dataset reader does so from the train split on first use).
    """
    root = Path(root)
    if num_clips < 3 or seed < 0 or workers < 1:
        raise ValueError(f"generate_dataset: need num_clips >= 3, seed >= 0 and workers >= 1, got "
                         f"num_clips={num_clips}, seed={seed}, workers={workers}")
    if root.exists() and not root.is_dir():
        raise FileExistsError(f"{root} exists and is not a folder")
    if root.exists() and any(root.iterdir()) and not overwrite:
        raise FileExistsError(f"{root} exists and is not empty; choose another folder or pass overwrite=True")
    root.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_staging(root)
    staging = _staging_folder(root)
    if staging.exists():
        shutil.rmtree(staging)
    try:
        for folder in ("annots", "split", "motions_processed/person1", "motions_processed/person2"):
            (staging / folder).mkdir(parents=True)
        jobs = [(str(staging), index, seed) for index in range(num_clips)]
        bar = tqdm(total=num_clips, desc="synthetic clips", unit="clip", disable=not progress)
        if workers == 1:
            families = []
            for job in jobs:
                families.append(_make_and_write(job))
                bar.update()
        else:
            import multiprocessing

            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                families = []
                for family in pool.imap(_make_and_write, jobs, chunksize=4):
                    families.append(family)
                    bar.update()
        bar.close()
        splits = split_assignment(num_clips, seed)
        for name, indices in splits.items():
            (staging / "split" / f"{name}.txt").write_text("".join(clip_id(i) + "\n" for i in indices))
        (staging / "ignore_list.txt").write_text("")
        counts = Counter(families)
        meta = {
            "generator": "intermask.data.synthetic",
            "version": GENERATOR_VERSION,
            "seed": seed,
            "num_clips": num_clips,
            "fps": 30,
            "families": {name: counts.get(name, 0) for name in FAMILY_NAMES},
            "splits": {name: len(indices) for name, indices in splits.items()},
        }
        (staging / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        _move_into_place(staging, root, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return root

