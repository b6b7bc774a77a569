"""The one writer of results: joints (.npy + .json sidecar), video, BVH per person and the HTML viewer.

Every file is written to a temporary name and renamed into place, so a result directory never holds a
half-written file. The sidecar carries the text, fps and the caller's metadata (seed, checkpoint, config)
needed to reproduce the result.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..motion.body_model import BodyModel
from ..motion.skeleton import NUM_JOINTS
from ..atomic import atomic_path, write_text_atomic
from .bvh import check_bvh_options, load_bvh_joints, write_bvh
from .clip import as_people, check_text
from .gltf import write_gltf
from .mesh import check_skeleton, write_mesh
from .smpl import write_smpl
from .video import render_video
from .viewer import write_viewer

log = logging.getLogger(__name__)

# a BVH skeleton has one length per bone; motion whose bones stretch (generated motion does) comes back this far
# off before the difference is worth a warning
BVH_WARNING_METRES = 0.02

FORMATS = ("npy", "mp4", "gif", "bvh", "html", "smpl", "mesh")
SIDECAR_VERSION = 1
# sidecar keys the writer owns; metadata may not redefine them
_RESERVED = ("text", "fps", "num_people", "num_frames", "joints_file", "joints_layout", "format_version")


def _plain(value):
    """Turn numpy scalars/arrays, paths, tuples and sets into JSON types; anything else is returned unchanged."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def sidecar(text: str, fps: float, joints_shape, joints_file: str, meta: dict) -> dict:
    """The .json sidecar content for a result; ``meta`` keys sit beside the writer's own."""
    if not isinstance(meta, dict):
        raise ValueError(f"meta must be a dict, got {type(meta).__name__}")
    clash = sorted(set(meta) & set(_RESERVED))
    if clash:
        raise ValueError(f"meta may not set {clash}: the writer fills them from its arguments")
    content = {
        "format_version": SIDECAR_VERSION,
        "text": text,
        "fps": float(fps),
        "num_people": int(joints_shape[0]),
        "num_frames": int(joints_shape[1]),
        "joints_file": joints_file,
        "joints_layout": "(person, frame, joint, xyz) float32, SMPL-22 joints, Y-up metres",
        **meta,
    }
    try:
        return json.loads(json.dumps(content, default=_plain))
    except (TypeError, ValueError) as error:
        raise ValueError(f"meta is not JSON-serialisable: {error}") from error


def write_joints(path, joints, text: str, meta: dict, fps: float = 30.0) -> tuple[Path, Path]:
    """Write joints (person, frame, joint, 3) as float32 ``.npy`` plus a ``.json`` sidecar beside it."""
    path = Path(path).with_suffix(".npy")
    joints = as_people(joints, "joints").astype(np.float32)
    content = sidecar(check_text(text), fps, joints.shape, path.name, meta)
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.save(handle, joints)
    json_path = write_text_atomic(path.with_suffix(".json"), json.dumps(content, indent=2) + "\n")
    return path, json_path


def write_result(out_dir, name: str, joints, text: str, meta: dict, rotations=None,
                 formats=("npy", "mp4", "bvh", "html"), fps: float = 30.0, bvh_units: str = "m",
                 bvh_names: str = "smpl", body_model: BodyModel | None = None) -> dict[str, Path]:
    """Write one generated interaction in the requested formats. Returns {format key: path}.

    joints: (person, frame, joint, 3), normally (2, T, 22, 3), Y-up metres. rotations: optional
    (person, frame, joint, 3, 3) local rotations of the REST_OFFSETS skeleton (joint 0 global) for the BVH;
    without them BVH rotations are solved from the positions. Rotations that pose the skeleton more than
    5 cm away from ``joints`` raise ValueError (they follow another convention).
    formats: any of "npy" (keys "npy" and "json"), "mp4" (key "mp4", or "gif" where ffmpeg is missing),
    "gif", "bvh" (keys "bvh_person1", "bvh_person2", ...), "html" and "smpl" (SMPL pose parameters in the AMASS
    layout, ``outputs.smpl``: keys "smpl_person1", ...).
    Files are named ``<name>.<ext>`` (BVH: ``<name>_person<k>.bvh``, SMPL: ``<name>_person<k>.npz``) inside
    ``out_dir``. ``bvh_units`` ("m" or "cm") and ``bvh_names`` (``bvh.JOINT_NAME_PRESETS``) shape the BVH files.
    "mesh" needs the user's ``body_model`` (``motion.body_model``) and writes ``<name>_person<k>.glb``, the body
    mesh animated by the clip (``outputs.gltf``; key "glb_person<k>"), and ``<name>_person<k>_mesh.npz`` of its
    vertices per frame (``outputs.mesh``; key "mesh_person<k>"); with a body model, "smpl" files are solved on its
    skeleton.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats must be a non-empty selection of {FORMATS}, got {tuple(formats)}")
    if not isinstance(name, str) or not name or name != Path(name).name or name.startswith("."):
        raise ValueError(f"name must be a plain file name without folders, got {name!r}")
    if "bvh" in formats:
        check_bvh_options(bvh_units, bvh_names)
    if "mesh" in formats:
        if body_model is None:
            raise ValueError("the mesh format needs a body model: body_model=PATH to the SMPL .pkl or SMPL-X .npz "
                             "file from https://smpl.is.tue.mpg.de / https://smpl-x.is.tue.mpg.de")
        check_skeleton(body_model)
    joints = as_people(joints, "joints")
    text = check_text(text)
    if rotations is not None:
        rotations = np.asarray(rotations, dtype=np.float64)
        if rotations.shape != (*joints.shape[:2], NUM_JOINTS, 3, 3):
            raise ValueError(f"rotations must be {(*joints.shape[:2], NUM_JOINTS, 3, 3)}, got {rotations.shape}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir / name
    written: dict[str, Path] = {}
    if "npy" in formats:
        written["npy"], written["json"] = write_joints(base.with_suffix(".npy"), joints, text, meta, fps)
    for video_format in ("mp4", "gif"):
        if video_format in formats:
            video = render_video(base.with_suffix(f".{video_format}"), joints, text, fps)
            written[video.suffix[1:]] = video
    if "bvh" in formats:
        for person in range(joints.shape[0]):
            person_rotations = None if rotations is None else rotations[person]
            path = write_bvh(out_dir / f"{name}_person{person + 1}.bvh", joints[person], person_rotations, fps,
                             units=bvh_units, names=bvh_names)
            written[f"bvh_person{person + 1}"] = path
            error = float(np.abs(load_bvh_joints(path) - joints[person]).max())
            if error > BVH_WARNING_METRES:
                log.warning("%s: its skeleton keeps each bone at the clip's mean length, and this motion's bones "
                            "stretch, so its joints lie up to %.1f cm from the .npy's", path, 100 * error)
    if "smpl" in formats:
        for person in range(joints.shape[0]):
            written[f"smpl_person{person + 1}"] = write_smpl(out_dir / f"{name}_person{person + 1}.npz",
                                                             joints[person], fps, body_model)
    if "mesh" in formats:
        for person in range(joints.shape[0]):
            written[f"glb_person{person + 1}"] = write_gltf(out_dir / f"{name}_person{person + 1}.glb", joints[person],
                                                            body_model, fps)
            written[f"mesh_person{person + 1}"] = write_mesh(out_dir / f"{name}_person{person + 1}_mesh",
                                                             joints[person], body_model, fps)
    if "html" in formats:
        written["html"] = write_viewer(base.with_suffix(".html"), joints, text, fps)
    return written


def load_joints(path) -> np.ndarray:
    """Joints from a ``.npy`` result file: float32 (person, frame, joint, 3) or (frame, joint, 3), as stored.

    Raises ValueError naming the file when the array is not (2 or 1, T, 22, 3) / (T, 22, 3) or holds NaN/inf.
    """
    path = Path(path)
    if path.suffix != ".npy":
        raise ValueError(f"{path}: expected a .npy file (use load_bvh_joints for .bvh)")
    array = np.load(path, allow_pickle=False)
    if array.ndim not in (3, 4) or array.shape[-2:] != (NUM_JOINTS, 3) or (array.ndim == 4 and array.shape[0] > 2):
        raise ValueError(f"{path}: joints must be (2, frame, {NUM_JOINTS}, 3), (1, frame, {NUM_JOINTS}, 3) or "
                         f"(frame, {NUM_JOINTS}, 3), got {array.shape}")
    as_people(array, str(path))
    return array.astype(np.float32)


def load_sidecar(path) -> dict:
    """The .json sidecar of a result, given the .npy or the .json path."""
    return json.loads(Path(path).with_suffix(".json").read_text(encoding="utf-8"))


__all__ = ["write_result", "write_joints", "load_joints", "load_sidecar", "load_bvh_joints", "sidecar", "FORMATS"]
