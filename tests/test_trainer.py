import importlib.util
import json
import logging
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from intermask.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from intermask.training.schedule import (
    TRANSFORMER_DECAY,
    VQVAE_DECAY,
    build_scheduler,
    lr_lambda,
    milestones_from_fractions,
    warmup_steps_from_epoch,
)
from intermask.training.trainer import EpochSampler, NonFiniteLossError, Task, make_adamw, make_loader, unwrap_model

REPO = Path(__file__).resolve().parents[1]
HELPER = REPO / "tests" / "helpers" / "tiny_train.py"


def load_helper():
    spec = importlib.util.spec_from_file_location("tiny_train", HELPER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tiny = load_helper()


def parameters_of(trainer):
    return [parameter.detach().clone() for parameter in trainer.model.parameters()]


def subprocess_env(**extra):
    inherited = {key: value for key, value in os.environ.items()
                 if key not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    return dict(inherited, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", **extra)


# ------------------------------------------------------------------------------------------- schedule


def test_lr_rises_linearly_over_warmup_then_drops_by_gamma_at_each_milestone():
    multiplier = [lr_lambda(step, warmup_steps=4, milestones=(10, 20), gamma=0.1) for step in range(25)]
    assert multiplier[:5] == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert multiplier[9] == 1.0
    assert multiplier[10] == pytest.approx(0.1) and multiplier[19] == pytest.approx(0.1)
    assert multiplier[20] == pytest.approx(0.01) and multiplier[24] == pytest.approx(0.01)


def test_milestone_inside_warmup_multiplies_the_warmup_ramp():
    assert lr_lambda(2, warmup_steps=8, milestones=(1,), gamma=0.5) == pytest.approx(3 / 8 * 0.5)


def test_paper_schedules_place_milestones_at_fractions_of_the_run():
    assert VQVAE_DECAY.milestones(1000) == (700, 850) and VQVAE_DECAY.gamma == 0.1
    assert TRANSFORMER_DECAY.milestones(1000) == (500, 700, 850)
    assert TRANSFORMER_DECAY.gamma == pytest.approx(1 / 3)
    assert milestones_from_fractions(10, (0.5,)) == (5,)
    assert warmup_steps_from_epoch(61) == 15
    with pytest.raises(ValueError, match="increasing"):
        milestones_from_fractions(100, (0.8, 0.5))


def test_scheduler_state_dict_resumes_the_same_learning_rate():
    def scheduler_after(steps, state=None):
        optimizer = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=1.0)
        scheduler = build_scheduler(optimizer, warmup_steps=3, milestones=(5, 8), gamma=0.5)
        if state is not None:
            optimizer.load_state_dict(state[0]), scheduler.load_state_dict(state[1])
        for _ in range(steps):
            optimizer.step(), scheduler.step()
        return optimizer, scheduler

    straight_optimizer, _ = scheduler_after(9)
    half_optimizer, half_scheduler = scheduler_after(4)
    resumed_optimizer, _ = scheduler_after(5, (half_optimizer.state_dict(), half_scheduler.state_dict()))
    assert resumed_optimizer.param_groups[0]["lr"] == straight_optimizer.param_groups[0]["lr"] == 0.25


def test_smooth_decays_fall_from_the_full_rate_after_warmup_to_zero_at_the_run_s_end():
    linear = [lr_lambda(step, 2, (), 0.1, decay="linear", total_steps=10) for step in range(10)]
    cosine = [lr_lambda(step, 2, (), 0.1, decay="cosine", total_steps=10) for step in range(10)]
    assert linear == pytest.approx([0.5, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125])
    assert cosine[:3] == pytest.approx([0.5, 1.0, 1.0]) and cosine[6] == pytest.approx(0.5)
    assert cosine[9] == pytest.approx(0.5 * (1 + math.cos(math.pi * 7 / 8)))
    assert all(a > b > 0 for a, b in zip(cosine[2:], cosine[3:]))
    # milestones and gamma play no part in a smooth decay
    assert lr_lambda(5, 2, (3,), 0.1, decay="linear", total_steps=10) == linear[5]


def test_build_scheduler_rejects_an_unknown_decay_and_a_smooth_one_without_the_run_s_length():
    optimizer = torch.optim.AdamW([nn.Parameter(torch.zeros(1))])
    with pytest.raises(ValueError, match="one of step, linear, cosine, got 'exponential'"):
        build_scheduler(optimizer, warmup_steps=0, milestones=(), gamma=0.1, decay="exponential")
    with pytest.raises(ValueError, match="linear decay needs the run's length"):
        build_scheduler(optimizer, warmup_steps=0, milestones=(), gamma=0.1, decay="linear")


def test_build_scheduler_rejects_unsorted_milestones():
    optimizer = torch.optim.AdamW([nn.Parameter(torch.zeros(1))])
    with pytest.raises(ValueError, match="milestones must be increasing"):
        build_scheduler(optimizer, warmup_steps=0, milestones=(8, 4), gamma=0.1)


# ----------------------------------------------------------------------------------------------- data


def test_epoch_sampler_order_depends_only_on_seed_and_epoch_and_skips_consumed_samples():
    sampler = EpochSampler(10, shuffle=True, seed=3)
    sampler.set_epoch(2)
    epoch_two = list(sampler)
    sampler.set_epoch(1)
    epoch_one = list(sampler)
    sampler.set_epoch(2, start=4)

    assert sorted(epoch_two) == list(range(10)) and epoch_one != epoch_two
    assert list(sampler) == epoch_two[4:] and len(sampler) == 6
    assert list(EpochSampler(10, shuffle=True, seed=4)) != list(EpochSampler(10, shuffle=True, seed=3))


def test_epoch_sampler_gives_every_rank_an_equal_disjoint_share():
    shares = [list(EpochSampler(10, shuffle=True, seed=0, rank=rank, world_size=3)) for rank in range(3)]
    assert [len(share) for share in shares] == [4, 4, 4]
    assert set(sum(shares, [])) == set(range(10))  # two samples repeat to even the shares out


def test_make_loader_is_seeded_and_keeps_workers_alive_between_epochs():
    dataset = tiny.regression_dataset(12)
    loader = make_loader(dataset, batch_size=4, shuffle=True, num_workers=2, seed=5)
    again = make_loader(dataset, batch_size=4, shuffle=True, num_workers=2, seed=5)
    assert isinstance(loader.sampler, EpochSampler) and loader.persistent_workers
    assert loader.pin_memory == torch.cuda.is_available()
    assert list(loader.sampler) == list(again.sampler)


# ------------------------------------------------------------------------------------------ training


def test_regression_task_satisfies_the_task_protocol():
    assert isinstance(tiny.RegressionTask(), Task)


def test_training_reduces_validation_error_and_follows_the_lr_schedule(tmp_path):
    trainer = tiny.build_trainer(tmp_path, 20, milestones=(10,), gamma=0.5, warmup_steps=3)
    with torch.inference_mode():
        initial = trainer.task.validate([tiny.regression_dataset(16, seed=1)[:]])["mse"]

    metrics = trainer.fit()

    assert metrics["mse"] < initial / 2
    assert trainer.task.seen_steps == list(range(20))
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.2 * lr_lambda(20, 3, (10,), 0.5))
    saved = load_checkpoint(tmp_path / "last.pt", kind="regression")
    assert saved["step"] == 20 and saved["epoch"] == 3 and saved["batch_in_epoch"] == 5
    assert saved["metrics"] == metrics and saved["config"]["model"] == {"features": 4}


def test_validation_runs_in_eval_mode_under_inference_mode_and_training_resumes_in_train_mode(tmp_path):
    trainer = tiny.build_trainer(tmp_path, 10, val_every=5)
    trainer.fit()
    assert trainer.task.validation_modes == [(False, True), (False, True)]
    assert trainer.model.training


@pytest.mark.parametrize("split_step", [7, 10], ids=["mid_epoch", "epoch_boundary"])
@pytest.mark.parametrize("plain_loader", [False, True], ids=["epoch_sampler", "plain_loader"])
def test_resumed_run_matches_uninterrupted_run_bitwise(tmp_path, split_step, plain_loader):
    options = dict(milestones=(9,), ckpt_every=100, plain_loader=plain_loader)
    straight = tiny.build_trainer(tmp_path / "straight", 14, **options)
    straight.fit()

    tiny.build_trainer(tmp_path / "split", split_step, **options).fit()
    resumed = tiny.build_trainer(tmp_path / "split", 14, model_seed=123, **options)
    resumed.fit()

    assert resumed.resume_info.step == split_step
    assert resumed.task.seen_steps == list(range(split_step, 14))
    for expected, got in zip(parameters_of(straight), parameters_of(resumed)):
        assert torch.equal(expected, got)
    expected_state = straight.optimizer.state_dict()["state"]
    got_state = resumed.optimizer.state_dict()["state"]
    assert all(torch.equal(expected_state[0][key], got_state[0][key]) for key in ("exp_avg", "exp_avg_sq"))


def test_time_limit_stops_validated_and_checkpointed_and_chunks_resume_to_the_uninterrupted_result(tmp_path):
    options = dict(milestones=(9,), ckpt_every=100, step_delay=0.02)
    straight = tiny.build_trainer(tmp_path / "straight", 12, **options)
    straight.fit()

    chunks = []
    while not chunks or chunks[-1].stopped_early:
        chunk = tiny.build_trainer(tmp_path / "chunked", 12, time_limit=0.05, **options)
        chunk.fit()
        chunks.append(chunk)
        saved = load_checkpoint(tmp_path / "chunked" / "last.pt", kind="regression")
        assert saved["step"] == chunk.step and saved["metrics_step"] == chunk.step  # validated, then saved
        assert len(chunks) < 12

    assert len(chunks) > 1 and all(chunk.task.seen_steps for chunk in chunks)
    assert [step for chunk in chunks for step in chunk.task.seen_steps] == list(range(12))
    for expected, got in zip(parameters_of(straight), parameters_of(chunks[-1])):
        assert torch.equal(expected, got)


class SteppedClock:
    """Stands in for the trainer's clock: the time moves only when a training step is taken."""

    perf_counter = staticmethod(time.perf_counter)

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now


def clocked_trainer(run_dir, clock, seconds_per_step, *args, **options):
    """A tiny trainer whose every step moves ``clock`` by ``seconds_per_step`` (a number, or a function of the
    step's index); ``trainer.planned`` records the run's length as each step began."""
    trainer = tiny.build_trainer(run_dir, *args, **options)
    step, trainer.planned = trainer.task.training_step, []
    seconds = seconds_per_step if callable(seconds_per_step) else lambda index: seconds_per_step

    def timed(batch, index):
        clock.now += seconds(index)
        trainer.planned.append(trainer.max_steps)
        return step(batch, index)

    trainer.task.training_step = timed
    return trainer


def test_fit_to_time_shortens_the_run_to_its_time_limit_and_takes_every_decay_on_the_way(
        tmp_path, monkeypatch, caplog):
    from intermask.training import trainer as trainer_module

    clock = SteppedClock()
    monkeypatch.setattr(trainer_module, "time", clock)
    options = dict(time_limit=1.0, fit_to_time=True, milestones=(200, 300), gamma=0.5)
    # 400 steps of 10 ms do not fit into one second: about 98 do, with the decays at half and three quarters
    trainer = clocked_trainer(tmp_path, clock, 0.01, 400, **options)
    with caplog.at_level(logging.INFO, logger=trainer_module.__name__):
        trainer.fit()
    assert not trainer.stopped_early and trainer.step == trainer.max_steps
    assert 90 <= trainer.max_steps <= 100
    # the user is told, as a warning, how much of the schedule was cut and what the whole of it would take
    fits = [record for record in caplog.records if "fitting the run" in record.getMessage()]
    assert len(fits) == 1 and fits[0].levelno == logging.WARNING
    assert re.search(r"instead of 400 \(2\d% of its schedule; at 0\.01 s a step all 400 would take about 4 s",
                     fits[0].getMessage())
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.2 * 0.5 ** 2)
    assert load_checkpoint(tmp_path / "last.pt", kind="regression")["fitted_steps"] == trainer.step

    # a rerun ends where the fitted schedule did; without fit_to_time the run goes on to its configured length
    clock.now = 0.0
    again = clocked_trainer(tmp_path, clock, 0.01, 400, **options)
    again.fit()
    assert again.task.seen_steps == [] and again.step == trainer.step
    onward = tiny.build_trainer(tmp_path, 400, milestones=(200, 300), gamma=0.5)
    onward.fit()
    assert onward.task.seen_steps[0] == trainer.step and onward.step == 400


def test_fit_to_time_ends_a_linear_decay_at_the_fitted_run_s_last_step(tmp_path, monkeypatch):
    from intermask.training import trainer as trainer_module

    clock = SteppedClock()
    monkeypatch.setattr(trainer_module, "time", clock)
    trainer = clocked_trainer(tmp_path, clock, 0.01, 400, time_limit=1.0, fit_to_time=True, decay="linear")
    seen = []
    step = trainer.task.training_step
    trainer.task.training_step = lambda batch, index: (seen.append(trainer.optimizer.param_groups[0]["lr"]),
                                                       step(batch, index))[1]
    trainer.fit()
    assert 90 <= trainer.max_steps <= 100 and trainer.step == trainer.max_steps
    # the rate reaches its last value on the fitted run's last step, not a quarter of the way down a 400-step line
    assert seen[-1] == pytest.approx(0.2 / (trainer.max_steps - 3))  # warm-up 3 steps
    assert all(a >= b for a, b in zip(seen[20:], seen[21:]))


def test_fit_to_time_lengthens_a_run_whose_pace_picks_up_before_its_first_decay(tmp_path, monkeypatch):
    from intermask.training import trainer as trainer_module

    clock = SteppedClock()
    monkeypatch.setattr(trainer_module, "time", clock)

    def slow_then_fast(index):  # 20 ms a step for the first 15 steps, then 5 ms
        return 0.02 if index < 15 else 0.005

    trainer = clocked_trainer(tmp_path, clock, slow_then_fast, 400, time_limit=1.0, fit_to_time=True,
                              milestones=(200, 300), gamma=0.5)
    trainer.fit()
    assert min(trainer.planned) <= 80 and trainer.max_steps >= 100 and not trainer.stopped_early
    assert trainer.step == trainer.max_steps and trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


def test_a_fit_that_keeps_most_of_the_schedule_is_logged_as_information(tmp_path, monkeypatch, caplog):
    from intermask.training import trainer as trainer_module

    clock = SteppedClock()
    monkeypatch.setattr(trainer_module, "time", clock)
    trainer = clocked_trainer(tmp_path, clock, 0.003, 400, time_limit=1.0, fit_to_time=True)
    with caplog.at_level(logging.INFO, logger=trainer_module.__name__):
        trainer.fit()
    fits = [record for record in caplog.records if "fitting the run" in record.getMessage()]
    assert 300 <= trainer.max_steps < 400 and len(fits) == 1 and fits[0].levelno == logging.INFO
    assert "of its schedule; at 0.003 s a step all 400 would take about 1 s" in fits[0].getMessage()


def test_fit_to_time_leaves_a_run_that_fits_as_it_is(tmp_path, monkeypatch):
    from intermask.training import trainer as trainer_module

    clock = SteppedClock()
    monkeypatch.setattr(trainer_module, "time", clock)
    trainer = clocked_trainer(tmp_path, clock, 0.001, 60, time_limit=1.0, fit_to_time=True)
    trainer.fit()
    assert trainer.max_steps == trainer.step == 60
    assert load_checkpoint(tmp_path / "last.pt", kind="regression")["fitted_steps"] is None


def test_fit_to_time_needs_a_time_limit(tmp_path):
    with pytest.raises(ValueError, match="fit_to_time"):
        tiny.build_trainer(tmp_path, 4, fit_to_time=True)


def test_time_limit_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="time_limit"):
        tiny.build_trainer(tmp_path, 4, time_limit=0)


def test_resume_never_starts_fresh_even_when_last_checkpoint_exists(tmp_path):
    tiny.build_trainer(tmp_path, 5).fit()
    fresh = tiny.build_trainer(tmp_path, 5, resume="never")
    fresh.fit()
    assert fresh.resume_info is None and fresh.task.seen_steps == list(range(5))


def test_resuming_a_finished_run_trains_no_further_and_returns_its_metrics(tmp_path):
    metrics = tiny.build_trainer(tmp_path, 6).fit()
    again = tiny.build_trainer(tmp_path, 6)
    assert again.fit() == metrics
    assert again.task.seen_steps == []


def test_resume_warns_about_a_changed_model_config(tmp_path, caplog):
    tiny.build_trainer(tmp_path, 4, config={"model": {"features": 4}, "lr": 0.05}).fit()
    changed = tiny.build_trainer(tmp_path, 8, config={"model": {"features": 4, "width": 2}, "lr": 0.05})
    with caplog.at_level(logging.WARNING, logger="intermask.training.trainer"):
        changed.fit()
    assert changed.resume_info.config_changes == ("model.width",)
    assert "model.width" in caplog.text


def test_resume_from_a_checkpoint_of_another_kind_is_refused(tmp_path):
    save_checkpoint(tmp_path / "last.pt", {"kind": "vqvae", "model": {}, "config": {}})
    with pytest.raises(CheckpointError, match="kind 'regression' expected, got 'vqvae'"):
        tiny.build_trainer(tmp_path, 4).fit()


def test_gradient_clipping_bounds_the_gradient_norm_the_optimizer_sees(tmp_path):
    clipped = tiny.build_trainer(tmp_path / "clipped", 5, gradient_scale=1000.0, grad_clip=0.5)
    clipped.fit()
    unclipped = tiny.build_trainer(tmp_path / "unclipped", 5, gradient_scale=1000.0, grad_clip=None)
    unclipped.fit()

    assert max(clipped.task.gradient_norms) <= 0.5 * (1 + 1e-5)
    assert min(unclipped.task.gradient_norms) > 10.0


def test_non_finite_loss_stops_training_before_a_checkpoint_is_written(tmp_path):
    trainer = tiny.build_trainer(tmp_path, 10, gradient_scale=math.nan)
    with pytest.raises(NonFiniteLossError, match="loss is nan"):
        trainer.fit()
    assert not (tmp_path / "last.pt").exists()


def test_best_checkpoint_keeps_the_lowest_validation_error(tmp_path):
    trainer = tiny.build_trainer(tmp_path, 15, val_every=5, best_metric="mse", best_mode="min")
    trainer.fit()
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["best"]["value"] == best["metrics"]["mse"] == trainer.best["value"]
    assert best["step"] == trainer.best["step"] in (5, 10, 15)


def test_tensorboard_receives_losses_lr_validation_metrics_and_previews(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tiny.build_trainer(tmp_path, 10, val_every=5, preview_every=5, grad_clip=1.0).fit()

    [event_file] = (tmp_path / "tb").glob("events.out.tfevents.*")
    events = EventAccumulator(str(event_file), size_guidance={"images": 0}).Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "train/mse", "train/grad_norm", "val/mse"} <= scalars
    assert [event.step for event in events.Scalars("val/mse")] == [5, 10]
    assert [event.step for event in events.Images("preview/weights")] == [5, 10]


def test_training_step_must_return_a_scalar_loss(tmp_path):
    trainer = tiny.build_trainer(tmp_path, 2)
    trainer.task.training_step = lambda batch, step: (torch.ones(3, requires_grad=True), {})
    with pytest.raises(ValueError, match="scalar loss tensor"):
        trainer.fit()


def test_unwrap_model_reaches_the_plain_module_inside_wrappers():
    model = nn.Linear(2, 2)
    assert unwrap_model(model) is model


# --------------------------------------------------------------------------------- crash and processes


def test_run_killed_mid_training_resumes_from_last_checkpoint_to_max_steps(tmp_path):
    run_dir = tmp_path / "killed"
    command = [sys.executable, str(HELPER), "--run-dir", str(run_dir), "--max-steps", "30", "--step-delay", "0.1"]
    process = subprocess.Popen(command, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180  # starting torch on a loaded machine can take most of a minute
        while not (run_dir / "last.pt").exists():
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close(), process.stderr.close()
    assert process.returncode == -signal.SIGKILL

    resumed = tiny.build_trainer(run_dir, 30)
    resumed.fit()
    straight = tiny.build_trainer(tmp_path / "straight", 30)
    straight.fit()

    assert 5 <= resumed.resume_info.step < 30
    assert load_checkpoint(run_dir / "last.pt")["step"] == resumed.step == 30
    assert not list(run_dir.glob(".*.tmp*"))
    for expected, got in zip(parameters_of(straight), parameters_of(resumed)):
        assert torch.equal(expected, got)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_process_gloo_run_completes_with_one_writer_and_a_loadable_checkpoint(tmp_path):
    # The environment torchrun would give each worker, without its launcher's start-up cost.
    port = str(free_port())
    command = [sys.executable, str(HELPER), "--run-dir", str(tmp_path), "--max-steps", "8", "--distributed"]
    processes = [
        subprocess.Popen(
            command,
            env=subprocess_env(MASTER_ADDR="127.0.0.1", MASTER_PORT=port, RANK=str(rank), LOCAL_RANK=str(rank),
                               WORLD_SIZE="2"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for rank in range(2)
    ]
    outputs = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=90)
            assert process.returncode == 0, stderr.decode()[-3000:]
            outputs.append(json.loads(stdout.decode().strip().splitlines()[-1]))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert [output["rank"] for output in outputs] == [0, 1]
    assert all(output["world_size"] == 2 and output["step"] == 8 for output in outputs)
    assert outputs[0]["metrics"] == outputs[1]["metrics"]  # rank 0 validates and shares the result
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 1
    saved = load_checkpoint(tmp_path / "last.pt", kind="regression")
    assert saved["step"] == 8 and len(saved["rng"]) == 2
    # each rank saw half of every epoch: 40 samples / 2 ranks / batch 8 = 3 batches per epoch (last one short)
    assert saved["epoch"] == 2 and saved["batch_in_epoch"] == 2
    model = nn.Linear(4, 1)
    model.load_state_dict(saved["model"])


def test_adamw_runs_its_fused_kernel_on_a_cpu_and_takes_the_reference_step():
    torch.manual_seed(0)
    weights = [torch.randn(7, 5, requires_grad=True), torch.randn(5, requires_grad=True)]
    reference = [w.detach().clone().requires_grad_() for w in weights]
    fused = make_adamw(weights, 1e-2, (0.9, 0.99), 1e-2, torch.device("cpu"))
    plain = torch.optim.AdamW(reference, lr=1e-2, betas=(0.9, 0.99), weight_decay=1e-2, foreach=False)
    assert fused.param_groups[0]["fused"] is True
    for step in range(3):
        grads = [torch.randn_like(w) for w in weights]
        for params, optimizer in ((weights, fused), (reference, plain)):
            for w, g in zip(params, grads):
                w.grad = g.clone()
            optimizer.step()
    for w, r in zip(weights, reference):
        torch.testing.assert_close(w, r, rtol=1e-6, atol=1e-6)


def test_a_run_resumed_from_a_checkpoint_of_another_optimizer_kernel_keeps_its_own(tmp_path):
    tiny.build_trainer(tmp_path, 4, ckpt_every=100).fit()
    saved = load_checkpoint(tmp_path / "last.pt", kind="regression")
    for group in saved["optimizer"]["param_groups"]:  # as written by a version that ran the for-each kernel
        group["fused"], group["foreach"] = None, None
    save_checkpoint(tmp_path / "last.pt", saved)
    resumed = tiny.build_trainer(tmp_path, 6, ckpt_every=100)
    resumed.fit()
    assert resumed.resume_info.step == 4
    assert all(group["fused"] is True for group in resumed.optimizer.param_groups)


def test_a_second_training_in_the_same_run_folder_stops_and_a_dead_ones_lock_is_taken_over(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / ".lock").write_text(str(other.pid))  # as another live training holds it
        with pytest.raises(CheckpointError, match=f"another training \\(process {other.pid}\\) is writing"):
            tiny.build_trainer(tmp_path, 4).fit()
    finally:
        other.kill()
        other.wait()
    # that process is gone now: its lock is stale, and training takes it over and releases it at the end
    tiny.build_trainer(tmp_path, 4).fit()
    assert not (tmp_path / ".lock").exists()
