import importlib.util
import os

import pytest
import torch
from torch import nn

from intermask.models.text import (
    CLIPBackbone,
    CLIPTextTower,
    FrozenTextBackbone,
    MiniLMBackbone,
    TextEncoder,
    TextFeatureCache,
)

FEATURE_DIM = 16
MAX_CHARS = 12


class CharBackbone(FrozenTextBackbone):
    """A tiny stand-in backbone: one embedding per character, padded to a fixed length."""

    feature_dim = FEATURE_DIM
    name = "chars"

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embedding = nn.Embedding(128, FEATURE_DIM)
        self.dropout = nn.Dropout(0.5)  # must stay off: a frozen backbone is always in eval mode
        self.calls = []
        self.freeze()

    def forward(self, texts):
        self.calls.append(list(texts))
        ids = torch.zeros(len(texts), MAX_CHARS, dtype=torch.long)
        for row, text in enumerate(texts):
            codes = [ord(c) % 128 for c in text[:MAX_CHARS]]
            ids[row, :len(codes)] = torch.tensor(codes)
        eot_index = torch.tensor([min(len(text), MAX_CHARS) - 1 for text in texts])
        return self.dropout(self.embedding(ids)), eot_index


def char_encoder() -> TextEncoder:
    torch.manual_seed(0)
    return TextEncoder(CharBackbone(), heads=2, ff_dim=32)


def test_text_encoder_returns_one_feature_per_caption():
    encoder = char_encoder().eval()
    features = encoder(["two people hug", "a handshake"])
    assert features.shape == (2, FEATURE_DIM)
    assert torch.isfinite(features).all()


def test_text_encoder_splits_into_frozen_features_and_a_trainable_part():
    encoder = char_encoder().eval()
    texts = ["two people hug", "a handshake"]
    frozen, eot_index = encoder.frozen_features(texts)
    assert frozen.shape == (2, MAX_CHARS, FEATURE_DIM) and not frozen.requires_grad
    assert eot_index.tolist() == [MAX_CHARS - 1, len("a handshake") - 1]
    torch.testing.assert_close(encoder.encode_from_frozen(frozen, eot_index), encoder(texts))


def test_a_caption_given_several_times_runs_through_the_backbone_once():
    encoder = char_encoder().eval()
    seen = []
    run = encoder._run_backbone
    encoder._run_backbone = lambda texts: seen.append(list(texts)) or run(texts)
    texts = ["wave", "two people hug", "wave", "wave", "two people hug"]
    frozen, eot_index = encoder.frozen_features(texts)
    assert seen == [["wave", "two people hug"]]
    alone, alone_eot = run(texts)
    torch.testing.assert_close(frozen, alone)
    assert eot_index.tolist() == alone_eot.tolist()


def test_text_feature_is_the_normalised_encoder_output_at_the_end_of_text_token():
    encoder = char_encoder().eval()
    frozen, eot_index = encoder.frozen_features(["hi there", "wave"])
    encoded = encoder.final_norm(encoder.transformer(frozen))
    expected = torch.stack([encoded[0, eot_index[0]], encoded[1, eot_index[1]]])
    torch.testing.assert_close(encoder.encode_from_frozen(frozen, eot_index), expected)


def test_only_the_trainable_part_gets_gradients_and_the_backbone_stays_in_eval_mode():
    encoder = char_encoder().train()
    assert not encoder.backbone.training and encoder.transformer.training
    encoder(["push", "pull"]).sum().backward()
    assert encoder.backbone.embedding.weight.grad is None
    assert encoder.transformer.layers[0].linear1.weight.grad is not None


def test_state_dict_leaves_out_the_frozen_backbone_and_loads_strictly():
    encoder = char_encoder()
    state = encoder.state_dict()
    assert state and not any(key.startswith("backbone.") for key in state)
    other = char_encoder()
    with torch.no_grad():
        other.final_norm.weight.fill_(3.0)
    other.load_state_dict(state, strict=True)
    torch.testing.assert_close(other.final_norm.weight, encoder.final_norm.weight)

    wrapped = nn.ModuleDict({"text": char_encoder()})
    wrapped_state = wrapped.state_dict()
    assert not any(".backbone." in key for key in wrapped_state)
    wrapped.load_state_dict(wrapped_state, strict=True)


def test_feature_cache_runs_the_backbone_once_per_distinct_caption(tmp_path):
    encoder = char_encoder().eval()
    cache = TextFeatureCache(encoder.backbone.name)
    first = encoder(["hug", "wave", "hug"], cache=cache)
    second = encoder(["wave", "kick"], cache=cache)
    assert encoder.backbone.calls == [["hug", "wave"], ["kick"]]
    assert len(cache) == 3 and "kick" in cache
    # half-precision storage changes the features by rounding only
    torch.testing.assert_close(second[0], first[1])
    torch.testing.assert_close(first, encoder(["hug", "wave", "hug"]), atol=5e-3, rtol=5e-3)


def test_feature_cache_gives_float32_features_under_bf16_autocast_on_a_cpu():
    encoder = char_encoder().eval()
    cache = TextFeatureCache(encoder.backbone.name)
    plain, _ = encoder.frozen_features(["hug", "wave"], cache=cache)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # a training step with train.amp=bf16
        features, _ = encoder.frozen_features(["wave", "hug", "kick"], cache=cache)
    assert features.dtype == torch.float32
    torch.testing.assert_close(features[:2], plain.flip(0))


def test_feature_cache_saves_and_loads_atomically(tmp_path):
    encoder = char_encoder().eval()
    cache = TextFeatureCache(encoder.backbone.name)
    encoder.frozen_features(["hug", "two people dance"], cache=cache)
    path = tmp_path / "cache" / "text.pt"
    cache.save(path)
    assert sorted(os.listdir(path.parent)) == ["text.pt"]
    loaded = TextFeatureCache.load(path)
    assert loaded.backbone_name == "chars" and len(loaded) == 2
    calls_before = len(encoder.backbone.calls)
    features, eot = encoder.frozen_features(["two people dance"], cache=loaded)
    assert len(encoder.backbone.calls) == calls_before
    expected, expected_eot = cache.lookup(["two people dance"], compute=None)
    torch.testing.assert_close(features, expected)
    assert eot.tolist() == expected_eot.tolist() == [MAX_CHARS - 1]


def test_feature_cache_of_another_backbone_is_refused():
    encoder = char_encoder()
    with pytest.raises(ValueError, match="other"):
        encoder.frozen_features(["hug"], cache=TextFeatureCache("other"))


@pytest.mark.parametrize("texts", [[], ["fine", "  "], "a bare string", ["ok", None]])
def test_empty_or_malformed_captions_raise_value_errors(texts):
    with pytest.raises(ValueError, match="caption"):
        char_encoder()(texts)


@pytest.fixture(scope="module")
def minilm():
    # loads the packaged weights from disk in a few seconds; HF_HUB_OFFLINE is set in conftest
    return MiniLMBackbone()


def test_minilm_backbone_loads_offline_and_returns_384_channel_token_features(minilm):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    texts = ["two people shake hands", "one pushes the other away slowly"]
    features, eot_index = minilm(texts)
    assert features.shape == (2, 77, 384)
    ids = minilm.tokenizer(texts)["input_ids"]
    assert eot_index.tolist() == [len(ids[0]) - 1, len(ids[1]) - 1]
    assert all(row[-1] == minilm.tokenizer.sep_token_id for row in ids)
    # padded to a fixed length, a caption's features do not depend on the rest of its batch
    alone, _ = minilm(texts[:1])
    torch.testing.assert_close(alone[0], features[0], atol=1e-5, rtol=1e-5)


def test_text_encoder_on_minilm_gives_384_dim_features(minilm):
    encoder = TextEncoder(minilm).eval()
    assert encoder.text_dim == 384
    assert encoder(["two people hug"]).shape == (1, 384)


def openai_style_state(tower: CLIPTextTower) -> dict:
    """A tower's weights under OpenAI CLIP's key names, with image-tower keys beside them."""
    state = {
        key.replace("attn.in_proj.weight", "attn.in_proj_weight").replace("attn.in_proj.bias", "attn.in_proj_bias"):
            value.half()
        for key, value in tower.state_dict().items()
    }
    state.update(
        {"visual.proj": torch.zeros(4, 4), "text_projection": torch.zeros(4, 4), "logit_scale": torch.ones(())}
    )
    return state


def clip_tokens(batch: int, lengths: list[int], vocab_size: int, context: int = 77) -> torch.Tensor:
    """Hand-made CLIP-style ids: start token, words, end-of-text (the largest id), zero padding."""
    ids = torch.zeros(batch, context, dtype=torch.long)
    generator = torch.Generator().manual_seed(0)
    for row, length in enumerate(lengths):
        ids[row, 0] = vocab_size - 2
        ids[row, 1:length + 1] = torch.randint(1, vocab_size - 2, (length,), generator=generator)
        ids[row, length + 1] = vocab_size - 1
    return ids


def test_clip_vit_l14_text_tower_with_random_weights_returns_77_by_768_features():
    torch.manual_seed(0)
    tower = CLIPTextTower().eval()
    assert sum(p.numel() for p in tower.parameters()) == 123_060_480
    with torch.no_grad():
        features = tower(clip_tokens(2, [5, 9], 49408))
    assert features.shape == (2, 77, 768)
    assert torch.isfinite(features).all()


def test_clip_backbone_loads_text_keys_of_an_openai_checkpoint_and_picks_eot_by_argmax(tmp_path):
    torch.manual_seed(0)
    tower = CLIPTextTower(vocab_size=100, width=128, layers=2, heads=2)
    path = tmp_path / "clip.pt"
    torch.save(openai_style_state(tower), path)
    backbone = CLIPBackbone(weights=path)
    assert backbone.feature_dim == 128 and len(backbone.tower.transformer.resblocks) == 2
    ids = clip_tokens(2, [3, 6], 100)
    features, eot_index = backbone.encode_tokens(ids)
    assert eot_index.tolist() == [4, 7] == ids.argmax(dim=-1).tolist()
    with torch.no_grad():
        expected = tower.half().float()(ids)
    torch.testing.assert_close(features, expected)
    assert not any(p.requires_grad for p in backbone.parameters())


def test_clip_tower_matches_the_transformers_clip_text_model():
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(vocab_size=100, hidden_size=64, intermediate_size=256, num_hidden_layers=2,
                            num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
                            eos_token_id=99, bos_token_id=98, pad_token_id=0)
    torch.manual_seed(0)
    reference = CLIPTextModel(config).eval()
    tower = CLIPTextTower(vocab_size=100, width=64, layers=2, heads=2).eval()
    source = getattr(reference, "text_model", reference)  # transformers 5 dropped the wrapper
    state = {
        "token_embedding.weight": source.embeddings.token_embedding.weight,
        "positional_embedding": source.embeddings.position_embedding.weight,
        "ln_final.weight": source.final_layer_norm.weight,
        "ln_final.bias": source.final_layer_norm.bias,
    }
    for index, layer in enumerate(source.encoder.layers):
        prefix = f"transformer.resblocks.{index}."
        attn = layer.self_attn
        state[prefix + "attn.in_proj.weight"] = torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight])
        state[prefix + "attn.in_proj.bias"] = torch.cat([attn.q_proj.bias, attn.k_proj.bias, attn.v_proj.bias])
        state[prefix + "attn.out_proj.weight"] = attn.out_proj.weight
        state[prefix + "attn.out_proj.bias"] = attn.out_proj.bias
        for ours, theirs in (("ln_1", layer.layer_norm1), ("ln_2", layer.layer_norm2),
                             ("mlp.c_fc", layer.mlp.fc1), ("mlp.c_proj", layer.mlp.fc2)):
            state[prefix + ours + ".weight"], state[prefix + ours + ".bias"] = theirs.weight, theirs.bias
    tower.load_state_dict(state)
    ids = clip_tokens(2, [4, 10], 100)
    with torch.no_grad():
        expected = reference(input_ids=ids).last_hidden_state
        torch.testing.assert_close(tower(ids), expected, atol=1e-4, rtol=1e-4)


def test_missing_clip_weights_raise_file_not_found_with_instructions(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"intermask\[clip\].*clip\.load\('ViT-L/14@336px'\)"):
        CLIPBackbone(weights=tmp_path / "ViT-L-14-336px.pt")


@pytest.mark.skipif(importlib.util.find_spec("clip") is not None, reason="the clip package is installed")
def test_clip_tokenizer_without_the_clip_package_names_the_extra(tmp_path):
    tower = CLIPTextTower(vocab_size=100, width=64, layers=1, heads=1)
    path = tmp_path / "clip.pt"
    torch.save(openai_style_state(tower), path)
    with pytest.raises(ImportError, match=r"intermask\[clip\]"):
        CLIPBackbone(weights=path)(["two people hug"])


def test_minilm_weights_folder_can_be_moved_with_an_environment_variable(tmp_path, monkeypatch):
    from intermask.models.text import MINILM_DIR_VARIABLE, minilm_model_dir

    packaged = minilm_model_dir()
    monkeypatch.setenv(MINILM_DIR_VARIABLE, str(tmp_path / "elsewhere"))
    assert minilm_model_dir() == tmp_path / "elsewhere"
    with pytest.raises(FileNotFoundError, match="elsewhere"):
        MiniLMBackbone()
    monkeypatch.setenv(MINILM_DIR_VARIABLE, str(packaged))
    assert MiniLMBackbone(max_tokens=8)(["a wave"])[0].shape == (1, 8, 384)


def test_minilm_reports_the_part_of_a_long_caption_it_reads(minilm):
    from intermask.models.text import caption_cuts

    short = "two people shake hands"
    long = "the first person walks up to the second person and waves " * 1000  # 11,000 words
    assert minilm.read_part(short) == short
    (cut,) = caption_cuts(minilm, [short, long])
    assert long.startswith(cut.kept) and 0 < cut.kept_words < minilm.max_tokens < cut.words
    # the part it reads is exactly what the tokenizer keeps: its tokens fill the window, nothing is left over
    kept_ids = minilm.tokenizer(cut.kept)["input_ids"]
    assert kept_ids == minilm.tokenizer(long, truncation=True, max_length=minilm.max_tokens)["input_ids"]
