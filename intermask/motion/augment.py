"""Augmentations: the left/right mirror of motions and captions, and the exchange of the two people (and of the
words by which a caption names them).

Mirroring reflects across the x = 0 plane (the body's left is +X, so this turns a left step into a right one).
A reflected rotation is M R M with M = diag(-1, 1, 1): the entries of R in row 0 or column 0, but not both,
change sign. In the 6D layout [R00, R01, R10, R11, R20, R21] those are components 1, 2 and 4.
Every array function works on numpy arrays and torch tensors and keeps leading batch axes.
"""
from __future__ import annotations

import functools
import re

import numpy as np
import torch

from .features import validate_features
from .layout import INTERHUMAN, FeatureLayout
from .skeleton import MIRROR_PERMUTATION, NUM_JOINTS

# rotation index i belongs to joint i + 1
ROT6D_MIRROR_PERMUTATION = tuple(MIRROR_PERMUTATION[joint] - 1 for joint in range(1, NUM_JOINTS))
ROT6D_MIRROR_NEGATED = (1, 2, 4)


def _copy(array):
    return array.clone() if isinstance(array, torch.Tensor) else np.array(array, copy=True)


def _check_trailing(array, trailing: tuple, name: str):
    if len(array.shape) < len(trailing) or tuple(array.shape[-len(trailing):]) != trailing:
        raise ValueError(f"{name}: expected shape (..., {', '.join(map(str, trailing))}), got {tuple(array.shape)}")


def mirror_joints(joints):
    """Reflect positions (or offsets, or velocities) across x = 0 and exchange left and right joints.

    joints: (..., joint, 3) -> (..., joint, 3).
    """
    _check_trailing(joints, (NUM_JOINTS, 3), "joints")
    mirrored = joints[..., list(MIRROR_PERMUTATION), :]  # advanced indexing copies
    mirrored[..., 0] = -mirrored[..., 0]
    return mirrored


def mirror_rot6d(rot6d):
    """Reflect 6D local rotations of joints 1..21 and exchange left and right. (..., 21, 6) -> (..., 21, 6)."""
    _check_trailing(rot6d, (NUM_JOINTS - 1, 6), "rot6d")
    mirrored = rot6d[..., list(ROT6D_MIRROR_PERMUTATION), :]
    negated = list(ROT6D_MIRROR_NEGATED)
    mirrored[..., negated] = -mirrored[..., negated]
    return mirrored


def _contact_permutation(layout: FeatureLayout) -> list:
    """Contact channel order after mirroring: each foot joint takes its mirror joint's channel."""
    feet = list(layout.foot_joints)
    return [feet.index(MIRROR_PERMUTATION[joint]) for joint in feet]


def mirror_features(features, layout: FeatureLayout = INTERHUMAN):
    """Mirror per-person features. (..., frames, layout.dim) -> (..., frames, layout.dim).

    Positions and velocities are mirrored like joints, rotations like 6D rotations, and the left and right
    contact channels exchange. Equal to encoding the mirrored joints and rotations.
    """
    if layout.num_joints != NUM_JOINTS:
        raise ValueError(f"mirroring knows the {NUM_JOINTS}-joint SMPL skeleton, the layout has {layout.num_joints}")
    validate_features(features, "features", layout, check_finite=False)
    lead = tuple(features.shape[:-1])
    mirrored = _copy(features)
    for part in (layout.position, layout.velocity):
        joints = features[..., part].reshape(*lead, NUM_JOINTS, 3)
        mirrored[..., part] = mirror_joints(joints).reshape(*lead, NUM_JOINTS * 3)
    rot6d = features[..., layout.rotation].reshape(*lead, NUM_JOINTS - 1, 6)
    mirrored[..., layout.rotation] = mirror_rot6d(rot6d).reshape(*lead, (NUM_JOINTS - 1) * 6)
    mirrored[..., layout.contact] = features[..., layout.contact][..., _contact_permutation(layout)]
    return mirrored


# whole words only; the longer spellings of counterclockwise come first so that their "clockwise" is never
# taken on its own (the chained replacement that turns "counterclockwise" into "countercounterclockwise")
_MIRROR_PATTERN = re.compile(r"\b(?:(?:counter|anti)[\s-]?clockwise|clockwise|left(?:wards?)?|right(?:wards?)?)\b",
                             re.IGNORECASE)


def _mirrored_word(word: str) -> str:
    """The mirror image of one matched word, in lower case."""
    word = word.lower()
    if word == "clockwise":
        return "counterclockwise"
    if word.endswith("clockwise"):  # every spelling of counterclockwise
        return "clockwise"
    if word.startswith("left"):
        return "right" + word[len("left"):]
    return "left" + word[len("right"):]


def _match_case(word: str, template: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def mirror_text(text: str) -> str:
    """Mirror a caption: left <-> right and clockwise <-> counterclockwise as whole words, case kept.

    "Counter-clockwise", "counter clockwise" and "anticlockwise" become "clockwise", so only the spellings
    "clockwise" and "counterclockwise" survive a double mirror unchanged. Words that merely contain the patterns
    ("bright", "leftover") are untouched. "right" in the sense of "correct" is swapped too: a caption gives no
    reliable way to tell the senses apart.
    """
    if not isinstance(text, str):
        raise ValueError(f"text: expected a str, got {type(text).__name__}")
    return _MIRROR_PATTERN.sub(lambda match: _match_case(_mirrored_word(match.group(0)), match.group(0)), text)


def swap_people(pair):
    """Exchange the two people. pair: (person=2, ...) -> (person=2, ...), numpy or torch."""
    if len(pair.shape) < 1 or pair.shape[0] != 2:
        raise ValueError(f"pair: expected a leading person axis of size 2, got shape {tuple(pair.shape)}")
    return pair[[1, 0]]


def swap_person_names(text: str, names: tuple[str, str]) -> str:
    """Exchange the phrases that name the two people in a caption, as whole phrases, case-insensitively, keeping
    the case of each phrase's first letter: with names ("first person", "second person"), "The first person
    pushes the second person" -> "The second person pushes the first person". Other words stay as they are ("bows
    first"). Used when the people are exchanged, so that the caption still names the right person.
    """
    if not isinstance(text, str):
        raise ValueError(f"text: expected a str, got {type(text).__name__}")
    pattern, other = _name_swap(tuple(names))
    return pattern.sub(lambda match: _match_case(other[" ".join(match.group(0).lower().split())], match.group(0)),
                       text)


@functools.lru_cache(maxsize=16)
def _name_swap(names: tuple) -> tuple[re.Pattern, dict[str, str]]:
    """The pattern matching either name (words apart by any white space, the longer name first) and the map from
    each name, lower case, to the other; built once per pair of names, as every caption of every item asks."""
    if len(names) != 2 or not all(isinstance(name, str) and name.strip() for name in names):
        raise ValueError(f"names: expected two non-empty phrases, got {names!r}")
    lowered = [" ".join(name.lower().split()) for name in names]
    if lowered[0] == lowered[1]:
        raise ValueError(f"names: the two phrases must differ, got {names!r}")
    pattern = re.compile("|".join(r"\b" + r"\s+".join(map(re.escape, name.split())) + r"\b"
                                  for name in sorted(lowered, key=len, reverse=True)), re.IGNORECASE)
    return pattern, {lowered[0]: lowered[1], lowered[1]: lowered[0]}
