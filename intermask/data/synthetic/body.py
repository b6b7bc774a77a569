"""One procedural body: a per-person performance plan turned into SMPL-22 local rotations and a root trajectory.

A ``Performance`` says, per frame, where the pelvis travels on the ground, where the body faces, how the torso
bends and where the wrists should go. ``animate`` (or ``animate_together`` for a pair) turns it into poses:

1. footsteps are planned from the ground path: a foot stays planted until the body has passed it by a set
   excursion, then swings to the same excursion ahead of the body (or to where the body comes to rest);
2. the pelvis is lowered wherever a planted foot would otherwise be out of reach;
3. legs and arms are solved with analytic two-bone IK (knees bend forward, elbows bend back and out), the
   torso and head get their rotations directly;
4. joint positions come from ``forward_kinematics`` with the person's scaled rest offsets, so bone lengths are
   exact and a planted foot does not slide.

Frames are Y-up metres at ``FPS``; a yaw ``heading`` of 0 faces +Z, and the body's left is +X at heading 0.
Everything is vectorised over frames.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from ...motion.kinematics import forward_kinematics
from ...motion.skeleton import (ARM_JOINTS, HEAD_JOINT, LEG_JOINTS, NECK_JOINT, NUM_JOINTS, REST_OFFSETS, SIDE_SIGN,
                                SIDES, SPINE_JOINTS)

FPS = 30

LEG_LENGTH = float(np.linalg.norm(REST_OFFSETS[4]) + np.linalg.norm(REST_OFFSETS[7]))
ARM_LENGTH = float(np.linalg.norm(REST_OFFSETS[18]) + np.linalg.norm(REST_OFFSETS[20]))
# with a flat foot the foot joint is the lowest point, this far below the ankle
ANKLE_HEIGHT = float(-REST_OFFSETS[10][1])
HIP_DROP = float(-REST_OFFSETS[1][1])
# standing pelvis height of a unit-scale body whose knees are slightly bent
STAND_HEIGHT = ANKLE_HEIGHT + HIP_DROP + 0.955 * LEG_LENGTH
# heights above the floor of a standing unit-scale body, for aiming at someone else
SHOULDER_HEIGHT = 1.39
HEAD_HEIGHT = 1.55


# ----------------------------------------------------------------------------------------------- small maths
def frame_times(num_frames: int) -> np.ndarray:
    return np.arange(num_frames) / FPS


def smoothstep(x):
    """0 -> 1 with zero slope at both ends; input clipped to [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def ramp(t, start: float, end: float):
    """0 before ``start``, 1 after ``end``, a smoothstep in between."""
    if end <= start:
        return (np.asarray(t) >= start).astype(float)
    return smoothstep((np.asarray(t) - start) / (end - start))


def window(t, rise_start: float, rise_end: float, fall_start: float, fall_end: float):
    """A smooth plateau: rises over [rise_start, rise_end], falls over [fall_start, fall_end]."""
    return ramp(t, rise_start, rise_end) * (1.0 - ramp(t, fall_start, fall_end))


def travel(t, start: float, end: float, ease_in: float = 0.5, ease_out: float | None = None):
    """Progress 0 -> 1 of a move from ``start`` to ``end`` with a smooth speed ramp at each end.

    The speed rises with a smoothstep over ``ease_in`` seconds, stays constant, and falls over ``ease_out``, so
    velocity is continuous everywhere (the closed-form integral of the speed profile).
    """
    ease_out = ease_in if ease_out is None else ease_out
    duration = max(end - start, 1e-6)
    scale = min(1.0, duration / max(ease_in + ease_out, 1e-9))
    ease_in, ease_out = max(ease_in * scale, 1e-6), max(ease_out * scale, 1e-6)
    tau = np.clip(np.asarray(t, dtype=float) - start, 0.0, duration)

    def ramp_area(x):  # integral of smoothstep over [0, x], x in [0, 1]
        return x ** 3 - 0.5 * x ** 4

    total = duration - 0.5 * (ease_in + ease_out)
    rising = ease_in * ramp_area(np.clip(tau / ease_in, 0.0, 1.0))
    cruising = np.clip(tau - ease_in, 0.0, duration - ease_in - ease_out)
    falling_left = np.clip((duration - tau) / ease_out, 0.0, 1.0)
    falling = np.where(tau > duration - ease_out, 0.5 * ease_out - ease_out * ramp_area(falling_left), 0.0)
    return (rising + cruising + falling) / total


def keyframes(t, times, values):
    """Values (key, ...) at strictly increasing ``times``, eased with a smoothstep between neighbours."""
    times = np.asarray(times, dtype=float)
    values = np.asarray(values, dtype=float)
    index = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    span = times[index + 1] - times[index]
    eased = smoothstep((np.asarray(t) - times[index]) / span)
    eased = eased.reshape(eased.shape + (1,) * (values.ndim - 1))
    return values[index] + (values[index + 1] - values[index]) * eased


def wrap_angle(angle):
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


def forward_xz(heading):
    """Facing direction on the ground, (..., 2) as (x, z)."""
    return np.stack([np.sin(heading), np.cos(heading)], -1)


def left_xz(heading):
    """The body's left on the ground, (..., 2) as (x, z)."""
    return np.stack([np.cos(heading), -np.sin(heading)], -1)


def heading_towards(source_xz, target_xz):
    """Yaw that faces from ``source_xz`` to ``target_xz`` (..., 2) -> (...)."""
    delta = np.asarray(target_xz) - np.asarray(source_xz)
    return np.arctan2(delta[..., 0], delta[..., 1])


def lift(xz, height):
    """Ground points (..., 2) at ``height`` (...) -> (..., 3)."""
    xz = np.asarray(xz, dtype=float)
    height = np.broadcast_to(np.asarray(height, dtype=float), xz.shape[:-1])
    return np.stack([xz[..., 0], height, xz[..., 1]], -1)


def rot_y(angle):
    """Rotation about +Y (a turn to the left for a body facing +Z). (...,) -> (..., 3, 3)."""
    angle = np.asarray(angle, dtype=float)
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(angle.shape + (3, 3))
    out[..., 1, 1] = 1.0
    out[..., 0, 0], out[..., 0, 2], out[..., 2, 0], out[..., 2, 2] = c, s, -s, c
    return out


def torso_rotation(yaw, pitch, roll):
    """A joint rotation from yaw (turn to the left), pitch (bend forward) and roll (lean to the left).

    The closed form of R_y(yaw) R_x(pitch) R_z(-roll), with R_a the right-handed rotation about axis a.
    """
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), -np.sin(roll)
    out = np.empty(np.shape(yaw) + (3, 3))
    out[..., 0, 0], out[..., 0, 1], out[..., 0, 2] = cy * cr + sy * sp * sr, sy * sp * cr - cy * sr, sy * cp
    out[..., 1, 0], out[..., 1, 1], out[..., 1, 2] = cp * sr, cp * cr, -sp
    out[..., 2, 0], out[..., 2, 1], out[..., 2, 2] = cy * sp * sr - sy * cr, sy * sr + cy * sp * cr, cy * cp
    return out


def apply(matrices, vectors):
    """(..., 3, 3) @ (..., 3) -> (..., 3)."""
    return np.einsum("...ij,...j->...i", matrices, vectors)


def _norm(v):
    return np.sqrt((v * v).sum(-1))


def _normalize(v, eps: float = 1e-9):
    return v / np.maximum(_norm(v), eps)[..., None]


def _cross(a, b):
    """Cross product of (..., 3) arrays (numpy's ``cross`` is slow on small arrays)."""
    out = np.empty(np.broadcast_shapes(np.shape(a), np.shape(b)))
    out[..., 0] = a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1]
    out[..., 1] = a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2]
    out[..., 2] = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return out


# ------------------------------------------------------------------------------------------------------ IK
def _bone_frame(direction, normal):
    """Orthonormal frames (..., 3, 3) with columns: bone direction, in-plane axis toward the pole, plane normal."""
    out = np.empty(np.broadcast_shapes(np.shape(direction), np.shape(normal)) + (3,))
    out[..., 0], out[..., 1], out[..., 2] = direction, _cross(normal, direction), normal
    return out


def two_bone_ik(root, target, pole, upper_offset, lower_offset, scale, rest_pole, fallback_pole):
    """Global rotations of a two-bone chain whose end reaches ``target`` with the middle joint toward ``pole``.

    root, target, pole, fallback_pole: (frame, 3) world points / directions; upper_offset, lower_offset: (3,)
    unit-scale rest offsets of the middle joint from the root and of the end from the middle joint; scale:
    body scale, a float or (frame,); rest_pole: (3,) the direction the middle joint bends toward in the rest
    pose. Returns the two bones' global rotations, each (frame, 3, 3): they turn the rest offsets onto the
    solved bones, keeping the bend plane's orientation as in the rest pose. An unreachable target is
    approached along a straight chain.
    """
    upper_len, lower_len = _norm(upper_offset) * scale, _norm(lower_offset) * scale
    to_target = target - root
    distance = _norm(to_target)
    toward = to_target / np.maximum(distance, 1e-9)[:, None]
    distance = np.clip(distance, np.abs(upper_len - lower_len) + 1e-6, (upper_len + lower_len) * (1 - 1e-6))

    normal = _cross(toward, pole)
    degenerate = _norm(normal) < 1e-6
    if degenerate.any():
        normal[degenerate] = _cross(toward, fallback_pole)[degenerate]
    normal = _normalize(normal)
    bend = _cross(normal, toward)  # in the bend plane, perpendicular to the chain, on the pole's side

    cos_root = (upper_len ** 2 + distance ** 2 - lower_len ** 2) / (2 * upper_len * distance)
    sin_root = np.sqrt(np.clip(1 - cos_root ** 2, 0.0, 1.0))
    upper_dir = cos_root[:, None] * toward + sin_root[:, None] * bend
    lower_dir = distance[:, None] * toward - np.reshape(upper_len, (-1, 1)) * upper_dir

    upper = _bone_frame(upper_dir, normal) @ _rest_frame(upper_offset, rest_pole)
    lower = _bone_frame(_normalize(lower_dir), normal) @ _rest_frame(lower_offset, rest_pole)
    return upper, lower


_REST_FRAMES: dict = {}


def _rest_frame(offset, rest_pole):
    """The bone frame of a rest offset (3,) bending toward ``rest_pole`` (3,): (3, 3), cached.

    Callers pass the unit-scale rest offsets, so the bytes of the two vectors identify a bone.
    """
    key = np.asarray(offset, dtype=float).tobytes() + np.asarray(rest_pole, dtype=float).tobytes()
    frame = _REST_FRAMES.get(key)
    if frame is None:
        direction = offset / _norm(offset)
        frame = _REST_FRAMES[key] = _bone_frame(direction, _normalize(_cross(direction, rest_pole))).T.copy()
    return frame


class Route:
    """A smooth ground path of straight and circular pieces, looked up by distance travelled along it.

    pieces: ``("line", length)`` or ``("arc", radius, angle)`` with a positive angle turning to the left
    (counterclockwise seen from above).
    """

    def __init__(self, start, heading: float, pieces, resolution: float = 0.02):
        position, yaw = np.asarray(start, dtype=float), float(heading)
        points, headings = [position[None]], [np.array([yaw])]
        for piece in pieces:
            if piece[0] == "line":
                count = max(2, int(np.ceil(piece[1] / resolution)) + 1)
                along = np.linspace(0.0, piece[1], count)[1:]
                new_points = position + along[:, None] * forward_xz(yaw)
                new_headings = np.full(count - 1, yaw)
            elif piece[0] == "arc":
                radius, angle = piece[1], piece[2]
                sign = np.sign(angle)
                count = max(2, int(np.ceil(radius * abs(angle) / resolution)) + 1)
                turned = np.linspace(0.0, angle, count)[1:]
                centre = position + sign * radius * left_xz(yaw)
                new_points = centre - sign * radius * left_xz(yaw + turned)
                new_headings = yaw + turned
            else:
                raise ValueError(f"Route: unknown piece {piece!r}; expected ('line', length) or ('arc', r, angle)")
            points.append(new_points)
            headings.append(new_headings)
            position, yaw = new_points[-1], float(new_headings[-1])
        self.points = np.concatenate(points)
        self.headings = np.concatenate(headings)
        self.distance = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(self.points, axis=0), axis=-1))])

    @property
    def length(self) -> float:
        return float(self.distance[-1])

    def at(self, distance):
        """Positions (..., 2) and headings (...) at distances along the route (clipped to its ends)."""
        distance = np.clip(distance, 0.0, self.length)
        x = np.interp(distance, self.distance, self.points[:, 0])
        z = np.interp(distance, self.distance, self.points[:, 1])
        return np.stack([x, z], -1), np.interp(distance, self.distance, self.headings)


# ------------------------------------------------------------------------------------------- the plan types
@dataclass
class Gait:
    """How a body steps. Lengths are for a unit-scale body and get multiplied by its scale."""

    step_length: float = 0.55  # ground progress (path length plus turning) per step
    swing_fraction: float = 0.38  # half of a swing, as a fraction of a step's progress
    lift: float = 0.07  # swing-foot clearance
    stance_width: float = 0.1  # ankle distance from the body's midline
    toe_out: float = 0.08  # outward yaw of each foot (rad)
    turn_radius: float = 0.3  # ground progress credited per radian of turning on the spot
    min_swing: float = 0.22  # seconds
    max_swing: float = 0.6


def gait_for_speed(speed: float, **changes) -> Gait:
    """A walking (below ~2 m/s) or running gait for a cruise ``speed`` in m/s."""
    running = speed > 2.0
    gait = Gait(step_length=float(np.clip(0.3 + (0.18 if running else 0.17) * speed, 0.3, 1.1)),
                swing_fraction=0.6 if running else 0.38,
                lift=0.12 if running else 0.05 + 0.02 * speed,
                min_swing=0.16 if running else 0.22)
    for name, value in changes.items():
        setattr(gait, name, value)
    return gait


@dataclass
class Track:
    """Overlapping weighted requests for one quantity, resolved into a weighted average and a total weight."""

    num_frames: int
    width: int
    values: list = field(default_factory=list)
    weights: list = field(default_factory=list)

    def add(self, value, weight):
        value = np.broadcast_to(np.asarray(value, dtype=float), (self.num_frames, self.width))
        weight = np.broadcast_to(np.asarray(weight, dtype=float), (self.num_frames,))
        self.values.append(value)
        self.weights.append(weight)

    def resolve(self):
        """(value (frame, width), weight (frame,) in [0, 1]); a zero weight where nothing was requested."""
        if not self.weights:
            return np.zeros((self.num_frames, self.width)), np.zeros(self.num_frames)
        weights = np.stack(self.weights)
        total = weights.sum(0)
        value = np.einsum("kf,kfw->fw", weights, np.stack(self.values)) / np.maximum(total, 1e-9)[:, None]
        return value, np.clip(total, 0.0, 1.0)

    def transformed(self, fn) -> "Track":
        return Track(self.num_frames, self.width, [fn(v) for v in self.values], list(self.weights))


# relaxed hanging arm, and the elbow direction, as (outward, up, forward) from the shoulder in the chest frame
HANGING_WRIST = np.array([0.07, -0.48, 0.05])
DEFAULT_ELBOW_POLE = np.array([0.3, -0.5, -1.0])


@dataclass
class Arm:
    """What one arm does: a chest-frame pose (blended over the relaxed swinging arm) and a world reach target.

    ``pose``: the wrist relative to the shoulder as (outward, up, forward) in the chest frame, for a unit-scale
    body; ``reach``: a world wrist target, blended over the pose; ``pole``: (outward, up, forward) direction the
    elbow points to.
    """

    num_frames: int
    pose: Track = None
    reach: Track = None
    pole: Track = None

    def __post_init__(self):
        self.pose = self.pose or Track(self.num_frames, 3)
        self.reach = self.reach or Track(self.num_frames, 3)
        self.pole = self.pole or Track(self.num_frames, 3)


@dataclass
class Performance:
    """Everything one person does in a clip, frame by frame (angles in radians, lengths in metres).

    path: (frame, 2) ground position (x, z) the pelvis travels along; heading: (frame,) yaw of the pelvis;
    sway: (frame, 2) small pelvis offset that does not move the feet; crouch: (frame,) 0 standing .. 1 deep
    squat; lean: forward bend of the upper body; side_lean: lean toward the body's left; twist: chest turn to
    the left relative to the pelvis; head_pitch: downward look relative to level; head_yaw: look to the left
    relative to the pelvis; feet: per side, a world ankle target blended over the planned footsteps (a kick).
    """

    scale: float
    path: np.ndarray
    heading: np.ndarray
    gait: Gait = field(default_factory=Gait)
    arm_swing: float = 0.5
    sway: np.ndarray = None
    crouch: np.ndarray = None
    lean: np.ndarray = None
    side_lean: np.ndarray = None
    twist: np.ndarray = None
    head_pitch: np.ndarray = None
    head_yaw: np.ndarray = None
    arms: dict = None
    feet: dict = None

    def __post_init__(self):
        frames = self.num_frames
        self.path = np.asarray(self.path, dtype=float)
        self.heading = np.asarray(self.heading, dtype=float)
        if self.path.shape != (frames, 2) or self.heading.shape != (frames,):
            raise ValueError(f"Performance: path must be (frame, 2) and heading (frame,), got {self.path.shape} "
                             f"and {self.heading.shape}")
        for name in ("crouch", "lean", "side_lean", "twist", "head_pitch", "head_yaw"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(frames))
        if self.sway is None:
            self.sway = np.zeros((frames, 2))
        self.arms = self.arms or {side: Arm(frames) for side in SIDES}
        self.feet = self.feet or {side: Track(frames, 3) for side in SIDES}

    @property
    def num_frames(self) -> int:
        return len(self.heading)

    @classmethod
    def standing(cls, num_frames: int, position, heading: float, scale: float, **kwargs) -> "Performance":
        path = np.tile(np.asarray(position, dtype=float), (num_frames, 1))
        return cls(scale=scale, path=path, heading=np.full(num_frames, float(heading)), **kwargs)

    def placed(self, yaw: float, offset) -> "Performance":
        """The same performance turned by ``yaw`` about +Y and then shifted by ``offset`` (x, z) on the ground."""
        rotation = rot_y(yaw)
        ground = rotation[[0, 2]][:, [0, 2]]
        offset = np.asarray(offset, dtype=float)

        def move_points(points):  # world points (frame, 3)
            return apply(rotation, points) + np.array([offset[0], 0.0, offset[1]])

        arms = {side: Arm(self.num_frames, arm.pose, arm.reach.transformed(move_points), arm.pole)
                for side, arm in self.arms.items()}
        feet = {side: track.transformed(move_points) for side, track in self.feet.items()}
        return Performance(scale=self.scale, path=self.path @ ground.T + offset, heading=self.heading + yaw,
                           gait=self.gait, arm_swing=self.arm_swing, sway=self.sway @ ground.T,
                           crouch=self.crouch, lean=self.lean, side_lean=self.side_lean, twist=self.twist,
                           head_pitch=self.head_pitch, head_yaw=self.head_yaw, arms=arms, feet=feet)


@dataclass
class BodyMotion:
    """One animated person: root (frame, 3), local rotations (frame, joint=22, 3, 3), joints (frame, 22, 3),
    stance (frame, 2) for the left and right foot (True while planted), scale."""

    root: np.ndarray
    rotations: np.ndarray
    joints: np.ndarray
    stance: np.ndarray
    scale: float


# ------------------------------------------------------------------------------------------------ footsteps
@dataclass
class Footsteps:
    """Planned ankles: positions (side=2, frame, 3), foot yaw (2, frame), stance (2, frame) bool."""

    ankles: np.ndarray
    yaw: np.ndarray
    stance: np.ndarray


def _time_at(progress, times, level: float) -> float:
    """First time at which the non-decreasing ``progress`` reaches ``level`` (linear between frames)."""
    if level <= progress[0]:
        return float(times[0])
    index = int(np.searchsorted(progress, level, side="left"))
    if index >= len(progress):
        return float("inf")
    before, after = progress[index - 1], progress[index]
    fraction = (level - before) / max(after - before, 1e-12)
    return float(times[index - 1] + fraction * (times[index] - times[index - 1]))


def _progress_at(progress, time: float) -> float:
    """``progress`` (per frame) at a time between frames, linearly interpolated."""
    position = min(max(time * FPS, 0.0), len(progress) - 1.0)
    index = min(int(position), len(progress) - 2)
    return float(progress[index] + (position - index) * (progress[index + 1] - progress[index]))


def _schedule_steps(progress, next_stop, times, gait: Gait, scale: float, homes):
    """Footfalls as (foot, lift time, land time, progress of the landing spot), one step at a time.

    Progress is measured along the ground path. A foot lifts once the body has passed its plant by the
    excursion ``step * (1 - swing_fraction)`` (at once when the other foot is not ahead, as when starting from
    standing); when walking it waits for the other foot to land, when running (``swing_fraction`` > 0.5) both
    feet may be off the ground. It lands that same excursion ahead of the body, or where the body next comes to
    rest. Before a stop, a foot that has not caught up makes a settling step, so people come to rest with their
    feet side by side.
    """
    step = gait.step_length * scale
    swing_progress = 2 * gait.swing_fraction * step
    excursion = step - 0.5 * swing_progress
    flight = max(0.0, swing_progress - step)  # progress during which both feet may be in the air
    settle = 0.15 * step
    small = 0.02 * step
    walking = flight == 0.0
    end = float(times[-1])
    plant = [0.0, 0.0]
    foot_land = [-np.inf, -np.inf]
    steps = []
    cursor, last_land, foot = 0.0, -np.inf, None
    for _ in range(400):
        stop = _progress_at(next_stop, cursor)
        if max(stop - plant[0], stop - plant[1]) < settle:
            moving = np.flatnonzero(progress > stop + small)
            if len(moving) == 0 or times[moving[0]] <= cursor:
                break
            cursor, foot = max(float(times[moving[0]]), max(foot_land)), None
            continue
        if foot is None:  # first step after standing: the foot with further to go
            now = min(int(cursor * FPS), len(times) - 1)
            ahead = min(int(round(_time_at(progress, times, min(plant[0] + step, stop)) * FPS)), len(times) - 1)
            to_go = np.linalg.norm(homes[:, ahead] - homes[:, now], axis=-1)
            foot = int(to_go[1] > to_go[0])
        if stop - plant[foot] < settle:
            foot = 1 - foot
        other = 1 - foot
        lead = plant[other] - plant[foot]
        lift_progress = plant[foot] + min(max(excursion - step + lead, small), excursion)
        lift_progress = min(lift_progress, max(stop - swing_progress, plant[foot] + small))
        lift_time = max(_time_at(progress, times, lift_progress), cursor, foot_land[foot] + 1.0 / FPS)
        if walking:
            lift_time = max(lift_time, last_land + 0.04)
        if lift_time + gait.min_swing > end:
            break
        # land by the time the other foot must lift (less any flight), and not beyond the next stop
        land_progress = min(_progress_at(progress, lift_time) + swing_progress, stop,
                            plant[other] + excursion + flight)
        land_time = min(max(_time_at(progress, times, land_progress), lift_time + gait.min_swing),
                        lift_time + gait.max_swing)
        land_time = min(land_time, end)
        landed = _progress_at(progress, land_time)
        rest = _progress_at(next_stop, land_time)
        target = max(min(landed + excursion, rest), plant[foot])
        steps.append((foot, lift_time, land_time, target))
        plant[foot] = target
        foot_land[foot] = land_time
        last_land = max(last_land, land_time)
        cursor = lift_time
        foot = other
    return steps


def plan_footsteps(path, heading, scale: float, gait: Gait) -> Footsteps:
    """Planted and swinging ankles for a ground path and heading (see ``_schedule_steps``).

    Ground progress is path length plus ``turn_radius`` per radian turned, so turning on the spot steps too.
    Each foot's spot is its "home" (beside the pelvis path, ``stance_width`` from the midline) at the moment the
    body's progress reaches the spot's progress. A swing eases the foot over with a lift of ``lift``.
    """
    frames = len(heading)
    times = frame_times(frames)
    side_signs = np.array([1.0, -1.0])
    homes = path[None] + side_signs[:, None, None] * gait.stance_width * scale * left_xz(heading)[None]
    foot_yaw = heading[None] + side_signs[:, None] * gait.toe_out
    moved = np.linalg.norm(np.diff(path, axis=0), axis=-1) + gait.turn_radius * scale * np.abs(np.diff(heading))
    progress = np.concatenate([[0.0], np.cumsum(moved)])
    # progress at which the body next stands still (the end of the current movement)
    still = np.append(moved < 1e-4 * scale, True)
    next_stop = np.minimum.accumulate(np.where(still, progress, np.inf)[::-1])[::-1]

    ankles = lift(homes[:, :1].repeat(frames, 1), ANKLE_HEIGHT * scale)
    yaws = np.repeat(foot_yaw[:, :1], frames, axis=1)
    stance = np.ones((2, frames), dtype=bool)
    steps = _schedule_steps(progress, next_stop, times, gait, scale, homes)
    for side in range(2):
        own = [s for s in steps if s[0] == side]
        if not own:
            continue
        side_lifts = np.array([s[1] for s in own])
        side_lands = np.array([s[2] for s in own])
        spots = np.array([min(int(round(_time_at(progress, times, s[3]) * FPS)), frames - 1) for s in own])
        plants = np.concatenate([homes[side, :1], homes[side, spots]])  # (swing + 1, 2)
        plant_yaw = np.concatenate([foot_yaw[side, :1], foot_yaw[side, spots]])

        swing = np.searchsorted(side_lifts, times, side="right") - 1  # last swing begun, -1 before the first
        started = swing >= 0
        index = np.maximum(swing, 0)
        phase = np.where(started, (times - side_lifts[index]) / (side_lands[index] - side_lifts[index]), 1.0)
        swinging = started & (phase < 1.0)
        phase = np.clip(phase, 0.0, 1.0)
        source = np.where(swinging, index, np.where(started, index + 1, 0))  # plant the foot is at (or leaving)
        target = np.where(swinging, index + 1, source)
        eased = smoothstep(phase) * swinging
        ground = plants[source] + (plants[target] - plants[source]) * eased[:, None]
        stride = np.linalg.norm(plants[target] - plants[source], axis=-1)
        clearance = np.minimum(gait.lift * scale, 0.4 * stride + 0.01) * np.sin(np.pi * phase) ** 2 * swinging
        ankles[side] = lift(ground, ANKLE_HEIGHT * scale + clearance)
        yaws[side] = plant_yaw[source] + (plant_yaw[target] - plant_yaw[source]) * eased
        stance[side] = ~swinging
    return Footsteps(ankles, yaws, stance)


# ---------------------------------------------------------------------------------------------- animation
def _sweep(start, end, weight):
    """Points (frame, 3) part way from ``start`` to ``end`` (frame, 3) around the origin (the shoulder).

    The direction turns at an even rate along the great circle and the distance changes linearly, so a hand
    moving between two poses swings round the shoulder instead of cutting past it (which would fold the arm
    and flip the elbow).
    """
    start_length, end_length = _norm(start), _norm(end)
    start_dir = start / np.maximum(start_length, 1e-9)[:, None]
    end_dir = end / np.maximum(end_length, 1e-9)[:, None]
    angle = np.arccos(np.clip((start_dir * end_dir).sum(-1), -1.0, 1.0))
    sin_angle = np.sin(angle)
    straight = sin_angle < 1e-6
    safe = np.where(straight, 1.0, sin_angle)
    from_start = np.where(straight, 1.0 - weight, np.sin((1.0 - weight) * angle) / safe)
    from_end = np.where(straight, weight, np.sin(weight * angle) / safe)
    direction = from_start[:, None] * start_dir + from_end[:, None] * end_dir
    return direction * (start_length + weight * (end_length - start_length))[:, None]


def _smooth_below(values, radius: int):
    """A smooth curve that never exceeds ``values``: a running minimum, then two box filters inside it."""
    if radius < 1:
        return values
    lowered = minimum_filter1d(values, size=4 * radius + 1, mode="nearest")
    smoothed = uniform_filter1d(lowered, size=2 * radius + 1, mode="nearest")
    return uniform_filter1d(smoothed, size=2 * radius + 1, mode="nearest")


def _soft_min(a, b, softness: float):
    """A smooth lower bound of min(a, b)."""
    low = np.minimum(a, b)
    return low - softness * np.log(np.exp((low - a) / softness) + np.exp((low - b) / softness))


def animate(performance: Performance) -> BodyMotion:
    """Root trajectory, local rotations and FK joints of one performance (see the module docstring)."""
    return animate_together([performance])[0]


def animate_together(performances) -> list[BodyMotion]:
    """``animate`` for performances of equal length, posed and put through forward kinematics in one pass."""
    lengths = {perf.num_frames for perf in performances}
    if len(lengths) != 1:
        raise ValueError(f"animate_together: performances must have equal frame counts, got {sorted(lengths)}")
    roots, rotations, stances = _pose_all(performances)
    offsets = np.stack([REST_OFFSETS * perf.scale for perf in performances])[:, None]  # (person, 1, joint, 3)
    joints = forward_kinematics(roots, rotations, offsets)
    return [BodyMotion(root=roots[i], rotations=rotations[i], joints=joints[i], stance=stances[i],
                       scale=perf.scale) for i, perf in enumerate(performances)]


def _pose_all(performances):
    """Roots (person, frame, 3), local rotations (person, frame, 22, 3, 3) and stance (person, frame, 2).

    Footsteps are planned person by person; all the rest runs once over the people's frames laid end to end
    (``all`` = person x frame below), which halves the number of array operations for a pair.
    """
    people, frames = len(performances), performances[0].num_frames

    def joined(name):
        return np.concatenate([getattr(perf, name) for perf in performances])

    def per_frame(values):
        return np.repeat(np.asarray(values, dtype=float), frames)

    scale = per_frame([perf.scale for perf in performances])  # (all,)
    planned, ankles, stance, foot_yaw = [], [], [], []
    for perf in performances:
        steps = plan_footsteps(perf.path, perf.heading, perf.scale, perf.gait)
        overridden, planted = steps.ankles.copy(), steps.stance.copy()
        for index, side in enumerate(SIDES):
            target, weight = perf.feet[side].resolve()
            overridden[index] += weight[:, None] * (target - overridden[index])
            planted[index] &= weight < 1e-6
        planned.append(steps.ankles)
        ankles.append(overridden)
        stance.append(planted)
        foot_yaw.append(steps.yaw)
    planned, ankles = np.concatenate(planned, axis=1), np.concatenate(ankles, axis=1)  # (side, all, 3)
    foot_yaw = np.concatenate(foot_yaw, axis=1)  # (side, all)
    heading, lean, crouch, side_lean, twist = (joined(name) for name in ("heading", "lean", "crouch", "side_lean",
                                                                          "twist"))

    # pelvis: the hips flex for a forward lean and much more for a squat; the pelvis moves back to balance
    pelvis_pitch = 0.45 * lean + 0.6 * crouch
    pelvis = torso_rotation(heading, pelvis_pitch, 0.3 * side_lean)
    root_xz = joined("path") + joined("sway") - forward_xz(heading) * (0.25 * scale * np.sin(pelvis_pitch))[:, None]

    # the pelvis sits as high as a slightly bent stance allows, lower when a planted foot would be out of reach
    hip_offsets = [apply(pelvis, REST_OFFSETS[LEG_JOINTS[side][0]]) * scale[:, None] for side in SIDES]
    reach = 0.985 * LEG_LENGTH * scale
    highest = np.full(people * frames, np.inf)
    for index in range(2):
        horizontal = planned[index][:, [0, 2]] - (root_xz + hip_offsets[index][:, [0, 2]])
        vertical = np.sqrt(np.maximum(reach ** 2 - (horizontal ** 2).sum(-1), (0.05 * reach) ** 2))
        highest = np.minimum(highest, planned[index][:, 1] - hip_offsets[index][:, 1] + vertical)
    highest = _smooth_below(highest.reshape(people, frames), radius=3).reshape(-1)
    desired = scale * (STAND_HEIGHT - 0.55 * LEG_LENGTH * crouch)
    height = _soft_min(highest, desired, softness=0.01 * scale)
    root = np.stack([root_xz[:, 0], height, root_xz[:, 1]], -1)

    rotations = np.broadcast_to(np.eye(3), (people * frames, NUM_JOINTS, 3, 3)).copy()
    rotations[:, 0] = pelvis
    spine_pitch = 0.55 * lean - 0.35 * crouch
    spine = torso_rotation(twist / 3, spine_pitch / 3, 0.7 * side_lean / 3)
    for joint in SPINE_JOINTS:
        rotations[:, joint] = spine
    # the neck takes most of a head turn, so that a nod or a look moves the head joint visibly
    head_yaw, head_pitch = joined("head_yaw") - twist, joined("head_pitch") - pelvis_pitch - spine_pitch
    rotations[:, NECK_JOINT] = torso_rotation(0.65 * head_yaw, 0.65 * head_pitch, -0.5 * side_lean)
    rotations[:, HEAD_JOINT] = torso_rotation(0.35 * head_yaw, 0.35 * head_pitch, -0.5 * side_lean)

    # legs: knees bend toward the facing direction (and upward for a raised leg)
    knee_pole = lift(forward_xz(heading), 0.5)
    for index, side in enumerate(SIDES):
        hip, knee, ankle, _ = LEG_JOINTS[side]
        thigh, shin = two_bone_ik(root + hip_offsets[index], ankles[index], knee_pole, REST_OFFSETS[knee],
                                  REST_OFFSETS[ankle], scale, rest_pole=np.array([0.0, 0.0, 1.0]),
                                  fallback_pole=lift(left_xz(heading), 0.0) * SIDE_SIGN[side])
        rotations[:, hip] = np.swapaxes(pelvis, -1, -2) @ thigh
        rotations[:, knee] = np.swapaxes(thigh, -1, -2) @ shin
        rotations[:, ankle] = np.swapaxes(shin, -1, -2) @ rot_y(foot_yaw[index])

    # chest frame and shoulders, then the arms
    position, rotation = root, pelvis
    for joint in SPINE_JOINTS:
        position = position + apply(rotation, REST_OFFSETS[joint]) * scale[:, None]
        rotation = rotation @ rotations[:, joint]
    chest_position, chest = position, rotation
    facing = forward_xz(heading)
    arm_swing = per_frame([perf.arm_swing for perf in performances])
    for index, side in enumerate(SIDES):
        collar, shoulder, elbow, wrist = ARM_JOINTS[side]
        mirror = np.array([SIDE_SIGN[side], 1.0, 1.0])  # (outward, up, forward) -> chest-frame (x, y, z)
        shoulder_position = chest_position + apply(chest, REST_OFFSETS[collar] + REST_OFFSETS[shoulder]) * \
            scale[:, None]
        # relaxed arm swings opposite to the leg on its side
        other_ankle = ankles[1 - index][:, [0, 2]] - root_xz
        swing = np.clip((other_ankle * facing).sum(-1), -0.35 * scale, 0.35 * scale) * arm_swing
        relaxed = HANGING_WRIST * scale[:, None]
        relaxed[:, 2] += swing
        relaxed[:, 1] += 0.25 * np.abs(swing)
        (pose, pose_weight), (reach_target, reach_weight), (pole, pole_weight) = (
            (np.concatenate(parts) for parts in zip(*(getattr(perf.arms[side], track).resolve()
                                                       for perf in performances)))
            for track in ("pose", "reach", "pole"))
        local = _sweep(relaxed, pose * scale[:, None], pose_weight)
        target = shoulder_position + apply(chest, local * mirror)
        target = target + reach_weight[:, None] * (reach_target - target)
        pole = DEFAULT_ELBOW_POLE + pole_weight[:, None] * (pole - DEFAULT_ELBOW_POLE)
        upper, lower = two_bone_ik(shoulder_position, target, apply(chest, pole * mirror), REST_OFFSETS[elbow],
                                   REST_OFFSETS[wrist], scale, rest_pole=np.array([0.0, 0.0, -1.0]),
                                   fallback_pole=apply(chest, np.array([SIDE_SIGN[side], -1.0, 0.0])))
        rotations[:, shoulder] = np.swapaxes(chest, -1, -2) @ upper
        rotations[:, elbow] = np.swapaxes(upper, -1, -2) @ lower

    stance = np.stack([np.stack(planted, -1) for planted in stance])  # (person, frame, side)
    return (root.reshape(people, frames, 3), rotations.reshape(people, frames, NUM_JOINTS, 3, 3), stance)
