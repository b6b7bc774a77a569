"""What ``python -m intermask.sample`` does: sentences (or a given person's motion) in, interaction files out.

Top-down: ``sample_from_config`` resolves the checkpoint and loads the model (``loading``), generates with
``InterMask.generate`` (text encoder -> ``generation.decoding`` -> VQ-VAE decoder) and writes every result through
``outputs.writer``.
"""
from __future__ import annotations

import functools
import logging
import math
import re
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from omegaconf import OmegaConf

from .errors import ConfigError, UsageError
from .generation.interaction_model import InterMask
from .loading import load_interaction_model, resolve
from .models.text import caption_cuts
from .motion.canonical import canonicalize_person
from .motion.features import joints_to_features
from .motion.rotation import matrix_to_rot6d
from .motion.body_model import load_body_model
from .outputs.bvh import load_bvh_joints, solve_local_rotations
from .outputs.writer import load_joints, write_result
from .precision import check_settings, resolve_device

log = logging.getLogger(__name__)


def sample_from_config(cfg) -> dict[str, dict[str, Path]]:
    """Generate every prompt x num_samples (or a reaction), write each result; returns {name: files}."""
    check_settings(cfg.sample, "sample")
    device = resolve_device(cfg.device)
    ckpt = resolve(cfg.ckpt, cfg.runs_root, cfg.data.name, "transformer",
                   how=f"No text-to-interaction model for {cfg.data.name!r} yet: run `make demo`, or train one with "
                       f"`python -m intermask.train vqvae` then `python -m intermask.train transformer`, or pass "
                       f"ckpt=PATH")
    model = load_writable_model(ckpt, device)
    return sample_with(model, cfg.sample, ckpt, float(cfg.data.typical_seconds), device)


def load_writable_model(ckpt: Path, device: torch.device) -> InterMask:
    """The model of a transformer checkpoint, when its motions can be written as joints, video and BVH."""
    model = load_interaction_model(ckpt, device)
    if not model.layout.has_positions:
        raise ConfigError(f"{ckpt}: this model's features hold no joint positions (Inter-X's SMPL-X rotations need "
                          f"the SMPL-X body model, which is not wired in), so its motions cannot be written as "
                          f"joints, video or BVH; evaluate it with python -m intermask.eval --dataset interx ckpt=...")
    return model


def sample_with(model: InterMask, sample, ckpt: Path | str, typical_seconds: float, device: torch.device,
                progress: Callable[[str, int, int], None] | None = None) -> dict[str, dict[str, Path]]:
    """Generate and write what the ``sample`` config asks of an already loaded model; returns {name: files}.

    progress: called as progress(stage, done, total) with stage "decoding" (steps) and then "writing" (results).
    """
    for name in ("cond_scale", "temperature", "topk_ratio"):
        if not math.isfinite(float(sample[name])):
            raise UsageError(f"sample.{name}={sample[name]}: a finite number is needed")
    texts = prompts(sample)
    for cut in caption_cuts(model.text_encoder.backbone, texts):
        log.warning("%s", cut.message())
    generator = torch.Generator(device=device).manual_seed(int(sample.seed))
    settings = dict(cond_scale=float(sample.cond_scale), temperature=float(sample.temperature),
                    topk_ratio=float(sample.topk_ratio), gumbel=bool(sample.gumbel), generator=generator,
                    amp=str(sample.amp), compile=sample.compile,
                    progress=None if progress is None else functools.partial(progress, "decoding"))
    meta = {"seed": int(sample.seed), "checkpoint": str(ckpt), "config": OmegaConf.to_container(sample, resolve=True)}
    outputs = output_options(sample)
    if sample.reaction_to:
        return write_reactions(model, sample, texts, settings, meta, device, outputs, progress)
    return write_interactions(model, sample, texts, settings, meta, typical_seconds, outputs, progress)


def output_options(sample) -> dict:
    """``write_result``'s options from the sample settings; the body-model file is read (and checked) here, before
    anything is generated."""
    if "mesh" in sample.formats and not sample.body_model:
        raise UsageError("the mesh format needs a body model: sample.body_model=PATH to your SMPL .pkl or SMPL-X .npz "
                         "(https://smpl.is.tue.mpg.de, https://smpl-x.is.tue.mpg.de)")
    return dict(formats=sample.formats, bvh_units=sample.bvh_units, bvh_names=sample.bvh_names,
                body_model=load_body_model(sample.body_model) if sample.body_model else None)


def write_interactions(model: InterMask, sample, texts: list[str], settings: dict, meta: dict,
                       typical_seconds: float, outputs: dict, progress=None) -> dict[str, dict[str, Path]]:
    """Both people generated for every prompt, ``sample.num_samples`` times each."""
    if not texts:
        raise UsageError('no prompt: give --text "..." (repeatable) or --texts-file FILE')
    fps = model.layout.fps
    # without --length: the data's typical length, or the longest the model generates when that is shorter
    seconds = float(sample.length) if sample.length is not None else min(typical_seconds, model.max_frames / fps)
    if not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(f"--length {sample.length}: the length of the interaction in seconds, a positive number")
    frames = int(round(seconds * fps))
    batch = [text for text in texts for _ in range(int(sample.num_samples))]
    _, features = model.generate(batch, torch.full((len(batch),), frames), steps=int(sample.steps), **settings)
    joints = model.joints(features).cpu().numpy()
    results, taken = {}, set()
    for k, text in enumerate(batch):
        if progress is not None:
            progress("writing", k, len(batch))
        name = unique_name(f"{slug(text)}_{k % int(sample.num_samples)}", taken)
        results[name] = write_result(Path(sample.out), name, joints[k], text, {**meta, "length_frames": frames},
                                     fps=fps, **outputs)
    return results


def write_reactions(model: InterMask, sample, texts: list[str], settings: dict, meta: dict,
                    device: torch.device, outputs: dict, progress=None) -> dict[str, dict[str, Path]]:
    """The other person generated for the person of ``sample.reaction_to``, with at most one prompt."""
    given = reaction_source(sample.reaction_to, int(sample.reaction_person))
    actor, length, frame = actor_tokens(model, given, device)
    text = texts[0] if texts else None
    if len(texts) > 1:
        raise UsageError("a reaction takes at most one --text")
    num = int(sample.num_samples)
    _, features = model.generate([text] * num if text else None, torch.full((num,), length),
                                 steps=int(sample.reaction_steps), given=actor.repeat(num, 1, 1), **settings)
    joints = model.joints(features).cpu().numpy()
    results = {}
    for k in range(num):
        if progress is not None:
            progress("writing", k, num)
        world = frame.invert(joints[k])
        world[0] = given[:length]  # the given motion exactly as it came in
        name = f"reaction_{slug(text or Path(sample.reaction_to).stem)}_{k}"
        results[name] = write_result(Path(sample.out), name, world, text or "(reaction without text)",
                                     {**meta, "reaction_to": str(sample.reaction_to), "reaction_frames": [0, length]},
                                     fps=model.layout.fps, **outputs)
    return results


def slug(text: str, limit: int = 48) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:limit] or "interaction"


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``, ... when an earlier result of this run already has it (prompts that
    share their first words, or one prompt given twice), so no result overwrites another."""
    unique, count = name, 1
    while unique in taken:
        count += 1
        unique = f"{name}_{count}"
    taken.add(unique)
    return unique


def prompts(sample_cfg) -> list[str]:
    texts = list(sample_cfg.texts or [])
    if sample_cfg.texts_file:
        path = Path(sample_cfg.texts_file)
        if not path.is_file():
            raise UsageError(f"--texts-file {path}: file not found")
        texts += [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for text in texts:
        if not text.strip():
            raise UsageError("an empty --text was given; describe the interaction in words")
    return texts


def reaction_source(path: str | Path, person: int) -> np.ndarray:
    """The given person's joints (frame, 22, 3) from a result .npy (one or two people) or a .bvh."""
    path = Path(path)
    if person not in (0, 1):
        raise UsageError(f"--reaction-person {person}: 0 (the first person of the file) or 1 (the second)")
    if not path.is_file():
        raise UsageError(f"--reaction-to {path}: file not found")
    joints = load_bvh_joints(path) if path.suffix.lower() == ".bvh" else load_joints(path)
    if joints.ndim == 4:
        joints = joints[person]
    return joints.astype(np.float64)


def actor_tokens(model: InterMask, joints: np.ndarray, device: torch.device):
    """Tokens (1, part, step) of a person given by joint positions, with the canonical frame they live in."""
    canonical, frame = canonicalize_person(joints)
    rot6d = matrix_to_rot6d(solve_local_rotations(canonical)[:, 1:])
    features = joints_to_features(canonical, rot6d)
    if len(features) > model.max_frames:
        log.warning("the given motion has %d frames and the model generates at most %d: the reaction covers its "
                    "first %d frames", len(joints), model.max_frames, model.max_frames)
        features = features[: model.max_frames]
    length = len(features) - len(features) % model.frames_per_token
    if length < model.frames_per_token:
        raise UsageError(f"the given motion has {len(joints)} frames; at least {model.frames_per_token + 1} needed")
    motion = torch.zeros(1, 2, length, model.layout.dim, device=device)
    motion[0, 0] = model.normalize(torch.as_tensor(features[:length], dtype=torch.float32, device=device))
    ids = model.tokenize(motion, torch.tensor([length], device=device))
    return ids[:, 0], length, frame
