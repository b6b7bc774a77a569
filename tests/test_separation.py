"""Moving overlapping generated bodies apart (generation.separation and InterMask's separate_bodies)."""
import numpy as np
import pytest
import torch

from helpers.stand_in import tiny_model
from intermask.generation.collisions import colliding_frames
from intermask.generation.separation import separation_offsets
from intermask.metrics.physical import penetration_depth_per_frame
from intermask.motion.layout import INTERHUMAN
from test_collisions import pair_at


def hug(frames=60, inside=range(25, 35), apart=0.8, close=0.12):
    """Person 2 stands ``apart`` metres along x from person 1, and ``close`` metres (inside them) over ``inside``."""
    distance = np.full(frames, apart)
    distance[list(inside)] = close
    return pair_at(distance)


def test_offsets_take_the_bodies_apart_along_the_line_between_them_easing_in_and_out():
    joints = hug()
    assert (penetration_depth_per_frame(joints)[25:35] > 0.05).all()
    offsets = separation_offsets(joints, ramp=8)
    moved = joints + offsets[:, :, None]
    assert (penetration_depth_per_frame(moved) <= 0).all()
    assert np.allclose(offsets[0], -offsets[1]) and np.allclose(offsets[..., 1:], 0)  # each half, along x only
    assert (offsets[1, :, 0] >= 0).all()  # person 2, on the +x side, moves further that way
    # untouched more than two ramps away from the overlap; a gradual push, no step
    assert np.allclose(offsets[:, :25 - 16], 0) and np.allclose(offsets[:, 35 + 16:], 0)
    change = np.abs(np.diff(offsets[1, :, 0]))
    assert change.max() < 0.25 * offsets[1, :, 0].max()
    # nothing to do: exactly zero
    assert not separation_offsets(pair_at(np.full(20, 0.8))).any()


def test_a_person_who_may_not_move_stays_and_the_other_moves_the_whole_way():
    joints = hug()
    offsets = separation_offsets(joints, movable=(False, True))
    assert not offsets[0].any()
    assert (penetration_depth_per_frame(joints + offsets[:, :, None]) <= 0).all()
    assert not separation_offsets(joints, movable=(False, False)).any()
    # people on one spot: pushed apart along x rather than left inside each other
    same = pair_at(np.zeros(10))
    assert (penetration_depth_per_frame(same + separation_offsets(same)[:, :, None]) <= 0).all()


def test_offsets_check_their_input():
    with pytest.raises(ValueError, match=r"joints must be \(2, frame, 22, 3\)"):
        separation_offsets(np.zeros((3, 10, 22, 3)))
    with pytest.raises(ValueError, match="movable names the two people"):
        separation_offsets(hug(), movable=(True,))
    with pytest.raises(ValueError, match="must be >= 0"):
        separation_offsets(hug(), ramp=-1)


def test_separate_bodies_in_generate_moves_only_the_placement_and_keeps_a_reactions_given_person():
    model = tiny_model(INTERHUMAN)
    lengths = torch.tensor([48, 32])
    texts = ["two people hug", "a handshake"]
    seed = dict(steps=3, collision_rounds=1)
    _, plain = model.generate(texts, lengths, generator=torch.Generator().manual_seed(0), **seed)
    ids, apart = model.generate(texts, lengths, generator=torch.Generator().manual_seed(0), separate_bodies=True,
                                **seed)
    frames = (lengths // 4) * 4
    before = int(colliding_frames(model.joints(plain), frames).sum())
    assert before > 0  # the untrained stand-in draws its two bodies inside each other
    assert int(colliding_frames(model.joints(apart), frames).sum()) < before
    # the joints move horizontally, by one offset per person and frame; nothing else of the features changes
    shift = model.joints(apart) - model.joints(plain)
    assert torch.allclose(shift[..., 1], torch.zeros(()), atol=1e-5)
    assert torch.allclose(shift, shift[..., :1, :].expand_as(shift), atol=1e-5)
    world_plain, world_apart = model.denormalize(plain), model.denormalize(apart)
    others = torch.ones(INTERHUMAN.dim, dtype=torch.bool)
    others[INTERHUMAN.position] = others[INTERHUMAN.velocity] = False
    assert torch.allclose(world_plain[..., others], world_apart[..., others], atol=1e-5)
    # velocities change by the offsets' frame differences (the data's definition: position t + 1 minus position t)
    velocity_change = (world_apart - world_plain)[..., INTERHUMAN.velocity].unflatten(-1, (-1, 3))
    assert torch.allclose(velocity_change[1, :, :31], shift[1, :, 1:32] - shift[1, :, :31], atol=1e-5)
    # a reaction: the given person (0) is where their tokens put them
    given = ids[:, 0]
    _, reaction = model.generate(texts, lengths, given=given, generator=torch.Generator().manual_seed(1),
                                 separate_bodies=True, **seed)
    _, reaction_plain = model.generate(texts, lengths, given=given, generator=torch.Generator().manual_seed(1),
                                       **seed)
    assert torch.allclose(reaction[:, 0], reaction_plain[:, 0], atol=1e-5)
    assert not torch.allclose(reaction[:, 1], reaction_plain[:, 1])


def test_separate_bodies_is_checked_off_by_default_and_needs_positions():
    assert tiny_model(INTERHUMAN).separate_bodies is False
    assert tiny_model(INTERHUMAN, {"separate_bodies": True}).separate_bodies is True
    with pytest.raises(ValueError, match="config separate_bodies must be true or false"):
        tiny_model(INTERHUMAN, {"separate_bodies": "yes"})
    model = tiny_model(INTERHUMAN)
    assert model.use_separation(None) is False and model.use_separation(True) is True
    assert model.use_separation(None) is True  # None keeps what is set
    with pytest.raises(ValueError, match="sample.separate_bodies must be true or false"):
        model.use_separation(1, "sample.separate_bodies")
    with pytest.raises(ValueError, match="separate_bodies moves the joint positions"):
        tiny_model().generate(["a hug"], torch.tensor([32]), steps=2, separate_bodies=True)
