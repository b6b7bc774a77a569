"""Motion representation: the SMPL-22 skeleton, rotations, forward kinematics, the 262-dim per-person feature,
the canonical frame of a pair, normalisation and the mirror / person-swap augmentations."""
from .augment import mirror_features, mirror_joints, mirror_rot6d, mirror_text, swap_people, swap_person_names
from .canonical import (
    CanonicalFrame,
    canonical_frame,
    canonicalize_pair,
    canonicalize_person,
    facing_angle,
    pair_to_features,
    person_to_features,
    yup_to_zup,
    zup_to_yup,
)
from .features import (
    features_to_contacts,
    features_to_joints,
    features_to_rot6d,
    features_to_rotations,
    features_to_velocities,
    foot_contacts,
    joints_to_features,
    validate_features,
    validate_joints,
    validate_rot6d,
)
from .kinematics import forward_kinematics, global_rotations
from .layout import INTERHUMAN, FeatureLayout
from .normalize import MEAN_FILE, STD_FILE, Normalizer
from .rotation import (
    axis_angle_to_matrix,
    geodesic_angle,
    matrix_to_axis_angle,
    matrix_to_rot6d,
    rot6d_to_matrix,
    yaw_matrix,
)
from .skeleton import (
    BONES,
    FOOT_JOINTS,
    JOINT_NAMES,
    KINEMATIC_CHAINS,
    MIRROR_PERMUTATION,
    NUM_JOINTS,
    PARENTS,
    REST_OFFSETS,
    bone_lengths,
    rest_pose,
)

__all__ = [
    "BONES", "FOOT_JOINTS", "INTERHUMAN", "JOINT_NAMES", "KINEMATIC_CHAINS", "MEAN_FILE", "MIRROR_PERMUTATION",
    "NUM_JOINTS", "PARENTS", "REST_OFFSETS", "STD_FILE",
    "CanonicalFrame", "FeatureLayout", "Normalizer",
    "axis_angle_to_matrix", "bone_lengths", "canonical_frame", "canonicalize_pair", "canonicalize_person",
    "facing_angle", "features_to_contacts", "features_to_joints", "features_to_rot6d", "features_to_rotations",
    "features_to_velocities", "foot_contacts", "forward_kinematics", "geodesic_angle", "global_rotations",
    "joints_to_features", "matrix_to_axis_angle", "matrix_to_rot6d", "mirror_features", "mirror_joints",
    "mirror_rot6d", "mirror_text", "pair_to_features", "person_to_features", "rest_pose", "rot6d_to_matrix",
    "swap_people", "swap_person_names", "validate_features", "validate_joints", "validate_rot6d", "yaw_matrix",
    "yup_to_zup", "zup_to_yup",
]
