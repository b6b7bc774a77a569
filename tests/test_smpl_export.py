"""SMPL pose export (AMASS layout): known answers, round trips, and an independent SMPL reader (``smplx``)."""
import pickle

import numpy as np
import pytest
import torch

from intermask.motion.canonical import yup_to_zup
from intermask.motion.kinematics import forward_kinematics
from intermask.motion.rotation import axis_angle_to_matrix
from intermask.motion.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS, REST_OFFSETS, rest_pose
from intermask.outputs.smpl import (SMPL_NEUTRAL_PELVIS, smpl_local_rotations, smpl_parameters,
                                    smpl_round_trip_error, write_smpl)
from intermask.outputs.writer import write_result


def posed_clip(frames=12, seed=0, spread=0.6):
    """A clip of the REST_OFFSETS skeleton under random rotations and a wandering root: (frame, 22, 3)."""
    rng = np.random.default_rng(seed)
    local = axis_angle_to_matrix(rng.normal(0.0, spread, (frames, NUM_JOINTS, 3)))
    root = np.cumsum(rng.normal(0.0, 0.05, (frames, 3)), axis=0) + np.array([0.5, 0.95, -1.0])
    return forward_kinematics(root, local, REST_OFFSETS)


def test_the_rest_pose_has_zero_body_rotations_and_the_z_up_turn_at_the_root():
    standing = np.repeat(rest_pose()[None] + np.array([0.3, 0.9, 2.0]), 4, axis=0)
    parameters = smpl_parameters(standing, fps=30)
    poses = parameters["poses"].reshape(4, 24, 3)
    np.testing.assert_allclose(poses[:, 1:], 0.0, atol=1e-6)  # body joints, and the hands
    np.testing.assert_allclose(poses[:, 0], np.tile([np.pi / 2, 0.0, 0.0], (4, 1)), atol=1e-6)  # Y-up -> Z-up
    np.testing.assert_allclose(parameters["trans"], np.tile([0.3 - SMPL_NEUTRAL_PELVIS[0],
                                                             -2.0 - SMPL_NEUTRAL_PELVIS[1],
                                                             0.9 - SMPL_NEUTRAL_PELVIS[2]], (4, 1)), atol=1e-6)
    assert str(parameters["gender"]) == "neutral" and float(parameters["mocap_framerate"]) == 30.0
    np.testing.assert_array_equal(parameters["pose_body"], parameters["poses"][:, 3:66])


def test_bending_one_elbow_moves_only_that_joints_rotation():
    local = np.broadcast_to(np.eye(3), (2, NUM_JOINTS, 3, 3)).copy()
    elbow = JOINT_NAMES.index("left_elbow")
    local[1, elbow] = axis_angle_to_matrix(np.array([0.0, 0.0, 1.0]))
    clip = forward_kinematics(np.zeros((2, 3)), local, REST_OFFSETS)
    poses = smpl_parameters(clip, fps=30)["poses"].reshape(2, 24, 3)
    changed = np.abs(poses[1] - poses[0]).max(axis=-1) > 1e-6
    assert changed.nonzero()[0].tolist() == [elbow]
    np.testing.assert_allclose(poses[1, elbow], [0.0, 0.0, 1.0], atol=1e-6)


def test_pose_parameters_reproduce_a_clip_of_the_rest_skeleton_through_forward_kinematics():
    clip = posed_clip()
    assert smpl_round_trip_error(clip).max() < 1e-6
    pelvis, local = smpl_local_rotations(smpl_parameters(clip, fps=30))
    np.testing.assert_allclose(forward_kinematics(pelvis, local, REST_OFFSETS), clip, atol=1e-5)


def test_a_body_of_another_shape_round_trips_within_its_shape_difference():
    offsets = REST_OFFSETS.copy()
    offsets[[1, 2]] *= np.array([1.3, 1.0, 1.0])  # wider hips than the rest skeleton's
    rng = np.random.default_rng(1)
    local = axis_angle_to_matrix(rng.normal(0.0, 0.4, (8, NUM_JOINTS, 3)))
    clip = forward_kinematics(np.zeros((8, 3)), local, offsets)
    error = smpl_round_trip_error(clip)
    assert 1e-4 < error.max() < 0.05  # the pelvis fit spreads the hips' 2 cm difference, nothing grows from it


def test_write_result_writes_one_amass_file_per_person(tmp_path):
    joints = np.stack([posed_clip(seed=2), posed_clip(seed=3)])
    written = write_result(tmp_path, "pair", joints, "two people", {}, formats=("smpl",), fps=30)
    assert sorted(written) == ["smpl_person1", "smpl_person2"]
    for person, key in enumerate(("smpl_person1", "smpl_person2")):
        with np.load(written[key]) as data:
            assert data["poses"].shape == (12, 72) and data["trans"].shape == (12, 3)
            assert data["betas"].shape == (10,) and str(data["gender"]) == "neutral"
            pelvis, _ = smpl_local_rotations(data)
        np.testing.assert_allclose(pelvis, joints[person, :, 0], atol=1e-5)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_bad_input_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(ValueError, match="joints"):
        write_smpl(tmp_path / "bad.npz", np.zeros((5, 21, 3)), fps=30)
    with pytest.raises(ValueError, match="fps"):
        write_smpl(tmp_path / "bad.npz", posed_clip(), fps=0)
    assert not list(tmp_path.iterdir())


def generated_smpl_model(path, pelvis=SMPL_NEUTRAL_PELVIS):
    """A body-model file (.pkl) with SMPL's keys and array layout: one vertex per joint, placed on the REST_OFFSETS rest
    pose, skinned to its joint alone; the shape and pose correctives are random (zero shape, so unused)."""
    joints = rest_pose() + pelvis
    template = np.concatenate([joints, joints[[20, 21]] + np.array([[0.08, 0, 0], [-0.08, 0, 0]])])  # + hands
    vertices = template.shape[0]
    rng = np.random.default_rng(0)
    parents = np.array([*PARENTS, 20, 21]).astype(np.int64)
    parents[0] = 4294967295  # the root's "no parent" as SMPL files store it
    arrays = dict(v_template=template, f=np.array([[0, 1, 2], [0, 3, 2]], dtype=np.int64),
             J_regressor=np.eye(vertices), weights=np.eye(vertices), kintree_table=np.stack([parents, np.arange(24)]),
                  shapedirs=rng.normal(0, 0.01, (vertices, 3, 10)), posedirs=np.zeros((vertices, 3, 207)))
    with open(path, "wb") as handle:  # SMPL's files are pickled dictionaries of arrays
        pickle.dump(arrays, handle)
    return path


def test_an_independent_smpl_reader_poses_the_exported_file_onto_the_clip(tmp_path):
    import smplx  # the [dev] extra installs it: the check needs an SMPL reader that is not ours
    from smplx.vertex_ids import vertex_ids

    model_path = generated_smpl_model(tmp_path / "SMPL_NEUTRAL.pkl")
    clip = posed_clip(frames=10, seed=4)
    exported = write_smpl(tmp_path / "clip.npz", clip, fps=30)
    with np.load(exported) as data:
        poses, trans = torch.from_numpy(data["poses"]), torch.from_numpy(data["trans"])
    body = smplx.SMPL(model_path=str(model_path), batch_size=10,
                      vertex_ids={name: 0 for name in vertex_ids["smplh"]})
    output = body(global_orient=poses[:, :3], body_pose=poses[:, 3:], transl=trans)
    np.testing.assert_allclose(output.joints[:, :NUM_JOINTS].detach().numpy(), yup_to_zup(clip), atol=1e-4)
