"""Ground-truth evaluation on the Inter-X layout with Inter-X's matching evaluator (GloVe tokens, 56x12 motion)."""
import json

import numpy as np
import pytest
import torch
from helpers.fake_data import write_glove, write_interx
from hydra import compose, initialize_config_dir

from intermask import eval as eval_entry
from intermask.errors import ConfigError, DatasetError
from intermask.evaluation import EvaluationRun, InterXTextMotionEvaluator, evaluate_from_config
from intermask.models.evaluator import GloVe, InterXMatchingEvaluator, prepare_interx_motion
from intermask.training.checkpoint import save_checkpoint

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


def test_interx_stops_clearly_where_it_is_not_wired(interx_root, tmp_path):
    with pytest.raises(ConfigError, match="Inter-X's SMPL-X representation is not wired"):
        evaluate_from_config(config(interx_root, "ckpt=some/transformer.pt"))
    (interx_root / "glove" / "hhi_vab_idx.pkl").unlink()
    with pytest.raises(DatasetError, match=r"glove/hhi_vab_idx\.pkl.*data\.eval\.glove"):
        evaluate_from_config(config(interx_root))


def test_training_on_interx_stops_before_reading_data(interx_root):
    from intermask import train as train_entry
    from intermask.training.tasks import build_trainer

    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=train_entry.translate(["vqvae"]) + ["data=interx", f"data.root={interx_root}"])
    with pytest.raises(ConfigError, match="python -m intermask.train vqvae is not available for data=interx"):
        build_trainer(cfg)
