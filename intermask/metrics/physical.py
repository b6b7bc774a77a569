"""Physical plausibility of two-person clips, measured on joint positions.

Input: joints (person=2, frame, joint=22, xyz), Y-up, metres, floor at y = 0, ``fps`` frames per second.
Each metric is a per-frame (or per-bone) measurement plus a reduction, so that ``PhysicalMetrics`` can pool
the frames of many clips before reducing:

- interpenetration: the bodies as capsules around bones (``COLLIDERS``); the depth of a frame is the
  largest overlap r_a + r_b − distance over capsule pairs of the two people. Only the torso, head and thighs
  collide: arms, hands and lower legs are how people touch (hugs, handshakes, kicks), and capsules around
  thin limbs would report that contact as penetration. Radii are conservative (about the half-depth of the
  body part) so that chest-to-chest contact reads as touching.
- foot skating: a foot joint is in contact over a step when it is below its contact height
  (``FOOT_HEIGHT_LIMITS``: ankles 0.12 m, feet 0.05 m) at both ends; its horizontal speed then should be 0.
- floor penetration: depth below y = 0 of the lowest joint.
- bone-length drift: per bone, std/mean of its length over time (a skeleton should be rigid).
- jitter: mean acceleration magnitude (second finite difference × fps², m/s²), not jerk, so that values
  are in familiar units; smooth motion has small values and frame-to-frame noise large ones.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..motion.skeleton import BONES, FOOT_HEIGHT_LIMITS, FOOT_JOINTS, NUM_JOINTS

TORSO_RADIUS = 0.10
HEAD_RADIUS = 0.09
THIGH_RADIUS = 0.07
# (parent, child) bone -> capsule radius (m)
COLLIDERS = {
    (0, 3): TORSO_RADIUS, (3, 6): TORSO_RADIUS, (6, 9): TORSO_RADIUS, (9, 12): TORSO_RADIUS,
    (12, 15): HEAD_RADIUS,
    (1, 4): THIGH_RADIUS, (2, 5): THIGH_RADIUS,
}
# horizontal speed (m/s) above which a foot joint in contact counts as sliding; a stated choice
SKATE_SPEED = 0.2


def _check_clip(joints, min_frames: int, persons: int | None = None) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 4 or joints.shape[2:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints: expected (person, frame, {NUM_JOINTS}, 3), got shape {joints.shape}")
    if persons is not None and joints.shape[0] != persons:
        raise ValueError(f"joints: expected {persons} people, got {joints.shape[0]}")
    if joints.shape[1] < min_frames:
        raise ValueError(f"joints: need at least {min_frames} frames, got {joints.shape[1]}")
    if not np.isfinite(joints).all():
        raise ValueError("joints: contains NaN or infinite values")
    return joints


def _check_fps(fps: float) -> float:
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return float(fps)


# ----------------------------------------------------------------------------------------------------------
# per-frame measurements


def segment_distance(p1, p2, q1, q2) -> np.ndarray:
    """Shortest distance between segments p1–p2 and q1–q2. Points (..., 3), broadcast -> (...)."""
    d1, d2, r = p2 - p1, q2 - q1, p1 - q1
    a, e = (d1 * d1).sum(-1), (d2 * d2).sum(-1)
    b, c, f = (d1 * d2).sum(-1), (d1 * r).sum(-1), (d2 * r).sum(-1)
    tiny = 1e-12
    point_p, point_q = a <= tiny, e <= tiny  # degenerate segments
    safe_a, safe_e = np.maximum(a, tiny), np.maximum(e, tiny)
    denom = a * e - b * b  # |d1 × d2|², relative to a·e it is sin² of the angle between the segments
    parallel = denom <= 1e-9 * a * e
    # closest points of the two lines, s clamped to the first segment (parallel lines: start at p1)
    s = np.where(parallel, 0.0, np.clip((b * f - c * e) / np.where(parallel, 1.0, denom), 0, 1))
    t = (b * s + f) / safe_e
    # where t leaves the second segment, clamp it and recompute the best s for that end
    s = np.where(t < 0, np.clip(-c / safe_a, 0, 1), np.where(t > 1, np.clip((b - c) / safe_a, 0, 1), s))
    t = np.clip(t, 0, 1)
    s = np.where(point_q, np.clip(-c / safe_a, 0, 1), s)
    t = np.where(point_q, 0.0, t)
    s = np.where(point_p, 0.0, s)
    t = np.where(point_p & ~point_q, np.clip(f / safe_e, 0, 1), t)
    closest_p = p1 + s[..., None] * d1
    closest_q = q1 + t[..., None] * d2
    return np.linalg.norm(closest_p - closest_q, axis=-1)


def penetration_depth_per_frame(joints, colliders: Mapping[tuple[int, int], float] = COLLIDERS) -> np.ndarray:
    """Largest capsule overlap between the two people per frame (m); <= 0 when apart. (2, T, 22, 3) -> (T,)."""
    joints = _check_clip(joints, 1, persons=2)
    bones = np.array(list(colliders), dtype=np.int64)  # (capsule, 2)
    radii = np.array(list(colliders.values()), dtype=np.float64)
    starts, ends = joints[:, :, bones[:, 0]], joints[:, :, bones[:, 1]]  # (person, frame, capsule, 3)
    # every capsule of A against every capsule of B: axes (frame, capsule_a, capsule_b, 3)
    distance = segment_distance(starts[0][:, :, None], ends[0][:, :, None], starts[1][:, None], ends[1][:, None])
    overlap = radii[:, None] + radii[None, :] - distance
    return overlap.reshape(len(overlap), -1).max(axis=1)


def foot_contact_speeds(joints, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal speed (m/s) and contact flag of each foot joint over each step.

    joints (person, T, 22, 3) -> speeds, contact: (person, T - 1, 4), feet in ``FOOT_JOINTS`` order.
    """
    joints, fps = _check_clip(joints, 2), _check_fps(fps)
    feet = joints[:, :, list(FOOT_JOINTS)]  # (person, frame, foot, xyz)
    low = feet[..., 1] < np.asarray(FOOT_HEIGHT_LIMITS)
    contact = low[:, 1:] & low[:, :-1]
    step = feet[:, 1:] - feet[:, :-1]
    speeds = np.linalg.norm(step[..., [0, 2]], axis=-1) * fps
    return speeds, contact


def lowest_joint_height(joints) -> np.ndarray:
    """Height of each person's lowest joint per frame. (person, T, 22, 3) -> (person, T)."""
    return _check_clip(joints, 1)[..., 1].min(axis=-1)


def bone_length_variation(joints) -> np.ndarray:
    """std/mean of each bone's length over time. (person, T, 22, 3) -> (person, bone=21)."""
    joints = _check_clip(joints, 1)
    parents, children = [p for p, _ in BONES], [c for _, c in BONES]
    lengths = np.linalg.norm(joints[:, :, children] - joints[:, :, parents], axis=-1)  # (person, frame, bone)
    return lengths.std(axis=1) / np.maximum(lengths.mean(axis=1), 1e-9)


def acceleration_magnitudes(joints, fps: float) -> np.ndarray:
    """|p[t+1] − 2p[t] + p[t−1]|·fps² (m/s²). (person, T, 22, 3) -> (person, T - 2, 22)."""
    joints, fps = _check_clip(joints, 3), _check_fps(fps)
    return np.linalg.norm(joints[:, 2:] - 2 * joints[:, 1:-1] + joints[:, :-2], axis=-1) * fps ** 2


def velocity_and_acceleration_jumps(joints, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, how much the joints' velocity and acceleration change from the frame before, as the mean over
    people and joints of |v[f] - v[f-1]| (m/s) and |a[f] - a[f-1]| (m/s^2), v[f] = (p[f] - p[f-1]) fps.
    (person, T, 22, 3) -> two (T,) arrays, zero where undefined (the first two or three frames)."""
    joints, fps = _check_clip(joints, 4), _check_fps(fps)
    velocity = np.diff(joints, axis=1) * fps  # v[f] at index f - 1
    acceleration = np.diff(velocity, axis=1) * fps  # a[f] at index f - 2
    velocity_jump = np.zeros(joints.shape[1])
    acceleration_jump = np.zeros(joints.shape[1])
    velocity_jump[2:] = np.linalg.norm(np.diff(velocity, axis=1), axis=-1).mean(axis=(0, 2))
    acceleration_jump[3:] = np.linalg.norm(np.diff(acceleration, axis=1), axis=-1).mean(axis=(0, 2))
    return velocity_jump, acceleration_jump


def seam_jumps(joints, seams: Sequence[int], fps: float, radius: int = 2, before: int | None = None) -> dict:
    """Velocity and acceleration jumps (``velocity_and_acceleration_jumps``) at seams against the rest of a clip.

    At a seam: the largest jump from ``before`` (default ``radius``; a cross-fade's length plus ``radius`` takes in
    the fade before the seam) to ``radius`` frames around it (a seam at frame s: the first frame after it).
    Elsewhere: the median, 95th percentile and maximum over the frames farther from every seam. Returns
    {"velocity"|"acceleration": {"seams": [per seam], "seam_max", "elsewhere_median", "elsewhere_p95",
    "elsewhere_max"}}.
    """
    jumps = dict(zip(("velocity", "acceleration"), velocity_and_acceleration_jumps(joints, fps)))
    before = radius if before is None else before
    frames = np.arange(len(jumps["velocity"]))
    near = np.zeros(len(frames), dtype=bool)
    for seam in seams:
        near |= (frames >= seam - before) & (frames <= seam + radius)
    defined = frames >= 3
    report = {}
    for kind, values in jumps.items():
        at_seams = [float(values[max(0, s - before):s + radius + 1].max()) for s in seams]
        rest = values[defined & ~near]
        report[kind] = {"seams": at_seams, "seam_max": max(at_seams, default=0.0),
                        "elsewhere_median": float(np.median(rest)) if rest.size else 0.0,
                        "elsewhere_p95": float(np.percentile(rest, 95)) if rest.size else 0.0,
                        "elsewhere_max": float(rest.max()) if rest.size else 0.0}
    return report


# ----------------------------------------------------------------------------------------------------------
# reductions (pooled over frames)


def _mean_or_zero(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else 0.0


def _penetration_summary(depths: np.ndarray) -> dict:
    overlapping = depths[depths > 0]
    return {
        "penetration_ratio": float((depths > 0).mean()),
        "penetration_depth": _mean_or_zero(overlapping),  # mean over overlapping frames
        "penetration_depth_max": float(max(depths.max(), 0.0)),
    }


def _skating_summary(contact_speeds: np.ndarray, skating_steps: np.ndarray) -> dict:
    return {
        "foot_skate_speed": _mean_or_zero(contact_speeds),  # mean over (foot joint, step) in contact
        "foot_skate_ratio": float(skating_steps.mean()),  # share of (person, step) with a sliding foot
    }


def _floor_summary(lowest: np.ndarray) -> dict:
    below = lowest[lowest < 0]
    return {
        "floor_penetration_ratio": float((lowest < 0).mean()),
        "floor_penetration_depth": _mean_or_zero(-below),  # mean over penetrating (person, frame)
    }


def _skating_instances(joints, fps: float, skate_speed: float) -> tuple[np.ndarray, np.ndarray]:
    speeds, contact = foot_contact_speeds(joints, fps)
    sliding = (contact & (speeds > skate_speed)).any(axis=-1)  # (person, step)
    return speeds[contact], sliding.ravel()


# ----------------------------------------------------------------------------------------------------------
# per-clip metrics


def interpenetration(joints, colliders: Mapping[tuple[int, int], float] = COLLIDERS) -> dict:
    """Share of frames where the two bodies overlap, and the mean (over those frames) and max depth (m)."""
    return _penetration_summary(penetration_depth_per_frame(joints, colliders))


def foot_skating(joints, fps: float, skate_speed: float = SKATE_SPEED) -> dict:
    """Mean horizontal speed (m/s) of foot joints in contact, and the share of (person, step) where some
    foot joint in contact slides faster than ``skate_speed``. No contact at all gives 0 speed."""
    return _skating_summary(*_skating_instances(joints, fps, skate_speed))


def floor_penetration(joints) -> dict:
    """Share of (person, frame) whose lowest joint is below y = 0, and its mean depth there (m)."""
    return _floor_summary(lowest_joint_height(joints))


def bone_length_drift(joints) -> float:
    """Mean over people and bones of std/mean of the bone length over time (0 for a rigid skeleton)."""
    return float(bone_length_variation(joints).mean())


def jitter(joints, fps: float) -> float:
    """Mean joint acceleration magnitude (m/s²) over people, joints and interior frames."""
    return float(acceleration_magnitudes(joints, fps).mean())


class PhysicalMetrics:
    """Pools per-frame measurements over many clips, then reduces them once.

    Ratios and means are over all pooled frames (so long clips weigh more); bone drift is averaged over
    clips. ``result()`` returns the keys of ``PHYSICAL_KEYS``.
    """

    def __init__(self, fps: float, colliders: Mapping[tuple[int, int], float] = COLLIDERS,
                 skate_speed: float = SKATE_SPEED):
        self.fps, self.colliders, self.skate_speed = _check_fps(fps), colliders, skate_speed
        self._depths, self._contact_speeds, self._sliding = [], [], []
        self._lowest, self._drift, self._acceleration = [], [], []

    def add_clip(self, joints) -> None:
        """joints (2, T >= 3, 22, 3), already cropped to its valid frames."""
        joints = _check_clip(joints, 3, persons=2)
        self._depths.append(penetration_depth_per_frame(joints, self.colliders))
        contact_speeds, sliding = _skating_instances(joints, self.fps, self.skate_speed)
        self._contact_speeds.append(contact_speeds)
        self._sliding.append(sliding)
        self._lowest.append(lowest_joint_height(joints).ravel())
        self._drift.append(bone_length_drift(joints))
        self._acceleration.append(acceleration_magnitudes(joints, self.fps).ravel())

    def add_batch(self, joints, lengths=None) -> None:
        """joints (batch, 2, T, 22, 3); lengths (batch,) valid frames, all T when None."""
        joints = np.asarray(joints)
        if joints.ndim != 5:
            raise ValueError(f"joints: expected (batch, 2, frame, {NUM_JOINTS}, 3), got shape {joints.shape}")
        frames = joints.shape[2]
        lengths = np.full(len(joints), frames) if lengths is None else np.asarray(lengths).astype(np.int64)
        if lengths.shape != (len(joints),):
            raise ValueError(f"lengths: expected shape ({len(joints)},), got {lengths.shape}")
        if len(lengths) and (lengths.min() < 3 or lengths.max() > frames):
            raise ValueError(f"lengths: physical metrics need 3 <= length <= {frames}, got {lengths.tolist()}")
        for clip, length in zip(joints, lengths):
            self.add_clip(clip[:, :length])

    def result(self) -> dict:
        if not self._depths:
            raise ValueError("PhysicalMetrics.result: no clip was added")
        return {
            **_penetration_summary(np.concatenate(self._depths)),
            **_skating_summary(np.concatenate(self._contact_speeds), np.concatenate(self._sliding)),
            **_floor_summary(np.concatenate(self._lowest)),
            "bone_length_drift": float(np.mean(self._drift)),
            "jitter": float(np.concatenate(self._acceleration).mean()),
        }


PHYSICAL_KEYS = (
    "penetration_ratio", "penetration_depth", "penetration_depth_max",
    "foot_skate_speed", "foot_skate_ratio",
    "floor_penetration_ratio", "floor_penetration_depth",
    "bone_length_drift", "jitter",
)


def physical_metrics(joints, fps: float, lengths: Sequence[int] | np.ndarray | None = None, **options) -> dict:
    """All physical metrics of a batch of clips, frames pooled.

    joints (batch, 2, T, 22, 3), lengths (batch,) valid frames (>= 3) or None for all T.
    ``options`` go to ``PhysicalMetrics`` (colliders, skate_speed). -> dict with ``PHYSICAL_KEYS``.
    """
    metrics = PhysicalMetrics(fps, **options)
    metrics.add_batch(joints, lengths)
    return metrics.result()
