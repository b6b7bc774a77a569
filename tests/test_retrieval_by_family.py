"""scripts/retrieval_by_family.py: the protocol's retrieval per synthetic family, and which families take the misses."""
from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.clip_stand_ins import ClipEvaluator, OtherClipModel
from helpers.fake_data import FAMILY_CLIP_INDICES

from intermask.data.synthetic import FAMILY_NAMES


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("retrieval_by_family")


def test_a_batch_ranks_each_caption_against_every_motion(script):
    families, text = ["hug", "hug", "wave", "push"], np.eye(4)
    rows = script.batch_retrieval(text, np.eye(4), families, top_k=1)
    assert [row["hit"] for row in rows] == [1.0] * 4 and {row["taken_by"] for row in rows} == {None}
    # the wave drawn as the push should be, the push as nothing: each caption finds the other's motion first
    motions = np.eye(4)[[0, 1, 3, 3]] * [[1], [1], [1], [0]]
    rows = script.batch_retrieval(text, motions, families, top_k=1)
    assert rows[3] == {"hit": 0.0, "family_hit": 0.0, "taken_by": "wave"}
    assert rows[2] == {"hit": 0.0, "family_hit": 0.0, "taken_by": "push"}
    assert rows[0] == {"hit": 1.0, "family_hit": 1.0, "taken_by": None}
    assert script.batch_retrieval(text, motions, families, top_k=2)[3]["hit"] == 1.0  # its own is second
    # the two hugs' motions exchanged: each hug caption misses its own motion, not its family
    rows = script.batch_retrieval(text, np.eye(4)[[1, 0, 2, 3]], families, top_k=1)
    assert rows[0] == {"hit": 0.0, "family_hit": 1.0, "taken_by": "hug"}
    # the two hugs' motions identical: each hug caption ties its own with the other's, a hit at 1 by half
    both = np.eye(4)
    both[:2] = [0.5, 0.5, 0, 0]
    rows = script.batch_retrieval(text, both, families, top_k=1)
    assert rows[0]["hit"] == rows[1]["hit"] == 0.5 and rows[0]["taken_by"] is None


def test_the_summary_counts_per_family_and_over_all(script):
    rows = [{"hit": 1.0, "family_hit": 1.0, "taken_by": None}, {"hit": 0.0, "family_hit": 1.0, "taken_by": "hug"},
            {"hit": 0.0, "family_hit": 0.0, "taken_by": "push"}, {"hit": 0.5, "family_hit": 1.0, "taken_by": "push"}]
    summary = script.summarise(rows, ["hug", "hug", "wave", "wave"])
    assert summary["all"] == {"captions": 4, "r_at_k": 0.375, "family_r_at_k": 0.75,
                              "taken_by": {"push": 2, "hug": 1}}
    assert summary["families"]["wave"] == {"captions": 2, "r_at_k": 0.25, "family_r_at_k": 0.5,
                                           "taken_by": {"push": 2}}


def reports(script, root, tmp_path, monkeypatch, drawn):
    import intermask.loading

    dataset = script.data_source(root, None).interactions("test", normalized=False, mirror=False)
    items = [dataset[i] for i in range(len(dataset))]
    evaluator = ClipEvaluator(items)
    assert len(set(evaluator.keys)) == len(items)  # every clip told apart by its first frame
    monkeypatch.setattr(intermask.loading, "load_text_motion_evaluator", lambda path, device, cfg: evaluator)
    monkeypatch.setattr(intermask.loading, "load_interaction_model",
                        lambda path, device: OtherClipModel(evaluator, items, drawn))
    out = tmp_path / "retrieval.json"
    assert script.main(["--data", str(root), "--evaluator", str(tmp_path / "evaluator.pt"), "--ckpt",
                        str(tmp_path / "last.pt"), "--batch-size", "4", "--top-k", "1", "--device", "cpu",
                        "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_a_model_that_draws_the_next_familys_clip_loses_every_caption_to_that_family(
        script, family_clips, tmp_path, monkeypatch, capsys):
    root, clips = family_clips
    families = [FAMILY_NAMES[index % 16] for index in FAMILY_CLIP_INDICES]
    drawn = [(i + 1) % len(clips) for i in range(len(clips))]
    report = reports(script, root, tmp_path, monkeypatch, drawn)
    truth, model = report["columns"]["ground truth"], report["columns"]["generation"]
    assert report["compared"] == "generation" and report["batch_size"] == 4 and report["replications"] == 2
    assert truth["all"] == {"captions": 16, "r_at_k": 1.0, "family_r_at_k": 1.0, "taken_by": {}}
    assert model["all"]["r_at_k"] < 1.0
    for i, family in enumerate(families):
        row = model["families"][family]
        # a caption whose batch holds the previous family's caption (whose drawn clip is this caption's) is taken
        # by that family; otherwise no motion is its, and it ties its own with the other three: a hit by a quarter
        assert set(row["taken_by"]) <= {families[i - 1]} and row["captions"] == 2
        assert row["r_at_k"] == pytest.approx((2 - sum(row["taken_by"].values())) / 4 / 2)
    printed = capsys.readouterr().out
    assert "generation by" in printed and all(family in printed for family in families)


def test_a_model_that_draws_each_captions_own_clip_retrieves_as_the_data_does(
        script, family_clips, tmp_path, monkeypatch):
    root, clips = family_clips
    report = reports(script, root, tmp_path, monkeypatch, list(range(len(clips))))
    assert report["columns"]["generation"] == report["columns"]["ground truth"]


def test_bad_arguments_and_a_split_smaller_than_a_batch_are_one_line(script, family_clips, tmp_path, capsys):
    root, _ = family_clips
    evaluator = ["--evaluator", str(tmp_path / "evaluator.pt")]
    with pytest.raises(SystemExit) as exit_:
        script.main(["--data", str(root), *evaluator, "--reconstruction"])
    assert exit_.value.code == 2 and "--reconstruction needs --ckpt" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        script.main(["--data", str(root), *evaluator, "--replications", "0"])
    assert exit_.value.code == 2 and "--replications must be at least 1" in capsys.readouterr().err
    for argv, named in ((["--data", str(tmp_path / "nowhere"), *evaluator], "nowhere"),
                        (["--data", str(root), *evaluator], "evaluator.pt")):
        with pytest.raises(SystemExit) as exit_:
            script.main(argv)
        assert exit_.value.code == 2 and named in capsys.readouterr().err
