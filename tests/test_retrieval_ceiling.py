"""scripts/retrieval_ceiling.py: the R-precision of a judge that reads only what captions state."""
import json

import numpy as np
import pytest

from intermask.data.synthetic import family_for_index, generate_dataset
from intermask.metrics.text_motion import r_precision


@pytest.fixture(scope="module")
def retrieval_ceiling(load_script):
    return load_script("retrieval_ceiling")


def test_clips_sharing_a_key_tie_and_share_the_hits_by_hand(retrieval_ceiling):
    hits = retrieval_ceiling.batch_hits(["a", "a", "b", "c", "c", "c", "c"], top_k=3)
    np.testing.assert_allclose(hits, [[0.5, 1, 1], [0.5, 1, 1], [1, 1, 1]] + [[0.25, 0.5, 0.75]] * 4)


def test_the_hits_are_the_protocols_r_precision_of_one_hot_embeddings_of_the_keys(retrieval_ceiling, rng):
    keys = list(rng.integers(0, 5, size=24))
    one_hot = np.eye(5)[keys]
    np.testing.assert_allclose(retrieval_ceiling.batch_hits(keys).sum(axis=0), r_precision(one_hot, one_hot, 3))


def test_the_key_is_the_family_and_the_stated_facts(retrieval_ceiling):
    handshake = family_for_index(0)
    assert retrieval_ceiling.caption_key("000000", "The first person walks up and they shake right hands.") == \
        retrieval_ceiling.caption_key("000000", "They shake right hands after the first person walks up.")
    assert retrieval_ceiling.caption_key("000000", "The first person walks up and they shake right hands.") != \
        retrieval_ceiling.caption_key("000000", "The second person walks up and they shake right hands.")
    assert retrieval_ceiling.caption_key("000000", "Two people meet.")[0] == handshake


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("synthetic"), num_clips=48, seed=2, progress=False)


def test_the_script_reports_the_ceiling_overall_and_per_family(retrieval_ceiling, dataset, tmp_path, capsys):
    out = tmp_path / "ceiling.json"
    split = (dataset / "split" / "train.txt").read_text().split()
    assert len(split) % 2 == 0  # two whole batches: every clip is drawn
    assert retrieval_ceiling.main(["--data", str(dataset), "--split", "train", "--batch-size", str(len(split) // 2),
                                   "--replications", "3", "--json", str(out)]) == 0
    assert f"R@1..3 ceiling, batch {len(split) // 2}" in capsys.readouterr().out
    report = json.loads(out.read_text())
    r1, r2, r3 = report["overall"]
    assert 0 < r1 <= r2 <= r3 <= 1
    assert set(report["per_family"]) == {family_for_index(int(clip)) for clip in split}
    # the same clips in one batch: every clip has at least the ties it had in a batch of half of them
    everything = retrieval_ceiling.ceiling(retrieval_ceiling.read_captions(dataset, "train"), len(split), 1)
    assert everything["overall"][2] <= r3


def test_missing_data_and_too_few_clips_are_refused(retrieval_ceiling, dataset, tmp_path, capsys):
    (tmp_path / "bad" / "split").mkdir(parents=True)
    (tmp_path / "bad" / "split" / "test.txt").write_text("1_a\n")
    for argv, named in ((["--data", str(tmp_path / "nowhere")], "split/test.txt not found"),
                        (["--data", str(tmp_path / "bad")], "clip '1_a' is not a synthetic clip index"),
                        (["--data", str(dataset), "--split", "train", "--batch-size", "999"],
                         "fewer than one batch of 999")):
        with pytest.raises(SystemExit) as exit_:
            retrieval_ceiling.main(argv + ["--json", str(tmp_path / "never.json")])
        error = capsys.readouterr().err
        assert exit_.value.code == 2 and named in error and "Traceback" not in error
    assert not (tmp_path / "never.json").exists()
