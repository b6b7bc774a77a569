import numpy as np
import pytest

from intermask.metrics.physical import (
    PHYSICAL_KEYS,
    TORSO_RADIUS,
    PhysicalMetrics,
    bone_length_drift,
    floor_penetration,
    foot_skating,
    interpenetration,
    jitter,
    physical_metrics,
    segment_distance,
)
from intermask.motion.skeleton import rest_pose

FPS = 30


def standing(frames: int, offset=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Rest pose with its lowest joint on the floor, repeated: (frames, 22, 3)."""
    pose = rest_pose()
    pose[:, 1] -= pose[:, 1].min()
    return np.repeat(pose[None], frames, axis=0) + np.asarray(offset)


def column(frames: int, x_offsets) -> np.ndarray:
    """The rest pose squeezed onto a vertical line at x = offset: every capsule is a vertical segment."""
    body = standing(frames)
    body[..., 0] = np.asarray(x_offsets, dtype=np.float64)[:, None]
    body[..., 2] = 0.0
    return body


# ---------------------------------------------------------------------------------------------- geometry


def test_segment_distance_covers_parallel_crossing_and_endpoint_cases():
    p = lambda *v: np.array(v, dtype=np.float64)  # noqa: E731
    # parallel, 0.3 apart
    assert segment_distance(p(0, 0, 0), p(0, 1, 0), p(0.3, 0, 0), p(0.3, 1, 0)) == pytest.approx(0.3)
    # crossing at right angles, 0.2 apart in z
    assert segment_distance(p(-1, 0, 0), p(1, 0, 0), p(0, -1, 0.2), p(0, 1, 0.2)) == pytest.approx(0.2)
    # collinear with a gap of 0.5 between the ends
    assert segment_distance(p(0, 0, 0), p(1, 0, 0), p(1.5, 0, 0), p(3, 0, 0)) == pytest.approx(0.5)
    # a point against a segment
    assert segment_distance(p(0, 2, 0), p(0, 2, 0), p(-1, 0, 0), p(1, 0, 0)) == pytest.approx(2.0)


def test_segment_distance_agrees_with_dense_sampling(rng):
    p1, p2, q1, q2 = rng.normal(size=(4, 40, 3))
    exact = segment_distance(p1, p2, q1, q2)
    u = np.linspace(0, 1, 201)[:, None, None]
    on_p, on_q = p1 + u * (p2 - p1), q1 + u * (q2 - q1)  # (sample, pair, 3)
    sampled = np.linalg.norm(on_p[:, None] - on_q[None], axis=-1).min(axis=(0, 1))
    assert np.all(exact <= sampled + 1e-9)
    np.testing.assert_allclose(exact, sampled, atol=0.02)


# ---------------------------------------------------------------------------------------------- interpenetration


def test_bodies_two_metres_apart_do_not_interpenetrate():
    clip = np.stack([standing(10), standing(10, (2.0, 0, 0))])
    assert interpenetration(clip) == {"penetration_ratio": 0.0, "penetration_depth": 0.0,
                                      "penetration_depth_max": 0.0}


def test_walking_through_each_other_overlaps_while_torsos_are_closer_than_two_radii():
    frames = 201
    offsets = np.linspace(-1.0, 1.0, frames)
    clip = np.stack([column(frames, np.zeros(frames)), column(frames, offsets)])
    depth = 2 * TORSO_RADIUS - np.abs(offsets)  # the torso pair is the deepest of all capsule pairs
    result = interpenetration(clip)
    assert result["penetration_ratio"] == pytest.approx((depth > 0).mean())
    assert result["penetration_depth"] == pytest.approx(depth[depth > 0].mean())
    assert result["penetration_depth_max"] == pytest.approx(2 * TORSO_RADIUS)


def test_touching_hands_is_not_interpenetration():
    pose = standing(1)
    wrist_x = pose[0, 20, 0]  # left wrist, arms spread sideways
    # the second person stands so that its right wrist meets the first person's left wrist
    clip = np.stack([standing(5), standing(5, (2 * wrist_x, 0, 0))])
    np.testing.assert_allclose(clip[1, :, 21], clip[0, :, 20])
    assert interpenetration(clip)["penetration_ratio"] == 0.0


# ---------------------------------------------------------------------------------------------- feet and floor


def sliding(frames: int, speed: float, lift: float = 0.0) -> np.ndarray:
    """Both people translate along x at ``speed`` m/s, ``lift`` metres above the floor."""
    x = np.arange(frames) * speed / FPS
    return np.stack([standing(frames, (0, lift, 0)), standing(frames, (3, lift, 0))]) + \
        np.stack([x, np.zeros(frames), np.zeros(frames)], axis=-1)[None, :, None]


def test_sliding_planted_feet_report_their_speed_and_always_skate():
    result = foot_skating(sliding(20, speed=0.5), FPS)
    assert result["foot_skate_speed"] == pytest.approx(0.5)
    assert result["foot_skate_ratio"] == 1.0


def test_standing_still_does_not_skate():
    assert foot_skating(sliding(20, speed=0.0), FPS) == {"foot_skate_speed": 0.0, "foot_skate_ratio": 0.0}


def test_feet_in_the_air_are_not_in_contact():
    assert foot_skating(sliding(20, speed=2.0, lift=0.5), FPS) == {"foot_skate_speed": 0.0, "foot_skate_ratio": 0.0}


def test_floor_penetration_reports_depth_and_share_of_frames_below_the_floor():
    clip = np.stack([standing(10), standing(10, (2, 0, 0))])
    clip[:, 5:, :, 1] -= 0.05  # both people sink 5 cm in the second half
    result = floor_penetration(clip)
    assert result["floor_penetration_ratio"] == pytest.approx(0.5)
    assert result["floor_penetration_depth"] == pytest.approx(0.05)


# ---------------------------------------------------------------------------------------------- rigidity, smoothness


def test_rigid_motion_keeps_bone_lengths():
    frames = 12
    angle = np.linspace(0, np.pi, frames)
    rotation = np.stack([np.stack([np.cos(angle), np.zeros(frames), np.sin(angle)], -1),
                         np.tile([0.0, 1.0, 0.0], (frames, 1)),
                         np.stack([-np.sin(angle), np.zeros(frames), np.cos(angle)], -1)], axis=1)
    body = np.einsum("tij,tkj->tki", rotation, standing(frames)) + np.linspace(0, 2, frames)[:, None, None]
    assert bone_length_drift(np.stack([body, body + 3])) < 1e-12


def test_one_stretching_bone_drifts_by_its_relative_change():
    frames, stretch = 10, 0.1
    clip = np.stack([standing(frames), standing(frames, (2, 0, 0))])
    neck, head = 12, 15  # the head is a leaf: moving it changes one bone only
    factor = np.where(np.arange(frames) % 2 == 0, 1 + stretch, 1 - stretch)[:, None]
    clip[0, :, head] = clip[0, :, neck] + factor * (clip[0, :, head] - clip[0, :, neck])
    assert bone_length_drift(clip) == pytest.approx(stretch / (21 * 2))


def test_jitter_of_a_falling_body_is_gravity_and_of_constant_velocity_zero():
    frames, g = 15, 9.81
    t = np.arange(frames) / FPS
    falling = np.stack([standing(frames), standing(frames, (2, 0, 0))])
    falling[..., 1] -= (0.5 * g * t ** 2)[None, :, None]
    assert jitter(falling, FPS) == pytest.approx(g)
    assert jitter(sliding(frames, speed=1.0), FPS) == pytest.approx(0.0, abs=1e-9)


# ---------------------------------------------------------------------------------------------- batches


def test_physical_metrics_ignore_frames_past_each_length():
    frames = 12
    clean = np.stack([standing(frames), standing(frames, (2, 0, 0))])
    corrupted = clean.copy()
    corrupted[:, 7:] += np.random.default_rng(0).normal(size=corrupted[:, 7:].shape)  # padding garbage
    batch = np.stack([clean, corrupted])
    result = physical_metrics(batch, FPS, lengths=[frames, 7])
    reference = PhysicalMetrics(FPS)
    reference.add_clip(clean)
    reference.add_clip(clean[:, :7])
    assert result == reference.result()
    assert tuple(result) == PHYSICAL_KEYS


def test_physical_metrics_pool_frames_over_clips():
    apart = np.stack([standing(10), standing(10, (2, 0, 0))])
    together = np.stack([standing(30), standing(30)])
    result = physical_metrics(np.stack([apart[:, :10], together[:, :10]]), FPS)
    assert result["penetration_ratio"] == pytest.approx(0.5)


def test_physical_metrics_refuse_too_short_or_malformed_clips():
    clip = np.stack([standing(5), standing(5, (2, 0, 0))])
    with pytest.raises(ValueError, match="lengths"):
        physical_metrics(clip[None], FPS, lengths=[2])
    with pytest.raises(ValueError, match="joints"):
        interpenetration(clip[:, :, :21])
