"""scripts/tokenizer_bound.py: the attribution of a reconstruction's evaluator distance to feature groups."""
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.fake_data import write_dataset
from omegaconf import OmegaConf

from intermask.data.datasets import collate
from intermask.data.source import DataSource
from intermask.motion.layout import INTERHUMAN

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tokenizer_bound(load_script):
    return load_script("tokenizer_bound")


class StandInVQ:
    """Encodes features as they are; decodes them with one group's channels (``drop``: "rotation", "velocity") set to
    ``value`` (normalised: 0 is the data's mean), or unchanged."""

    layout = INTERHUMAN

    def __init__(self, drop: str | None, value: float = 0.0, partner_frame: bool = False,
                 body_size: float | None = None):
        self.drop, self.value, self.partner_frame, self.body_size = drop, value, partner_frame, body_size

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
    assert results["mpjpe_mm"] == 0.0 and results["facing_error_deg"] == pytest.approx(0.0, abs=0.1)
    assert results["rotation_error_deg"] == [0.0] * 21
    assert max(results["mean_rotation_error_deg"]) > 1.0
    assert all(row["fid"] == pytest.approx(0.0, abs=1e-3) for row in results["evaluator"].values())


def test_a_partner_frame_tokenizer_codes_the_second_person_beside_the_first_and_is_read_back_in_the_world(
        tokenizer_bound, source):
    normalizer = source.normalizer()
    batch = collate([source.interactions("test", normalized=False, mirror=False)[i] for i in range(4)])
    raw, frames = batch["motion"].float(), batch["length"] - batch["length"] % 4
    for partner_frame, body_size in ((False, None), (True, None), (False, 4.26), (True, 4.26)):
        # a lossless codec reads back what it was given, in either frame, at the people's own size or at one size
        lossless = StandInVQ(None, partner_frame=partner_frame, body_size=body_size)
        torch.testing.assert_close(tokenizer_bound.reconstruct(lossless, normalizer, raw, frames), raw,
                                   atol=1e-4, rtol=1e-4)
    # a codec that answers the mean positions: the second person lands at the mean offset from the decoded first
    # person (itself at the mean), not at the mean place
    world = tokenizer_bound.reconstruct(StandInVQ("position"), normalizer, raw, frames)
    beside = tokenizer_bound.reconstruct(StandInVQ("position", partner_frame=True), normalizer, raw, frames)
    torch.testing.assert_close(beside[:, 0], world[:, 0])
    root = torch.as_tensor(normalizer.mean[:3], dtype=torch.float32) * torch.tensor([1.0, 0.0, 1.0])
    second = beside[:, 1, :, INTERHUMAN.position].unflatten(-1, (22, 3))
    torch.testing.assert_close(second, world[:, 1, :, INTERHUMAN.position].unflatten(-1, (22, 3)) + root,
                               atol=1e-4, rtol=1e-4)


def test_a_tokenizer_without_rotations_is_found_out_by_its_rotation_channels(tokenizer_bound, source):
    results = tokenizer_bound.measure(StandInVQ("rotation"), FeatureMeanEvaluator(), source, "test", 8, 1.0)
    rows = results["evaluator"]
    # it answers the mean rotation everywhere, so its error per joint is the mean rotation's
    np.testing.assert_allclose(results["rotation_error_deg"], results["mean_rotation_error_deg"], atol=0.11)
    assert results["mpjpe_mm"] == 0.0 and results["facing_error_deg"] == pytest.approx(0.0, abs=0.1)  # positions
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


def test_a_tokenizer_that_answers_the_mean_positions_faces_every_body_the_mean_way(tokenizer_bound, source):
    results = tokenizer_bound.measure(StandInVQ("position"), FeatureMeanEvaluator(), source, "test", 8, 1.0)
    # the clips' people turn as they move; a body drawn at the mean faces one way only (the lossless and the
    # rotation-less tokenizers above: 0)
    assert results["facing_error_deg"] > 5.0 and results["mpjpe_mm"] > 100.0
