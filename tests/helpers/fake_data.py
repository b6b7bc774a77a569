"""Tiny datasets in the official InterHuman and Inter-X on-disk layouts, for tests."""
import pickle
from pathlib import Path

import numpy as np

from intermask.motion.kinematics import forward_kinematics
from intermask.motion.rotation import axis_angle_to_matrix, matrix_to_rot6d


def random_person(rng, frames):
    """FK joints (frame, 22, 3) Y-up and local 6D rotations (frame, 21, 6) of a gently moving body."""
    axis_angle = 0.2 * rng.standard_normal((frames, 22, 3)).cumsum(0) / np.sqrt(frames)
    rotations = axis_angle_to_matrix(axis_angle)
    root = np.stack([np.linspace(0, 1, frames), np.full(frames, 0.95), np.linspace(0, 0.5, frames)], -1)
    joints = forward_kinematics(root + rng.uniform(-1, 1, 3) * [1, 0, 1], rotations)
    return joints.astype(np.float32), matrix_to_rot6d(rotations[:, 1:]).astype(np.float32)


def yup_to_raw(joints):
    x, y, z = joints[..., 0], joints[..., 1], joints[..., 2]
    return np.stack([x, -z, y], -1)


def write_clip(root: Path, clip_id: str, people, texts):
    for person, (joints, rot6d) in zip(("person1", "person2"), people):
        frames = len(joints)
        data = np.zeros((frames, 492), dtype=np.float32)
        hands = np.repeat(joints[:, 20:22], 20, axis=1)
        data[:, :186] = yup_to_raw(np.concatenate([joints, hands], 1)).reshape(frames, -1)
        data[:, 186:312] = rot6d.reshape(frames, -1)
        folder = root / "motions_processed" / person
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / f"{clip_id}.npy", data)
    (root / "annots").mkdir(parents=True, exist_ok=True)
    (root / "annots" / f"{clip_id}.txt").write_text("\n".join(texts) + "\n")


def write_dataset(root: Path, rng, num_clips=24, frames=(70, 130)):
    """``num_clips`` clips split 2/3 train, 1/6 val, 1/6 test; captions from five verbs."""
    verbs = ["wave", "hug", "push", "spin", "walk"]
    ids = [f"{i:04d}" for i in range(num_clips)]
    for i, clip_id in enumerate(ids):
        length = int(rng.integers(*frames))
        verb = verbs[i % len(verbs)]
        write_clip(root, clip_id, [random_person(rng, length) for _ in range(2)],
                   [f"two people {verb} to the left", f"they {verb} together", f"the first person starts to {verb}"])
    (root / "split").mkdir(parents=True, exist_ok=True)
    third = num_clips // 6
    (root / "split" / "train.txt").write_text("\n".join(ids[: num_clips - 2 * third]) + "\n")
    (root / "split" / "val.txt").write_text("\n".join(ids[num_clips - 2 * third: num_clips - third]) + "\n")
    (root / "split" / "test.txt").write_text("\n".join(ids[num_clips - third:]) + "\n")
    (root / "ignore_list.txt").write_text("")
    return ids


INTERX_DESCRIPTIONS = ("one person pushes the other.#one/NUM person/NOUN push/VERB other/ADJ#0.0#0.0",
                       "they fight#they/PRON fight/VERB#nan#nan",
                       "the left one waves#left/ADJ one/NUM wave/VERB#0#0")


def write_interx(root: Path, rng, lengths=None, split="train"):
    """Inter-X layout: ``motions/<split>.h5`` of random (frame, 56, 6) arrays, split file, three descriptions per
    clip (``INTERX_DESCRIPTIONS``). Returns {clip id: array}."""
    import h5py

    lengths = lengths or {"G001T000A000R000": 40, "G001T000A000R001": 30, "G001T000A000R002": 10}
    for folder in ("motions", "splits", "texts_processed"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    raw = {}
    with h5py.File(root / "motions" / f"{split}.h5", "w") as f:
        for clip_id, frames in lengths.items():
            data = rng.uniform(-1, 1, (frames, 56, 6)).astype(np.float32)
            f.create_dataset(clip_id, data=data)
            raw[clip_id] = data
            (root / "texts_processed" / f"{clip_id}.txt").write_text("\n".join(INTERX_DESCRIPTIONS) + "\n")
    (root / "splits" / f"{split}.txt").write_text("\n".join(lengths) + "\n")
    return raw


def write_glove(folder: Path, words=("unk", "sos", "eos", "person", "push", "fight", "left", "wave"), dim=8):
    """GloVe files as Inter-X ships them (``hhi_vab_{data.npy,words.pkl,idx.pkl}``), seeded vectors."""
    folder.mkdir(parents=True, exist_ok=True)
    vectors = np.random.default_rng(0).standard_normal((len(words), dim)).astype(np.float32)
    np.save(folder / "hhi_vab_data.npy", vectors)
    with open(folder / "hhi_vab_words.pkl", "wb") as f:
        pickle.dump(list(words), f)
    with open(folder / "hhi_vab_idx.pkl", "wb") as f:
        pickle.dump({w: i for i, w in enumerate(words)}, f)
    return folder


FAMILY_CLIP_INDICES = range(16, 24)  # one clip of each of the first eight synthetic families: clip i has family i % 16


def write_synthetic_split(root: Path, named_clips) -> Path:
    """Synthetic clips ((name, clip) pairs of ``intermask.data.synthetic``) in the InterHuman layout at ``root``, all in
    the test split and in the train split (where a tokenizer's normalizer reads its statistics)."""
    import json

    from intermask.data.synthetic import write_clip as write_synthetic_clip

    for person in ("person1", "person2"):
        (root / "motions_processed" / person).mkdir(parents=True)
    (root / "annots").mkdir()
    (root / "split").mkdir()
    names = [name for name, _ in named_clips]
    for name, clip in named_clips:
        write_synthetic_clip(root, name, clip)
    for split in ("test", "train"):
        (root / "split" / f"{split}.txt").write_text("\n".join(names) + "\n")
    (root / "meta.json").write_text(json.dumps({"generator": "intermask.data.synthetic"}))
    return root
