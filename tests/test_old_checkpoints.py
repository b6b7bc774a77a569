"""Checkpoints written before the modules moved load through ``intermask.loading`` and compute what they did."""
import gzip
import shutil
from pathlib import Path

import pytest
import torch

from intermask.errors import CheckpointError
from intermask.loading import TextMotionEvaluator, load_interaction_model, load_vq, resolve

FIXTURES = Path(__file__).parent / "fixtures" / "old_format"


@pytest.fixture(scope="module")
def old_format(tmp_path_factory):
    folder = tmp_path_factory.mktemp("old_format")
    for packed in FIXTURES.glob("*.pt.gz"):
        with gzip.open(packed, "rb") as source, open(folder / packed.name[: -len(".gz")], "wb") as target:
            shutil.copyfileobj(source, target)
    return folder, torch.load(folder / "expected.pt", weights_only=True)


def test_checkpoints_written_before_the_restructuring_load_and_compute_the_same(old_format):
    folder, expected = old_format
    cpu = torch.device("cpu")
    draws = torch.Generator().manual_seed(3)
    features = torch.randn(2, 32, 262, generator=draws)
    assert torch.equal(load_vq(folder / "vqvae.pt").encode(features), expected["vq_codes"])

    model = load_interaction_model(folder / "transformer.pt", cpu)
    ids, generated = model.generate(expected["texts"], torch.tensor(expected["lengths"]), steps=expected["steps"],
                                    generator=torch.Generator().manual_seed(expected["seed"]))
    assert torch.equal(ids, expected["generated_ids"])
    torch.testing.assert_close(generated[..., :8], expected["generated_features_first_channels"])

    evaluator = TextMotionEvaluator.load(folder / "evaluator.pt", cpu)
    pair = torch.randn(2, 2, 32, 262, generator=draws)
    torch.testing.assert_close(evaluator.embed_text(expected["texts"]), expected["text_embedding"])
    torch.testing.assert_close(evaluator.embed_motion(pair, torch.tensor([32, 20])), expected["motion_embedding"])


def test_a_checkpoint_reference_is_a_file_a_run_folder_or_latest(old_format, tmp_path):
    folder, _ = old_format
    run = tmp_path / "synthetic" / "transformer_tiny"
    run.mkdir(parents=True)
    shutil.copy(folder / "transformer.pt", run / "last.pt")
    assert resolve(folder / "transformer.pt", tmp_path, "synthetic", "transformer") == folder / "transformer.pt"
    assert resolve(run, tmp_path, "synthetic", "transformer") == run / "last.pt"
    assert resolve("latest", tmp_path, "synthetic", "transformer") == run / "last.pt"
    with pytest.raises(CheckpointError, match="no last.pt of kind 'vqvae'.*train one"):
        resolve("latest", tmp_path, "synthetic", "vqvae", how="train one")
