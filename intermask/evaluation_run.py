"""What ``python -m intermask.eval`` runs: the paper's evaluation protocol (``metrics.protocol``) on a dataset's
test split, fed with ground-truth and generated batches; writes the table.

The protocol measures with a trained text–motion evaluator (``loading.load_text_motion_evaluator``: InterCLIP or
Inter-X's matching network, ``models.text_motion_evaluators``) and generates with a text-to-interaction model
(``loading.load_interaction_model``), or evaluates the ground truth alone.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .atomic import write_text_atomic
from .data.datasets import Interactions, collate
from .data.interx import InterXInteractions
from .data.source import DataSource, check_exists
from .errors import ConfigError
from .generation.decoding import check_cond_scale, check_remask_noise
from .generation.interaction_model import InterMask
from .loading import (InterXTextMotionEvaluator, TextMotionEvaluator, load_interaction_model,
                      load_text_motion_evaluator, resolve)
from .metrics.protocol import EvalBatch, ProtocolConfig, check_items, evaluate, format_table, results_to_json
from .precision import check_settings, resolve_device

log = logging.getLogger(__name__)


def protocol_config(cfg) -> tuple[ProtocolConfig, int | None]:
    """The protocol constants from the config, shrunk by ``quick``; and the cap on test items (quick only)."""
    values = {k: v for k, v in dict(cfg.protocol).items() if k != "quick"}
    max_items = None
    if cfg.quick:
        quick = dict(cfg.protocol.quick)
        max_items = quick.pop("max_items", None)
        values.update(quick)
    values["fps"] = float(cfg.data.fps)
    return ProtocolConfig(**values), max_items


class EvaluationRun:
    """Streams of ground-truth and generated test batches for the protocol."""

    def __init__(self, dataset: Interactions | InterXInteractions,
                 evaluator: TextMotionEvaluator | InterXTextMotionEvaluator, model: InterMask | None,
                 batch_size: int, generation: dict, device: torch.device, max_items: int | None = None,
                 progress: bool = False):
        self.dataset, self.evaluator, self.model = dataset, evaluator, model
        self.batch_size, self.generation, self.device = batch_size, generation, device
        self.items = len(dataset) if max_items is None else min(len(dataset), int(max_items))
        self.progress = progress

    def batches(self, rng: np.random.Generator) -> Iterator[dict]:
        """One stochastic pass: fresh crops/captions/orders (a new epoch seed) in a shuffled order."""
        self.dataset.set_epoch(int(rng.integers(2**31)))
        order = rng.permutation(len(self.dataset))[: self.items]
        for start in range(0, len(order), self.batch_size):
            yield collate([self.dataset[int(i)] for i in order[start:start + self.batch_size]])

    def ground_truth(self, rng: np.random.Generator) -> Iterator[EvalBatch]:
        for batch in self.batches(rng):
            yield EvalBatch(batch[self.evaluator.text_key], batch["motion"], batch["length"],
                            self.dataset.joints(batch["motion"]))

    def generate(self, texts: list[str], lengths: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's motions for ``texts`` in the dataset's item format (raw: not normalised) and their lengths
        (frames, cut to whole tokens)."""
        generator = torch.Generator(device=self.device).manual_seed(seed)
        frames = lengths - lengths % self.model.frames_per_token
        _, features = self.model.generate(texts, frames, generator=generator, **self.generation)
        return self._items(features, frames), frames

    def _items(self, features: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """The model's normalised features (b, 2, frame, feature) as the dataset's raw items, zero past each
        sample's ``frames``."""
        raw = self.model.denormalize(features).cpu()
        steps = torch.arange(raw.shape[2])
        raw = raw * (steps[None, None, :, None] < frames[:, None, None, None])
        return self.dataset.from_people(raw)

    def generated(self, rng: np.random.Generator) -> Iterator[EvalBatch]:
        for batch in self.batches(rng):
            raw, frames = self.generate(batch["text"], batch["length"], int(rng.integers(2**31)))
            yield EvalBatch(batch[self.evaluator.text_key], raw, frames, self.dataset.joints(raw))

    def reconstruct(self, motion: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw items tokenised and decoded by the model's VQ-VAE, and their lengths (frames, cut to whole tokens)."""
        frames = lengths - lengths % self.model.frames_per_token
        device_frames = frames.to(self.device)
        motion = self.model.normalize(motion.to(self.device))
        ids = self.model.tokenize(motion, device_frames)
        features = self.model.decode(ids, device_frames // self.model.frames_per_token,
                                     self.model.body_scales(motion, device_frames))
        return self._items(features, frames), frames

    def reconstructed(self, rng: np.random.Generator) -> Iterator[EvalBatch]:
        """The test clips tokenised and decoded by the model's VQ-VAE: what a perfect token predictor would reach."""
        for batch in self.batches(rng):
            raw, frames = self.reconstruct(batch["motion"], batch["length"])
            yield EvalBatch(batch[self.evaluator.text_key], raw, frames, self.dataset.joints(raw))

    def multimodality(self, rng: np.random.Generator, num_texts: int, num_samples: int) -> np.ndarray:
        """``num_samples`` generations for each of ``num_texts`` random test captions, embedded: (text, sample, dim).
        As many captions share one generation call as fit in the protocol's batch (three of 30 samples in 96): fewer,
        fuller calls, as the protocol's own batches are."""
        picks = rng.choice(len(self.dataset), size=num_texts, replace=num_texts > len(self.dataset))
        per_call = max(1, self.batch_size // num_samples)
        embeddings = []
        for start in range(0, num_texts, per_call):
            items = [self.dataset[int(index)] for index in picks[start:start + per_call]]
            texts = [item["text"] for item in items for _ in range(num_samples)]
            lengths = torch.tensor([item["length"] for item in items]).repeat_interleave(num_samples)
            raw, frames = self.generate(texts, lengths, int(rng.integers(2**31)))
            embedded = self.evaluator.embed_motion(raw, frames).cpu().numpy()
            embeddings.append(embedded.reshape(len(items), num_samples, -1))
        return np.concatenate(embeddings)

    def embed(self, batch: EvalBatch):
        return self.evaluator.embed_text(list(batch.text)), self.evaluator.embed_motion(batch.motion, batch.lengths)


def generation_settings(generation, model: InterMask | None) -> dict:
    """The ``generation`` config as ``InterMask.generate``'s settings, with the guidance scale, the collision rounds and
    their steps and the remask noise resolved: null means the model's own (``InterMask.cond_scale``,
    ``collision_rounds``, ``collision_steps`` (None where it has none: the decoding's steps), ``remask_noise``). Its
    ``lowpass_hz`` and ``separate_bodies``, settings of the model's output rather than of one ``generate``, are set on
    ``model`` (``InterMask.use_lowpass``: null keeps the model's own, 0 none; ``InterMask.use_separation``: null keeps
    the model's own) and left out."""
    settings = dict(generation)
    lowpass = settings.pop("lowpass_hz", None)
    separate = settings.pop("separate_bodies", None)
    if model is not None:
        try:
            model.use_lowpass(lowpass, "generation.lowpass_hz")
            model.use_separation(separate, "generation.separate_bodies")
        except ValueError as error:
            raise ConfigError(str(error)) from None
    checks = (("collision_rounds", InterMask.check_collision_rounds),
              ("collision_steps", InterMask.check_collision_steps),
              ("cond_scale", check_cond_scale), ("remask_noise", check_remask_noise))
    for key, check in checks:
        if settings.get(key) is None:
            settings[key] = getattr(model, key) if model is not None else None
            continue
        try:
            settings[key] = check(settings[key], f"generation.{key}")
        except ValueError as error:
            raise ConfigError(str(error)) from None
    return settings


def check_split_size(protocol: ProtocolConfig, items: int, split: str, quick: bool) -> None:
    """A ConfigError, before anything is generated, where ``items`` test items cannot fill one evaluation batch or
    Diversity's pairs (``metrics.protocol.check_items``), naming the keys that set them: under --quick,
    ``protocol.quick``'s diversity pairs."""
    try:
        check_items(protocol, items, split, f"protocol.{'quick.' if quick else ''}diversity_pairs")
    except ValueError as error:
        raise ConfigError(str(error)) from None


def evaluate_from_config(cfg) -> tuple[str, list[Path]]:
    """Run the protocol as configured; returns the Markdown table and the files written."""
    check_settings(cfg.generation, "generation")
    generation_settings(cfg.generation, None)  # a bad guidance scale stops the run before anything loads
    source = DataSource(cfg.data)
    check_exists(source)
    device = resolve_device(cfg.device)
    protocol, max_items = protocol_config(cfg)
    evaluator_kind = cfg.data.eval.get("evaluator_kind", "evaluator")
    how = (f"train one with `python -m intermask.train evaluator data={cfg.data.name}` (or run `make demo`), or "
           f"pass its path" if evaluator_kind == "evaluator" else
           "convert the published one (`python -m intermask.convert official_dir=...`) and pass evaluator_ckpt=PATH")
    evaluator_path = resolve(cfg.evaluator_ckpt, cfg.runs_root, cfg.data.name, evaluator_kind,
                             how=f"No {evaluator_kind} checkpoint for {cfg.data.name!r}: {how}")
    evaluator = load_text_motion_evaluator(evaluator_path, device, cfg.data)
    if evaluator.format != source.format:
        raise ConfigError(f"the evaluator {evaluator_path} reads {evaluator.format} motion, data={cfg.data.name} "
                          f"is {source.format}")
    dataset = source.interactions(cfg.split, normalized=False, seed=int(protocol.seed), mirror=False)
    model = None
    model_path = None
    if cfg.ckpt is not None:
        how = (f"train one with `python -m intermask.train transformer data={cfg.data.name}` (or run `make demo`), "
               f"or convert a published one (`python -m intermask.convert official_dir=... dataset={cfg.data.name} "
               f"name=<run>`) and pass ckpt=PATH, or ckpt=null for the ground truth alone")
        model_path = resolve(cfg.ckpt, cfg.runs_root, cfg.data.name, "transformer",
                             how=f"No transformer checkpoint for {cfg.data.name!r}: {how}")
        model = load_interaction_model(model_path, device)
        if model.layout != dataset.layout:
            raise ConfigError(f"the model {model_path} generates {model.layout.dim} features per person, "
                              f"data={cfg.data.name} holds {dataset.layout.dim}: a model of another dataset")
    if max_items is not None and max_items < protocol.batch_size:
        raise ConfigError(f"protocol.quick.max_items={max_items} is below one evaluation batch "
                          f"({protocol.batch_size})")
    check_split_size(protocol, len(dataset) if max_items is None else min(len(dataset), max_items),
                     f"the {cfg.split} split of {source.root}", bool(cfg.quick))
    generation = generation_settings(cfg.generation, model)
    run = EvaluationRun(dataset, evaluator, model, protocol.batch_size, generation, device, max_items)
    if cfg.reconstruction:
        if model is None or source.format != "interhuman":
            raise ConfigError("--reconstruction needs a model (ckpt=...) of data in the InterHuman layout: its "
                              "VQ-VAE reconstructs the test clips")
        results = evaluate(protocol, run.ground_truth, run.reconstructed, run.embed, None, progress=True)
    else:
        results = evaluate(protocol, run.ground_truth, run.generated if model else None, run.embed,
                           run.multimodality if model else None, progress=True)
    table = format_table(results)
    what = f"VQ-VAE reconstruction by {model_path}" if cfg.reconstruction else model_path or "(ground truth only)"
    settings = []
    if model is not None and not cfg.reconstruction:
        settings += [f"{generation['steps']} decoding steps", f"guidance scale {generation['cond_scale']:g}"]
        rounds, round_steps = generation["collision_rounds"], generation["collision_steps"]
        if rounds:
            rounds_said = f"{rounds} collision round{'s' if rounds > 1 else ''}"
            settings.append(rounds_said + (f" of {round_steps} steps" if round_steps else ""))
        settings += [f"remask noise {generation['remask_noise']:g}"] if generation["remask_noise"] else []
        settings += ["overlapping bodies moved apart"] if model.separate_bodies else []
    if model is not None and model.lowpass_hz:  # the reconstructions are decoded through it too
        settings.append(f"low-pass {model.lowpass_hz:g} Hz")
    what = f"{what} ({', '.join(settings)})" if settings else what
    header = (f"{cfg.data.name} {cfg.split} split, {protocol.replications} replications, batch "
              f"{protocol.batch_size}; evaluator {evaluator_path}; model {what}")
    out = Path(cfg.out) if cfg.out else (model_path.parent if model_path else evaluator_path.parent)
    stem = (f"eval_{cfg.data.name}_{cfg.split}{'_reconstruction' if cfg.reconstruction else ''}"
            f"{'_quick' if cfg.quick else ''}")
    markdown, json_path = out / f"{stem}.md", out / f"{stem}.json"
    write_text_atomic(markdown, f"{header}\n\n{table}\n")
    write_text_atomic(json_path, results_to_json({**results, "evaluator": str(evaluator_path),
                                                  "model": str(model_path) if model_path else None,
                                                  "generation": {**generation, "lowpass_hz": model.lowpass_hz,
                                                                 "separate_bodies": model.separate_bodies}
                                                  if model_path else None}))
    return f"{header}\n\n{table}", [markdown, json_path]
