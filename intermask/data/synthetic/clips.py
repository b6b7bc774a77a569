"""One synthetic clip: plan a scene, animate both people, check the physics, write the captions.

Each clip draws from its own random stream, seeded by (dataset seed, clip index, attempt), so clips can be made
in any order or in parallel and a seed always gives the same clips. The family of clip ``i`` is
``FAMILY_NAMES[i % len(FAMILY_NAMES)]``, which keeps the families balanced. A planned scene that breaks a
physical rule (bodies too close, too long, too fast) is drawn again with the next attempt.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...motion.skeleton import FOOT_JOINTS, TORSO_JOINTS
from .body import FPS, animate_together
from .families import FAMILIES, MAX_FRAMES, MIN_FRAMES, plan_scene
from .text import describe

FAMILY_NAMES = tuple(FAMILIES)
MAX_ATTEMPTS = 20
# physical limits every clip keeps
MIN_TORSO_DISTANCE = 0.22  # m between any torso joint of one person and any of the other
MIN_FOOT_HEIGHT = -0.02  # m
MAX_ROOT_SPEED = 8.0  # m/s


@dataclass(frozen=True)
class SyntheticClip:
    """A generated two-person clip.

    joints: (person=2, frame, joint=22, 3) Y-up metres; rotations: (2, frame, 22, 3, 3) local rotations with
    joint 0 the global root orientation; root: (2, frame, 3); stance: (2, frame, foot=2) True while the
    (left, right) foot is planted; scales: (2,) body scales; params: what the captions state; events: times (s)
    of the key moments; captions: three different descriptions.
    """

    family: str
    params: dict
    captions: tuple
    joints: np.ndarray
    rotations: np.ndarray
    root: np.ndarray
    stance: np.ndarray
    scales: np.ndarray
    events: dict

    @property
    def num_frames(self) -> int:
        return self.joints.shape[1]


def family_for_index(index: int) -> str:
    return FAMILY_NAMES[index % len(FAMILY_NAMES)]


def min_torso_distance(joints: np.ndarray) -> float:
    """Smallest distance between a torso joint of person 1 and one of person 2. joints: (2, frame, 22, 3)."""
    torso = joints[:, :, list(TORSO_JOINTS)]
    gaps = torso[0][:, :, None] - torso[1][:, None, :]
    return float(np.sqrt((gaps ** 2).sum(-1)).min())


def physics_problem(joints: np.ndarray, root: np.ndarray) -> str | None:
    """What makes a clip physically unacceptable, or None. joints: (2, frame, 22, 3); root: (2, frame, 3)."""
    frames = joints.shape[1]
    if not MIN_FRAMES <= frames <= MAX_FRAMES:
        return f"{frames} frames, outside [{MIN_FRAMES}, {MAX_FRAMES}]"
    if not np.isfinite(joints).all():
        return "non-finite joint positions"
    closest = min_torso_distance(joints)
    if closest < MIN_TORSO_DISTANCE:
        return f"torsos {closest:.3f} m apart"
    lowest = float(joints[:, :, list(FOOT_JOINTS), 1].min())
    if lowest < MIN_FOOT_HEIGHT:
        return f"a foot {lowest:.3f} m below the floor"
    speed = float(np.linalg.norm(np.diff(root, axis=1), axis=-1).max() * FPS)
    if speed > MAX_ROOT_SPEED:
        return f"root speed {speed:.2f} m/s"
    return None


def generate_clip(index: int, seed: int = 0, family: str | None = None) -> SyntheticClip:
    """Clip ``index`` of the dataset with ``seed`` (the family follows from the index unless given)."""
    if index < 0 or seed < 0:
        raise ValueError(f"generate_clip: index and seed must be >= 0, got index={index}, seed={seed}")
    family = family_for_index(index) if family is None else family
    problems = []
    for attempt in range(MAX_ATTEMPTS):
        rng = np.random.default_rng([seed, index, attempt])
        scene = plan_scene(family, rng)
        if not MIN_FRAMES <= scene.num_frames <= MAX_FRAMES:
            problems.append(f"{scene.num_frames} frames")
            continue
        bodies = animate_together(scene.people)
        joints = np.stack([body.joints for body in bodies])
        root = np.stack([body.root for body in bodies])
        problem = physics_problem(joints, root)
        if problem is not None:
            problems.append(problem)
            continue
        captions = describe(family, scene.params, np.random.default_rng([seed, index, attempt, 1]))
        return SyntheticClip(family=family, params=dict(scene.params), captions=captions, joints=joints,
                             rotations=np.stack([body.rotations for body in bodies]), root=root,
                             stance=np.stack([body.stance for body in bodies]),
                             scales=np.array([body.scale for body in bodies]), events=dict(scene.events))
    raise RuntimeError(f"synthetic clip {index} ({family}, seed {seed}) broke a physical limit in all "
                       f"{MAX_ATTEMPTS} attempts: {problems}")
