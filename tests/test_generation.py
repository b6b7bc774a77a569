import math

import pytest
import torch

from intermask.generation import (
    categorical_sample,
    generate,
    generate_reaction,
    guided_logits,
    gumbel_sample,
    sample_top_k,
    top_k_filter,
)
from helpers.stand_in import CaptionHash
from helpers.draws import seeded
from intermask.models.transformer import InterMTransformer
from intermask.models.masking import validity_grid

NUM_CODES = 16
TEXT_DIM = 12


def tiny_model() -> InterMTransformer:
    torch.manual_seed(0)
    model = InterMTransformer(num_codes=NUM_CODES, num_parts=5, max_time=8, token_dim=24, dim=32, depth=2, heads=2,
                              ff_dim=64, dropout=0.1, text_dim=TEXT_DIM)
    # weights as after some training: non-zero modulation, so that the text condition changes the logits
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.normal_(0.0, 1.0 / math.sqrt(module.weight.shape[1]))
                module.bias.normal_(0.0, 0.3)
    return model


class RecordingModel(torch.nn.Module):
    """The transformer, keeping each input batch its network was asked about."""

    def __init__(self, model: InterMTransformer):
        super().__init__()
        self.model = model
        self.inputs = []
        for name in ("num_codes", "num_parts", "max_time", "text_dim", "mask_id", "pad_id", "sep_id"):
            setattr(self, name, getattr(model, name))
        self.check_inputs = model.check_inputs
        self.conditions = []

    def embed_condition(self, cond, batch, *args, **kwargs):
        self.conditions.append(None if cond is None else cond.clone())
        return self.model.embed_condition(cond, batch, *args, **kwargs)

    def length_plan(self, lengths_tokens, num_time):
        return self.model.length_plan(lengths_tokens, num_time)

    def planned_logits(self, ids, condition, plan):
        self.inputs.append(ids.clone())
        return self.model.planned_logits(ids, condition, plan)

    def forward(self, ids, cond=None, lengths_tokens=None, **kwargs):
        return self.model(ids, cond, lengths_tokens, **kwargs)


def test_top_k_filter_keeps_103_of_1024_logits_at_ratio_09():
    logits = torch.randn(3, 1024, generator=seeded())
    filtered = top_k_filter(logits, 0.9)
    kept = torch.isfinite(filtered)
    assert kept.sum(dim=-1).tolist() == [103, 103, 103]
    assert torch.equal(filtered[kept], logits[kept])
    assert (logits[~kept].view(3, -1).max(dim=-1).values <= filtered.max(dim=-1).values).all()
    threshold = logits.topk(103, dim=-1).values[:, -1:]
    assert (logits[kept].view(3, -1) >= threshold).all()


def test_temperature_zero_is_greedy_for_both_samplers():
    logits = torch.randn(4, 5, NUM_CODES, generator=seeded())
    assert torch.equal(gumbel_sample(logits, 0.0), logits.argmax(-1))
    assert torch.equal(categorical_sample(logits, 0.0), logits.argmax(-1))


@pytest.mark.parametrize("sampler", [categorical_sample, gumbel_sample])
def test_samplers_draw_from_softmax_of_logits_over_temperature(sampler):
    logits = torch.tensor([0.0, 1.0, 2.0]).expand(20000, 3)
    for temperature in (1.0, 2.0):
        draws = sampler(logits, temperature, seeded(1))
        frequencies = torch.bincount(draws, minlength=3).float() / draws.numel()
        torch.testing.assert_close(frequencies, torch.softmax(logits[0] / temperature, -1), atol=0.015, rtol=0)


@pytest.mark.parametrize("gumbel", [False, True], ids=["multinomial", "gumbel"])
def test_top_k_sampling_draws_from_the_softmax_of_the_kept_logits_only(gumbel):
    row = torch.tensor([0.5, 2.0, -1.0, 1.0, 3.0, 0.0, -2.0, 1.5])
    logits = row.expand(40000, 8)
    kept = row.topk(4).indices  # ratio 0.5 of 8 codes keeps 4
    for temperature in (1.0, 2.0):
        draws = sample_top_k(logits, 0.5, temperature, gumbel, seeded(2))
        frequencies = torch.bincount(draws, minlength=8).float() / draws.numel()
        expected = torch.softmax(top_k_filter(row[None], 0.5)[0] / temperature, -1)
        torch.testing.assert_close(frequencies, expected, atol=0.012, rtol=0)
        assert set(draws.unique().tolist()) == set(kept.tolist())
    assert torch.equal(sample_top_k(logits[:3], 0.5, 0.0, gumbel), torch.full((3,), 4))
    with pytest.raises(ValueError, match="ratio"):
        sample_top_k(logits, 1.0)


def test_cfg_scale_one_returns_the_conditional_logits_exactly():
    model = tiny_model().eval()
    ids = torch.randint(0, NUM_CODES, (2, 2, 5, 4), generator=seeded())
    cond, lengths = torch.randn(2, TEXT_DIM), torch.tensor([4, 3])
    assert torch.equal(guided_logits(model, ids, cond, lengths, 1.0), model(ids, cond, lengths))


def test_cfg_combines_conditional_and_null_logits_from_one_batched_pass():
    model = RecordingModel(tiny_model().eval())
    ids = torch.randint(0, NUM_CODES, (2, 2, 5, 4), generator=seeded())
    cond, lengths = torch.randn(2, TEXT_DIM), torch.tensor([4, 3])
    guided = guided_logits(model, ids, cond, lengths, 2.0)
    assert len(model.inputs) == 1 and model.inputs[0].shape[0] == 4
    conditional, null = model(ids, cond, lengths), model(ids, None, lengths)
    assert not torch.allclose(conditional, null, atol=1e-3)
    torch.testing.assert_close(guided, null + 2.0 * (conditional - null), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(guided_logits(model, ids, None, lengths, 2.0), null)


@torch.no_grad()
def test_guided_logits_come_out_in_float32_under_bf16_autocast_and_near_the_float32_ones():
    model = tiny_model().eval()
    ids = torch.randint(0, NUM_CODES, (2, 2, 5, 4), generator=seeded())
    cond, lengths = torch.randn(2, TEXT_DIM), torch.tensor([4, 3])
    exact = guided_logits(model, ids, cond, lengths, 2.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = guided_logits(model, ids, cond, lengths, 2.0)
        valid = validity_grid(lengths, 5, 4)
        decoded = generate(model, cond, lengths, steps=3, generator=seeded())
    assert low.dtype == torch.float32 and exact.dtype == torch.float32
    assert not torch.equal(low, exact)  # it really ran in bf16
    torch.testing.assert_close(low, exact, atol=0.15 * float(exact.abs().max()), rtol=0.0)
    assert ((decoded[valid] >= 0) & (decoded[valid] < NUM_CODES)).all() and (decoded[~valid] == model.pad_id).all()


def test_generate_fills_every_valid_position_with_a_code_and_keeps_padding():
    model = tiny_model()
    lengths = torch.tensor([7, 4, 1])
    ids = generate(model, torch.randn(3, TEXT_DIM), lengths, steps=6, generator=seeded())
    assert ids.shape == (3, 2, 5, 7)
    valid = validity_grid(lengths, 5, 7)
    assert ((ids[valid] >= 0) & (ids[valid] < NUM_CODES)).all()
    assert (ids[~valid] == model.pad_id).all()
    assert model.training, "generate must restore the model's training mode"


def test_generate_with_the_same_seed_gives_the_same_tokens():
    model = tiny_model()
    cond, lengths = torch.randn(2, TEXT_DIM), torch.tensor([6, 5])
    for gumbel in (False, True):
        first = generate(model, cond, lengths, steps=5, gumbel=gumbel, generator=seeded(7))
        second = generate(model, cond, lengths, steps=5, gumbel=gumbel, generator=seeded(7))
        other = generate(model, cond, lengths, steps=5, gumbel=gumbel, generator=seeded(8))
        assert torch.equal(first, second)
        assert not torch.equal(first, other)


def test_each_step_masks_the_cosine_scheduled_number_of_tokens():
    model = RecordingModel(tiny_model())
    lengths = torch.tensor([6, 3])
    steps = 5
    generate(model, None, lengths, steps=steps, generator=seeded())
    assert len(model.inputs) == steps
    to_decode = (2 * 5 * lengths).tolist()
    previous = None
    for step, ids in enumerate(model.inputs):
        tau = step / (steps - 1)
        is_mask = ids == model.mask_id
        for sample in range(2):
            expected = max(1, round(math.cos(math.pi * tau / 2) * to_decode[sample]))
            assert is_mask[sample].sum().item() == expected
        if previous is not None:
            # only tokens sampled in the previous step can be masked again
            assert not (is_mask & ~previous).any()
        previous = is_mask


def test_the_decoding_loop_embeds_the_text_once_and_runs_only_the_network_per_step():
    model = RecordingModel(tiny_model())
    cond = torch.randn(2, TEXT_DIM)
    generate(model, cond, torch.tensor([6, 3]), steps=5, generator=seeded())
    assert len(model.inputs) == 5  # one batched CFG pass per step ...
    assert len(model.conditions) == 1  # ... all from one condition: the text and its null, embedded once
    torch.testing.assert_close(model.conditions[0], torch.cat((cond, torch.zeros_like(cond))))


def test_generate_rejects_text_features_with_nan():
    cond = torch.randn(1, TEXT_DIM)
    cond[0, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        generate(tiny_model(), cond, torch.tensor([3]), steps=2, generator=seeded())


def test_reaction_mode_never_changes_the_given_persons_tokens():
    model = RecordingModel(tiny_model())
    lengths = torch.tensor([5, 3])
    actor_ids = torch.randint(0, NUM_CODES, (2, 5, 5), generator=seeded())
    valid = validity_grid(lengths, 5, 5)
    for actor in (0, 1):
        model.inputs.clear()
        ids = generate_reaction(model, actor_ids, torch.randn(2, TEXT_DIM), lengths, actor=actor, generator=seeded())
        reactor = 1 - actor
        assert len(model.inputs) == 10  # default 10 steps, each one batched CFG pass
        for step_ids in model.inputs:
            given = step_ids[:2, actor]
            assert torch.equal(given[valid[:, actor]], actor_ids[valid[:, actor]])
        assert torch.equal(ids[:, actor][valid[:, actor]], actor_ids[valid[:, actor]])
        assert ((ids[:, reactor][valid[:, reactor]] >= 0) & (ids[:, reactor][valid[:, reactor]] < NUM_CODES)).all()
        assert (ids[~valid] == model.pad_id).all()
        # the first step masks every reactor token and nothing of the actor
        first = model.inputs[0][:2]
        assert (first[:, reactor][valid[:, reactor]] == model.mask_id).all()


def test_reaction_without_text_runs_a_single_null_pass_per_step():
    model = RecordingModel(tiny_model())
    actor_ids = torch.randint(0, NUM_CODES, (2, 5, 4), generator=seeded())
    generate_reaction(model, actor_ids, None, torch.tensor([4, 2]), steps=3, generator=seeded())
    assert [ids.shape[0] for ids in model.inputs] == [2, 2, 2]


def test_generate_with_one_step_decodes_everything_at_once():
    model = tiny_model()
    ids = generate(model, None, torch.tensor([3]), steps=1, generator=seeded())
    assert (ids < NUM_CODES).all()


@pytest.mark.parametrize(
    "lengths, cond_shape, steps, message",
    [
        ([9], (1, TEXT_DIM), 4, "max_time"),
        ([0, 3], (2, TEXT_DIM), 4, "lengths_tokens"),
        ([3], (1, 5), 4, "cond must be"),
        ([3], (1, TEXT_DIM), 0, "steps"),
    ],
)
def test_generate_rejects_bad_requests(lengths, cond_shape, steps, message):
    with pytest.raises(ValueError, match=message):
        generate(tiny_model(), torch.zeros(cond_shape), torch.tensor(lengths), steps=steps)


@pytest.mark.parametrize("cond_scale", [float("nan"), float("inf"), -0.5, "strong"])
def test_generate_rejects_a_guidance_scale_that_is_no_finite_number_from_zero_up(cond_scale):
    with pytest.raises(ValueError, match="generate: a guidance scale must be"):
        generate(tiny_model(), torch.zeros(1, TEXT_DIM), torch.tensor([3]), steps=2, cond_scale=cond_scale)


def test_remask_noise_changes_which_tokens_are_masked_again_but_not_how_many():
    model = RecordingModel(tiny_model())
    cond, lengths = torch.randn(2, TEXT_DIM), torch.tensor([6, 4])
    masks = {}
    for noise in (0.0, 4.5):
        model.inputs.clear()
        ids = generate(model, cond, lengths, steps=5, generator=seeded(3), remask_noise=noise)
        masks[noise] = [step_ids[:2] == model.mask_id for step_ids in model.inputs]
        valid = validity_grid(lengths, 5, 6)
        assert ((ids[valid] >= 0) & (ids[valid] < NUM_CODES)).all() and (ids[~valid] == model.pad_id).all()
        again = generate(model, cond, lengths, steps=5, generator=seeded(3), remask_noise=noise)
        assert torch.equal(ids, again), "the noise comes from the generator: the same seed, the same tokens"
    # the schedule's counts are the same; the second step's choice of tokens differs
    for plain, noisy in zip(masks[0.0], masks[4.5]):
        assert torch.equal(plain.sum(dim=(1, 2, 3)), noisy.sum(dim=(1, 2, 3)))
    assert not torch.equal(masks[0.0][1], masks[4.5][1])


def test_with_noise_the_tokens_masked_again_need_not_be_the_least_confident(monkeypatch):
    from intermask.generation import decoding

    model = RecordingModel(tiny_model())
    cond, lengths = torch.randn(1, TEXT_DIM), torch.tensor([6])
    confidences = []
    real_sample = decoding.sample_top_k

    def sample(logits, *args, **kwargs):
        sampled = real_sample(logits, *args, **kwargs)
        confidences.append(logits.float().softmax(-1).gather(-1, sampled[..., None])[..., 0])
        return sampled

    monkeypatch.setattr(decoding, "sample_top_k", sample)
    for noise, least_confident in ((0.0, True), (50.0, False)):
        model.inputs.clear()
        confidences.clear()
        generate(model, cond, lengths, steps=3, generator=seeded(5), remask_noise=noise)
        again = (model.inputs[1][:1] == model.mask_id).flatten()
        first = confidences[0].flatten()
        threshold = first[again].max()
        # without noise, every token masked again is less confident than every token kept
        assert bool((first[~again] >= threshold).all()) == least_confident


@pytest.mark.parametrize("noise", [-1.0, float("nan"), float("inf"), True, "much"])
def test_generate_rejects_a_remask_noise_that_is_no_finite_number_from_zero_up(noise):
    with pytest.raises(ValueError, match="remask_noise must be a finite number >= 0"):
        generate(tiny_model(), torch.zeros(1, TEXT_DIM), torch.tensor([3]), steps=2, remask_noise=noise)


@pytest.mark.parametrize("setting, published, own, asked, bad", [
    ("cond_scale", 2.0, 1.5, 4.0, float("nan")),  # no setting (the published models): the paper's 2.0
    ("remask_noise", 0.0, 2.0, 0.0, -1.0),  # no setting: by confidence alone
])
def test_a_model_samples_with_its_own_setting_unless_the_caller_gives_one(monkeypatch, setting, published, own, asked,
                                                                          bad):
    from helpers.stand_in import tiny_model as stand_in_model
    from intermask.generation import interaction_model

    used = []

    def decode(*args, **kwargs):
        used.append(kwargs[setting])
        return generate(*args, **kwargs)

    monkeypatch.setattr(interaction_model, "generate", decode)
    lengths = torch.tensor([24, 16])
    for config, given, expected in (({}, None, published), ({setting: own}, None, own), ({setting: own}, asked, asked)):
        model = stand_in_model(config=config)
        model.generate(["two people hug"] * 2, lengths, steps=2, generator=seeded(4), **{setting: given})
        assert used.pop() == expected
    with pytest.raises(ValueError, match=f"config {setting}"):
        stand_in_model(config={setting: bad})


def test_decoding_a_batch_of_mixed_lengths_in_groups_draws_the_tokens_of_the_padded_batch():
    grouped, padded = tiny_model(), tiny_model()
    padded.length_groups = 1
    cond, lengths = torch.randn(4, TEXT_DIM, generator=seeded(2)), torch.tensor([6, 2, 5, 3])
    assert len(grouped.length_plan(torch.cat((lengths, lengths)), 6).groups) > 1
    fast = generate(grouped, cond, lengths, steps=4, generator=seeded(5))
    slow = generate(padded, cond, lengths, steps=4, generator=seeded(5))
    assert torch.equal(fast, slow)


def test_a_generated_clip_is_decoded_from_its_own_tokens_only():
    from intermask.official.weights import WidthOnlyBackbone
    from intermask.generation.interaction_model import InterMask
    from intermask.models.text import TextEncoder
    from intermask.models.vqvae import MotionVQVAE

    torch.manual_seed(0)
    vq = MotionVQVAE(width=16, code_dim=24, num_codes=NUM_CODES, depth=1)
    vq.quantizer.set_codebook(torch.randn(NUM_CODES, 24))
    text = TextEncoder(WidthOnlyBackbone(TEXT_DIM), num_layers=1, heads=2, ff_dim=16)
    model = InterMask(vq, tiny_model(), text, torch.zeros(vq.layout.dim), torch.ones(vq.layout.dim)).eval()
    lengths = torch.tensor([32, 12, 20])  # frames: 8, 3 and 5 token steps
    ids, features = model.generate(None, lengths, steps=3, generator=seeded(0))
    assert features.shape == (3, 2, 32, vq.layout.dim)
    for row, frames in enumerate(lengths.tolist()):
        alone = model.decode(ids[row:row + 1, :, :, :frames // 4])[0]
        torch.testing.assert_close(features[row, :, :frames], alone, rtol=1e-5, atol=1e-6)
        assert (features[row, :, frames:] == 0).all()


def decoding_models(config: dict):
    """Two InterMask around one random tokenizer, normalizer and text encoder: one without settings, one with
    ``config``; (plain, configured)."""
    from intermask.generation.interaction_model import InterMask
    from intermask.models.text import TextEncoder
    from intermask.models.vqvae import MotionVQVAE
    from intermask.official.weights import WidthOnlyBackbone

    torch.manual_seed(0)
    vq = MotionVQVAE(width=16, code_dim=24, num_codes=NUM_CODES, depth=1)
    vq.quantizer.set_codebook(torch.randn(NUM_CODES, 24))
    text = TextEncoder(WidthOnlyBackbone(TEXT_DIM), num_layers=1, heads=2, ff_dim=16)
    mean, std = torch.randn(vq.layout.dim), torch.rand(vq.layout.dim) + 0.5
    return (InterMask(vq, tiny_model(), text, mean, std).eval(),
            InterMask(vq, tiny_model(), text, mean, std, config).eval())


def test_with_velocities_from_positions_the_decoded_velocities_are_the_decoded_positions_differences():
    plain, model = decoding_models({"velocities_from_positions": True})
    layout = model.layout
    ids = torch.randint(0, NUM_CODES, (2, 2, layout.num_parts, 6))
    lengths = torch.tensor([6, 3])  # token steps: 24 and 12 frames
    before, after = plain.decode(ids, lengths), model.decode(ids, lengths)
    raw, raw_before = model.denormalize(after), plain.denormalize(before)
    positions, velocities = raw[..., layout.position], raw[..., layout.velocity]
    for row, frames in enumerate((24, 12)):
        steps = positions[row, :, 1:frames] - positions[row, :, :frames - 1]
        torch.testing.assert_close(velocities[row, :, :frames - 1], steps, atol=1e-4, rtol=1e-4)
        assert (after[row, :, frames:] == 0).all()
    assert not torch.allclose(velocities, raw_before[..., layout.velocity], atol=1e-3)
    # everything but the velocities is decoded as before
    others = torch.ones(layout.dim, dtype=torch.bool)
    others[layout.velocity] = False
    assert torch.equal(after[..., others], before[..., others])


def test_with_a_lowpass_the_decoded_motion_shakes_less_and_the_contacts_and_pads_are_as_decoded():
    from intermask.generation.interaction_model import InterMask

    plain, model = decoding_models({"lowpass_hz": 6.0, "velocities_from_positions": True})
    layout = model.layout
    ids = torch.randint(0, NUM_CODES, (2, 2, layout.num_parts, 6))
    lengths = torch.tensor([6, 3])  # token steps: 24 and 12 frames
    before, after = plain.decode(ids, lengths), model.decode(ids, lengths)

    def shaking(features, frames):  # mean absolute second difference of the joint positions
        positions = model.denormalize(features)[..., :frames, layout.position]
        return (positions[..., 2:, :] - 2 * positions[..., 1:-1, :] + positions[..., :-2, :]).abs().mean()

    for row, frames in enumerate((24, 12)):
        assert shaking(after[row], frames) < 0.7 * shaking(before[row], frames)
        assert (after[row, :, frames:] == 0).all()
    torch.testing.assert_close(after[..., layout.contact], before[..., layout.contact])
    # asked per call: 0 turns it off (the velocities are still taken from the positions), None keeps it as it is
    assert model.use_lowpass(None) == 6.0 and model.use_lowpass(0) is None
    plain_velocities = InterMask(model.vq, tiny_model(), model.text_encoder, model.mean, model.std,
                                 {"velocities_from_positions": True}).eval()
    torch.testing.assert_close(model.decode(ids, lengths), plain_velocities.decode(ids, lengths))
    assert model.use_lowpass(6) == 6.0 and torch.equal(model.decode(ids, lengths), after)
    with pytest.raises(ValueError, match="config lowpass_hz must be null"):
        InterMask(model.vq, tiny_model(), model.text_encoder, model.mean, model.std, {"lowpass_hz": 15.0})


def person_view_model(person_views, view_contrast=1.0):
    from intermask.generation.interaction_model import InterMask
    from intermask.models.text import TextEncoder
    from intermask.models.vqvae import MotionVQVAE

    torch.manual_seed(0)
    vq = MotionVQVAE(width=16, code_dim=24, num_codes=NUM_CODES, depth=1)
    vq.quantizer.set_codebook(torch.randn(NUM_CODES, 24))
    transformer = InterMTransformer(num_codes=NUM_CODES, num_parts=5, max_time=8, token_dim=24, dim=32, depth=1,
                                    heads=2, ff_dim=64, dropout=0.0, text_dim=CaptionHash.feature_dim)
    text = TextEncoder(CaptionHash(), num_layers=1, heads=2, ff_dim=16, dropout=0.0)
    config = {"person_views": person_views, "view_contrast": view_contrast} if person_views else {}
    return InterMask(vq, transformer, text, torch.zeros(vq.layout.dim), torch.ones(vq.layout.dim), config).eval()


def test_with_person_views_the_second_person_reads_the_caption_with_the_names_exchanged():
    model = person_view_model(["first person", "second person"])
    caption, swapped = "The first person pushes the second person", "The second person pushes the first person"
    assert model.caption_views([caption, "two people hug"]) == [caption, "two people hug", swapped, "two people hug"]
    cond = model.encode_text([caption, swapped])
    assert cond.shape == (2, 2, CaptionHash.feature_dim)
    # person 2 of a caption is conditioned as person 1 of its name-swapped twin, and the other way round
    torch.testing.assert_close(cond[0, 1], cond[1, 0])
    torch.testing.assert_close(cond[0, 0], cond[1, 1])
    assert not torch.allclose(cond[0, 0], cond[0, 1])
    # training reads the same views from cached frozen features
    frozen, eot = model.text_encoder.frozen_features(model.caption_views([caption, swapped]))
    torch.testing.assert_close(model.condition_from_frozen(frozen, eot), cond)


def test_view_contrast_magnifies_the_difference_between_the_two_conditions_about_their_mean():
    names = ["first person", "second person"]
    captions = ["the first person pushes the second person", "two people hug"]
    plain = person_view_model(names).encode_text(captions)
    magnified = person_view_model(names, view_contrast=4.0).encode_text(captions)
    torch.testing.assert_close(magnified.mean(1), plain.mean(1))
    torch.testing.assert_close(magnified[:, 0] - magnified[:, 1], 4 * (plain[:, 0] - plain[:, 1]))
    torch.testing.assert_close(magnified[1, 0], magnified[1, 1])  # a caption without names: one condition


def test_without_person_views_both_people_share_one_condition():
    model = person_view_model(None)
    assert model.caption_views(["the first person waves"]) == ["the first person waves"]
    assert model.encode_text(["the first person waves"]).shape == (1, CaptionHash.feature_dim)
    ids, _ = model.generate(["the first person waves"], torch.tensor([16]), steps=2, generator=seeded(0))
    assert ids.shape == (1, 2, 5, 4)


def test_a_model_with_person_views_generates_from_its_per_person_conditions():
    model = person_view_model(["first person", "second person"])
    captions = ["the first person waves at the second person", "the second person waves at the first person"]
    ids, features = model.generate(captions, torch.tensor([16, 12]), steps=2, generator=seeded(0))
    assert ids.shape == (2, 2, 5, 4) and features.shape[:3] == (2, 2, 16)
