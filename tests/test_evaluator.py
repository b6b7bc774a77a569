import pickle

import numpy as np
import pytest
import torch

from intermask.models.text_motion_evaluators import (
    INPUT_STD_FLOOR,
    POS_TAGS,
    GloVe,
    InterCLIPEvaluator,
    InterXMatchingEvaluator,
    interclip_motion_input,
    detail_loss,
    interclip_state_dict,
    prepare_interx_motion,
)


def small_interclip(**overrides):
    sizes = dict(motion_dim=20, latent_dim=32, text_dim=16, embed_dim=8, motion_layers=2, text_layers=2, heads=2,
                 ff_dim=32, dropout=0.1, max_len=64, vocab_size=50, context_length=12)
    return InterCLIPEvaluator(**{**sizes, **overrides}).eval()


def small_interx():
    return InterXMatchingEvaluator(motion_dim=12, movement_hidden=8, movement_latent=8, motion_hidden=16,
                                   word_dim=6, pos_dim=len(POS_TAGS), text_hidden=8, embed_dim=4).eval()


# ---------------------------------------------------------------------------------------------- InterCLIP


def test_interclip_embeddings_are_embed_dim_wide_with_norm_latent_scale():
    torch.manual_seed(0)
    model = small_interclip()
    with torch.no_grad():
        model.latent_scale.fill_(2.5)
        text_emb, motion_emb = model(torch.randn(3, 10, 20), torch.tensor([10, 4, 7]),
                                     torch.randn(3, 12, 16), torch.tensor([5, 11, 0]))
    assert text_emb.shape == motion_emb.shape == (3, 8)
    torch.testing.assert_close(text_emb.norm(dim=-1), torch.full((3,), 2.5))
    torch.testing.assert_close(motion_emb.norm(dim=-1), torch.full((3,), 2.5))


def test_attention_dropout_sets_only_the_attention_weights_rate_and_leaves_the_state_dict_alone():
    torch.manual_seed(0)
    default, apart = small_interclip(), small_interclip(attention_dropout=0.0)
    assert list(default.state_dict()) == list(apart.state_dict())
    for model, attention_rate in ((default, 0.1), (apart, 0.0)):
        layers = [*model.motion_encoder.transformer.layers, *model.textTransEncoder.layers]
        assert [layer.self_attn.dropout for layer in layers] == [attention_rate] * 4
        assert all(layer.dropout.p == layer.dropout1.p == layer.dropout2.p == 0.1 for layer in layers)
    with pytest.raises(ValueError, match="attention_dropout must be in"):
        small_interclip(attention_dropout=1.0)


def test_interclip_motion_embedding_ignores_frames_past_its_length():
    torch.manual_seed(0)
    model = small_interclip()
    motion = torch.randn(2, 20, 20)
    lengths = torch.tensor([7, 20])
    padded_with_garbage = motion.clone()
    padded_with_garbage[0, 7:] = 100 * torch.randn(13, 20)
    with torch.no_grad():
        reference = model.encode_motion(motion, lengths)
        torch.testing.assert_close(model.encode_motion(padded_with_garbage, lengths), reference)
        alone = model.encode_motion(motion[:1, :7], torch.tensor([7]))
    torch.testing.assert_close(alone, reference[:1], atol=1e-5, rtol=1e-5)


def test_input_norm_z_scores_the_motion_with_its_stored_statistics_and_floors_the_std():
    torch.manual_seed(0)
    normed = small_interclip(input_norm=True)
    plain = small_interclip()
    plain.load_state_dict({k: v for k, v in normed.state_dict().items() if not k.startswith("input_")})
    mean, std = torch.randn(20), torch.rand(20) + 0.5
    std[3] = 1e-5  # a channel the data never moves is divided by the floor, not by 1e-5
    normed.set_input_statistics(mean.numpy(), std.numpy())
    floored = std.clone()
    floored[3] = INPUT_STD_FLOOR
    motion, lengths = torch.randn(2, 10, 20), torch.tensor([10, 6])
    with torch.no_grad():
        torch.testing.assert_close(normed.encode_motion(motion, lengths),
                                   plain.encode_motion((motion - mean) / floored, lengths))
        assert not torch.allclose(normed.encode_motion(motion, lengths), plain.encode_motion(motion, lengths))
    restored = small_interclip(input_norm=True)
    restored.load_state_dict(normed.state_dict())  # the statistics travel in the checkpoint
    torch.testing.assert_close(restored.input_std, floored)
    with pytest.raises(ValueError, match="input_norm=True"):
        plain.set_input_statistics(mean, std)
    with pytest.raises(ValueError, match=r"input std: expected \(20,\)"):
        normed.set_input_statistics(mean, std[:5])


def test_interclip_embeddings_follow_input_order_without_sorting_by_length():
    torch.manual_seed(0)
    model = small_interclip()
    motion, lengths = torch.randn(4, 15, 20), torch.tensor([3, 15, 9, 12])
    order = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        torch.testing.assert_close(model.encode_motion(motion[order], lengths[order]),
                                   model.encode_motion(motion, lengths)[order], atol=1e-5, rtol=1e-5)


def test_interclip_text_embedding_depends_on_the_eot_position():
    torch.manual_seed(0)
    model = small_interclip()
    tokens = torch.randn(1, 12, 16)
    with torch.no_grad():
        first, second = model.encode_text(tokens, torch.tensor([3])), model.encode_text(tokens, torch.tensor([4]))
    assert not torch.allclose(first, second)


def test_token_features_add_positions_and_find_eot_as_largest_id():
    model = small_interclip()
    ids = torch.tensor([[48, 5, 49, 0, 0]])  # 49 = end of text, the largest id of this vocabulary
    features, eot = model.token_features(ids)
    torch.testing.assert_close(features[0, 1], model.token_embedding.weight[5] + model.positional_embedding[1])
    assert eot.tolist() == [2]


def test_encode_texts_reads_frozen_features_from_the_backbone():
    class Backbone:
        def frozen_features(self, texts):
            return torch.ones(len(texts), 6, 16), torch.full((len(texts),), 5)

    model = InterCLIPEvaluator(motion_dim=20, latent_dim=32, text_dim=16, embed_dim=8, motion_layers=1,
                               text_layers=1, heads=2, ff_dim=32, text_backbone=Backbone()).eval()
    assert model.encode_texts(["a", "b"]).shape == (2, 8)
    assert not any("token_embedding" in key for key in model.state_dict())
    with pytest.raises(ValueError, match="text_backbone"):
        small_interclip().encode_texts(["a"])


def test_contrastive_loss_is_cross_entropy_of_scaled_cosine_logits():
    model = small_interclip()
    with torch.no_grad():
        model.latent_scale.fill_(2.0)
    emb = 2.0 * torch.eye(2)
    # matched logits 4 (= scale²), mismatched 0
    assert model.contrastive_loss(emb, emb).item() == pytest.approx(np.log(1 + np.exp(-4.0)), rel=1e-5)
    assert model.contrastive_loss(emb, emb.flip(0)).item() > model.contrastive_loss(emb, emb).item()


def test_the_detail_loss_ranks_the_own_caption_against_its_changed_twin_alone():
    motion = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    own, changed = motion.clone(), -motion  # own caption on the motion, the changed one opposite: right
    scale = torch.tensor(2.0)
    assert detail_loss(motion, own, changed, scale).item() == pytest.approx(np.log(1 + np.exp(-4.0)), rel=1e-5)
    assert detail_loss(motion, changed, own, scale).item() == pytest.approx(np.log(1 + np.exp(4.0)), rel=1e-5)
    assert detail_loss(motion, own, own, scale).item() == pytest.approx(np.log(2), rel=1e-6)  # blind: chance
    # the gradient pushes the two captions apart along the motion, whatever else a batch holds
    own = (motion + 0.5 * motion.flip(1)).requires_grad_()
    changed = (own.detach() + 0.01).requires_grad_()
    detail_loss(motion, own, changed, scale).backward()
    cosine = torch.nn.functional.cosine_similarity
    with torch.no_grad():
        assert (cosine(motion, own - 0.1 * own.grad) > cosine(motion, own)).all()
        assert (cosine(motion, changed - 0.1 * changed.grad) < cosine(motion, changed)).all()
    with pytest.raises(ValueError, match="one shape"):
        detail_loss(motion, own[:1], changed, scale)


def test_interclip_motion_input_drops_the_foot_contacts_of_both_people():
    person_a = torch.arange(262.0).expand(1, 5, 262)
    person_b = person_a + 1000
    pair = interclip_motion_input(person_a, person_b)
    assert pair.shape == (1, 5, 516)
    assert pair[0, 0, 257].item() == 257 and pair[0, 0, 258].item() == 1000
    assert pair[0, 0, -1].item() == 1257


def test_interclip_rejects_wrong_widths_and_impossible_lengths():
    model = small_interclip()
    with pytest.raises(ValueError, match="motion"):
        model.encode_motion(torch.randn(2, 5, 19), torch.tensor([5, 5]))
    with pytest.raises(ValueError, match="lengths"):
        model.encode_motion(torch.randn(2, 5, 20), torch.tensor([5, 6]))


# the released interclip.ckpt: keys (after "model.") and shapes, written out from its module layout
INTERCLIP_KEYS = [
    ("motion_encoder.query_token", (1, 1024)),
    ("motion_encoder.embed_motion.weight", (1024, 516)),
    ("motion_encoder.embed_motion.bias", (1024,)),
    ("motion_encoder.sequence_pos_encoder.pe", (2000, 1024)),
    ("motion_encoder.out_ln.weight", (1024,)),
    ("motion_encoder.out_ln.bias", (1024,)),
    ("motion_encoder.out.weight", (512, 1024)),
    ("motion_encoder.out.bias", (512,)),
    ("token_embedding.weight", (49408, 768)),
    ("positional_embedding", (77, 768)),
    ("latent_scale", (1,)),
    ("text_ln.weight", (768,)),
    ("text_ln.bias", (768,)),
    ("out.weight", (512, 768)),
    ("out.bias", (512,)),
]
TRANSFORMER_LAYER_KEYS = [  # (suffix, shape as a function of width w and feed-forward f)
    ("self_attn.in_proj_weight", lambda w, f: (3 * w, w)),
    ("self_attn.in_proj_bias", lambda w, f: (3 * w,)),
    ("self_attn.out_proj.weight", lambda w, f: (w, w)),
    ("self_attn.out_proj.bias", lambda w, f: (w,)),
    ("linear1.weight", lambda w, f: (f, w)),
    ("linear1.bias", lambda w, f: (f,)),
    ("linear2.weight", lambda w, f: (w, f)),
    ("linear2.bias", lambda w, f: (w,)),
    ("norm1.weight", lambda w, f: (w,)),
    ("norm1.bias", lambda w, f: (w,)),
    ("norm2.weight", lambda w, f: (w,)),
    ("norm2.bias", lambda w, f: (w,)),
]
for _prefix, _width in (("motion_encoder.transformer", 1024), ("textTransEncoder", 768)):
    INTERCLIP_KEYS += [(f"{_prefix}.layers.{i}.{suffix}", shape(_width, 2048))
                       for i in range(8) for suffix, shape in TRANSFORMER_LAYER_KEYS]


def test_released_interclip_checkpoint_layout_loads_strictly():
    checkpoint = {"epoch": 1, "state_dict": {f"model.{key}": torch.empty(shape, device="meta")
                                             for key, shape in INTERCLIP_KEYS}}
    with torch.device("meta"):  # full size without allocating it
        model = InterCLIPEvaluator.released()
    state = interclip_state_dict(checkpoint)
    model.load_state_dict(state, strict=True, assign=True)
    with pytest.raises(RuntimeError, match="Missing"):
        model.load_state_dict({k: v for k, v in state.items() if k != "latent_scale"}, strict=True, assign=True)


def test_interclip_state_dict_strips_only_the_leading_model_prefix():
    assert interclip_state_dict({"model.motion_encoder.out.bias": 1, "latent_scale": 2}) == {
        "motion_encoder.out.bias": 1, "latent_scale": 2}


# ---------------------------------------------------------------------------------------------- Inter-X


def test_interx_encoders_return_embed_dim_per_item():
    torch.manual_seed(0)
    model = small_interx()
    with torch.no_grad():
        text_emb, motion_emb = model(torch.randn(3, 16, 12), torch.tensor([16, 8, 4]),
                                     torch.randn(3, 7, 6), torch.randn(3, 7, 15), torch.tensor([7, 5, 2]))
    assert text_emb.shape == motion_emb.shape == (3, 4)


def test_interx_unsorted_batch_matches_items_encoded_alone():
    torch.manual_seed(0)
    model = small_interx()
    motion, lengths = torch.randn(3, 16, 12), torch.tensor([4, 16, 8])
    words, pos, text_lengths = torch.randn(3, 7, 6), torch.randn(3, 7, 15), torch.tensor([2, 7, 5])
    with torch.no_grad():
        batch_motion = model.encode_motion(motion, lengths)
        batch_text = model.encode_text(words, pos, text_lengths)
        for i in range(3):
            torch.testing.assert_close(model.encode_motion(motion[i:i + 1], lengths[i:i + 1]), batch_motion[i:i + 1],
                                       atol=1e-5, rtol=1e-5)
            n = text_lengths[i]
            torch.testing.assert_close(model.encode_text(words[i:i + 1, :n], pos[i:i + 1, :n], text_lengths[i:i + 1]),
                                       batch_text[i:i + 1], atol=1e-5, rtol=1e-5)


def test_interx_motion_ignores_frames_beyond_the_convolutions_reach():
    torch.manual_seed(0)
    model = small_interx()
    motion, lengths = torch.randn(1, 24, 12), torch.tensor([8])
    changed = motion.clone()
    changed[:, 11:] = torch.randn(1, 13, 12)  # two stride-2 kernels of 4 see at most 2 frames past the length
    with torch.no_grad():
        torch.testing.assert_close(model.encode_motion(changed, lengths), model.encode_motion(motion, lengths))


def test_interx_refuses_motions_shorter_than_one_unit():
    with pytest.raises(ValueError, match="at least 4 frames"):
        small_interx().encode_motion(torch.randn(1, 8, 12), torch.tensor([3]))


def test_prepare_interx_motion_zeroes_the_root_velocities():
    motion = torch.ones(2, 5, 56, 12)
    flat = prepare_interx_motion(motion)
    assert flat.shape == (2, 5, 672)
    root = flat.reshape(2, 5, 56, 12)[:, :, 55]
    assert root[..., 0:3].eq(1).all() and root[..., 3:6].eq(0).all()
    assert root[..., 6:9].eq(1).all() and root[..., 9:12].eq(0).all()
    assert motion.eq(1).all()  # the input is left untouched


def gru_keys(hidden, inputs):
    return [(f"gru.{kind}_l0{suffix}", shape) for suffix in ("", "_reverse")
            for kind, shape in (("weight_ih", (3 * hidden, inputs)), ("weight_hh", (3 * hidden, hidden)),
                                ("bias_ih", (3 * hidden,)), ("bias_hh", (3 * hidden,)))]


# the released finest.tar: one state dict per encoder, keys and shapes of the default widths
FINEST_KEYS = {
    "movement_encoder": [
        ("main.0.weight", (512, 672, 4)), ("main.0.bias", (512,)),
        ("main.3.weight", (512, 512, 4)), ("main.3.bias", (512,)),
        ("out_net.weight", (512, 512)), ("out_net.bias", (512,)),
    ],
    "motion_encoder": [
        ("input_emb.weight", (1024, 512)), ("input_emb.bias", (1024,)), ("hidden", (2, 1, 1024)),
        ("output_net.0.weight", (1024, 2048)), ("output_net.0.bias", (1024,)),
        ("output_net.1.weight", (1024,)), ("output_net.1.bias", (1024,)),
        ("output_net.3.weight", (512, 1024)), ("output_net.3.bias", (512,)),
        *gru_keys(1024, 1024),
    ],
    "text_encoder": [
        ("pos_emb.weight", (300, 15)), ("pos_emb.bias", (300,)),
        ("input_emb.weight", (512, 300)), ("input_emb.bias", (512,)), ("hidden", (2, 1, 512)),
        ("output_net.0.weight", (512, 1024)), ("output_net.0.bias", (512,)),
        ("output_net.1.weight", (512,)), ("output_net.1.bias", (512,)),
        ("output_net.3.weight", (512, 512)), ("output_net.3.bias", (512,)),
        *gru_keys(512, 512),
    ],
}


def test_released_interx_checkpoint_layout_loads_strictly():
    torch.manual_seed(0)
    checkpoint = {name: {key: torch.randn(shape) for key, shape in keys} for name, keys in FINEST_KEYS.items()}
    checkpoint["epoch"] = 10
    model = InterXMatchingEvaluator()
    model.load_matching_checkpoint(checkpoint)
    torch.testing.assert_close(model.text_encoder.pos_emb.weight, checkpoint["text_encoder"]["pos_emb.weight"])
    with pytest.raises(KeyError, match="text_encoder"):
        model.load_matching_checkpoint({k: v for k, v in checkpoint.items() if k != "text_encoder"})


# ---------------------------------------------------------------------------------------------- GloVe


@pytest.fixture
def glove_folder(tmp_path):
    words = ["unk", "sos", "eos", "walk", "left"]
    vectors = np.arange(len(words) * 3, dtype=np.float32).reshape(len(words), 3)
    np.save(tmp_path / "hhi_vab_data.npy", vectors)
    with open(tmp_path / "hhi_vab_words.pkl", "wb") as f:
        pickle.dump(words, f)
    with open(tmp_path / "hhi_vab_idx.pkl", "wb") as f:
        pickle.dump({w: i for i, w in enumerate(words)}, f)
    return tmp_path


def test_glove_encodes_sentence_with_sos_eos_and_unk_padding(glove_folder):
    glove = GloVe(glove_folder, vip_words={"Loc_VIP": ["left"]})
    vectors, onehots, length = glove.encode(["walk/VERB", "left/ADV", "zigzag/NOUN"], max_tokens=5)
    assert vectors.shape == (7, 3) and onehots.shape == (7, 15)
    assert length == 5  # sos + 3 words + eos
    np.testing.assert_array_equal(vectors[1], [9, 10, 11])  # walk
    assert POS_TAGS[onehots[1].argmax()] == "VERB"
    assert POS_TAGS[onehots[2].argmax()] == "Loc_VIP"  # the category overrides the tagger's ADV
    np.testing.assert_array_equal(vectors[3], [0, 1, 2])  # unknown word -> unk
    assert POS_TAGS[onehots[3].argmax()] == "OTHER"
    np.testing.assert_array_equal(vectors[5:], [[0, 1, 2]] * 2)  # padding


def test_glove_names_the_missing_file(glove_folder):
    (glove_folder / "hhi_vab_idx.pkl").unlink()
    with pytest.raises(FileNotFoundError, match="hhi_vab_idx.pkl"):
        GloVe(glove_folder)


def test_training_with_a_detail_weight_ranks_each_changed_caption_and_validation_reports_each_change():
    from intermask.data.source import DataSource
    from intermask.errors import ConfigError
    from intermask.models.text import TextFeatureCache
    from intermask.training.tasks import EvaluatorTask

    def backbone(texts):  # deterministic features per caption, end of text at the last token
        rows = [torch.Generator().manual_seed(sum(map(ord, text)) * 7 + len(text)) for text in texts]
        return torch.stack([torch.randn(12, 16, generator=row) for row in rows]), torch.full((len(texts),), 11)

    source = DataSource({"format": "interhuman", "root": "unused", "person_names": ["first person", "second person"]})
    task = EvaluatorTask(small_interclip(motion_dim=20, dropout=0.0).train(), backbone, TextFeatureCache("fake"), slice(10, 10),
                         source.caption_changes(), detail_weight=0.5)
    texts = ["the first person waves the left hand", "the second person bows to the first person", "they hug",
             "the second person waves the left hand"]
    batch = {"motion": torch.randn(4, 2, 10, 10), "length": torch.tensor([10, 8, 6, 10]), "text": texts}
    seen = {}
    model_detail_loss = task.model.detail_loss
    task.model.detail_loss = lambda *args: seen.setdefault("args", args) and model_detail_loss(*args)
    loss, logs = task.training_step(batch, 0)
    loss.backward()
    motion_emb, own_emb, changed_emb = seen["args"]
    # mirrored: rows 0 and 3; names exchanged: rows 0, 1 and 3; "they hug" changes under neither
    assert motion_emb.shape == own_emb.shape == changed_emb.shape == (5, 8)
    with torch.no_grad():
        text_emb, motion_all = task._embed(task.model, batch, ["the first person waves the right hand"])
    assert torch.allclose(changed_emb[0], text_emb[4], atol=1e-5) and torch.allclose(own_emb[0], text_emb[0])
    with torch.no_grad():
        clip_loss = task.model.contrastive_loss(text_emb[:4], motion_all)
    assert loss.item() == pytest.approx(clip_loss.item() + 0.5 * logs["detail_loss"].item(), rel=1e-4)
    assert task.model.out.weight.grad.abs().sum() > 0
    task.model.detail_loss = model_detail_loss
    logs = task.validate([batch])
    assert {"top1", "top3", "detail_mirrored", "detail_names_exchanged"} <= logs.keys()
    assert all(0.0 <= logs[key] <= 1.0 for key in ("detail_mirrored", "detail_names_exchanged"))
    # weight 0, as published: the contrastive loss alone, no detail rates
    plain = EvaluatorTask(task.model, backbone, task.text_cache, slice(10, 10), source.caption_changes())
    assert plain.training_step(batch, 0)[0].item() == pytest.approx(clip_loss.item(), rel=1e-4)
    assert "detail_mirrored" not in plain.validate([batch])
    with pytest.raises(ConfigError, match="detail_weight"):
        EvaluatorTask(task.model, backbone, task.text_cache, slice(10, 10), source.caption_changes(), -1.0)
