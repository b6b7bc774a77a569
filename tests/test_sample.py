"""`python -m intermask.sample` on an untrained stand-in model: result names, reaction inputs."""
import numpy as np
import pytest
from hydra import compose, initialize_config_dir

import intermask.rendering as rendering
import intermask.sampling as interaction
from intermask import sample as sample_entry
from intermask.cli import UsageError
from intermask.motion.layout import INTERHUMAN
from intermask.outputs.writer import load_sidecar

from test_cli import CONFIG_DIR
from helpers.stand_in import tiny_model


def sample_config(tmp_path, *args, overrides=()):
    checkpoint = tmp_path / "transformer.pt"
    checkpoint.write_bytes(b"")  # stands for a trained model, which the tests' patch replaces
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        return compose("sample", overrides=sample_entry.translate(list(args)) + [
            f"ckpt={checkpoint}", f"sample.out={tmp_path / 'out'}", "sample.formats=[npy]", "sample.steps=2",
            *overrides])


@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.setattr(interaction, "load_interaction_model", lambda path, device: tiny_model(INTERHUMAN))


def test_prompts_that_share_their_first_words_or_repeat_keep_every_result(tmp_path, stand_in):
    long_start = "the first person walks up to the second person and "
    texts = [long_start + "waves", long_start + "kicks them", "two people hug", "two people hug"]
    cfg = sample_config(tmp_path, *[arg for text in texts for arg in ("--text", text)], "--length", "1")
    results = interaction.sample_from_config(cfg)
    assert len(results) == 4
    assert sorted(load_sidecar(files["npy"])["text"] for files in results.values()) == sorted(texts)
    assert {"two_people_hug_0", "two_people_hug_0_2"} <= set(results)


def test_without_a_guidance_scale_or_collision_rounds_the_models_own_are_used_and_written_in_the_sidecar(tmp_path,
                                                                                                        monkeypatch):
    own = {"cond_scale": 1.5, "collision_rounds": 2, "collision_steps": 1, "remask_noise": 1.0, "lowpass_hz": 8.0,
           "separate_bodies": True}
    monkeypatch.setattr(interaction, "load_interaction_model",
                        lambda path, device: tiny_model(INTERHUMAN, config=own))
    for args, used in (((), (1.5, 2, 1, 1.0, 8.0, True)),
                       (("--cond-scale", "3", "--collision-rounds", "0", "--remask-noise", "0", "--lowpass", "0",
                         "--collision-steps", "4", "--separate-bodies", "false"), (3.0, 0, 4, 0.0, None, False)),
                       (("--lowpass", "6"), (1.5, 2, 1, 1.0, 6.0, True))):
        cfg = sample_config(tmp_path, "--text", "two people hug", "--length", "1", *args)
        (files,) = interaction.sample_from_config(cfg).values()
        config = load_sidecar(files["npy"])["config"]
        keys = ("cond_scale", "collision_rounds", "collision_steps", "remask_noise", "lowpass_hz", "separate_bodies")
        assert tuple(config[key] for key in keys) == used
    # a model without collision steps of its own decodes its rounds with the sample's steps, and says so
    monkeypatch.setattr(interaction, "load_interaction_model",
                        lambda path, device: tiny_model(INTERHUMAN, config={"collision_rounds": 1}))
    cfg = sample_config(tmp_path, "--text", "two people hug", "--length", "1")  # sample.steps=2
    (files,) = interaction.sample_from_config(cfg).values()
    assert load_sidecar(files["npy"])["config"]["collision_steps"] == 2


def test_a_reaction_names_a_person_of_the_file_and_a_long_input_is_cut_with_a_warning(tmp_path, stand_in, caplog):
    joints = tiny_motion(frames=160)  # the stand-in model generates at most 148 frames
    source = tmp_path / "given.npy"
    np.save(source, joints)
    with pytest.raises(UsageError, match="--reaction-person 2: 0 .* or 1"):
        interaction.sample_from_config(sample_config(tmp_path, "--reaction-to", str(source),
                                                     overrides=["sample.reaction_person=2"]))
    with caplog.at_level("WARNING"):
        results = interaction.sample_from_config(sample_config(tmp_path, "--reaction-to", str(source)))
    assert "has 160 frames and the model generates at most 148" in caplog.text
    (files,) = results.values()
    assert load_sidecar(files["npy"])["reaction_frames"] == [0, 148]
    np.testing.assert_allclose(np.load(files["npy"])[0], joints[0, :148], atol=1e-6)


def test_a_reaction_is_moved_apart_from_the_given_motion_as_it_came_in():
    from intermask.metrics.physical import penetration_depth_per_frame
    from intermask.motion.canonical import canonicalize_person
    from test_collisions import pair_at

    given = pair_at(np.full(40, 2.0))[0] + [0.3, 0.0, 0.5]  # a person standing somewhere in the world
    _, frame = canonicalize_person(given)
    # the decoded actor (0) stands 2 m from the generated person (1), but the generated person stands inside the
    # given motion as it came in
    inside = frame.apply(np.stack([given, given + [0.12, 0.0, 0.0]]))
    decoded = inside.copy()
    decoded[0] += [2.0, 0.0, 0.0]
    plain = interaction.reaction_world(frame, decoded, given, separate=False)
    assert (penetration_depth_per_frame(plain) > 0).all()
    apart = interaction.reaction_world(frame, decoded, given, separate=True)
    assert np.array_equal(apart[0], given) and (penetration_depth_per_frame(apart) <= 0).all()
    np.testing.assert_allclose(apart[1, :, :, 1], plain[1, :, :, 1])  # moved across the floor only


def test_a_caption_longer_than_the_text_encoder_reads_is_reported_with_how_much_was_kept(tmp_path, stand_in, caplog):
    caption = "the first person walks up to the second person and waves " * 20  # 220 words; the stand-in reads 24
    with caplog.at_level("WARNING"):
        interaction.sample_from_config(sample_config(tmp_path, "--text", caption, "--text", "two people hug",
                                                     "--length", "1"))
    (message,) = [line for line in caplog.messages if "longer than the text encoder reads" in line]
    assert "only its first 24 of 220 words (123 of 1140 characters) are used" in message


def test_sampling_reports_each_decoding_step_then_each_result_it_writes(tmp_path):
    import torch

    cfg = sample_config(tmp_path, "--text", "two people hug", "--num-samples", "2", "--length", "1")
    seen = []
    interaction.sample_with(tiny_model(INTERHUMAN), cfg.sample, "stand_in.pt", 2.0, torch.device("cpu"),
                            progress=lambda *report: seen.append(report))
    assert seen == [("decoding", 1, 2), ("decoding", 2, 2), ("writing", 0, 2), ("writing", 1, 2)]


def test_the_text_encoders_say_how_much_of_a_caption_they_read():
    from helpers.stand_in import CaptionHash
    from intermask.models.text import caption_cuts, words_that_fit

    assert words_that_fit("one two  three four", lambda part: len(part.split()), 2) == "one two"
    assert words_that_fit("one two", lambda part: len(part.split()), 2) == "one two"
    assert words_that_fit("averyveryverylongword two", len, 5) == ""
    (cut,) = caption_cuts(CaptionHash(), ["two people hug", "a " * 30 + "b"])
    assert (cut.kept_words, cut.words, cut.kept) == (24, 31, ("a " * 24).strip())


def tiny_motion(frames):
    """Two people walking side by side: (2, frame, 22, 3) joints of the rest skeleton."""
    from intermask.motion.kinematics import forward_kinematics
    from intermask.motion.skeleton import REST_OFFSETS

    root = np.stack([np.zeros(frames), np.full(frames, 0.93), np.linspace(0, 2, frames)], axis=-1)
    person = forward_kinematics(root, np.tile(np.eye(3), (frames, 22, 1, 1)), REST_OFFSETS)
    return np.stack([person, person + [1.0, 0.0, 0.0]]).astype(np.float32)


@pytest.mark.parametrize("args,overrides,message", [
    (("--length", "inf"), (), "--length inf: the length of the interaction in seconds"),
    (("--length", "-2"), (), "--length -2"),
    ((), ("sample.cond_scale=nan",), "sample.cond_scale: a guidance scale must be a finite number >= 0, got nan"),
    (("--cond-scale", "-1"), (), "sample.cond_scale: a guidance scale must be a finite number >= 0, got -1"),
    ((), ("sample.temperature=null",), "sample.temperature=None: a finite number"),
    (("--collision-rounds", "-1"), (), "sample.collision_rounds must be a whole number >= 0"),
    (("--collision-steps", "0"), (), "sample.collision_steps must be a whole number >= 1"),
    (("--remask-noise", "-1"), (), "sample.remask_noise: remask_noise must be a finite number >= 0"),
    (("--lowpass", "20"), (), r"sample.lowpass_hz must be 0 \(no filter\), null \(the model's own\) or a cutoff .* between 0 and 15, got 20"),
])
def test_impossible_sample_numbers_stop_with_one_line(tmp_path, stand_in, args, overrides, message):
    with pytest.raises(UsageError, match=message):
        interaction.sample_from_config(sample_config(tmp_path, "--text", "two people hug", *args,
                                                     overrides=overrides))


def bone_length(joints: np.ndarray) -> np.ndarray:
    """The sum of the bone lengths per person of joints (2, frame, 22, 3), averaged over the frames: (2,)."""
    from intermask.motion.skeleton import PARENTS

    return np.linalg.norm(joints[:, :, 1:] - joints[:, :, list(PARENTS[1:])], axis=-1).sum(-1).mean(-1)


def test_sizes_set_the_generated_people_s_sizes_where_the_tokenizer_keeps_them_apart(tmp_path, monkeypatch):
    def with_body_size(path, device):
        model = tiny_model(INTERHUMAN)
        model.vq.body_size = 4.26
        return model

    monkeypatch.setattr(interaction, "load_interaction_model", with_body_size)
    sizes = {}
    for arg in ("1,1", "1.2,0.8"):
        cfg = sample_config(tmp_path, "--text", "two people hug", "--length", "1", "--sizes", arg,
                            overrides=["sample.collision_rounds=0"])
        (files,) = interaction.sample_from_config(cfg).values()
        sizes[arg] = bone_length(np.load(files["npy"]))
        assert load_sidecar(files["npy"])["config"]["sizes"] == [float(size) for size in arg.split(",")]
    np.testing.assert_allclose(sizes["1.2,0.8"] / sizes["1,1"], [1.2, 0.8], rtol=1e-4)
    for bad in ("1.2", "1.2,0", "a,b", "3,1"):
        with pytest.raises(UsageError, match="--sizes .*: two body sizes"):
            interaction.sample_from_config(sample_config(tmp_path, "--text", "two people hug", "--sizes", bad))
    source = tmp_path / "given.npy"
    np.save(source, tiny_motion(frames=40))
    with pytest.raises(UsageError, match="an edit keeps the people of its input"):
        interaction.sample_from_config(sample_config(tmp_path, "--edit", str(source), "--sizes", "1,1"))


def test_sizes_are_refused_by_a_model_that_codes_each_person_at_their_own_size(tmp_path, stand_in):
    with pytest.raises(UsageError, match="codes each person at their own size"):
        interaction.sample_from_config(sample_config(tmp_path, "--text", "two people hug", "--sizes", "1,1"))


def test_a_device_this_machine_lacks_is_one_line_everywhere(tmp_path, monkeypatch):
    import torch

    from intermask import train as train_entry
    from intermask.errors import ConfigError
    from intermask.precision import resolve_device
    from intermask.training.tasks import build_trainer

    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="device='gpu' is no device"):
        resolve_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="device=cuda but this torch sees no CUDA GPU"):
            resolve_device("cuda")
    # the trainer resolves its device the same way (a ConfigError is reported as one line)
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=train_entry.translate(["vqvae"]) + [
            "experiment=tiny", f"data.root={tmp_path / 'data'}", "data.generate.num_clips=24", "progress=false",
            f"hydra.run.dir={tmp_path / 'run'}", "device=gpu"])
    from test_cli import compose_free

    with pytest.raises(ConfigError, match="device='gpu' is no device"):
        build_trainer(compose_free(cfg, tmp_path / "run"))


def test_render_takes_a_results_bvh_with_its_partner_and_sidecar(tmp_path):
    from intermask import render as render_entry
    from intermask.outputs.writer import write_result

    joints = tiny_motion(frames=40)
    write_result(tmp_path / "result", "hug_0", joints, "two people hug", {}, formats=("npy", "bvh"), fps=20)
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("render", overrides=render_entry.translate([str(tmp_path / "result" / "hug_0_person2.bvh")])
                      + [f"out={tmp_path / 'rendered'}", "formats=[npy]"])
    files = rendering.render_from_config(cfg)
    np.testing.assert_allclose(np.load(files["npy"]), joints, atol=1e-3)  # both people, in order
    assert load_sidecar(files["npy"])["text"] == "two people hug" and load_sidecar(files["npy"])["fps"] == 20


def test_without_length_a_model_shorter_than_the_datas_typical_clip_generates_its_longest(tmp_path, stand_in):
    model = tiny_model(INTERHUMAN)
    assert model.max_frames / INTERHUMAN.fps < 6.0  # the synthetic data's typical_seconds
    results = interaction.sample_from_config(sample_config(tmp_path, "--text", "two people hug"))
    (files,) = results.values()
    assert load_sidecar(files["npy"])["length_frames"] == model.max_frames


def write_input(tmp_path, joints, fps=None):
    """A result-like .npy input (with a sidecar naming its frame rate when ``fps`` is given)."""
    from intermask.outputs.writer import write_joints

    path = tmp_path / "input" / "walk.npy"
    path.parent.mkdir(exist_ok=True)
    if fps is None:
        np.save(path, joints)
    else:
        write_joints(path, joints, "two people walk", {}, fps=fps)
    return path


def test_an_edit_writes_the_result_with_the_edit_in_its_sidecar(tmp_path, stand_in):
    source = write_input(tmp_path, tiny_motion(frames=96), fps=30)
    cfg = sample_config(tmp_path, "--edit", str(source), "--keep", "0:1", "--keep", "end-1:end", "--edit-person",
                        "2", "--text", "the second person waves")
    (files,) = interaction.sample_from_config(cfg).values()
    edit = load_sidecar(files["npy"])["edit"]
    assert edit["people"] == [2] and edit["parts"] == "all" and edit["seams_frames"] == [28, 68]
    assert edit["kept_seconds"] == [[0.0, 0.9333], [2.2667, 3.2]]  # whole 4-frame token steps inside the ranges
    edited = np.load(files["npy"])
    np.testing.assert_allclose(edited[0], tiny_motion(frames=96)[0], atol=1e-6)  # person 1 is not edited


def test_a_clip_longer_than_the_model_chains_windows_with_their_captions(tmp_path, stand_in):
    cfg = sample_config(tmp_path, "--text", "they shake hands", "--then", "they walk away", "--length", "10",
                        "--overlap", "0.8")
    (files,) = interaction.sample_from_config(cfg).values()
    sidecar = load_sidecar(files["npy"])
    assert np.load(files["npy"]).shape == (2, 300, 22, 3)
    assert [w["text"] for w in sidecar["windows"]] == ["they shake hands", "they walk away", "they walk away"]
    assert sidecar["seams_frames"] == [148, 148 + 124]


@pytest.mark.parametrize("args,message", [
    (("--keep", "2:1"), "kept range 2:1 s: needs 0 <= start < end <= 3.20"),
    (("--keep", "0:9"), "kept range 0:9 s"),
    (("--keep", "soon"), "range 'soon': write START:END in seconds"),
    (("--change", "1:2", "--keep", "0:1"), "give --keep .* or --change .*, not both"),
    (("--edit-parts", "arms,tail"), "unknown body part 'tail'; parts: hips"),
    (("--edit-person", "3"), "--edit-person 3: 1, 2 or both"),
])
def test_impossible_edits_stop_with_one_line_and_write_nothing(tmp_path, stand_in, args, message):
    source = write_input(tmp_path, tiny_motion(frames=96), fps=30)
    with pytest.raises(UsageError, match=message):
        interaction.sample_from_config(sample_config(tmp_path, "--edit", str(source), *args))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("edit_*"))


@pytest.mark.parametrize("joints,fps,message", [
    (tiny_motion(frames=96)[:, :, :21], None, "joints must be \\(2, frame, 22, 3\\)"),
    (tiny_motion(frames=96)[0], None, "holds one person; an edit needs both"),
    (tiny_motion(frames=96), 20, "20 fps, and the model works at 30 fps"),
])
def test_an_edit_input_of_the_wrong_shape_or_frame_rate_is_one_line(tmp_path, stand_in, joints, fps, message):
    source = write_input(tmp_path, joints, fps=fps)
    with pytest.raises(UsageError, match=message):
        interaction.sample_from_config(sample_config(tmp_path, "--edit", str(source)))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("edit_*"))


def test_a_reaction_takes_a_dataset_clip_with_its_rotations_and_refuses_another_frame_rate(tmp_path, stand_in):
    from intermask.data.source import DataSource
    from intermask.data.interhuman import read_clip
    from intermask.outputs.writer import write_result

    data = ["data.generate.num_clips=24", f"data.root={tmp_path / 'data'}", "data.max_frames=140"]
    cfg = sample_config(tmp_path, overrides=data)
    root = DataSource(cfg.data).ensure()
    clip_id = (root / "split" / "test.txt").read_text().split()[0]
    clip = read_clip(root, clip_id)
    joints, rot6d = interaction.reaction_source(clip_id, 1, cfg.data, 30.0)
    np.testing.assert_allclose(joints, clip.joints[1])
    np.testing.assert_allclose(rot6d, clip.rot6d[1])
    results = interaction.sample_from_config(sample_config(tmp_path, "--reaction-to", clip_id, overrides=data))
    (files,) = results.values()
    frames = load_sidecar(files["npy"])["reaction_frames"][1]
    np.testing.assert_allclose(np.load(files["npy"])[0], clip.joints[0, :frames], atol=1e-6)
    # a result written at another frame rate, and one person's BVH of a pair: that person, not the pair's first
    write_result(tmp_path / "slow", "hug_0", tiny_motion(frames=40), "two people hug", {}, formats=("npy", "bvh"),
                 fps=20)
    with pytest.raises(UsageError, match="20 fps, and the model works at 30 fps"):
        interaction.reaction_source(tmp_path / "slow" / "hug_0.npy", 0, cfg.data, 30.0)
    second, _ = interaction.reaction_source(tmp_path / "slow" / "hug_0_person2.bvh", 0, cfg.data, 30.0)
    np.testing.assert_allclose(second, tiny_motion(frames=40)[1], atol=1e-3)
