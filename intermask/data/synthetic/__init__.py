"""The embedded default dataset: procedural two-person interactions with captions, in the InterHuman layout.

Sixteen interaction families (handshake, hug, high five, bow, wave, push, strike, chase, circling, walking side
by side, passing by, dancing, sneaking up, approaching someone crouching, repeated gestures, pointing) drive two
SMPL-22 bodies of random scale through forward kinematics, with planted feet and IK-posed limbs. Each clip's
parameters (who starts, which hand, which direction, how many times, how fast) shape the motion and are stated
in its three captions.

    from intermask.data.synthetic import generate_dataset
    generate_dataset("data/synthetic", num_clips=4000, seed=0)

or ``python -m intermask.data.synthetic out=data/synthetic num_clips=4000 seed=0``.
"""
from .clips import FAMILY_NAMES, SyntheticClip, family_for_index, generate_clip, min_torso_distance
from .writer import GENERATOR_VERSION, clip_id, generate_dataset, person_array, split_assignment, write_clip

__all__ = [
    "FAMILY_NAMES", "GENERATOR_VERSION", "SyntheticClip", "clip_id", "family_for_index", "generate_clip",
    "generate_dataset", "min_torso_distance", "person_array", "split_assignment", "write_clip",
]
