"""Reconstruction losses of the motion VQ-VAE, one small pure function each.

The reconstruction term compares features (batch, time, feature); the others compare joint positions (batch, time,
joint, 3) or rotations (..., 3, 3), which ``vq_total_loss`` reads from the features through a joint reader
(``motion.joints``). Like the published model the InterHuman terms work on *normalised* features (z-scores),
except the foot-contact loss, which needs metres to find contacts. SmoothL1 is used with beta 1 and a mean
reduction.

    total = rec + 0.02 commit + 1 expl + 100 vel + 5 bone + 0.01 geo + 500 fc

Terms of this project's own, off in the published weights, measure positions in metres instead of z-scores:
``pose`` (joints relative to the root), ``placement`` (the root itself), ``displacement`` (each joint's
frame-to-frame movement, which keeps decoded motion as smooth as the data), ``acceleration`` (each joint's second
frame difference, which the jitter metric reads) and ``facing`` (the direction across
each body's hips and shoulders, which a small tokenizer otherwise gets wrong by tens of degrees). Z-scored positions
weigh a joint's error by the spread of *where people stand*, so on data whose placements spread over metres a pose
error of 10 cm is a twentieth of a standard deviation and a small model never learns the pose (see
`docs/differences.md`, "Training on the synthetic data").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from einops import rearrange

from ..motion.joints import ChannelJoints, JointReader
from ..motion.layout import FeatureLayout
from ..motion.partner import from_partner_frame
from ..motion.rotation import geodesic_angle
from ..motion.skeleton import HIP_JOINTS, SHOULDER_JOINTS


def _check_pair(pred: torch.Tensor, target: torch.Tensor, layout: FeatureLayout) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    if pred.ndim != 3 or pred.shape[-1] != layout.dim:
        raise ValueError(f"features must be (batch, time, {layout.dim}), got {tuple(pred.shape)}")


def chain_bone_lengths(positions: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """Length of every chain bone: (..., j, 3) -> (..., bone)."""
    parents = [parent for parent, _ in layout.bones]
    children = [child for _, child in layout.bones]
    return (positions[..., children, :] - positions[..., parents, :]).norm(dim=-1)


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """SmoothL1 over every modelled feature (all but the foot contacts, which the model does not predict)."""
    _check_pair(pred, target, layout)
    modelled = slice(0, layout.contact.start)
    return F.smooth_l1_loss(pred[..., modelled], target[..., modelled])


def position_loss(pred_joints: torch.Tensor, target_joints: torch.Tensor) -> torch.Tensor:
    """The explicit position term: SmoothL1 over joint positions (batch, time, joint, 3)."""
    return F.smooth_l1_loss(pred_joints, target_joints)


def velocity_loss(pred_joints: torch.Tensor, target_joints: torch.Tensor) -> torch.Tensor:
    """SmoothL1 between the frame-to-frame differences of joint positions (batch, time, joint, 3)."""
    return F.smooth_l1_loss(pred_joints.diff(dim=1), target_joints.diff(dim=1))


def bone_length_loss(pred_joints: torch.Tensor, target_joints: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """SmoothL1 between the lengths of the layout's chain bones measured on joint positions (..., joint, 3)."""
    return F.smooth_l1_loss(chain_bone_lengths(pred_joints, layout), chain_bone_lengths(target_joints, layout))


def geodesic_loss(pred_rotations: torch.Tensor, target_rotations: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Mean angle (radians) between predicted and target rotations (..., 3, 3), acos clamped at 1 - eps."""
    return geodesic_angle(target_rotations, pred_rotations, eps=eps).mean()


def foot_contacts(positions: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """Ground contact of the foot joints between frames t and t+1, from positions in metres.

    (b, t, j, 3) -> (b, t - 1, foot) bool: squared displacement below ``foot_velocity_limit`` and the height
    at frame t below the joint's ``foot_height_limits``.
    """
    feet = positions[:, :, list(layout.foot_joints)]
    displacement = feet.diff(dim=1).pow(2).sum(-1)
    limits = torch.as_tensor(layout.foot_height_limits, dtype=feet.dtype, device=feet.device)
    return (displacement < layout.foot_velocity_limit) & (feet[:, :-1, :, 1] < limits)


def foot_contact_loss(pred_joints: torch.Tensor, target_joints: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """SmoothL1 pulling the predicted foot displacement to zero wherever the target foot is in contact.

    Joint positions (batch, time, joint, 3) in metres, where the contact thresholds apply. Zero when the target
    has no contact.
    """
    contact = foot_contacts(target_joints, layout)
    if not contact.any():
        return pred_joints.new_zeros(())
    pred_displacement = pred_joints[:, :, list(layout.foot_joints)].diff(dim=1)[contact]
    return F.smooth_l1_loss(pred_displacement, torch.zeros_like(pred_displacement))


METRIC_UNIT = 0.1  # metres: the metric terms' SmoothL1 turns from quadratic to linear at a 10 cm error


def root_relative(positions: torch.Tensor, root: int = 0) -> torch.Tensor:
    """Joint positions (..., joint, 3) moved so that the ``root`` joint sits at the origin: the pose alone."""
    return positions - positions[..., root:root + 1, :]


def pose_loss(pred_positions: torch.Tensor, target_positions: torch.Tensor, root: int = 0) -> torch.Tensor:
    """SmoothL1 between joint positions relative to the ``root`` joint, in units of ``METRIC_UNIT``.

    Positions (..., joint, 3) in metres; moving a whole body changes nothing.
    """
    return F.smooth_l1_loss(root_relative(pred_positions, root) / METRIC_UNIT,
                            root_relative(target_positions, root) / METRIC_UNIT)


def placement_loss(pred_positions: torch.Tensor, target_positions: torch.Tensor, root: int = 0) -> torch.Tensor:
    """SmoothL1 between the ``root`` joint's positions (..., joint, 3) in metres, in units of ``METRIC_UNIT``."""
    return F.smooth_l1_loss(pred_positions[..., root, :] / METRIC_UNIT, target_positions[..., root, :] / METRIC_UNIT)


DISPLACEMENT_UNIT = 0.01  # metres: a joint moves a few centimetres per frame


def displacement_loss(pred_positions: torch.Tensor, target_positions: torch.Tensor) -> torch.Tensor:
    """SmoothL1 between frame-to-frame joint displacements of positions (batch, time, joint, 3) in metres, in
    units of ``DISPLACEMENT_UNIT``."""
    return F.smooth_l1_loss(pred_positions.diff(dim=1) / DISPLACEMENT_UNIT,
                            target_positions.diff(dim=1) / DISPLACEMENT_UNIT)


ACCELERATION_UNIT = 0.001  # metres per frame per frame: about 0.9 m/s² at 30 fps (the synthetic data's mean: 1.9)


def acceleration_loss(pred_positions: torch.Tensor, target_positions: torch.Tensor) -> torch.Tensor:
    """SmoothL1 between the second frame differences of joint positions (batch, time, joint, 3) in metres, in units
    of ``ACCELERATION_UNIT``: what the jitter metric reads, so a decoder that shakes where the data does not pays."""
    return F.smooth_l1_loss(pred_positions.diff(n=2, dim=1) / ACCELERATION_UNIT,
                            target_positions.diff(n=2, dim=1) / ACCELERATION_UNIT)


FACING_UNIT = 0.1  # radians, about 6 degrees: the unit of the facing term


def across_body(positions: torch.Tensor) -> torch.Tensor:
    """The horizontal unit vector from the right to the left side of each body, hips and shoulders together (the
    body's facing turned a quarter): positions (..., joint, 3) in metres, Y up -> (..., 2) over x and z."""
    across = sum(positions[..., joints["left"], :] - positions[..., joints["right"], :]
                 for joints in (HIP_JOINTS, SHOULDER_JOINTS))[..., [0, 2]]
    return across / across.norm(dim=-1, keepdim=True).clamp_min(1e-6)


def facing_loss(pred_positions: torch.Tensor, target_positions: torch.Tensor) -> torch.Tensor:
    """SmoothL1 between the bodies' horizontal across directions (``across_body``), in units of ``FACING_UNIT``:
    for small angles the difference of two unit vectors is the angle between them, so a body turned 6 degrees from
    the target is one unit off, as a joint 10 cm off is in the pose term. Where a body faces is carried by a few joints
    only (the hips are 12 cm apart), so the pose term, which weighs every joint alike, leaves it loose."""
    return F.smooth_l1_loss(across_body(pred_positions) / FACING_UNIT, across_body(target_positions) / FACING_UNIT)


def capsule_overlaps(positions: torch.Tensor, capsules, points: int = 5) -> torch.Tensor:
    """How far each capsule of the first person overlaps each capsule of the second (m; <= 0: apart).

    positions (..., person=2, joint, 3) in metres; ``capsules`` maps (joint, joint) bones to radii (m). Each capsule's
    axis is sampled at ``points`` evenly spaced points and the distance of two axes is that of their nearest points:
    never less than the exact distance, and more by up to a few centimetres only where two axes cross (a loss needs
    the direction out of the overlap, which this gives, not the exact depth of the metrics' ``segment_distance``).
    Returns (..., capsule, capsule).
    """
    bones = torch.tensor(list(capsules), dtype=torch.long, device=positions.device)
    radii = torch.tensor(list(capsules.values()), dtype=positions.dtype, device=positions.device)
    fractions = torch.linspace(0, 1, points, dtype=positions.dtype, device=positions.device)[:, None]
    starts, ends = positions[..., bones[:, 0], :], positions[..., bones[:, 1], :]  # (..., 2, capsule, 3)
    axes = starts[..., None, :] + fractions * (ends - starts)[..., None, :]  # (..., 2, capsule, point, 3)
    first, second = axes[..., 0, :, None, :, None, :], axes[..., 1, None, :, None, :, :]
    distance = (first - second).norm(dim=-1).flatten(-2).amin(-1)  # (..., capsule, capsule)
    return radii[:, None] + radii[None, :] - distance


def separation_loss(pred_positions: torch.Tensor, target_positions: torch.Tensor, capsules) -> torch.Tensor:
    """How much deeper the predicted bodies of two people overlap than the target's, in units of ``METRIC_UNIT``.

    Positions (batch, person=2, time, joint, 3) in metres, the two people in one frame; ``capsules`` as in
    ``capsule_overlaps``. Per frame and capsule pair, the predicted overlap beyond the target's own (zero where the
    target's capsules are apart): the sum over capsule pairs, the mean over frames. Zero while the predicted bodies
    keep the target's distance; pushing them apart never lowers it below zero.
    """
    if pred_positions.shape != target_positions.shape or pred_positions.ndim != 5 or pred_positions.shape[1] != 2:
        raise ValueError(f"separation_loss: positions must be (batch, 2, time, joint, 3), got "
                         f"{tuple(pred_positions.shape)} and {tuple(target_positions.shape)}")
    to_frames = "b n t j c -> b t n j c"
    pred = capsule_overlaps(rearrange(pred_positions, to_frames), capsules)
    target = capsule_overlaps(rearrange(target_positions, to_frames), capsules)
    excess = F.relu(pred - target.clamp(min=0)) / METRIC_UNIT
    return excess.sum((-1, -2)).mean()


def denormalizer(mean: torch.Tensor, std: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The inverse z-score ``x * std + mean`` as a function."""
    return lambda features: features * std.to(features) + mean.to(features)


@dataclass(frozen=True)
class VQLossWeights:
    """Weights of the VQ-VAE loss terms (the published values)."""

    reconstruction: float = 1.0
    commit: float = 0.02
    position: float = 1.0
    velocity: float = 100.0
    bone: float = 5.0
    geodesic: float = 0.01
    foot_contact: float = 500.0
    pose: float = 0.0  # this project's metric terms (see the module's docstring); 0 in the published loss
    placement: float = 0.0
    displacement: float = 0.0
    facing: float = 0.0  # where each body faces, from its hips and shoulders: this project's, 0 in the published loss
    acceleration: float = 0.0  # each joint's second frame difference, in metres: this project's, 0 in the published
    separation: float = 0.0  # two people's bodies overlapping more than in the target: needs pairs of windows


def vq_total_loss(pred: torch.Tensor, target: torch.Tensor, commit_loss: torch.Tensor, mean: torch.Tensor,
                  std: torch.Tensor, layout: FeatureLayout, weights: VQLossWeights = VQLossWeights(),
                  geometry_in_metres: bool = False, joints: JointReader | None = None,
                  capsules=None, partner_frame: bool = False) -> tuple[torch.Tensor, dict]:
    """Weighted sum of all VQ-VAE losses on normalised ``pred``/``target`` (b, t, feature).

    ``joints`` reads joint positions and rotations from features (default: the layout's channels, so on z-scored
    features the position, velocity and bone terms see z-scores, as published; a layout without position channels
    brings a reader that computes them, e.g. by forward kinematics). The foot-contact term reads them from
    de-normalised features, in metres.
    ``geometry_in_metres`` measures bone lengths and rotations on de-normalised features instead of z-scores
    (z-scored positions are not a rigid skeleton); off by default to match the published weights.
    The metric ``pose``, ``placement`` and ``displacement`` terms are computed (and returned) only when one of
    them has a weight, the ``facing`` and ``acceleration`` terms only with their own.
    The ``separation`` term reads the batch as pairs: rows 2i and 2i + 1 are the two people of one window, in one
    frame (with ``partner_frame``, the second relative to the first, ``motion.partner``: both are put back in the
    world frame first, the prediction beside its own first person); ``capsules`` maps the bones that collide to
    their radii (``separation_loss``). Computed only with a weight.
    Returns ``(total, terms)``; ``terms`` maps each loss name to its detached, unweighted value.
    The losses are computed in float32 even inside a bf16 autocast region: in bf16 the geodesic clamp 1 - 1e-7
    rounds to 1, where acos has an infinite gradient (NaN from the first step), and metre positions of a few
    metres round to centimetres, coarser than the foot-contact threshold.
    """
    _check_pair(pred, target, layout)
    joints = joints if joints is not None else ChannelJoints(layout)
    with torch.autocast(pred.device.type, enabled=False):
        pred, target, commit_loss = pred.float(), target.float(), commit_loss.float()
        denormalize = denormalizer(mean.float(), std.float())
        raw_pred, raw_target = denormalize(pred), denormalize(target)
        pred_joints, target_joints = joints.positions(pred), joints.positions(target)
        pred_metres, target_metres = ((joints.positions(raw_pred), joints.positions(raw_target)) if layout.normalized
                                      else (pred_joints, target_joints))
        geometric_pred, geometric_target = (raw_pred, raw_target) if geometry_in_metres else (pred, target)
        bone_pred, bone_target = (pred_metres, target_metres) if geometry_in_metres else (pred_joints, target_joints)
        terms = {
            "reconstruction": reconstruction_loss(pred, target, layout),
            "commit": commit_loss,
            "position": position_loss(pred_joints, target_joints),
            "velocity": velocity_loss(pred_joints, target_joints),
            "bone": bone_length_loss(bone_pred, bone_target, layout),
            "geodesic": geodesic_loss(joints.rotations(geometric_pred), joints.rotations(geometric_target)),
            "foot_contact": foot_contact_loss(pred_metres, target_metres, layout),
        }
        if weights.pose or weights.placement or weights.displacement:  # the published loss has none of them
            terms["pose"] = pose_loss(pred_metres, target_metres)
            terms["placement"] = placement_loss(pred_metres, target_metres)
            terms["displacement"] = displacement_loss(pred_metres, target_metres)
        if weights.facing:
            terms["facing"] = facing_loss(pred_metres, target_metres)
        if weights.acceleration:
            terms["acceleration"] = acceleration_loss(pred_metres, target_metres)
        if weights.separation:
            if capsules is None or pred.shape[0] % 2:
                raise ValueError("the separation term needs capsules and a batch of pairs (an even number of rows: "
                                 f"the two people of each window), got {pred.shape[0]} rows and capsules={capsules}")
            pairs = "(b n) t j c -> b n t j c"
            pair_pred, pair_target = rearrange(pred_metres, pairs, n=2), rearrange(target_metres, pairs, n=2)
            if partner_frame:
                world = [from_partner_frame(rearrange(raw, "(b n) t c -> b n t c", n=2), layout)
                         for raw in (raw_pred, raw_target)]
                pair_pred, pair_target = (joints.positions(features) for features in world)
            terms["separation"] = separation_loss(pair_pred, pair_target, capsules)
        total = sum(getattr(weights, name) * value for name, value in terms.items())
    return total, {name: value.detach() for name, value in terms.items()}
