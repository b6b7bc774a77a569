"""Benchmark the paper-size models on one device: training steps, sampling, data loading, the token cache build.

Usage:
    python scripts/bench.py [--device auto|cpu|cuda] [--which vqvae,transformer,sampling,loader,tokenize]
                            [--size paper|tiny] [--steps N] [--warmup N] [--batch-size N] [--bf16]
                            [--json OUT] [--reference DIR] [more flags: --help]

What is measured (``--which`` picks sections; all by default):
  vqvae        one VQ-VAE training step on (batch, window=64, 262) windows: forward, the weighted VQ losses,
               backward, gradient clipping, AdamW. Median step time over --steps after --warmup, samples/s,
               and the achieved TFLOP/s (and MFU) from FLOPs counted by FlopCounterMode (``vq_step_flops``).
  transformer  one Inter-M training step on token maps (batch, 2, 5, 75), full length or (--lengths dataset)
               each sample as long as a random training clip, padded to 75 steps: masking, BERT
               corruption, forward, step-unroll forward, both cross-entropies, backward, AdamW. Also the achieved
               TFLOP/s from an analytic FLOP count (``transformer_step_flops``) and, on a CUDA device of known
               peak (or --peak-tflops), the MFU.
  sampling     10-second two-person clips (300 frames, 75 token steps; --lengths dataset: clips as long as random
               training clips): 20 decoding steps with CFG 2, then the VQ decoder for both persons. Latency at
               batch 1, clips/s at --sample-batch-size (64).
  loader       DataLoader steps/s over real data (VQ windows; two-person interaction crops) against the same
               loader over an in-memory tensor of the same shape: the ratio is what reading and feature
               computation cost. The data is data/synthetic when it holds a dataset (or --data DIR), else a
               small synthetic dataset (--clips) generated in a temporary folder.
  tokenize     the transformer's token cache build (``encode_split``) over --tokenize-clips training clips.
Peak memory: CUDA's max_memory_allocated above the starting allocation; on CPU the rise of the resident set's
high-water mark (VmHWM, reset through /proc/self/clear_refs). Text encoding is left out everywhere: models get
a (batch, 768) text feature, as the transformer does during training from its feature cache. Times are
synchronised wall clock; on CPU the table adds the process CPU time, steadier on a shared machine (use
--threads 1 there: with more threads than free cores, waiting threads dominate).

Sizes come from configs/model/*/paper.yaml and configs/train/*.yaml (``--size tiny``: configs/experiment/
tiny.yaml). The paper's batch sizes (VQ 256, transformer 52) are the defaults on CUDA; on CPU the defaults are
small (8, 4, sampling 2) and --steps 3 --warmup 1, so a plain run finishes. The JSON (--json) holds the device
name, torch version, the resolved configuration and every number of the table.

--reference DIR times the published implementation (a checkout of gohar-malik/InterMask) on the same inputs
in the same run, alternating its calls with ours, and prints official time / ours (above 1: ours is faster).
It needs packages the project does not use, so run it from a throw-away environment (scripts/bench_reference.py):
    python3 -m venv /tmp/bench_venv && /tmp/bench_venv/bin/pip install torch==2.13.0 torch_geometric \\
        positional-encodings einops numpy tqdm scipy omegaconf && /tmp/bench_venv/bin/pip install -e . --no-deps
    /tmp/bench_venv/bin/python scripts/bench.py --device cpu --threads 1 --reference /tmp/official_intermask \\
        --which vqvae,transformer,sampling --steps 5 --warmup 1 --vq-batch-size 4 --transformer-batch-size 2 \\
        --sample-batch-size 2 --sample-repeats 3

Switches for before/after measurements of our side (the official code always runs as published): --compile
(torch.compile of the training forward and of the decoding network, as ``train.compile`` / ``generation.compile``
do on CUDA by default), --cudnn-benchmark (cuDNN autotuning), --short-attention-keys N (plain-product attention up
to N keys; 0 sends every attention call to fused SDPA, except training on a CPU, where dropout takes the plain
path at any length), --length-groups N (1: a batch of mixed lengths runs as one group cut to its longest sample,
as before length groups), --channels-last (our VQ-VAE's convolutions in the channels-last layout, cuDNN's own for
bf16; not the default anywhere until measured: on this project's CPU it was slower). --profile DIR also writes a
torch.profiler table of our calls of each timed section (operators by device time).

Examples:
    python scripts/bench.py --device cuda --bf16 --compile --json bench_h100.json
    python scripts/bench.py --device cpu --threads 1 --which transformer --lengths dataset --transformer-batch-size 8
    python scripts/bench.py --size tiny --device cpu --which loader,tokenize
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import Dataset

from intermask.data.source import DataSource
from intermask.generation import generate
from intermask.models import attention
from intermask.models.transformer import InterMTransformer, LengthPlan
from intermask.models.losses import VQLossWeights, vq_total_loss
from intermask.models.masking import transformer_training_loss
from intermask.generation.interaction_model import InterMask
from intermask.models.text import FrozenTextBackbone, TextEncoder
from intermask.models.vqvae import MotionVQVAE
from intermask.motion.layout import INTERHUMAN
from intermask.precision import autocast
from intermask.training.trainer import make_adamw

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
SECTIONS = ("vqvae", "transformer", "sampling", "loader", "tokenize")
MB = 2 ** 20

# dense peak TFLOP/s (bf16 tensor cores, fp32 without TF32) by a substring of the CUDA device name, first match wins
PEAK_TFLOPS = (
    ("H200", {"bf16": 989.4, "fp32": 66.9}),
    ("H100 PCIe", {"bf16": 756.0, "fp32": 51.2}),
    ("H100 NVL", {"bf16": 835.0, "fp32": 60.0}),
    ("H100", {"bf16": 989.4, "fp32": 66.9}),
    ("A100", {"bf16": 312.0, "fp32": 19.5}),
    ("L40S", {"bf16": 362.1, "fp32": 91.6}),
    ("L4", {"bf16": 121.0, "fp32": 30.3}),
)
CPU_DEFAULTS = {"vq_batch_size": 8, "transformer_batch_size": 4, "sample_batch_size": 2, "steps": 3, "warmup": 1}
CUDA_DEFAULTS = {"sample_batch_size": 64, "steps": 10, "warmup": 2}


# ---- configuration ------------------------------------------------------------------------------------------


@dataclass
class BenchConfig:
    """Everything one run measures with, resolved from the configs and the flags (stored in the JSON)."""

    size: str
    vq: dict  # MotionVQVAE kwargs
    transformer: dict  # InterMTransformer kwargs
    text_encoder: dict  # the text encoder's config (layers, heads, ff_dim, dropout): built, never run
    vq_train: dict  # lr, betas, weight_decay, grad_clip
    transformer_train: dict
    vq_batch_size: int
    transformer_batch_size: int
    sample_batch_size: int
    window: int  # VQ training window, frames
    frames: int  # clip length of transformer training, sampling and the token cache
    sample_steps: int
    sample_repeats: int  # timed sampling calls
    cond_scale: float
    steps: int
    warmup: int
    bf16: bool
    compile: bool  # torch.compile our training forward and our decoding network
    cudnn_benchmark: bool  # let cuDNN time its convolution algorithms for our models
    channels_last: bool  # our VQ-VAE's weights (hence its convolutions' activations) in the channels-last layout
    profile: str | None  # folder for torch.profiler tables of our calls
    short_attention_keys: int  # our attention's plain-product path up to this many keys (0: SDPA but CPU dropout)
    workers: int
    clips: int
    tokenize_clips: int
    notes: list[str] = field(default_factory=list)
    # --lengths dataset: valid token steps of every training clip, drawn from for each sample (else: full length)
    length_pool: list[int] = field(default_factory=list)

    @property
    def token_steps(self) -> int:
        return self.frames // INTERHUMAN.time_downsample


def _yaml(path: Path) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.load(path), resolve=True)


def model_sizes(size: str) -> dict:
    """Model, text and training settings of ``size`` ("paper" or "tiny") from the Hydra configs."""
    if size not in ("paper", "tiny"):
        raise ValueError(f"--size must be paper or tiny, got {size!r}")
    vq = _yaml(CONFIGS / "model/vqvae/paper.yaml")
    transformer = _yaml(CONFIGS / "model/transformer/paper.yaml")
    train = {kind: _yaml(CONFIGS / f"train/{kind}.yaml") for kind in ("vqvae", "transformer")}
    text = _yaml(CONFIGS / "text_encoder/clip.yaml")  # the paper's 768-wide text feature
    data = _yaml(CONFIGS / "data/synthetic.yaml")["data"]
    if size == "tiny":
        tiny = _yaml(CONFIGS / "experiment/tiny.yaml")
        vq.update(tiny["model"]["vqvae"])
        transformer.update(tiny["model"]["transformer"])
        text = {**_yaml(CONFIGS / "text_encoder/minilm.yaml"), **tiny.get("text_encoder", {})}
        for kind in train:
            train[kind].update(tiny["train"])
    # how captions are read, the training-time caption aligner and how features are decoded: InterMask's settings,
    # not the network's
    for setting in InterMask.SETTINGS:
        transformer.pop(setting)
    transformer.update(text_dim=int(text["frozen_dim"]), cond_drop_prob=float(train["transformer"]["cond_drop_prob"]),
                       max_time=int(data["max_frames"]) // INTERHUMAN.time_downsample,
                       num_parts=INTERHUMAN.num_parts, num_codes=int(vq["num_codes"]))

    def optimiser(cfg: dict) -> dict:
        return {"lr": float(cfg["lr"]), "betas": tuple(cfg["betas"]), "weight_decay": float(cfg["weight_decay"]),
                "grad_clip": cfg["grad_clip"], "batch_size": int(cfg["batch_size"]), "workers": int(cfg["num_workers"])}

    return {"vq": vq, "transformer": transformer, "text_encoder": text, "vq_train": optimiser(train["vqvae"]),
            "transformer_train": optimiser(train["transformer"]), "window": int(data["vq"]["window"]),
            "frames": int(data["max_frames"])}


def resolve_config(args: argparse.Namespace, device: torch.device) -> BenchConfig:
    sizes = model_sizes(args.size)
    defaults = CUDA_DEFAULTS if device.type == "cuda" else CPU_DEFAULTS
    notes = []

    sections = set(getattr(args, "sections", SECTIONS))
    users = {"vq_batch_size": {"vqvae", "loader"}, "transformer_batch_size": {"transformer", "loader"},
             "sample_batch_size": {"sampling"}}

    def pick(name: str, given: int | None, paper_value: int) -> int:
        if given is not None:
            return given
        if name in defaults:
            if users[name] & sections:
                notes.append(f"{name}={defaults[name]}: the {device.type} default (paper: {paper_value})")
            return defaults[name]
        return paper_value

    if args.length_groups is not None:
        sizes["transformer"]["length_groups"] = args.length_groups
    given_vq = args.vq_batch_size if args.vq_batch_size is not None else args.batch_size
    given_transformer = args.transformer_batch_size if args.transformer_batch_size is not None else args.batch_size
    config = BenchConfig(
        size=args.size, vq=sizes["vq"], transformer=sizes["transformer"], text_encoder=sizes["text_encoder"],
        vq_train=sizes["vq_train"], transformer_train=sizes["transformer_train"],
        vq_batch_size=pick("vq_batch_size", given_vq, sizes["vq_train"]["batch_size"]),
        transformer_batch_size=pick("transformer_batch_size", given_transformer,
                                    sizes["transformer_train"]["batch_size"]),
        sample_batch_size=pick("sample_batch_size", args.sample_batch_size, 64),
        window=args.window or sizes["window"], frames=args.frames or sizes["frames"],
        sample_steps=args.sample_steps, cond_scale=args.cond_scale,
        steps=args.steps if args.steps is not None else defaults["steps"],
        sample_repeats=args.sample_repeats or args.steps or defaults["steps"],
        warmup=args.warmup if args.warmup is not None else defaults["warmup"],
        bf16=args.bf16, compile=args.compile, cudnn_benchmark=args.cudnn_benchmark, channels_last=args.channels_last,
        profile=str(args.profile) if args.profile else None,
        short_attention_keys=attention.SHORT_KEYS if args.short_attention_keys is None else args.short_attention_keys,
        workers=args.workers if args.workers is not None else sizes["vq_train"]["workers"],
        clips=args.clips, tokenize_clips=args.tokenize_clips, notes=notes,
    )
    check_config(config)
    return config


def check_config(config: BenchConfig) -> None:
    step = INTERHUMAN.time_downsample
    if min(config.steps, config.sample_repeats) < 1 or config.warmup < 0:
        raise ValueError(f"--steps and --sample-repeats must be >= 1 and --warmup >= 0, got {config.steps}, "
                         f"{config.sample_repeats} and {config.warmup}")
    for name in ("vq_batch_size", "transformer_batch_size", "sample_batch_size"):
        if getattr(config, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(config, name)}")
    if config.transformer_batch_size % 2:
        raise ValueError(f"--transformer-batch-size must be even (interaction masking splits the batch in halves), "
                         f"got {config.transformer_batch_size}")
    for name in ("window", "frames"):
        if getattr(config, name) < step or getattr(config, name) % step:
            raise ValueError(f"--{name} must be a positive multiple of {step} frames, got {getattr(config, name)}")
    if config.token_steps > config.transformer["max_time"]:
        raise ValueError(f"--frames {config.frames} exceeds the model's {config.transformer['max_time'] * step} frames")
    if config.sample_steps < 1:
        raise ValueError(f"--sample-steps must be >= 1, got {config.sample_steps}")


# ---- measuring ----------------------------------------------------------------------------------------------


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], object], steps: int, warmup: int,
               device: torch.device) -> tuple[list[float], list[float]]:
    """Wall-clock and process CPU seconds of each of ``steps`` calls of ``fn`` after ``warmup`` untimed ones.

    The device is idle around each call. CPU time, unlike wall time, does not count the moments another
    process held the core, which makes it the steadier measure on a shared machine with one thread.
    """
    for _ in range(warmup):
        fn()
    synchronize(device)
    wall, cpu = [], []
    for _ in range(steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        synchronize(device)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    return wall, cpu


def _status_kib(name: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _release_free_heap() -> None:
    """Collect garbage and hand freed heap back to the OS, so an RSS rise counts this section's memory."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakMemory:
    """Peak memory used inside a ``with`` block: ``peak_bytes`` and the ``method`` that measured it."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak_bytes: int | None = None
        self.method = ""

    def __enter__(self) -> "PeakMemory":
        _release_free_heap()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
            self.method = "cuda max_memory_allocated above the starting allocation"
            return self
        try:
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")  # resets VmHWM to the current resident set size
            self.base = _status_kib("VmRSS") * 1024
            self.method = "rise of the resident set high-water mark (VmHWM)"
        except (OSError, TypeError):
            import resource

            self.base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            self.method = "rise of ru_maxrss (0 when an earlier section peaked higher)"
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device) - self.base
        elif self.method.startswith("rise of the resident"):
            self.peak_bytes = _status_kib("VmHWM") * 1024 - self.base
        else:
            import resource

            self.peak_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self.base


def autocast_factory(device: torch.device, bf16: bool) -> Callable[[], contextlib.AbstractContextManager]:
    return lambda: autocast("bf16" if bf16 else "off", device)


def timing_summary(wall: list[float], cpu: list[float], items_per_call: int, unit: str) -> dict:
    median = statistics.median(wall)
    return {"median_s": median, "min_s": min(wall), "max_s": max(wall), "all_s": wall,
            f"{unit}_per_s": items_per_call / median, "cpu_median_s": statistics.median(cpu), "cpu_all_s": cpu}


def profile_calls(call: Callable[[], object], device: torch.device, path: Path, calls: int = 3) -> None:
    """torch.profiler over ``calls`` calls: operators by total device (or CPU) time, and the call count, to a file."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as profiler:
        for _ in range(calls):
            call()
        synchronize(device)
    averages = profiler.key_averages()
    sort_by = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    path.parent.mkdir(parents=True, exist_ok=True)
    launches = sum(event.count for event in averages if event.key.startswith(("cuda", "cudaLaunch")))
    path.write_text(f"{calls} calls; {sum(event.count for event in averages)} profiled events, "
                    f"{launches} CUDA runtime calls\n" + averages.table(sort_by=sort_by, row_limit=40) + "\n")
    print(f"wrote {path}")


def measure(builds: dict[str, Callable[[], Callable[[], object]]], config: BenchConfig, device: torch.device,
            items_per_call: int, unit: str, steps: int | None = None, label: str = "") -> dict[str, dict]:
    """Time the steps of each side ("ours", "official"): median of ``steps`` calls after ``config.warmup``.

    Each side is built (models, optimiser, inputs), warmed up and called once inside its own memory
    measurement; the remaining calls alternate between the sides, so a change in the machine's load hits both.
    With ``config.profile``, our calls are then profiled into ``<profile>/<label>.txt``.
    """
    steps = steps or config.steps
    calls, wall, cpu, memory = {}, {}, {}, {}
    for side, build in builds.items():
        with PeakMemory(device) as peak:
            calls[side] = build()
            wall[side], cpu[side] = time_calls(calls[side], 1, config.warmup, device)
        memory[side] = peak
    for _ in range(steps - 1):
        for side, call in calls.items():
            call_wall, call_cpu = time_calls(call, 1, 0, device)
            wall[side] += call_wall
            cpu[side] += call_cpu
    if config.profile:
        profile_calls(calls["ours"], device, Path(config.profile) / f"{label or unit}.txt")
    del calls
    _release_free_heap()
    return {side: {**timing_summary(wall[side], cpu[side], items_per_call, unit),
                   "peak_memory_mb": memory[side].peak_bytes / MB, "memory_method": memory[side].method}
            for side in builds}


def compare(result: dict) -> None:
    """Add official time / ours (above 1: ours is faster), by wall clock and by process CPU time."""
    ours, official = result["ours"], result["official"]
    result["speedup"] = official["median_s"] / ours["median_s"]
    result["speedup_cpu_time"] = official["cpu_median_s"] / ours["cpu_median_s"]


# ---- FLOPs and MFU ------------------------------------------------------------------------------------------


def transformer_forward_flops(batch: int, num_time: int, num_parts: int, token_dim: int, dim: int, depth: int,
                              ff_dim: int, num_codes: int, text_dim: int, **_) -> int:
    """Multiply-accumulate FLOPs (2 per MAC) of one ``InterMTransformer`` forward on (batch, 2, parts, time) ids.

    n = parts * time tokens per person, L = 2n + 1 with the separator. Per block: joint attention over L
    (projections 8 L d^2, scores and values 4 L^2 d) and FFN (4 L d f); per person spatial attention over the
    parts of a step (8 n d^2 + 4 n p d), temporal over the steps of a part (8 n d^2 + 4 n t d), cross attention
    to the other person (8 n d^2 + 4 n^2 d) and FFN (4 n d f); adaLN projections of the condition (2 * 20 d^2).
    Attention is counted dense, masked keys included, as the kernels compute it. Element-wise work is left out.
    """
    n = num_parts * num_time
    length = 2 * n + 1
    persons = 2 * n  # both persons' tokens
    block = (
        2 * 20 * dim * dim  # adaLN: 6 joint + 14 person chunks from the condition
        + 8 * length * dim * dim + 4 * length * length * dim + 4 * length * dim * ff_dim
        + 8 * persons * dim * dim + 4 * persons * num_parts * dim  # spatial
        + 8 * persons * dim * dim + 4 * persons * num_time * dim  # temporal
        + 8 * persons * dim * dim + 4 * 2 * n * n * dim  # cross
        + 4 * persons * dim * ff_dim
    )
    embed = 2 * persons * token_dim * dim + 2 * text_dim * dim
    head = 2 * 2 * dim * dim + 2 * persons * dim * dim + 2 * persons * dim * num_codes
    separator = 2 * token_dim * dim  # its embedding is projected once per batch
    return batch * (embed + depth * block + head) + separator


def planned_forward_flops(lengths_tokens: torch.Tensor, num_time: int, length_groups: int = 1, **sizes) -> int:
    """``transformer_forward_flops`` of a batch of (b,) valid lengths on maps of ``num_time`` steps, run as the
    transformer runs it: in at most ``length_groups`` groups, each cut to its longest sample (``LengthPlan``)."""
    plan = LengthPlan.for_lengths(lengths_tokens.cpu(), sizes["num_parts"], num_time, length_groups)
    return sum(transformer_forward_flops(len(lengths_tokens) if group.index is None else len(group.index),
                                         group.num_time, **sizes) for group in plan.groups)


def transformer_step_flops(lengths_tokens: torch.Tensor, num_time: int, unroll: bool = True, **sizes) -> int:
    """Training-step FLOPs: backward costs twice the forward, and step unroll runs a second forward+backward."""
    passes = 2 if unroll else 1
    return 3 * passes * planned_forward_flops(lengths_tokens, num_time, **sizes)


def vq_step_flops(config: BenchConfig) -> int:
    """Matrix-product and convolution FLOPs of one VQ-VAE training step (forward and backward), counted by
    torch's FlopCounterMode on one window on the CPU and scaled to the batch (every window costs the same)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = MotionVQVAE(INTERHUMAN, **config.vq).train()
    window = torch.randn(1, config.window, INTERHUMAN.dim)
    with FlopCounterMode(display=False) as counter:
        model(window)["recon"].square().mean().backward()
    return counter.get_total_flops() * config.vq_batch_size


def add_utilization(result: dict, flops: int, device: torch.device, bf16: bool, override: float | None) -> None:
    """Our achieved TFLOP/s for ``flops`` per step and, on a device of known peak, the model FLOP utilisation."""
    result["flops_per_step"] = flops
    result["ours"]["achieved_tflops"] = flops / result["ours"]["median_s"] / 1e12
    peak = peak_tflops(device, bf16, override)
    result["peak_tflops"] = peak
    result["ours"]["mfu"] = result["ours"]["achieved_tflops"] / peak if peak else None


def peak_tflops(device: torch.device, bf16: bool, override: float | None) -> float | None:
    if override is not None:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for pattern, peaks in PEAK_TFLOPS:
        if pattern in name:
            return peaks["bf16" if bf16 else "fp32"]
    return None


# ---- our models ---------------------------------------------------------------------------------------------


def adamw(parameters, train: dict) -> torch.optim.Optimizer:
    """AdamW as the official code builds it."""
    return torch.optim.AdamW(parameters, lr=train["lr"], betas=train["betas"], weight_decay=train["weight_decay"])


def our_adamw(parameters, train: dict, device: torch.device) -> torch.optim.Optimizer:
    """AdamW as the Trainer builds it."""
    return make_adamw(parameters, train["lr"], train["betas"], train["weight_decay"], device)


@contextlib.contextmanager
def cudnn_benchmark(enabled: bool):
    """cuDNN's autotuner on (for our calls only, when ``--cudnn-benchmark``), restored afterwards."""
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = enabled or before
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


def ours(config: BenchConfig, call: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
    """Our call under our switches (cuDNN autotuning)."""

    def run() -> torch.Tensor:
        with cudnn_benchmark(config.cudnn_benchmark):
            return call()

    return run


def maybe_compile(module: torch.nn.Module, config: BenchConfig) -> torch.nn.Module:
    """The module as the Trainer runs it with ``train.compile=true`` (--compile), else itself."""
    return torch.compile(module) if config.compile else module


def vq_layout(model: MotionVQVAE, config: BenchConfig) -> MotionVQVAE:
    """The VQ-VAE with its 4-d weights channels-last under --channels-last (convolutions then keep that layout for
    their activations), else unchanged."""
    return model.to(memory_format=torch.channels_last) if config.channels_last else model


def vq_inputs(config: BenchConfig, device: torch.device, seed: int = 0) -> torch.Tensor:
    """Normalised-looking single-person windows (batch, window, 262), identical for every implementation."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(config.vq_batch_size, config.window, INTERHUMAN.dim, generator=generator).to(device)


def transformer_inputs(config: BenchConfig, batch: int, device: torch.device, seed: int = 0):
    """Token maps (batch, 2, parts, steps), text features (batch, text_dim) and valid lengths (batch,): full
    length, or with --lengths dataset each drawn from the clips' lengths (padded to ``steps`` as the published
    data pipeline pads every clip)."""
    generator = torch.Generator().manual_seed(seed)
    size = config.transformer
    ids = torch.randint(size["num_codes"], (batch, 2, size["num_parts"], config.token_steps), generator=generator)
    cond = torch.randn(batch, size["text_dim"], generator=generator)
    if config.length_pool:
        pool = torch.tensor(config.length_pool)
        lengths = pool[torch.randint(len(pool), (batch,), generator=generator)].clamp(1, config.token_steps)
    else:
        lengths = torch.full((batch,), config.token_steps, dtype=torch.long)
    return ids.to(device), cond.to(device), lengths.to(device)


def clip_token_lengths(source: DataSource, frames: int) -> list[int]:
    """Valid token steps of each training clip cut to ``frames`` + 1 frames (``frames`` feature rows)."""
    return [max(min(clip.num_frames - 1, frames) // INTERHUMAN.time_downsample, 1)
            for clip in source.clips("train", mirror=False)]


def training_step(model: torch.nn.Module, optimizer, loss: Callable[[], torch.Tensor], autocast,
                  grad_clip: float | None) -> Callable[[], torch.Tensor]:
    """One optimizer step as the Trainer takes it: zero the gradients, ``loss()`` under autocast, backward,
    gradient clipping, AdamW. Both implementations are timed through it, so only their losses differ."""

    def step() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            value = loss()
        value.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        return value.detach()

    return step


def our_vq_step(config: BenchConfig, device: torch.device) -> Callable[[], torch.Tensor]:
    """The VQ task's training step as the Trainer runs it (autocast, loss, backward, clip, AdamW)."""
    model = vq_layout(MotionVQVAE(INTERHUMAN, **config.vq).to(device).train(), config)
    optimizer = our_adamw(model.parameters(), config.vq_train, device)
    features = vq_inputs(config, device)
    mean = torch.zeros(INTERHUMAN.dim, device=device)
    std = torch.ones(INTERHUMAN.dim, device=device)
    forward = maybe_compile(model, config)

    def loss() -> torch.Tensor:
        out = forward(features)
        return vq_total_loss(out["recon"], features, out["commit_loss"], mean, std, INTERHUMAN)[0]

    return ours(config, training_step(model, optimizer, loss, autocast_factory(device, config.bf16),
                                      config.vq_train["grad_clip"]))


def our_transformer_step(config: BenchConfig, device: torch.device) -> Callable[[], torch.Tensor]:
    """The transformer task's training step on given text features (interaction masking 0.2, step unroll)."""
    model = InterMTransformer(**config.transformer).to(device).train()
    optimizer = our_adamw(model.parameters(), config.transformer_train, device)
    ids, cond, lengths = transformer_inputs(config, config.transformer_batch_size, device)
    generator = torch.Generator(device=device).manual_seed(0)
    forward = maybe_compile(model, config)

    def loss() -> torch.Tensor:
        return transformer_training_loss(forward, ids, cond, lengths, generator, interaction_prob=0.2,
                                         unroll=True)[0]

    return ours(config, training_step(model, optimizer, loss, autocast_factory(device, config.bf16),
                                      config.transformer_train["grad_clip"]))


class CaptionFreeBackbone(FrozenTextBackbone):
    """Stands in for the text model where nothing reads captions (sampling from features, tokenisation)."""

    def __init__(self, feature_dim: int):
        super().__init__()
        self.feature_dim = feature_dim
        self.name = "bench-no-text"
        self.freeze()

    def forward(self, texts):
        raise RuntimeError("the benchmark feeds text features; it never encodes captions")


def our_pipeline(config: BenchConfig, device: torch.device) -> InterMask:
    """The whole InterMask module with untrained weights (speed does not depend on them), in eval mode."""
    vq = MotionVQVAE(INTERHUMAN, **config.vq)
    # clips of --frames frames: the token cache cuts its windows at the model's max_time
    transformer = InterMTransformer(**{**config.transformer, "max_time": config.token_steps})
    text = config.text_encoder
    text_encoder = TextEncoder(CaptionFreeBackbone(config.transformer["text_dim"]), num_layers=int(text["layers"]),
                               heads=int(text["heads"]), ff_dim=int(text["ff_dim"]), dropout=float(text["dropout"]))
    pipeline = InterMask(vq, transformer, text_encoder, torch.zeros(INTERHUMAN.dim), torch.ones(INTERHUMAN.dim))
    vq_layout(pipeline.vq, config)
    return pipeline.to(device).eval()


def our_sampler(config: BenchConfig, device: torch.device, batch: int) -> Callable[[], torch.Tensor]:
    """``InterMask.generate`` from text features: iterative decoding with CFG, then the VQ decoder."""
    pipeline = our_pipeline(config, device)
    if config.compile:
        # the network the decoding loop calls (as eval does); the loop's sampling and bookkeeping stay eager
        pipeline.transformer.compile_logits(dynamic=False)
    _, cond, lengths = transformer_inputs(config, batch, device)
    generator = torch.Generator(device=device).manual_seed(0)
    autocast = autocast_factory(device, config.bf16)

    @torch.inference_mode()
    def sample() -> torch.Tensor:
        with autocast():
            ids = generate(pipeline.transformer, cond, lengths, steps=config.sample_steps,
                           cond_scale=config.cond_scale, generator=generator)
            return pipeline.decode(ids, lengths)

    return ours(config, sample)


# ---- the published models -----------------------------------------------------------------------------------


def official_vq_step(official, config: BenchConfig, device: torch.device) -> Callable[[], torch.Tensor]:
    import bench_reference

    model = official.vqvae(config.vq, device).train()
    loss_fn = official.vq_loss(device)
    optimizer = adamw(model.parameters(), config.vq_train)
    features = vq_inputs(config, device)
    return training_step(model, optimizer, lambda: bench_reference.vq_loss(model, loss_fn, features, VQLossWeights()),
                         autocast_factory(device, config.bf16), config.vq_train["grad_clip"])


def official_transformer_step(official, config: BenchConfig, device: torch.device) -> Callable[[], torch.Tensor]:
    import bench_reference

    model = official.mask_transformer(config.transformer, config.transformer["num_codes"], device).train()
    optimizer = adamw(model.parameters(), config.transformer_train)
    ids, cond, lengths = transformer_inputs(config, config.transformer_batch_size, device)
    return training_step(model, optimizer, lambda: bench_reference.transformer_loss(model, ids, cond, lengths),
                         autocast_factory(device, config.bf16), config.transformer_train["grad_clip"])


def official_sampler(official, config: BenchConfig, device: torch.device, batch: int) -> Callable[[], torch.Tensor]:
    import bench_reference

    transformer = official.mask_transformer(config.transformer, config.transformer["num_codes"], device).eval()
    vq = official.vqvae(config.vq, device).eval()
    _, cond, lengths = transformer_inputs(config, batch, device)
    autocast = autocast_factory(device, config.bf16)
    return lambda: bench_reference.sample(transformer, vq, cond, lengths, config.sample_steps, config.cond_scale,
                                          autocast)


# ---- sections -----------------------------------------------------------------------------------------------


def bench_vqvae(config: BenchConfig, device: torch.device, official=None,
                peak_tflops_override: float | None = None) -> dict:
    batch = config.vq_batch_size
    result = {"batch_size": batch, "window": config.window,
              "parameters": sum(p.numel() for p in MotionVQVAE(INTERHUMAN, **config.vq).parameters())}
    builds = {"ours": lambda: our_vq_step(config, device)}
    if official is not None:
        builds["official"] = lambda: official_vq_step(official, config, device)
    result.update(measure(builds, config, device, batch, "samples", label="vqvae"))
    add_utilization(result, vq_step_flops(config), device, config.bf16, peak_tflops_override)
    if official is not None:
        compare(result)
    return result


def bench_transformer(config: BenchConfig, device: torch.device, official=None,
                      peak_tflops_override: float | None = None) -> dict:
    batch = config.transformer_batch_size
    result = {"batch_size": batch, "token_steps": config.token_steps,
              "parameters": sum(p.numel() for p in InterMTransformer(**config.transformer).parameters())}
    builds = {"ours": lambda: our_transformer_step(config, device)}
    if official is not None:
        builds["official"] = lambda: official_transformer_step(official, config, device)
    result.update(measure(builds, config, device, batch, "samples", label="transformer"))
    lengths = transformer_inputs(config, batch, torch.device("cpu"))[2]
    if config.length_pool:
        result["lengths"] = lengths.tolist()
    add_utilization(result, transformer_step_flops(lengths, config.token_steps, **config.transformer), device,
                    config.bf16, peak_tflops_override)
    if official is not None:
        compare(result)
    return result


def bench_sampling(config: BenchConfig, device: torch.device, official=None) -> dict:
    result = {"frames": config.frames, "token_steps": config.token_steps, "decoding_steps": config.sample_steps,
              "cond_scale": config.cond_scale, "throughput_batch_size": config.sample_batch_size}
    runs = [("latency", 1), ("throughput", config.sample_batch_size)]
    for name, batch in runs:
        builds = {"ours": lambda: our_sampler(config, device, batch)}
        if official is not None:
            builds["official"] = lambda: official_sampler(official, config, device, batch)
        result[name] = measure(builds, config, device, batch, "clips", steps=config.sample_repeats,
                               label=f"sampling_{name}")
        if config.length_pool:
            result[name]["lengths"] = transformer_inputs(config, batch, torch.device("cpu"))[2].tolist()
        if official is not None:
            compare(result[name])
    return result


class InMemoryWindows(Dataset):
    """A preallocated tensor (item, frame, feature) served row by row, as ``MotionWindows`` serves its items."""

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor

    def __len__(self) -> int:
        return len(self.tensor)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.tensor[i]


class InMemoryInteractions(Dataset):
    """Preallocated two-person items with the keys and shapes ``Interactions`` yields."""

    def __init__(self, motion: torch.Tensor):
        self.motion = motion

    def __len__(self) -> int:
        return len(self.motion)

    def __getitem__(self, i: int) -> dict:
        return {"motion": self.motion[i], "length": self.motion.shape[2], "text": "two people shake hands",
                "texts": ["two people shake hands"], "name": f"{i:06d}"}


def loader_steps_per_second(loader, steps: int, warmup: int) -> float:
    """Batches per second over ``steps`` batches after ``warmup`` (worker start-up), cycling epochs as needed."""

    def batches():
        epoch = 0
        while True:
            loader.sampler.set_epoch(epoch)
            yield from loader
            epoch += 1

    stream = batches()
    for _ in range(warmup):
        next(stream)
    start = time.perf_counter()
    for _ in range(steps):
        next(stream)
    return steps / (time.perf_counter() - start)


def bench_loader(config: BenchConfig, source: DataSource) -> dict:
    from intermask.data.datasets import collate
    from intermask.training.trainer import make_loader

    result = {}
    timed = max(config.steps, 10)  # a loader step is short: more of them for a stable rate
    cases = {
        "vq_windows": (lambda: source.vq_windows("train"), config.vq_batch_size, None,
                       lambda real: InMemoryWindows(torch.randn(len(real), config.window, INTERHUMAN.dim))),
        "interactions": (lambda: source.interactions("train"), config.transformer_batch_size, collate,
                         lambda real: InMemoryInteractions(torch.randn(len(real), 2, config.frames, INTERHUMAN.dim))),
    }
    for name, (build, batch, collate_fn, in_memory) in cases.items():
        start = time.perf_counter()
        real = build()
        setup = time.perf_counter() - start
        batch = min(batch, len(real))
        rates = {}
        for kind, dataset in (("real", real), ("in_memory", in_memory(real))):
            loader = make_loader(dataset, batch, shuffle=True, drop_last=True, num_workers=config.workers,
                                 collate_fn=collate_fn)
            rates[kind] = loader_steps_per_second(loader, timed, max(config.warmup, 1))
            del loader
        result[name] = {"items": len(real), "batch_size": batch, "workers": config.workers, "setup_s": setup,
                        "timed_steps": timed, "steps_per_s": rates["real"],
                        "in_memory_steps_per_s": rates["in_memory"],
                        "real_over_in_memory": rates["real"] / rates["in_memory"]}
    return result


@dataclass
class FirstClips(DataSource):
    """A data source that yields only the first ``limit`` clips of a split."""

    limit: int | None = None

    def clips(self, split: str, mirror: bool | None = None, progress: bool = False):
        clips = super().clips(split, mirror, progress)
        return clips if self.limit is None else clips[: self.limit]


def bench_tokenize(config: BenchConfig, device: torch.device, source: DataSource) -> dict:
    from intermask.data.tokens import encode_split

    source.normalizer()  # statistics come from the whole split, as in training
    limited = FirstClips(source.cfg, limit=config.tokenize_clips)
    pipeline = our_pipeline(config, device)
    if config.warmup:
        encode_split(pipeline, FirstClips(source.cfg, limit=1), "train", device, batch_size=64)
    with PeakMemory(device) as memory:
        start = time.perf_counter()
        tokens = encode_split(pipeline, limited, "train", device, batch_size=64)
        synchronize(device)
        seconds = time.perf_counter() - start
    clips = len(limited.clips("train"))
    return {"clips": clips, "windows": len(tokens.names), "frames_per_window": config.frames, "seconds": seconds,
            "clips_per_s": clips / seconds, "windows_per_s": len(tokens.names) / seconds,
            "peak_memory_mb": memory.peak_bytes / MB, "memory_method": memory.method}


# ---- data ---------------------------------------------------------------------------------------------------


def dataset_source(data_dir: Path | None, clips: int, scratch: Path) -> tuple[DataSource, str]:
    """The synthetic dataset's config pointed at a dataset: ``data_dir``, else data/synthetic, else a fresh one."""
    cfg = _yaml(CONFIGS / "data/synthetic.yaml")["data"]
    if data_dir is None:
        default = REPO / "data/synthetic"
        data_dir = default if (default / "motions_processed").is_dir() else scratch / "synthetic"
    origin = f"dataset at {data_dir}"
    if not (data_dir / "motions_processed").is_dir():
        from intermask.data.synthetic import generate_dataset

        generate_dataset(data_dir, num_clips=clips, seed=0, progress=False)
        origin = f"{clips} synthetic clips generated in {data_dir}"
    cfg.update(root=str(data_dir), generate=None)
    return DataSource(cfg), origin


# ---- report -------------------------------------------------------------------------------------------------


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({torch.get_num_threads()} threads)"
    return f"{platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def _spread(lengths: list[int]) -> str:
    """Token lengths of a batch in a few characters: "31" or "mean 38 (12-72)"."""
    if len(lengths) == 1:
        return str(lengths[0])
    return f"mean {sum(lengths) / len(lengths):.0f} ({min(lengths)}-{max(lengths)})"


def _ms(result: dict) -> str:
    return f"{1000 * result['median_s']:.1f} ms"


def table_rows(results: dict, cpu_time: bool = False) -> list[tuple[str, str, str, str]]:
    """(what, ours, official, speed-up) rows of the printed table; ``cpu_time`` adds the CPU-time rows."""
    rows = []

    def timed(label: str, entry: dict, unit: str) -> None:
        ours, official = entry["ours"], entry.get("official")
        rows.append((label, f"{_ms(ours)} ({ours[f'{unit}_per_s']:.2f} {unit}/s)",
                     f"{_ms(official)} ({official[f'{unit}_per_s']:.2f} {unit}/s)" if official else "-",
                     f"{entry['speedup']:.2f}x" if "speedup" in entry else "-"))
        if cpu_time:
            rows.append(("  process CPU time", f"{1000 * ours['cpu_median_s']:.1f} ms",
                         f"{1000 * official['cpu_median_s']:.1f} ms" if official else "-",
                         f"{entry['speedup_cpu_time']:.2f}x" if "speedup_cpu_time" in entry else ""))
        rows.append(("  peak memory", f"{ours['peak_memory_mb']:.0f} MB",
                     f"{official['peak_memory_mb']:.0f} MB" if official else "-", ""))

    def achieved(ours: dict) -> None:
        mfu = f", MFU {100 * ours['mfu']:.1f}%" if ours.get("mfu") is not None else ""
        rows.append(("  achieved", f"{ours['achieved_tflops']:.3f} TFLOP/s{mfu}", "", ""))

    if "vqvae" in results:
        entry = results["vqvae"]
        timed(f"vqvae train step (batch {entry['batch_size']} x {entry['window']} frames)", entry, "samples")
        achieved(entry["ours"])
    if "transformer" in results:
        entry = results["transformer"]
        lengths = f", lengths {_spread(entry['lengths'])} of" if "lengths" in entry else ""
        timed(f"transformer train step (batch {entry['batch_size']}{lengths} T'={entry['token_steps']})", entry,
              "samples")
        achieved(entry["ours"])
    if "sampling" in results:
        entry = results["sampling"]
        latency_clip = (f"{_spread(entry['latency']['lengths'])} of {entry['token_steps']} token steps"
                        if "lengths" in entry["latency"] else f"{entry['frames']} frames")
        steps = f"{latency_clip}, {entry['decoding_steps']} steps, CFG {entry['cond_scale']:g}"
        timed(f"sampling latency, batch 1 ({steps})", entry["latency"], "clips")
        lengths = f", lengths {_spread(entry['throughput']['lengths'])}" if "lengths" in entry["throughput"] else ""
        timed(f"sampling throughput, batch {entry['throughput_batch_size']}{lengths}", entry["throughput"], "clips")
    if "loader" in results:
        for name, entry in results["loader"].items():
            rows.append((f"loader {name} (batch {entry['batch_size']}, {entry['workers']} workers), real data",
                         f"{entry['steps_per_s']:.1f} steps/s", "-", "-"))
            rows.append(("  same loader over an in-memory tensor", f"{entry['in_memory_steps_per_s']:.1f} steps/s",
                         "-", "-"))
            rows.append(("  real / in memory", f"{entry['real_over_in_memory']:.2f}x", "-", "-"))
    if "tokenize" in results:
        entry = results["tokenize"]
        rows.append((f"token cache build ({entry['clips']} clips, {entry['windows']} windows of "
                     f"{entry['frames_per_window']} frames)",
                     f"{entry['clips_per_s']:.2f} clips/s ({entry['windows_per_s']:.2f} windows/s)", "-", "-"))
        rows.append(("  peak memory", f"{entry['peak_memory_mb']:.0f} MB", "-", ""))
    return rows


def format_table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("what", "ours", "official", "official/ours")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


# ---- entry --------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda or cuda:N")
    parser.add_argument("--which", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}")
    parser.add_argument("--size", default="paper", choices=("paper", "tiny"))
    parser.add_argument("--steps", type=int, default=None, help="timed repetitions (median reported)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed repetitions first")
    parser.add_argument("--batch-size", type=int, default=None, help="training batch of both models")
    parser.add_argument("--vq-batch-size", type=int, default=None)
    parser.add_argument("--transformer-batch-size", type=int, default=None, help="even")
    parser.add_argument("--sample-batch-size", type=int, default=None, help="batch of the throughput measurement")
    parser.add_argument("--sample-steps", type=int, default=20, help="decoding steps")
    parser.add_argument("--sample-repeats", type=int, default=None, help="timed sampling calls (default: --steps)")
    parser.add_argument("--cond-scale", type=float, default=2.0)
    parser.add_argument("--window", type=int, default=None, help="VQ training window, frames (default 64)")
    parser.add_argument("--frames", type=int, default=None, help="clip length in frames (default 300)")
    parser.add_argument("--lengths", default="full", choices=("full", "dataset"),
                        help="valid token steps of the transformer and sampling batches: every sample --frames long, "
                             "or each drawn from the training clips' lengths (the dataset of --data)")
    parser.add_argument("--length-groups", type=int, default=None,
                        help="our transformer runs a batch of mixed lengths as at most this many groups of similar "
                             "length (default: the model config's; 1: the batch cut to its longest sample)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast around forward passes")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile our training forward and decoding network (the official code runs eager)")
    parser.add_argument("--cudnn-benchmark", action="store_true", help="cuDNN autotuning for our calls")
    parser.add_argument("--channels-last", action="store_true",
                        help="our VQ-VAE in the channels-last layout (cuDNN's own for bf16 convolutions)")
    parser.add_argument("--short-attention-keys", type=int, default=None,
                        help=f"our plain-product attention up to this many keys (default {attention.SHORT_KEYS}; "
                             "0: fused SDPA everywhere but CPU training with dropout)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="also profile our calls of each timed section (torch.profiler) and write tables here")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: the train config's)")
    parser.add_argument("--data", type=Path, default=None,
                        help="dataset root (InterHuman layout); generated there when it holds none")
    parser.add_argument("--clips", type=int, default=24, help="clips to generate when there is no dataset")
    parser.add_argument("--tokenize-clips", type=int, default=16, help="training clips the cache build encodes")
    parser.add_argument("--peak-tflops", type=float, default=None, help="device peak for MFU, when not known")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--reference", type=Path, default=None, help="checkout of the published InterMask code")
    args = parser.parse_args(argv)
    args.sections = [name.strip() for name in args.which.split(",") if name.strip()]
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown or not args.sections:
        parser.error(f"--which: unknown or no sections {unknown}; choose from {', '.join(SECTIONS)}")
    return args


def run(args: argparse.Namespace, command: str = "") -> dict:
    """Run the chosen sections and return the report (what the JSON holds)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no CUDA device")
    config = resolve_config(args, device)
    attention.SHORT_KEYS = config.short_attention_keys
    official = None
    if args.reference is not None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_reference import OfficialCode

        official = OfficialCode(args.reference)
    torch.manual_seed(0)
    results = {}
    data_origin = None
    with tempfile.TemporaryDirectory(prefix="intermask-bench-") as scratch:
        if args.lengths == "dataset" or {"loader", "tokenize"} & set(args.sections):
            source, data_origin = dataset_source(args.data, config.clips, Path(scratch))
        if args.lengths == "dataset":
            config.length_pool = clip_token_lengths(source, config.frames)
        if "vqvae" in args.sections:
            results["vqvae"] = bench_vqvae(config, device, official, args.peak_tflops)
        if "transformer" in args.sections:
            results["transformer"] = bench_transformer(config, device, official, args.peak_tflops)
        if "sampling" in args.sections:
            results["sampling"] = bench_sampling(config, device, official)
        if "loader" in args.sections:
            results["loader"] = bench_loader(config, source)
        if "tokenize" in args.sections:
            results["tokenize"] = bench_tokenize(config, device, source)
    settings = asdict(config)
    pool = settings.pop("length_pool")
    if pool:
        settings["lengths"] = {"from": f"the training clips of the {data_origin}", "clips": len(pool),
                               "mean_token_steps": sum(pool) / len(pool), "max_token_steps": max(pool)}
    return {
        "device": device_name(device),
        "device_type": device.type,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "command": command,
        "reference": str(args.reference) if args.reference else None,
        "data": data_origin,
        "config": settings,
        "results": results,
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    report = run(args, " ".join(["scripts/bench.py", *(sys.argv[1:] if argv is None else argv)]))
    print(f"{report['device']} | torch {report['torch']} | size {args.size} | bf16 {args.bf16} | "
          f"median of {report['config']['steps']} after {report['config']['warmup']} warm-up")
    for note in report["config"]["notes"]:
        print(f"note: {note}")
    print(format_table(table_rows(report["results"], cpu_time=report["device_type"] == "cpu")))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
        print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
