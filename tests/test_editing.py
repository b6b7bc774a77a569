"""Editing on the token map: keep masks, kept tokens and frames, reaction as the special case, chained windows."""
import numpy as np
import pytest
import torch

from intermask.generation.decoding import generate, generate_reaction
from intermask.generation.editing import (EditError, body_parts, choose_fades, edit_interaction, extend_interaction,
                                          fade_weights, keep_mask, parse_seconds, part_joints, part_rows,
                                          steps_within, tokenize_joints)
from intermask.metrics.physical import seam_jumps, velocity_and_acceleration_jumps
from intermask.models.masking import validity_grid
from intermask.motion.layout import INTERHUMAN, INTERX

from helpers.stand_in import tiny_model
from helpers.draws import seeded
from test_sample import tiny_motion


@pytest.fixture(scope="module")
def model():
    return tiny_model(INTERHUMAN)


def waving_motion(frames=96):
    """Two people walking side by side, the second swinging the right arm: (2, frame, 22, 3)."""
    joints = tiny_motion(frames).astype(np.float64)
    swing = 0.3 * np.sin(np.linspace(0, 6 * np.pi, frames))
    joints[1, :, [19, 21], 1] += swing  # right elbow and wrist
    return joints


def reconstruction(model, joints):
    """The tokenizer's own round trip of a clip, in world coordinates: (2, frame, 22, 3)."""
    ids, frames, _ = tokenize_joints(model, joints)
    canonical = model.joints(model.decode(ids[None]))[0].numpy().astype(np.float64)
    return np.stack([frame.invert(person) for frame, person in zip(frames, canonical)])


def test_rows_are_named_by_the_joints_the_vqvae_pools_into_them():
    # 22 -> 11 -> 5 joints by stride-2 convolutions: row r is centred on joints 4r..4r+3, the last row also takes
    # the three layer-1 rows (16..21) that no other row is centred on
    assert part_joints(INTERHUMAN) == ((0, 1, 2, 3), (4, 5, 6, 7), (8, 9, 10, 11), (12, 13, 14, 15),
                                       (16, 17, 18, 19, 20, 21))
    assert list(body_parts(INTERHUMAN)) == ["hips", "knees", "feet", "head", "arms"]
    assert sorted(j for joints in part_joints(INTERX) for j in joints) == list(range(56))
    assert part_rows(["arms"], INTERHUMAN) == (4,) and part_rows(["legs", "head"], INTERHUMAN) == (0, 1, 2, 3)
    with pytest.raises(EditError, match="unknown body part 'tail'; parts: hips \\(pelvis, left_hip"):
        part_rows(["tail"], INTERHUMAN)


def test_a_token_step_is_kept_only_when_all_its_frames_are():
    kept = steps_within([(0, 0.5), (1.0, 1.6)], num_steps=12, frames_per_token=4, fps=30)
    # 0-0.5 s = frames 0-14: step 3 (frames 12-15) is not whole; 1.0-1.6 s = frames 30-47: steps 8..11 (32-47)
    assert kept.nonzero().flatten().tolist() == [0, 1, 2, 8, 9, 10, 11]
    assert parse_seconds("end-2:end", 5.0) == (3.0, 5.0)
    with pytest.raises(EditError, match="write START:END"):
        parse_seconds("2", 5.0)


def test_kept_tokens_of_any_keep_map_come_back_unchanged(model):
    lengths = torch.tensor([9, 6])
    given = torch.randint(0, model.transformer.num_codes, (2, 2, 5, 9), generator=seeded(1))
    keep = torch.rand(2, 2, 5, 9, generator=seeded(2)) < 0.5
    ids = generate(model.transformer, torch.randn(2, model.transformer.text_dim), lengths, steps=3, fixed_ids=given,
                   keep=keep, generator=seeded(3))
    kept = keep & validity_grid(lengths, 5, 9)
    assert torch.equal(ids[kept], given[kept])
    assert not torch.equal(ids[~keep & validity_grid(lengths, 5, 9)], given[~keep & validity_grid(lengths, 5, 9)])


def test_reaction_is_the_edit_that_keeps_one_whole_person(model):
    actor_ids = torch.randint(0, model.transformer.num_codes, (2, 5, 9), generator=seeded(3))
    cond, lengths = torch.randn(2, model.transformer.text_dim, generator=seeded(4)), torch.tensor([9, 6])
    for actor in (0, 1):
        reaction = generate_reaction(model.transformer, actor_ids, cond, lengths, actor=actor, generator=seeded(5))
        fixed = torch.zeros(2, 2, 5, 9, dtype=torch.long)
        fixed[:, actor] = actor_ids
        keep = torch.zeros(2, 2, 5, 9, dtype=torch.bool)
        keep[:, actor] = True
        as_edit = generate(model.transformer, cond, lengths, steps=10, fixed_ids=fixed, keep=keep,
                           generator=seeded(5))
        assert torch.equal(reaction, as_edit)
    _, by_person = model.generate(["hug"], torch.tensor([36]), steps=3, given=actor_ids[:1], given_person=1,
                                  generator=seeded(6))
    fixed = torch.zeros(1, 2, 5, 9, dtype=torch.long)
    fixed[:, 1] = actor_ids[:1]
    _, by_map = model.generate(["hug"], torch.tensor([36]), steps=3, fixed_ids=fixed,
                               keep=keep_mask(5, 9, 9, torch.ones(9, dtype=torch.bool), people=(0,))[None],
                               generator=seeded(6))
    assert torch.equal(by_person, by_map)


def test_a_zero_length_edit_gives_the_input_back(model):
    joints = waving_motion(96)
    edited = edit_interaction(model, joints, "two people walk", keep=[(0, 96 / 30)], generator=seeded())
    assert np.array_equal(edited.joints, joints)
    assert torch.equal(edited.ids, tokenize_joints(model, joints)[0]) and edited.seams == []


def test_in_betweening_keeps_tokens_and_reproduces_kept_frames_within_the_tokenizers_error(model):
    joints = waving_motion(96)
    edited = edit_interaction(model, joints, "two people hug", keep=[(0, 0.8), (2.4, 3.2)], blend_frames=8,
                              generator=seeded())
    given_ids = tokenize_joints(model, joints)[0]
    assert torch.equal(edited.ids[edited.keep], given_ids[edited.keep])
    assert not edited.keep[..., 6:18].any() and edited.keep[..., :6].all() and edited.keep[..., 18:].all()
    assert edited.seams == [24, 72]
    error = np.linalg.norm(edited.joints - joints, axis=-1).max(axis=(0, 2))  # per frame
    own_error = np.linalg.norm(reconstruction(model, joints) - joints, axis=-1).max()
    kept = edited.kept_frames.all(axis=0)
    assert kept.sum() == 48 and error[kept].max() <= own_error + 1e-6
    fade = max(person[24] for person in edited.fades)
    assert fade <= 8 and (error[:24 - fade - 1] == 0).all()  # farther than the cross-fade: the input's frames
    # the decoded kept steps far from the edit are the tokenizer's reconstruction: same tokens, same motion
    np.testing.assert_allclose(edited.decoded[:, :8], reconstruction(model, joints)[:, :8], atol=1e-4)


def test_a_body_part_edit_changes_only_that_persons_rows_in_its_time_range(model):
    joints = waving_motion(96)
    edited = edit_interaction(model, joints, "the second person waves", keep=[(0, 1.2)], people=(1,),
                              parts=["arms"], generator=seeded())
    changed = ~edited.keep
    assert changed[1, 4, 9:].all() and changed.sum() == 24 - 9  # person 2's arms row from 1.2 s on, nothing else
    assert np.array_equal(edited.joints[0], joints[0])


def test_continuation_generates_past_the_input(model):
    joints = waving_motion(48)
    edited = edit_interaction(model, joints, "they walk on", keep=[(0, 1.6)], length=120, blend_frames=16,
                              generator=seeded())
    assert edited.joints.shape == (2, 120, 22, 3) and edited.seams == [48]
    before_fade = 48 - max(person[48] for person in edited.fades)  # the input's own frames up to the cross-fade
    assert before_fade >= 32
    assert np.array_equal(edited.joints[:, :before_fade], joints[:, :before_fade])


def test_windows_chain_into_one_clip_of_the_asked_length_that_keeps_each_overlap(model):
    start = waving_motion(96)
    chained = extend_interaction(model, start, ["they walk", "they stop"], length=330, overlap=24, blend_frames=4,
                                 generator=seeded())
    window = model.max_frames - model.max_frames % 4  # 148
    assert chained.joints.shape == (2, 330, 22, 3)
    assert chained.seams == [96, 96 + window - 24]  # 124 new frames, then the last 110
    assert [caption for *_, caption in chained.windows] == ["they walk", "they stop"]
    np.testing.assert_array_equal(chained.joints[:, :96 - 4], start[:, :96 - 4])  # the overlap is kept
    report = seam_jumps(chained.joints, chained.seams, fps=30)
    assert len(report["velocity"]["seams"]) == 2
    with pytest.raises(EditError, match="overlap of 30 frames: a multiple of 4"):
        extend_interaction(model, start, ["x"], length=300, overlap=30)


@pytest.mark.parametrize("kwargs,message", [
    (dict(keep=[(2.0, 1.0)]), "kept range 2:1 s: needs 0 <= start < end <= 3.20"),
    (dict(keep=[(0.0, 9.0)]), "kept range 0:9 s"),
    (dict(parts=["wings"]), "unknown body part 'wings'"),
    (dict(people=(2,)), "people \\[2\\]: name person 0 and/or 1"),
    (dict(length=4000), "an edit is 4000 frames long"),
])
def test_impossible_edits_raise_one_clear_error(model, kwargs, message):
    with pytest.raises(EditError, match=message):
        edit_interaction(model, waving_motion(96), "x", **kwargs)


def test_generated_runs_are_shifted_to_start_and_end_where_the_kept_motion_is():
    from intermask.generation.editing import ground_offsets

    kept = np.array([True] * 4 + [False] * 4 + [True] * 4)
    given = np.zeros((12, 22, 3))
    decoded = np.zeros((12, 22, 3))
    decoded[:, :, 0] = 1.0  # the decoded person stands 1 m off in x ...
    decoded[8:, :, 2] = -2.0  # ... and 2 m off in z after the gap
    offsets = ground_offsets(kept, given, decoded)
    np.testing.assert_allclose(offsets[3], [-1, 0, 0])
    np.testing.assert_allclose(offsets[8], [-1, 0, 2])
    np.testing.assert_allclose(offsets[4:8, 2], [0.4, 0.8, 1.2, 1.6])  # the gap moves from one shift to the next
    assert (offsets[:, 1] == 0).all()
    assert not ground_offsets(np.ones(12, dtype=bool), given, decoded).any()


def test_seam_jumps_find_a_jump_and_leave_smooth_motion_alone():
    joints = waving_motion(90)
    joints[:, 45:] += 0.2  # a 20 cm step at frame 45
    report = seam_jumps(joints, [45], fps=30)
    assert report["velocity"]["seam_max"] > 100 * report["velocity"]["elsewhere_max"]


def test_a_fade_eases_only_its_own_kept_run_and_each_seam_takes_its_own_length():
    kept = np.array([1] * 10 + [0] * 5 + [1] * 3 + [0] * 4 + [1] * 10, dtype=bool)
    weights = fade_weights(kept, {10: 4, 15: 8, 18: 8, 22: 0})
    assert (weights[~kept] == 0).all() and (weights[:6] == 1).all() and (np.diff(weights[5:10]) < 0).all()
    assert (weights[22:] == 1).all()  # no fade at that seam
    assert 0 < weights[15:18].min() and weights[15:18].max() < 1  # a short run fades from both sides, inside itself
    np.testing.assert_array_equal(fade_weights(kept, 4), fade_weights(kept, {10: 4, 15: 4, 18: 4, 22: 4}))


def swaying(frames: int) -> np.ndarray:
    """One person's (frame, 22, 3) joints swaying sideways: a motion with its own velocity changes."""
    t = np.arange(frames)[:, None, None] / 30
    joints = np.zeros((frames, 22, 3)) + np.linspace(0, 1.5, 22)[None, :, None] * [0, 1, 0]
    return joints + 0.2 * np.sin(2 * np.pi * 0.7 * t) * np.array([1.0, 0.0, 0.0])


def test_a_seam_fades_only_as_much_as_its_jump_needs():
    kept = np.arange(120) < 60
    given = swaying(120)
    assert choose_fades(kept, given, given.copy(), 32, 30.0) == {60: 0}  # nothing to hide
    fades = []
    for offset in (0.005, 0.02):
        decoded = given + offset * np.array([1.0, 0.0, 0.0])
        chosen = choose_fades(kept, given, decoded, 48, 30.0)
        weights = fade_weights(kept, chosen)[:, None, None]
        blended = weights * given + (1 - weights) * decoded
        jumps = velocity_and_acceleration_jumps(blended[None], 30.0)[0]
        own = velocity_and_acceleration_jumps(given[None], 30.0)[0]
        span = slice(60 - chosen[60] - 2, 63)
        assert jumps[span].max() <= max(np.percentile(own[3:60], 95), own[span].max()) + 1e-9
        fades.append(chosen[60])
    assert 0 < fades[0] < fades[1]
