import math

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange

from intermask.models import masking
from intermask.models.transformer import InterMTransformer
from intermask.models.masking import (
    bert_corrupt,
    cosine_schedule,
    interaction_masking,
    inverse_cosine_schedule,
    masked_token_loss,
    random_masking,
    transformer_training_loss,
    unroll_remask,
    validity_grid,
)
from helpers.draws import seeded

NUM_CODES = 16
MASK_ID = 16


def tiny_model(**overrides) -> InterMTransformer:
    config = dict(num_codes=NUM_CODES, num_parts=5, max_time=8, token_dim=24, dim=32, depth=2, heads=2, ff_dim=64,
                  dropout=0.0, text_dim=12)
    config.update(overrides)
    torch.manual_seed(0)
    return InterMTransformer(**config)


def test_cosine_schedule_masks_everything_at_start_and_nothing_at_end():
    values = cosine_schedule(torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(values, torch.tensor([1.0, math.cos(math.pi / 4), 0.0]), atol=1e-6, rtol=0)


def test_inverse_cosine_schedule_recovers_the_time():
    times = torch.tensor([0.0, 0.2, 0.5, 0.9, 1.0])
    torch.testing.assert_close(inverse_cosine_schedule(cosine_schedule(times)), times, atol=1e-4, rtol=0)


def test_validity_grid_marks_time_steps_below_each_length_for_both_persons_and_all_parts():
    valid = validity_grid(torch.tensor([2, 4]), num_parts=5, num_time=4)
    assert valid.shape == (2, 2, 5, 4)
    assert valid[0, :, :, :2].all() and not valid[0, :, :, 2:].any()
    assert valid[1].all()


def test_random_masking_never_masks_padding_and_follows_the_cosine_ratio():
    batch, num_tokens = 4000, 50
    valid = torch.ones(batch, num_tokens, dtype=torch.bool)
    valid[:, 40:] = False
    mask = random_masking(valid, seeded())
    assert not mask[:, 40:].any()
    # the ratio applies to each sample's valid tokens: E[cos(pi tau / 2)] = 2 / pi
    full = random_masking(torch.ones(batch, num_tokens, dtype=torch.bool), seeded(1))
    assert full.sum(dim=1).min() >= 1
    assert full.float().mean().item() == pytest.approx(2 / math.pi, abs=0.02)
    assert mask[:, :40].float().mean().item() == pytest.approx(2 / math.pi, abs=0.02)


def test_a_samples_mask_count_depends_on_its_own_length_only_not_on_padding():
    # the same draws of tau: 30 valid tokens padded to 40 or to 750 mask the same number, round(ratio * 30)
    counts = []
    for padded in (40, 750):
        valid = torch.zeros(500, padded, dtype=torch.bool)
        valid[:, :30] = True
        counts.append(random_masking(valid, seeded(5)).sum(dim=1))
    assert torch.equal(counts[0], counts[1])
    ratios = torch.cos(torch.rand(500, generator=seeded(5)) * math.pi / 2)
    assert torch.equal(counts[0], (ratios * 30).round().clamp(min=1).long())


def test_random_masking_is_reproducible_with_a_seeded_generator():
    valid = torch.ones(3, 20, dtype=torch.bool)
    assert torch.equal(random_masking(valid, seeded(3)), random_masking(valid, seeded(3)))


def test_interaction_masking_masks_one_whole_person_and_the_other_in_the_second_half():
    valid = validity_grid(torch.tensor([4, 3, 4, 2]), 5, 4)
    outcomes = set()
    for seed in range(8):
        mask = interaction_masking(valid, seeded(seed))
        assert not (mask & ~valid).any()
        masked_person = []
        for sample in range(4):
            per_person = [mask[sample, n][valid[sample, n]] for n in range(2)]
            fully = [bool(p.all()) for p in per_person]
            empty = [not bool(p.any()) for p in per_person]
            assert sorted(fully) == [False, True] and sorted(empty) == [False, True]
            masked_person.append(fully.index(True))
        assert masked_person[0] == masked_person[1] != masked_person[2] == masked_person[3]
        outcomes.add(masked_person[0])
    assert outcomes == {0, 1}


def test_interaction_masking_rejects_an_odd_batch():
    with pytest.raises(ValueError, match="even batch"):
        interaction_masking(validity_grid(torch.tensor([3, 3, 3]), 5, 3))


def test_bert_corruption_proportions_on_a_large_tensor():
    ids = torch.randint(0, NUM_CODES, (400, 500), generator=seeded(0))
    mask = torch.rand(400, 500, generator=seeded(1)) < 0.5
    corrupted, is_mask_token = bert_corrupt(ids, mask, NUM_CODES, MASK_ID, seeded(2))
    assert torch.equal(corrupted[~mask], ids[~mask])
    assert torch.equal(is_mask_token, corrupted == MASK_ID)
    masked = mask.sum().item()
    mask_fraction = is_mask_token.sum().item() / masked
    changed_code = ((corrupted != ids) & ~is_mask_token).sum().item() / masked
    unchanged = (corrupted == ids)[mask].sum().item() / masked
    assert mask_fraction == pytest.approx(0.9 * 0.88, abs=0.005)
    # a random code equals the true one with probability 1/num_codes
    assert changed_code == pytest.approx(0.1 * (1 - 1 / NUM_CODES), abs=0.005)
    assert unchanged == pytest.approx(0.9 * 0.12 + 0.1 / NUM_CODES, abs=0.005)
    assert corrupted.max() <= MASK_ID and corrupted.min() >= 0


def test_unroll_remask_keeps_the_least_confident_mask_tokens_and_fills_the_rest_with_argmax():
    num_tokens = 400
    corrupted = torch.randint(0, NUM_CODES, (2, num_tokens), generator=seeded(0))
    is_mask_token = torch.zeros(2, num_tokens, dtype=torch.bool)
    is_mask_token[0, :300] = True
    is_mask_token[1, 50:150] = True
    corrupted = corrupted.masked_fill(is_mask_token, MASK_ID)
    logits = torch.randn(2, num_tokens, NUM_CODES, generator=seeded(1)) * 3

    valid = torch.ones(2, num_tokens, dtype=torch.bool)
    valid[1, 200:] = False  # sample 1 holds 200 valid tokens
    new_ids, filled = unroll_remask(logits, corrupted, is_mask_token, valid)

    assert not (filled & ~is_mask_token).any()
    assert torch.equal(new_ids[~filled], corrupted[~filled])
    assert torch.equal(new_ids[filled], logits.argmax(-1)[filled])
    confidence = logits.softmax(-1).max(-1).values
    for sample, num_valid in enumerate((400, 200)):
        ratio = is_mask_token[sample].sum().item() / num_valid
        next_time = min(math.acos(ratio) / (math.pi / 2) + 1 / 21, 1.0)
        expected_kept = max(1, round(math.cos(math.pi * next_time / 2) * num_valid))
        still_masked = is_mask_token[sample] & ~filled[sample]
        assert still_masked.sum().item() == expected_kept
        assert confidence[sample][still_masked].max() <= confidence[sample][filled[sample]].min()
    # sample 1 padded further (as in a batch with a longer partner) unrolls the same way
    pad = 550
    padded = [torch.cat([x[1:], torch.zeros_like(x[1:, :pad])], dim=1) for x in (corrupted, is_mask_token, valid)]
    padded_logits = torch.cat([logits[1:], logits[1:, :pad]], dim=1)
    padded_ids, padded_filled = unroll_remask(padded_logits, *padded)
    assert torch.equal(padded_filled[0, :num_tokens], filled[1]) and not padded_filled[0, num_tokens:].any()
    assert torch.equal(padded_ids[0, :num_tokens], new_ids[1])


def test_masked_token_loss_is_cross_entropy_and_accuracy_over_masked_positions_only():
    logits = torch.randn(3, 7, NUM_CODES, generator=seeded(0))
    targets = torch.randint(0, NUM_CODES, (3, 7), generator=seeded(1))
    mask = torch.rand(3, 7, generator=seeded(2)) < 0.5
    loss, accuracy = masked_token_loss(logits, targets, mask)
    torch.testing.assert_close(loss, F.cross_entropy(logits[mask], targets[mask]))
    assert accuracy.item() == pytest.approx((logits.argmax(-1) == targets)[mask].float().mean().item())

    empty_loss, empty_accuracy = masked_token_loss(logits.requires_grad_(), targets, torch.zeros_like(mask))
    assert empty_loss.item() == 0.0 and empty_loss.requires_grad and math.isnan(empty_accuracy.item())


class RecordingModel(torch.nn.Module):
    """Forwards to the transformer and keeps every input it was given."""

    def __init__(self, model: InterMTransformer):
        super().__init__()
        self.model = model
        self.inputs = []
        for name in ("num_codes", "mask_id", "pad_id"):
            setattr(self, name, getattr(model, name))

    def forward(self, ids, cond, lengths_tokens, **kwargs):
        self.inputs.append(ids.clone())
        return self.model(ids, cond, lengths_tokens, **kwargs)


def recording_loss(monkeypatch) -> list:
    calls = []
    original = masking.masked_token_loss

    def record(logits, targets, mask):
        calls.append((targets.clone(), mask.clone()))
        return original(logits, targets, mask)

    monkeypatch.setattr(masking, "masked_token_loss", record)
    return calls


def test_step_unroll_only_adds_loss_on_still_masked_tokens(monkeypatch):
    calls = recording_loss(monkeypatch)
    model = RecordingModel(tiny_model())
    ids = torch.randint(0, NUM_CODES, (4, 2, 5, 6), generator=seeded(0))
    lengths = torch.tensor([6, 5, 4, 6])
    loss, logs = transformer_training_loss(model, ids, torch.randn(4, 12), lengths, seeded(3), interaction_prob=0.0)

    first_ids, second_ids = model.inputs
    (_, first_mask), (_, second_mask) = calls
    was_mask_token = first_ids == MASK_ID
    filled = was_mask_token & (second_ids != MASK_ID)
    assert filled.any() and (second_ids == MASK_ID).any()
    assert torch.equal(first_ids[~filled], second_ids[~filled])
    assert torch.equal(second_mask, first_mask & ~filled)
    assert loss.item() == pytest.approx(logs["ce"] + logs["ce_unroll"], rel=1e-5)


def test_training_loss_sets_padding_to_pad_id_and_never_asks_for_it(monkeypatch):
    calls = recording_loss(monkeypatch)
    model = RecordingModel(tiny_model())
    ids = torch.randint(0, NUM_CODES, (2, 2, 5, 6), generator=seeded(0))
    lengths = torch.tensor([3, 6])
    transformer_training_loss(model, ids, None, lengths, seeded(1), interaction_prob=0.0, unroll=False)
    valid = validity_grid(lengths, 5, 6)
    assert (model.inputs[0][~valid] == model.pad_id).all()
    (_, mask), = calls
    assert not (mask & ~valid).any()


def test_training_loss_with_interaction_masking_hides_one_person(monkeypatch):
    calls = recording_loss(monkeypatch)
    model = RecordingModel(tiny_model())
    ids = torch.randint(0, NUM_CODES, (2, 2, 5, 4), generator=seeded(0))
    _, logs = transformer_training_loss(model, ids, None, torch.tensor([4, 4]), seeded(1), interaction_prob=1.0)
    assert logs["interaction"] == 1.0
    first_mask = calls[0][1]
    assert sorted(first_mask[0].flatten(1).all(dim=1).tolist()) == [False, True]


def test_training_loss_rejects_odd_batches_when_interaction_masking_may_be_drawn():
    model = tiny_model()
    ids = torch.randint(0, NUM_CODES, (3, 2, 5, 4))
    with pytest.raises(ValueError, match="even batch"):
        transformer_training_loss(model, ids, None, torch.tensor([4, 4, 4]), interaction_prob=0.2)


def test_training_loss_is_finite_and_overfits_a_fixed_tiny_batch():
    model = tiny_model()
    ids = torch.randint(0, NUM_CODES, (4, 2, 5, 6), generator=seeded(0))
    cond = torch.randn(4, 12, generator=seeded(1))
    lengths = torch.tensor([6, 5, 6, 4])

    def evaluation_loss() -> float:
        model.eval()
        with torch.no_grad():
            losses = [transformer_training_loss(model, ids, cond, lengths, seeded(seed))[0] for seed in range(4)]
        model.train()
        return sum(loss.item() for loss in losses) / len(losses)

    before = evaluation_loss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = seeded(2)
    for _ in range(30):
        loss, logs = transformer_training_loss(model, ids, cond, lengths, generator)
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = evaluation_loss()
    assert after < 0.85 * before
    assert {"ce", "accuracy", "interaction", "ce_unroll", "accuracy_unroll"} <= set(logs)


def test_training_loss_is_reproducible_with_a_seeded_generator():
    model = tiny_model().eval()
    ids = torch.randint(0, NUM_CODES, (2, 2, 5, 4), generator=seeded(0))
    first, _ = transformer_training_loss(model, ids, None, torch.tensor([4, 3]), seeded(5))
    second, _ = transformer_training_loss(model, ids, None, torch.tensor([4, 3]), seeded(5))
    assert first.item() == second.item()


def test_flat_token_order_is_person_then_part_then_time():
    # random_masking works on the flat sequence; interaction masking on the grid: the two must agree
    valid = validity_grid(torch.tensor([3]), 5, 3)
    flat = rearrange(valid, "b n p t -> b (n p t)")
    assert flat[0, :3].all() and flat[0, 15:18].all()


def test_the_training_task_draws_masks_per_rank_and_step_so_ranks_differ_and_a_resume_repeats_them(monkeypatch):
    from intermask.motion.layout import INTERHUMAN
    from intermask.training.tasks import TransformerTask
    from helpers.stand_in import tiny_model

    task = TransformerTask(tiny_model(INTERHUMAN), text_cache=None, seed=3)

    def draws(rank, step):
        monkeypatch.setenv("RANK", str(rank))
        return torch.rand(8, generator=task.masking_generator(torch.device("cpu"), step))

    assert torch.equal(draws(0, 5), draws(0, 5))  # a resumed step 5 draws what step 5 drew
    assert not torch.equal(draws(0, 5), draws(1, 5))  # another rank, other masks
    assert not torch.equal(draws(0, 5), draws(0, 6))


def test_resuming_a_transformer_run_on_another_vq_vae_stops(tmp_path):
    import torch

    from intermask.motion.layout import INTERHUMAN
    from intermask.checkpoint import CheckpointError
    from intermask.training.tasks import TransformerTask
    from helpers.stand_in import tiny_model

    saved = TransformerTask(tiny_model(INTERHUMAN), text_cache=None).extra_state()
    TransformerTask(tiny_model(INTERHUMAN), text_cache=None).load_extra_state(saved)  # the same tokenizer: fine
    TransformerTask(tiny_model(INTERHUMAN), text_cache=None).load_extra_state({"generator": torch.empty(0)})
    retrained = tiny_model(INTERHUMAN)
    with torch.no_grad():
        retrained.vq.quantizer.codebook.add_(0.01)  # the VQ-VAE run went on and wrote a new last.pt
    with pytest.raises(CheckpointError, match="trained on another VQ-VAE than the one vq_ckpt gives now"):
        TransformerTask(retrained, text_cache=None).load_extra_state(saved)


def test_transformer_validation_reports_how_much_the_captions_lower_the_loss():
    from intermask.motion.layout import INTERHUMAN
    from intermask.training.tasks import TransformerTask
    from helpers.stand_in import tiny_model

    torch.manual_seed(0)
    model = tiny_model(INTERHUMAN)
    with torch.no_grad():
        for parameter in model.transformer.parameters():
            if not parameter.any():  # the zero-initialised text modulation, as after some training
                parameter.normal_(0.0, 0.5)
    parts, steps = model.vq.layout.num_parts, 6
    batch = {"ids": torch.randint(0, model.vq.num_codes, (4, 2, parts, steps)),
             "length_tokens": torch.tensor([6, 6, 5, 4]),
             "text": ["one caption", "another caption", "a third caption", "a fourth one"]}
    logs = TransformerTask(model, text_cache=None).validate([batch])
    assert logs["val_text_gain"] == pytest.approx(logs["val_ce_other_text"] - logs["val_ce"])
    assert logs["val_text_gain"] != 0.0  # the stand-in's logits depend on its captions

    same = {**batch, "text": ["one caption"] * 4}  # captions passed on to another sample change nothing
    logs = TransformerTask(model, text_cache=None).validate([same])
    assert logs["val_text_gain"] == pytest.approx(0.0, abs=1e-6)
