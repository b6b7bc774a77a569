"""SMPL pose parameters of SMPL-22 clips, written as AMASS writes them (``.npz``), without any body-model file.

One file per person, read by the SMPL-X Blender add-on and by code that reads AMASS:

    poses        (frame, 72)  axis-angle (radians) of SMPL's 24 joints: joint 0 the global orientation of the
                              pelvis, joints 1..21 the body joints' rotations relative to their parents, 22 and 23
                              (the hands, which SMPL-22 clips do not have) zero
    root_orient  (frame, 3)   poses[:, :3], and pose_body (frame, 63) poses[:, 3:66], as SMPL-X tools name them
    trans        (frame, 3)   root translation, metres
    betas        (10,)        zero: the neutral body
    gender "neutral"; mocap_framerate and mocap_frame_rate (both spellings are in use); surface_model_type "smpl"

Axes: AMASS's world is Z-up, so the clip's Y-up world is turned by +90 degrees about X (``yup_to_zup``); the body
model's own frame stays SMPL's (Y-up, facing +Z). A body model rotates the posed body about its template pelvis
and then adds ``trans``, so ``trans`` is the clip's pelvis minus the neutral template's (``SMPL_NEUTRAL_PELVIS``).

The rotations pose the ``REST_OFFSETS`` skeleton, SMPL's neutral rest pose (standing, arms out, facing +Z), like
the clip: every bone with one child points exactly where the clip's does. At the pelvis and the chest, whose three
children's directions are a matter of body shape, the rotation is the best fit of the three
(``smpl_round_trip_error`` measures what is left).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..motion.body_model import BodyModel
from ..motion.canonical import yup_to_zup, zup_to_yup
from ..motion.kinematics import forward_kinematics
from ..motion.rotation import axis_angle_to_matrix, matrix_to_axis_angle
from ..motion.skeleton import NUM_JOINTS, REST_OFFSETS
from .bvh import rest_offsets_like, solve_local_rotations
from .clip import as_people

SMPL_JOINTS = 24  # SMPL's pose vector: the 22 body joints and two hand joints
SHAPE_PARAMETERS = 10
# the pelvis of SMPL's neutral template at zero shape (m, the model's Y-up frame): the point poses rotate about
SMPL_NEUTRAL_PELVIS = np.array([-0.0018, -0.2233, 0.0282])
# +90 degrees about X: Y-up coordinates to Z-up ones, as a matrix (the one ``yup_to_zup`` applies)
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def smpl_parameters(joints, fps: float, model: BodyModel | None = None) -> dict[str, np.ndarray]:
    """One person's clip (frame, 22, 3), Y-up metres -> the arrays of its AMASS-layout file (module docstring).

    With the user's body ``model``, its own rest skeleton and pelvis replace ``REST_OFFSETS`` and
    ``SMPL_NEUTRAL_PELVIS``, so that model poses the file exactly onto the clip's bone directions.
    """
    joints = as_people(joints, "joints", max_people=1)[0].astype(np.float64)
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    rest, pelvis = ((REST_OFFSETS, SMPL_NEUTRAL_PELVIS) if model is None else
                    (model.rest_offsets()[:NUM_JOINTS], model.rest_joints()[0]))
    local = solve_local_rotations(joints, rest)  # (frame, 22, 3, 3), joint 0 global
    local[:, 0] = Y_UP_TO_Z_UP @ local[:, 0]
    frames = joints.shape[0]
    poses = np.zeros((frames, SMPL_JOINTS, 3))
    poses[:, :NUM_JOINTS] = matrix_to_axis_angle(local)
    poses = poses.reshape(frames, SMPL_JOINTS * 3)
    trans = yup_to_zup(joints[:, 0]) - pelvis
    return {"poses": poses.astype(np.float32), "root_orient": poses[:, :3].astype(np.float32),
            "pose_body": poses[:, 3:3 * NUM_JOINTS].astype(np.float32), "trans": trans.astype(np.float32),
            "betas": np.zeros(SHAPE_PARAMETERS, dtype=np.float32), "gender": np.array("neutral"),
            "mocap_framerate": np.array(float(fps)), "mocap_frame_rate": np.array(float(fps)),
            "surface_model_type": np.array("smpl")}


def write_smpl(path, joints, fps: float, model: BodyModel | None = None) -> Path:
    """Write one person's clip (frame, 22, 3) as an AMASS-layout ``.npz`` (atomically); ``model``: see
    ``smpl_parameters``."""
    path = Path(path).with_suffix(".npz")
    arrays = smpl_parameters(joints, fps, model)
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, **arrays)
    return path


def smpl_local_rotations(parameters) -> tuple[np.ndarray, np.ndarray]:
    """An AMASS-layout file's arrays -> (pelvis positions (frame, 3), local rotations (frame, 22, 3, 3)), both in
    this project's Y-up world (joint 0 the global orientation): the inverse of ``smpl_parameters``."""
    poses = np.asarray(parameters["poses"], dtype=np.float64)
    if poses.ndim != 2 or poses.shape[1] < 3 * NUM_JOINTS:
        raise ValueError(f"poses must be (frame, >= {3 * NUM_JOINTS}), got {poses.shape}")
    local = axis_angle_to_matrix(poses[:, :3 * NUM_JOINTS].reshape(-1, NUM_JOINTS, 3))
    local[:, 0] = Y_UP_TO_Z_UP.T @ local[:, 0]
    pelvis = zup_to_yup(np.asarray(parameters["trans"], dtype=np.float64) + SMPL_NEUTRAL_PELVIS)
    return pelvis, local


def smpl_round_trip_error(joints) -> np.ndarray:
    """Distances (frame, joint), metres, between one person's clip (frame, 22, 3) and the joints its pose parameters
    give through forward kinematics of the REST_OFFSETS skeleton with the clip's bone lengths."""
    joints = as_people(joints, "joints", max_people=1)[0].astype(np.float64)
    pelvis, local = smpl_local_rotations(smpl_parameters(joints, fps=30.0))
    posed = forward_kinematics(pelvis, local, rest_offsets_like(joints))
    return np.linalg.norm(posed - joints, axis=-1)
