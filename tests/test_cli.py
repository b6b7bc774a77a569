"""The thin front: positional names and --flags become Hydra overrides; Hydra's own flags keep working."""
import pytest
from hydra import compose, initialize_config_dir

from intermask import eval as eval_entry
from intermask import render, sample, train
from intermask.cli import CONFIG_DIR, UsageError, flags_first, quote_list


def test_train_positional_model_selects_kind_and_training_group():
    assert train.translate(["vqvae", "train.batch_size=32", "--cfg", "job"]) == [
        "kind=vqvae", "train=vqvae", "train.batch_size=32", "--cfg", "job"]
    with pytest.raises(UsageError, match="unknown model 'gan'"):
        train.translate(["gan"])
    with pytest.raises(UsageError, match="which model"):
        train.translate(["train.lr=1"])


def test_sample_flags_become_overrides_and_texts_survive_quotes_and_commas():
    overrides = sample.translate(["--text", "it's here, [now]", "--text=b", "--length", "4", "--gumbel", "ckpt=x"])
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("sample", overrides=flags_first(overrides))
    assert list(cfg.sample.texts) == ["it's here, [now]", "b"]
    assert cfg.sample.length == 4 and cfg.sample.gumbel is True and cfg.ckpt == "x"
    # what a shell passes through reads back unchanged: backslashes, ${...}, quotes next to them
    texts = ["a ${oc.env:HOME} b", "${x}", "back\\slash", "ends\\", "q\\'x", "\\${x}", "x\\\\y", "c:\\dir\\",
             "two lines\\\n"]
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("sample", overrides=sample.translate([arg for text in texts for arg in ("--text", text)]))
    assert list(cfg.sample.texts) == texts
    with pytest.raises(UsageError, match="given twice"):
        sample.translate(["--length", "1", "--length", "2"])
    with pytest.raises(UsageError, match="needs a value"):
        sample.translate(["--seed"])


def test_eval_dataset_flag_picks_the_data_group_with_its_protocol_constants():
    overrides = eval_entry.translate(["--dataset", "interx", "--quick"])
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("eval", overrides=overrides)
    assert cfg.data.name == "interx" and cfg.quick is True
    assert cfg.protocol.batch_size == 32 and cfg.protocol.emb_scale == 1.0
    assert cfg.text_encoder.name == "clip"


def test_render_takes_one_input():
    assert render.translate(["clip.npy", "out=x"]) == ["input='clip.npy'", "out=x"]
    with pytest.raises(UsageError):
        render.translate(["a.npy", "b.npy"])


def test_hydra_flags_move_before_overrides_so_multirun_parses():
    assert flags_first(["kind=vqvae", "-m", "train.lr=1,2", "--cfg", "job"]) == [
        "-m", "--cfg", "job", "kind=vqvae", "train.lr=1,2"]
    assert quote_list(["a'b"]) == "['a\\'b']"


def test_an_unknown_option_stops_with_the_options_it_may_have_meant_and_hydras_own_pass():
    with pytest.raises(UsageError, match=r"unknown option --lenght \(did you mean --length\?\)"):
        sample.translate(["--text", "a hug", "--lenght", "4"])
    with pytest.raises(UsageError, match=r"unknown option --quik \(did you mean --quick\?\)"):
        eval_entry.translate(["--dataset", "synthetic", "--quik"])
    with pytest.raises(UsageError, match=r"unknown option --zzz$"):
        sample.translate(["--text", "a hug", "--zzz=1"])
    assert sample.translate(["--text", "a", "--cfg", "job", "--hydra-help", "-m"])[-3:] == ["job", "--hydra-help", "-m"]


def test_the_help_names_every_option_of_sample_and_eval():
    help_text = (CONFIG_DIR / "hydra" / "help" / "intermask.yaml").read_text()
    for option in [*sample.FLAGS, "--gumbel", "--dataset", "--quick", "--reconstruction"]:
        assert option in help_text, option


def test_a_misspelt_key_stops_before_hydra_with_the_keys_it_may_have_meant():
    from intermask.cli import check_override_keys

    with pytest.raises(UsageError, match=r"sample.lenght is no setting of this command \(did you mean sample.length\?"):
        sample.main.__wrapped__(["--text", "a hug", "sample.lenght=3"])  # stops before any model or Hydra run starts
    with pytest.raises(UsageError, match=r"render.formats is no setting .*did you mean formats\?"):
        render.main.__wrapped__(["clip.npy", "render.formats=[gif]"])
    # every unknown key at once, each with its nearest; a key like none of them is named alone
    with pytest.raises(UsageError, match=r"train.max_step is no setting .*did you mean train.max_steps\?\); "
                                         r"model.vqvae.widht .*model.vqvae.width\?\); zzz is no setting of this "
                                         r"command \(every setting: add --cfg job"):
        check_override_keys("train", ["kind=vqvae", "train=vqvae", "train.max_step=3", "model.vqvae.widht=8",
                                      "zzz=1", "experiment=demo"])
    # known keys, appended keys, Hydra's own and a multirun's sweeps pass; a missing group option is Hydra's to report
    check_override_keys("train", ["kind=vqvae", "train=vqvae", "train.max_steps=3", "+train.extra=1",
                                  "hydra.run.dir=x", "experiment=nope", "--cfg", "job"])
    check_override_keys("train", ["-m", "kind=vqvae", "train=vqvae", "train.max_stepz=1,2"])


def test_experiment_overrides_every_model_size_and_data_picks_its_text_encoder():
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["kind=transformer", "train=transformer", "experiment=tiny",
                                          "data=interhuman"])
    assert cfg.model.transformer.dim == 64 and cfg.model.vqvae.width == 64 and cfg.train.max_steps == 300
    assert cfg.train.lr == 2e-4 and cfg.data.name == "interhuman" and cfg.text_encoder.name == "clip"


@pytest.mark.parametrize("kind, steps, batch, decay", [("vqvae", 4000, 8, "linear"), ("evaluator", 400, 32, "step"),
                                                      ("transformer", 800, 16, "step")])
def test_demo_experiment_trains_each_model_briefly_on_its_own_small_dataset(kind, steps, batch, decay):
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[f"kind={kind}", f"train={kind}", "experiment=demo"])
    assert cfg.data.root == "data/synthetic_demo" and cfg.data.generate.num_clips == 1000
    assert cfg.train.max_steps == steps and cfg.train.batch_size == batch and cfg.train.time_limit_min is None
    assert cfg.train.decay == decay
    assert cfg.model.vqvae.body_size == 4.26  # both people at one size, their sizes kept apart from the tokens
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        full = compose("train", overrides=[f"kind={kind}", f"train={kind}", "experiment=synthetic"])
    assert full.data.root == "data/synthetic" and full.data.generate.num_clips == 4000


def test_a_mistyped_experiment_is_an_error_not_the_paper_sizes():
    from hydra.errors import MissingConfigException

    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        assert compose("train").experiment_name == "paper"
        with pytest.raises(MissingConfigException, match="experiment/tinyy"):
            compose("train", overrides=["experiment=tinyy"])


def test_one_seed_builds_one_model(tmp_path):
    import torch

    from intermask import train as train_entry
    from intermask.training.tasks import build_trainer

    weights = []
    for run in range(2):
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            cfg = compose("train", overrides=train_entry.translate(["vqvae"]) + [
                "experiment=tiny", f"data.root={tmp_path / 'data'}", "data.generate.num_clips=24", "progress=false",
                f"runs_root={tmp_path / 'runs'}", f"hydra.run.dir={tmp_path / f'run{run}'}", "train.max_steps=1",
                "seed=11"])
        cfg = compose_free(cfg, tmp_path / f"run{run}")
        model = build_trainer(cfg).task.model
        weights.append({k: v.clone() for k, v in model.state_dict().items()})
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])


def test_the_learning_rate_decay_of_the_config_reaches_the_trainer(tmp_path):
    from intermask import train as train_entry
    from intermask.errors import ConfigError
    from intermask.training.tasks import build_trainer

    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=train_entry.translate(["vqvae"]) + [
            "experiment=tiny", f"data.root={tmp_path / 'data'}", "data.generate.num_clips=24", "progress=false",
            f"runs_root={tmp_path / 'runs'}", "train.max_steps=40", "train.decay=linear"])
    trainer = build_trainer(compose_free(cfg, tmp_path / "run"))
    assert trainer.settings.decay == "linear"
    rates = [trainer.scheduler.lr_lambdas[0](step) for step in (trainer.settings.warmup_steps, 20, 39)]
    assert rates[0] == 1.0 and rates[1] < 1.0 and rates[2] == pytest.approx(1 / (40 - trainer.settings.warmup_steps))
    cfg.train.decay = "exponential"
    with pytest.raises(ConfigError, match="train.decay must be one of step, linear, cosine, got 'exponential'"):
        build_trainer(cfg)


def compose_free(cfg, run_dir):
    """The composed config with ``run_dir`` resolved (no Hydra job is running in a test)."""
    from omegaconf import OmegaConf

    OmegaConf.set_struct(cfg, False)
    cfg.run_dir = str(run_dir)
    return cfg


def test_ctrl_c_ends_a_command_with_one_line_and_exit_code_130(capsys):
    from intermask.cli import guarded

    def interrupted(cfg):
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as stop:
        guarded(interrupted)(None)
    assert stop.value.code == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted:") and "resumes from its last checkpoint" in err and len(err.splitlines()) == 1


def test_the_vq_loss_comes_from_the_published_weights_then_the_dataset_then_the_training_config():
    from intermask.models.losses import VQLossWeights
    from intermask.training.tasks import configured_vq_loss_weights

    def weights(*overrides):
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            return configured_vq_loss_weights(compose("train", overrides=["kind=vqvae", "train=vqvae", *overrides]))

    assert weights("data=interhuman") == VQLossWeights()  # the real data trains with the published loss
    synthetic = weights("experiment=demo")
    assert synthetic.pose == synthetic.placement == synthetic.displacement == 1.0 and synthetic.foot_contact == 0.0
    assert synthetic.reconstruction == 1.0 and synthetic.velocity == 100.0  # published terms it keeps
    assert weights("experiment=demo", "train.loss.weights.foot_contact=7").foot_contact == 7.0
    recipe = weights("experiment=cpu")  # the CPU recipe's VQ-VAE adds a rotation term and halves the others
    assert recipe.geodesic == 20.0 and recipe.pose == recipe.displacement == 0.5 and recipe.placement == 1.0
    assert recipe.velocity == 50.0 and recipe.reconstruction == 1.0 and recipe.foot_contact == 0.0
    assert recipe.separation == 0.2 and synthetic.separation == weights("data=interhuman").separation == 0.0


def test_the_cpu_recipe_sizes_each_model_and_cuts_clips_to_160_frames():
    for kind in ("vqvae", "evaluator", "transformer"):
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            cfg = compose("train", overrides=[f"kind={kind}", f"train={kind}", "experiment=cpu"])
        assert cfg.data.root == "data/synthetic" and cfg.data.max_frames == 160 and cfg.train.max_steps > 0
    assert cfg.model.transformer.dim == cfg.model.transformer.token_dim == 128 and cfg.model.vqvae.width == 64
    # its evaluator judges z-scored motion at the protocol's batch; its VQ-VAE learns the joint rotations
    assert cfg.model.evaluator.input_norm and cfg.cpu_batch.evaluator == cfg.data.eval.batch_size == 96
    assert cfg.cpu_steps.evaluator == 1200  # 600 left its ground truth's R@3 at 0.76 (target 0.85)
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        assert compose("train", overrides=["kind=vqvae", "train=vqvae", "experiment=cpu"]).train.loss.geometry_in_metres
        assert not compose("train", overrides=["kind=evaluator", "train=evaluator",
                                               "experiment=demo"]).model.evaluator.input_norm


def test_eval_names_the_datasets_in_one_line_for_an_unknown_one():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "intermask.eval", "--dataset", "nosuchset"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == ("error: --dataset nosuchset: no such dataset; the datasets are "
                                             "interhuman, interx, synthetic")
    assert "search path" not in result.stderr.lower() and "provider" not in result.stdout + result.stderr
    with pytest.raises(UsageError, match="no such dataset; the datasets are interhuman, interx, synthetic"):
        eval_entry.translate(["--dataset=nosuchset"])


def test_serve_without_the_app_extra_says_how_to_install_it(monkeypatch, capsys):
    from intermask import serve
    from intermask.cli import guarded

    monkeypatch.setattr(serve.importlib.util, "find_spec", lambda name: None)
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("serve")
    with pytest.raises(SystemExit) as stop:
        guarded(serve.job)(cfg)
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip() == ("error: the web app needs the optional 'app' extra: "
                                               "pip install -e '.[app]' (or pip install 'intermask[app]')")


def test_only_the_synthetic_captions_exchange_the_peoples_names_with_the_people():
    from intermask.data.source import DataSource

    def names(*overrides):
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            return DataSource(compose("train", overrides=["kind=transformer", "train=transformer", *overrides]).data
                              ).person_names()

    assert names("experiment=demo") == names("experiment=cpu") == ("first person", "second person")
    assert names("data=interhuman") is None and names("data=interx") is None  # the published pipelines


def test_captions_change_in_one_detail_by_mirroring_everywhere_and_by_names_where_they_name_the_people():
    from intermask.data.source import DataSource

    def changes(*overrides):
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            cfg = compose("train", overrides=["kind=evaluator", "train=evaluator", *overrides])
        return DataSource(cfg.data).caption_changes()

    synthetic = changes("experiment=demo")
    assert synthetic["mirrored"]("the first person turns left") == "the first person turns right"
    assert synthetic["names exchanged"]("the first person pushes the second person") == (
        "the second person pushes the first person")
    assert list(changes("data=interhuman")) == ["mirrored"]


def test_the_synthetic_experiments_train_their_evaluator_on_the_twins_and_the_published_ones_do_not():
    def weight(*overrides):
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            return compose("train", overrides=["kind=evaluator", "train=evaluator", *overrides]).train.detail_weight

    assert weight("experiment=demo") == weight("experiment=cpu") == 3.0
    assert weight("experiment=interhuman") == weight("data=interhuman") == 0.0


def test_the_demo_and_the_recipe_train_the_caption_aligner_and_take_velocities_from_positions_the_paper_not():
    from intermask.data.source import DataSource
    from intermask.errors import ConfigError
    from intermask.training.tasks import transformer_settings

    def settings(*overrides):
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            cfg = compose("train", overrides=["kind=transformer", "train=transformer", *overrides])
        return transformer_settings(cfg, DataSource(cfg.data))

    # the recipe's model samples at the guidance scale its evaluation favoured (docs/synthetic-training.md)
    for experiment, cond_scale, rounds in (("demo", 2.0, {"collision_rounds": 6, "collision_steps": 3,
                                                          "separate_bodies": True}),
                                           ("cpu", 1.5, {"collision_rounds": 6})):
        network, extras = settings(f"experiment={experiment}")
        assert extras == {"caption_aligner": {"weight": 0.3, "detail_weight": 3.0, "width": 32, "hidden": 128,
                                              "embed": 64}, "velocities_from_positions": True, "cond_scale": cond_scale,
                          **rounds, "lowpass_hz": 8.0,
                          "person_views": ["first person", "second person"], "view_contrast": 1.0}
        assert not ({"caption_aligner", "velocities_from_positions", "cond_scale", "collision_rounds",
                     "collision_steps", "remask_noise", "lowpass_hz", "separate_bodies"} & set(network))
    # the recipe drops no attention weights (a fused attention kernel on a CPU); the demo drops nothing at all
    assert settings("experiment=cpu")[0]["attention_dropout"] == 0.0
    for experiment in ("synthetic", "interhuman", "interx", "paper"):
        network, extras = settings(f"experiment={experiment}")
        assert extras == {"cond_scale": 2.0}  # the paper's guidance, no collision rounds
        assert not ({"caption_aligner", "velocities_from_positions", "cond_scale", "collision_rounds", "remask_noise"}
                    & set(network))
        assert network["attention_dropout"] is None  # the published models: the same rate as the hidden states
    with pytest.raises(ConfigError, match="unknown key"):
        settings("experiment=demo", "+model.transformer.caption_aligner.depth=2")
    with pytest.raises(ConfigError, match="must be >= 0"):
        settings("experiment=demo", "model.transformer.caption_aligner.weight=-1")
    # the pair-geometry term: off unless asked, its defaults filled in, its keys and values checked
    assert "pair_geometry" not in settings("experiment=cpu")[1]
    network, extras = settings("experiment=cpu", "model.transformer.pair_geometry.weight=2")
    assert extras["pair_geometry"] == {"weight": 2.0, "window": 8, "reach": 0.5} and "pair_geometry" not in network
    with pytest.raises(ConfigError, match="pair_geometry: unknown key"):
        settings("experiment=cpu", "+model.transformer.pair_geometry.radius=1")
    with pytest.raises(ConfigError, match="pair_geometry: .*must be > 0"):
        settings("experiment=cpu", "model.transformer.pair_geometry.weight=-1")
    with pytest.raises(ConfigError, match="pair_geometry: data=interx's features hold no joint positions"):
        settings("experiment=interx", "model.transformer.pair_geometry.weight=2")
    with pytest.raises(ConfigError, match="hold no joint positions"):  # Inter-X's features
        settings("experiment=interx", "model.transformer.velocities_from_positions=true")
    with pytest.raises(ConfigError, match="model.transformer.cond_scale: a guidance scale must be"):
        settings("experiment=cpu", "model.transformer.cond_scale=-1")
    with pytest.raises(ConfigError, match="model.transformer.collision_rounds must be a whole number >= 0"):
        settings("experiment=cpu", "model.transformer.collision_rounds=-2")
    with pytest.raises(ConfigError, match="model.transformer.collision_steps must be a whole number >= 1"):
        settings("experiment=cpu", "model.transformer.collision_steps=0")
    with pytest.raises(ConfigError, match="collision_rounds=2: data=interx's features hold no joint positions"):
        settings("experiment=interx", "model.transformer.collision_rounds=2")
    # the remask noise: saved with the model only where it is on
    assert "remask_noise" not in settings("experiment=demo")[1]
    assert settings("experiment=demo", "model.transformer.remask_noise=2")[1]["remask_noise"] == 2.0
    with pytest.raises(ConfigError, match="model.transformer.remask_noise: remask_noise must be a finite number >= 0"):
        settings("experiment=demo", "model.transformer.remask_noise=-1")
    # the low-pass on the decoded motion: saved with the model only where it is on, its cutoff checked
    assert "lowpass_hz" not in settings("experiment=synthetic")[1]
    assert settings("experiment=demo", "model.transformer.lowpass_hz=8")[1]["lowpass_hz"] == 8.0
    with pytest.raises(ConfigError, match="model.transformer.lowpass_hz must be null"):
        settings("experiment=demo", "model.transformer.lowpass_hz=15")
    # moving overlapping bodies apart: saved with the model only where it is on, and only for joint positions
    assert "separate_bodies" not in settings("experiment=cpu")[1]
    assert settings("experiment=cpu", "model.transformer.separate_bodies=true")[1]["separate_bodies"] is True
    with pytest.raises(ConfigError, match="model.transformer.separate_bodies must be true or false"):
        settings("experiment=demo", "model.transformer.separate_bodies=2")
    with pytest.raises(ConfigError, match="separate_bodies=true: data=interx's features hold no joint positions"):
        settings("experiment=interx", "model.transformer.separate_bodies=true")


def test_person_views_are_on_in_the_demo_and_the_recipe_only_and_need_the_names_of_the_people():
    from intermask.data.source import DataSource
    from intermask.errors import ConfigError
    from intermask.training.tasks import transformer_settings

    def settings(*overrides):
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            cfg = compose("train", overrides=["kind=transformer", "train=transformer", *overrides])
        return transformer_settings(cfg, DataSource(cfg.data))

    for experiment in ("synthetic", "interhuman", "interx"):  # off unless asked (docs/differences.md)
        assert "person_views" not in settings(f"experiment={experiment}")[1]
    for experiment in ("demo", "cpu"):  # the CPU-sized models read the caption per person
        assert settings(f"experiment={experiment}")[1]["person_views"] == ["first person", "second person"]
        assert "person_views" not in settings(f"experiment={experiment}", "model.transformer.person_views=false")[1]
    for experiment in ("demo", "cpu", "synthetic"):
        network, reading = settings(f"experiment={experiment}", "model.transformer.person_views=true")
        assert {key: reading[key] for key in ("person_views", "view_contrast")} == {
            "person_views": ["first person", "second person"], "view_contrast": 1.0}
        assert "person_views" not in network and "view_contrast" not in network
    with pytest.raises(ConfigError, match="view_contrast"):
        settings("experiment=demo", "model.transformer.person_views=true", "model.transformer.view_contrast=0.5")
    with pytest.raises(ConfigError, match="data.person_names"):
        settings("experiment=interhuman", "model.transformer.person_views=true")
