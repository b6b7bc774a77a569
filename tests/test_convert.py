"""Published checkpoints convert strictly and the converted models reproduce the official outputs.

The golden outputs in tests/fixtures/official/ were made by running the authors' code
(scripts/make_official_fixture.py); these tests need neither that code nor its environment.
"""
import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from einops import rearrange
from hydra import compose, initialize_config_dir

from intermask import convert
from intermask.generation import decoding as generation
from intermask.official import conversion
from intermask.cli import CONFIG_DIR, UsageError
from intermask.official import weights as official
from intermask.models.text_motion_evaluators import (InterCLIPEvaluator, InterXMatchingEvaluator, interclip_motion_input,
                                        prepare_interx_motion)
from intermask.models.transformer import InterMTransformer
from intermask.models.masking import validity_grid
from intermask.generation.interaction_model import InterMask
from intermask.models.vqvae import MotionVQVAE
from intermask.checkpoint import CheckpointError, load_checkpoint
from intermask.loading import load_vq

FIXTURES = Path(__file__).parent / "fixtures" / "official"
OFFICIAL_COMMIT = "e69d496403806fe94c555d2ab1ca15a4b09247b8"
NUM_PARTS = 5


# ---- the fixture, expanded into an official checkout -------------------------------------------------------


def seeded_normal(shape, seed, mean, std):
    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed)) * std + mean


def unpacked(state: dict) -> dict:
    """A fixture state dict with every seeded-weight recipe expanded (see the fixture's README)."""
    return {key: seeded_normal(*value["seeded_normal"]) if isinstance(value, dict) else value
            for key, value in state.items()}


def load_fixture(name: str) -> dict:
    return torch.load(FIXTURES / name, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def golden():
    return {name: load_fixture(f"{name}.pt")
            for name in ("vqvae", "vqvae_interx", "transformer", "interclip", "interx_matching")}


def official_checkpoint(golden, name: str) -> dict:
    """A fixture's checkpoint as the official code saves it: its state dicts expanded, the rest as stored."""
    return {entry: unpacked(value) if isinstance(value, dict) else value
            for entry, value in golden[name]["checkpoint"].items()}


def write_options(path: Path, options: dict) -> None:
    """An opt.txt as the official option parser writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{key}: {value}" for key, value in sorted(options.items())]
    path.write_text("\n".join(["------------ Options -------------", *lines, "-------------- End ----------------"])
                    + "\n")


@pytest.fixture(scope="module")
def checkout(tmp_path_factory, golden) -> Path:
    """An official checkout's layout holding the fixture's checkpoints, options and statistics."""
    root = tmp_path_factory.mktemp("InterMask")
    checkpoints = {name: official_checkpoint(golden, name) for name in golden}
    runs = root / "checkpoints" / "interhuman"
    for run, kind in (("vq_default", "vqvae"), ("trans_default", "transformer")):
        write_options(runs / run / "opt.txt", golden[kind]["opt"])
        (runs / run / "model").mkdir(parents=True)
        torch.save(checkpoints[kind], runs / run / "model" / "best_fid.tar")
    eval_model = root / "checkpoints" / "eval_model"
    eval_model.mkdir(parents=True)
    torch.save(checkpoints["interclip"], eval_model / "interclip.ckpt")
    (eval_model / "eval_model.yaml").write_text("".join(f"{k}: {v}\n" for k, v in golden["interclip"]["cfg"].items()))
    matching = root / "checkpoints" / "hhi" / "text_mot_match" / "model"
    matching.mkdir(parents=True)
    torch.save(checkpoints["interx_matching"], matching / "finest.tar")
    stats = root / "data" / "stats"
    stats.mkdir(parents=True)
    for name in ("mean", "std"):
        np.save(stats / f"global_{name}.npy", golden["transformer"]["stats"][name].numpy())
    yield root
    shutil.rmtree(root)  # the CLIP-wide text layers make these files large


@pytest.fixture(scope="module")
def converted(checkout, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("converted")
    yield conversion.convert_official_dir(checkout, out)
    shutil.rmtree(out)


def interaction_model(payload: dict) -> InterMask:
    """``loading.load_interaction_model`` without the CLIP text tower (frozen text features are given)."""
    config = payload["config"]["model_config"]
    model = InterMask(MotionVQVAE.from_config(config["vq"]), InterMTransformer(**config["transformer"]),
                      official.text_encoder_from_config(config["text_encoder"]),
                      torch.zeros(config["feature_dim"]), torch.ones(config["feature_dim"]), config)
    model.load_state_dict(payload["model"], strict=True)
    return model.eval()


@pytest.fixture(scope="module")
def intermask_model(converted) -> InterMask:
    return interaction_model(load_checkpoint(converted["transformer"], kind="transformer"))


def as_token_grid(flat: torch.Tensor) -> torch.Tensor:
    """Official (b, 2 * 5 * t) ids, person-major then part-major -> (b, 2, 5, t)."""
    return rearrange(flat, "b (n p t) -> b n p t", n=2, p=NUM_PARTS)


def as_logit_grid(logits: torch.Tensor) -> torch.Tensor:
    """Official (b, codes, 2 * 5 * t) logits -> (b, 2, 5, t, codes)."""
    return rearrange(logits, "b v (n p t) -> b n p t v", n=2, p=NUM_PARTS)


# ---- golden outputs -----------------------------------------------------------------------------------------


def test_fixture_records_the_official_commit(golden):
    assert {fixture["official_commit"] for fixture in golden.values()} == {OFFICIAL_COMMIT}


def test_converted_vq_gives_the_official_tokens_and_reconstruction(converted, golden):
    vq = load_vq(converted["vqvae"])
    features, expected = golden["vqvae"]["inputs"]["features"], golden["vqvae"]["outputs"]
    with torch.no_grad():
        codes = vq.encode(features)
        recon = vq(features)["recon"]
    assert torch.equal(rearrange(codes, "b p t -> b (p t)"), expected["codes"])
    torch.testing.assert_close(recon, expected["recon"], atol=1e-5, rtol=0)


def test_converted_vq_decodes_official_tokens_like_the_official_decoder(converted, golden):
    vq = load_vq(converted["vqvae"])
    expected = golden["vqvae"]["outputs"]
    codes = rearrange(expected["codes"], "b (p t) -> b p t", p=NUM_PARTS)
    with torch.no_grad():
        torch.testing.assert_close(vq.decode(codes), expected["decoded"], atol=1e-5, rtol=0)


def test_converted_vq_keeps_the_published_quirks_and_a_started_ema(converted):
    payload = load_checkpoint(converted["vqvae"], kind="vqvae")
    config = payload["config"]["model_config"]
    assert config["legacy_graph"] and config["legacy_reset"] and config["dilation_growth"] == 3
    assert (config["width"], config["code_dim"], config["num_codes"]) == (32, 32, 64)
    model = payload["model"]
    assert torch.equal(model["quantizer.code_sum"], model["quantizer.codebook"])
    assert bool(model["quantizer.initialized"]) and torch.equal(model["quantizer.code_count"], torch.ones(64))


def test_converted_transformer_logits_match_the_official_ones(intermask_model, golden):
    inputs, expected = golden["transformer"]["inputs"], golden["transformer"]["outputs"]
    transformer, ids = intermask_model.transformer, as_token_grid(inputs["ids"])
    with torch.no_grad():
        logits = transformer(ids, inputs["text_features"], inputs["lengths"])
        null_logits = transformer(ids, None, inputs["lengths"])
        guided = generation.guided_logits(transformer, ids, inputs["text_features"], inputs["lengths"],
                                          expected["cond_scale"])
    # valid steps only: ours are zero at padding, which no valid token sees, the published ones are not
    valid = validity_grid(inputs["lengths"], transformer.num_parts, ids.shape[-1])
    assert not valid.all()
    for ours, theirs in ((logits, "logits"), (null_logits, "null_logits"), (guided, "guided_logits")):
        torch.testing.assert_close(ours[valid], as_logit_grid(expected[theirs])[valid], atol=1e-4, rtol=0)


def test_converted_text_encoder_matches_the_official_one_on_frozen_clip_features(intermask_model, golden):
    inputs = golden["transformer"]["inputs"]
    with torch.no_grad():
        text = intermask_model.text_encoder.encode_from_frozen(inputs["frozen_text"], inputs["eot_index"])
    torch.testing.assert_close(text, golden["transformer"]["outputs"]["encoded_text"], atol=1e-5, rtol=0)


def test_converted_transformer_carries_the_statistics_and_the_official_architecture(converted, golden):
    payload = load_checkpoint(converted["transformer"], kind="transformer")
    config = payload["config"]["model_config"]
    assert config["transformer"]["parity"] is True and config["transformer"]["heads"] == 4
    assert config["text_encoder"]["name"] == "clip" and config["feature_dim"] == 262
    assert config["vq_checkpoint"] == str(converted["vqvae"])
    assert torch.equal(payload["model"]["mean"], golden["transformer"]["stats"]["mean"])
    assert torch.equal(payload["model"]["std"], golden["transformer"]["stats"]["std"])


@pytest.mark.parametrize("run_index", [0, 1, 2, 3])
def test_parity_decoding_picks_the_official_tokens_given_the_same_draws(intermask_model, golden, run_index,
                                                                          monkeypatch):
    run = golden["transformer"]["generation"][run_index]
    lengths = golden["transformer"]["inputs"]["lengths"]
    cond = golden["transformer"]["outputs"]["encoded_text"]
    draws = list(run["gumbel_noise"]) if run["mode"] == "generate" else []
    if draws:
        def recorded(shape, device, generator=None):
            assert draws, "the official sampler drew fewer Gumbel tensors"
            noise = draws.pop(0)
            assert tuple(noise.shape) == tuple(shape)
            return noise

        monkeypatch.setattr(generation, "gumbel_noise", recorded)
    options = dict(cond_scale=run["cond_scale"], temperature=run["temperature"],
                   topk_ratio=run["topk_filter_thres"], gumbel=run["gsample"],
                   generator=torch.Generator().manual_seed(run["seed"]))
    if run["mode"] == "generate":
        ids = generation.generate(intermask_model.transformer, cond, lengths, steps=run["timesteps"], **options)
    else:  # the official reaction decoder runs half the steps
        actor = rearrange(run["actor_ids"], "b (p t) -> b p t", p=NUM_PARTS)
        ids = generation.generate_reaction(intermask_model.transformer, actor, cond, lengths,
                                           steps=run["timesteps"] // 2, **options)
    official_ids = as_token_grid(run["ids"])
    padding = official_ids < 0  # the official decoder marks padding with -1
    assert torch.equal(ids[~padding], official_ids[~padding])
    assert bool((ids[padding] == intermask_model.transformer.pad_id).all())
    assert not draws


def test_interclip_embeddings_match_the_official_ones(converted, golden):
    payload = load_checkpoint(converted["evaluator"], kind="evaluator")
    assert payload["config"]["model_config"]["text_encoder"]["name"] == "clip_tokens"
    evaluator = InterCLIPEvaluator(**payload["config"]["model_config"]["evaluator"])
    evaluator.load_state_dict(payload["model"], strict=True)
    evaluator.eval()
    inputs, expected = golden["interclip"]["inputs"], golden["interclip"]["outputs"]
    person_a, person_b = rearrange(inputs["motions"], "b t (n c) -> n b t c", n=2)
    with torch.no_grad():
        motion = evaluator.encode_motion(interclip_motion_input(person_a, person_b), inputs["lengths"])
        text = evaluator.encode_text(*evaluator.token_features(inputs["token_ids"]))
    torch.testing.assert_close(motion, expected["motion_emb"], atol=1e-5, rtol=0)
    torch.testing.assert_close(text, expected["text_emb"], atol=1e-5, rtol=0)


def test_eval_loads_the_converted_interclip_with_its_own_clip_token_features(converted, golden, monkeypatch):
    from intermask.loading import TextMotionEvaluator

    loaded = TextMotionEvaluator.load(converted["evaluator"], torch.device("cpu"))
    assert loaded.backbone.name == "clip_tokens"
    inputs, expected = golden["interclip"]["inputs"], golden["interclip"]["outputs"]
    # the CLIP tokenizer is an optional extra: stand in for it with the fixture's token ids
    token_ids = {f"caption {i}": ids for i, ids in enumerate(inputs["token_ids"])}
    fake_clip = type("clip", (), {"tokenize": staticmethod(
        lambda texts, context_length, truncate: torch.stack([token_ids[t] for t in texts]))})
    monkeypatch.setitem(sys.modules, "clip", fake_clip)
    text = loaded.embed_text(list(token_ids))
    # evaluation caches the frozen features in float32, so the embeddings are the official ones
    torch.testing.assert_close(text, expected["text_emb"], atol=1e-6, rtol=0)
    motion = rearrange(inputs["motions"], "b t (n c) -> b n t c", n=2)
    torch.testing.assert_close(loaded.embed_motion(motion, inputs["lengths"]),
                               expected["motion_emb"], atol=1e-5, rtol=0)


def test_interx_matching_embeddings_match_the_official_ones(converted, golden):
    payload = load_checkpoint(converted["interx_evaluator"], kind="matching_evaluator")
    evaluator = InterXMatchingEvaluator(**payload["config"]["model_config"]["evaluator"])
    evaluator.load_state_dict(payload["model"], strict=True)
    evaluator.eval()
    inputs, expected = golden["interx_matching"]["inputs"], golden["interx_matching"]["outputs"]
    with torch.no_grad():
        motion = evaluator.encode_motion(prepare_interx_motion(inputs["motions"]), inputs["motion_lengths"])
        text = evaluator.encode_text(inputs["word_embs"], inputs["pos_onehot"], inputs["caption_lengths"])
    torch.testing.assert_close(motion, expected["motion_emb"], atol=1e-5, rtol=0)
    torch.testing.assert_close(text, expected["text_emb"], atol=1e-5, rtol=0)


# ---- reading published files ----------------------------------------------------------------------------------


def test_load_official_detects_every_published_format(checkout, converted):
    runs = checkout / "checkpoints" / "interhuman"
    files = {
        "vqvae": runs / "vq_default" / "model" / "best_fid.tar",
        "transformer": runs / "trans_default" / "model" / "best_fid.tar",
        "evaluator": checkout / "checkpoints" / "eval_model" / "interclip.ckpt",
        "matching_evaluator": checkout / "checkpoints" / "hhi" / "text_mot_match" / "model" / "finest.tar",
    }
    for kind, path in files.items():
        payload = conversion.load_official(path)
        assert payload["kind"] == kind and payload["config"]["official"]["file"] == str(path)
    transformer = conversion.load_official(files["transformer"])
    assert transformer["config"]["official"]["epoch"] == 42
    assert transformer["config"]["model_config"]["vq_checkpoint"] == str(files["vqvae"])
    # this library's own checkpoints pass through as load_checkpoint returns them
    assert conversion.load_official(converted["vqvae"])["kind"] == "vqvae"


def test_load_official_refuses_pickled_objects_unless_trusted(tmp_path, golden):
    path = tmp_path / "net.tar"
    state = unpacked(golden["vqvae"]["checkpoint"]["vq_model"])
    torch.save({"net": state, "opt": argparse.Namespace(nb_code=64)}, path)
    with pytest.raises(CheckpointError, match="trust_pickle"):
        conversion.load_official(path)
    assert conversion.load_official(path, trust_pickle=True)["kind"] == "vqvae"


def test_load_official_rejects_an_unknown_file_naming_its_entries(tmp_path):
    path = tmp_path / "other.tar"
    torch.save({"generator": {"w": torch.zeros(1)}}, path)
    with pytest.raises(CheckpointError, match="'generator'"):
        conversion.load_official(path)


def test_option_files_are_typed_like_the_official_reader(tmp_path):
    write_options(tmp_path / "opt.txt", {"n_heads": 6, "dropout": 0.2, "vq_norm": None, "is_train": True,
                                         "name": "trans_default", "lr": "2e-4"})
    assert conversion.read_option_file(tmp_path / "opt.txt") == {
        "n_heads": 6, "dropout": 0.2, "vq_norm": None, "is_train": True, "name": "trans_default", "lr": 2e-4}


def test_convert_entry_point_writes_the_transformer_and_its_vq(checkout, tmp_path):
    assert convert.translate([str(checkout), "evaluators=false"]) == [f"official_dir='{checkout}'",
                                                                       "evaluators=false"]
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("convert", overrides=[f"official_dir={checkout}", f"out={tmp_path}", "evaluators=false"])
    written = convert.job(cfg)
    assert set(written) == {"vqvae", "transformer"}
    assert load_checkpoint(written["transformer"], kind="transformer")["config"]["model_config"]["vq_checkpoint"] \
        == str(tmp_path / "vqvae.pt")
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        with pytest.raises(UsageError, match="official_dir"):
            convert.job(compose("convert"))


# ---- strict mapping -----------------------------------------------------------------------------------------


def test_vq_conversion_names_a_missing_key(golden):
    checkpoint = official_checkpoint(golden, "vqvae")
    del checkpoint["vq_model"]["decoder.model.3.0.model.1.conv2.bias"]
    with pytest.raises(official.OfficialCheckpointError, match=r"missing key 'decoder\.model\.3\.0\.model\.1\.conv2"):
        official.convert_vq(checkpoint, golden["vqvae"]["opt"])


def test_vq_conversion_names_an_unexpected_key(golden):
    checkpoint = official_checkpoint(golden, "vqvae")
    checkpoint["vq_model"]["decoder.model.6.weight"] = torch.zeros(12, 32, 3, 3)
    with pytest.raises(official.OfficialCheckpointError, match=r"unexpected key 'decoder\.model\.6\.weight'"):
        official.convert_vq(checkpoint, golden["vqvae"]["opt"])


def test_transformer_conversion_names_missing_unexpected_and_misshapen_keys(golden):
    vq_config, vq_state = official.convert_vq(official_checkpoint(golden, "vqvae"), golden["vqvae"]["opt"])
    stats, published = golden["transformer"]["stats"], official_checkpoint(golden, "transformer")

    def convert_with(edit):
        state = dict(published["t2m_transformer"])
        edit(state)
        official.convert_transformer({"t2m_transformer": state}, golden["transformer"]["opt"], vq_config, vq_state,
                                     stats["mean"], stats["std"])

    key = "Transformer.blocks.1.local_inter_attn.interaction_attention.in_proj_bias"
    with pytest.raises(official.OfficialCheckpointError, match=rf"missing key '{key}'"):
        convert_with(lambda state: state.pop(key))
    with pytest.raises(official.OfficialCheckpointError, match=r"unexpected key 'clip_positional_embedding'"):
        convert_with(lambda state: state.update(clip_positional_embedding=torch.zeros(77, 768)))
    with pytest.raises(official.OfficialCheckpointError,
                       match=r"'output_process\.dense\.weight' has shape \(32, 16\), but 'transformer\.head\.dense"):
        convert_with(lambda state: state.update({"output_process.dense.weight": torch.zeros(32, 16)}))
    with pytest.raises(official.OfficialCheckpointError, match="text_dim 512"):
        convert_with(lambda state: state.update({"cond_emb.weight": torch.zeros(32, 512)}))
    with pytest.raises(official.OfficialCheckpointError, match="inv_freq"):
        convert_with(lambda state: state.update({official.POSITION_FREQUENCIES_KEY: torch.ones(8)}))


def test_evaluator_conversions_name_the_offending_key(golden):
    interclip = official_checkpoint(golden, "interclip")
    interclip["state_dict"]["model.text_proj.weight"] = torch.zeros(4)
    with pytest.raises(official.OfficialCheckpointError, match=r"unexpected key 'text_proj\.weight'"):
        official.convert_interclip(interclip, golden["interclip"]["cfg"])
    matching = official_checkpoint(golden, "interx_matching")
    del matching["text_encoder"]["hidden"]
    with pytest.raises(official.OfficialCheckpointError, match=r"missing key 'text_encoder\.hidden'"):
        official.convert_interx_matching(matching)


def test_converted_inter_x_vq_gives_the_official_tokens_reconstruction_and_decoding(golden):
    fixture = golden["vqvae_interx"]
    config, state = official.convert_vq(official_checkpoint(golden, "vqvae_interx"), fixture["opt"])
    assert config["graph"] is False and config["layout"]["joint_sizes"] == [56, 18, 5]
    vq = MotionVQVAE.from_config(config)
    vq.load_state_dict(state, strict=True)
    vq.eval()
    # the official model reads (batch, time, 56 rows, 6 channels); this one the same rows flattened per frame
    features, expected = fixture["inputs"]["features"].flatten(2), fixture["outputs"]
    with torch.no_grad():
        codes = vq.encode(features)
        recon = vq(features)["recon"].unflatten(-1, (56, 6))
        decoded = vq.decode(codes).unflatten(-1, (56, 6))
    assert torch.equal(rearrange(codes, "b p t -> b (p t)"), expected["codes"])
    torch.testing.assert_close(recon, expected["recon"], atol=1e-5, rtol=0)
    torch.testing.assert_close(decoded, expected["decoded"], atol=1e-5, rtol=0)


def test_an_inter_x_transformer_converts_without_statistics_for_150_frames(golden):
    # the published Inter-X transformer is the same network on the Inter-X VQ-VAE's tokens: the fixture's
    # transformer fits the Inter-X VQ fixture (same codebook size and width)
    vq_config, vq_state = official.convert_vq(official_checkpoint(golden, "vqvae_interx"),
                                              golden["vqvae_interx"]["opt"])
    checkpoint = official_checkpoint(golden, "transformer")
    opt = {**golden["transformer"]["opt"], "dataset_name": "interx"}
    with pytest.raises(official.OfficialCheckpointError, match="options name dataset 'interhuman'.*the interx one"):
        official.convert_transformer(checkpoint, golden["transformer"]["opt"], vq_config, vq_state, None, None)
    config, state = official.convert_transformer(checkpoint, opt, vq_config, vq_state, None, None)
    assert config["feature_dim"] == 336 and config["transformer"]["max_time"] == 150 // 4
    model = interaction_model({"config": {"model_config": config}, "model": state})
    assert torch.equal(model.mean, torch.zeros(336)) and torch.equal(model.std, torch.ones(336))
    stats = golden["transformer"]["stats"]
    with pytest.raises(official.OfficialCheckpointError, match="take no normalisation statistics"):
        official.convert_transformer(checkpoint, opt, vq_config, vq_state, torch.zeros(336), torch.ones(336))
    interhuman_vq = official.convert_vq(official_checkpoint(golden, "vqvae"), golden["vqvae"]["opt"])
    interhuman_opt = golden["transformer"]["opt"]
    with pytest.raises(official.OfficialCheckpointError, match="take a normalisation mean and std"):
        official.convert_transformer(checkpoint, interhuman_opt, *interhuman_vq, None, None)
    assert official.convert_transformer(checkpoint, interhuman_opt, *interhuman_vq, stats["mean"], stats["std"])[0][
        "transformer"]["max_time"] == 300 // 4


def test_convert_entry_point_converts_an_inter_x_checkout_without_statistics(golden, tmp_path):
    runs = tmp_path / "InterMask" / "checkpoints" / "interx"
    for run, kind in (("vq_default", "vqvae_interx"), ("trans_default", "transformer")):
        write_options(runs / run / "opt.txt", {**golden[kind]["opt"], "dataset_name": "interx"})
        (runs / run / "model").mkdir(parents=True)
        torch.save(official_checkpoint(golden, kind), runs / run / "model" / "best_fid.tar")
    written = conversion.convert_official_dir(tmp_path / "InterMask", tmp_path / "out", dataset="interx")
    assert set(written) == {"vqvae", "transformer"}  # no data/stats needed, no evaluator in this checkout
    config = load_checkpoint(written["transformer"], kind="transformer")["config"]["model_config"]
    assert config["feature_dim"] == 336 and config["transformer"]["max_time"] == 37 and config["vq"]["graph"] is False


def test_a_vq_whose_options_name_the_other_dataset_is_refused(golden):
    with pytest.raises(official.OfficialCheckpointError, match="dataset 'interx'.*interhuman model"):
        official.convert_vq(official_checkpoint(golden, "vqvae"), {**golden["vqvae"]["opt"], "dataset_name": "interx"})


@pytest.mark.parametrize("name,graph", [("vqvae", True), ("vqvae_interx", False)])
def test_vq_key_table_reads_both_ways_over_a_whole_checkpoint(golden, name, graph):
    table = official.vq_key_table(num_stages=2, graph=graph)
    for key in golden[name]["checkpoint"]["vq_model"]:
        ours = table.to_ours(key)
        assert ours is not None and table.to_official(ours) == key


def test_transformer_key_table_reads_both_ways_over_a_whole_checkpoint(golden):
    for key in golden["transformer"]["checkpoint"]["t2m_transformer"]:
        if key == official.POSITION_FREQUENCIES_KEY:
            continue
        ours = official.TRANSFORMER_KEYS.to_ours(key)
        assert ours is not None and official.TRANSFORMER_KEYS.to_official(ours) == key
    assert official.TRANSFORMER_KEYS.to_ours("Transformer.blocks.3.spa_temp_attn.temporal_attention.in_proj_weight") \
        == "transformer.blocks.3.temporal_attn.in_proj.weight"
