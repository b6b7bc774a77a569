"""Re-decoding where the two generated bodies overlap (generation.collisions and InterMask's collision_rounds)."""
import numpy as np
import pytest
import torch

from helpers.stand_in import tiny_model
from intermask.generation.collisions import colliding_frames, resolve_collisions, steps_to_redo
from intermask.metrics.physical import penetration_depth_per_frame
from intermask.motion.layout import INTERHUMAN

# a standing body, joints (22, 3): pelvis 0.9 m up, the spine and head above it, legs below
BODY = np.zeros((22, 3))
BODY[:, 1] = 0.9
BODY[[3, 6, 9], 1] = [1.05, 1.2, 1.35]
BODY[[12, 15], 1] = [1.5, 1.65]
BODY[[1, 2], 0], BODY[[4, 5], 0] = [0.1, -0.1], [0.1, -0.1]
BODY[[4, 5], 1] = 0.5


def pair_at(offsets_x) -> np.ndarray:
    """(2, frame, 22, 3): person 1 at the origin, person 2 moved by offsets_x[f] metres along x in frame f."""
    first = np.repeat(BODY[None], len(offsets_x), axis=0)
    second = first.copy()
    second[..., 0] += np.asarray(offsets_x)[:, None]
    return np.stack([first, second])


def test_colliding_frames_are_the_physical_metrics_overlaps_within_each_length():
    offsets = [0.0, 0.1, 0.5, 2.0, 0.0, 0.0]
    joints = torch.from_numpy(np.stack([pair_at(offsets), pair_at(offsets[::-1])]))
    found = colliding_frames(joints, torch.tensor([6, 4]))
    expected = penetration_depth_per_frame(pair_at(offsets)) > 0
    assert expected.tolist() == [True, True, False, False, True, True]
    assert found[0].tolist() == expected.tolist()
    assert found[1].tolist() == [True, True, False, False, False, False]  # frames 4-5 lie past its length
    with pytest.raises(ValueError, match="joints must be"):
        colliding_frames(joints[:, 0], torch.tensor([6, 4]))


def test_steps_to_redo_cover_the_colliding_frames_tokens_and_their_neighbours():
    overlap = torch.zeros(2, 16, dtype=torch.bool)
    overlap[0, 5] = overlap[0, 6] = True  # token step 1 of 4 frames each
    overlap[1, 15] = True  # the last step
    assert steps_to_redo(overlap, 4, 4, margin=0).tolist() == [[False, True, False, False],
                                                                [False, False, False, True]]
    assert steps_to_redo(overlap, 4, 4, margin=1).tolist() == [[True, True, True, False],
                                                                [False, False, True, True]]
    assert not steps_to_redo(torch.zeros(1, 16, dtype=torch.bool), 4, 4).any()


class World:
    """A stand-in token world: each token step is 4 frames; person 2 stands code metres to the side of person 1
    (code 0: inside them), person 1's codes do not move anyone."""

    def decode(self, ids, lengths_tokens):
        return ids.repeat_interleave(4, dim=-1)[:, :, 0, :, None].float()  # (b, 2, frames, 1)

    def decode_rows(self, rows, ids, lengths_tokens):  # the rows of a batch: the same world for every row
        return self.decode(ids, lengths_tokens)

    def joints(self, features):
        offsets = features[:, 1, :, 0].numpy()
        return torch.from_numpy(np.stack([pair_at(row) for row in offsets]))


def test_resolve_collisions_redoes_the_colliding_steps_of_both_people_and_nothing_else():
    world = World()
    ids = torch.full((2, 2, 1, 6), 3)
    ids[0, 1, 0, 3] = 0  # sample 0: person 2 inside person 1 over step 3; sample 1: apart throughout
    asked = []

    def redecode(rows, row_ids, keep):
        asked.append((rows.tolist(), keep.clone()))
        return torch.where(keep, row_ids, torch.full_like(row_ids, 5))

    fixed = torch.zeros_like(ids, dtype=torch.bool)
    new_ids, features, report = resolve_collisions(ids, world.decode(ids, None), torch.tensor([6, 6]), fixed, 2,
                                                   redecode, world.decode_rows, world.joints, 4)
    assert [rows for rows, _ in asked] == [[0]]  # only the colliding sample, once: the second round finds none
    redone = ~asked[0][1][0, :, 0]
    assert redone.tolist() == [[False, False, True, True, True, False]] * 2  # step 3 and its neighbours, both people
    assert new_ids[0, 1, 0].tolist() == [3, 3, 5, 5, 5, 3]
    assert torch.equal(new_ids[1], ids[1])
    assert torch.equal(features, world.decode(new_ids, None))
    assert report == {"colliding_frames_before": 4, "colliding_frames_after": 0, "redone": 1}


def test_resolve_collisions_keeps_given_tokens_and_rejects_a_worse_version():
    world = World()
    ids = torch.full((1, 2, 1, 6), 3)
    ids[0, 1, 0, 3] = 0
    fixed = torch.zeros_like(ids, dtype=torch.bool)
    fixed[:, 0] = True  # person 1 given (a reaction): never redone

    def worse(rows, row_ids, keep):
        return torch.where(keep, row_ids, torch.zeros_like(row_ids))  # puts person 2 inside person 1 for longer

    new_ids, features, report = resolve_collisions(ids, world.decode(ids, None), torch.tensor([6]), fixed, 3, worse,
                                                   world.decode_rows, world.joints, 4)
    assert torch.equal(new_ids, ids) and torch.equal(features, world.decode(ids, None))
    assert report["colliding_frames_after"] == report["colliding_frames_before"] == 4
    asked = []

    def better(rows, row_ids, keep):
        asked.append(keep.clone())
        return torch.where(keep, row_ids, torch.full_like(row_ids, 7))

    new_ids, _, report = resolve_collisions(ids, world.decode(ids, None), torch.tensor([6]), fixed, 1, better,
                                            world.decode_rows, world.joints, 4)
    assert asked[0][0, 0].all()  # person 1 kept whole
    assert torch.equal(new_ids[0, 0], ids[0, 0]) and new_ids[0, 1, 0].tolist() == [3, 3, 7, 7, 7, 3]
    with pytest.raises(ValueError, match="rounds must be >= 0"):
        resolve_collisions(ids, world.decode(ids, None), torch.tensor([6]), fixed, -1, better, world.decode_rows,
                           world.joints, 4)


def colliding_count(model, features, lengths):
    return int(colliding_frames(model.joints(features), lengths).sum())


def test_collision_rounds_in_generate_never_add_collisions_and_keep_a_reactions_given_person():
    model = tiny_model(INTERHUMAN)
    lengths = torch.tensor([48, 40, 32])
    texts = ["one hugs the other", "two people pass by", "a handshake"]
    plain_ids, plain = model.generate(texts, lengths, steps=3, generator=torch.Generator().manual_seed(0))
    again_ids, again = model.generate(texts, lengths, steps=3, generator=torch.Generator().manual_seed(0),
                                      collision_rounds=0)
    assert torch.equal(plain_ids, again_ids) and torch.equal(plain, again)  # 0 rounds (the default): unchanged
    calls, network = [], model.transformer.planned_logits
    model.transformer.planned_logits = lambda ids, *args: calls.append(ids.shape[0]) or network(ids, *args)
    ids, features = model.generate(texts, lengths, steps=3, generator=torch.Generator().manual_seed(0),
                                   collision_rounds=3)
    # the untrained stand-in draws bodies inside each other in every frame: each round asks again about every clip
    assert colliding_count(model, plain, lengths) == int(lengths.sum())
    assert calls == [6] * 12  # the first draw and 3 rounds, 3 steps each; conditioned and null in one batch of 6
    assert colliding_count(model, features, lengths) <= colliding_count(model, plain, lengths)
    assert features.shape == plain.shape and torch.isfinite(features).all()
    assert (ids[2, :, :, 8:] == model.transformer.pad_id).all()  # 32 frames: 8 steps, pads after them
    given = plain_ids[:, 0]
    reaction_ids, _ = model.generate(texts, lengths, steps=3, given=given, collision_rounds=3,
                                     generator=torch.Generator().manual_seed(1))
    assert torch.equal(reaction_ids[:, 0], given)


def test_each_collision_round_decodes_with_its_own_steps_the_models_unless_asked():
    lengths, texts = torch.tensor([48, 40]), ["one hugs the other", "a handshake"]
    for config, asked, steps_per_round in (({}, None, 4), ({}, 1, 1), ({"collision_steps": 2}, None, 2),
                                           ({"collision_steps": 2}, 3, 3)):
        model = tiny_model(INTERHUMAN, config)
        calls, network = [], model.transformer.planned_logits
        model.transformer.planned_logits = lambda ids, *args: calls.append(ids.shape[0]) or network(ids, *args)
        model.generate(texts, lengths, steps=4, generator=torch.Generator().manual_seed(0), collision_rounds=2,
                       collision_steps=asked)
        # the untrained stand-in's bodies overlap everywhere: both rounds redo both clips, conditioned and null
        assert calls == [4] * (4 + 2 * steps_per_round), (config, asked)


def test_collision_rounds_are_checked_and_need_joints():
    with pytest.raises(ValueError, match="config collision_rounds must be a whole number >= 0"):
        tiny_model(INTERHUMAN, {"collision_rounds": -1})
    with pytest.raises(ValueError, match="collision_rounds must be a whole number"):
        tiny_model(INTERHUMAN).generate(["a hug"], torch.tensor([32]), steps=2, collision_rounds=1.5)
    assert tiny_model(INTERHUMAN, {"collision_rounds": 2}).collision_rounds == 2
    for steps in (0, 2.5, True):
        with pytest.raises(ValueError, match="config collision_steps must be a whole number >= 1 .* or null"):
            tiny_model(INTERHUMAN, {"collision_steps": steps})
    with pytest.raises(ValueError, match="collision_steps must be a whole number >= 1"):
        tiny_model(INTERHUMAN).generate(["a hug"], torch.tensor([32]), steps=2, collision_rounds=1, collision_steps=0)
    assert tiny_model(INTERHUMAN).collision_steps is None
    with pytest.raises(ValueError, match="collision_rounds needs the generated joints"):
        tiny_model().generate(["a hug"], torch.tensor([32]), steps=2, collision_rounds=1)
