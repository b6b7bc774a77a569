"""Checkpoint references, and the models they hold: how every command finds a model and loads it.

``load_motion`` reads a motion a command starts from (render, reaction, editing): a result's .npy, a BVH with its
partner person, or a clip id of the configured dataset.

A reference (``ckpt=``, ``vq_ckpt=``, ``evaluator_ckpt=``) is one of

    a checkpoint file    runs/synthetic/transformer_demo/last.pt, converted/interhuman/transformer.pt
    a run folder         runs/synthetic/transformer_demo (its last.pt)
    "latest"             the newest last.pt of the wanted kind under runs/<dataset>/

``resolve`` turns it into a file, saying how to get one when there is none. Checkpoints describe themselves
(``intermask.checkpoint``), so each loader rebuilds its model from the file alone:

    load_vq                      "vqvae"                 MotionVQVAE
    load_interaction_model       "transformer"           InterMask (text encoder, Inter-M, frozen VQ-VAE, statistics)
    load_text_motion_evaluator   "evaluator"             TextMotionEvaluator (InterCLIP and its text backbone)
                                 "matching_evaluator"    InterXTextMotionEvaluator (Inter-X's network and GloVe)
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_checkpoint, peek_kind, resolve_checkpoint
from .data.interhuman import read_clip
from .data.interx import OBTAIN as OBTAIN_INTERX
from .data.source import DataSource
from .errors import CheckpointError, ConfigError, DatasetError, UsageError
from .generation.interaction_model import InterMask
from .models.text import TextFeatureCache, build_text_encoder
from .models.text_motion_evaluators import (GloVe, InterCLIPEvaluator, InterXMatchingEvaluator,
                                            interclip_motion_input, prepare_interx_motion)
from .models.vqvae import MotionVQVAE
from .motion.layout import INTERHUMAN
from .outputs.bvh import load_bvh_joints, read_bvh
from .outputs.writer import load_joints, load_sidecar


def resolve(reference: str | os.PathLike, runs_root: str | os.PathLike, dataset: str, kind: str,
            how: str | None = None, preferred: str | os.PathLike | None = None) -> Path:
    """The checkpoint file a reference names (module docstring).

    "latest" looks under ``runs_root/dataset`` for the newest last.pt of ``kind``, after ``preferred`` when that
    file exists (a transformer run prefers its own experiment's VQ-VAE). ``how``, when given, is appended to the
    error: what to do to get such a checkpoint.
    """
    try:
        if reference == "latest":
            if preferred is not None and Path(preferred).is_file():
                return Path(preferred)
            return resolve_checkpoint("latest", Path(runs_root) / dataset, kind=kind)
        return resolve_checkpoint(reference, runs_root, kind=kind)
    except CheckpointError as error:
        if how is None:
            raise
        raise CheckpointError(f"{error}. {how}") from error


def load_vq(path: str | os.PathLike) -> MotionVQVAE:
    """A VQ-VAE rebuilt from its "vqvae" checkpoint alone, on the CPU, in eval mode."""
    payload = load_checkpoint(path, kind="vqvae")
    model = MotionVQVAE.from_config(payload["config"]["model_config"])
    model.load_state_dict(payload["model"])
    return model.eval()


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

    It reads an item's caption (``text_key``) and two-person features (batch, 2, frame, feature) of ``layout``.
    """

    model: InterCLIPEvaluator
    backbone: torch.nn.Module
    cache: TextFeatureCache
    text_key = "text"
    format = "interhuman"
    layout = INTERHUMAN  # the per-person features of that format, whose foot contacts it leaves out

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
        motion = interclip_motion_input(raw[:, 0], raw[:, 1], self.layout.contact).to(device)
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


@dataclass
class MotionInput:
    """A motion a command starts from: joints (person, frame, 22, 3) Y-up metres; local rotations (person, frame,
    21, 6) where the source stores them (a dataset clip), else None; its caption (None when unknown); a name for
    what is written from it; its frame rate."""

    joints: np.ndarray
    rot6d: np.ndarray | None
    text: str | None
    name: str
    fps: float


def bvh_pair(path: Path) -> tuple[np.ndarray, str, float]:
    """Joints (person, frame, 22, 3) of a BVH file, with its partner when it is one of a result's
    ``<name>_person{1,2}.bvh`` files and the other exists; the result's name; the frame rate."""
    match = re.fullmatch(r"(.+)_person([12])", path.stem)
    paths = [path]
    if match:
        partner = path.with_name(f"{match[1]}_person{3 - int(match[2])}{path.suffix}")
        paths = sorted([path, partner] if partner.is_file() else [path], key=lambda p: p.stem)
    people = [load_bvh_joints(p) for p in paths]
    if len({len(person) for person in people}) > 1:
        raise UsageError(f"{paths[0]} and {paths[1]} hold different numbers of frames "
                         f"({len(people[0])} and {len(people[1])})")
    return np.stack(people), match[1] if match else path.stem, 1.0 / read_bvh(path).frame_time


def load_motion(reference: str | os.PathLike, data_cfg, fps: float, what: str = "input") -> MotionInput:
    """The motion ``reference`` names: a joints .npy (its sidecar's caption and frame rate where it has one), a .bvh
    (with its partner person), or a clip id of the dataset ``data_cfg`` describes. ``fps``: the frame rate assumed
    where the source names none. ``what`` names the input in errors."""
    path = Path(reference)
    if path.suffix.lower() not in (".npy", ".bvh"):
        clip = read_clip(DataSource(data_cfg).ensure(), str(reference))
        return MotionInput(clip.joints, clip.rot6d, clip.texts[0] if clip.texts else None, clip.name,
                           float(data_cfg.get("fps", fps)))
    if not path.is_file():
        raise UsageError(f"{what} {path}: file not found")
    if path.suffix.lower() == ".npy":
        try:
            joints, name = load_joints(path), path.stem
        except ValueError as error:
            raise UsageError(f"{what}: {error}") from None
    else:
        joints, name, fps = bvh_pair(path)
    sidecar_path = path.with_name(f"{name}.json")
    sidecar = load_sidecar(sidecar_path) if sidecar_path.is_file() else {}
    return MotionInput(joints, None, sidecar.get("text"), name, float(sidecar.get("fps", fps)))
