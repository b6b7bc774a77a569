"""What ``python -m intermask.sample`` does: sentences (or a given person's motion, or a motion to edit) in,
interaction files out.

Top-down: ``sample_from_config`` resolves the checkpoint and loads the model (``loading``), generates with
``InterMask.generate`` (text encoder -> ``generation.decoding`` -> VQ-VAE decoder), edits and chains windows with
``generation.editing``, and writes every result through ``outputs.writer``.
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

from .data.source import JOINT_READERS, format_of
from .errors import ConfigError, UsageError
from .generation.editing import (EditError, check_ranges, edit_interaction, extend_interaction, kept_runs,
                                 parse_seconds, part_rows, person_features, steps_within)
from .generation.interaction_model import InterMask
from .generation.separation import separation_offsets
from .loading import load_interaction_model, load_motion, resolve
from .models.text import caption_cuts
from .motion.body_model import load_body_model
from .motion.canonical import canonicalize_person
from .motion.joints import on_the_floor
from .outputs.bvh import load_bvh_joints
from .outputs.writer import write_result
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
    model = load_writable_model(ckpt, device, cfg.sample.body_model)
    return sample_with(model, cfg.sample, ckpt, float(cfg.data.typical_seconds), device, data_cfg=cfg.data)


def load_writable_model(ckpt: Path, device: torch.device, body_model: str | None = None) -> InterMask:
    """The model of a transformer checkpoint, ready to write its motions as joints, video and BVH.

    A model whose features hold no joint positions (Inter-X's SMPL-X rotations) reads them through its body model:
    ``body_model`` (``sample.body_model``) if given, else the file the model was trained with.
    """
    model = load_interaction_model(ckpt, device)
    if not model.layout.has_positions:
        path = body_model or model.config.get("body_model")
        if not path:
            raise ConfigError(f"{ckpt}: this model writes SMPL-X joint rotations, and its joints come from the SMPL-X "
                              f"body model: pass sample.body_model=PATH to your SMPLX_NEUTRAL.npz "
                              f"(https://smpl-x.is.tue.mpg.de)")
        model.joint_reader = JOINT_READERS[format_of(model.layout)]({"body_model": path})
    return model


def sample_with(model: InterMask, sample, ckpt: Path | str, typical_seconds: float, device: torch.device,
                progress: Callable[[str, int, int], None] | None = None,
                data_cfg=None) -> dict[str, dict[str, Path]]:
    """Generate and write what the ``sample`` config asks of an already loaded model; returns {name: files}.

    progress: called as progress(stage, done, total) with stage "decoding" (steps) and then "writing" (results).
    data_cfg: the data config, where an edit's input names a dataset clip.
    """
    for name in ("temperature", "topk_ratio"):
        if sample[name] is None or not math.isfinite(float(sample[name])):
            raise UsageError(f"sample.{name}={sample[name]}: a finite number is needed")
    # null: the model's own guidance scale, which the written settings then record
    try:
        cond_scale = model.guidance_scale(sample.cond_scale, "sample.cond_scale")
        collision_rounds = model.rounds_of_collisions(sample.get("collision_rounds"), "sample.collision_rounds")
        collision_steps = model.steps_of_collisions(int(sample.steps), sample.get("collision_steps"),
                                                    "sample.collision_steps")
        remask_noise = model.noise_of_remasking(sample.get("remask_noise"), "sample.remask_noise")
        lowpass_hz = model.use_lowpass(sample.get("lowpass_hz"), "sample.lowpass_hz")
        separate_bodies = model.use_separation(sample.get("separate_bodies"), "sample.separate_bodies")
    except ValueError as error:
        raise UsageError(str(error)) from None
    texts = prompts(sample)
    for cut in caption_cuts(model.text_encoder.backbone, texts):
        log.warning("%s", cut.message())
    generator = torch.Generator(device=device).manual_seed(int(sample.seed))
    settings = dict(cond_scale=cond_scale, temperature=float(sample.temperature),
                    topk_ratio=float(sample.topk_ratio), gumbel=bool(sample.gumbel), generator=generator,
                    amp=str(sample.amp), compile=sample.compile, collision_rounds=collision_rounds,
                    collision_steps=collision_steps, remask_noise=remask_noise,
                    progress=None if progress is None else functools.partial(progress, "decoding"))
    meta = {"seed": int(sample.seed), "checkpoint": str(ckpt),
            "config": {**OmegaConf.to_container(sample, resolve=True), "cond_scale": cond_scale,
                       "collision_rounds": collision_rounds, "collision_steps": collision_steps,
                       "remask_noise": remask_noise, "lowpass_hz": lowpass_hz,
                       "separate_bodies": separate_bodies}}
    outputs = output_options(sample)
    sizes = body_sizes(model, sample)
    if sample.reaction_to and sample.edit:
        raise UsageError("give either --reaction-to or --edit: a reaction is the edit that keeps one whole person")
    if (sample.reaction_to or sample.edit) and not model.layout.has_positions:
        raise UsageError(f"--{'reaction-to' if sample.reaction_to else 'edit'} starts from joint positions, and this "
                         f"model's features are body-model joint rotations, which joint positions do not give back; "
                         f"generate from text with it instead")
    if sample.reaction_to:
        return write_reactions(model, sample, texts, settings, meta, device, outputs, progress, data_cfg, sizes)
    if sample.edit:
        if sizes is not None:
            raise UsageError("--sizes sets the sizes of generated people; an edit keeps the people of its input")
        return write_edits(model, sample, texts, settings, meta, data_cfg, outputs)
    return write_interactions(model, sample, texts, settings, meta, typical_seconds, outputs, progress, sizes)


def body_sizes(model: InterMask, sample) -> torch.Tensor | None:
    """``sample.sizes`` checked: the two people's body sizes over the tokenizer's, (2,), or None (its own size)."""
    sizes = sample.get("sizes")
    if sizes is None:
        return None
    if model.vq.body_size is None:
        raise UsageError("--sizes: this model's tokenizer codes each person at their own size (model.vqvae.body_size "
                         "null), so the sizes come with the motion it generates and cannot be set")
    try:
        values = [float(size) for size in sizes]
    except (TypeError, ValueError):
        values = []
    if len(values) != 2 or not all(math.isfinite(size) and 0.5 <= size <= 2 for size in values):
        raise UsageError(f"--sizes {sizes}: two body sizes, the first person's and the second's, each over the "
                         f"tokenizer's (1: its own; 1.1: a tenth larger) between 0.5 and 2, e.g. --sizes 1.05,0.9")
    return torch.tensor(values)


def output_options(sample) -> dict:
    """``write_result``'s options from the sample settings; the body-model file is read (and checked) here, before
    anything is generated."""
    if "mesh" in sample.formats and not sample.body_model:
        raise UsageError("the mesh format needs a body model: sample.body_model=PATH to your SMPL .pkl or SMPL-X .npz "
                         "(https://smpl.is.tue.mpg.de, https://smpl-x.is.tue.mpg.de)")
    return dict(formats=sample.formats, bvh_units=sample.bvh_units, bvh_names=sample.bvh_names,
                body_model=load_body_model(sample.body_model) if sample.body_model else None)


def write_interactions(model: InterMask, sample, texts: list[str], settings: dict, meta: dict,
                       typical_seconds: float, outputs: dict, progress=None,
                       sizes: torch.Tensor | None = None) -> dict[str, dict[str, Path]]:
    """Both people generated for every prompt, ``sample.num_samples`` times each, at ``sizes`` (2,) where given."""
    if not texts:
        raise UsageError('no prompt: give --text "..." (repeatable) or --texts-file FILE')
    fps = model.layout.fps
    # without --length: the data's typical length, or the longest the model generates when that is shorter
    seconds = float(sample.length) if sample.length is not None else min(typical_seconds, model.max_frames / fps)
    if not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(f"--length {sample.length}: the length of the interaction in seconds, a positive number")
    frames = int(round(seconds * fps))
    if frames > model.max_frames and not model.layout.has_positions:
        raise UsageError(f"--length {seconds:g} s: this model generates at most {model.max_frames / fps:.1f} s, and "
                         f"longer clips continue each window from joint positions, which do not give back its "
                         f"body-model joint rotations")
    batch = [text for text in texts for _ in range(int(sample.num_samples))]
    if frames > model.max_frames:  # one clip of windows, each continuing the last
        joints, metas = [], []
        for text in batch:
            chained = extend_interaction(model, None, [text, *list(sample.then or [])], frames,
                                         overlap_frames(model, sample), int(sample.blend_frames),
                                         steps=int(sample.steps), sizes=sizes, **settings)
            joints.append(chained.joints)
            metas.append({"windows": [{"frames": [start, end], "text": caption}
                                      for start, end, caption in chained.windows], "seams_frames": chained.seams})
    else:
        if sample.then:
            raise UsageError(f"--then captions the windows after the first, and {seconds:g} s fit in one window "
                             f"({model.max_frames / fps:.1f} s)")
        scales = None if sizes is None else sizes.expand(len(batch), 2)
        _, features = model.generate(batch, torch.full((len(batch),), frames), steps=int(sample.steps),
                                     scales=scales, **settings)
        joints, metas = model.joints(features).cpu().numpy(), [{}] * len(batch)
        if not model.floor_at_zero:
            joints = on_the_floor(joints)
    results, taken = {}, set()
    for k, text in enumerate(batch):
        if progress is not None:
            progress("writing", k, len(batch))
        name = unique_name(f"{slug(text)}_{k % int(sample.num_samples)}", taken)
        results[name] = write_result(Path(sample.out), name, joints[k], text,
                                     {**meta, "length_frames": frames, **metas[k]}, fps=fps, **outputs)
    return results


PEOPLE = {"1": (0,), "2": (1,), "both": (0, 1)}


def overlap_frames(model: InterMask, sample) -> int:
    """``sample.overlap`` seconds as whole token steps of frames."""
    seconds = float(sample.overlap)
    fpt = model.frames_per_token
    frames = int(round(seconds * model.layout.fps / fpt)) * fpt
    if not math.isfinite(seconds) or not fpt <= frames <= model.max_frames - 2 * fpt:
        raise UsageError(f"--overlap {sample.overlap}: seconds kept from the previous window, from "
                         f"{fpt / model.layout.fps:.2f} to {(model.max_frames - 2 * fpt) / model.layout.fps:.2f}")
    return frames


def edit_request(model: InterMask, sample, clip_seconds: float) -> dict:
    """The edit the flags describe, checked: kept ranges (seconds), people, parts."""
    person = str(sample.edit_person)
    if person not in PEOPLE:
        raise UsageError(f"--edit-person {person}: 1, 2 or both")
    parts = None if sample.edit_parts is None else [p.strip() for p in str(sample.edit_parts).split(",") if p.strip()]
    part_rows(parts, model.layout)
    if sample.keep and sample.change:
        raise UsageError("give --keep (the ranges kept) or --change (the ranges regenerated), not both")
    keep = [parse_seconds(text, clip_seconds) for text in sample.keep or []]
    if sample.change:
        change = sorted(parse_seconds(text, clip_seconds) for text in sample.change)
        for start, end in change:
            if not 0 <= start < end <= clip_seconds + 1e-6:
                raise EditError(f"--change {start:g}:{end:g} s: needs 0 <= start < end <= {clip_seconds:.2f} "
                                f"(the clip's length in seconds)")
        bounds = [0.0, *[b for span in change for b in span], clip_seconds]
        keep = [(a, b) for a, b in zip(bounds[::2], bounds[1::2]) if b > a]
    return {"keep": keep, "people": PEOPLE[person], "parts": parts}


def motion_at(reference, data_cfg, fps: float, flag: str):
    """The motion ``flag`` names (``loading.load_motion``), which must be at the model's frame rate ``fps``."""
    motion = load_motion(reference, data_cfg, fps, flag)
    if abs(motion.fps - fps) > 1e-3:
        raise UsageError(f"{flag} {reference}: {motion.fps:g} fps, and the model works at {fps:g} fps; resample the "
                         f"motion first")
    return motion


def edit_input(model: InterMask, sample, data_cfg=None):
    """The motion ``sample.edit`` names, checked (frame rate, two people), the edited clip's frames, and the edit
    the flags describe (``edit_request``); UsageError says what is wrong. The app calls it before queueing."""
    fps = model.layout.fps
    motion = motion_at(sample.edit, data_cfg, fps, "--edit")
    if motion.joints.ndim != 4 or motion.joints.shape[0] != 2:
        raise UsageError(f"--edit {sample.edit}: holds one person; an edit needs both (--reaction-to generates "
                         f"a partner)")
    input_seconds = motion.joints.shape[1] / fps
    seconds = float(sample.length) if sample.length is not None else input_seconds
    if not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(f"--length {sample.length}: the length of the edited clip in seconds, a positive number")
    frames = int(round(seconds * fps))
    window = min(frames, model.max_frames)
    request = edit_request(model, sample, window / fps)
    check_ranges(request["keep"], (window - window % model.frames_per_token) / fps, "kept range")
    return motion, frames, request


def write_edits(model: InterMask, sample, texts: list[str], settings: dict, meta: dict,
                data_cfg, outputs: dict) -> dict[str, dict[str, Path]]:
    """The input of ``sample.edit`` with what the flags name regenerated (and continued in windows past the model's
    length), ``sample.num_samples`` times."""
    fps = model.layout.fps
    motion, frames, request = edit_input(model, sample, data_cfg)
    if len(texts) > 1:
        raise UsageError("an edit takes at most one --text (--then captions later windows)")
    text = texts[0] if texts else motion.text
    window = min(frames, model.max_frames)
    if motion.joints.shape[1] > window:
        log.warning("--edit %s has %d frames and the edit's first window %d: the rest of the input is not used",
                    sample.edit, motion.joints.shape[1], window)
    if frames > model.max_frames:
        overlap = overlap_frames(model, sample)
    elif sample.then:
        raise UsageError(f"--then captions the windows after the first, and {frames / fps:g} s fit in one window "
                         f"({model.max_frames / fps:.1f} s)")
    results = {}
    for k in range(int(sample.num_samples)):
        edited = edit_interaction(model, motion.joints, text, **request, length=window,
                                  blend_frames=int(sample.blend_frames), rot6d=motion.rot6d,
                                  steps=int(sample.steps), **settings)
        joints, seams, windows = edited.joints, edited.seams, []
        fades = [{str(seam): fade for seam, fade in person.items()} for person in edited.fades]
        if frames > model.max_frames:
            chained = extend_interaction(model, joints, list(sample.then or []) or [text], frames, overlap,
                                         int(sample.blend_frames), steps=int(sample.steps), **settings)
            joints, seams = chained.joints, seams + chained.seams
            windows = [{"frames": [start, end], "text": caption} for start, end, caption in chained.windows]
        kept = steps_within(request["keep"], edited.keep.shape[-1], model.frames_per_token, fps)
        record = {"source": str(sample.edit), "source_frames": motion.joints.shape[1],
                  "people": [p + 1 for p in request["people"]], "parts": request["parts"] or "all",
                  "keep_requested_seconds": request["keep"],
                  "kept_seconds": _spans(kept.repeat_interleave(model.frames_per_token).numpy(), fps),
                  "seams_frames": seams, "blend_frames": int(sample.blend_frames), "fade_frames": fades,
                  "windows": windows}
        name = f"edit_{slug(text or motion.name)}_{k}"
        results[name] = write_result(Path(sample.out), name, joints, text or "(edit without text)",
                                     {**meta, "length_frames": joints.shape[1], "edit": record}, fps=fps, **outputs)
    return results


def _spans(flags: np.ndarray, fps: float) -> list[list[float]]:
    """[start, end] seconds of the runs of True in a (frame,) bool array."""
    return [[round(a / fps, 4), round(b / fps, 4)] for a, b in kept_runs(flags)]


def write_reactions(model: InterMask, sample, texts: list[str], settings: dict, meta: dict,
                    device: torch.device, outputs: dict, progress=None, data_cfg=None,
                    sizes: torch.Tensor | None = None) -> dict[str, dict[str, Path]]:
    """The other person generated for the person of ``sample.reaction_to``, with at most one prompt; at the second of
    ``sizes`` where given (the given person keeps their own)."""
    given, rot6d = reaction_source(sample.reaction_to, int(sample.reaction_person), data_cfg, model.layout.fps)
    actor, length, frame, scale = actor_tokens(model, given, device, rot6d)
    text = texts[0] if texts else None
    if len(texts) > 1:
        raise UsageError("a reaction takes at most one --text")
    num = int(sample.num_samples)
    other = 1.0 if sizes is None else float(sizes[1])
    # bodies moved apart from the given motion as it came in, below, not from its decoded tokens, which only
    # approximate it
    _, features = model.generate([text] * num if text else None, torch.full((num,), length),
                                 steps=int(sample.reaction_steps), given=actor.repeat(num, 1, 1),
                                 scales=torch.tensor([[scale, other]]).repeat(num, 1), separate_bodies=False,
                                 **settings)
    joints = model.joints(features).cpu().numpy()
    results = {}
    for k in range(num):
        if progress is not None:
            progress("writing", k, num)
        world = reaction_world(frame, joints[k], given, model.separate_bodies)
        name = f"reaction_{slug(text or Path(sample.reaction_to).stem)}_{k}"
        results[name] = write_result(Path(sample.out), name, world, text or "(reaction without text)",
                                     {**meta, "reaction_to": str(sample.reaction_to), "reaction_frames": [0, length]},
                                     fps=model.layout.fps, **outputs)
    return results


def reaction_world(frame, joints: np.ndarray, given: np.ndarray, separate: bool) -> np.ndarray:
    """A reaction's two people (2, frame, 22, 3) in the given motion's world: the generated one from ``joints`` in the
    given person's canonical ``frame``, the given one exactly as it came in; with ``separate``, the generated one
    moved off the given one wherever their bodies overlap (``generation.separation``)."""
    world = frame.invert(joints)
    world[0] = given[:world.shape[1]]
    if separate:
        world = world + separation_offsets(world, movable=(False, True))[:, :, None]
    return world


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


def reaction_source(reference: str | Path, person: int, data_cfg=None, fps: float = 30.0
                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """The given person's joints (frame, 22, 3), and its local rotations (frame, 21, 6) where the source stores them,
    from what ``--reaction-to`` names: a result's .npy (one or two people), one person's .bvh, or a clip id of the
    dataset ``data_cfg`` describes. ``fps``: the model's frame rate, which the motion must have."""
    if person not in (0, 1):
        raise UsageError(f"--reaction-person {person}: 0 (the first person of the file) or 1 (the second)")
    path = Path(reference)
    if path.suffix.lower() == ".bvh":  # one person's file is that person, whichever partner lies beside it
        if not path.is_file():
            raise UsageError(f"--reaction-to {path}: file not found")
        return load_bvh_joints(path).astype(np.float64), None
    motion = motion_at(reference, data_cfg, fps, "--reaction-to")
    joints, rot6d = motion.joints, motion.rot6d
    if joints.ndim == 4:
        if person >= len(joints):
            raise UsageError(f"--reaction-person {person}: {reference} holds one person")
        joints, rot6d = joints[person], None if rot6d is None else rot6d[person]
    return joints.astype(np.float64), rot6d


def actor_tokens(model: InterMask, joints: np.ndarray, device: torch.device, rot6d: np.ndarray | None = None):
    """Tokens (1, part, step) of a person given by joint positions (and local rotations where known), with the
    canonical frame they live in and their body scale (``InterMask.body_scales``; the other person is generated at
    the tokenizer's size)."""
    if len(joints) < model.frames_per_token:
        raise UsageError(f"the given motion has {len(joints)} frames; at least {model.frames_per_token} needed")
    canonical, frame = canonicalize_person(joints)
    features = person_features(model, canonical, rot6d)
    if len(features) > model.max_frames:
        log.warning("the given motion has %d frames and the model generates at most %d: the reaction covers its "
                    "first %d frames", len(joints), model.max_frames, model.max_frames)
        features = features[: model.max_frames]
    length = len(features) - len(features) % model.frames_per_token
    motion = torch.zeros(1, 2, length, model.layout.dim, device=device)
    motion[0, 0] = features[:length].to(device)
    lengths = torch.tensor([length], device=device)
    ids = model.tokenize(motion, lengths)
    return ids[:, 0], length, frame, float(model.body_scales(motion, lengths)[0, 0])
