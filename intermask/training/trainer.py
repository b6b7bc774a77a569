"""The one training loop shared by the VQ-VAE, the Inter-M transformer and the evaluator.

A task brings its model, its loss and its validation; the Trainer brings everything else: AdamW, the
warm-up + multi-step LR schedule, bf16 autocast, gradient clipping, tqdm progress, tensorboard scalars and
previews, atomic checkpoints with exact resume (weights, optimizer, schedule, RNG and data position), and
multi-process training under torchrun (DDP; only rank 0 writes).

Typical use:

    loader = make_loader(train_set, batch_size=256, shuffle=True, drop_last=True, seed=cfg.seed,
                         distributed=True)
    trainer = Trainer(task, loader, val_loader, run_dir, TrainerSettings(max_steps=..., lr=2e-4, config=plain_cfg))
    metrics = trainer.fit()

Steps are counted in optimizer steps. A task's hooks receive `step`, the 0-based index of the step being
taken; logging, validation, previews and checkpoints happen after the step with completed count
`step + 1`, whenever that count is a multiple of their interval (and always after the last step).
With `time_limit` (seconds) a run stops early, validated and checkpointed, once that much training time has
passed: rerunning it with resume="auto" continues, so a long run can be trained in chunks. With `fit_to_time` as
well, the run is shortened instead to the steps that fit into its time limit at the pace this call measures, and
its LR milestones move with it, so that it ends its schedule (every decay taken) rather than being cut before them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import random
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from intermask.atomic import process_alive
from intermask.precision import autocast_to, resolve_amp, resolve_compile, resolve_device
from intermask.checkpoint import (
    BEST_NAME,
    LAST_NAME,
    CheckpointError,
    config_differences,
    load_checkpoint,
    plain_config,
    remove_stale_temporaries,
    save_checkpoint,
)
from intermask.training.schedule import schedule_multiplier

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- protocol


@runtime_checkable
class Task(Protocol):
    """What a model brings to the Trainer.

    Required:
        kind: str                     "vqvae" | "transformer" | "evaluator"; stored in (and checked against)
                                      checkpoints
        model: nn.Module              what the checkpoint stores and the optimizer trains. While
                                      `training_step` runs, the Trainer temporarily sets `task.model` to the
                                      DDP (and/or compiled) wrapper, so call `self.model(...)` for the
                                      training forward; use `unwrap_model(self.model)` to reach attributes.
        training_step(batch, step) -> (loss, logs)
                                      `batch` is already on the device; `loss` a scalar tensor to minimise;
                                      `logs` {name: float} averaged over the logging window.
        validate(loader) -> {name: float}
                                      called with the model in eval mode under torch.inference_mode; the
                                      loader yields batches already on the device.

    Optional (looked up with getattr):
        parameters() -> Iterable[nn.Parameter]
                                      what the optimizer updates (default: the model's trainable parameters)
        preview(step) -> {name: image (height, width, 3)}
                                      uint8, or float in [0, 1]; written to tensorboard every preview_every
        on_after_step(step)           after the optimizer and scheduler step (gradients still present)
        to(device)                    called instead of `model.to(device)`, to move frozen helpers as well
        extra_state() -> dict         tensors / plain data saved beside the weights, restored on resume by
        load_extra_state(state)
    """

    kind: str
    model: nn.Module

    def training_step(self, batch: Any, step: int) -> tuple[Tensor, Mapping[str, float]]: ...

    def validate(self, loader: Iterable) -> Mapping[str, float]: ...


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain module inside DDP and/or torch.compile wrappers."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):  # torch.compile's OptimizedModule
            model = model._orig_mod
        else:
            return model


def make_adamw(parameters, lr: float, betas: Sequence[float], weight_decay: float,
               device: torch.device) -> torch.optim.AdamW:
    """The optimiser of every training run: AdamW, with its fused kernel on CUDA and on a CPU (one pass over each
    parameter instead of a dozen: 0.04 s instead of 0.20 s per step for the paper-size VQ-VAE on one core)."""
    return torch.optim.AdamW(parameters, lr=lr, betas=tuple(betas), weight_decay=weight_decay,
                             fused=True if device.type in ("cuda", "cpu") else None)


class NonFiniteLossError(ValueError):
    """The training loss became NaN or infinite; raised before a checkpoint could store the broken weights."""


# ------------------------------------------------------------------------------------------- distributed


@dataclasses.dataclass(frozen=True)
class DistributedContext:
    rank: int
    world_size: int
    local_rank: int

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def distributed_context() -> DistributedContext:
    """Rank and world size from an initialised process group, else from torchrun's environment variables."""
    if dist.is_available() and dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    else:
        rank, world_size = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    return DistributedContext(rank, world_size, int(os.environ.get("LOCAL_RANK", rank)))


@dataclasses.dataclass
class RunLock:
    """``run_dir/.lock`` holding this process's id while it trains there: a second training started in the same
    run folder stops instead of writing the same checkpoints. A lock whose process is gone (killed) is taken over."""

    path: Path

    @classmethod
    def acquire(cls, run_dir: Path) -> "RunLock":
        path = Path(run_dir) / ".lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                with open(path, "x") as file:
                    file.write(str(os.getpid()))
                return cls(path)
            except FileExistsError:
                text = path.read_text().strip() if path.is_file() else ""
                owner = int(text) if text.isdigit() else None
                if owner is not None and owner != os.getpid() and process_alive(owner):
                    raise CheckpointError(f"{run_dir}: another training (process {owner}) is writing this run "
                                          f"folder; wait for it to finish, or train into another hydra.run.dir")
                logger.info("taking over %s, left by process %s, which is gone", path, text or "?")
                path.unlink(missing_ok=True)

    def release(self) -> None:
        self.path.unlink(missing_ok=True)


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators (CUDA included)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ------------------------------------------------------------------------------------------------ data


class EpochSampler(Sampler[int]):
    """One rank's share of dataset indices, in an order fixed by (seed, epoch) alone.

    Because the order depends on nothing else, a resumed run sees the same order, and `set_epoch(epoch,
    start)` skips the samples a checkpoint had already consumed without loading them. With several ranks the
    order is padded by wrapping around, so that every rank takes the same number of steps per epoch.
    """

    def __init__(self, dataset_size: int, shuffle: bool = True, seed: int = 0, rank: int = 0, world_size: int = 1):
        if dataset_size < 1:
            raise ValueError(f"EpochSampler needs a non-empty dataset, got size {dataset_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world of size {world_size}")
        self.dataset_size = dataset_size
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.per_rank = math.ceil(dataset_size / world_size)
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch's order; the next iteration begins after the first `start` indices of this rank."""
        if not 0 <= start <= self.per_rank:
            raise ValueError(f"start {start} outside 0..{self.per_rank} (samples per rank)")
        self.epoch = epoch
        self.start = start

    def indices(self) -> list[int]:
        """This rank's whole order for the current epoch, skipped samples included."""
        if self.shuffle:
            # Mix seed and epoch so that (seed, epoch + 1) and (seed + 1, epoch) give unrelated orders.
            mixed = int(np.random.SeedSequence([self.seed, self.epoch]).generate_state(1, dtype=np.uint64)[0])
            generator = torch.Generator().manual_seed(mixed % 2**63)
            order = torch.randperm(self.dataset_size, generator=generator).tolist()
        else:
            order = list(range(self.dataset_size))
        total = self.per_rank * self.world_size
        padded = (order * math.ceil(total / self.dataset_size))[:total]
        return padded[self.rank : total : self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices()[self.start :])

    def __len__(self) -> int:
        return self.per_rank - self.start


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool = True,
    drop_last: bool = False,
    num_workers: int = 0,
    seed: int = 0,
    distributed: bool = False,
    collate_fn=None,
) -> DataLoader:
    """A DataLoader whose order the Trainer can resume exactly: an `EpochSampler` (sharded per rank when
    `distributed`), a seeded generator for worker seeds, pinned memory on CUDA, persistent workers."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {num_workers}")
    context = distributed_context() if distributed else DistributedContext(0, 1, 0)
    sampler = EpochSampler(len(dataset), shuffle, seed, context.rank, context.world_size)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=num_workers,
        collate_fn=collate_fn,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=num_workers > 0,
        generator=torch.Generator().manual_seed(seed + context.rank),
    )


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Tensors inside dicts, lists, tuples, named tuples and dataclasses moved to `device`; the rest kept."""
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {key: move_to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(move_to_device(value, device) for value in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to_device(value, device) for value in batch)
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        fields = {field.name: getattr(batch, field.name) for field in dataclasses.fields(batch) if field.init}
        return dataclasses.replace(batch, **{name: move_to_device(value, device) for name, value in fields.items()})
    return batch


class _DeviceLoader:
    """Iterates a loader, handing out batches already moved to the device."""

    def __init__(self, loader: Iterable, device: torch.device):
        self.loader = loader
        self.device = device

    def __iter__(self) -> Iterator:
        for batch in self.loader:
            yield move_to_device(batch, self.device)

    def __len__(self) -> int:
        return len(self.loader)


# ------------------------------------------------------------------------------------------------- rng


def capture_rng_state(device: torch.device | None = None) -> dict:
    """Python, numpy, torch (and the device's CUDA) generator states as lists and tensors (weights-only safe)."""
    version, internal, gauss_next = random.getstate()
    algorithm, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    cuda = None
    if device is not None and device.type == "cuda":
        cuda = torch.cuda.get_rng_state(device)
    return {
        "python": [version, list(internal), gauss_next],
        "numpy": {
            "algorithm": algorithm,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
        "cuda": cuda,
    }


def restore_rng_state(state: Mapping, device: torch.device | None = None) -> None:
    """Inverse of `capture_rng_state`."""
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["algorithm"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") is not None and device is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


# ---------------------------------------------------------------------------------------------- trainer


@dataclasses.dataclass(frozen=True)
class ResumeInfo:
    """Where a run continued from, and which config keys differ from the checkpoint's (dotted paths)."""

    path: Path
    step: int
    epoch: int
    batch_in_epoch: int
    config_changes: tuple[str, ...]


class _Window:
    """Sums of losses and task logs since the last log line; tensors are kept unsynced until read."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sums: dict[str, Any] = {}
        self.steps = 0
        self.started = time.perf_counter()

    def add(self, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            if isinstance(value, Tensor):
                value = value.detach().float()
            self.sums[name] = self.sums.get(name, 0.0) + value
        self.steps += 1

    def means(self) -> dict[str, float]:
        return {name: float(total) / self.steps for name, total in self.sums.items()}


DISTRIBUTED_TIME_CHECK_EVERY = 10  # steps between the time-limit checks that every rank must join
FIT_EVERY = 50  # steps between fit_to_time's estimates when nothing is logged
FIT_MIN_STEPS = 20  # steps of this call's pace measured before fit_to_time shortens a run
FIT_MARGIN = 0.98  # the share of the time left that fit_to_time plans steps for
FIT_WARN_SHARE = 0.5  # a first fit that keeps less of the schedule than this is logged as a warning


@dataclasses.dataclass(frozen=True)
class TrainerSettings:
    """How the Trainer trains: the run's length, optimiser, schedule, precision, intervals and bookkeeping.

    max_steps: optimizer steps of the whole run (a resumed run counts from the checkpoint's step).
    lr, betas, weight_decay: AdamW.
    warmup_steps, milestones, gamma, decay: LR schedule (see `schedule.lr_lambda`); a "linear" or "cosine" decay
        ends at the run's last step.
    grad_clip: maximum global gradient norm, None for no clipping.
    log_every, val_every, ckpt_every, preview_every: intervals in steps; None or 0 disables the periodic action
        (validation and the checkpoint still happen after the last step).
    amp: "auto" (bf16 autocast on CUDA when supported, fp32 otherwise), "bf16" or "off".
    compile: wrap the training forward in torch.compile: True, False or "auto" (on for CUDA).
    device: "auto" (cuda:LOCAL_RANK when CUDA is available, else cpu) or a torch device.
    resume: "auto" continues from run_dir/last.pt when it exists, "never" starts fresh, a path resumes from that
        checkpoint.
    config: the run's resolved config (plain data or OmegaConf), stored in every checkpoint.
    seed: seeds python/numpy/torch (plus the rank) at the start of a fresh run.
    progress: show a tqdm bar on rank 0.
    best_metric, best_mode: keep `best.pt` for the best value ("min" or "max") of this validation metric.
    find_unused_parameters: forwarded to DDP, for models whose forward skips some trainable parameters.
    time_limit: seconds of training after which `fit` stops at a step boundary, as if that step were the last
        (validation, checkpoint); None trains to `max_steps`. `Trainer.stopped_early` says it happened.
    fit_to_time: with `time_limit`, shorten the run to the steps that fit into the time limit at the pace measured in
        this call, re-estimated at every log interval (a faster pace lengthens it again, up to `max_steps`, until
        its first decay), with its milestones scaled to the new length; the checkpoint keeps that length, so a
        resumed run ends where the shortened schedule does.
    """

    max_steps: int
    lr: float = 2e-4
    betas: Sequence[float] = (0.9, 0.99)
    weight_decay: float = 0.0
    warmup_steps: int = 0
    milestones: Sequence[int] = ()
    gamma: float = 0.1
    decay: str = "step"
    grad_clip: float | None = None
    log_every: int | None = 50
    val_every: int | None = 1000
    ckpt_every: int | None = 1000
    preview_every: int | None = None
    amp: str | bool = "auto"
    compile: bool | str = False
    device: str | torch.device = "auto"
    resume: str | os.PathLike = "auto"
    config: Any = None
    seed: int = 0
    progress: bool = True
    best_metric: str | None = None
    best_mode: str = "min"
    find_unused_parameters: bool = False
    time_limit: float | None = None
    fit_to_time: bool = False

    def __post_init__(self):
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be > 0 or None, got {self.grad_clip}")
        for name in ("log_every", "val_every", "ckpt_every", "preview_every"):
            every = getattr(self, name)
            if every is not None and every < 0:
                raise ValueError(f"{name} must be >= 0 or None, got {every}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time_limit must be > 0 seconds or None, got {self.time_limit}")
        if self.fit_to_time and self.time_limit is None:
            raise ValueError("fit_to_time shortens a run to its time limit, but time_limit is None")
        if self.best_mode not in ("min", "max"):
            raise ValueError(f"best_mode must be 'min' or 'max', got {self.best_mode!r}")


class Trainer:
    """Trains `task.model` for `settings.max_steps` optimizer steps; see the module docstring.

    Args:
        task: implements `Task`.
        train_loader: iterated as epochs; `set_epoch` on its sampler (or batch sampler) is called each epoch.
        val_loader: passed to `task.validate` every `val_every` steps and after the last; None skips it.
        run_dir: receives `last.pt`, `best.pt` and tensorboard events under `tb/`.
        settings: everything else (`TrainerSettings`).
    """

    def __init__(self, task: Task, train_loader: Iterable, val_loader: Iterable | None, run_dir: str | os.PathLike,
                 settings: TrainerSettings):
        _check_task(task)
        self.settings = settings
        self.task = task
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.run_dir = Path(run_dir)
        self.max_steps = int(settings.max_steps)
        self.grad_clip = settings.grad_clip
        self.log_every = settings.log_every or 0
        self.val_every = settings.val_every or 0
        self.ckpt_every = settings.ckpt_every or 0
        self.preview_every = settings.preview_every or 0
        self.resume = settings.resume
        self.config = plain_config(settings.config)
        self.seed = settings.seed
        self.progress = settings.progress
        self.best_metric = settings.best_metric
        self.best_mode = settings.best_mode
        self.find_unused_parameters = settings.find_unused_parameters
        self.time_limit = settings.time_limit
        self.stopped_early = False
        self._deadline: float | None = None
        self.planned_steps = self.max_steps  # the length the milestones were given for; max_steps may shrink
        self._pace_from: tuple[float, int] | None = None  # (clock, step) where this call's pace is measured from

        self.context = distributed_context()
        self.device = _resolve_device(settings.device, self.context)
        self.amp_dtype = resolve_amp(settings.amp, self.device)
        self.compile = resolve_compile(settings.compile, self.device)
        self.model: nn.Module = task.model  # the plain module, what checkpoints store
        _move_task(task, self.device)

        self.parameters = _trainable_parameters(task)
        self.optimizer = make_adamw(self.parameters, settings.lr, settings.betas, settings.weight_decay, self.device)
        self.scheduler = LambdaLR(self.optimizer, self._multiplier())

        self.step = 0  # optimizer steps completed
        self.epoch = 0
        self.batch_in_epoch = 0  # batches of `epoch` already consumed
        self.metrics: dict[str, float] = {}
        self.metrics_step: int | None = None
        self.best: dict | None = None
        self.resume_info: ResumeInfo | None = None
        self._pending_rng: Mapping | None = None
        self._writer = None
        self._owns_process_group = False

    # --------------------------------------------------------------------------------------------- fit

    def fit(self) -> dict[str, float]:
        """Train until `max_steps`; returns the last validation metrics ({} without a val_loader)."""
        lock = None
        try:
            self._init_process_group()
            if self.context.is_main:
                lock = RunLock.acquire(self.run_dir)
            training_module = self._training_module()
            if not self._resume_from_checkpoint():
                seed_everything(self.seed + self.context.rank)
            if self.context.is_main:
                for name in (LAST_NAME, BEST_NAME):
                    for stale in remove_stale_temporaries(self.run_dir, name):
                        logger.info("removed %s, left by an interrupted checkpoint write", stale)
                self._open_writer()
            self._train(training_module)
            if self.val_loader is not None and self.metrics_step != self.step:
                self._validate()
            return dict(self.metrics)
        finally:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            if self._owns_process_group:
                dist.destroy_process_group()
                self._owns_process_group = False
            if lock is not None:
                lock.release()

    def _train(self, training_module: nn.Module) -> None:
        self.model.train()
        self.stopped_early = False
        self._deadline = None if self.time_limit is None else time.monotonic() + self.time_limit
        self._pace_from = None
        window = _Window()
        bar = tqdm(
            total=self.max_steps, initial=min(self.step, self.max_steps), unit="step", dynamic_ncols=True,
            desc=self.task.kind, disable=not (self.progress and self.context.is_main),
        )
        try:
            while self.step < self.max_steps and not self.stopped_early:
                fresh_epoch = self.batch_in_epoch == 0
                for batch in self._epoch_batches():
                    window.add(self._train_step(batch, training_module))
                    self.step += 1
                    self.batch_in_epoch += 1
                    bar.update(1)
                    self._after_step(window, bar)
                    if self.step >= self.max_steps or self.stopped_early:
                        break
                else:
                    if fresh_epoch and self.batch_in_epoch == 0:
                        raise ValueError(f"train_loader yielded no batches in epoch {self.epoch}")
                    self.epoch += 1
                    self.batch_in_epoch = 0
        finally:
            bar.close()

    def _epoch_batches(self) -> Iterator:
        """The current epoch's batches from position `batch_in_epoch` on (restoring RNG after the skip)."""
        loader = self.train_loader
        sampler = getattr(loader, "sampler", None)
        skip = self.batch_in_epoch
        skips_indices = isinstance(sampler, EpochSampler) and getattr(loader, "batch_size", None) is not None
        if skips_indices:
            # Batches are consecutive runs of the sampler's indices, so skipping indices skips whole batches.
            sampler.set_epoch(self.epoch, start=min(skip * loader.batch_size, sampler.per_rank))
        else:
            for epoch_aware in (sampler, getattr(loader, "batch_sampler", None)):
                if hasattr(epoch_aware, "set_epoch"):
                    epoch_aware.set_epoch(self.epoch)
        batches = iter(loader)
        if not skips_indices:
            for _ in range(skip):
                if next(batches, None) is None:
                    break
        if self._pending_rng is not None:
            # Restored only now: creating the iterator and skipping may draw random numbers that the
            # uninterrupted run drew before its checkpoint.
            restore_rng_state(self._pending_rng, self.device)
            self._pending_rng = None
        return batches

    def _train_step(self, batch: Any, training_module: nn.Module) -> dict[str, Any]:
        batch = move_to_device(batch, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        with self._task_model(training_module), self._autocast():
            loss, logs = self.task.training_step(batch, self.step)
        if not isinstance(loss, Tensor) or loss.dim() != 0:
            raise ValueError(
                f"{type(self.task).__name__}.training_step must return a scalar loss tensor, "
                f"got {type(loss).__name__} of shape {tuple(getattr(loss, 'shape', ()))}"
            )
        loss.backward()
        # the total loss and lr under their own names, even if the task logs a part of its loss as "loss"
        values = {**dict(logs), "loss": loss.detach(), "lr": self.optimizer.param_groups[0]["lr"]}
        if self.grad_clip is not None:
            values["grad_norm"] = torch.nn.utils.clip_grad_norm_(self.parameters, self.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        on_after_step = getattr(self.task, "on_after_step", None)
        if on_after_step is not None:
            on_after_step(self.step)
        return values

    def _after_step(self, window: _Window, bar) -> None:
        if self.settings.fit_to_time and _due(self.step, self.log_every or FIT_EVERY):
            self._fit_to_time(bar)
        if self.step < self.max_steps and self._out_of_time():
            self.stopped_early = True
            logger.info("time limit of %.0f s reached at step %d of %d: checkpointing; rerun with resume=auto "
                        "to continue", self.time_limit, self.step, self.max_steps)
        last = self.step >= self.max_steps or self.stopped_early
        log = last or _due(self.step, self.log_every)
        validate = self.val_loader is not None and (last or _due(self.step, self.val_every))
        preview = _due(self.step, self.preview_every) and getattr(self.task, "preview", None) is not None
        checkpoint = last or _due(self.step, self.ckpt_every)
        if log or validate or checkpoint:
            self._log_window(window, bar)
        if validate:
            self._validate()
        if preview:
            self._preview()
        if checkpoint:
            self._save(LAST_NAME)

    def _fit_to_time(self, bar) -> None:
        """Shorten the run to the steps its time limit still holds at this call's pace (``fit_to_time``).

        The pace is measured from the first check of this call on (the first steps pay for warming up), over whole
        log intervals, validations and checkpoints included; rank 0's clock decides under DDP."""
        now = time.monotonic()
        if self._pace_from is None:
            self._pace_from = (now, self.step)
            return
        started, first = self._pace_from
        steps = self.step - first
        reachable, pace = self.max_steps, None
        if self.context.is_main and steps >= FIT_MIN_STEPS:
            pace = (now - started) / steps
            reachable = self.step + int(max(self._deadline - now, 0.0) * FIT_MARGIN / pace)
        reachable = min(int(self._broadcast(reachable)), self.planned_steps)
        # a faster pace lengthens the run again, but only before its first decay: a decay taken stays taken
        before_decay = self.step < self._first_decay()
        if reachable < self.max_steps or (reachable > self.max_steps and before_decay):
            self._refit(max(reachable, self.step), pace)
            bar.total = self.max_steps
            bar.refresh()

    def _first_decay(self) -> int:
        """The step where the learning rate first falls: the first milestone, or the warm-up's end for a smooth
        decay."""
        if self.settings.decay != "step":
            return self.settings.warmup_steps
        return next(iter(self._milestones()), self.max_steps)

    def _milestones(self) -> tuple[int, ...]:
        """The milestones of the run as it is now planned: the settings' scaled from ``planned_steps`` to
        ``max_steps``."""
        return tuple(round(m * self.max_steps / self.planned_steps) for m in self.settings.milestones)

    def _multiplier(self):
        """The learning rate's multiplier by step for the run as it is now planned."""
        return schedule_multiplier(self.settings.warmup_steps, self._milestones(), self.settings.gamma,
                                   self.settings.decay, self.max_steps)

    def _refit(self, total: int, pace: float | None = None) -> None:
        """Run ``total`` steps in all: the milestones scaled from ``planned_steps`` to it, the warm-up kept, and the
        learning rate of the next step set by the new schedule. ``pace`` (seconds a step, where measured) tells the
        first fit's message what the whole schedule would take."""
        if total == self.max_steps:
            return
        if self.max_steps == self.planned_steps:  # the first fit: say what it costs, loudly when most is cut
            share, whole = total / self.planned_steps, ""
            if pace:
                seconds = self.planned_steps * pace
                took = f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
                whole = f"; at {pace:.3g} s a step all {self.planned_steps} would take about {took}"
            logger.log(logging.WARNING if share < FIT_WARN_SHARE else logging.INFO,
                       "fitting the run to its time limit: %d steps instead of %d (%.0f%% of its schedule%s; "
                       "its learning-rate decay moved with it)", total, self.max_steps, 100 * share, whole)
        else:
            logger.debug("fitting the run to its time limit: %d steps instead of %d", total, self.max_steps)
        self.max_steps = total
        multiplier = self._multiplier()
        self.scheduler.lr_lambdas = [multiplier] * len(self.optimizer.param_groups)
        for group, base in zip(self.optimizer.param_groups, self.scheduler.base_lrs):
            group["lr"] = base * multiplier(self.step)
        self.scheduler._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _out_of_time(self) -> bool:
        """Whether the time limit has passed; under DDP rank 0's clock decides, checked every few steps."""
        if self._deadline is None:
            return False
        if not self.context.is_distributed:
            return time.monotonic() >= self._deadline
        if self.step % DISTRIBUTED_TIME_CHECK_EVERY:
            return False
        return bool(self._broadcast(time.monotonic() >= self._deadline))

    # ----------------------------------------------------------------------------------------- logging

    def _log_window(self, window: _Window, bar) -> None:
        if window.steps == 0:
            return
        means = window.means()
        if not math.isfinite(means["loss"]):
            raise NonFiniteLossError(
                f"training loss is {means['loss']} (mean of steps {self.step - window.steps + 1}..{self.step}); "
                f"stopped before overwriting {self.run_dir / LAST_NAME}"
            )
        steps_per_second = window.steps / max(time.perf_counter() - window.started, 1e-9)
        window.reset()
        bar.set_postfix(loss=f"{means['loss']:.4g}", lr=f"{means['lr']:.3g}", refresh=False)
        if self._writer is not None:
            for name, value in means.items():
                self._writer.add_scalar(f"train/{name}", value, self.step)
            self._writer.add_scalar("train/steps_per_second", steps_per_second, self.step)

    def _open_writer(self) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # After a crash, events newer than the checkpoint describe steps that are about to be redone.
        purge_step = self.step + 1 if self.resume_info is not None else None
        self._writer = SummaryWriter(log_dir=str(self.run_dir / "tb"), purge_step=purge_step)
        if self.config and self.resume_info is None:
            self._writer.add_text("config", "```\n" + json.dumps(self.config, indent=2) + "\n```", 0)

    # -------------------------------------------------------------------------------- validate/preview

    def _validate(self) -> None:
        metrics: dict[str, float] = {}
        if self.context.is_main:
            with self._evaluating():
                raw = self.task.validate(_DeviceLoader(self.val_loader, self.device))
            metrics = _float_metrics(raw, f"{type(self.task).__name__}.validate")
            if self._writer is not None:
                for name, value in metrics.items():
                    self._writer.add_scalar(f"val/{name}", value, self.step)
        metrics = self._broadcast(metrics)
        self.metrics, self.metrics_step = metrics, self.step
        if self.best_metric is not None and self._improves_best(metrics):
            self.best = {"name": self.best_metric, "mode": self.best_mode,
                         "value": metrics[self.best_metric], "step": self.step}
            self._save(BEST_NAME)

    def _improves_best(self, metrics: Mapping[str, float]) -> bool:
        if self.best_metric not in metrics:
            raise ValueError(
                f"best_metric {self.best_metric!r} is not among the validation metrics {sorted(metrics)}"
            )
        value = metrics[self.best_metric]
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        return value < self.best["value"] if self.best_mode == "min" else value > self.best["value"]

    def _preview(self) -> None:
        if not self.context.is_main or self._writer is None:
            return
        with self._evaluating():
            images = self.task.preview(self.step)
        for name, image in (images or {}).items():
            image = np.asarray(image)
            if image.ndim != 3 or image.shape[-1] != 3:
                raise ValueError(f"preview image {name!r} must be (height, width, 3), got shape {image.shape}")
            self._writer.add_image(f"preview/{name}", image, self.step, dataformats="HWC")

    @contextmanager
    def _evaluating(self):
        self.model.eval()
        try:
            with torch.inference_mode(), self._autocast():
                yield
        finally:
            self.model.train()

    # ------------------------------------------------------------------------------------- checkpoints

    def _save(self, name: str) -> None:
        rng = self._gather(capture_rng_state(self.device))  # collective: every rank takes part
        if self.context.is_main:
            extra_state = getattr(self.task, "extra_state", None)
            payload = {
                "kind": self.task.kind,
                "model": self.model.state_dict(),
                "config": self.config,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "step": self.step,
                "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch,
                "rng": rng,
                "metrics": dict(self.metrics),
                "metrics_step": self.metrics_step,
                "best": self.best,
                "fitted_steps": self.max_steps if self.max_steps < self.planned_steps else None,
                "extra": extra_state() if extra_state is not None else None,
            }
            save_checkpoint(self.run_dir / name, payload)
        self._barrier()

    def _with_this_runs_kernels(self, state: dict) -> dict:
        """An optimizer state dict whose groups keep this run's kernel choice (fused, foreach): loading restores
        the saved groups' settings, so a checkpoint written on another device or by an older version would
        otherwise bring its kernel along."""
        groups = [{**saved, "fused": mine.get("fused"), "foreach": mine.get("foreach")}
                  for saved, mine in zip(state["param_groups"], self.optimizer.param_groups)]
        return {**state, "param_groups": groups}

    def _resume_from_checkpoint(self) -> bool:
        path = self._resume_path()
        if path is None:
            return False
        checkpoint = load_checkpoint(path, map_location=self.device, kind=self.task.kind)
        try:
            self.model.load_state_dict(checkpoint["model"])
        except RuntimeError as error:
            raise CheckpointError(f"{path}: its weights do not fit this model: {str(error).strip()}") from error
        if checkpoint.get("optimizer") is None or checkpoint.get("scheduler") is None:
            raise CheckpointError(f"{path}: holds no optimizer/scheduler state, so training cannot resume from it")
        self.optimizer.load_state_dict(self._with_this_runs_kernels(checkpoint["optimizer"]))
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.step = int(checkpoint["step"])
        self.epoch = int(checkpoint.get("epoch", 0))
        self.batch_in_epoch = int(checkpoint.get("batch_in_epoch", 0))
        self.metrics = dict(checkpoint.get("metrics") or {})
        self.metrics_step = checkpoint.get("metrics_step")
        self.best = checkpoint.get("best")
        fitted = checkpoint.get("fitted_steps")
        if fitted is not None and self.settings.fit_to_time:
            # a run already fitted to an earlier call's time limit keeps its length
            self._refit(min(int(fitted), self.max_steps))
        if checkpoint.get("extra") is not None and hasattr(self.task, "load_extra_state"):
            self.task.load_extra_state(checkpoint["extra"])
        self._pending_rng = self._rng_for_this_rank(checkpoint.get("rng"), path)

        changes = tuple(config_differences(checkpoint["config"], self.config))
        model_changes = [key for key in changes if key == "model" or key.startswith("model.")]
        if model_changes:
            logger.warning("%s: model config differs from this run's at %s", path, ", ".join(model_changes))
        elif changes:
            logger.info("%s: config differs from this run's at %s", path, ", ".join(changes))
        if self.step >= self.max_steps:
            logger.info("%s is already at step %d >= max_steps %d", path, self.step, self.max_steps)
        logger.info("resuming from %s at step %d (epoch %d, batch %d)", path, self.step, self.epoch,
                    self.batch_in_epoch)
        self.resume_info = ResumeInfo(Path(path), self.step, self.epoch, self.batch_in_epoch, changes)
        return True

    def _resume_path(self) -> Path | None:
        if isinstance(self.resume, str) and self.resume == "never":
            return None
        if isinstance(self.resume, str) and self.resume == "auto":
            last = self.run_dir / LAST_NAME
            return last if last.exists() else None
        return Path(self.resume)  # load_checkpoint reports a missing file by name

    def _rng_for_this_rank(self, states: Any, path: Path) -> Mapping | None:
        if not states:
            return None
        if self.context.rank < len(states):
            return states[self.context.rank]
        logger.warning("%s holds RNG states for %d ranks; rank %d reseeds", path, len(states), self.context.rank)
        seed_everything(self.seed + self.context.rank + self.step)
        return None

    # ------------------------------------------------------------------------------------- distributed

    def _init_process_group(self) -> None:
        if not self.context.is_distributed or dist.is_initialized():
            return
        backend = "nccl" if self.device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        self._owns_process_group = True

    def _training_module(self) -> nn.Module:
        module = self.model
        if self.context.is_distributed:
            module = nn.parallel.DistributedDataParallel(
                module,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=self.find_unused_parameters,
            )
        if self.compile:
            module = torch.compile(module)
        return module

    @contextmanager
    def _task_model(self, module: nn.Module):
        """Let the task's training forward run through the DDP/compiled wrapper; restore the plain model after."""
        if module is self.model:
            yield
            return
        self.task.model = module
        try:
            yield
        finally:
            self.task.model = self.model

    def _autocast(self):
        return autocast_to(self.amp_dtype, self.device)

    def _gather(self, value: Any) -> list:
        if not self.context.is_distributed:
            return [value]
        gathered: list = [None] * self.context.world_size
        dist.all_gather_object(gathered, value)
        return gathered

    def _broadcast(self, value: Any) -> Any:
        if not self.context.is_distributed:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def _barrier(self) -> None:
        if self.context.is_distributed:
            dist.barrier()


# --------------------------------------------------------------------------------------------- helpers


def _due(step: int, every: int) -> bool:
    return every > 0 and step % every == 0


def _check_task(task: Any) -> None:
    missing = [name for name in ("kind", "model", "training_step", "validate") if not hasattr(task, name)]
    if missing:
        raise ValueError(f"{type(task).__name__} is not a training task: it lacks {missing}")
    if not isinstance(task.model, nn.Module):
        raise ValueError(f"{type(task).__name__}.model must be an nn.Module, got {type(task.model).__name__}")
    if not isinstance(task.kind, str) or not task.kind:
        raise ValueError(f"{type(task).__name__}.kind must be a non-empty string, got {task.kind!r}")


def _resolve_device(device: str | torch.device, context: DistributedContext) -> torch.device:
    if isinstance(device, str) and device == "auto":
        device = f"cuda:{context.local_rank}" if torch.cuda.is_available() else "cpu"
    device = resolve_device(device)
    if device.type == "cuda":
        if device.index is None:
            device = torch.device("cuda", context.local_rank if context.is_distributed else 0)
        torch.cuda.set_device(device)
    return device


def _move_task(task: Task, device: torch.device) -> None:
    mover = getattr(task, "to", None)
    if callable(mover):
        mover(device)
    else:
        task.model.to(device)


def _trainable_parameters(task: Task) -> list[nn.Parameter]:
    chooser = getattr(task, "parameters", None)
    chosen = chooser() if callable(chooser) else task.model.parameters()
    parameters = [parameter for parameter in chosen if parameter.requires_grad]
    if not parameters:
        raise ValueError(f"{type(task).__name__} has no trainable parameters")
    return parameters


def _float_metrics(metrics: Any, where: str) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise ValueError(f"{where} must return a dict of floats, got {type(metrics).__name__}")
    return {str(name): float(value) for name, value in metrics.items()}
