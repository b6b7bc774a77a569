"""scripts/physical_by_family.py: the physical measures per synthetic family, ground truth and a model's generations."""
from __future__ import annotations

import json
import shutil

import pytest
from helpers.fake_data import FAMILY_CLIP_INDICES
from helpers.stand_in import ReplayModel, stand_in_vq_reports

from intermask.data.synthetic import FAMILY_NAMES, generate_clip



def assert_rows_match(row, expected, **tolerance):
    """Two rows of measures alike: the numbers within ``tolerance``, a family's missing measure (None) in both."""
    assert row.keys() == expected.keys()
    for key, value in expected.items():
        assert row[key] == (None if value is None else pytest.approx(value, **tolerance)), key


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("physical_by_family")


def test_ground_truth_per_family_is_each_clips_own_measure(script, family_clips, tmp_path, capsys):
    root, clips = family_clips
    out = tmp_path / "gt.json"
    assert script.main(["--data", str(root), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    families = [FAMILY_NAMES[index % 16] for index in FAMILY_CLIP_INDICES]
    assert list(report["ground_truth"]) == sorted(families) and report["model"] is None
    for family, clip in zip(families, clips):
        row = report["ground_truth"][family]
        assert row["clips"] == 1
        actor = script.named_actor(clip.captions[0])
        expected = {"clips": 1, **script.measure(clip.joints, 30.0, actor), "bystanders": int(actor is not None)}
        assert_rows_match(row, expected, rel=1e-4, abs=1e-6)  # the files hold float32
        assert 0.0 <= row["penetration"] <= 1.0 and row["skate"] >= 0.0 and row["jitter"] > 0.0
    # a wave and a high five lift a hand above the shoulder; a bow and a chase keep both below it
    assert min(report["ground_truth"][family]["hand_rise"] for family in ("wave", "high_five")) > 0.2
    assert max(report["ground_truth"][family]["hand_rise"] for family in ("bow", "chase")) < 0.0
    printed = capsys.readouterr().out
    assert "8 clips" in printed and all(family in printed for family in families)


def test_the_bystander_is_the_person_a_caption_does_not_name_as_acting(script):
    assert script.named_actor("Standing in front of the second person, the first person waves five times.") == 0
    assert script.named_actor("The second person waves four times while the first person looks on.") == 1
    assert script.named_actor("Both people clap their hands two times at a normal pace.") is None
    assert script.named_actor("Two people dance.") is None
    clip = generate_clip(30, seed=11)  # "... the second person waves twice with the right hand slowly."
    assert FAMILY_NAMES[30 % 16] == "repeated_gesture" and script.named_actor(clip.captions[0]) == 1
    data = script.measure(clip.joints, 30.0, actor=1)
    assert data["hand_rise"] > 0.2 and data["bystander_hand_rise"] < 0.0  # the first person's arms stay down
    # the wave given to both: the first person moved through the second one's motion, at their own place
    both = clip.joints.copy()
    both[0] = clip.joints[1] - clip.joints[1, :1, :1] + clip.joints[0, :1, :1]
    assert script.measure(both, 30.0, actor=1)["bystander_hand_rise"] > 0.2
    assert script.measure(clip.joints, 30.0)["bystander_hand_rise"] is None


def test_jitter_is_the_joints_mean_acceleration_and_reads_a_shaking_clip(script, family_clips):
    import numpy as np

    clip = family_clips[1][0].joints
    shaken = clip + ((-1.0) ** np.arange(clip.shape[1]))[None, :, None, None] * np.array([0.01, 0.0, 0.0])
    # alternate frames 1 cm to either side: second differences of 4 cm, 36 m/s² at 30 fps, on top of the clip's own
    assert script.measure(clip, 30.0)["jitter"] < 5.0
    assert script.measure(shaken, 30.0)["jitter"] > 30.0


def test_generations_are_measured_per_family_at_the_clip_length_cut_to_whole_tokens(
        script, family_clips, tmp_path, monkeypatch):
    import intermask.loading

    root, clips = family_clips
    by_caption = {clip.captions[0]: clip.joints for clip in clips}
    for collapse in (False, True):
        model = ReplayModel(by_caption, collapse=collapse)
        monkeypatch.setattr(intermask.loading, "load_interaction_model", lambda path, device: model)
        out = tmp_path / f"model_{collapse}.json"
        assert script.main(["--data", str(root), "--ckpt", str(tmp_path / "last.pt"), "--device", "cpu",
                            "--steps", "3", "--json", str(out)]) == 0
        assert model.asked == [(clip.captions[0], min(clip.num_frames, 120) // 4 * 4) for clip in clips]
        report = json.loads(out.read_text())
        assert report["generation"] == {"steps": 3, "amp": "auto"}
        if not collapse:  # replaying the data gives the ground truth's own table
            assert report["model"].keys() == report["ground_truth"].keys()
            for family, row in report["model"].items():
                assert_rows_match(row, report["ground_truth"][family])
        else:  # one body drawn on top of the other overlaps in every frame
            assert all(row["penetration"] == 1.0 and row["deepest"] > 0 for row in report["model"].values())
            assert all(row["penetration"] < 1.0 for row in report["ground_truth"].values())


def test_an_empty_split_or_a_missing_dataset_is_one_line(script, family_clips, tmp_path, capsys):
    root, _ = family_clips
    for argv, named in ((["--data", str(root), "--split", "val"], "split"),
                        (["--data", str(tmp_path / "nowhere")], "nowhere")):
        with pytest.raises(SystemExit) as exit_:
            script.main(argv)
        assert exit_.value.code == 2 and named in capsys.readouterr().err


def test_a_dataset_not_written_by_the_synthetic_generator_is_refused(script, family_clips, tmp_path, capsys):
    root, _ = family_clips
    other = tmp_path / "interhuman"
    shutil.copytree(root, other)
    (other / "meta.json").unlink()  # InterHuman has none: its clip ids say nothing of a family
    with pytest.raises(SystemExit) as exit_:
        script.main(["--data", str(other)])
    assert exit_.value.code == 2 and "not a synthetic dataset" in capsys.readouterr().err


def test_a_tokenizers_reconstructions_are_measured_per_family_against_the_same_features(
        script, family_clips, tmp_path, monkeypatch, capsys):
    root, _ = family_clips
    for flatten, (report, printed) in stand_in_vq_reports(script, root, tmp_path, monkeypatch, capsys).items():
        assert "reconstruction by" in printed
        assert report["compared"] == "reconstruction" and report["model"].keys() == report["ground_truth"].keys()
        for family, row in report["model"].items():
            if not flatten:  # a lossless tokenizer reconstructs the data's own measures
                assert_rows_match(row, report["ground_truth"][family], abs=1e-5)
            else:  # both people drawn at the data's mean place and pose overlap in every frame, arms down
                assert row["penetration"] == 1.0 and row["hand_rise"] < 0.0
