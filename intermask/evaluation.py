"""The paper's evaluation on a dataset's test split: supplies the protocol's callables from data, a trained
text–motion evaluator and (optionally) a text-to-interaction model, then writes the table."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .atomic import write_text_atomic
from .data.datasets import Interactions, collate
from .data.interx import OBTAIN as OBTAIN_INTERX
from .data.interx import InterXInteractions
from .data.source import TRAINABLE, DataSource, check_exists
from .errors import ConfigError, DatasetError
from .metrics.protocol import EvalBatch, ProtocolConfig, evaluate, format_table, results_to_json
from .models.evaluator import (GloVe, InterCLIPEvaluator, InterXMatchingEvaluator, interclip_motion_input,
                               prepare_interx_motion)
from .models.pipeline import InterMask, build_text_encoder
from .models.text import TextFeatureCache
from .motion.layout import INTERHUMAN
from .precision import check_settings, resolve_device
from .training.checkpoint import CheckpointError, load_checkpoint, peek_kind, resolve_checkpoint

log = logging.getLogger(__name__)


def load_interaction_model(path: str | Path, device: torch.device) -> InterMask:
    """A text-to-interaction model rebuilt from its transformer checkpoint alone."""
    payload = load_checkpoint(path, kind="transformer")
    model = InterMask.build(payload["config"]["model_config"])
    model.load_state_dict(payload["model"])
    return model.to(device).eval()


class CLIPTokenFeatures(torch.nn.Module):
    """The released InterCLIP's frozen text features: CLIP token + position embeddings from its own tables.

    captions -> (features (b, 77, 768), eot_index (b,)); needs the ``clip`` package's tokenizer only.
    """

    name = "clip_tokens"

    def __init__(self, evaluator: InterCLIPEvaluator):
        super().__init__()
        object.__setattr__(self, "evaluator", evaluator)  # not a submodule: its weights live in the evaluator

    def forward(self, texts):
        try:
            import clip
        except ImportError as error:
            raise ImportError("the released InterCLIP evaluator tokenises with CLIP: pip install 'intermask[clip]'"
                              ) from error
        context = self.evaluator.positional_embedding.shape[0]
        return self.evaluator.token_features(clip.tokenize(list(texts), context_length=context, truncate=True))


@dataclass
class TextMotionEvaluator:
    """A trained evaluator with its frozen text backbone and a caption cache.

    It reads an item's caption (``text_key``) and two-person features (batch, 2, frame, 262).
    """

    model: InterCLIPEvaluator
    backbone: torch.nn.Module
    cache: TextFeatureCache
    text_key = "text"
    format = "interhuman"

    @classmethod
    def load(cls, path: str | Path, device: torch.device) -> "TextMotionEvaluator":
        payload = load_checkpoint(path, kind="evaluator")
        config = payload["config"]["model_config"]
        model = InterCLIPEvaluator(**config["evaluator"])
        model.load_state_dict(payload["model"])
        model = model.to(device).eval()
        if config["text_encoder"]["name"] == CLIPTokenFeatures.name:  # a converted official evaluator
            backbone = CLIPTokenFeatures(model)
        else:
            backbone = build_text_encoder(config["text_encoder"]).backbone.to(device)
        # float32: the evaluator reads the backbone's features unrounded, as the published evaluation does
        return cls(model, backbone, TextFeatureCache(backbone.name, dtype=torch.float32))

    @torch.no_grad()
    def embed_text(self, texts: list[str]) -> torch.Tensor:
        device = self.model.out.weight.device
        frozen, eot = self.cache.lookup(texts, self.backbone)
        return self.model.encode_text(frozen.to(device), eot.to(device))

    @torch.no_grad()
    def embed_motion(self, raw: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Raw two-person features (batch, 2, frame, feature) -> (batch, dim)."""
        device = self.model.out.weight.device
        motion = interclip_motion_input(raw[:, 0], raw[:, 1], INTERHUMAN.contact).to(device)
        return self.model.encode_motion(motion, lengths.to(device))


@dataclass
class InterXTextMotionEvaluator:
    """Inter-X's text–motion matching network with its GloVe vectors.

    It reads an item's caption tokens (``text_key``: "word/POS" strings, cropped to ``max_tokens``) and the
    pair's motion (batch, frame, 56, 12).
    """

    model: InterXMatchingEvaluator
    glove: GloVe
    max_tokens: int = 35
    text_key = "tokens"
    format = "interx"

    @classmethod
    def load(cls, path: str | Path, device: torch.device, glove_dir: str | Path,
             vip_words: dict | None = None, max_tokens: int = 35) -> "InterXTextMotionEvaluator":
        payload = load_checkpoint(path, kind="matching_evaluator")
        model = InterXMatchingEvaluator(**payload["config"]["model_config"]["evaluator"])
        model.load_state_dict(payload["model"])
        try:
            glove = GloVe(glove_dir, vip_words={tag: list(words) for tag, words in dict(vip_words or {}).items()})
        except FileNotFoundError as error:
            raise DatasetError(f"{error}. Inter-X's evaluator reads the word vectors of its glove/ folder "
                               f"(data.eval.glove). {OBTAIN_INTERX}") from error
        if glove.dim != model.word_dim:
            raise ConfigError(f"{glove_dir}: {glove.dim}-d word vectors, the evaluator {path} reads "
                              f"{model.word_dim}-d ones")
        return cls(model.to(device).eval(), glove, int(max_tokens))

    @torch.no_grad()
    def embed_text(self, tokens: list[list[str]]) -> torch.Tensor:
        device = self.model.text_encoder.pos_emb.weight.device
        words, onehots, lengths = zip(*(self.glove.encode(t, self.max_tokens) for t in tokens))
        return self.model.encode_text(torch.from_numpy(np.stack(words)).to(device),
                                      torch.from_numpy(np.stack(onehots)).to(device),
                                      torch.tensor(lengths, device=device))

    @torch.no_grad()
    def embed_motion(self, motion: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The pair's motion (batch, frame, 56, 12) -> (batch, dim)."""
        device = self.model.text_encoder.pos_emb.weight.device
        return self.model.encode_motion(prepare_interx_motion(motion).to(device), lengths.to(device))


def load_text_motion_evaluator(path: str | Path, device: torch.device, data_cfg):
    """The evaluator a checkpoint holds: InterCLIP-style ("evaluator") or Inter-X's ("matching_evaluator")."""
    if peek_kind(path) == "matching_evaluator":
        evaluation = data_cfg.get("eval", {})
        settings = {name: evaluation[name] for name in ("vip_words", "max_tokens") if name in evaluation}
        return InterXTextMotionEvaluator.load(path, device, evaluation.get("glove", Path(data_cfg["root"]) / "glove"),
                                              **settings)
    return TextMotionEvaluator.load(path, device)


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

    def _batches(self, rng: np.random.Generator) -> Iterator[dict]:
        """One stochastic pass: fresh crops/captions/orders (a new epoch seed) in a shuffled order."""
        self.dataset.set_epoch(int(rng.integers(2**31)))
        order = rng.permutation(len(self.dataset))[: self.items]
        for start in range(0, len(order), self.batch_size):
            yield collate([self.dataset[int(i)] for i in order[start:start + self.batch_size]])

    def ground_truth(self, rng: np.random.Generator) -> Iterator[EvalBatch]:
        for batch in self._batches(rng):
            yield EvalBatch(batch[self.evaluator.text_key], batch["motion"], batch["length"],
                            self.dataset.joints(batch["motion"]))

    def _generate(self, texts: list[str], lengths: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Generated motion in the dataset's item format (raw: not normalised) and its lengths (frames, multiples
        of 4)."""
        generator = torch.Generator(device=self.device).manual_seed(seed)
        frames = lengths - lengths % self.model.frames_per_token
        _, features = self.model.generate(texts, frames, generator=generator, **self.generation)
        raw = self.model.denormalize(features).cpu()
        steps = torch.arange(raw.shape[2])
        raw = raw * (steps[None, None, :, None] < frames[:, None, None, None])  # zero past each length
        return self.dataset.from_people(raw), frames

    def generated(self, rng: np.random.Generator) -> Iterator[EvalBatch]:
        for batch in self._batches(rng):
            raw, frames = self._generate(batch["text"], batch["length"], int(rng.integers(2**31)))
            yield EvalBatch(batch[self.evaluator.text_key], raw, frames, self.dataset.joints(raw))

    def multimodality(self, rng: np.random.Generator, num_texts: int, num_samples: int) -> np.ndarray:
        picks = rng.choice(len(self.dataset), size=num_texts, replace=num_texts > len(self.dataset))
        embeddings = []
        for index in picks:
            item = self.dataset[int(index)]
            lengths = torch.full((num_samples,), item["length"])
            raw, frames = self._generate([item["text"]] * num_samples, lengths, int(rng.integers(2**31)))
            embeddings.append(self.evaluator.embed_motion(raw, frames).cpu().numpy())
        return np.stack(embeddings)

    def embed(self, batch: EvalBatch):
        return self.evaluator.embed_text(list(batch.text)), self.evaluator.embed_motion(batch.motion, batch.lengths)


def _checkpoint(value, cfg, kind: str, how: str) -> Path:
    try:
        return resolve_checkpoint(value, Path(cfg.runs_root) / cfg.data.name if value == "latest" else cfg.runs_root,
                                  kind=kind)
    except CheckpointError as error:
        raise CheckpointError(f"{error}. No {kind} checkpoint for {cfg.data.name!r}: {how}") from error


def evaluate_from_config(cfg) -> tuple[str, list[Path]]:
    """Run the protocol as configured; returns the Markdown table and the files written."""
    check_settings(cfg.generation, "generation")
    source = DataSource(cfg.data)
    check_exists(source)
    device = resolve_device(cfg.device)
    protocol, max_items = protocol_config(cfg)
    evaluator_kind = cfg.data.eval.get("evaluator_kind", "evaluator")
    how = (f"train one with `python -m intermask.train evaluator data={cfg.data.name}` (or run `make demo`), or "
           f"pass its path" if evaluator_kind == "evaluator" else
           "convert the published one (`python -m intermask.convert official_dir=...`) and pass evaluator_ckpt=PATH")
    evaluator_path = _checkpoint(cfg.evaluator_ckpt, cfg, evaluator_kind, how)
    evaluator = load_text_motion_evaluator(evaluator_path, device, cfg.data)
    if evaluator.format != source.format:
        raise ConfigError(f"the evaluator {evaluator_path} reads {evaluator.format} motion, data={cfg.data.name} "
                          f"is {source.format}")
    dataset = source.interactions(cfg.split, normalized=False, seed=int(protocol.seed), mirror=False)
    model = None
    model_path = None
    if cfg.ckpt is not None:
        how = (f"train one with `python -m intermask.train transformer data={cfg.data.name}` (or run `make demo`), "
               f"or pass its path" if source.format in TRAINABLE else
               f"convert a published one (`python -m intermask.convert official_dir=... dataset={cfg.data.name} "
               f"name=<run>`) and pass ckpt=PATH, or ckpt=null for the ground truth alone")
        model_path = _checkpoint(cfg.ckpt, cfg, "transformer", how)
        model = load_interaction_model(model_path, device)
        if model.layout != dataset.layout:
            raise ConfigError(f"the model {model_path} generates {model.layout.dim} features per person, "
                              f"data={cfg.data.name} holds {dataset.layout.dim}: a model of another dataset")
    if max_items is not None and max_items < protocol.batch_size:
        raise ConfigError(f"protocol.quick.max_items={max_items} is below one evaluation batch "
                          f"({protocol.batch_size})")
    run = EvaluationRun(dataset, evaluator, model, protocol.batch_size, dict(cfg.generation), device, max_items)
    results = evaluate(protocol, run.ground_truth, run.generated if model else None, run.embed,
                       run.multimodality if model else None, progress=True)
    table = format_table(results)
    header = (f"{cfg.data.name} {cfg.split} split, {protocol.replications} replications, batch "
              f"{protocol.batch_size}; evaluator {evaluator_path}; model {model_path or '(ground truth only)'}")
    out = Path(cfg.out) if cfg.out else (model_path.parent if model_path else evaluator_path.parent)
    stem = f"eval_{cfg.data.name}_{cfg.split}{'_quick' if cfg.quick else ''}"
    markdown, json_path = out / f"{stem}.md", out / f"{stem}.json"
    write_text_atomic(markdown, f"{header}\n\n{table}\n")
    write_text_atomic(json_path, results_to_json({**results, "evaluator": str(evaluator_path),
                                                  "model": str(model_path) if model_path else None}))
    return f"{header}\n\n{table}", [markdown, json_path]
