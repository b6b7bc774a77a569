"""SMPL-family body models read from the user's own file, and posed by linear blend skinning.

The files come from the models' sites after registering (never shipped here):
    SMPL    https://smpl.is.tue.mpg.de     e.g. SMPL_NEUTRAL.pkl (also basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl)
    SMPL-X  https://smpl-x.is.tue.mpg.de   e.g. SMPLX_NEUTRAL.npz
Both hold the same arrays, which is all this module reads:
    v_template (V, 3)        the mean body's vertices, metres, Y-up, facing +Z
    f (F, 3)                 triangles
    J_regressor (J, V)       joints as weighted sums of the shaped vertices (dense or scipy sparse)
    kintree_table (2, J)     row 0 each joint's parent (the root's is any negative or out-of-range number)
    weights (V, J)           skinning weights
    shapedirs (V, 3, B)      shape blend shapes (SMPL 10 or 300, SMPL-X 300 + expression 100)
    posedirs (V, 3, 9 (J-1)) pose-corrective blend shapes, optional

Posing (the SMPL model's equations): shaped vertices v_s = v_template + shapedirs . betas; joints J = J_regressor v_s;
posed v_p = v_s + posedirs . (R_j - I for j >= 1); every joint's world transform G_j = G_parent [R_j | J_j - J_parent];
each vertex moves by its weighted sum of G_j [I | -J_j]; then everything is shifted by ``trans``.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .kinematics import forward_kinematics
from .rotation import axis_angle_to_matrix

REQUIRED_KEYS = ("v_template", "f", "J_regressor", "kintree_table", "weights", "shapedirs")
WHERE = ("SMPL files come from https://smpl.is.tue.mpg.de and SMPL-X files from https://smpl-x.is.tue.mpg.de "
         "(free after registering; they are not part of this project)")


class BodyModelError(ValueError):
    """A body-model file that is missing or does not hold what a body model needs; the message says which."""


def _dense(array) -> np.ndarray:
    """A numpy array of ``array``, also when it is a scipy sparse matrix (SMPL's J_regressor)."""
    return np.asarray(array.toarray() if hasattr(array, "toarray") else array, dtype=np.float64)


@dataclass(frozen=True)
class BodyModel:
    """The arrays of an SMPL-family model (module docstring); ``parents`` (J,) with -1 at the root."""

    template: np.ndarray
    faces: np.ndarray
    joint_regressor: np.ndarray
    parents: tuple
    weights: np.ndarray
    shape_dirs: np.ndarray
    pose_dirs: np.ndarray | None
    source: str = "body model"

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    def rest_joints(self, betas=None) -> np.ndarray:
        """Joint positions (J, 3) of the body of shape ``betas`` (zero: the mean body) in its rest pose."""
        return self.joint_regressor @ self._shaped(betas)

    def rest_offsets(self, betas=None) -> np.ndarray:
        """Each joint's offset from its parent in the rest pose (J, 3); the root's is its position."""
        joints = self.rest_joints(betas)
        offsets = joints.copy()
        offsets[1:] -= joints[list(self.parents[1:])]
        return offsets

    def _shaped(self, betas) -> np.ndarray:
        if betas is None:
            return self.template
        betas = np.asarray(betas, dtype=np.float64)
        if betas.ndim != 1 or betas.shape[0] > self.shape_dirs.shape[-1]:
            raise BodyModelError(f"{self.source}: betas must be (<= {self.shape_dirs.shape[-1]},), got {betas.shape}")
        return self.template + self.shape_dirs[..., : betas.shape[0]] @ betas

    def pose(self, pose, trans=None, betas=None) -> tuple[np.ndarray, np.ndarray]:
        """Axis-angle ``pose`` (frame, joints, 3) of the first ``joints`` joints (the rest stay unrotated),
        ``trans`` (frame, 3) -> (vertices (frame, V, 3), joints (frame, J, 3)), metres."""
        pose = np.asarray(pose, dtype=np.float64)
        if pose.ndim != 3 or pose.shape[-1] != 3 or pose.shape[1] > self.num_joints:
            raise BodyModelError(f"{self.source}: pose must be (frame, <= {self.num_joints}, 3) axis-angle, got "
                                 f"{pose.shape}")
        frames = pose.shape[0]
        rotations = np.broadcast_to(np.eye(3), (frames, self.num_joints, 3, 3)).copy()
        rotations[:, : pose.shape[1]] = axis_angle_to_matrix(pose)
        shaped = self._shaped(betas)
        rest = self.joint_regressor @ shaped
        posed = np.broadcast_to(shaped, (frames, *shaped.shape)).copy()
        if self.pose_dirs is not None:
            features = (rotations[:, 1:] - np.eye(3)).reshape(frames, -1)
            posed += np.einsum("vcp,fp->fvc", self.pose_dirs, features)
        world = np.zeros((frames, self.num_joints, 4, 4))
        world[..., 3, 3] = 1.0
        for joint, parent in enumerate(self.parents):
            local = np.zeros((frames, 4, 4))
            local[:, :3, :3] = rotations[:, joint]
            local[:, :3, 3] = rest[joint] - (rest[parent] if parent >= 0 else 0.0)
            local[:, 3, 3] = 1.0
            world[:, joint] = local if parent < 0 else world[:, parent] @ local
        joints = world[..., :3, 3].copy()
        # G_j [I | -J_j]: the transform that carries a rest-pose point with joint j
        skinning = world.copy()
        skinning[..., :3, 3] -= np.einsum("fjab,jb->fja", world[..., :3, :3], rest)
        blended = np.einsum("vj,fjab->fvab", self.weights, skinning)
        vertices = np.einsum("fvab,fvb->fva", blended[..., :3, :3], posed) + blended[..., :3, 3]
        if trans is not None:
            trans = np.asarray(trans, dtype=np.float64)
            if trans.shape != (frames, 3):
                raise BodyModelError(f"{self.source}: trans must be ({frames}, 3), got {trans.shape}")
            vertices, joints = vertices + trans[:, None], joints + trans[:, None]
        return vertices, joints


class PosedJoints:
    """The joints of a body model posed by local rotations, differentiably in torch: the SMPL equations for the
    joints alone (``BodyModel.pose`` without its vertices), for losses and for writing results.

    ``PosedJoints(body)(rotations (..., joint, 3, 3), translation (..., 3))`` -> positions (..., joint, 3), metres:
    joint 0 (the root) turned by rotation 0, every other joint by its parents', then all shifted by ``translation``.
    """

    def __init__(self, body: BodyModel, betas=None):
        self.parents = body.parents
        self.offsets = torch.as_tensor(body.rest_offsets(betas), dtype=torch.float32)  # the root's: its position

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    def __call__(self, rotations: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
        offsets = self.offsets.to(rotations)
        return forward_kinematics(offsets[0] + translation, rotations, offsets, self.parents)


def _read_arrays(path: Path) -> dict:
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=True) as data:
            return {key: data[key] for key in data.files}
    if path.suffix == ".pkl":
        try:
            with open(path, "rb") as handle:
                return pickle.load(handle, encoding="latin1")
        except ModuleNotFoundError as error:  # SMPL 1.0 files pickle chumpy objects
            raise BodyModelError(f"{path}: it holds {error.name} objects (SMPL's first release); save a copy with "
                                 f"plain numpy arrays (the smplx package's tools/clean_ch.py does this)") from error
        except (pickle.UnpicklingError, EOFError) as error:
            raise BodyModelError(f"{path}: not a readable body-model file ({error})") from error
    raise BodyModelError(f"{path}: a body model is a .pkl (SMPL) or .npz (SMPL-X) file")


def load_body_model(path) -> BodyModel:
    """Read an SMPL-family body model from ``path`` (.pkl or .npz); BodyModelError names what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise BodyModelError(f"{path}: no such body-model file. {WHERE}")
    arrays = _read_arrays(path)
    if not isinstance(arrays, dict):
        raise BodyModelError(f"{path}: expected a dictionary of arrays, found {type(arrays).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in arrays]
    if missing:
        raise BodyModelError(f"{path}: lacks {missing}; a body model holds {list(REQUIRED_KEYS)} (+ posedirs)")
    template = _dense(arrays["v_template"])
    regressor = _dense(arrays["J_regressor"])
    table = np.asarray(arrays["kintree_table"]).astype(np.int64)
    weights = _dense(arrays["weights"])
    shape_dirs = _dense(arrays["shapedirs"])
    pose_dirs = _dense(arrays["posedirs"]) if "posedirs" in arrays else None
    vertices, joints = template.shape[0], regressor.shape[0]
    checks = {
        "v_template": (template.shape, (vertices, 3)),
        "J_regressor": (regressor.shape, (joints, vertices)),
        "kintree_table": (table.shape, (2, joints)),
        "weights": (weights.shape, (vertices, joints)),
        "shapedirs": (shape_dirs.shape[:2], (vertices, 3)),
    }
    if pose_dirs is not None:
        checks["posedirs"] = (pose_dirs.shape, (vertices, 3, 9 * (joints - 1)))
    for key, (shape, expected) in checks.items():
        if tuple(shape) != expected:
            raise BodyModelError(f"{path}: {key} is {tuple(shape)}, expected {expected}")
    parents = tuple(int(p) if 0 <= p < joints else -1 for p in table[0])
    if parents[0] != -1 or any(not 0 <= p < j for j, p in enumerate(parents) if j > 0):
        raise BodyModelError(f"{path}: kintree_table must list parents before their children, root first")
    return BodyModel(template, np.asarray(arrays["f"]).astype(np.int64), regressor, parents, weights,
                     shape_dirs, pose_dirs, source=str(path))
