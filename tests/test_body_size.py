"""A person's size apart from their motion (intermask/motion/body_size.py), and the tokenizer, its task and the
interaction model that keep it beside the tokens."""
import numpy as np
import pytest
import torch
from helpers.draws import seeded
from helpers.stand_in import tiny_model

from intermask.models.vqvae import MotionVQVAE
from intermask.motion.body_size import body_scale, from_unit_size, skeleton_size, to_unit_size
from intermask.motion.features import joints_to_features
from intermask.motion.layout import INTERHUMAN, INTERX
from intermask.motion.normalize import Normalizer
from intermask.motion.partner import to_partner_frame
from intermask.motion.skeleton import PARENTS
from intermask.training.tasks import VQTask

LAYOUT = INTERHUMAN
SIZE = 4.26


def walking_joints(frames: int = 13, seed: int = 0) -> np.ndarray:
    """Joints (frames, 22, 3) of a rigid random skeleton standing above the ground and moving about."""
    rng = np.random.default_rng(seed)
    offsets = rng.normal(0, 0.15, (22, 3))
    joints = np.zeros((frames, 22, 3))
    joints[:, 0] = np.stack([np.linspace(0, 1.2, frames), 0.9 + 0.02 * rng.normal(size=frames),
                             np.linspace(0.5, -0.3, frames)], axis=-1)
    for joint in range(1, 22):
        joints[:, joint] = joints[:, PARENTS[joint]] + offsets[joint]
    return joints


def about_the_ground_root(joints: np.ndarray, factor: float) -> np.ndarray:
    ground = joints[:, :1] * np.array([1.0, 0.0, 1.0])
    return ground + factor * (joints - ground)


def features(joints: np.ndarray) -> torch.Tensor:
    rot6d = np.tile(np.array([1.0, 0, 0, 0, 1, 0]), (len(joints), 21, 1))
    return torch.as_tensor(joints_to_features(joints, rot6d), dtype=torch.float32)


def facing_pair() -> tuple[np.ndarray, np.ndarray]:
    """Joints (2, frames, 22, 3) of two walkers 1.4 m apart, and the point (frames, 3) on the ground between them."""
    first = walking_joints(seed=0)
    second = walking_joints(seed=1) + np.array([0.3, 0.0, 1.4]) - (walking_joints(seed=1)[:1, :1] - first[:1, :1])
    middle = (first[:, 0] + second[:, 0]) / 2 * np.array([1.0, 0.0, 1.0])
    return np.stack([first, second]), middle


def test_unit_size_scales_each_body_about_the_point_between_the_two_on_the_ground():
    joints, middle = facing_pair()
    world = torch.stack([features(person) for person in joints])  # (2, frame, feature)
    scales = torch.tensor([1.25, 0.8])
    unit = to_unit_size(world, scales, LAYOUT)
    for person, scale in enumerate(scales.tolist()):
        expected = features(middle[:, None] + (joints[person] - middle[:, None]) / scale)
        moved = slice(LAYOUT.position.start, LAYOUT.rotation.stop)  # positions, velocities, rotations
        torch.testing.assert_close(unit[person, :, moved], expected[:, moved], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(unit[person, :, 1], world[person, :, 1] / scale)  # the root's height
        assert torch.equal(unit[person, :, LAYOUT.contact], world[person, :, LAYOUT.contact])
    torch.testing.assert_close(from_unit_size(unit, scales, LAYOUT), world, atol=1e-5, rtol=1e-5)
    # hands that meet at the point between the two still meet there; about each person's own root they part
    hands = joints.copy()
    hands[0, :, 20] = hands[1, :, 21] = middle + np.array([0.0, 1.2, 0.0])
    unit = to_unit_size(torch.stack([features(person) for person in hands]), scales, LAYOUT)
    unit_joints = unit[..., LAYOUT.position].unflatten(-1, (22, 3))
    torch.testing.assert_close(unit_joints[0, :, 20, [0, 2]], unit_joints[1, :, 21, [0, 2]], atol=1e-5, rtol=1e-5)
    own_roots = [about_the_ground_root(hands[person], 1 / scale) for person, scale in enumerate(scales.tolist())]
    assert np.abs(own_roots[0][:, 20] - own_roots[1][:, 21]).max() > 0.1


def test_a_person_s_scale_is_their_skeleton_s_size_over_the_reference_read_on_their_valid_frames():
    joints = walking_joints()
    world = features(joints)
    bones = np.linalg.norm(joints[0, 1:] - joints[0, list(PARENTS[1:])], axis=-1).sum()
    assert float(skeleton_size(world, LAYOUT)) == pytest.approx(bones, rel=1e-5)
    padded = torch.cat([world, torch.zeros(7, LAYOUT.dim)])[None].repeat(3, 1, 1)  # (3, frame, feature)
    scales = body_scale(padded, LAYOUT, SIZE, torch.tensor([len(world)] * 3))
    torch.testing.assert_close(scales, torch.full((3,), bones / SIZE))
    grown = torch.stack([features(about_the_ground_root(joints, 1.1)), world])
    assert body_scale(grown, LAYOUT, SIZE).tolist() == pytest.approx([1.1 * bones / SIZE, bones / SIZE], rel=1e-5)
    # scaled to unit size, everyone has the reference skeleton
    assert body_scale(to_unit_size(grown, body_scale(grown, LAYOUT, SIZE), LAYOUT), LAYOUT, SIZE).tolist() == \
        pytest.approx([1.0, 1.0], rel=1e-5)


def test_body_size_needs_positions_pairs_one_scale_a_person_and_a_skeleton():
    world = features(walking_joints())
    with pytest.raises(ValueError, match="needs features with joint positions; this layout has none"):
        skeleton_size(torch.zeros(4, INTERX.dim), INTERX)
    with pytest.raises(ValueError, match=r"reads pairs \(\.\.\., person=2, frame, feature\), got \(12, 262\)"):
        to_unit_size(world, torch.ones(()), LAYOUT)
    with pytest.raises(ValueError, match=r"one scale a person, shape \(2,\), got \(3,\)"):
        to_unit_size(torch.stack([world, world]), torch.ones(3), LAYOUT)
    with pytest.raises(ValueError, match="no size"):
        body_scale(torch.zeros(4, LAYOUT.dim), LAYOUT, SIZE)
    with pytest.raises(ValueError, match="body_size must be null or a skeleton size"):
        MotionVQVAE(LAYOUT, width=8, code_dim=8, num_codes=8, body_size=0)
    with pytest.raises(ValueError, match="body_size needs features with joint positions"):
        MotionVQVAE(INTERX, width=8, code_dim=8, num_codes=8, graph=False, body_size=SIZE)
    vq = MotionVQVAE(LAYOUT, width=8, code_dim=8, num_codes=8, body_size=SIZE)
    assert MotionVQVAE.from_config(vq.config).body_size == SIZE
    assert MotionVQVAE(LAYOUT, width=8, code_dim=8, num_codes=8).body_size is None  # the published


def people(sizes=(1.1, 0.9)) -> torch.Tensor:
    """Raw features (len(sizes), frame, feature): one walk, each person a size of it."""
    joints = walking_joints(frames=17)
    return torch.stack([features(about_the_ground_root(joints, size)) for size in sizes])


def test_the_vq_task_codes_everyone_at_one_size_and_scores_them_at_their_own():
    raw = people()
    normalizer = Normalizer(raw.flatten(0, 1).mean(0), raw.flatten(0, 1).std(0) + 0.1)
    model = MotionVQVAE(LAYOUT, width=8, code_dim=8, num_codes=8, body_size=SIZE)
    seen = []

    def lossless(batch):  # a codec that reads back what it is given
        seen.append(batch)
        codes = torch.zeros(batch.shape[0], 5, batch.shape[1] // 4, dtype=torch.long)
        return dict(recon=batch.clone(), commit_loss=torch.zeros(()), perplexity=1.0, usage=1.0, codes=codes)

    model.forward = lossless
    task = VQTask(model, normalizer)
    batch = normalizer.normalize(raw).float()[None]  # one pair's window
    metrics = task.validate([batch])
    assert metrics["mpjpe_mm"] == pytest.approx(0.0, abs=1e-3)  # given back at each person's own size
    torch.testing.assert_close(seen[0][0], seen[0][1], atol=1e-4, rtol=1e-4)  # one walk: one coded body
    with pytest.raises(ValueError, match=r"trained on pairs \(batch, person=2, frame, feature\)"):
        task.training_step(batch[0], 0)
    # a partner-frame window is scaled in the world frame and scored back in its own
    partner = MotionVQVAE(LAYOUT, width=8, code_dim=8, num_codes=8, body_size=SIZE, partner_frame=True)
    partner.forward = lossless
    apart = people()
    apart[1, :, LAYOUT.position] += torch.tensor([0.5, 0.0, 1.0]).repeat(22)  # a second walker beside the first
    window = normalizer.normalize(to_partner_frame(apart, LAYOUT)).float()[None]
    assert VQTask(partner, normalizer).validate([window])["mpjpe_mm"] == pytest.approx(0.0, abs=1e-3)
    # a codec that answers the first person's body for both is right about the second at one size, wrong at theirs
    first_for_both = lambda batch: {**lossless(batch), "recon": batch[:1].expand_as(batch).clone()}  # noqa: E731
    model.forward = first_for_both
    assert task.validate([batch])["mpjpe_mm"] == pytest.approx(0.0, abs=1e-3)
    published = MotionVQVAE(LAYOUT, width=8, code_dim=8, num_codes=8)
    published.forward = first_for_both
    metrics = VQTask(published, normalizer).validate([batch])
    assert metrics["mpjpe_mm"] > 20 and metrics["placement_mm"] > 20  # the second person drawn 22% too tall


def interhuman_model(body_size):
    model = tiny_model(LAYOUT)
    model.vq.body_size = body_size
    return model


def coded_people(model, motion, lengths) -> torch.Tensor:
    """What ``model.tokenize`` hands its VQ-VAE's encoder: normalised people (b * 2, frame, feature)."""
    seen = []
    encode = model.vq.encode
    model.vq.encode = lambda people, **kwargs: seen.append(people) or encode(people, **kwargs)
    model.tokenize(motion, lengths)
    model.vq.encode = encode
    return seen[0]


def test_the_interaction_model_tokenizes_every_size_alike_and_decodes_each_at_its_own():
    model = interhuman_model(SIZE)
    same_walk = people((1.1, 0.9))[None]  # (1, 2, frame, feature): one walk by a tall and a short person
    lengths = torch.tensor([16])
    motion = model.normalize(same_walk[:, :, :16])
    coded = coded_people(model, motion, lengths)
    torch.testing.assert_close(coded[0], coded[1], atol=1e-4, rtol=1e-4)  # the size is not in what is tokenized
    scales = model.body_scales(motion, lengths)
    torch.testing.assert_close(scales[0, 0] / scales[0, 1], torch.tensor(1.1 / 0.9))
    ids = model.tokenize(motion, lengths)
    at_one_size = model.denormalize(model.decode(ids, lengths // 4))
    at_own_sizes = model.denormalize(model.decode(ids, lengths // 4, scales))
    torch.testing.assert_close(at_own_sizes, from_unit_size(at_one_size, scales, LAYOUT), atol=1e-4, rtol=1e-4)
    assert not torch.allclose(at_own_sizes, at_one_size, atol=1e-3)
    with pytest.raises(ValueError, match=r"scales: expected one scale a person, shape \(1, 2\)"):
        model.decode(ids, lengths // 4, torch.ones(2))
    with pytest.raises(ValueError, match="finite and > 0"):
        model.generate(["two people wave"], torch.tensor([16]), steps=1, scales=torch.tensor([[1.0, 0.0]]))
    published = interhuman_model(None)
    assert torch.equal(published.body_scales(motion, lengths), torch.ones(1, 2))
    coded = coded_people(published, motion, lengths)
    assert (coded[0] - coded[1]).abs().max() > 0.05  # each person coded at their own size
    ids = published.tokenize(motion, lengths)
    assert torch.equal(published.decode(ids, lengths // 4, scales), published.decode(ids, lengths // 4))


def test_generation_decodes_each_person_at_the_scales_asked_through_the_collision_rounds():
    model = interhuman_model(SIZE)
    lengths = torch.tensor([16, 16])
    scales = torch.tensor([[1.1, 0.9], [0.95, 1.05]])
    decode, asked = model.decode, []
    model.decode = lambda ids, steps=None, scales=None: asked.append(scales) or decode(ids, steps, scales)
    ids, features = model.generate(["two people wave", "one pushes the other"], lengths, steps=2,
                                   generator=seeded(0), scales=scales, collision_rounds=2)
    assert len(asked) > 1 and all(torch.equal(row, scales) for row in asked)  # the untrained pair collides: rounds
    torch.testing.assert_close(features, decode(ids, lengths // 4, scales))
