"""The SMPL 22-joint body skeleton: names, parents, chains, rest offsets, and named joint groups; the two sides of
a body and the two people of an interaction, as captions name them.

Coordinates are Y-up, metres; in the rest pose a body faces +Z and its left side is +X.
"""
from __future__ import annotations

import numpy as np

JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)
NUM_JOINTS = len(JOINT_NAMES)
PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)

KINEMATIC_CHAINS = (
    (0, 2, 5, 8, 11),  # right leg
    (0, 1, 4, 7, 10),  # left leg
    (0, 3, 6, 9, 12, 15),  # spine
    (9, 14, 17, 19, 21),  # right arm
    (9, 13, 16, 18, 20),  # left arm
)
# every (parent, child) bone of the chains: 21 bones
BONES = tuple((chain[i], chain[i + 1]) for chain in KINEMATIC_CHAINS for i in range(len(chain) - 1))

LEFT_JOINTS = (1, 4, 7, 10, 13, 16, 18, 20)
RIGHT_JOINTS = (2, 5, 8, 11, 14, 17, 19, 21)
# index permutation that exchanges left and right joints
MIRROR_PERMUTATION = tuple(
    RIGHT_JOINTS[LEFT_JOINTS.index(j)] if j in LEFT_JOINTS
    else LEFT_JOINTS[RIGHT_JOINTS.index(j)] if j in RIGHT_JOINTS
    else j
    for j in range(NUM_JOINTS)
)

# the two sides of a body; its left is +X in its own frame
SIDES = ("left", "right")
OTHER_SIDE = {"left": "right", "right": "left"}
SIDE_SIGN = {"left": 1.0, "right": -1.0}
# the two people of an interaction in their order (person 1, person 2)
ROLES = ("first", "second")

# joints of each side: (hip, knee, ankle, foot) and (collar, shoulder, elbow, wrist)
LEG_JOINTS = {"left": (1, 4, 7, 10), "right": (2, 5, 8, 11)}
ARM_JOINTS = {"left": (13, 16, 18, 20), "right": (14, 17, 19, 21)}
HIP_JOINTS = {side: joints[0] for side, joints in LEG_JOINTS.items()}
ANKLE_JOINTS = {side: joints[2] for side, joints in LEG_JOINTS.items()}
SHOULDER_JOINTS = {side: joints[1] for side, joints in ARM_JOINTS.items()}
WRIST_JOINTS = {side: joints[3] for side, joints in ARM_JOINTS.items()}
SPINE_JOINTS = (3, 6, 9)  # spine1, spine2, spine3

# (right hip, left hip, right shoulder, left shoulder); facing uses the hips only
FACE_JOINTS = (2, 1, 17, 16)
# contact joints in the order of the four foot-contact channels
FOOT_JOINTS = (7, 10, 8, 11)  # left ankle, left foot, right ankle, right foot
# contact height limits (m) for those joints: ankles 0.12, feet 0.05
FOOT_HEIGHT_LIMITS = (0.12, 0.05, 0.12, 0.05)
# squared per-frame displacement (m^2) below which a low foot joint is in contact
FOOT_VELOCITY_LIMIT = 0.001
HEAD_JOINT = 15
NECK_JOINT = 12
CHEST_JOINT = 9  # spine3, where the arms' collars start
PELVIS_JOINT = 0
TORSO_JOINTS = (0, 3, 6, 9, 12)

# Rest-pose offsets of each joint from its parent (m), close to the SMPL neutral body.
REST_OFFSETS = np.array(
    [
        [0.000, 0.000, 0.000],  # pelvis (root; its position comes from the trajectory)
        [0.060, -0.090, 0.000],  # left_hip
        [-0.060, -0.090, 0.000],  # right_hip
        [0.000, 0.110, -0.020],  # spine1
        [0.040, -0.380, 0.000],  # left_knee
        [-0.040, -0.380, 0.000],  # right_knee
        [0.000, 0.140, 0.010],  # spine2
        [-0.010, -0.400, -0.040],  # left_ankle
        [0.010, -0.400, -0.040],  # right_ankle
        [0.000, 0.060, 0.000],  # spine3
        [0.030, -0.060, 0.120],  # left_foot
        [-0.030, -0.060, 0.120],  # right_foot
        [0.000, 0.210, -0.030],  # neck
        [0.080, 0.120, -0.010],  # left_collar
        [-0.080, 0.120, -0.010],  # right_collar
        [0.000, 0.090, 0.050],  # head
        [0.120, 0.040, -0.020],  # left_shoulder
        [-0.120, 0.040, -0.020],  # right_shoulder
        [0.260, -0.010, -0.020],  # left_elbow
        [-0.260, -0.010, -0.020],  # right_elbow
        [0.250, 0.010, 0.000],  # left_wrist
        [-0.250, 0.010, 0.000],  # right_wrist
    ],
    dtype=np.float64,
)


def rest_pose(offsets: np.ndarray = REST_OFFSETS) -> np.ndarray:
    """Joint positions (joint, 3) of the rest pose with the pelvis at the origin."""
    positions = np.zeros((NUM_JOINTS, 3), dtype=np.float64)
    for joint in range(1, NUM_JOINTS):
        positions[joint] = positions[PARENTS[joint]] + offsets[joint]
    return positions


def bone_lengths(joints):
    """Length of every bone in BONES. joints: (..., joint, 3) -> (..., bone). Works for numpy and torch."""
    parents = [p for p, _ in BONES]
    children = [c for _, c in BONES]
    diff = joints[..., children, :] - joints[..., parents, :]
    return (diff ** 2).sum(-1) ** 0.5


def offsets_from_joints(joints: np.ndarray) -> np.ndarray:
    """Per-joint offsets from the parent in one frame of joint positions (joint, 3) -> (joint, 3)."""
    offsets = np.zeros_like(joints)
    for joint in range(1, NUM_JOINTS):
        offsets[joint] = joints[joint] - joints[PARENTS[joint]]
    return offsets
