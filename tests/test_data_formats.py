"""The real-dataset readers, on tiny datasets written in each official on-disk format."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.fake_data import random_person, write_clip, write_interx

from intermask.data import interhuman, interx
from intermask.data.datasets import ClipSampling, Interactions, MotionWindows, collate, fit_normalizer
from intermask.data.tokens import TokenInteractions, TokenSet
from intermask.errors import DatasetError
from intermask.motion.layout import INTERHUMAN
from intermask.motion.rotation import axis_angle_to_matrix


def write_interhuman(root: Path, rng, lengths={"a": 40, "b": 70, "c": 12, "d": 90}, ignore=("d",)):
    written = {}
    for clip_id, frames in lengths.items():
        people = [random_person(rng, frames) for _ in range(2)]
        write_clip(root, clip_id, people, [f"the first person waves left {clip_id}", "second line"])
        written[clip_id] = people
    (root / "split").mkdir()
    (root / "split" / "train.txt").write_text("a\nb\nc\nd")  # no final newline: 'd' must still be read
    (root / "split" / "test.txt").write_text("b\n")
    (root / "ignore_list.txt").write_text("\n".join(ignore) + "\n")
    return written


def test_interhuman_reader_returns_the_written_joints_and_rotations(tmp_path, rng):
    written = write_interhuman(tmp_path, rng)
    clip = interhuman.read_clip(tmp_path, "b")
    for person in range(2):
        np.testing.assert_allclose(clip.joints[person], written["b"][person][0], atol=1e-6)
        np.testing.assert_allclose(clip.rot6d[person], written["b"][person][1], atol=1e-6)
    assert clip.texts == ("the first person waves left b", "second line")


def test_interhuman_split_skips_ignored_and_short_clips_and_mirrors_on_request(tmp_path, rng):
    write_interhuman(tmp_path, rng)
    names = [c.name for c in interhuman.load_split(tmp_path, "train", min_frames=15)]
    assert names == ["a", "b"]
    mirrored = interhuman.load_split(tmp_path, "train", min_frames=15, mirror=True)
    assert [c.name for c in mirrored] == ["a", "a_swap", "b", "b_swap"]
    assert mirrored[1].texts[0] == "the first person waves right a"


def test_interhuman_missing_files_name_the_expected_path(tmp_path, rng):
    with pytest.raises(DatasetError, match="dataset folder not found"):
        interhuman.load_split(tmp_path / "nowhere", "train")
    write_interhuman(tmp_path, rng)
    (tmp_path / "motions_processed" / "person2" / "a.npy").unlink()
    with pytest.raises(DatasetError, match=r"person2/a\.npy"):
        interhuman.load_split(tmp_path, "train")
    with pytest.raises(DatasetError, match=r"split/val\.txt"):
        interhuman.load_split(tmp_path, "val")


def test_interhuman_rejects_malformed_arrays(tmp_path, rng):
    write_interhuman(tmp_path, rng)
    np.save(tmp_path / "motions_processed" / "person1" / "b.npy", np.zeros((70, 100), np.float32))
    with pytest.raises(DatasetError, match=r"b\.npy.*expected an array"):
        interhuman.read_clip(tmp_path, "b")
    bad = np.zeros((70, 492), np.float32)
    bad[3, 5] = np.nan
    np.save(tmp_path / "motions_processed" / "person1" / "b.npy", bad)
    with pytest.raises(DatasetError, match="NaN"):
        interhuman.read_clip(tmp_path, "b")


def test_interactions_are_padded_normalised_and_reproducible(tmp_path, rng):
    write_interhuman(tmp_path, rng)
    clips = interhuman.load_split(tmp_path, "train", min_frames=15)
    normalizer = fit_normalizer(clips)
    dataset = Interactions(clips, ClipSampling(max_frames=60, seed=3), normalizer)
    item = dataset[1]  # 70 frames: cropped to 61 frames -> 60 feature rows
    assert item["motion"].shape == (2, 60, 262) and item["length"] == 60
    short = dataset[0]  # 40 frames -> 39 rows, then zero padding
    assert short["length"] == 39 and float(short["motion"][:, 39:].abs().sum()) == 0.0
    again = Interactions(clips, ClipSampling(max_frames=60, seed=3), normalizer)[1]
    assert np.array_equal(item["motion"].numpy(), again["motion"].numpy()) and item["text"] == again["text"]
    batch = collate([dataset[0], dataset[1]])
    assert batch["motion"].shape == (2, 2, 60, 262) and batch["length"].tolist() == [39, 60]
    assert batch["texts"][0][0].startswith("the first person")


@pytest.mark.parametrize("person_order", ["canonical", "official"])
def test_a_caption_names_the_people_in_the_order_an_item_draws_them(tmp_path, rng, person_order):
    write_interhuman(tmp_path, rng)
    clips = interhuman.load_split(tmp_path, "train", min_frames=15)[:1]  # "a": 40 frames, never cropped
    names = ("first person", "second person")
    # each joint's mean distance from the pelvis: a rigid motion keeps it, and the two random people differ in it
    def reach(joints):
        return np.linalg.norm(joints - joints[..., :1, :], axis=-1).mean(axis=-2)

    stored = [reach(person) for person in clips[0].joints]
    seen = set()
    for seed in range(16):
        sampling = ClipSampling(max_frames=60, seed=seed, person_order=person_order, person_names=names)
        item = Interactions(clips, sampling)[0]
        first = reach(item["motion"][0, :item["length"], INTERHUMAN.position].numpy().reshape(-1, 22, 3))
        swapped = bool(np.abs(first - stored[1]).max() < np.abs(first - stored[0]).max())
        seen.add(swapped)
        expected = "the second person waves left a" if swapped else "the first person waves left a"
        assert item["texts"][0] == expected and item["text"] in item["texts"]
        unnamed = Interactions(clips, ClipSampling(max_frames=60, seed=seed, person_order=person_order))[0]
        assert unnamed["texts"][0] == "the first person waves left a"  # without names: unchanged, as published
    assert seen == {True, False}


@pytest.mark.parametrize("person_order", ["canonical", "official"])
def test_a_token_item_names_the_people_in_the_order_it_draws_them(person_order):
    # token maps of the two orders: in order 0 the stored first person's map is all 0s, the second's all 1s
    ids = torch.zeros(1, 2, 2, 3, 4, dtype=torch.int16)
    ids[0, 0, 1] = 1
    ids[0, 1, 0] = 1
    tokens = TokenSet(ids, torch.tensor([4]), [["The first person pushes the second person."]], ["a"])
    seen = set()
    for seed in range(16):
        item = TokenInteractions(tokens, person_order, seed, person_names=("first person", "second person"))[0]
        swapped = bool(item["ids"][0].eq(1).all())
        seen.add(swapped)
        assert item["text"] == ("The second person pushes the first person." if swapped else
                                "The first person pushes the second person.")
        assert TokenInteractions(tokens, person_order, seed)[0]["text"] == "The first person pushes the second person."
    assert seen == {True, False}


def test_vq_windows_cover_each_person_with_stride(tmp_path, rng):
    write_interhuman(tmp_path, rng)
    clips = interhuman.load_split(tmp_path, "train", min_frames=15)
    windows = MotionWindows(clips, fit_normalizer(clips), window=32, stride=10)
    # person features have frames-1 rows: 39 -> 1 window, 69 -> 4 windows; two people per clip
    assert len(windows) == 2 * 1 + 2 * 4
    assert windows[0].shape == (32, 262)
    # pairs: both people of a clip over the same frames, in the clip's one frame
    pairs = MotionWindows(clips, fit_normalizer(clips), window=32, stride=10, pairs=True)
    assert len(pairs) == 1 + 4 and pairs[0].shape == (2, 32, 262)
    np.testing.assert_array_equal(pairs[0].numpy(), np.stack([windows[0], windows[1]]))
    np.testing.assert_array_equal(pairs[2].numpy(), np.stack([windows[3], windows[7]]))


def test_partner_frame_windows_hold_each_clip_in_both_orders_the_second_person_beside_the_first(tmp_path, rng):
    from intermask.data.datasets import clip_features
    from intermask.motion.partner import to_partner_frame

    write_interhuman(tmp_path, rng)
    clips = interhuman.load_split(tmp_path, "train", min_frames=15)
    normalizer = fit_normalizer(clips)
    windows = MotionWindows(clips, normalizer, window=32, stride=10, pairs=True, partner_frame=True)
    assert len(windows) == 2 * (1 + 4) and windows[0].shape == (2, 32, 262)
    for order, item in ((False, windows[0]), (True, windows[1])):  # clip a's one window, stored order then swapped
        world = torch.from_numpy(clip_features(clips[0], swap=order)[:, :32])
        expected = normalizer.normalize(to_partner_frame(world, INTERHUMAN).numpy())
        np.testing.assert_allclose(item.numpy(), expected, atol=1e-5)
    raw = normalizer.denormalize(windows[0].numpy())
    world = clip_features(clips[0])[:, :32]
    pelvis = world[0, :, :3] * np.array([1, 0, 1])  # the first person's root on the ground
    np.testing.assert_allclose(raw[1, :, :3], world[1, :, :3] - pelvis, atol=1e-4)
    with pytest.raises(ValueError, match="pairs"):
        MotionWindows(clips, normalizer, window=32, stride=10, partner_frame=True)


def test_interx_reader_builds_the_smpl_representation(tmp_path, rng):
    raw = write_interx(tmp_path, rng)
    clips = interx.load_split(tmp_path, "train", min_frames=24)
    assert [c.name for c in clips] == ["G001T000A000R000", "G001T000A000R001"]
    clip = clips[0]
    assert clip.motion.shape == (40, 56, 12)
    source = raw[clip.name]
    np.testing.assert_allclose(clip.motion[:, 55, 0:3], source[:, 55, 0:3], atol=1e-6)  # person 1 translation
    np.testing.assert_allclose(clip.motion[:-1, 55, 9:12], np.diff(source[:, 55, 3:6], axis=0), atol=1e-5)
    assert np.all(clip.motion[-1, 55, 9:12] == 0)
    # Inter-X's 6D is the rotation matrix's first two rows (pytorch3d's convention), not InterHuman's two columns
    matrices = axis_angle_to_matrix(source[:, :55, 3:6].astype(np.float64))
    np.testing.assert_allclose(clip.motion[:, :55, 6:9], matrices[..., 0, :], atol=1e-5)
    np.testing.assert_allclose(clip.motion[:, :55, 9:12], matrices[..., 1, :], atol=1e-5)
    assert clip.texts == ("one person pushes the other.", "they fight", "the left one waves")
    assert clip.tokens[1] == ("they/PRON", "fight/VERB")


def test_interx_crops_are_multiples_of_four_and_padded_and_carry_their_captions_tokens(tmp_path, rng):
    write_interx(tmp_path, rng)
    clips = interx.load_split(tmp_path, "train")
    dataset = interx.InterXInteractions(clips, max_frames=32)
    drawn = set()
    for epoch in range(12):
        dataset.set_epoch(epoch)
        item = dataset[0]
        assert item["motion"].shape == (32, 56, 12) and item["length"] % 4 == 0 and item["length"] <= 32
        # the evaluator reads the tokens, a model the caption: both of the same description
        assert item["tokens"] == list(clips[0].tokens[clips[0].texts.index(item["text"])])
        drawn.add(item["text"])
    assert len(drawn) > 1


def test_interx_crops_a_long_clip_whole_then_keeps_its_first_frames(tmp_path, rng):
    write_interx(tmp_path, rng, {"G001T000A000R000": 600, "G001T000A000R001": 30})
    long, short = interx.load_split(tmp_path, "train")
    dataset = interx.InterXInteractions([long, short], max_frames=150)
    starts = set()
    for epoch in range(30):
        dataset.set_epoch(epoch)
        item = dataset[0]
        assert item["length"] == 150
        start = next(s for s in range(600 - 149) if np.array_equal(item["motion"].numpy(), long.motion[s:s + 150]))
        starts.add(start)
        # a crop of 30 frames (or 28, one unit shorter): its last frame's root velocity is zero, the rest is the clip's
        item = dataset[1]
        crop = item["motion"][:item["length"]].numpy()
        assert item["length"] in (24, 28)
        assert np.all(crop[-1, 55, 3:6] == 0) and np.all(crop[-1, 55, 9:12] == 0)
        assert any(np.array_equal(crop[:-1], short.motion[s:s + len(crop) - 1]) for s in range(31 - len(crop)))
    # the published loader crops the whole multiple-of-4 length (596 or 600 frames) first: starts 0..4
    assert starts <= set(range(5)) and len(starts) > 1


def test_interx_errors_name_the_missing_piece(tmp_path, rng):
    with pytest.raises(DatasetError, match=r"splits/train\.txt"):
        interx.load_split(tmp_path, "train")
    write_interx(tmp_path, rng)
    (tmp_path / "texts_processed" / "G001T000A000R000.txt").write_text("caption#tok#1.5#3.0\n")
    with pytest.raises(DatasetError, match="time tags"):
        interx.load_split(tmp_path, "train")
    (tmp_path / "texts_processed" / "G001T000A000R000.txt").write_text("a caption#a caption#0#0\n")
    with pytest.raises(DatasetError, match=r"G001T000A000R000\.txt:1: expected space-separated 'word/POS'"):
        interx.load_split(tmp_path, "train")


def test_statistics_that_cannot_be_written_into_the_root_say_where_the_published_ones_come_from(tmp_path, rng,
                                                                                              monkeypatch):
    from intermask.motion.normalize import Normalizer

    write_interhuman(tmp_path, rng)
    clips = interhuman.load_split(tmp_path, "train", min_frames=15)

    def read_only(self, root):
        raise PermissionError(13, "Permission denied", str(root / "global_mean.npy"))

    monkeypatch.setattr(Normalizer, "save", read_only)
    with pytest.raises(DatasetError, match=r"cannot write .*global_mean\.npy.*data/stats/global_\{mean,std\}\.npy"):
        interhuman.normalizer_for(tmp_path, lambda: fit_normalizer(clips))


@pytest.mark.parametrize("vq,message", [
    ({"window": 62, "stride": 10}, r"data\.vq\.window=62 must be a positive multiple of 4"),
    ({"window": 64, "stride": 0}, r"data\.vq\.stride=0 must be a positive"),
    ({"window": 0}, r"data\.vq\.window=0 must be"),
])
def test_vq_window_settings_are_checked_before_any_data_is_read(tmp_path, vq, message):
    from intermask.data.source import DataSource
    from intermask.errors import ConfigError

    source = DataSource({"name": "interhuman", "root": str(tmp_path), "format": "interhuman", "vq": vq})
    with pytest.raises(ConfigError, match=message):
        source.vq_windows("train", multiple_of=4)


def test_a_synthetic_dataset_of_another_generator_version_is_used_with_a_warning(tmp_path, caplog):
    from intermask.data.source import DataSource
    from intermask.data.synthetic import GENERATOR_VERSION

    (tmp_path / "motions_processed").mkdir()
    source = DataSource({"name": "synthetic", "root": str(tmp_path), "generate": {"num_clips": 4, "seed": 0}})
    (tmp_path / "meta.json").write_text(json.dumps({"version": GENERATOR_VERSION}))
    with caplog.at_level("WARNING"):
        assert source.ensure(progress=False) == tmp_path
    assert not caplog.records
    (tmp_path / "meta.json").write_text(json.dumps({"version": "0.9"}))
    with caplog.at_level("WARNING"):
        source.ensure(progress=False)
    assert f"version 0.9 of the synthetic generator, this code writes version {GENERATOR_VERSION}" in caplog.text


def test_a_data_root_that_is_a_file_stops_with_one_line(tmp_path):
    from intermask.errors import user_facing_errors

    root = tmp_path / "not_a_folder"
    root.write_text("x")
    from intermask.data.source import DataSource

    source = DataSource({"name": "synthetic", "root": str(root), "generate": {"num_clips": 4, "seed": 0}})
    with pytest.raises(user_facing_errors()):
        source.ensure(progress=False)


def test_the_published_300_frame_crop_gives_at_most_299_rows(tmp_path, rng):
    write_interhuman(tmp_path, rng)
    clips = interhuman.load_split(tmp_path, "train", min_frames=15)  # 40- and 70-frame clips
    official = Interactions(clips, ClipSampling(max_frames=60, crop_frames=60, seed=3))
    assert official[1]["length"] == 59 and official[1]["motion"].shape == (2, 60, 262)
    assert Interactions(clips, ClipSampling(max_frames=60, seed=3))[1]["length"] == 60  # the default fills 60 rows
    with pytest.raises(DatasetError, match="crop_frames=62 must lie in"):
        Interactions(clips, ClipSampling(max_frames=60, crop_frames=62))
