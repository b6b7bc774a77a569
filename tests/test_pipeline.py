"""The promised command-line interface end to end on a tiny dataset: train the three models, sample, react,
evaluate and render through the real entry points, the way a user runs them."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.fake_data import write_dataset

from intermask.checkpoint import load_checkpoint

TINY = ["experiment=tiny", "progress=false", "train.log_every=5"]


def run(*args, cwd, expect_ok=True):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=600)
    if expect_ok and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    write_dataset(root / "data", np.random.default_rng(0), num_clips=30)
    return root


def data_args(workspace):
    return [f"data.root={workspace / 'data'}", "data.generate=null", f"runs_root={workspace / 'runs'}"]


@pytest.fixture(scope="module")
def trained(workspace):
    common = [*TINY, *data_args(workspace)]
    # with the two people's separation term: its training windows come in pairs, its validation's one by one
    run("intermask.train", "vqvae", *common, "train.max_steps=8", "train.val_every=4", "train.ckpt_every=4",
        "train.loss.weights.separation=1.0", cwd=workspace)
    run("intermask.train", "evaluator", *common, "train.max_steps=4", "train.batch_size=8", "train.detail_weight=1",
        cwd=workspace)
    # with the caption aligner (as the demo and the CPU recipe train) and the pair-geometry term (an option): every
    # command below loads its checkpoint
    run("intermask.train", "transformer", *common, "train.max_steps=4", "train.batch_size=8",
        "model.transformer.caption_aligner.weight=0.3", "model.transformer.pair_geometry.weight=0.5", cwd=workspace)
    return workspace / "runs" / "synthetic"


def test_training_writes_self_describing_checkpoints_for_all_three_models(trained):
    for kind in ("vqvae", "evaluator", "transformer"):
        payload = load_checkpoint(trained / f"{kind}_tiny" / "last.pt", kind=kind)
        assert payload["step"] == {"vqvae": 8, "evaluator": 4, "transformer": 4}[kind]
        assert "model_config" in payload["config"]
    assert list((trained / "vqvae_tiny" / "tb").glob("events.*"))
    assert (trained / "transformer_tiny" / "tokens" / "train.pt").is_file()


def test_the_evaluator_trained_with_a_detail_weight_reports_how_often_it_tells_each_twin_apart(trained):
    """(A change's rate is reported when the validation captions hold one it alters: these hold names.)"""
    done = [line for line in (trained / "evaluator_tiny" / "cli.log").read_text().splitlines() if "done:" in line]
    assert "detail_names_exchanged=" in done[-1]


def test_the_transformer_trained_with_its_training_terms_keeps_them_in_its_checkpoint_and_reports_them(trained):
    payload = load_checkpoint(trained / "transformer_tiny" / "last.pt", kind="transformer")
    assert payload["config"]["model_config"]["caption_aligner"]["weight"] == 0.3
    assert payload["config"]["model_config"]["pair_geometry"] == {"weight": 0.5, "window": 8, "reach": 0.5}
    assert any(name.startswith("aligner.") for name in payload["model"])
    done = [line for line in (trained / "transformer_tiny" / "cli.log").read_text().splitlines() if "done:" in line]
    assert "val_align=" in done[-1] and "val_align_detail=" in done[-1] and "val_pair_geometry=" in done[-1]


def test_the_evaluator_z_scores_its_input_with_the_training_datas_statistics(trained, workspace):
    """experiment=tiny sets input_norm: the statistics are the dataset's (first person | second, contacts left
    out), stored in the checkpoint, so the evaluation judges with exactly what the evaluator was trained on."""
    state = load_checkpoint(trained / "evaluator_tiny" / "last.pt", kind="evaluator")["model"]
    mean = np.load(workspace / "data" / "global_mean.npy")
    std = np.load(workspace / "data" / "global_std.npy")
    keep = np.r_[0:258]  # positions, velocities and rotations; the 4 foot contacts are not read
    np.testing.assert_allclose(state["input_mean"].numpy(), np.concatenate([mean[keep]] * 2), rtol=1e-6)
    np.testing.assert_allclose(state["input_std"].numpy(), np.maximum(np.concatenate([std[keep]] * 2), 1e-2),
                               rtol=1e-6)


def test_a_rerun_with_more_steps_resumes_from_the_last_checkpoint(trained, workspace):
    result = run("intermask.train", "vqvae", *TINY, *data_args(workspace), "train.max_steps=10",
                 cwd=workspace)
    assert "resum" in (result.stdout + result.stderr).lower()
    assert load_checkpoint(trained / "vqvae_tiny" / "last.pt")["step"] == 10


def test_sample_writes_every_format_and_a_reproducible_sidecar(trained, workspace):
    out = workspace / "samples"
    run("intermask.sample", "--text", "two people hug, then wave", "--length", "2", "--seed", "3", "--out",
        str(out), *data_args(workspace), cwd=workspace)
    stem = out / "two_people_hug_then_wave_0"
    joints = np.load(stem.with_suffix(".npy"))
    assert joints.shape == (2, 60, 22, 3) and np.isfinite(joints).all()
    sidecar = json.loads(stem.with_suffix(".json").read_text())
    assert sidecar["text"] == "two people hug, then wave" and sidecar["seed"] == 3
    assert Path(sidecar["checkpoint"]).name == "last.pt"
    for suffix in (".mp4", ".html", "_person1.bvh", "_person2.bvh"):
        assert Path(f"{stem}{suffix}").stat().st_size > 0
    again = workspace / "again"
    run("intermask.sample", "--text", "two people hug, then wave", "--length", "2", "--seed", "3", "--out",
        str(again), "sample.formats=[npy]", *data_args(workspace), cwd=workspace)
    assert np.array_equal(np.load(again / "two_people_hug_then_wave_0.npy"), joints)


def test_reaction_keeps_the_given_person_and_generates_the_other(trained, workspace):
    given = workspace / "samples" / "two_people_hug_then_wave_0.npy"
    if not given.exists():
        pytest.skip("needs the sample test's output")
    out = workspace / "reactions"
    run("intermask.sample", "--reaction-to", str(given), "--out", str(out), "sample.formats=[npy]",
        *data_args(workspace), cwd=workspace)
    (result,) = out.glob("reaction_*.npy")
    reaction, source = np.load(result), np.load(given)
    frames = reaction.shape[1]
    assert frames >= 56
    np.testing.assert_allclose(reaction[0], source[0, :frames], atol=1e-5)
    assert np.isfinite(reaction[1]).all() and not np.allclose(reaction[1], source[1, :frames])


def test_eval_prints_and_writes_the_table_with_ground_truth_and_model_rows(trained, workspace):
    out = workspace / "eval"
    result = run("intermask.eval", "--dataset", "synthetic", "--quick", f"out={out}", "protocol.batch_size=4",
                 "protocol.quick.max_items=4", "protocol.quick.replications=2", "protocol.quick.mm_num_texts=2",
                 "protocol.quick.mm_num_samples=3", "protocol.quick.mm_pairs=2", "protocol.quick.diversity_pairs=3",
                 "generation.collision_rounds=1", "generation.collision_steps=2", *data_args(workspace), cwd=workspace)
    assert "| ground truth |" in result.stdout and "| model |" in result.stdout
    # the model's own scale (the paper's), and the rounds asked for
    assert "(20 decoding steps, guidance scale 2, 1 collision round of 2 steps)" in result.stdout
    table = json.loads((out / "eval_synthetic_test_quick.json").read_text())
    assert table["generation"]["cond_scale"] == 2.0 and table["generation"]["steps"] == 20
    for row in ("ground truth", "model"):
        assert 0.0 <= table["rows"][row]["R@3"]["mean"] <= 1.0
    assert table["rows"]["model"]["MModality"]["mean"] >= 0.0


def test_the_evaluation_samples_at_the_models_own_guidance_scale_unless_one_is_given():
    from helpers.stand_in import tiny_model
    from intermask.errors import ConfigError
    from intermask.evaluation_run import generation_settings

    model = tiny_model(config={"cond_scale": 1.5})
    asked = {"steps": 10, "cond_scale": None, "temperature": 1.0}
    assert generation_settings(asked, model) == {**asked, "cond_scale": 1.5, "collision_rounds": 0,
                                                 "collision_steps": None, "remask_noise": 0.0}
    assert generation_settings({**asked, "cond_scale": 3}, model)["cond_scale"] == 3.0
    with pytest.raises(ConfigError, match="generation.cond_scale: a guidance scale must be a finite number >= 0"):
        generation_settings({**asked, "cond_scale": -1}, None)
    # the collision rounds likewise: the model's own unless asked, a bad number stops the run before it loads
    from intermask.motion.layout import INTERHUMAN
    model = tiny_model(INTERHUMAN, config={"collision_rounds": 3})
    assert generation_settings(asked, model)["collision_rounds"] == 3
    assert generation_settings({**asked, "collision_rounds": 0}, model)["collision_rounds"] == 0
    with pytest.raises(ConfigError, match="generation.collision_rounds must be a whole number >= 0"):
        generation_settings({**asked, "collision_rounds": -1}, None)
    # and their steps: the model's own (None: the decoding's) unless asked
    model = tiny_model(INTERHUMAN, config={"collision_rounds": 3, "collision_steps": 2})
    assert generation_settings(asked, model)["collision_steps"] == 2
    assert generation_settings({**asked, "collision_steps": 5}, model)["collision_steps"] == 5
    with pytest.raises(ConfigError, match="generation.collision_steps must be a whole number >= 1"):
        generation_settings({**asked, "collision_steps": 0}, None)
    # and the remask noise
    model = tiny_model(config={"remask_noise": 2.0})
    assert generation_settings(asked, model)["remask_noise"] == 2.0
    assert generation_settings({**asked, "remask_noise": 0}, model)["remask_noise"] == 0.0
    with pytest.raises(ConfigError, match="generation.remask_noise: remask_noise must be a finite number >= 0"):
        generation_settings({**asked, "remask_noise": -1}, None)
    # the low-pass is set on the model (null: its own, 0: none) and left out of generate's settings
    model = tiny_model(INTERHUMAN, config={"lowpass_hz": 8.0})
    assert "lowpass_hz" not in generation_settings({**asked, "lowpass_hz": None}, model) and model.lowpass_hz == 8.0
    generation_settings({**asked, "lowpass_hz": 0}, model)
    assert model.lowpass_hz is None
    generation_settings({**asked, "lowpass_hz": 6}, model)
    assert model.lowpass_hz == 6.0
    with pytest.raises(ConfigError, match=r"generation.lowpass_hz must be 0 \(no filter\), null"):
        generation_settings({**asked, "lowpass_hz": 15}, model)
    # moving overlapping bodies apart likewise (null: the model's own)
    model = tiny_model(INTERHUMAN, config={"separate_bodies": True})
    assert "separate_bodies" not in generation_settings({**asked, "separate_bodies": None}, model)
    assert model.separate_bodies is True
    generation_settings({**asked, "separate_bodies": False}, model)
    assert model.separate_bodies is False
    with pytest.raises(ConfigError, match="generation.separate_bodies must be true or false"):
        generation_settings({**asked, "separate_bodies": "no"}, model)


def test_eval_of_the_reconstruction_scores_the_tokenizers_bound_in_a_file_of_its_own(trained, workspace):
    out = workspace / "eval"
    result = run("intermask.eval", "--dataset", "synthetic", "--quick", "--reconstruction", f"out={out}",
                 "protocol.batch_size=4", "protocol.quick.max_items=4", "protocol.quick.replications=2",
                 "protocol.quick.diversity_pairs=3", "generation.lowpass_hz=8", *data_args(workspace), cwd=workspace)
    # the reconstructions are decoded through the model's low-pass too, and the header says so
    assert "VQ-VAE reconstruction by" in result.stdout and "(low-pass 8 Hz)" in result.stdout
    rows = json.loads((out / "eval_synthetic_test_reconstruction_quick.json").read_text())["rows"]
    assert set(rows) == {"ground truth", "model"} and np.isfinite(rows["model"]["FID"]["mean"])
    assert rows["model"].get("MModality") is None  # one reconstruction per clip: no multimodality


def test_caption_details_measures_what_the_models_read_of_names_and_sides(trained, workspace):
    out = workspace / "details.json"
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parent.parent / "scripts" / "caption_details.py"),
         "--ckpt", str(trained / "transformer_tiny" / "last.pt"),
         "--evaluator", str(trained / "evaluator_tiny" / "last.pt"),
         "--data", str(workspace / "data"), "--json", str(out)],
        cwd=workspace, env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    details = json.loads(out.read_text())
    # the fake captions name "the first person" and say "to the left": both changes alter some of them
    for model in ("transformer", "evaluator"):
        assert set(details[model]) == {"mirrored", "names exchanged"}
    for row in details["transformer"].values():
        assert row["items"] > 0 and row["gap"] == pytest.approx(row["changed"] - row["own"], abs=2e-4)
        assert np.isfinite([row["own"], row["changed"], row["other"]]).all()
    for row in details["evaluator"].values():
        assert 0 < row["items"] and 0 <= row["own caption preferred"] <= row["items"]
    assert "names exchanged:" in result.stdout and "gap" in result.stdout


def test_profile_train_times_the_steps_of_a_real_training_run(trained, workspace):
    out = workspace / "profile.json"
    script = Path(__file__).resolve().parent.parent / "scripts" / "profile_train.py"
    result = subprocess.run(
        [sys.executable, str(script), "--skip", "1", "--steps", "2", "--json", str(out), "--", "transformer", *TINY,
         *data_args(workspace), "train.max_steps=6", "train.batch_size=8", f"hydra.run.dir={workspace / 'profiled'}"],
        cwd=workspace, env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    # one step before the profiled three, then two timed: each with its backward pass and its captions' features
    assert report["steps"] == 2 and 0 < report["backward"] < report["step"]
    assert 0 < report["frozen_text"] < report["step"]
    assert "Self CPU" in result.stderr and "2 timed steps, ms per step: step" in result.stderr
    assert (workspace / "profiled" / "last.pt").is_file()  # the real run, with its checkpoint


def test_render_writes_a_dataset_clip(workspace):
    out = workspace / "render"
    run("intermask.render", "0000", f"out={out}", "formats=[npy,html]", *data_args(workspace)[:2], cwd=workspace)
    assert np.load(out / "0000.npy").shape[0] == 2 and (out / "0000.html").is_file()


def test_user_mistakes_get_one_clear_line_and_no_traceback(workspace, tmp_path):
    result = run("intermask.train", "diffusion", cwd=workspace, expect_ok=False)
    assert result.returncode == 2 and "unknown model 'diffusion'" in result.stderr
    result = run("intermask.sample", "--text", "hello", f"runs_root={tmp_path / 'none'}", *data_args(workspace)[:2],
                 cwd=workspace, expect_ok=False)
    assert result.returncode == 2 and "make demo" in result.stderr and "Traceback" not in result.stderr
    result = run("intermask.train", "vqvae", "data=interhuman", f"data.root={tmp_path / 'InterHuman'}",
                 f"runs_root={tmp_path / 'runs'}", cwd=workspace, expect_ok=False)
    assert result.returncode == 2 and "InterHuman" in result.stderr and "Traceback" not in result.stderr
    result = run("intermask.train", "vqvae", "train.time_limit_min=0",
                 *data_args(workspace), cwd=workspace, expect_ok=False)
    assert result.returncode == 2 and "train.time_limit_min" in result.stderr and "Traceback" not in result.stderr
    result = run("intermask.train", "vqvae", "train.fit_to_time_limit=true",
                 *data_args(workspace), cwd=workspace, expect_ok=False)
    assert result.returncode == 2 and "train.fit_to_time_limit" in result.stderr and "Traceback" not in result.stderr
    result = run("intermask.train", "vqvae", "train.compile=sometimes",
                 *data_args(workspace), cwd=workspace, expect_ok=False)
    assert result.returncode == 2 and "train.compile" in result.stderr and "Traceback" not in result.stderr
    result = run("intermask.sample", "--text", "hello", "sample.compile=sometimes", *data_args(workspace),
                 cwd=workspace, expect_ok=False)
    assert result.returncode == 2 and "sample.compile" in result.stderr and "Traceback" not in result.stderr


def test_help_lists_config_groups_and_flags(workspace):
    for module in ("intermask.train", "intermask.sample", "intermask.eval", "intermask.render"):
        result = run(module, "--help", cwd=workspace)
        assert "== Configuration groups ==" in result.stdout and "--text" in result.stdout
        assert "experiment: " in result.stdout or module != "intermask.train"
