"""scripts/tokenizer_bound.py: the attribution of a reconstruction's evaluator distance to feature groups."""
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.fake_data import write_dataset
from omegaconf import OmegaConf

from intermask.data.source import DataSource
from intermask.motion.layout import INTERHUMAN

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tokenizer_bound(load_script):
    return load_script("tokenizer_bound")


class StandInVQ:
    """Encodes features as they are; decodes them with one group's channels (``drop``: "rotation", "velocity") set to
    ``value`` (normalised: 0 is the data's mean), or unchanged."""

    class layout:
        time_downsample = 4

    def __init__(self, drop: str | None, value: float = 0.0):
        self.drop, self.value = drop, value

    def encode(self, features, lengths):
        return features.clone()

    def decode(self, codes, lengths_tokens):
        decoded = codes.clone()
        if self.drop:
            decoded[..., getattr(INTERHUMAN, self.drop)] = self.value
        return decoded


class FeatureMeanEvaluator:
    """Embeds motion as its per-channel mean over valid frames (every channel counts), text as a fixed hash."""

    def embed_motion(self, raw, lengths):
        frames = (torch.arange(raw.shape[2])[None, :] < lengths[:, None]).float()
        features = torch.cat([raw[:, 0], raw[:, 1]], dim=-1)
        return (features * frames[..., None]).sum(1) / lengths[:, None].float()

    def embed_text(self, texts):
        return torch.stack([torch.from_numpy(np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(524))
                            .float() for t in texts])


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("bound")
    write_dataset(root, np.random.default_rng(0), num_clips=60)
    cfg = OmegaConf.load(ROOT / "configs" / "data" / "synthetic.yaml").data
    cfg.root, cfg.generate, cfg.max_frames = str(root), None, 64
    return DataSource(cfg)


def test_a_perfect_tokenizer_loses_nothing(tokenizer_bound, source):
    results = tokenizer_bound.measure(StandInVQ(None), FeatureMeanEvaluator(), source, "test", 8, 1.0)
    assert results["mpjpe_mm"] == 0.0
    assert results["rotation_error_deg"] == [0.0] * 21
    assert max(results["mean_rotation_error_deg"]) > 1.0
    assert all(row["fid"] == pytest.approx(0.0, abs=1e-3) for row in results["evaluator"].values())


def test_a_tokenizer_without_rotations_is_found_out_by_its_rotation_channels(tokenizer_bound, source):
    results = tokenizer_bound.measure(StandInVQ("rotation"), FeatureMeanEvaluator(), source, "test", 8, 1.0)
    rows = results["evaluator"]
    # it answers the mean rotation everywhere, so its error per joint is the mean rotation's
    np.testing.assert_allclose(results["rotation_error_deg"], results["mean_rotation_error_deg"], atol=0.11)
    assert results["mpjpe_mm"] == 0.0  # positions untouched
    assert rows["reconstruction"]["fid"] > 0.01
    for untouched in ("ground truth, position reconstructed", "ground truth, velocity reconstructed",
                      "reconstruction, rotation restored",
                      "reconstruction, velocities from its positions, rotation restored"):
        assert rows[untouched]["fid"] == pytest.approx(0.0, abs=1e-3), untouched
    assert rows["ground truth, rotation reconstructed"]["fid"] == pytest.approx(rows["reconstruction"]["fid"])


def test_velocities_taken_from_the_reconstructed_positions_undo_a_tokenizer_s_lost_velocities(tokenizer_bound, source):
    results = tokenizer_bound.measure(StandInVQ("velocity", 1.0), FeatureMeanEvaluator(), source, "test", 8, 1.0)
    rows = results["evaluator"]
    assert rows["reconstruction"]["fid"] > 1.0
    # the data's velocities are its positions' differences but for each clip's last row, which keeps the lost one
    assert rows["reconstruction, velocities from its positions"]["fid"] < 0.01 * rows["reconstruction"]["fid"]
