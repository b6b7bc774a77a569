import math
from pathlib import Path

import numpy as np
import pytest
import torch

from intermask.models.losses import (
    VQLossWeights, bone_length_loss, foot_contact_loss, foot_contacts, geodesic_loss, position_loss,
    reconstruction_loss, velocity_loss, vq_total_loss,
)
from intermask.motion import skeleton
from intermask.motion.joints import joint_positions, joint_rotations
from intermask.motion.layout import INTERHUMAN as LAYOUT
from intermask.motion.rotation import axis_angle_to_matrix, matrix_to_rot6d, yaw_matrix

# the clamp at 1 - 1e-7 (1 - 1.2e-7 in float32) and round-off keep the geodesic of identical rotations
# a few 1e-4 above zero
GEODESIC_FLOOR = 1e-3


def random_features(batch=2, time=8, seed=0):
    return torch.randn(batch, time, LAYOUT.dim, generator=torch.Generator().manual_seed(seed))


def features_with_positions(positions: torch.Tensor) -> torch.Tensor:
    """(b, t, 22, 3) -> features with those positions, identity rotations, everything else zero."""
    batch, time = positions.shape[:2]
    features = torch.zeros(batch, time, LAYOUT.dim)
    features[..., LAYOUT.position] = positions.reshape(batch, time, -1)
    features[..., LAYOUT.rotation] = matrix_to_rot6d(torch.eye(3)).repeat(21)
    return features


def positions(features):
    return joint_positions(features, LAYOUT)


def test_all_losses_are_zero_for_identical_inputs():
    features = random_features()
    assert reconstruction_loss(features, features, LAYOUT).item() == 0.0
    joints = positions(features)
    for loss in (position_loss, velocity_loss):
        assert loss(joints, joints).item() == 0.0, loss.__name__
    assert bone_length_loss(joints, joints, LAYOUT).item() == 0.0


def test_reconstruction_loss_is_smooth_l1_of_a_constant_offset_and_ignores_foot_contacts():
    target = random_features()
    pred = target + 0.5
    assert reconstruction_loss(pred, target, LAYOUT).item() == pytest.approx(0.5 * 0.5 ** 2)
    pred = target + 2.0
    assert reconstruction_loss(pred, target, LAYOUT).item() == pytest.approx(2.0 - 0.5)
    contacts_only = target.clone()
    contacts_only[..., LAYOUT.contact] += 3.0
    assert reconstruction_loss(contacts_only, target, LAYOUT).item() == 0.0


def test_the_position_terms_see_only_the_position_channels():
    target = random_features()
    pred = target.clone()
    pred[..., LAYOUT.position] += 0.5
    _, terms = vq_total_loss(pred, target, torch.tensor(0.0), torch.zeros(LAYOUT.dim), torch.ones(LAYOUT.dim),
                             LAYOUT)
    assert terms["position"].item() == pytest.approx(0.125)
    pred = target.clone()
    pred[..., LAYOUT.velocity] += 0.5
    _, terms = vq_total_loss(pred, target, torch.tensor(0.0), torch.zeros(LAYOUT.dim), torch.ones(LAYOUT.dim),
                             LAYOUT)
    assert terms["position"].item() == 0.0 and terms["velocity"].item() == 0.0


def test_velocity_loss_ignores_a_constant_offset_and_measures_drift_per_frame():
    target = positions(random_features())
    assert velocity_loss(target + 1.0, target).item() == pytest.approx(0.0, abs=1e-6)
    frames = torch.arange(target.shape[1], dtype=torch.float32)[None, :, None, None]
    assert velocity_loss(target + 0.1 * frames, target).item() == pytest.approx(0.5 * 0.1 ** 2, rel=1e-4)


def test_bone_length_loss_ignores_translation_and_measures_a_doubled_skeleton():
    rest = torch.as_tensor(skeleton.rest_pose(), dtype=torch.float32)
    target = rest.expand(1, 4, 22, 3)
    shifted = (rest + torch.tensor([1.0, 2.0, -3.0])).expand(1, 4, 22, 3)
    assert bone_length_loss(shifted, target, LAYOUT).item() == pytest.approx(0.0, abs=1e-6)
    doubled = (2 * rest).expand(1, 4, 22, 3)
    # each bone is as long as its child's rest offset, so doubling adds exactly that length (all < 1 m)
    lengths = np.linalg.norm(skeleton.REST_OFFSETS[[child for _, child in skeleton.BONES]], axis=-1)
    expected = np.mean(0.5 * lengths ** 2)
    assert bone_length_loss(doubled, target, LAYOUT).item() == pytest.approx(expected, rel=1e-5)


def test_geodesic_loss_of_a_90_degree_rotation_is_half_pi():
    target = features_with_positions(torch.zeros(2, 3, 22, 3))
    pred = target.clone()
    quarter_turn = axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2]))
    pred[..., LAYOUT.rotation] = matrix_to_rot6d(quarter_turn).repeat(21)
    rotations = lambda features: joint_rotations(features, LAYOUT)  # noqa: E731
    assert geodesic_loss(rotations(pred), rotations(target)).item() == pytest.approx(math.pi / 2, rel=1e-5)
    assert 0.0 < geodesic_loss(rotations(target), rotations(target)).item() < GEODESIC_FLOOR


def standing_feet_clip(frames=6, foot_height=0.0):
    """Rest pose with the feet on (or above) the floor, not moving."""
    rest = torch.as_tensor(skeleton.rest_pose(), dtype=torch.float32)
    rest[:, 1] -= rest[list(skeleton.FOOT_JOINTS), 1].min() - foot_height
    return rest.expand(1, frames, 22, 3).clone()


def test_foot_contacts_need_a_low_and_still_foot():
    assert foot_contacts(standing_feet_clip(), LAYOUT).all()
    assert not foot_contacts(standing_feet_clip(foot_height=1.0), LAYOUT).any()
    sliding = standing_feet_clip()
    sliding[..., 0] += 0.1 * torch.arange(6.0)[None, :, None]  # 0.01 m^2 per frame > 0.001
    assert not foot_contacts(sliding, LAYOUT).any()


def test_foot_contact_loss_pulls_predicted_foot_motion_to_zero_at_contacts_in_metres():
    target = standing_feet_clip()
    pred = target.clone()
    pred[..., 0] += 0.1 * torch.arange(6.0)[None, :, None]  # the prediction slides 0.1 m per frame
    # each contact contributes a displacement (0.1, 0, 0): smooth-L1 mean over xyz = 0.5 * 0.01 / 3
    assert foot_contact_loss(pred, target, LAYOUT).item() == pytest.approx(0.5 * 0.1 ** 2 / 3, rel=1e-3)


def test_the_total_finds_foot_contacts_on_denormalised_features():
    mean = torch.randn(LAYOUT.dim) * 0.1
    std = torch.rand(LAYOUT.dim) + 0.5
    normalize = lambda features: (features - mean) / std  # noqa: E731
    target_world = features_with_positions(standing_feet_clip())
    pred_world = features_with_positions(standing_feet_clip() + torch.tensor([0.1, 0.0, 0.0])
                                         * torch.arange(6.0)[None, :, None, None])
    _, terms = vq_total_loss(normalize(pred_world), normalize(target_world), torch.tensor(0.0), mean, std, LAYOUT)
    assert terms["foot_contact"].item() == pytest.approx(0.5 * 0.1 ** 2 / 3, rel=1e-3)


def test_foot_contact_loss_is_zero_without_contacts():
    target = standing_feet_clip(foot_height=1.0)
    pred = positions(random_features(batch=1, time=6))
    assert foot_contact_loss(pred, target, LAYOUT).item() == 0.0


def test_losses_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="differ"):
        reconstruction_loss(random_features(time=8), random_features(time=6), LAYOUT)
    with pytest.raises(ValueError, match=str(LAYOUT.dim)):
        vq_total_loss(torch.zeros(1, 4, 10), torch.zeros(1, 4, 10), torch.tensor(0.0), torch.zeros(10),
                      torch.ones(10), LAYOUT)


def test_default_weights_are_the_published_ones():
    weights = VQLossWeights()
    assert (weights.reconstruction, weights.commit, weights.position, weights.velocity, weights.bone,
            weights.geodesic, weights.foot_contact) == (1.0, 0.02, 1.0, 100.0, 5.0, 0.01, 500.0)


def test_total_loss_is_the_weighted_sum_of_its_named_terms():
    target = random_features(seed=1)
    pred = (target + 0.3 * random_features(seed=2)).requires_grad_()
    mean, std = torch.zeros(LAYOUT.dim), torch.full((LAYOUT.dim,), 0.01)
    total, terms = vq_total_loss(pred, target, torch.tensor(0.7), mean, std, LAYOUT)
    assert set(terms) == {"reconstruction", "commit", "position", "velocity", "bone", "geodesic",
                          "foot_contact"}
    weights = VQLossWeights()
    expected = sum(getattr(weights, name) * value for name, value in terms.items())
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    assert terms["commit"].item() == pytest.approx(0.7)
    total.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0


def test_total_loss_of_a_perfect_reconstruction_is_only_commit_and_the_geodesic_floor():
    target = random_features()
    mean, std = torch.zeros(LAYOUT.dim), torch.ones(LAYOUT.dim)
    total, _ = vq_total_loss(target, target, torch.tensor(1.0), mean, std, LAYOUT)
    assert 0.02 < total.item() < 0.02 + 0.01 * GEODESIC_FLOOR


def test_geometry_in_metres_measures_bones_on_denormalised_positions():
    rest = torch.as_tensor(skeleton.rest_pose(), dtype=torch.float32)
    target_world = features_with_positions(rest.expand(1, 4, 22, 3))
    pred_world = features_with_positions((2 * rest).expand(1, 4, 22, 3))
    mean, std = torch.zeros(LAYOUT.dim), torch.full((LAYOUT.dim,), 0.5)
    pred, target = pred_world / std, target_world / std
    _, in_z_scores = vq_total_loss(pred, target, torch.tensor(0.0), mean, std, LAYOUT)
    _, in_metres = vq_total_loss(pred, target, torch.tensor(0.0), mean, std, LAYOUT, geometry_in_metres=True)
    assert in_metres["bone"].item() == pytest.approx(
        bone_length_loss(positions(pred_world), positions(target_world), LAYOUT).item(), rel=1e-5)
    assert in_z_scores["bone"].item() == pytest.approx(
        bone_length_loss(positions(pred), positions(target), LAYOUT).item(), rel=1e-5)
    assert in_metres["bone"].item() != pytest.approx(in_z_scores["bone"].item())


def test_vq_loss_settings_come_from_the_training_config(monkeypatch):
    from intermask.errors import ConfigError
    from intermask.models.vqvae import MotionVQVAE
    from intermask.motion.normalize import Normalizer
    from intermask.training import tasks
    from intermask.training.tasks import VQTask, vq_loss_weights

    assert vq_loss_weights({}) == VQLossWeights()
    assert vq_loss_weights({"bone": 0}) == VQLossWeights(bone=0.0)
    with pytest.raises(ConfigError, match=r"train.loss.weights: unknown term\(s\) \['bones'\]"):
        vq_loss_weights({"bones": 1.0})

    model = MotionVQVAE(LAYOUT, width=16, code_dim=8, num_codes=16, dropout=0.0)
    normalizer = Normalizer(np.zeros(LAYOUT.dim), np.ones(LAYOUT.dim))
    seen = []
    monkeypatch.setattr(tasks, "vq_total_loss", lambda *args, **kwargs: seen.append((args[6], kwargs)) or
                        vq_total_loss(*args, **kwargs))
    task = VQTask(model, normalizer, weights=VQLossWeights(bone=0.0), geometry_in_metres=True)
    task.training_step(torch.randn(2, 8, LAYOUT.dim), 0)
    assert [(weights, kwargs["geometry_in_metres"]) for weights, kwargs in seen] == [(VQLossWeights(bone=0.0), True)]


def test_the_training_config_starts_from_the_published_vq_loss():
    from omegaconf import OmegaConf

    from intermask.training.tasks import vq_loss_weights

    loss = OmegaConf.load(Path(__file__).parents[1] / "configs" / "train" / "vqvae.yaml").loss
    assert vq_loss_weights({k: v for k, v in loss.weights.items() if v is not None}) == VQLossWeights()
    assert loss.geometry_in_metres is False


def test_a_bf16_autocast_step_gets_float32_losses_and_finite_gradients():
    # in bf16 the geodesic clamp 1 - 1e-7 rounds to 1, where acos's gradient is infinite: NaN from the first step
    from intermask.models.vqvae import MotionVQVAE

    torch.manual_seed(0)
    model = MotionVQVAE(width=16, code_dim=16, num_codes=32, dropout=0.0)
    target = torch.randn(2, 16, LAYOUT.dim)
    mean, std = torch.zeros(LAYOUT.dim), torch.ones(LAYOUT.dim)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(target)
        total, terms = vq_total_loss(out["recon"], target, out["commit_loss"], mean, std, LAYOUT)
    assert out["recon"].dtype == torch.bfloat16  # the network itself did run in bf16
    assert total.dtype == torch.float32 and all(value.dtype == torch.float32 for value in terms.values())
    total.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_pose_loss_ignores_where_the_body_stands_and_placement_loss_sees_only_the_root():
    from intermask.models.losses import placement_loss, pose_loss

    rest = torch.as_tensor(skeleton.rest_pose(), dtype=torch.float32).expand(1, 4, 22, 3)
    moved = rest + torch.tensor([1.5, 0.0, -2.0])
    assert pose_loss(moved, rest).item() == pytest.approx(0.0, abs=1e-9)
    assert placement_loss(moved, rest).item() > 0.0
    bent = rest.clone()
    bent[..., 21, :] += torch.tensor([0.0, 0.05, 0.0])  # the right wrist 5 cm up
    assert placement_loss(bent, rest).item() == 0.0
    # in units of 10 cm: 5 cm on one of 22 joints' y is SmoothL1 0.5 * 0.5^2 over 66 numbers
    assert pose_loss(bent, rest).item() == pytest.approx(0.5 * 0.25 / 66, rel=1e-5)


def test_metric_terms_join_the_total_only_when_weighted_and_are_measured_in_metres():
    target = random_features(seed=1)
    pred = target + 0.3 * random_features(seed=2)
    mean, std = torch.zeros(LAYOUT.dim), torch.full((LAYOUT.dim,), 2.0)
    _, published = vq_total_loss(pred, target, torch.tensor(0.0), mean, std, LAYOUT)
    assert "pose" not in published and "placement" not in published
    weights = VQLossWeights(pose=1.0, placement=2.0)
    total, terms = vq_total_loss(pred, target, torch.tensor(0.0), mean, std, LAYOUT, weights)
    assert total.item() == pytest.approx(sum(getattr(weights, n) * v for n, v in terms.items()).item(), rel=1e-6)
    from intermask.models.losses import placement_loss

    metres = lambda features: (features * 2.0)[..., LAYOUT.position].unflatten(-1, (22, 3))  # noqa: E731
    assert terms["placement"].item() == pytest.approx(placement_loss(metres(pred), metres(target)).item(), rel=1e-6)


def test_the_synthetic_data_trains_its_vq_vae_with_the_metric_terms_and_the_training_config_overrides_them():
    from omegaconf import OmegaConf

    root = Path(__file__).parents[1] / "configs"
    data = OmegaConf.load(root / "data" / "synthetic.yaml").data
    for name in ("interhuman", "interx"):  # the real datasets keep the published loss
        assert "loss_weights" not in OmegaConf.load(root / "data" / f"{name}.yaml").data.get("vq", {})
    weights = dict(data.vq.loss_weights)
    assert weights["pose"] > 0 and weights["placement"] > 0 and weights["displacement"] > 0
    assert weights["foot_contact"] == 0


def test_displacement_loss_sees_movement_between_frames_in_centimetres_not_where_the_body_is():
    from intermask.models.losses import displacement_loss

    rest = torch.as_tensor(skeleton.rest_pose(), dtype=torch.float32).expand(1, 4, 22, 3)
    assert displacement_loss(rest + 1.0, rest).item() == pytest.approx(0.0, abs=1e-9)  # still, wherever it stands
    walking = rest + torch.arange(4.0).view(1, 4, 1, 1) * torch.tensor([0.0, 0.0, 0.005])  # 5 mm a frame along z
    # a 0.5 cm displacement error on one of three coordinates: SmoothL1 0.5 * 0.5^2, averaged over the three
    assert displacement_loss(walking, rest).item() == pytest.approx(0.5 * 0.25 / 3, rel=1e-4)


def turned(positions: torch.Tensor, angle: float) -> torch.Tensor:
    """Positions (..., 3) turned ``angle`` radians about the vertical (Y) axis."""
    return positions @ yaw_matrix(torch.tensor(angle)).T


def test_facing_loss_is_the_angle_a_body_is_turned_by_whatever_its_place_or_width():
    from intermask.models.losses import FACING_UNIT, across_body, facing_loss

    rest = torch.as_tensor(skeleton.rest_pose(), dtype=torch.float32).expand(1, 4, 22, 3)
    assert facing_loss(rest + torch.tensor([2.0, 0.0, -1.0]), rest).item() == pytest.approx(0.0, abs=1e-9)
    narrower = rest * torch.tensor([0.5, 1.0, 1.0])  # hips and shoulders closer together, facing the same way
    assert facing_loss(narrower, rest).item() == pytest.approx(0.0, abs=1e-6)
    for angle in (0.05, 0.3, 1.0):
        difference = (across_body(turned(rest, angle)) - across_body(rest)) / FACING_UNIT
        assert difference.norm(dim=-1).mean().item() == pytest.approx(2 * math.sin(angle / 2) / FACING_UNIT, rel=1e-4)
        expected = torch.where(difference.abs() < 1, 0.5 * difference**2, difference.abs() - 0.5).mean()
        assert facing_loss(turned(rest, angle), rest).item() == pytest.approx(expected.item(), rel=1e-5)
    assert facing_loss(turned(rest, 0.05), rest) < facing_loss(turned(rest, 0.3), rest) < facing_loss(
        turned(rest, 1.0), rest)


def test_the_facing_term_joins_the_total_only_when_weighted():
    target = random_features(seed=1)
    pred = target + 0.3 * random_features(seed=2)
    mean, std = torch.zeros(LAYOUT.dim), torch.full((LAYOUT.dim,), 2.0)
    _, unweighted = vq_total_loss(pred, target, torch.tensor(0.0), mean, std, LAYOUT, VQLossWeights(pose=1.0))
    assert "facing" not in unweighted
    weights = VQLossWeights(facing=3.0)
    total, terms = vq_total_loss(pred, target, torch.tensor(0.0), mean, std, LAYOUT, weights)
    assert terms["facing"] > 0 and "pose" not in terms
    assert total.item() == pytest.approx(sum(getattr(weights, n) * v for n, v in terms.items()).item(), rel=1e-6)


def test_acceleration_loss_reads_shaking_not_a_steady_offset_or_a_steady_walk():
    from intermask.models.losses import ACCELERATION_UNIT, acceleration_loss

    rest = torch.as_tensor(skeleton.rest_pose(), dtype=torch.float32).expand(1, 6, 22, 3)
    walking = rest + torch.arange(6.0).view(1, 6, 1, 1) * torch.tensor([0.0, 0.0, 0.05])  # 5 cm a frame, steadily
    assert acceleration_loss(rest + torch.tensor([0.5, 0.0, 0.0]), rest).item() == pytest.approx(0.0, abs=1e-9)
    assert acceleration_loss(walking, rest).item() == pytest.approx(0.0, abs=1e-6)
    # every joint shaken 1 mm back and forth on alternate frames: second differences of 4 mm, on the x axis only
    shaken = rest + (-1.0) ** torch.arange(6.0).view(1, 6, 1, 1) * torch.tensor([0.001, 0.0, 0.0])
    step = 4 * 0.001 / ACCELERATION_UNIT  # 4 units, past SmoothL1's quadratic part
    assert acceleration_loss(shaken, rest).item() == pytest.approx((step - 0.5) / 3, rel=1e-4)


def test_the_acceleration_term_joins_the_total_only_when_weighted():
    target = random_features(seed=1)
    pred = target + 0.3 * random_features(seed=2)
    mean, std = torch.zeros(LAYOUT.dim), torch.full((LAYOUT.dim,), 2.0)
    _, unweighted = vq_total_loss(pred, target, torch.tensor(0.0), mean, std, LAYOUT)
    assert "acceleration" not in unweighted
    weights = VQLossWeights(acceleration=0.5)
    total, terms = vq_total_loss(pred, target, torch.tensor(0.0), mean, std, LAYOUT, weights)
    assert terms["acceleration"] > 0
    assert total.item() == pytest.approx(sum(getattr(weights, n) * v for n, v in terms.items()).item(), rel=1e-6)


def two_people(gap: float, frames: int = 3) -> torch.Tensor:
    """Two rest poses facing the same way, the second ``gap`` metres to the side: (1, 2, frames, 22, 3)."""
    rest = torch.as_tensor(skeleton.rest_pose(), dtype=torch.float32)
    pair = torch.stack([rest, rest + torch.tensor([gap, 0.0, 0.0])])
    return pair[None, :, None].expand(1, 2, frames, 22, 3).clone()


def test_capsule_overlaps_are_the_radii_less_the_distance_of_the_axes():
    from intermask.models.losses import capsule_overlaps

    capsules = {(0, 3): 0.10, (1, 4): 0.07}
    overlap = capsule_overlaps(two_people(0.5, frames=1)[0, :, 0], capsules)  # (2 capsules, 2 capsules)
    # the torsos' axes run parallel, 0.5 m apart
    assert overlap[0, 0].item() == pytest.approx(0.2 - 0.5, abs=1e-5)
    # against the exact distance of the segments (the physical metrics'), on bodies in random places and poses
    from intermask.metrics.physical import COLLIDERS, penetration_depth_per_frame

    generator = torch.Generator().manual_seed(0)
    bodies = two_people(0.3, frames=16)[0] + 0.05 * torch.randn(2, 16, 22, 3, generator=generator)
    bodies[1] += 0.2 * torch.randn(16, 1, 3, generator=generator)
    sampled = capsule_overlaps(bodies.transpose(0, 1), COLLIDERS).flatten(1).amax(1)
    exact = penetration_depth_per_frame(bodies.numpy())
    # never deeper than the exact overlap; short of it by at most a few centimetres where two axes cross
    assert (sampled.numpy() <= exact + 1e-6).all() and np.abs(sampled.numpy() - exact).max() < 0.03
    assert np.median(np.abs(sampled.numpy() - exact)) < 0.002


def test_separation_loss_counts_only_overlap_beyond_the_targets():
    from intermask.metrics.physical import COLLIDERS
    from intermask.models.losses import separation_loss

    apart, touching, inside = two_people(0.6), two_people(0.15), two_people(0.05)
    assert separation_loss(apart, apart, COLLIDERS).item() == 0.0
    assert separation_loss(two_people(0.9), apart, COLLIDERS).item() == 0.0  # further apart than the target: free
    closer = separation_loss(touching, apart, COLLIDERS).item()
    assert closer > 0 and separation_loss(inside, apart, COLLIDERS).item() > closer
    # where the target itself overlaps, only the overlap beyond it costs
    assert separation_loss(touching, touching, COLLIDERS).item() == 0.0
    assert 0 < separation_loss(inside, touching, COLLIDERS).item() < separation_loss(inside, apart, COLLIDERS).item()
    # its gradient pushes the two people apart
    pred = inside.clone().requires_grad_(True)
    separation_loss(pred, apart, COLLIDERS).backward()
    assert pred.grad[0, 0, ..., 0].sum() > 0 and pred.grad[0, 1, ..., 0].sum() < 0  # descent moves them apart in x
    with pytest.raises(ValueError, match="batch, 2, time, joint, 3"):
        separation_loss(inside[:, :1], apart[:, :1], COLLIDERS)


def test_the_separation_term_reads_the_batch_as_pairs_and_joins_the_total_only_when_weighted():
    from intermask.metrics.physical import COLLIDERS

    def features(pair):  # (1, 2, t, 22, 3) -> (2, t, feature)
        return features_with_positions(pair[0])

    target, pred = features(two_people(0.6)), features(two_people(0.05))
    mean, std = torch.zeros(LAYOUT.dim), torch.ones(LAYOUT.dim)
    zero = torch.tensor(0.0)
    _, plain = vq_total_loss(pred, target, zero, mean, std, LAYOUT)
    assert "separation" not in plain
    weights = VQLossWeights(separation=2.0)
    total, terms = vq_total_loss(pred, target, zero, mean, std, LAYOUT, weights, capsules=COLLIDERS)
    assert terms["separation"].item() > 0
    assert total.item() == pytest.approx(sum(getattr(weights, n) * v for n, v in terms.items()).item(), rel=1e-6)
    with pytest.raises(ValueError, match="pairs"):
        vq_total_loss(pred[:1], target[:1], zero, mean, std, LAYOUT, weights, capsules=COLLIDERS)
    with pytest.raises(ValueError, match="capsules"):
        vq_total_loss(pred, target, zero, mean, std, LAYOUT, weights)


def test_a_vq_task_with_the_separation_term_trains_on_pairs_of_windows():
    from intermask.models.vqvae import MotionVQVAE
    from intermask.motion.normalize import Normalizer
    from intermask.training.tasks import VQTask

    model = MotionVQVAE(LAYOUT, width=16, code_dim=8, num_codes=16, dropout=0.0)
    normalizer = Normalizer(np.zeros(LAYOUT.dim), np.ones(LAYOUT.dim))
    task = VQTask(model, normalizer, weights=VQLossWeights(separation=1.0))  # the colliders by default
    pairs = features_with_positions(two_people(0.0, frames=8)[0]).unsqueeze(0)  # (1, 2, 8, feature): one body
    total, logs = task.training_step(pairs, 0)
    assert torch.isfinite(total) and "separation" in logs
    total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
