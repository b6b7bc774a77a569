import math

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange

from intermask.models import attention as attention_module
from intermask.models.attention import MultiheadAttention
from intermask.models.transformer import (
    AdaLNModulation,
    AttentionMasks,
    InterMTransformer,
    LengthPlan,
    sinusoid_2d,
)
from intermask.models.masking import validity_grid

NUM_CODES = 16
TEXT_DIM = 12


def tiny_model(**overrides) -> InterMTransformer:
    config = dict(num_codes=NUM_CODES, num_parts=5, max_time=8, token_dim=24, dim=32, depth=2, heads=2, ff_dim=64,
                  dropout=0.0, text_dim=TEXT_DIM)
    config.update(overrides)
    torch.manual_seed(0)
    return InterMTransformer(**config)


def with_active_modulation(model: InterMTransformer) -> InterMTransformer:
    """Weights as after some training: every adaLN gives non-zero gates and every layer moves its input."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                fan_in = module.weight.shape[1]
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) / math.sqrt(fan_in))
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.5)
        model.token_emb.weight.copy_(torch.randn(model.token_emb.weight.shape, generator=generator))
    return model.eval()


def random_ids(batch: int, num_time: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, NUM_CODES, (batch, 2, 5, num_time), generator=torch.Generator().manual_seed(seed))


def test_special_token_ids_follow_num_codes():
    model = tiny_model()
    assert (model.mask_id, model.pad_id, model.sep_id) == (16, 17, 18)
    assert model.token_emb.num_embeddings == 19
    default = InterMTransformer(depth=1)
    assert (default.mask_id, default.pad_id, default.sep_id) == (1024, 1025, 1026)


def test_logits_cover_codes_only_for_odd_length_with_padding():
    model = tiny_model().eval()
    logits = model(random_ids(3, 7), torch.randn(3, TEXT_DIM), torch.tensor([7, 4, 1]))
    assert logits.shape == (3, 2, 5, 7, NUM_CODES)
    assert torch.isfinite(logits).all()


def test_changing_padding_ids_leaves_valid_logits_unchanged():
    model = with_active_modulation(tiny_model())
    ids = random_ids(2, 7)
    lengths = torch.tensor([4, 6])
    valid = validity_grid(lengths, 5, 7)
    scrambled = torch.where(valid, ids, random_ids(2, 7, seed=5))
    assert not torch.equal(scrambled, ids)
    cond = torch.randn(2, TEXT_DIM)
    before = model(ids, cond, lengths)
    after = model(scrambled, cond, lengths)
    torch.testing.assert_close(before[valid], after[valid], atol=1e-5, rtol=1e-5)


def test_padded_sample_gives_the_logits_of_the_unpadded_sample():
    model = with_active_modulation(tiny_model())
    ids = random_ids(1, 7)
    cond = torch.randn(1, TEXT_DIM)
    padded = model(ids, cond, torch.tensor([5]))[..., :5, :]
    unpadded = model(ids[..., :5], cond, torch.tensor([5]))
    torch.testing.assert_close(padded, unpadded, atol=1e-5, rtol=1e-5)


def test_swapping_persons_swaps_logits_since_weights_and_positions_are_shared():
    model = with_active_modulation(tiny_model())
    ids = random_ids(2, 6)
    cond = torch.randn(2, TEXT_DIM)
    lengths = torch.tensor([6, 3])
    logits = model(ids, cond, lengths)
    swapped = model(ids.flip(1), cond, lengths)
    valid = validity_grid(lengths, 5, 6)
    torch.testing.assert_close(swapped.flip(1)[valid], logits[valid], atol=1e-5, rtol=1e-5)


def test_persons_interact_through_attention():
    model = with_active_modulation(tiny_model())
    ids = random_ids(1, 6)
    other = ids.clone()
    other[:, 1] = random_ids(1, 6, seed=9)[:, 1]
    logits, changed = model(ids), model(other)
    assert (logits[:, 0] - changed[:, 0]).abs().max() > 1e-2


def block_input(model: InterMTransformer, num_time: int, lengths: torch.Tensor):
    batch = lengths.shape[0]
    x = torch.randn(batch, 2 * 5 * num_time + 1, 32)
    cond = torch.randn(batch, 32)
    masks = AttentionMasks.from_validity(validity_grid(lengths, 5, num_time))
    return x, cond, masks


def test_unpadded_batches_attend_without_masks_and_match_the_all_valid_masks():
    model = with_active_modulation(tiny_model()).eval()
    ids, cond = random_ids(2, 6), torch.randn(2, TEXT_DIM)
    masks = AttentionMasks.for_lengths(torch.tensor([6, 6]), 5, 6)
    assert masks.sequence is None and masks.temporal is None and masks.cross is None
    all_valid = AttentionMasks.from_validity(validity_grid(torch.tensor([6, 6]), 5, 6))
    condition = model.embed_condition(cond, 2)
    torch.testing.assert_close(model(ids, cond), model.logits(ids, condition, all_valid), atol=1e-5, rtol=1e-5)
    padded = AttentionMasks.for_lengths(torch.tensor([6, 4]), 5, 6)
    assert padded.sequence.shape == (2, 61) and not bool(padded.temporal.all())


def test_block_is_identity_at_init_because_adaln_gates_start_at_zero():
    model = tiny_model().eval()
    x, cond, masks = block_input(model, 7, torch.tensor([7, 3]))
    for block in model.blocks:
        torch.testing.assert_close(block(x, cond, masks), x)


def test_parity_block_doubles_the_person_tokens_at_init():
    model = tiny_model(parity=True).eval()
    x, cond, masks = block_input(model, 7, torch.tensor([7, 3]))
    out = model.blocks[0](x, cond, masks)
    person_len = 5 * 7
    torch.testing.assert_close(out[:, :person_len], 2 * x[:, :person_len])
    torch.testing.assert_close(out[:, person_len], x[:, person_len])
    torch.testing.assert_close(out[:, person_len + 1:], 2 * x[:, person_len + 1:])


def norm(x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], eps=1e-6)


def open_gates(block, chunks: list[int], dim: int = 32) -> None:
    """Set the listed chunks of the per-person adaLN to a constant 1, everything else stays 0."""
    with torch.no_grad():
        for chunk in chunks:
            block.person_modulation.net[-1].bias[chunk * dim:(chunk + 1) * dim] = 1.0


@pytest.mark.parametrize("parity", [False, True])
def test_block_adds_gated_spatial_temporal_and_cross_attention_as_specified(parity):
    model = with_active_modulation(tiny_model(parity=parity))
    block = model.blocks[0]
    with torch.no_grad():
        block.joint_modulation.net[-1].weight.zero_()
        block.joint_modulation.net[-1].bias.zero_()
        block.person_modulation.net[-1].weight.zero_()
        block.person_modulation.net[-1].bias.zero_()
    open_gates(block, [2, 5, 10])  # spatial, temporal and cross gates; every shift and scale is 0
    lengths = torch.tensor([7, 3])
    x, cond, masks = block_input(model, 7, lengths)
    valid = validity_grid(lengths, 5, 7)

    persons = rearrange(torch.stack((x[:, :35], x[:, 36:]), dim=1), "b n (p t) d -> b n p t d", p=5)
    spatial = rearrange(block.spatial_attn(rearrange(norm(persons), "b n p t d -> (b n t) p d")),
                        "(b n t) p d -> b n p t d", n=2, t=7)
    temporal = rearrange(
        block.temporal_attn(rearrange(norm(persons), "b n p t d -> (b n p) t d"),
                            key_valid=rearrange(valid, "b n p t -> (b n p) t")),
        "(b n p) t d -> b n p t d", n=2, p=5)
    residual = 2 * persons if parity else persons
    combined = residual + spatial + temporal
    cross = rearrange(
        block.cross_attn(rearrange(norm(combined), "b n p t d -> (b n) (p t) d"),
                         rearrange(norm(persons.flip(1)), "b n p t d -> (b n) (p t) d"),
                         key_valid=rearrange(valid.flip(1), "b n p t -> (b n) (p t)")),
        "(b n) (p t) d -> b n p t d", n=2, p=5)
    expected = combined + cross

    out = block(x, cond, masks)
    got = rearrange(torch.stack((out[:, :35], out[:, 36:]), dim=1), "b n (p t) d -> b n p t d", p=5)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out[:, 35], x[:, 35])


def test_adaln_layers_and_output_modulation_are_zero_initialised():
    model = tiny_model()
    modulations = [m for m in model.modules() if isinstance(m, AdaLNModulation)]
    assert len(modulations) == 2 * 2 + 1
    assert [m.chunks for m in modulations] == [6, 14, 6, 14, 2]
    for module in modulations:
        assert torch.count_nonzero(module.net[-1].weight) == 0
        assert torch.count_nonzero(module.net[-1].bias) == 0


def test_linear_and_embedding_weights_start_normal_with_std_002_and_zero_bias():
    model = InterMTransformer(depth=1)
    assert model.token_emb.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.head.to_logits.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.blocks[0].joint_ffn.net[0].weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert torch.count_nonzero(model.head.to_logits.bias) == 0
    # the packed q/k/v projection keeps torch MultiheadAttention's Xavier-uniform start
    in_proj = model.blocks[0].self_attn.in_proj.weight
    bound = math.sqrt(6.0 / (in_proj.shape[0] + in_proj.shape[1]))
    assert in_proj.abs().max().item() <= bound
    assert in_proj.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)


def test_attention_stores_packed_qkv_projection_like_torch_multihead_attention():
    model = tiny_model()
    attn = model.blocks[0].cross_attn
    assert isinstance(attn, MultiheadAttention)
    assert attn.in_proj.weight.shape == (96, 32) and attn.out_proj.weight.shape == (32, 32)

    reference = torch.nn.MultiheadAttention(32, 2, batch_first=True)
    with torch.no_grad():
        reference.in_proj_weight.copy_(attn.in_proj.weight)
        reference.in_proj_bias.copy_(torch.randn(96))
        attn.in_proj.bias.copy_(reference.in_proj_bias)
        reference.out_proj.weight.copy_(attn.out_proj.weight)
        reference.out_proj.bias.copy_(attn.out_proj.bias)
    query, context = torch.randn(2, 5, 32), torch.randn(2, 9, 32)
    key_valid = torch.ones(2, 9, dtype=torch.bool)
    key_valid[1, 6:] = False
    expected = reference(query, context, context, key_padding_mask=~key_valid, need_weights=False)[0]
    torch.testing.assert_close(attn(query, context, key_valid=key_valid), expected, atol=1e-5, rtol=1e-5)


def test_position_code_puts_part_in_first_half_and_time_in_second_half_with_interleaved_sin_cos():
    dim = 16
    code = sinusoid_2d(5, 7, dim)
    assert code.shape == (5, 7, dim)
    part, time = 3, 4
    for i in range(dim // 4):
        freq = 1.0 / 10000 ** (2 * i / (dim // 2))
        assert code[part, time, 2 * i].item() == pytest.approx(math.sin(part * freq), abs=1e-6)
        assert code[part, time, 2 * i + 1].item() == pytest.approx(math.cos(part * freq), abs=1e-6)
        assert code[part, time, dim // 2 + 2 * i].item() == pytest.approx(math.sin(time * freq), abs=1e-6)
        assert code[part, time, dim // 2 + 2 * i + 1].item() == pytest.approx(math.cos(time * freq), abs=1e-6)


def test_attention_masks_come_from_the_validity_grid():
    masks = AttentionMasks.from_validity(validity_grid(torch.tensor([2, 3]), 5, 3))
    assert masks.sequence.shape == (2, 31)
    assert masks.sequence[:, 15].all()  # SEP
    assert masks.sequence[0].sum() == 2 * 5 * 2 + 1
    assert masks.temporal.shape == (2 * 2 * 5, 3)
    assert masks.temporal[:10].sum(dim=1).tolist() == [2] * 10
    assert masks.cross.shape == (4, 15)


def test_null_condition_is_the_zero_text_feature():
    model = with_active_modulation(tiny_model())
    ids = random_ids(2, 5)
    cond = torch.randn(2, TEXT_DIM)
    null = model(ids, None)
    torch.testing.assert_close(model(ids, torch.zeros(2, TEXT_DIM)), null)
    torch.testing.assert_close(model(ids, cond, force_null=True), null)
    assert not torch.allclose(model(ids, cond), null, atol=1e-4)


def test_condition_drop_zeroes_the_text_feature_in_training_only():
    model = with_active_modulation(tiny_model(cond_drop_prob=1.0))
    ids = random_ids(2, 5)
    cond = torch.randn(2, TEXT_DIM)
    null = model(ids, None)
    model.train()
    torch.testing.assert_close(model(ids, cond), null)
    model.eval()
    assert not torch.allclose(model(ids, cond), null, atol=1e-4)


def test_attention_dropout_drops_attention_weights_apart_from_the_hidden_states_dropout():
    def attention_rates(model):
        return {module.dropout for module in model.modules() if isinstance(module, MultiheadAttention)}

    def hidden_rates(model):
        return {module.p for module in model.modules() if isinstance(module, torch.nn.Dropout)}

    assert attention_rates(tiny_model(dropout=0.3)) == hidden_rates(tiny_model(dropout=0.3)) == {0.3}  # the paper's
    split = tiny_model(dropout=0.3, attention_dropout=0.0)
    assert attention_rates(split) == {0.0} and hidden_rates(split) == {0.3}
    ids, cond = random_ids(2, 5), torch.randn(2, TEXT_DIM)
    for attention_dropout, random in ((0.0, False), (0.5, True)):
        # no other dropout and no condition drop: two training passes differ only through the attention weights
        model = with_active_modulation(tiny_model(attention_dropout=attention_dropout, cond_drop_prob=0.0)).train()
        assert torch.allclose(model(ids, cond), model(ids, cond)) is not random
    with pytest.raises(ValueError, match="attention_dropout"):
        tiny_model(attention_dropout=1.0)


@pytest.mark.parametrize(
    "ids_shape, lengths, cond_shape, message",
    [
        ((2, 2, 4, 5), [5, 5], (2, TEXT_DIM), "ids must be"),
        ((2, 2, 5, 9), [5, 5], (2, TEXT_DIM), "token time steps"),
        ((2, 2, 5, 5), [0, 5], (2, TEXT_DIM), "lengths_tokens"),
        ((2, 2, 5, 5), [6, 5], (2, TEXT_DIM), "lengths_tokens"),
        ((2, 2, 5, 5), [5], (2, TEXT_DIM), "lengths_tokens"),
        ((2, 2, 5, 5), [5, 5], (2, 7), "cond must be"),
        ((0, 2, 5, 5), [], (0, TEXT_DIM), "empty batch"),
    ],
)
def test_bad_inputs_raise_value_errors(ids_shape, lengths, cond_shape, message):
    model = tiny_model()
    with pytest.raises(ValueError, match=message):
        model(torch.zeros(ids_shape, dtype=torch.long), torch.zeros(cond_shape), torch.tensor(lengths))


def test_out_of_vocabulary_ids_and_nan_text_raise_value_errors():
    model = tiny_model()
    ids = random_ids(1, 4)
    with pytest.raises(ValueError, match="ids must lie"):
        model(ids.masked_fill(ids == ids[0, 0, 0, 0], 19))
    with pytest.raises(ValueError, match="NaN"):
        model(ids, torch.full((1, TEXT_DIM), float("nan")))


@pytest.mark.parametrize("masked", [False, True])
def test_short_sequences_attend_through_plain_products_exactly_as_sdpa(masked, monkeypatch):
    attention = MultiheadAttention(32, 4).eval()
    query, context = torch.randn(6, 5, 32), torch.randn(6, 5, 32)
    key_valid = torch.rand(6, 5) > 0.4 if masked else None
    if key_valid is not None:
        key_valid[:, 0] = True
    plain = attention(query, context, key_valid)
    monkeypatch.setattr(attention_module, "SHORT_KEYS", 0)  # everything through F.scaled_dot_product_attention
    fused = attention(query, context, key_valid)
    torch.testing.assert_close(plain, fused, atol=1e-5, rtol=1e-5)
    if key_valid is not None:  # an invalid key changes nothing
        changed = context.clone()
        changed[~key_valid] = 100.0
        monkeypatch.setattr(attention_module, "SHORT_KEYS", 16)
        torch.testing.assert_close(attention(query, changed, key_valid), plain, atol=1e-5, rtol=1e-5)


def test_compiled_logits_match_the_eager_network_and_leave_the_weights_alone():
    model = with_active_modulation(tiny_model()).eval()
    ids, cond = random_ids(2, 6), torch.randn(2, TEXT_DIM)
    keys = list(model.state_dict())
    with torch.no_grad():
        eager = model(ids, cond, torch.tensor([6, 4]))
        model.compile_logits(backend="eager")  # dynamo's tracing without code generation: quick on a CPU
        compiled_logits = model.logits
        model.compile_logits(backend="eager")
        assert model.logits is compiled_logits, "compiling twice must not wrap twice"
        torch.testing.assert_close(model(ids, cond, torch.tensor([6, 4])), eager)
    assert list(model.state_dict()) == keys


# ---- batches of mixed lengths: groups of similar length -----------------------------------------------------


def padded_work(lengths: list[int], runs: list[list[int]]) -> int:
    return sum(len(run) * max(lengths[i] for i in run) for run in runs)


@pytest.mark.parametrize("seed", range(6))
def test_length_plan_splits_into_the_fewest_padded_steps_any_contiguous_split_gives(seed):
    import itertools

    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 9, (7,), generator=generator)
    for max_groups in (1, 2, 3):
        plan = LengthPlan.for_lengths(lengths, 5, 8, max_groups)
        runs = [list(range(7))] if plan.restore is None else [group.index.tolist() for group in plan.groups]
        assert sorted(i for run in runs for i in run) == list(range(7)) and len(runs) <= max_groups
        assert [group.num_time for group in plan.groups] == [int(lengths[run].max()) for run in runs]
        # brute force over every split of the sorted batch into at most max_groups runs
        order = sorted(range(7), key=lambda i: -int(lengths[i]))
        best = min(
            padded_work(lengths.tolist(), [order[a:b] for a, b in zip((0, *cuts), (*cuts, 7))])
            for count in range(max_groups) for cuts in itertools.combinations(range(1, 7), count)
        )
        assert padded_work(lengths.tolist(), runs) == best


def test_length_plan_keeps_one_group_when_splitting_saves_nothing():
    plan = LengthPlan.for_lengths(torch.tensor([6, 6, 6]), 5, 8, max_groups=4)
    assert plan.restore is None and plan.groups[0].num_time == 6 and plan.groups[0].masks.sequence is None
    plan = LengthPlan.for_lengths(torch.tensor([8, 3, 8, 3]), 5, 8, max_groups=4)
    assert [(group.index.tolist(), group.num_time) for group in plan.groups] == [([0, 2], 8), ([1, 3], 3)]
    assert all(group.masks.sequence is None for group in plan.groups)  # each group is full length: no masks
    with pytest.raises(ValueError, match="max_groups"):
        LengthPlan.for_lengths(torch.tensor([3]), 5, 8, max_groups=0)


def test_grouped_logits_equal_the_padded_batch_at_valid_steps():
    grouped = with_active_modulation(tiny_model(length_groups=3))
    padded = with_active_modulation(tiny_model(length_groups=1))
    ids, cond, lengths = random_ids(5, 8), torch.randn(5, TEXT_DIM), torch.tensor([2, 8, 5, 1, 7])
    plan = grouped.length_plan(lengths, 8)
    assert len(plan.groups) == 3
    with torch.no_grad():
        fast, slow = grouped(ids, cond, lengths), padded(ids, cond, lengths)
    valid = validity_grid(lengths, 5, 8)
    torch.testing.assert_close(fast[valid], slow[valid], atol=1e-5, rtol=1e-5)
    assert fast.shape == slow.shape and torch.isfinite(fast).all()


def test_grouped_training_gradients_equal_the_padded_batch_ones():
    models = [with_active_modulation(tiny_model(length_groups=groups)).train() for groups in (4, 1)]
    ids, cond, lengths = random_ids(4, 8, seed=3), torch.randn(4, TEXT_DIM), torch.tensor([3, 8, 6, 2])
    valid = validity_grid(lengths, 5, 8)
    for model in models:
        model.cond_drop_prob = 0.0
        logits = model(ids, cond, lengths)
        F.cross_entropy(logits[valid], ids[valid]).backward()
    for (name, fast), slow in zip(models[0].named_parameters(), models[1].parameters()):
        torch.testing.assert_close(fast.grad, slow.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_a_compiled_training_forward_runs_length_groups_like_the_eager_one():
    """As the Trainer compiles it on CUDA: planning stays eager, each group's network call is traced."""
    model = with_active_modulation(tiny_model()).eval()
    compiled = torch.compile(model, backend="eager")
    ids, cond, lengths = random_ids(4, 8), torch.randn(4, TEXT_DIM), torch.tensor([8, 8, 3, 3])
    assert len(model.length_plan(lengths, 8).groups) == 2
    valid = validity_grid(lengths, 5, 8)
    with torch.no_grad():
        torch.testing.assert_close(compiled(ids, cond, lengths)[valid], model(ids, cond, lengths)[valid])


def test_a_person_embedding_tells_the_two_people_apart_from_an_all_mask_start():
    # without it the published network gives both people the same logits when their tokens are the same (all
    # [MASK] at the start of generation); with it, the logits differ and swapping no longer just swaps them
    for person_embedding in (False, True):
        torch.manual_seed(0)
        model = with_active_modulation(tiny_model(person_embedding=person_embedding))
        masked = torch.full((1, 2, 5, 6), model.mask_id)
        logits = model(masked, torch.randn(1, TEXT_DIM))
        if person_embedding:
            assert (logits[:, 0] - logits[:, 1]).abs().max() > 1e-3
            assert "person_code" in model.state_dict()
        else:
            torch.testing.assert_close(logits[:, 0], logits[:, 1])
            assert "person_code" not in model.state_dict()  # converted published checkpoints load unchanged


def test_a_condition_per_person_equal_for_both_gives_the_shared_condition_logits():
    model = with_active_modulation(tiny_model(person_embedding=True))
    ids, lengths = random_ids(3, 6), torch.tensor([6, 4, 2])
    cond = torch.randn(3, TEXT_DIM)
    valid = validity_grid(lengths, 5, 6)
    shared = model(ids, cond, lengths)
    torch.testing.assert_close(model(ids, torch.stack((cond, cond), 1), lengths)[valid], shared[valid],
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model(ids, torch.stack((cond, cond), 1), force_null=True), model(ids, None))


def test_each_person_is_generated_under_their_own_condition_and_swapping_both_swaps_the_logits():
    # the symmetry per-person captions rest on: person 1 under c1 and person 2 under c2 is, swapped, person 2
    # under c1 and person 1 under c2; the network (no person code) cannot tell which slot is which
    model = with_active_modulation(tiny_model())
    ids, lengths = random_ids(2, 6), torch.tensor([6, 3])
    cond = torch.randn(2, 2, TEXT_DIM)
    valid = validity_grid(lengths, 5, 6)
    logits = model(ids, cond, lengths)
    swapped = model(ids.flip(1), cond.flip(1), lengths)
    torch.testing.assert_close(swapped.flip(1)[valid], logits[valid], atol=1e-5, rtol=1e-5)
    other_second = model(ids, torch.stack((cond[:, 0], torch.randn(2, TEXT_DIM)), 1), lengths)
    assert (other_second - logits)[valid].abs().max() > 1e-3


def test_condition_drop_drops_both_people_s_conditions_together():
    model = with_active_modulation(tiny_model(cond_drop_prob=0.5))
    cond = torch.randn(64, 2, TEXT_DIM)
    model.train()
    condition = model.embed_condition(cond, 64, generator=torch.Generator().manual_seed(0))
    null = model.text_projection.bias
    dropped = (condition - null).abs().amax(-1) < 1e-6  # (b, 2)
    assert 0 < int(dropped[:, 0].sum()) < 64
    assert torch.equal(dropped[:, 0], dropped[:, 1])


def test_a_per_person_condition_of_the_wrong_shape_is_refused():
    model = tiny_model()
    with pytest.raises(ValueError, match="per person"):
        model(random_ids(2, 4), torch.zeros(2, 3, TEXT_DIM))
