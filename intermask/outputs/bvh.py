"""BVH export and import of SMPL-22 clips.

One file holds one person; the root's position channels are world coordinates, so the two files of a
two-person result share one world frame and line up when imported together. Units are metres, Y is up.

Skeleton offsets come from the clip itself: each bone's length is its mean length over the frames and its
direction is that of ``REST_OFFSETS`` (the rest pose faces +Z, the body's left is +X). Every joint has three
rotation channels in ZXY order (the local rotation is Rz @ Rx @ Ry, angles in degrees) and the root adds
Xposition Yposition Zposition before them. The leaf joints (feet, head, wrists) are real joints, so all 22
names appear in the file, each closed by a nominal End Site.

Where only positions are known, local rotations come from inverse kinematics: a joint with one child gets the
smallest rotation turning its rest child direction onto the observed one (in the parent's frame); the pelvis
and spine3, which have three children, get the rotation best aligning all three directions at once (Kabsch).
For a clip with constant bone lengths and the rest directions of ``REST_OFFSETS`` this reproduces the joint
positions exactly; otherwise the error is bounded by how far the clip's bones stretch or bend away from that
skeleton.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..motion.kinematics import forward_kinematics, global_rotations
from ..motion.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS, REST_OFFSETS
from ..atomic import write_text_atomic
from .clip import as_people

CHILDREN = tuple(tuple(c for c in range(NUM_JOINTS) if PARENTS[c] == j) for j in range(NUM_JOINTS))
LEAF_JOINTS = tuple(j for j in range(NUM_JOINTS) if not CHILDREN[j])
# where each leaf's End Site sits (m, in the leaf's frame): toe tips, top of the head, hand centres
END_SITE_OFFSETS = {
    10: (0.0, 0.0, 0.05),
    11: (0.0, 0.0, 0.05),
    15: (0.0, 0.10, 0.0),
    20: (0.08, 0.0, 0.0),
    21: (-0.08, 0.0, 0.0),
}
ROTATION_ORDER = "ZXY"
# joint names written for the SMPL-22 joints: SMPL's own, or those retargeting tools map without being told
# (Mixamo's rig; MotionBuilder's and Maya's HumanIK characterisation, which reads the same names unprefixed)
_HUMANIK_NAMES = (
    "Hips", "LeftUpLeg", "RightUpLeg", "Spine", "LeftLeg", "RightLeg", "Spine1", "LeftFoot", "RightFoot", "Spine2",
    "LeftToeBase", "RightToeBase", "Neck", "LeftShoulder", "RightShoulder", "Head", "LeftArm", "RightArm",
    "LeftForeArm", "RightForeArm", "LeftHand", "RightHand",
)
JOINT_NAME_PRESETS = {
    "smpl": JOINT_NAMES,
    "humanik": _HUMANIK_NAMES,
    "mixamo": tuple(f"mixamorig:{name}" for name in _HUMANIK_NAMES),
}
# metres per file unit: MotionBuilder and Maya assume centimetres (a file in metres imports 100 times too small)
UNITS = {"m": 1.0, "cm": 0.01}
_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}


# ---------------------------------------------------------------- rotations

def _unit(vectors: np.ndarray, eps: float = 1e-9):
    """Unit vectors (..., 3) and a mask (...) of those that had a usable length."""
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norm, eps), norm[..., 0] > eps


def _skew(v: np.ndarray) -> np.ndarray:
    """Cross-product matrices (..., 3, 3) of vectors (..., 3)."""
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    zero = np.zeros_like(x)
    return np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(*v.shape[:-1], 3, 3)


def rotation_between(source: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Smallest rotations turning the direction ``source`` (3,) onto each of ``targets`` (..., 3).

    Returns (..., 3, 3); identity where a target has no length, a half turn where it points straight back.
    """
    a, _ = _unit(np.asarray(source, dtype=np.float64))
    b, usable = _unit(targets)
    cos = b @ a
    opposite = cos < -1 + 1e-9
    skew = _skew(np.cross(a, b))
    # Rodrigues with sin and (1 - cos) folded into the cross product: R = I + K + K^2 / (1 + cos)
    scale = 1.0 / np.where(opposite, 1.0, 1.0 + cos)
    rotations = np.eye(3) + skew + (skew @ skew) * scale[..., None, None]
    if opposite.any():
        helper = np.eye(3)[np.argmin(np.abs(a))]
        axis, _ = _unit(np.cross(a, helper))
        rotations[opposite] = 2 * np.outer(axis, axis) - np.eye(3)
    rotations[~usable] = np.eye(3)
    return rotations


def continuous_twist(rotations: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Rotations (frame, 3, 3), each free to turn about its ``axes`` (frame, 3) (the direction it must point a bone
    along), each frame's turn chosen nearest to the previous frame's rotation.

    A bone's direction leaves its rotation about the bone itself undefined; the smallest rotation onto it flips by
    up to a half turn as the bone passes the direction opposite its rest one. Turning each frame about the bone
    towards the previous frame keeps where the bone points and removes those flips: among R(axis, t) @ R the
    nearest to P maximises trace(P^T R(axis, t) R) = a cos t + b sin t + c, at t = atan2(b, a).
    """
    out = np.array(rotations, dtype=np.float64)
    axes, _ = _unit(np.asarray(axes, dtype=np.float64))
    for frame in range(1, len(out)):
        axis, product = axes[frame], out[frame] @ out[frame - 1].T
        along = axis @ product @ axis
        turn = np.arctan2(np.trace(_skew(axis) @ product), np.trace(product) - along)
        # Rodrigues in numpy: this loop runs per frame and joint, where a torch round trip would double the write
        out[frame] = (np.cos(turn) * np.eye(3) + np.sin(turn) * _skew(axis)
                      + (1 - np.cos(turn)) * np.outer(axis, axis)) @ out[frame]
    return out


def best_rotation(sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Rotations R minimising sum_c |R sources[c] - targets[..., c]|^2 (Kabsch).

    sources: (child, 3); targets: (..., child, 3) -> (..., 3, 3) proper rotations.
    """
    covariance = np.einsum("ci,...cj->...ij", sources, targets)
    u, _, vt = np.linalg.svd(covariance)
    v = np.swapaxes(vt, -1, -2)
    reflection = np.sign(np.linalg.det(v @ np.swapaxes(u, -1, -2)))
    correction = np.broadcast_to(np.eye(3), covariance.shape).copy()
    correction[..., 2, 2] = np.where(reflection == 0, 1.0, reflection)
    return v @ correction @ np.swapaxes(u, -1, -2)


def _axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """Rotations (..., 3, 3) about a coordinate axis by angles in degrees (...)."""
    radians = np.deg2rad(degrees)
    c, s = np.cos(radians), np.sin(radians)
    one, zero = np.ones_like(c), np.zeros_like(c)
    rows = {
        "X": [one, zero, zero, zero, c, -s, zero, s, c],
        "Y": [c, zero, s, zero, one, zero, -s, zero, c],
        "Z": [c, -s, zero, s, c, zero, zero, zero, one],
    }[axis]
    return np.stack(rows, axis=-1).reshape(*c.shape, 3, 3)


def euler_to_matrix(degrees: np.ndarray, order: str = ROTATION_ORDER) -> np.ndarray:
    """BVH Euler angles (..., len(order)) in degrees -> (..., 3, 3); the first axis of ``order`` is outermost."""
    degrees = np.asarray(degrees, dtype=np.float64)
    result = np.broadcast_to(np.eye(3), (*degrees.shape[:-1], 3, 3)).copy()
    for k, axis in enumerate(order):
        result = result @ _axis_rotation(axis, degrees[..., k])
    return result


def matrix_to_euler_zxy(matrix: np.ndarray) -> np.ndarray:
    """Rotations (..., 3, 3) -> (..., 3) angles in degrees (z, x, y) with matrix = Rz @ Rx @ Ry."""
    # Rz Rx Ry has R[2,1] = sin x, R[0,1] = -sin z cos x, R[1,1] = cos z cos x, R[2,0] = -cos x sin y,
    # R[2,2] = cos x cos y
    x = np.arcsin(np.clip(matrix[..., 2, 1], -1.0, 1.0))
    z = np.arctan2(-matrix[..., 0, 1], matrix[..., 1, 1])
    y = np.arctan2(-matrix[..., 2, 0], matrix[..., 2, 2])
    # gimbal lock (cos x = 0): only z + y or z - y is defined; put it all in z
    locked = np.abs(np.cos(x)) < 1e-7
    z = np.where(locked, np.arctan2(matrix[..., 1, 0], matrix[..., 0, 0]), z)
    y = np.where(locked, 0.0, y)
    return np.rad2deg(np.stack([z, x, y], axis=-1))


# ---------------------------------------------------------------- skeleton and inverse kinematics

def rest_offsets_like(joints: np.ndarray) -> np.ndarray:
    """The REST_OFFSETS skeleton with one person's clip (frame, joint, 3) mean bone lengths: (joint, 3)."""
    lengths = np.linalg.norm(joints[:, 1:] - joints[:, list(PARENTS[1:])], axis=-1).mean(axis=0)
    offsets = np.zeros((NUM_JOINTS, 3))
    offsets[1:] = _unit(REST_OFFSETS[1:])[0] * lengths[:, None]
    return offsets


def clip_offsets(joints: np.ndarray) -> np.ndarray:
    """Offsets (joint, 3) for one person's clip (frame, joint, 3): the clip's mean bone lengths, along REST_OFFSETS
    directions except below a joint with several children (pelvis, spine3).

    Those children's directions relative to each other are the clip's own body shape, which no rotation of the
    rest directions can match: they are measured instead, as their mean direction in the parent's frame fitted
    with the rest directions. So a clip with rigid bones round-trips through the BVH exactly, whatever its body.
    """
    joints = as_people(joints, "joints", max_people=1)[0]
    offsets = rest_offsets_like(joints)
    lengths = np.linalg.norm(offsets[1:], axis=-1)
    fitted = global_rotations(solve_local_rotations(joints, offsets))
    for joint, children in enumerate(CHILDREN):
        if len(children) > 1:
            observed = joints[:, list(children)] - joints[:, joint, None]  # (frame, child, 3), world frame
            in_joint_frame = np.einsum("fji,fcj->fci", fitted[:, joint], observed).mean(axis=0)
            unit, _ = _unit(in_joint_frame)
            offsets[list(children)] = unit * lengths[[child - 1 for child in children], None]
    return offsets


def solve_local_rotations(joints: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
    """Inverse kinematics: local rotations (frame, joint, 3, 3) that pose ``offsets`` like ``joints`` (frame, joint, 3).

    Joint 0 gets the global root orientation (as ``forward_kinematics`` expects), leaves the identity.
    ``offsets`` (joint, 3) default to ``clip_offsets(joints)``; only their directions matter here.
    """
    joints = as_people(joints, "joints", max_people=1)[0]
    offsets = clip_offsets(joints) if offsets is None else np.asarray(offsets, dtype=np.float64)
    num_frames = joints.shape[0]
    identity = np.broadcast_to(np.eye(3), (num_frames, 3, 3))
    local = np.broadcast_to(np.eye(3), (num_frames, NUM_JOINTS, 3, 3)).copy()
    solved = [None] * NUM_JOINTS  # global rotations, filled down the tree
    for joint in range(NUM_JOINTS):  # parents come before children in SMPL order
        parent_global = identity if joint == 0 else solved[PARENTS[joint]]
        children = CHILDREN[joint]
        if children:
            observed = joints[:, children] - joints[:, joint, None]  # (frame, child, 3), world frame
            in_parent_frame = np.einsum("fji,fcj->fci", parent_global, observed)  # parent_global^T @ v
            if len(children) == 1:
                local[:, joint] = continuous_twist(rotation_between(offsets[children[0]], in_parent_frame[:, 0]),
                                                   in_parent_frame[:, 0])
            else:
                rest_directions, _ = _unit(offsets[list(children)])
                local[:, joint] = best_rotation(rest_directions, _unit(in_parent_frame)[0])
        solved[joint] = parent_global @ local[:, joint]
    return local


# ---------------------------------------------------------------- writing

def _depth_first(joint: int = 0):
    yield joint
    for child in CHILDREN[joint]:
        yield from _depth_first(child)


def _hierarchy_lines(offsets: np.ndarray, names=JOINT_NAMES, scale: float = 1.0) -> list[str]:
    """The HIERARCHY section; ``offsets`` (m) and End Sites are written times ``scale`` (file units per metre)."""
    lines = ["HIERARCHY"]

    def emit(joint: int, depth: int):
        pad = "  " * depth
        keyword = "ROOT" if joint == 0 else "JOINT"
        lines.append(f"{pad}{keyword} {names[joint]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {' '.join(f'{v:.6f}' for v in scale * offsets[joint])}")
        rotation_channels = " ".join(f"{axis}rotation" for axis in ROTATION_ORDER)
        if joint == 0:
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition {rotation_channels}")
        else:
            lines.append(f"{pad}  CHANNELS 3 {rotation_channels}")
        for child in CHILDREN[joint]:
            emit(child, depth + 1)
        if not CHILDREN[joint]:
            lines.append(f"{pad}  End Site")
            lines.append(f"{pad}  {{")
            lines.append(f"{pad}    OFFSET {' '.join(f'{scale * v:.6f}' for v in END_SITE_OFFSETS[joint])}")
            lines.append(f"{pad}  }}")
        lines.append(f"{pad}}}")

    emit(0, 0)
    return lines


def check_rotations_reproduce_joints(joints, rotations, offsets, max_error: float) -> float:
    """Largest distance (m) between ``joints`` (frame, joint, 3) and FK of ``rotations`` (frame, joint, 3, 3).

    Raises ValueError when it exceeds ``max_error``: such rotations follow another skeleton convention and
    would write a BVH that does not show the clip.
    """
    posed = forward_kinematics(joints[:, 0], rotations, offsets)
    distance = np.linalg.norm(posed - joints, axis=-1)
    worst = float(distance.max())
    if worst > max_error:
        frame, joint = np.unravel_index(int(distance.argmax()), distance.shape)
        raise ValueError(
            f"rotations do not reproduce the joint positions: {worst:.3f} m off at frame {frame}, joint "
            f"{JOINT_NAMES[joint]} (allowed {max_error} m). They must be local rotations of the REST_OFFSETS "
            f"skeleton with joint 0 the global root orientation; pass rotations=None to solve them from positions"
        )
    return worst


def check_bvh_options(units: str, names: str) -> None:
    """Raise ValueError naming the choices when ``units`` or ``names`` is none of them."""
    if units not in UNITS:
        raise ValueError(f"BVH units must be one of {sorted(UNITS)}, got {units!r}")
    if names not in JOINT_NAME_PRESETS:
        raise ValueError(f"BVH joint names must be one of {sorted(JOINT_NAME_PRESETS)}, got {names!r}")


def continuous_euler_zxy(angles: np.ndarray) -> np.ndarray:
    """ZXY Euler angles (frame, ..., 3) in degrees -> the same rotations, each frame's angles chosen nearest to the
    previous frame's among the two triplets of every rotation, (z, x, y) and (z + 180, 180 - x, y + 180), and their
    whole turns: animation curves without the 180- and 360-degree flips of angles taken one frame at a time."""
    angles = np.asarray(angles, dtype=np.float64)
    flipped = angles * np.array([1.0, -1.0, 1.0]) + np.array([180.0, 180.0, 180.0])
    out = angles.copy()
    for frame in range(1, len(angles)):
        previous = out[frame - 1]
        candidates = np.stack([angles[frame], flipped[frame]])  # (2, ..., 3)
        candidates = candidates + 360.0 * np.round((previous - candidates) / 360.0)
        distance = np.abs(candidates - previous).sum(axis=-1)  # (2, ...)
        out[frame] = np.where((distance[1] < distance[0])[..., None], candidates[1], candidates[0])
    return out


def bvh_text(joints, rotations=None, fps: float = 30.0, max_rotation_error: float | None = 0.05,
             units: str = "m", names: str = "smpl") -> str:
    """The BVH file (as text) of one person's clip.

    joints: (frame, joint, 3) world positions (m); rotations: optional (frame, joint, 3, 3) local rotations
    with joint 0 the global root orientation, else solved by inverse kinematics. ``max_rotation_error`` (m)
    bounds how far given rotations may pose the skeleton from ``joints`` (None skips the check).
    ``units``: "m" or "cm" (``UNITS``) for offsets and positions; ``names``: a ``JOINT_NAME_PRESETS`` key.
    """
    check_bvh_options(units, names)
    scale = 1.0 / UNITS[units]
    joints = as_people(joints, "joints", max_people=1)[0]
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    offsets = clip_offsets(joints)
    if rotations is None:
        rotations = solve_local_rotations(joints, offsets)
    else:
        rotations = np.ascontiguousarray(rotations, dtype=np.float64)
        if rotations.shape != (*joints.shape[:2], 3, 3):
            raise ValueError(f"rotations must be {(*joints.shape[:2], 3, 3)} to match joints, got {rotations.shape}")
        if not np.isfinite(rotations).all():
            raise ValueError("rotations hold NaN or inf")
        if max_rotation_error is not None:
            check_rotations_reproduce_joints(joints, rotations, offsets, max_rotation_error)
    order = list(_depth_first())
    angles = continuous_euler_zxy(matrix_to_euler_zxy(rotations[:, order]))  # (frame, joint, 3)
    values = np.concatenate([scale * joints[:, 0], angles.reshape(len(joints), -1)], axis=1)
    lines = _hierarchy_lines(offsets, JOINT_NAME_PRESETS[names], scale)
    lines += ["MOTION", f"Frames: {len(joints)}", f"Frame Time: {1.0 / fps:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in values]
    return "\n".join(lines) + "\n"


def write_bvh(path, joints, rotations=None, fps: float = 30.0, max_rotation_error: float | None = 0.05,
              units: str = "m", names: str = "smpl") -> Path:
    """Write one person's clip (frame, joint, 3) as a BVH file, atomically. See ``bvh_text``."""
    return write_text_atomic(path, bvh_text(joints, rotations, fps, max_rotation_error, units, names))


# ---------------------------------------------------------------- reading

@dataclass
class BvhClip:
    """A parsed BVH file. End Sites are joints named '<parent>_end' with no channels."""

    names: list[str]
    parents: list[int]
    offsets: np.ndarray  # (joint, 3)
    channels: list[list[str]]  # per joint, e.g. ['Xposition', ..., 'Zrotation']
    frame_time: float
    motion: np.ndarray  # (frame, channel)


def parse_bvh(text: str, source: str = "BVH") -> BvhClip:
    """Parse BVH text with any channel order per joint. ``source`` names the file in error messages."""
    tokens = text.split()
    names, parents, offsets, channels = [], [], [], []
    stack: list[int] = []
    pending = None  # the joint whose '{' comes next
    i = 0

    def fail(message: str):
        raise ValueError(f"{source}: {message} (at token {i})")

    if not tokens or tokens[0] != "HIERARCHY":
        fail("does not start with HIERARCHY")
    i = 1
    while i < len(tokens) and tokens[i] != "MOTION":
        token = tokens[i]
        if token in ("ROOT", "JOINT"):
            if token == "ROOT" and names:
                fail("more than one ROOT is not supported")
            if token == "JOINT" and not stack:
                fail("JOINT outside the ROOT")
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            offsets.append(np.zeros(3))
            channels.append([])
            pending = len(names) - 1
            i += 2
        elif token == "End":
            if not stack:
                fail("End Site outside a joint")
            names.append(f"{names[stack[-1]]}_end")
            parents.append(stack[-1])
            offsets.append(np.zeros(3))
            channels.append([])
            pending = len(names) - 1
            i += 2
        elif token == "{":
            if pending is None:
                fail("'{' without a joint")
            stack.append(pending)
            pending = None
            i += 1
        elif token == "}":
            if not stack:
                fail("unbalanced '}'")
            stack.pop()
            i += 1
        elif token == "OFFSET":
            offsets[stack[-1]] = np.array([float(v) for v in tokens[i + 1:i + 4]])
            i += 4
        elif token == "CHANNELS":
            count = int(tokens[i + 1])
            channels[stack[-1]] = tokens[i + 2:i + 2 + count]
            i += 2 + count
        else:
            fail(f"unexpected token {token!r}")
    if stack or not names:
        fail("hierarchy is empty or unbalanced")
    header = tokens[i:i + 6]
    if len(header) < 6 or header[0:2] != ["MOTION", "Frames:"] or header[3:5] != ["Frame", "Time:"]:
        fail("MOTION section must start 'MOTION Frames: n Frame Time: dt'")
    try:
        num_frames, frame_time = int(tokens[i + 2]), float(tokens[i + 5])
    except ValueError:
        fail(f"frame count {tokens[i + 2]!r} or frame time {tokens[i + 5]!r} is not a number")
    num_channels = sum(len(c) for c in channels)
    try:
        values = np.array(tokens[i + 6:], dtype=np.float64)
    except ValueError as error:
        fail(f"the motion values hold something that is not a number ({error})")
    if values.size != num_frames * num_channels:
        fail(f"expected {num_frames} frames x {num_channels} channels = {num_frames * num_channels} values, "
             f"found {values.size}")
    return BvhClip(names, parents, np.array(offsets), channels, frame_time, values.reshape(num_frames, num_channels))


def read_bvh(path) -> BvhClip:
    """Parse a BVH file."""
    path = Path(path)
    return parse_bvh(path.read_text(encoding="utf-8"), source=str(path))


def bvh_positions(clip: BvhClip) -> np.ndarray:
    """Forward kinematics of a parsed BVH: world positions (frame, joint, 3) of every joint and End Site."""
    num_frames = clip.motion.shape[0]
    world_rotations, world_positions = [], []
    column = 0
    for joint, joint_channels in enumerate(clip.channels):
        translation = np.broadcast_to(clip.offsets[joint], (num_frames, 3)).copy()
        rotation = np.broadcast_to(np.eye(3), (num_frames, 3, 3)).copy()
        for channel in joint_channels:
            values = clip.motion[:, column]
            column += 1
            axis, kind = channel[0].upper(), channel[1:].lower()
            if axis not in _AXIS_INDEX or kind not in ("position", "rotation"):
                raise ValueError(f"unknown BVH channel {channel!r} of joint {clip.names[joint]}")
            if kind == "position":
                translation[:, _AXIS_INDEX[axis]] += values
            else:
                rotation = rotation @ _axis_rotation(axis, values)
        parent = clip.parents[joint]
        if parent < 0:
            world_positions.append(translation)
            world_rotations.append(rotation)
        else:
            world_positions.append(world_positions[parent] + np.einsum("fij,fj->fi", world_rotations[parent], translation))
            world_rotations.append(world_rotations[parent] @ rotation)
    return np.stack(world_positions, axis=1)


# a body whose legs measure more than this many file units is not in metres: its file is in centimetres
_LEG_LIMIT_METRES = 5.0


def load_bvh_joints(path, scale: float | None = None) -> np.ndarray:
    """SMPL-22 joint positions (frame, joint, 3) float32, in metres, of a BVH file, found by joint name (any of
    ``JOINT_NAME_PRESETS``).

    ``scale`` converts the file's units to metres (0.01 for a file in centimetres); None: metres, or centimetres
    when the skeleton is too large for metres.
    """
    clip = read_bvh(path)
    for preset in JOINT_NAME_PRESETS.values():
        if all(name in clip.names for name in preset):
            break
    else:
        missing = [name for name in JOINT_NAMES if name not in clip.names]
        raise ValueError(f"{path}: BVH lacks the SMPL-22 joints {missing} (and those of the presets "
                         f"{sorted(JOINT_NAME_PRESETS)[:-1]}); it has {clip.names}")
    index = [clip.names.index(name) for name in preset]
    if scale is None:
        leg = sum(np.linalg.norm(clip.offsets[index[joint]]) for joint in (1, 4, 7))  # hip, knee, ankle offsets
        scale = UNITS["cm"] if leg > _LEG_LIMIT_METRES else UNITS["m"]
    positions = bvh_positions(clip)[:, index]
    return (positions * scale).astype(np.float32)
