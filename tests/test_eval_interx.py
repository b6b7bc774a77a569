"""Ground-truth evaluation on the Inter-X layout with Inter-X's matching evaluator (GloVe tokens, 56x12 motion)."""
import json

import numpy as np
import pytest
import torch
from helpers.fake_data import write_glove, write_interx
from helpers.stand_in import tiny_model
from hydra import compose, initialize_config_dir

from intermask import eval as eval_entry
from intermask.data.interx import InterXInteractions
from intermask.errors import ConfigError, DatasetError
from intermask.evaluation_run import EvaluationRun, evaluate_from_config
from intermask.loading import InterXTextMotionEvaluator
from intermask.models.text_motion_evaluators import GloVe, InterXMatchingEvaluator, prepare_interx_motion
from intermask.motion.layout import INTERHUMAN
from intermask.checkpoint import save_checkpoint

from test_cli import CONFIG_DIR

SIZES = dict(movement_hidden=16, movement_latent=16, motion_hidden=16, word_dim=8, text_hidden=16, embed_dim=8)


@pytest.fixture
def interx_root(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "Inter-X"
    lengths = {f"G001T000A{i:03d}R000": int(n) for i, n in enumerate(rng.integers(24, 70, 10))}
    write_interx(root, rng, lengths, split="test")
    write_glove(root / "glove")
    torch.manual_seed(0)
    evaluator = InterXMatchingEvaluator(**SIZES)
    save_checkpoint(tmp_path / "interx_evaluator.pt", {
        "format_version": 1, "kind": "matching_evaluator", "model": evaluator.state_dict(),
        "config": {"model_config": {"evaluator": SIZES}}, "optimizer": None, "scheduler": None, "step": 0,
        "epoch": 0, "metrics": {}})
    return root


def config(root, *extra):
    overrides = eval_entry.translate(["--dataset", "interx", "--quick"]) + [
        f"data.root={root}", f"evaluator_ckpt={root.parent / 'interx_evaluator.pt'}", "ckpt=null",
        f"out={root.parent / 'out'}", "protocol.batch_size=4", "protocol.quick.max_items=8",
        "protocol.quick.diversity_pairs=4", *extra]
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        return compose("eval", overrides=overrides)


def test_the_ground_truth_pass_embeds_each_items_caption_tokens_and_its_motion(interx_root):
    from intermask.data.source import DataSource

    cfg = config(interx_root)
    evaluator = InterXTextMotionEvaluator.load(cfg.evaluator_ckpt, torch.device("cpu"), cfg.data.eval.glove,
                                               cfg.data.eval.vip_words)
    dataset = DataSource(cfg.data).interactions("test", normalized=False)
    run = EvaluationRun(dataset, evaluator, None, 4, {}, torch.device("cpu"), max_items=8)
    batch = next(run.ground_truth(np.random.default_rng(0)))
    assert batch.joints is None and batch.motion.shape[1:] == (150, 56, 12)
    text, motion = run.embed(batch)
    # by hand: the GloVe vectors of the drawn caption's tokens ("left", the one word of this vocabulary in the
    # evaluator's VIP lists, tagged as a location), the motion with its root velocities zeroed
    glove = GloVe(interx_root / "glove", vip_words={"Loc_VIP": ["left"]})
    words, onehots, lengths = zip(*(glove.encode(tokens, 35) for tokens in batch.text))
    expected_text = evaluator.model.encode_text(torch.from_numpy(np.stack(words)),
                                                torch.from_numpy(np.stack(onehots)), torch.tensor(lengths))
    expected_motion = evaluator.model.encode_motion(prepare_interx_motion(batch.motion), batch.lengths)
    torch.testing.assert_close(text, expected_text)
    torch.testing.assert_close(motion, expected_motion)
    # the configured VIP tags matter: without them the same captions embed differently
    untagged = InterXTextMotionEvaluator.load(cfg.evaluator_ckpt, torch.device("cpu"), cfg.data.eval.glove, {})
    assert not torch.allclose(untagged.embed_text(list(batch.text)), text)


def test_eval_of_interx_ground_truth_writes_the_table_without_physical_metrics(interx_root):
    table, paths = evaluate_from_config(config(interx_root))
    results = json.loads(paths[1].read_text())
    (row,) = results["rows"].values()
    for key in ("R@1", "R@2", "R@3", "FID", "MMDist", "Diversity"):
        assert np.isfinite(row[key]["mean"]), key
    assert 0 <= row["R@1"]["mean"] <= row["R@3"]["mean"] <= 1 and row["MMDist"]["mean"] > 0
    assert row["penetration_ratio"] is None and row["jitter"] is None  # no joints without the SMPL-X model
    assert results["evaluator"].endswith("interx_evaluator.pt") and results["model"] is None
    assert "MM Dist" in table and paths[0].read_text().endswith(table.split("\n\n", 1)[1] + "\n")


def test_two_peoples_inter_x_features_become_the_pairs_rows_with_person_1_first():
    raw = torch.randn(2, 2, 8, 336)
    pair = InterXInteractions.from_people(raw)
    assert pair.shape == (2, 8, 56, 12)
    torch.testing.assert_close(pair[..., :6], raw[:, 0].unflatten(-1, (56, 6)))
    torch.testing.assert_close(pair[..., 6:], raw[:, 1].unflatten(-1, (56, 6)))


def test_eval_of_a_model_on_interx_gives_the_evaluator_its_generations_as_pairs(interx_root, monkeypatch):
    import intermask.evaluation_run as evaluation

    model, seen = tiny_model(), []
    embed_motion = InterXTextMotionEvaluator.embed_motion

    def spy(self, motion, lengths):
        seen.append((tuple(motion.shape), lengths.tolist()))
        return embed_motion(self, motion, lengths)

    monkeypatch.setattr(evaluation, "load_interaction_model", lambda path, device: model)
    monkeypatch.setattr(InterXTextMotionEvaluator, "embed_motion", spy)
    checkpoint = interx_root.parent / "transformer.pt"
    checkpoint.write_bytes(b"")  # stands for the converted published model, which the patch above replaces
    table, paths = evaluate_from_config(config(interx_root, f"ckpt={checkpoint}", "protocol.quick.mm_num_texts=2",
                                               "protocol.quick.mm_num_samples=3", "protocol.quick.mm_pairs=2"))
    rows = json.loads(paths[1].read_text())["rows"]
    assert set(rows) == {"ground truth", "model"} and np.isfinite(rows["model"]["MModality"]["mean"])
    assert all(shape[-2:] == (56, 12) for shape, _ in seen)
    # generated clips are cut to whole token steps (the evaluator reads 4 * floor(L / 4) frames)
    assert all(length % 4 == 0 for _, lengths in seen for length in lengths)
    # a model of the other dataset is refused by name
    monkeypatch.setattr(evaluation, "load_interaction_model", lambda path, device: tiny_model(INTERHUMAN))
    with pytest.raises(ConfigError, match="262 features per person, data=interx holds 336"):
        evaluate_from_config(config(interx_root, f"ckpt={checkpoint}"))


def test_a_missing_glove_file_is_named_with_where_it_comes_from(interx_root):
    (interx_root / "glove" / "hhi_vab_idx.pkl").unlink()
    with pytest.raises(DatasetError, match=r"glove/hhi_vab_idx\.pkl.*data\.eval\.glove"):
        evaluate_from_config(config(interx_root))


def test_sampling_an_inter_x_model_without_a_body_model_says_which_file_it_needs(tmp_path, monkeypatch):
    import intermask.sampling as interaction
    from intermask import sample as sample_entry

    monkeypatch.setattr(interaction, "load_interaction_model", lambda path, device: tiny_model())
    checkpoint = tmp_path / "transformer.pt"
    checkpoint.write_bytes(b"")
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("sample", overrides=sample_entry.translate(["--text", "two people hug"])
                      + [f"ckpt={checkpoint}", f"sample.out={tmp_path / 'out'}"])
    with pytest.raises(ConfigError, match=r"SMPL-X body model: pass sample\.body_model=PATH.*smpl-x\.is\.tue\.mpg\.de"):
        interaction.sample_from_config(cfg)
    assert not (tmp_path / "out").exists()
