"""Inter-X through the SMPL-X body model: joint positions by forward kinematics, the VQ-VAE loss on them, and
training, sampling and writing an Inter-X model through the real entry points."""
import json

import numpy as np
import pytest
import torch
from helpers.body_models import SMPLX_JOINTS, write_smplx
from helpers.fake_data import write_interx
from hydra import compose, initialize_config_dir

from intermask.data.interx import (NUM_ROTATIONS, InterXJoints, InterXWindows, load_split, matrix_to_rows_6d,
                                   rows_6d_to_matrix)
from intermask.data.source import DataSource
from intermask.errors import DatasetError
from intermask.models.losses import vq_total_loss
from intermask.motion.body_model import load_body_model
from intermask.motion.layout import INTERX
from intermask.motion.rotation import axis_angle_to_matrix

from test_cli import CONFIG_DIR
from test_pipeline import run

TRANSLATION = slice(NUM_ROTATIONS * 6, NUM_ROTATIONS * 6 + 3)


@pytest.fixture(scope="module")
def body_model_file(tmp_path_factory):
    return write_smplx(tmp_path_factory.mktemp("body_model") / "smplx" / "SMPLX_NEUTRAL.npz")


def features_of(axis_angle: np.ndarray, translation: np.ndarray) -> torch.Tensor:
    """Inter-X features (..., 336) of axis-angle rotations (..., 55, 3) and a root translation (..., 3)."""
    rows = matrix_to_rows_6d(axis_angle_to_matrix(axis_angle))
    features = np.zeros((*axis_angle.shape[:-2], INTERX.dim), dtype=np.float32)
    features[..., : NUM_ROTATIONS * 6] = rows.reshape(*rows.shape[:-2], -1)
    features[..., TRANSLATION] = translation
    return torch.from_numpy(features)


def subtree(parents, root):
    below = {root}
    for joint, parent in enumerate(parents):
        if parent in below:
            below.add(joint)
    return below


def test_rows_6d_to_matrix_inverts_inter_xs_row_convention():
    matrices = axis_angle_to_matrix(torch.randn(10, 3, generator=torch.Generator().manual_seed(0)))
    rows = torch.from_numpy(matrix_to_rows_6d(matrices.numpy()))
    assert torch.allclose(rows_6d_to_matrix(rows), matrices, atol=1e-6)


def test_the_unposed_body_at_the_origin_has_the_body_models_rest_joints(body_model_file):
    joints = InterXJoints(body_model_file).positions(features_of(np.zeros((2, 55, 3)), np.zeros((2, 3))))
    body = load_body_model(body_model_file)
    assert joints.shape == (2, SMPLX_JOINTS, 3)
    np.testing.assert_allclose(joints[1].numpy(), body.joint_regressor @ body.template, atol=1e-6)


def test_turning_one_joint_moves_exactly_the_joints_below_it(body_model_file):
    reader, body = InterXJoints(body_model_file), load_body_model(body_model_file)
    rest = reader.positions(features_of(np.zeros((55, 3)), np.zeros(3)))
    elbow = 18  # left elbow
    pose = np.zeros((55, 3))
    pose[elbow] = [0.0, 0.9, 0.3]
    moved = (reader.positions(features_of(pose, np.zeros(3))) - rest).norm(dim=-1) > 1e-5
    assert set(np.flatnonzero(moved.numpy())) == subtree(body.parents, elbow) - {elbow}


def test_the_translation_row_shifts_every_joint_and_the_jaw_and_eyes_move_nothing(body_model_file):
    reader = InterXJoints(body_model_file)
    pose = np.random.default_rng(1).normal(0, 0.4, (55, 3))
    still = reader.positions(features_of(pose, np.zeros(3)))
    shift = np.array([0.5, -0.2, 1.5])
    np.testing.assert_allclose(reader.positions(features_of(pose, shift)) - still,
                               np.broadcast_to(shift, still.shape), atol=1e-5)
    pose[22:25] = [1.0, 0.5, -0.5]
    np.testing.assert_allclose(reader.positions(features_of(pose, np.zeros(3))), still, atol=1e-6)


def test_inter_x_joints_agree_with_posing_the_body_model(body_model_file):
    rng = np.random.default_rng(2)
    pose, translation = rng.normal(0, 0.5, (4, 55, 3)), rng.normal(0, 1.0, (4, 3))
    pose[:, 22:25] = 0  # as published, the jaw and eyes are not posed
    _, expected = load_body_model(body_model_file).pose(pose, translation)
    np.testing.assert_allclose(InterXJoints(body_model_file).positions(features_of(pose, translation)), expected,
                               atol=1e-5)


def random_interx_window(seed, batch=2, time=8):
    rng = np.random.default_rng(seed)
    return features_of(rng.normal(0, 0.5, (batch, time, 55, 3)), rng.normal(0, 0.3, (batch, time, 3)))


def test_the_inter_x_vq_loss_measures_joints_through_the_body_model(body_model_file):
    joints = InterXJoints(body_model_file)
    target = random_interx_window(0)
    identity = torch.zeros(INTERX.dim), torch.ones(INTERX.dim)
    total, terms = vq_total_loss(target, target, torch.tensor(0.0), *identity, INTERX, joints=joints)
    assert all(terms[name].item() == 0.0 for name in ("reconstruction", "position", "velocity", "bone"))
    assert terms["geodesic"].item() < 1e-3 and total.item() < 1e-4
    pred = (target + 0.2 * random_interx_window(1)).requires_grad_()
    total, terms = vq_total_loss(pred, target, torch.tensor(0.0), *identity, INTERX, joints=joints)
    assert all(terms[name].item() > 0.0 for name in ("reconstruction", "position", "velocity", "geodesic"))
    # the explicit term is the SmoothL1 of the posed joints (all 55), as published
    expected = torch.nn.functional.smooth_l1_loss(joints.positions(pred), joints.positions(target))
    assert terms["position"].item() == pytest.approx(expected.item(), rel=1e-6)
    total.backward()
    assert pred.grad[..., TRANSLATION].abs().sum() > 0  # the joints carry the translation row's gradient
    # moving the whole body changes positions but no bone length
    shifted = target.clone()
    shifted[..., TRANSLATION] += 1.0
    _, terms = vq_total_loss(shifted, target, torch.tensor(0.0), *identity, INTERX, joints=joints)
    assert terms["position"].item() > 0.1 and terms["bone"].item() == pytest.approx(0.0, abs=1e-6)


def windows_normalizer(root):
    return DataSource({"name": "interx", "root": str(root), "format": "interx"}).normalizer()


def test_vq_windows_hold_each_person_alone_with_no_root_velocity_on_their_last_frame(tmp_path):
    rng = np.random.default_rng(0)
    write_interx(tmp_path, rng, {"G001T000A000R000": 40, "G001T000A000R001": 30})
    windows = InterXWindows(load_split(tmp_path, "train"), windows_normalizer(tmp_path), window=16, stride=10)
    assert len(windows) == 2 * (3 + 2)  # two people of each clip, windows starting every 10 frames
    clip = load_split(tmp_path, "train")[0]
    first, second_person = windows[0], windows[3]
    velocity = slice(NUM_ROTATIONS * 6 + 3, NUM_ROTATIONS * 6 + 6)
    np.testing.assert_array_equal(first[:-1].numpy(), clip.motion[:15, :, :6].reshape(15, -1))
    assert (first[-1, velocity] == 0).all() and (first[-1, : velocity.start] == torch.from_numpy(
        clip.motion[15, :, :6].reshape(-1)[: velocity.start])).all()
    np.testing.assert_array_equal(second_person[:-1].numpy(), clip.motion[:15, :, 6:].reshape(15, -1))
    # in pairs each person's window still ends without a root velocity
    pairs = InterXWindows(load_split(tmp_path, "train"), windows_normalizer(tmp_path), window=16, stride=10, pairs=True)
    assert len(pairs) == 3 + 2 and pairs[0].shape == (2, 16, windows[0].shape[-1])
    np.testing.assert_array_equal(pairs[0].numpy(), np.stack([first, second_person]))


def test_a_missing_smplx_file_is_named_with_where_to_get_it(tmp_path):
    source = DataSource({"name": "interx", "root": str(tmp_path), "format": "interx",
                         "body_model": str(tmp_path / "SMPLX_NEUTRAL.npz")})
    with pytest.raises(DatasetError, match=r"SMPLX_NEUTRAL\.npz: no such body-model file.*smpl-x\.is\.tue\.mpg\.de"):
        source.joints()
    with pytest.raises(DatasetError, match=r"data\.body_model is not set.*smpl-x\.is\.tue\.mpg\.de"):
        DataSource({"name": "interx", "root": str(tmp_path), "format": "interx"}).joints()


def test_training_an_inter_x_vq_vae_stops_on_a_missing_body_model_before_reading_data(tmp_path):
    from intermask import train as train_entry
    from intermask.training.tasks import build_trainer

    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=train_entry.translate(["vqvae"]) + [
            "experiment=interx", "text_encoder=minilm", f"data.root={tmp_path / 'Inter-X'}"])
    with pytest.raises(DatasetError, match=r"Inter-X/body_model/smplx/SMPLX_NEUTRAL\.npz: no such body-model file"):
        build_trainer(cfg)


# ------------------------------------------------------------------------------ end to end, through the CLI

TINY_INTERX = ["experiment=interx", "text_encoder=minilm", "text_encoder.layers=1", "text_encoder.ff_dim=64",
               "model.vqvae.width=16", "model.vqvae.code_dim=16", "model.vqvae.num_codes=32", "model.vqvae.depth=1",
               "model.transformer.token_dim=16", "model.transformer.dim=32", "model.transformer.depth=1",
               "model.transformer.heads=2", "model.transformer.ff_dim=64", "train.num_workers=0",
               "train.preview_every=null", "train.log_every=2", "progress=false"]


@pytest.fixture(scope="module")
def interx_run(tmp_path_factory, body_model_file):
    root = tmp_path_factory.mktemp("interx_pipeline")
    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("val", 3)):
        lengths = {f"G001T00{split == 'val':d}A{i:03d}R000": int(n) for i, n in enumerate(rng.integers(66, 90, count))}
        write_interx(root / "Inter-X", rng, lengths, split=split)
    args = [*TINY_INTERX, f"data.root={root / 'Inter-X'}", f"data.body_model={body_model_file}",
            f"runs_root={root / 'runs'}"]
    run("intermask.train", "vqvae", *args, "train.max_steps=3", "train.batch_size=8", "train.val_every=3",
        "train.ckpt_every=3", cwd=root)
    run("intermask.train", "transformer", *args, "train.max_steps=2", "train.batch_size=4", "train.val_every=2",
        "train.ckpt_every=2", cwd=root)
    return root


def test_train_vqvae_and_transformer_on_inter_x(interx_run):
    from intermask.checkpoint import load_checkpoint

    runs = interx_run / "runs" / "interx"
    vq = load_checkpoint(runs / "vqvae_interx" / "last.pt", kind="vqvae")
    assert vq["step"] == 3 and np.isfinite(vq["metrics"]["mpjpe_mm"])
    assert vq["config"]["model_config"]["layout"]["num_joints"] == 56
    transformer = load_checkpoint(runs / "transformer_interx" / "last.pt", kind="transformer")
    assert transformer["step"] == 2
    assert transformer["config"]["model_config"]["body_model"].endswith("SMPLX_NEUTRAL.npz")


def test_sample_writes_an_inter_x_models_joints_video_and_bvh(interx_run):
    out = interx_run / "samples"
    run("intermask.sample", f"ckpt={interx_run / 'runs' / 'interx' / 'transformer_interx' / 'last.pt'}", "--text",
        "two people shake hands", "--length", "2", "--out", str(out), "sample.formats=[npy,gif,bvh]",
        "sample.steps=2", cwd=interx_run)
    stem = out / "two_people_shake_hands_0"
    joints = np.load(stem.with_suffix(".npy"))
    assert joints.shape == (2, 60, 22, 3) and np.isfinite(joints).all()
    assert joints[..., 1].min() == pytest.approx(0.0, abs=1e-6)  # put on the floor the video draws
    assert json.loads(stem.with_suffix(".json").read_text())["text"] == "two people shake hands"
    for suffix in (".gif", "_person1.bvh", "_person2.bvh"):
        assert (out / f"{stem.name}{suffix}").stat().st_size > 0


def test_reactions_edits_and_chained_windows_of_an_inter_x_model_are_refused_by_name(tmp_path, body_model_file):
    from helpers.stand_in import tiny_model

    import intermask.sampling as interaction
    from intermask import sample as sample_entry
    from intermask.errors import UsageError

    model = tiny_model()
    model.joint_reader = InterXJoints(body_model_file)
    given = tmp_path / "given.npy"
    np.save(given, np.zeros((2, 40, 22, 3), dtype=np.float32))
    for flag in ("--reaction-to", "--edit"):
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            cfg = compose("sample", overrides=sample_entry.translate([flag, str(given)])
                          + [f"sample.out={tmp_path / 'out'}"])
        with pytest.raises(UsageError, match=f"{flag} starts from joint positions.*generate from text"):
            interaction.sample_with(model, cfg.sample, "transformer.pt", 4.0, torch.device("cpu"))
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("sample", overrides=sample_entry.translate(["--text", "two people hug", "--length", "8"])
                      + [f"sample.out={tmp_path / 'out'}"])
    with pytest.raises(UsageError, match=r"--length 8 s: this model generates at most 4\.9 s"):
        interaction.sample_with(model, cfg.sample, "transformer.pt", 4.0, torch.device("cpu"))
    assert not (tmp_path / "out").exists()


def test_the_interclip_evaluator_is_not_trained_for_a_dataset_with_another_evaluator(tmp_path):
    from intermask import train as train_entry
    from intermask.errors import ConfigError
    from intermask.training.tasks import build_trainer

    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=train_entry.translate(["evaluator"]) + [
            "experiment=interx", "text_encoder=minilm", f"data.root={tmp_path}"])
    write_interx(tmp_path, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="evaluated by a matching_evaluator, which is not trained here"):
        build_trainer(cfg)
