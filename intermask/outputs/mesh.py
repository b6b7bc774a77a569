"""Body meshes of SMPL-22 clips, through a body-model file the user supplies (``motion.body_model``).

A clip's joints are posed onto the body model's own rest skeleton (its template joints) by inverse kinematics,
then skinned: per frame the model's vertices, whose first 22 joints follow the clip's bones in direction (their
lengths are the model's). Written as an ``.npz`` (``vertices`` (frame, V, 3) float32, ``faces`` (F, 3), ``fps``),
Y-up metres like every other result; ``outputs.gltf`` writes the same motion as an animated skinned mesh.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..motion.body_model import BodyModel, BodyModelError
from ..motion.rotation import matrix_to_axis_angle
from ..motion.skeleton import NUM_JOINTS, PARENTS
from .bvh import solve_local_rotations
from .clip import as_people


def check_skeleton(model: BodyModel) -> None:
    """The model's first 22 joints must form SMPL's body tree."""
    if model.num_joints < NUM_JOINTS or tuple(model.parents[:NUM_JOINTS]) != PARENTS:
        raise BodyModelError(f"{model.source}: its first {NUM_JOINTS} joints are not SMPL's body tree "
                             f"(parents {model.parents[:NUM_JOINTS]})")


def body_pose(joints, model: BodyModel) -> tuple[np.ndarray, np.ndarray]:
    """One person's clip (frame, 22, 3) -> (axis-angle pose (frame, 22, 3), trans (frame, 3)) of ``model`` that put
    its pelvis on the clip's and point its bones along the clip's."""
    check_skeleton(model)
    joints = as_people(joints, "joints", max_people=1)[0].astype(np.float64)
    offsets = model.rest_offsets()[:NUM_JOINTS]
    pose = matrix_to_axis_angle(solve_local_rotations(joints, offsets))
    return pose, joints[:, 0] - model.rest_joints()[0]


def mesh_vertices(joints, model: BodyModel) -> np.ndarray:
    """One person's clip (frame, 22, 3) -> the body model's vertices (frame, V, 3) in that pose."""
    pose, trans = body_pose(joints, model)
    vertices, _ = model.pose(pose, trans)
    return vertices


def write_mesh(path, joints, model: BodyModel, fps: float) -> Path:
    """Write one person's body mesh of a clip, every frame, as ``<path>.npz`` (atomically)."""
    vertices = mesh_vertices(joints, model).astype(np.float32)
    path = Path(path).with_suffix(".npz")
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, vertices=vertices, faces=model.faces.astype(np.int32), fps=np.array(float(fps)))
    return path
