"""The 262-dim per-person feature, the canonical frame, normalisation and the augmentations."""
import dataclasses
import os

import numpy as np
import pytest
import torch

from intermask.motion.augment import (
    mirror_features,
    mirror_joints,
    mirror_rot6d,
    mirror_text,
    swap_people,
    swap_person_names,
)
from intermask.motion.canonical import (
    canonicalize_pair,
    canonicalize_person,
    facing_angle,
    pair_to_features,
    person_to_features,
    yup_to_zup,
    zup_to_yup,
)
from intermask.motion.features import (
    features_to_contacts,
    features_to_joints,
    features_to_rot6d,
    features_to_rotations,
    features_to_velocities,
    foot_contacts,
    joints_to_features,
    validate_features,
    validate_joints,
    velocities_from_positions,
)
from intermask.motion.kinematics import forward_kinematics
from intermask.motion.layout import INTERHUMAN
from intermask.motion.normalize import MEAN_FILE, STD_FILE, Normalizer
from intermask.motion.rotation import axis_angle_to_matrix, matrix_to_rot6d, rot6d_to_matrix, yaw_matrix
from intermask.motion.skeleton import JOINT_NAMES, NUM_JOINTS, PELVIS_JOINT, REST_OFFSETS, rest_pose

REFLECT_X = np.diag([-1.0, 1.0, 1.0])


def make_clip(rng, frames=10, yaw=0.0, start=(0.0, 0.0, 0.0), offsets=REST_OFFSETS):
    """A plausible clip by forward kinematics: an upright body turning and walking, limbs moved a little.

    Returns joints (frames, 22, 3), rot6d (frames, 21, 6) and all local rotations (frames, 22, 3, 3), float64.
    """
    small = rng.normal(scale=0.25, size=(frames, NUM_JOINTS, 3))
    local = axis_angle_to_matrix(small)
    headings = yaw + np.linspace(0.0, 0.4, frames)
    local[:, 0] = yaw_matrix(headings) @ axis_angle_to_matrix(small[:, 0] * 0.2)
    root = np.asarray(start) + np.stack([np.linspace(0, 0.3, frames), np.full(frames, 0.95),
                                         np.linspace(0, 0.5, frames)], axis=-1)
    joints = forward_kinematics(root, local, offsets)
    return joints, matrix_to_rot6d(local[:, 1:]), local


def random_offsets(rng):
    offsets = REST_OFFSETS + rng.normal(scale=0.05, size=REST_OFFSETS.shape)
    offsets[0] = 0.0
    return offsets


def wrap_angle(angle):
    """Angles in (-pi, pi]."""
    return np.angle(np.exp(1j * np.asarray(angle)))


def yaw_and_shift(points, yaw, shift):
    return points @ yaw_matrix(np.asarray(yaw)).T + np.asarray(shift)


# --- encoding and decoding -----------------------------------------------------------------------------------

def test_features_have_262_dims_and_one_row_fewer_than_the_clip(rng):
    joints, rot6d, _ = make_clip(rng, frames=9)
    features = joints_to_features(joints, rot6d)
    assert features.shape == (8, 262) == (8, INTERHUMAN.dim)


def test_encode_then_decode_returns_the_joint_positions(rng):
    joints, rot6d, _ = make_clip(rng, frames=9)
    joints32 = joints.astype(np.float32)
    features = joints_to_features(joints32, rot6d.astype(np.float32))
    assert features.dtype == np.float32
    np.testing.assert_allclose(features_to_joints(features), joints32[:-1], atol=1e-5)
    # torch, with a leading batch axis
    batch = torch.from_numpy(np.stack([joints, joints + 1.0]))
    decoded = features_to_joints(joints_to_features(batch, torch.from_numpy(np.stack([rot6d, rot6d]))))
    assert isinstance(decoded, torch.Tensor) and decoded.shape == (2, 8, 22, 3)
    np.testing.assert_allclose(decoded.numpy(), np.stack([joints, joints + 1.0])[:, :-1], atol=1e-5)


def test_velocities_are_the_displacement_to_the_next_frame(rng):
    joints, rot6d, _ = make_clip(rng, frames=6)
    features = joints_to_features(joints, rot6d)
    np.testing.assert_allclose(features_to_velocities(features), joints[1:] - joints[:-1], atol=1e-12)
    # so the last frame, which has no row of its own, is recoverable
    last = features_to_joints(features)[-1] + features_to_velocities(features)[-1]
    np.testing.assert_allclose(last, joints[-1], atol=1e-12)


def test_velocities_from_positions_restores_the_data_s_velocities_within_each_clip_s_length(rng):
    clips = [make_clip(rng, frames=9)[:2] for _ in range(2)]
    features = torch.stack([torch.from_numpy(joints_to_features(j, r)).float() for j, r in clips])  # (2, 8, 262)
    noisy = features.clone()
    noisy[..., INTERHUMAN.velocity] += torch.randn(2, 8, 66)
    noisy[1, 5:] = 0.0  # the second clip is 5 rows long: its pad rows stay as they are
    fixed = velocities_from_positions(noisy, torch.tensor([8, 5]))
    v = INTERHUMAN.velocity
    torch.testing.assert_close(fixed[0, :7, v], features[0, :7, v], atol=1e-5, rtol=0)
    torch.testing.assert_close(fixed[1, :4, v], features[1, :4, v], atol=1e-5, rtol=0)
    # a clip's last row has no next position: its velocity stays; so do all other channels and the pad rows
    assert torch.equal(fixed[0, 7], noisy[0, 7]) and torch.equal(fixed[1, 4:], noisy[1, 4:])
    others = torch.ones(262, dtype=torch.bool)
    others[v] = False
    assert torch.equal(fixed[..., others], noisy[..., others])
    # batch axes in front of the frames (people) take the clip's length too, and the input is not changed
    pair = velocities_from_positions(torch.stack([noisy, noisy], dim=1), torch.tensor([8, 5]))
    assert torch.equal(pair[:, 0], fixed) and torch.equal(pair[:, 1], fixed)
    assert not torch.equal(noisy, fixed)


def test_velocities_from_positions_rejects_lengths_of_another_batch_and_layouts_without_positions():
    with pytest.raises(ValueError, match=r"lengths: expected shape \(2,\)"):
        velocities_from_positions(torch.zeros(2, 4, 262), torch.tensor([4]))
    no_positions = dataclasses.replace(INTERHUMAN, position=slice(0, 0))
    with pytest.raises(ValueError, match="position and velocity channels of one size"):
        velocities_from_positions(torch.zeros(2, 4, 262), torch.tensor([4, 4]), no_positions)


def test_rotations_are_stored_unchanged_and_decode_with_an_identity_root(rng):
    joints, rot6d, local = make_clip(rng, frames=5)
    features = joints_to_features(joints, rot6d)
    np.testing.assert_array_equal(features_to_rot6d(features), rot6d[:-1])
    rotations = features_to_rotations(features)
    assert rotations.shape == (4, 22, 3, 3)
    np.testing.assert_allclose(rotations[:, 0], np.broadcast_to(np.eye(3), (4, 3, 3)))
    np.testing.assert_allclose(rotations[:, 1:], local[:-1, 1:], atol=1e-12)
    # with the root orientation put back, FK of the decoded rotations rebuilds the positions
    rotations[:, 0] = local[:-1, 0]
    rebuilt = forward_kinematics(joints[:-1, PELVIS_JOINT], rotations)
    np.testing.assert_allclose(rebuilt, features_to_joints(features), atol=1e-10)
    torch_rotations = features_to_rotations(torch.from_numpy(features))
    np.testing.assert_allclose(torch_rotations[:, 1:].numpy(), local[:-1, 1:], atol=1e-12)


# --- foot contacts ---------------------------------------------------------------------------------------------

LEFT_ANKLE, LEFT_FOOT, RIGHT_ANKLE, RIGHT_FOOT = 7, 10, 8, 11


def feet_clip(frames=4):
    """A still body high in the air, so that only the foot joints placed by a test can touch the ground."""
    return np.broadcast_to(rest_pose() + [0.0, 5.0, 0.0], (frames, NUM_JOINTS, 3)).copy()


def test_contact_is_one_for_a_planted_foot_and_zero_for_a_moving_or_raised_one():
    joints = feet_clip()
    joints[:, LEFT_FOOT] = [0.1, 0.02, 0.3]  # planted
    joints[:, RIGHT_FOOT] = [-0.1, 0.02, 0.0]
    joints[:, RIGHT_FOOT, 2] += 0.05 * np.arange(4)  # sliding 5 cm a frame: 0.0025 m^2 > 0.001
    joints[:, LEFT_ANKLE] = [0.1, 0.3, 0.2]  # still but raised
    contacts = foot_contacts(joints)
    assert contacts.shape == (3, 4)
    np.testing.assert_array_equal(contacts, np.tile([0.0, 1.0, 0.0, 0.0], (3, 1)))


def test_contact_height_limit_is_higher_for_ankles_than_for_feet():
    joints = feet_clip()
    for joint in (LEFT_ANKLE, LEFT_FOOT, RIGHT_ANKLE, RIGHT_FOOT):
        joints[:, joint] = [0.0, 0.08, 0.0]  # below the ankle limit 0.12, above the foot limit 0.05
    np.testing.assert_array_equal(foot_contacts(joints), np.tile([1.0, 0.0, 1.0, 0.0], (3, 1)))


def test_contact_lasts_only_while_the_foot_stays_still():
    joints = feet_clip(frames=5)
    joints[:, RIGHT_ANKLE] = [0.0, 0.05, 0.0]
    joints[3:, RIGHT_ANKLE, 0] += 0.2  # lifts off between frames 2 and 3
    np.testing.assert_array_equal(foot_contacts(joints)[:, 2], [1.0, 1.0, 0.0, 1.0])
    features = joints_to_features(joints, np.zeros((5, 21, 6)))
    np.testing.assert_array_equal(features_to_contacts(features), foot_contacts(joints))


def test_contact_reads_the_height_of_the_current_frame():
    joints = feet_clip(frames=3)
    joints[:, LEFT_ANKLE] = [0.0, 0.11, 0.0]
    joints[0, LEFT_ANKLE, 1] = 0.13  # above the 0.12 ankle limit, then a slow 2 cm drop below it
    np.testing.assert_array_equal(foot_contacts(joints)[:, 0], [0.0, 1.0])


# --- validation ------------------------------------------------------------------------------------------------

def test_validate_joints_names_the_array_and_the_shapes():
    with pytest.raises(ValueError, match=r"walker: expected shape \(\.\.\., frames, 22, 3\), got \(5, 21, 3\)"):
        validate_joints(np.zeros((5, 21, 3)), "walker")
    with pytest.raises(ValueError, match=r"walker: expected shape"):
        validate_joints(np.zeros((22, 3)), "walker")


def test_validate_joints_rejects_nan_and_too_short_clips():
    joints = np.zeros((4, 22, 3))
    joints[2, 5, 1] = np.nan
    with pytest.raises(ValueError, match=r"joints: contains NaN or inf \(1 non-finite"):
        validate_joints(joints)
    with pytest.raises(ValueError, match=r"joints: too few frames: needs at least 2, got 1"):
        validate_joints(np.zeros((1, 22, 3)))
    with pytest.raises(ValueError, match=r"joints: contains NaN or inf"):
        validate_joints(torch.full((3, 22, 3), float("inf")))


def test_validate_features_checks_width_nan_and_frames():
    with pytest.raises(ValueError, match=r"motion_a: expected shape \(\.\.\., frames, 262\), got \(10, 263\)"):
        validate_features(np.zeros((10, 263)), "motion_a")
    bad = np.zeros((10, 262))
    bad[3, 200] = np.inf
    with pytest.raises(ValueError, match=r"motion_b: contains NaN or inf"):
        validate_features(bad, "motion_b")
    with pytest.raises(ValueError, match=r"features: too few frames: needs at least 4, got 3"):
        validate_features(np.zeros((3, 262)), min_frames=4)
    assert validate_features(np.zeros((2, 3, 262))) is not None


def test_encoding_needs_two_frames_and_matching_rotations():
    with pytest.raises(ValueError, match=r"joints: too few frames: needs at least 2, got 1"):
        joints_to_features(np.zeros((1, 22, 3)), np.zeros((1, 21, 6)))
    with pytest.raises(ValueError, match=r"rot6d: expected shape \(\.\.\., frames, 21, 6\), got \(4, 22, 6\)"):
        joints_to_features(np.zeros((4, 22, 3)), np.zeros((4, 22, 6)))
    with pytest.raises(ValueError, match=r"must share their leading"):
        joints_to_features(np.zeros((4, 22, 3)), np.zeros((5, 21, 6)))


# --- canonical frame ---------------------------------------------------------------------------------------------

def test_zup_to_yup_maps_x_y_z_to_x_z_minus_y_and_back(rng):
    np.testing.assert_array_equal(zup_to_yup(np.array([1.0, 2.0, 3.0])), [1.0, 3.0, -2.0])
    points = rng.normal(size=(4, 22, 3))
    np.testing.assert_array_equal(yup_to_zup(zup_to_yup(points)), points)
    np.testing.assert_array_equal(zup_to_yup(torch.from_numpy(points)).numpy(), zup_to_yup(points))
    # Z-up "up" becomes Y-up "up"
    np.testing.assert_array_equal(zup_to_yup(np.array([0.0, 0.0, 1.0])), [0.0, 1.0, 0.0])


def test_facing_angle_is_zero_for_plus_z_and_follows_a_yaw():
    np.testing.assert_allclose(facing_angle(rest_pose()), 0.0, atol=1e-12)
    for yaw in (0.5, -2.0, 3.0):
        turned = rest_pose() @ yaw_matrix(np.asarray(yaw)).T
        np.testing.assert_allclose(facing_angle(turned), yaw, atol=1e-12)
        np.testing.assert_allclose(facing_angle(torch.from_numpy(turned)).item(), yaw, atol=1e-12)


def test_canonical_clip_starts_at_the_origin_facing_plus_z_on_the_floor(rng):
    joints, _, _ = make_clip(rng, frames=8, yaw=2.1, start=(3.0, 0.4, -1.5))
    canonical, frame = canonicalize_person(joints)
    np.testing.assert_allclose(canonical[0, PELVIS_JOINT, [0, 2]], [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(facing_angle(canonical[0]), 0.0, atol=1e-12)
    np.testing.assert_allclose(canonical[..., 1].min(), 0.0, atol=1e-12)
    assert abs(frame.yaw - facing_angle(joints[0])) < 1e-12
    np.testing.assert_allclose(frame.invert(canonical), joints, atol=1e-12)
    # the body moved: canonicalisation is a rigid motion, not a reset
    np.testing.assert_allclose(np.linalg.norm(canonical[1:] - canonical[:1], axis=-1),
                               np.linalg.norm(joints[1:] - joints[:1], axis=-1), atol=1e-12)


def test_canonical_clip_does_not_depend_on_where_the_clip_was_recorded(rng):
    joints, _, _ = make_clip(rng, frames=6)
    moved = yaw_and_shift(joints, yaw=-1.3, shift=(5.0, 0.7, 2.0))
    np.testing.assert_allclose(canonicalize_person(moved)[0], canonicalize_person(joints)[0], atol=1e-12)


def test_canonicalize_person_rejects_a_clip_without_a_facing():
    joints = np.zeros((3, 22, 3))
    with pytest.raises(ValueError, match=r"joints: the facing at frame 0 is undefined"):
        canonicalize_person(joints)


def test_canonicalize_pair_keeps_how_the_two_people_stand_relative_to_each_other(rng):
    joints_a, _, _ = make_clip(rng, frames=7, yaw=0.8, start=(1.0, 0.0, 2.0))
    joints_b, _, _ = make_clip(rng, frames=7, yaw=-2.5, start=(2.0, 0.3, 0.5))
    canonical_a, canonical_b = canonicalize_pair(joints_a, joints_b)
    np.testing.assert_allclose(canonical_a, canonicalize_person(joints_a)[0], atol=1e-12)
    # every A-joint to B-joint distance in the ground plane, at every frame
    def ground_distances(a, b):
        return np.linalg.norm(a[:, :, None, [0, 2]] - b[:, None, :, [0, 2]], axis=-1)
    np.testing.assert_allclose(ground_distances(canonical_a, canonical_b), ground_distances(joints_a, joints_b),
                               atol=1e-12)
    np.testing.assert_allclose(wrap_angle(facing_angle(canonical_b) - facing_angle(canonical_a)),
                               wrap_angle(facing_angle(joints_b) - facing_angle(joints_a)), atol=1e-12)
    # each person keeps their own floor
    np.testing.assert_allclose(canonical_b[..., 1].min(), 0.0, atol=1e-12)
    np.testing.assert_allclose(canonical_b[..., 1], joints_b[..., 1] - joints_b[..., 1].min(), atol=1e-12)


def test_canonicalize_pair_matches_the_relative_yaw_and_offset_recipe(rng):
    joints_a, _, _ = make_clip(rng, frames=5, yaw=1.9, start=(-1.0, 0.0, 0.0))
    joints_b, _, _ = make_clip(rng, frames=5, yaw=0.3, start=(0.5, 0.1, 1.2))
    # canonicalise each alone, turn B by the inverse of its heading change from A, then place it at the offset
    alone_b, frame_b = canonicalize_person(joints_b)
    _, frame_a = canonicalize_person(joints_a)
    inverse_relative = yaw_matrix(np.asarray(frame_b.yaw - frame_a.yaw))
    offset = yaw_matrix(np.asarray(-frame_a.yaw)) @ (frame_b.offset - frame_a.offset)
    expected_b = alone_b @ inverse_relative.T + offset * [1.0, 0.0, 1.0]
    np.testing.assert_allclose(canonicalize_pair(joints_a, joints_b)[1], expected_b, atol=1e-12)


def test_pair_to_features_encodes_both_people_in_the_first_persons_frame(rng):
    joints_a, rot6d_a, _ = make_clip(rng, frames=6, yaw=0.4)
    joints_b, rot6d_b, _ = make_clip(rng, frames=6, yaw=2.0, start=(1.0, 0.0, 1.0))
    features = pair_to_features(joints_a, rot6d_a, joints_b, rot6d_b)
    assert features.shape == (2, 5, 262)
    canonical_a, canonical_b = canonicalize_pair(joints_a, joints_b)
    np.testing.assert_allclose(features_to_joints(features), np.stack([canonical_a, canonical_b])[:, :-1], atol=1e-12)
    np.testing.assert_array_equal(features_to_rot6d(features[1]), rot6d_b[:-1])
    with pytest.raises(ValueError, match=r"rot6d_b: expected shape"):
        pair_to_features(joints_a, rot6d_a, joints_b, rot6d_b[:, :20])
    single = person_to_features(joints_b, rot6d_b)
    np.testing.assert_allclose(features_to_joints(single), canonicalize_person(joints_b)[0][:-1], atol=1e-12)


# --- normalisation -------------------------------------------------------------------------------------------------

def test_normalizer_fits_zero_mean_unit_std_and_round_trips(rng):
    data = rng.normal(loc=rng.normal(size=262), scale=rng.uniform(0.01, 2.0, size=262), size=(400, 262))
    normalizer = Normalizer.fit(data)
    np.testing.assert_allclose(normalizer.mean, data.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(normalizer.std, data.std(0), rtol=1e-5)
    normalized = normalizer.normalize(data)
    np.testing.assert_allclose(normalized.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(normalized.std(0), 1.0, atol=1e-4)
    np.testing.assert_allclose(normalizer.denormalize(normalized), data, atol=1e-5)


def test_normalizer_keeps_torch_device_and_dtype(rng):
    normalizer = Normalizer(rng.normal(size=262), rng.uniform(0.1, 1.0, size=262))
    x = torch.randn(2, 3, 262, dtype=torch.float64)
    normalized = normalizer.normalize(x)
    assert normalized.dtype == torch.float64 and normalized.device == x.device
    torch.testing.assert_close(normalizer.denormalize(normalized), x)
    as_float32 = normalizer.normalize(x.float())
    assert as_float32.dtype == torch.float32
    np.testing.assert_allclose(as_float32.numpy(), normalizer.normalize(x.numpy().astype(np.float32)), atol=1e-6)
    with pytest.raises(ValueError, match=r"normalize input: expected shape \(\.\.\., 262\), got \(2, 261\)"):
        normalizer.normalize(torch.zeros(2, 261))


def test_normalizer_fit_on_clips_equals_fit_on_their_concatenation(rng):
    clips = [rng.normal(size=(frames, 262)) * 3 + 1 for frames in (5, 17, 1, 40)]
    streamed = Normalizer.fit(iter(clips))
    whole = Normalizer.fit(np.concatenate(clips))
    np.testing.assert_allclose(streamed.mean, whole.mean, atol=1e-6)
    np.testing.assert_allclose(streamed.std, whole.std, atol=1e-6)


def test_normalizer_gives_constant_dimensions_std_one_instead_of_dividing_by_zero(rng):
    data = rng.normal(size=(50, 262))
    data[:, 258:] = 0.0  # e.g. a data set where no foot ever touches the ground
    normalizer = Normalizer.fit(data)
    np.testing.assert_array_equal(normalizer.std[258:], 1.0)
    unseen = np.ones((1, 262))
    assert np.isfinite(normalizer.normalize(unseen)).all()
    np.testing.assert_allclose(normalizer.normalize(unseen)[0, 258:], 1.0)
    with pytest.raises(ValueError, match=r"no rows"):
        Normalizer.fit([])


def test_normalizer_save_then_load_round_trips(rng, tmp_path):
    normalizer = Normalizer.fit(rng.normal(size=(30, 262)))
    directory = tmp_path / "stats" / "interhuman"
    normalizer.save(directory)
    assert sorted(os.listdir(directory)) == sorted([MEAN_FILE, STD_FILE])  # no temporary files left behind
    loaded = Normalizer.load(directory)
    np.testing.assert_array_equal(loaded.mean, normalizer.mean)
    np.testing.assert_array_equal(loaded.std, normalizer.std)
    # saving again replaces the files
    Normalizer(np.zeros(262), np.ones(262)).save(directory)
    np.testing.assert_array_equal(Normalizer.load(directory).mean, np.zeros(262))


def test_normalizer_load_names_the_missing_file_and_how_to_make_it(tmp_path):
    np.save(tmp_path / MEAN_FILE, np.zeros(262, dtype=np.float32))
    with pytest.raises(FileNotFoundError, match=r"global_std\.npy is missing; create it .*Normalizer\.fit"):
        Normalizer.load(tmp_path)


# --- mirroring ---------------------------------------------------------------------------------------------------

def test_mirroring_twice_is_the_identity(rng):
    joints, rot6d, _ = make_clip(rng, frames=5)
    features = joints_to_features(joints, rot6d)
    np.testing.assert_array_equal(mirror_joints(mirror_joints(joints)), joints)
    np.testing.assert_array_equal(mirror_rot6d(mirror_rot6d(rot6d)), rot6d)
    np.testing.assert_array_equal(mirror_features(mirror_features(features)), features)
    as_torch = torch.from_numpy(features)
    torch.testing.assert_close(mirror_features(mirror_features(as_torch)), as_torch)
    text = "A person steps to the Left, turns clockwise, then RIGHT and counterclockwise."
    assert mirror_text(mirror_text(text)) == text


def test_mirroring_does_not_change_the_input(rng):
    joints, rot6d, _ = make_clip(rng, frames=3)
    features = joints_to_features(joints, rot6d)
    copies = joints.copy(), rot6d.copy(), features.copy()
    mirror_joints(joints), mirror_rot6d(rot6d), mirror_features(features)
    for original, copy in zip((joints, rot6d, features), copies):
        np.testing.assert_array_equal(original, copy)


def test_mirrored_rotations_and_offsets_drive_fk_to_the_mirrored_joints(rng):
    # random, asymmetric offsets so that the check does not lean on the rest pose's symmetry
    offsets = random_offsets(rng)
    joints, rot6d, local = make_clip(rng, frames=4, yaw=0.7, offsets=offsets)
    mirrored_local = np.concatenate([REFLECT_X @ local[:, :1] @ REFLECT_X, rot6d_to_matrix(mirror_rot6d(rot6d))],
                                    axis=1)
    mirrored = forward_kinematics(joints[:, PELVIS_JOINT] * [-1.0, 1.0, 1.0], mirrored_local, mirror_joints(offsets))
    np.testing.assert_allclose(mirrored, mirror_joints(joints), atol=1e-10)


def test_mirroring_features_equals_encoding_the_mirrored_motion(rng):
    joints, rot6d, _ = make_clip(rng, frames=6, yaw=-0.5)
    # a left foot planted from frame 2 on, so that the contacts are not all zero
    joints[2:, LEFT_FOOT] = [0.1, 0.02, 0.3]
    joints[2:, LEFT_ANKLE] = [0.1, 0.08, 0.2]
    features = joints_to_features(joints, rot6d)
    assert features_to_contacts(features)[:, :2].sum() > 0 and features_to_contacts(features)[:, 2:].sum() == 0
    expected = joints_to_features(mirror_joints(joints), mirror_rot6d(rot6d))
    np.testing.assert_allclose(mirror_features(features), expected, atol=1e-12)
    np.testing.assert_array_equal(features_to_contacts(mirror_features(features)),
                                  features_to_contacts(features)[:, [2, 3, 0, 1]])


def test_mirror_moves_a_left_step_to_the_right():
    joints = np.broadcast_to(rest_pose(), (2, NUM_JOINTS, 3)).copy()
    left_hand = JOINT_NAMES.index("left_wrist")
    joints[1, left_hand] += [0.3, 0.0, 0.0]  # the left hand moves out to the body's left (+X)
    mirrored = mirror_joints(joints)
    right_hand = JOINT_NAMES.index("right_wrist")
    np.testing.assert_allclose(mirrored[1, right_hand] - mirrored[0, right_hand], [-0.3, 0.0, 0.0])
    np.testing.assert_allclose(mirrored[0], rest_pose(), atol=1e-12)  # the rest pose is its own mirror


def test_mirroring_commutes_with_canonicalisation(rng):
    joints, _, _ = make_clip(rng, frames=5, yaw=1.2, start=(2.0, 0.0, -1.0))
    np.testing.assert_allclose(canonicalize_person(mirror_joints(joints))[0],
                               mirror_joints(canonicalize_person(joints)[0]), atol=1e-12)


@pytest.mark.parametrize("text, expected", [
    ("The person on the left turns clockwise.", "The person on the right turns counterclockwise."),
    ("Right hand up, LEFT foot forward", "Left hand up, RIGHT foot forward"),
    ("spins counterclockwise", "spins clockwise"),
    ("spins counter-clockwise", "spins clockwise"),
    ("spins anticlockwise", "spins clockwise"),
    ("spins Counter clockwise", "spins Clockwise"),
    ("spins anti-clockwise", "spins clockwise"),
    ("Counterclockwise, then clockwise", "Clockwise, then counterclockwise"),
    ("walks leftward then rightwards", "walks rightward then leftwards"),
    ("the bright leftover is upright", "the bright leftover is upright"),
    ("left-handed wave to the right.", "right-handed wave to the left."),
])
def test_mirror_text_swaps_whole_words_and_keeps_case(text, expected):
    assert mirror_text(text) == expected
    assert "countercounter" not in mirror_text(mirror_text(text))


def test_mirror_text_rejects_non_text():
    with pytest.raises(ValueError, match=r"text: expected a str"):
        mirror_text(None)


# --- person swap ---------------------------------------------------------------------------------------------------

def test_swap_people_exchanges_the_two_and_twice_is_the_identity(rng):
    pair = rng.normal(size=(2, 5, 262))
    swapped = swap_people(pair)
    np.testing.assert_array_equal(swapped[0], pair[1])
    np.testing.assert_array_equal(swapped[1], pair[0])
    np.testing.assert_array_equal(swap_people(swapped), pair)
    as_torch = torch.from_numpy(pair)
    torch.testing.assert_close(swap_people(swap_people(as_torch)), as_torch)
    with pytest.raises(ValueError, match=r"pair: expected a leading person axis of size 2, got shape \(3, 5\)"):
        swap_people(np.zeros((3, 5)))


NAMES = ("first person", "second person")


@pytest.mark.parametrize("text, expected", [
    ("The first person pushes the second person, who staggers backwards.",
     "The second person pushes the first person, who staggers backwards."),
    ("The second person bows first and the first person answers.",
     "The first person bows first and the second person answers."),  # "bows first" is no name
    ("FIRST PERSON and Second  person", "SECOND PERSON and First person"),
    ("the firstperson, a first-person view, the second persona", "the firstperson, a first-person view, the second "
     "persona"),
    ("Two people hug each other warmly.", "Two people hug each other warmly."),
])
def test_swap_person_names_exchanges_whole_names_and_keeps_case(text, expected):
    assert swap_person_names(text, NAMES) == expected
    if "  " not in text:  # runs of white space inside a name come back as one space
        assert swap_person_names(expected, NAMES) == text


@pytest.mark.parametrize("names", [("first person",), ("first person", " "), ("a", "A"), ("a", 3)])
def test_swap_person_names_rejects_anything_but_two_different_phrases(names):
    with pytest.raises(ValueError, match="names: "):
        swap_person_names("the first person waves", names)
