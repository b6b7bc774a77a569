"""The SMPL-22 skeleton, rotation conversions and forward kinematics."""
import numpy as np
import pytest
import torch

from intermask.motion.kinematics import forward_kinematics, global_rotations
from intermask.motion.layout import INTERHUMAN
from intermask.motion.rotation import (
    axis_angle_to_matrix,
    geodesic_angle,
    matrix_to_axis_angle,
    matrix_to_rot6d,
    rot6d_to_matrix,
    yaw_matrix,
)
from intermask.motion.skeleton import (
    BONES,
    FACE_JOINTS,
    JOINT_NAMES,
    LEFT_JOINTS,
    MIRROR_PERMUTATION,
    NUM_JOINTS,
    PARENTS,
    REST_OFFSETS,
    RIGHT_JOINTS,
    bone_lengths,
    offsets_from_joints,
    rest_pose,
)


def random_rotations(rng, *shape):
    """Uniformly spread random rotation matrices (*shape, 3, 3), float64 numpy."""
    axis = rng.normal(size=(*shape, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = rng.uniform(0, np.pi, size=(*shape, 1))
    return axis_angle_to_matrix(axis * angle)


def test_skeleton_has_22_joints_and_21_bones_that_follow_the_parents():
    assert NUM_JOINTS == len(JOINT_NAMES) == len(PARENTS) == 22
    assert len(BONES) == 21
    assert all(PARENTS[child] == parent for parent, child in BONES)
    assert sorted(child for _, child in BONES) == list(range(1, 22))
    assert INTERHUMAN.bones == BONES


def test_mirror_permutation_exchanges_left_and_right_names_and_is_an_involution():
    for joint, image in enumerate(MIRROR_PERMUTATION):
        assert MIRROR_PERMUTATION[image] == joint
        name = JOINT_NAMES[joint]
        expected = name.replace("left", "@").replace("right", "left").replace("@", "right")
        assert JOINT_NAMES[image] == expected
    assert {MIRROR_PERMUTATION[j] for j in LEFT_JOINTS} == set(RIGHT_JOINTS)


def test_rest_pose_faces_plus_z_with_its_left_side_at_plus_x():
    pose = rest_pose()
    right_hip, left_hip = FACE_JOINTS[:2]
    assert pose[left_hip, 0] > 0 > pose[right_hip, 0]
    facing = np.cross([0.0, 1.0, 0.0], pose[right_hip] - pose[left_hip])
    np.testing.assert_allclose(facing / np.linalg.norm(facing), [0, 0, 1], atol=1e-12)
    assert pose[JOINT_NAMES.index("head"), 1] > 0 > pose[JOINT_NAMES.index("left_foot"), 1]
    # the feet point forward
    assert pose[JOINT_NAMES.index("left_foot"), 2] > pose[JOINT_NAMES.index("left_ankle"), 2]


def test_rest_offsets_are_left_right_symmetric():
    mirrored = REST_OFFSETS[list(MIRROR_PERMUTATION)] * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(mirrored, REST_OFFSETS)


def test_offsets_from_joints_inverts_rest_pose():
    np.testing.assert_allclose(offsets_from_joints(rest_pose()), REST_OFFSETS, atol=1e-12)


def test_forward_kinematics_of_identity_rotations_is_the_rest_pose():
    identity = np.broadcast_to(np.eye(3), (NUM_JOINTS, 3, 3)).copy()
    np.testing.assert_allclose(forward_kinematics(np.zeros(3), identity), rest_pose(), atol=1e-12)
    shifted = forward_kinematics(np.array([0.5, 1.0, -2.0]), identity)
    np.testing.assert_allclose(shifted, rest_pose() + [0.5, 1.0, -2.0], atol=1e-12)


def test_forward_kinematics_keeps_bone_lengths_under_random_rotations(rng):
    rotations = random_rotations(rng, 7, NUM_JOINTS)
    joints = forward_kinematics(rng.normal(size=(7, 3)), rotations)
    assert joints.shape == (7, NUM_JOINTS, 3)
    expected = np.broadcast_to(bone_lengths(rest_pose()), (7, 21))
    np.testing.assert_allclose(bone_lengths(joints), expected, atol=1e-10)
    # and it does move the joints: the random pose is not the rest pose
    assert np.abs(joints - joints[:, :1] - rest_pose()).max() > 0.1


def test_forward_kinematics_rotates_a_child_bone_by_its_parents_rotation():
    rotations = np.broadcast_to(np.eye(3), (NUM_JOINTS, 3, 3)).copy()
    left_knee, left_ankle = JOINT_NAMES.index("left_knee"), JOINT_NAMES.index("left_ankle")
    rotations[left_knee] = yaw_matrix(np.asarray(np.pi / 2))
    joints = forward_kinematics(np.zeros(3), rotations)
    # the knee's own position is unchanged, the shin (knee -> ankle offset) turns by +90 degrees about Y
    np.testing.assert_allclose(joints[left_knee], rest_pose()[left_knee], atol=1e-12)
    expected_shin = rotations[left_knee] @ REST_OFFSETS[left_ankle]
    np.testing.assert_allclose(joints[left_ankle] - joints[left_knee], expected_shin, atol=1e-12)


def test_forward_kinematics_agrees_between_numpy_float32_and_torch(rng):
    rotations = random_rotations(rng, 3, NUM_JOINTS)
    root = rng.normal(size=(3, 3))
    reference = forward_kinematics(root, rotations)
    from_float32 = forward_kinematics(root.astype(np.float32), rotations.astype(np.float32))
    assert from_float32.dtype == np.float32
    np.testing.assert_allclose(from_float32, reference, atol=1e-5)
    from_torch = forward_kinematics(torch.from_numpy(root), torch.from_numpy(rotations))
    np.testing.assert_allclose(from_torch.numpy(), reference, atol=1e-12)
    # a numpy root with torch rotations is accepted too
    mixed = forward_kinematics(root, torch.from_numpy(rotations))
    np.testing.assert_allclose(mixed.numpy(), reference, atol=1e-12)


def test_forward_kinematics_rejects_a_wrong_joint_count():
    with pytest.raises(ValueError, match=r"local_rotations must be \(\.\.\., 22, 3, 3\)"):
        forward_kinematics(np.zeros(3), np.zeros((21, 3, 3)))


def test_global_rotations_are_the_products_along_the_chain(rng):
    local = random_rotations(rng, NUM_JOINTS)
    world = global_rotations(local)
    left_wrist = JOINT_NAMES.index("left_wrist")
    expected = np.eye(3)
    chain = []
    joint = left_wrist
    while joint != -1:
        chain.append(joint)
        joint = PARENTS[joint]
    for joint in reversed(chain):
        expected = expected @ local[joint]
    np.testing.assert_allclose(world[left_wrist], expected, atol=1e-12)


def test_rot6d_is_the_first_two_columns_read_row_by_row(rng):
    matrix = random_rotations(rng, 1)[0]
    np.testing.assert_allclose(matrix_to_rot6d(matrix),
                               [matrix[0, 0], matrix[0, 1], matrix[1, 0], matrix[1, 1], matrix[2, 0], matrix[2, 1]])


def test_matrix_to_rot6d_to_matrix_round_trips(rng):
    matrices = random_rotations(rng, 5, 4)
    np.testing.assert_allclose(rot6d_to_matrix(matrix_to_rot6d(matrices)), matrices, atol=1e-12)
    as_torch = rot6d_to_matrix(matrix_to_rot6d(torch.from_numpy(matrices)))
    np.testing.assert_allclose(as_torch.numpy(), matrices, atol=1e-12)


def test_gram_schmidt_turns_any_6d_vector_into_a_proper_rotation(rng):
    raw = rng.normal(size=(50, 6)) * 3
    matrices = rot6d_to_matrix(raw)
    np.testing.assert_allclose(matrices @ np.swapaxes(matrices, -1, -2), np.broadcast_to(np.eye(3), (50, 3, 3)),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(matrices), np.ones(50), atol=1e-12)
    # the first column keeps the direction of the first stored column
    first = raw.reshape(50, 3, 2)[:, :, 0]
    np.testing.assert_allclose(matrices[:, :, 0], first / np.linalg.norm(first, axis=-1, keepdims=True), atol=1e-12)


def test_rot6d_mirror_signs_match_reflecting_the_matrix_across_x(rng):
    reflect = np.diag([-1.0, 1.0, 1.0])
    matrices = random_rotations(rng, 6)
    signs = np.ones(6)
    signs[[1, 2, 4]] = -1
    np.testing.assert_allclose(matrix_to_rot6d(reflect @ matrices @ reflect), matrix_to_rot6d(matrices) * signs,
                               atol=1e-12)


def test_axis_angle_round_trips_including_near_zero_and_near_pi(rng):
    axes = rng.normal(size=(8, 3))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    angles = np.array([0.3, 1.0, 2.0, 3.0, np.pi - 1e-9, np.pi, 1e-9, 0.0])[:, None]
    matrices = axis_angle_to_matrix(axes * angles)
    recovered = matrix_to_axis_angle(matrices)
    # near pi the sign of the axis is ambiguous: compare the rotations they make
    np.testing.assert_allclose(axis_angle_to_matrix(recovered), matrices, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(recovered, axis=-1), angles[:, 0], atol=1e-6)


def test_yaw_matrix_turns_plus_z_towards_plus_x_and_accepts_numpy_scalars():
    for angle in (np.float64(0.7), np.asarray(0.7), torch.tensor(0.7, dtype=torch.float64)):
        turned = yaw_matrix(angle) @ (np.array([0.0, 0.0, 1.0]) if not torch.is_tensor(angle)
                                      else torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
        np.testing.assert_allclose(np.asarray(turned), [np.sin(0.7), 0.0, np.cos(0.7)], atol=1e-12)


def test_geodesic_angle_measures_the_angle_between_two_rotations():
    a, b = yaw_matrix(np.asarray(0.2)), yaw_matrix(np.asarray(1.1))
    np.testing.assert_allclose(geodesic_angle(a, b), 0.9, atol=1e-6)
    assert geodesic_angle(a, a) < 1e-3
