"""intermask.evaluation_run: the protocol's streams of test batches (MultiModality's) and its split-size check."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.clip_stand_ins import ClipEvaluator, OtherClipModel

from intermask.evaluation_run import EvaluationRun


class CountingModel(OtherClipModel):
    """Draws each caption's own clip and keeps the texts and frames of every generation call."""

    def __init__(self, evaluator, items):
        super().__init__(evaluator, items, list(range(len(items))))
        self.calls = []

    def generate(self, texts, frames, generator=None, **options):
        self.calls.append((list(texts), frames.tolist()))
        return super().generate(texts, frames, generator, **options)


@pytest.fixture()
def run(family_clips, load_script):
    root, _ = family_clips
    source = load_script("tokenizer_bound").synthetic_source(root)
    dataset = source.interactions("test", normalized=False, mirror=False)
    items = [dataset[i] for i in range(len(dataset))]
    evaluator = ClipEvaluator(items)
    model = CountingModel(evaluator, items)
    return EvaluationRun(dataset, evaluator, model, batch_size=7, generation={}, device=torch.device("cpu")), model


def test_captions_share_a_generation_call_up_to_the_batch_and_each_keeps_its_own_samples(run):
    run, model = run
    embeddings = run.multimodality(np.random.default_rng(0), num_texts=5, num_samples=3)
    assert embeddings.shape == (5, 3, len(run.evaluator.keys))
    # two captions of three samples fit a batch of 7: calls of 6, 6 and 3 generations
    assert [len(texts) for texts, _ in model.calls] == [6, 6, 3]
    for texts, frames in model.calls:
        for caption in range(len(texts) // 3):
            rows = slice(3 * caption, 3 * caption + 3)
            assert len(set(texts[rows])) == 1 and len(set(frames[rows])) == 1
    # every sample of a caption is its caption's clip: the rows embed one clip each, the clip of that caption
    captions = [texts[i] for texts, _ in model.calls for i in range(0, len(texts), 3)]
    expected = np.stack([run.evaluator.embed_text([caption]).numpy()[0] for caption in captions])
    assert np.array_equal(embeddings, np.repeat(expected[:, None], 3, axis=1))


def test_more_samples_than_the_batch_take_one_call_per_caption(run):
    run, model = run
    assert run.multimodality(np.random.default_rng(1), num_texts=2, num_samples=9).shape[:2] == (2, 9)
    assert [len(texts) for texts, _ in model.calls] == [9, 9]


@pytest.mark.parametrize("quick, items, asked, named", [
    (True, 20, dict(batch_size=96, diversity_pairs=48),
     r"protocol\.batch_size sets it: at most 20 for this split, "
     r"and protocol\.quick\.diversity_pairs \(now 48\) at most"),
    (True, 20, dict(batch_size=16, diversity_pairs=48),
     r"16 items in whole evaluation batches, fewer than the 48 "
     r".*\(protocol\.quick\.diversity_pairs sets it: at most 16"),
    (False, 150, dict(batch_size=96, diversity_pairs=300),
     r"96 items in whole evaluation batches, fewer than the 300 .*\(protocol\.diversity_pairs sets it: at most 96"),
])
def test_a_split_too_small_for_the_protocol_names_the_keys_that_fit_it(quick, items, asked, named):
    from intermask.errors import ConfigError
    from intermask.evaluation_run import check_split_size
    from intermask.metrics.protocol import ProtocolConfig

    with pytest.raises(ConfigError, match=named):
        check_split_size(ProtocolConfig(**asked), items, "the test split", quick)
    enough = 4 * asked["batch_size"] + asked["diversity_pairs"]
    check_split_size(ProtocolConfig(**asked), enough, "the test split", quick)
