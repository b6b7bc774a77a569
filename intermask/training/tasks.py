"""What each model brings to the one Trainer: its model, its loss, its validation metrics, its previews.

``build_trainer(cfg)`` turns a resolved ``train`` config into a ready Trainer for ``cfg.kind``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..data.datasets import collate
from ..data.source import DataSource
from ..data.tokens import TokenInteractions, load_or_build_tokens
from ..errors import CheckpointError, ConfigError
from ..generation.decoding import DEFAULT_COND_SCALE, check_cond_scale, check_remask_noise
from ..generation.interaction_model import InterMask
from ..loading import load_vq, resolve
from ..metrics.physical import COLLIDERS
from ..metrics.text_motion import own_caption_preferred, r_precision
from ..models.losses import VQLossWeights, root_relative, vq_total_loss
from ..models.pair_geometry import PairGeometryTerm
from ..models.text import TextFeatureCache, build_text_encoder
from ..models.text_motion_evaluators import InterCLIPEvaluator, interclip_motion_input
from ..models.transformer import InterMTransformer
from ..models.vqvae import MotionVQVAE
from ..motion.coding import from_coded_pair, to_coded_pair
from ..motion.joints import ChannelJoints, JointReader
from ..motion.normalize import Normalizer
from ..motion.partner import from_partner_frame, to_partner_frame
from ..motion.skeleton import NUM_JOINTS
from ..motion.smoothing import check_cutoff
from ..precision import check_settings, resolve_device
from .schedule import DECAYS, milestones_from_fractions
from .trainer import Trainer, TrainerSettings, distributed_context, make_loader, seed_everything, unwrap_model

log = logging.getLogger(__name__)


def _tensor(array) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array), dtype=torch.float32)


# ------------------------------------------------------------------------------------------------ VQ-VAE


def placement_and_pose_errors(pred: torch.Tensor, target: torch.Tensor, root: int = 0):
    """Per-frame errors of joints (..., joint, 3): the root's distance (placement) and the mean distance of the
    joints once each body is moved to put its root at the origin (pose). Both (...), in the input's units."""
    placement = (pred[..., root, :] - target[..., root, :]).norm(dim=-1)
    pose = (root_relative(pred, root) - root_relative(target, root)).norm(dim=-1).mean(-1)
    return placement, pose


def one_person_a_row(windows: torch.Tensor) -> torch.Tensor:
    """VQ windows (batch, frame, feature), or pairs of them (batch, person=2, frame, feature) as rows 2i, 2i + 1."""
    return windows.flatten(0, 1) if windows.ndim == 4 else windows


class VQTask:
    """The 2D motion VQ-VAE on single-person windows (batch, frame, feature), normalised; a loss with a
    ``separation`` weight trains on both people of each window (batch, person=2, frame, feature) and ``capsules``
    (bone -> radius, m; default the physical metrics' ``COLLIDERS``) says which of their bones must not overlap.

    ``joints`` reads joint positions and rotations from the features (``motion.joints``; default: the layout's
    channels), for the losses, the validation errors and the previews.
    """

    kind = "vqvae"

    def __init__(self, model: MotionVQVAE, normalizer: Normalizer, weights: VQLossWeights = VQLossWeights(),
                 preview_window: torch.Tensor | None = None, geometry_in_metres: bool = False,
                 joints: JointReader | None = None, capsules=COLLIDERS):
        self.model = model
        self.weights = weights
        self.capsules = capsules
        self.geometry_in_metres = geometry_in_metres
        self.mean, self.std = _tensor(normalizer.mean), _tensor(normalizer.std)
        self.preview_window = preview_window
        self.joints = joints if joints is not None else ChannelJoints(model.layout)

    def to(self, device) -> None:
        self.model.to(device)
        self.mean, self.std = self.mean.to(device), self.std.to(device)

    def unit_size(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Normalised windows as the model codes them, one person a row (rows 2i, 2i + 1 of a pair's window), and
        the scales to give back: with its ``body_size``, each pair (batch, person=2, frame, feature) scaled to that
        size about the point between them (``motion.body_size``, in the world frame: a partner-frame window is put
        back in it first), and their scales (batch, 2); without, the windows as they are, and None."""
        model = unwrap_model(self.model)
        if model.body_size is None:
            return one_person_a_row(batch), None
        if batch.ndim != 4:
            raise ValueError(f"a tokenizer with a body_size is trained on pairs (batch, person=2, frame, feature), "
                             f"got windows of shape {tuple(batch.shape)}")
        raw = batch * self.std + self.mean
        world = from_partner_frame(raw, model.layout) if model.partner_frame else raw
        coded, scales = to_coded_pair(world, model.layout, model.body_size, model.partner_frame)
        return ((coded - self.mean) / self.std).flatten(0, 1), scales

    def world_size(self, features: torch.Tensor, scales: torch.Tensor | None) -> torch.Tensor:
        """The model's normalised output, one person a row -> raw features with each person at their own size
        (``unit_size`` undone), in the frame of the windows given."""
        raw = features.float() * self.std + self.mean
        if scales is None:
            return raw
        model = unwrap_model(self.model)
        world = from_coded_pair(raw.unflatten(0, (-1, 2)), model.layout, scales, model.partner_frame)
        return (to_partner_frame(world, model.layout) if model.partner_frame else world).flatten(0, 1)

    def training_step(self, batch: torch.Tensor, step: int):
        batch, _ = self.unit_size(batch)  # pairs: rows 2i, 2i + 1 of one window
        out = self.model(batch)
        model = unwrap_model(self.model)
        total, terms = vq_total_loss(out["recon"], batch, out["commit_loss"], self.mean, self.std, model.layout,
                                     self.weights, geometry_in_metres=self.geometry_in_metres, joints=self.joints,
                                     capsules=self.capsules, partner_frame=model.partner_frame)
        return total, {**terms, "perplexity": out["perplexity"], "usage": out["usage"]}

    def validate(self, loader: Iterable) -> dict[str, float]:
        """Reconstruction error in millimetres, split into where the person stands (``placement_mm``: the root
        joint) and the pose around it (``pose_mm``: joints relative to the root), each beside the error of always
        predicting the mean features (``mean_placement_mm``, ``mean_pose_mm``): a tokenizer that does not beat
        those has learnt nothing, whatever its losses say (for features used without normalisation, Inter-X's, the
        mean features are zero: every joint at the rest root). Also the feature L1 and the codebook's use."""
        model = unwrap_model(self.model)
        layout = model.layout
        sums = dict.fromkeys(("mpjpe_mm", "placement_mm", "pose_mm", "mean_placement_mm", "mean_pose_mm"), 0.0)
        l1_sum, frames, codes = 0.0, 0, []
        mean_joints = self.joints.positions(self.mean)
        for batch in loader:
            target = one_person_a_row(batch) * self.std + self.mean  # pairs: each person scored in its own frame
            batch, scales = self.unit_size(batch)
            out = model(batch)
            pred = self.world_size(out["recon"], scales)
            pred_joints, target_joints = self.joints.positions(pred), self.joints.positions(target)
            for prefix, joints in (("", pred_joints), ("mean_", mean_joints.expand_as(target_joints))):
                placement, pose = placement_and_pose_errors(joints, target_joints)
                sums[prefix + "placement_mm"] += float(placement.sum())
                sums[prefix + "pose_mm"] += float(pose.sum())
            sums["mpjpe_mm"] += float((pred_joints - target_joints).norm(dim=-1).mean(-1).sum())
            l1_sum += float((out["recon"].float() - batch)[..., : layout.contact.start].abs().mean(-1).sum())
            frames += batch.shape[0] * batch.shape[1]
            codes.append(out["codes"].flatten())
        counts = torch.bincount(torch.cat(codes), minlength=model.quantizer.num_codes).float()
        probs = counts / counts.sum()
        perplexity = float(torch.exp(-(probs[probs > 0] * probs[probs > 0].log()).sum()))
        return {**{name: 1000 * total / frames for name, total in sums.items()}, "feature_l1": l1_sum / frames,
                "codebook_usage": float((counts > 0).float().mean()), "perplexity": perplexity}

    def preview(self, step: int) -> dict[str, np.ndarray]:
        """Ground truth (first person) beside its reconstruction (second person, shifted 1 m to the side)."""
        if self.preview_window is None:
            return {}
        from ..outputs.video import render_frames

        model = unwrap_model(self.model)
        window = self.preview_window.to(self.mean.device)[None]  # (1, [person=2,] frame, feature): person 1 shown
        coded, scales = self.unit_size(window)
        truth = one_person_a_row(window)[:1] * self.std + self.mean
        features = torch.cat([truth, self.world_size(model(coded)["recon"], scales)[:1]])
        joints = self.joints.positions(features)[..., :NUM_JOINTS, :].cpu().numpy()  # the SMPL-22 body joints
        joints[1, ..., 0] += 1.0
        frames = render_frames(joints, "ground truth | reconstruction", [0, joints.shape[1] // 2])
        return {"reconstruction": np.concatenate(frames, axis=1)}


# ------------------------------------------------------------------------------------------- transformer


class TransformerTask:
    """Masked modelling of both people's token maps, conditioned on the caption.

    caption_changes: for a model with a caption aligner (``InterMask.aligner``), the one-detail changes
    (``DataSource.caption_changes``) whose altered captions its twins' term ranks against the batch's own.
    """

    kind = "transformer"

    def __init__(self, model: InterMask, text_cache: TextFeatureCache, interaction_mask_prob: float = 0.2,
                 step_unroll: bool = True, seed: int = 0,
                 caption_changes: Mapping[str, Callable[[str], str]] | None = None):
        self.model = model
        self.caption_changes = dict(caption_changes or {})
        self.text_cache = text_cache
        self.interaction_mask_prob = interaction_mask_prob
        self.step_unroll = step_unroll
        self.seed = seed
        self.generator: torch.Generator | None = None
        # the tokenizer the token cache was built with; a resumed run must have been trained on the same one
        self.vq_digest = weights_digest(model.vq)

    def extra_state(self) -> dict:
        return {"vq_digest": self.vq_digest}

    def load_extra_state(self, state: dict) -> None:
        saved = state.get("vq_digest")  # absent from checkpoints written before it was recorded
        if saved is not None and saved != self.vq_digest:
            vq_path = unwrap_model(self.model).config.get("vq_checkpoint")
            raise CheckpointError(
                f"this run was trained on another VQ-VAE than the one vq_ckpt gives now ({vq_path}): its tokens "
                f"would not be the ones the saved transformer learnt. Resume with vq_ckpt= set to the run's original "
                f"VQ-VAE, or start a new run (resume=never, or another hydra.run.dir)")

    def parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def _frozen_text(self, texts):
        model = unwrap_model(self.model)
        return model.text_encoder.frozen_features(model.caption_views(texts), self.text_cache)

    @staticmethod
    def _trimmed(batch: dict) -> torch.Tensor:
        """Token maps cut to the batch's longest sample: padding steps cost attention and teach nothing."""
        return batch["ids"][..., : int(batch["length_tokens"].max())]

    def masking_generator(self, device: torch.device, step: int) -> torch.Generator:
        """The generator of ``step``'s masking draws on this process, seeded by (seed, rank, step): each rank of a
        multi-GPU run draws its own masks, and a resumed run draws the masks it would have drawn."""
        if self.generator is None or self.generator.device != device:
            self.generator = torch.Generator(device=device)
        rank = distributed_context().rank
        return self.generator.manual_seed(int(np.random.SeedSequence([self.seed, rank, step]).generate_state(1)[0]))

    def _changed(self, texts: Sequence[str]):
        """For a model with a caption aligner: (rows, frozen text features, eot indices) of ``texts`` changed in one
        detail, or None."""
        if unwrap_model(self.model).aligner is None:
            return None
        pairs = one_detail_pairs(texts, self.caption_changes)
        if not pairs:
            return None
        frozen, eot = self._frozen_text([text for _, text in pairs])
        return torch.tensor([row for row, _ in pairs], device=frozen.device), frozen, eot

    def training_step(self, batch: dict, step: int):
        generator = self.masking_generator(batch["ids"].device, step)
        frozen, eot = self._frozen_text(batch["text"])
        return self.model(self._trimmed(batch), frozen, eot, batch["length_tokens"], generator=generator,
                          interaction_mask_prob=self.interaction_mask_prob, step_unroll=self.step_unroll,
                          changed=self._changed(list(batch["text"])))

    def validate(self, loader: Iterable) -> dict[str, float]:
        """Masked-token accuracy and loss on val (random masking, a fixed draw so numbers compare across steps),
        and the same loss with each caption given to another sample of its batch (``val_ce_other_text``): how
        much the model reads the text is the gap between the two (``val_text_gain``); a model that ignores its
        captions cannot act them out, however low its loss."""
        model = unwrap_model(self.model)
        sums: dict[str, float] = {}
        batches = 0
        for other_text in (False, True):
            generator = torch.Generator(device=model.mean.device).manual_seed(1234)
            for batch in loader:
                texts = list(batch["text"])
                if other_text:
                    texts = texts[1:] + texts[:1]
                frozen, eot = self._frozen_text(texts)
                # random masking only: the val tail batch may be odd, and one mode keeps numbers comparable
                # the caption aligner's twins only with the own captions: the other pass reads the masked-token loss
                changed = None if other_text else self._changed(texts)
                _, logs = model(self._trimmed(batch), frozen, eot, batch["length_tokens"], generator=generator,
                                interaction_mask_prob=0.0, step_unroll=False, changed=changed)
                if other_text:
                    sums["ce_other_text"] = sums.get("ce_other_text", 0.0) + float(logs["ce"])
                    continue
                for name, value in logs.items():
                    sums[name] = sums.get(name, 0.0) + float(value)
                batches += 1
        logs = {f"val_{name}": total / max(batches, 1) for name, total in sums.items()}
        logs["val_text_gain"] = logs["val_ce_other_text"] - logs["val_ce"]
        return logs


# --------------------------------------------------------------------------------------------- evaluator


def changed_captions(texts: Sequence[str], changes: Mapping[str, Callable[[str], str]]
                     ) -> dict[str, list[tuple[int, str]]]:
    """Per change: (row, changed caption) for the captions of ``texts`` it alters."""
    return {name: [(row, changed) for row, text in enumerate(texts) if (changed := change(text)) != text]
            for name, change in changes.items()}


def one_detail_pairs(texts: Sequence[str], changes: Mapping[str, Callable[[str], str]]) -> list[tuple[int, str]]:
    """``changed_captions`` in one list, change after change."""
    return [pair for found in changed_captions(texts, changes).values() for pair in found]


class EvaluatorTask:
    """Contrastive text–motion embedding (InterCLIP) on raw features of both people.

    caption_changes, detail_weight: with a weight > 0 (``train.detail_weight``), each caption changed in one detail
    (``DataSource.caption_changes``: mirrored, the people's names exchanged) is ranked against the motion's own
    caption, alone (``detail_loss``), beside the contrastive loss: so that the evaluator learns who acts and which
    side, not only the kind of interaction. Validation then reports, per change, how often a motion scores its
    own caption above the changed one (``detail_*``; 0.5 is blind to the detail).
    """

    kind = "evaluator"

    def __init__(self, model: InterCLIPEvaluator, text_encoder_backbone, text_cache: TextFeatureCache,
                 contact: slice, caption_changes: Mapping[str, Callable[[str], str]] | None = None,
                 detail_weight: float = 0.0):
        if detail_weight < 0:
            raise ConfigError(f"train.detail_weight must be >= 0, got {detail_weight}")
        self.model = model
        self.backbone = text_encoder_backbone
        self.text_cache = text_cache
        self.contact = contact
        self.caption_changes = dict(caption_changes or {}) if detail_weight > 0 else {}
        self.detail_weight = detail_weight

    def _embed(self, model, batch, extra_texts: Sequence[str] = ()):
        """(text_emb (batch + extra, d), motion_emb (batch, d)): the batch's captions, then ``extra_texts``."""
        motion = interclip_motion_input(batch["motion"][:, 0], batch["motion"][:, 1], self.contact)
        frozen, eot = self.text_cache.lookup([*batch["text"], *extra_texts], self.backbone)
        device = motion.device
        return model(motion, batch["length"], frozen.to(device), eot.to(device))

    def training_step(self, batch: dict, step: int):
        model = unwrap_model(self.model)
        texts = list(batch["text"])
        pairs = one_detail_pairs(texts, self.caption_changes)
        text_emb, motion_emb = self._embed(self.model, batch, [text for _, text in pairs])
        batch_size = len(texts)
        loss = model.contrastive_loss(text_emb[:batch_size], motion_emb)
        logs = {"latent_scale": model.latent_scale.detach()}
        if pairs:
            rows = torch.tensor([row for row, _ in pairs], device=motion_emb.device)
            detail = model.detail_loss(motion_emb[rows], text_emb[rows], text_emb[batch_size:])
            loss = loss + self.detail_weight * detail
            logs["detail_loss"] = detail.detach()
        return loss, logs

    @torch.no_grad()
    def validate(self, loader: Iterable) -> dict[str, float]:
        """Retrieval accuracy within each val batch: text -> motion top-1/top-3 and the matching distance; with
        caption changes, how often each change's caption scores below the motion's own."""
        model = unwrap_model(self.model)
        hits1 = hits3 = total = 0
        loss_sum = 0.0
        wins = {name: [0, 0] for name in self.caption_changes}
        for batch in loader:
            texts = list(batch["text"])
            changed = changed_captions(texts, self.caption_changes)
            extra = [text for pairs in changed.values() for _, text in pairs]
            text_all, motion_emb = self._embed(model, batch, extra)
            text_emb = text_all[:len(texts)]
            hits = r_precision(text_emb.float().cpu().numpy(), motion_emb.float().cpu().numpy(), top_k=3)
            hits1 += float(hits[0])
            hits3 += float(hits[2])
            total += len(text_emb)
            loss_sum += float(model.contrastive_loss(text_emb, motion_emb)) * len(text_emb)
            motion, own = motion_emb.float().cpu().numpy(), text_emb.float().cpu().numpy()
            offset = len(texts)
            for name, pairs in changed.items():
                rows = [row for row, _ in pairs]
                other = text_all[offset:offset + len(pairs)].float().cpu().numpy()
                offset += len(pairs)
                if pairs:
                    wins[name][0] += own_caption_preferred(motion[rows], own[rows], other)
                    wins[name][1] += len(pairs)
        logs = {"top1": hits1 / max(total, 1), "top3": hits3 / max(total, 1), "val_loss": loss_sum / max(total, 1)}
        logs.update({f"detail_{name.replace(' ', '_')}": right / count for name, (right, count) in wins.items()
                     if count})
        return logs


# ----------------------------------------------------------------------------------------------- builders


def _text_backbone(cfg):
    """The frozen backbone of the configured text encoder, and a feature cache for it."""
    encoder = build_text_encoder(dict(cfg.text_encoder))
    return encoder, TextFeatureCache(encoder.backbone.name)


def vq_loss_weights(weights) -> VQLossWeights:
    """``train.loss.weights`` (any subset of the terms; the rest keep the published values) as VQLossWeights."""
    known = [field.name for field in dataclasses.fields(VQLossWeights)]
    unknown = sorted(set(weights) - set(known))
    if unknown:
        raise ConfigError(f"train.loss.weights: unknown term(s) {unknown}; the terms are {known}")
    return VQLossWeights(**{name: float(value) for name, value in weights.items()})


def configured_vq_loss_weights(cfg) -> VQLossWeights:
    """The VQ-VAE loss of a training config: the published weights, then the dataset's own
    (``data.vq.loss_weights``), then ``train.loss.weights``, term by term."""
    layers = (cfg.data.get("vq", {}).get("loss_weights") or {}, cfg.train.get("loss", {}).get("weights") or {})
    return vq_loss_weights({name: value for layer in layers for name, value in layer.items() if value is not None})


def build_vq(cfg, source: DataSource):
    joints = source.joints()  # the body model, where the features need one, is read before any data
    model = MotionVQVAE(source.layout, **dict(cfg.model.vqvae))
    step = model.layout.time_downsample
    source.vq_window(multiple_of=step)  # settings checked before the statistics are fitted over the train split
    normalizer = source.normalizer()
    weights = configured_vq_loss_weights(cfg)
    # the separation term compares the two people of a window, the partner frame places one beside the other and a
    # body size scales both about the point between them: the windows then come in pairs
    partner = model.partner_frame
    pairs = partner or model.body_size is not None
    train_set = source.vq_windows("train", progress=cfg.progress, multiple_of=step,
                                  pairs=bool(weights.separation) or pairs, partner_frame=partner)
    val_set = source.vq_windows("val", progress=cfg.progress, multiple_of=step, pairs=pairs, partner_frame=partner)
    loss = cfg.train.get("loss", {})
    task = VQTask(model, normalizer, weights=weights, preview_window=val_set[0],
                  geometry_in_metres=bool(loss.get("geometry_in_metres", False)), joints=joints)
    return task, train_set, val_set, None, ("mpjpe_mm", "min")


def weights_digest(module: nn.Module) -> str:
    """A short digest of a module's state dict (names and values): equal exactly when the weights are equal."""
    digest = hashlib.sha256()
    for name, value in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


CAPTION_ALIGNER_KEYS = ("weight", "detail_weight", "width", "hidden", "embed")
PAIR_GEOMETRY_KEYS = ("weight", "window", "reach")


def _term_settings(name: str, settings, keys: Sequence[str]) -> dict:
    """``model.transformer.<name>`` as a plain dict, with an error naming any key that is not one of ``keys``."""
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(keys))
    if unknown:
        raise ConfigError(f"model.transformer.{name}: unknown key(s) {unknown}; the keys are {list(keys)}")
    return settings


def caption_aligner_settings(settings) -> dict:
    """``model.transformer.caption_aligner`` as InterMask's config reads it: {} when off (weight 0 or absent)."""
    settings = _term_settings("caption_aligner", settings, CAPTION_ALIGNER_KEYS)
    weight, detail = float(settings.get("weight", 0.0)), float(settings.get("detail_weight", 0.0))
    if weight < 0 or detail < 0:
        raise ConfigError(f"model.transformer.caption_aligner: weight and detail_weight must be >= 0, got {weight}, "
                          f"{detail}")
    if weight == 0:
        return {}
    return {"caption_aligner": {name: (float if "weight" in name else int)(value) for name, value in settings.items()}}


def pair_geometry_settings(settings) -> dict:
    """``model.transformer.pair_geometry`` as InterMask's config reads it: {} when off (weight 0 or absent)."""
    settings = _term_settings("pair_geometry", settings, PAIR_GEOMETRY_KEYS)
    if float(settings.get("weight", 0.0)) == 0:
        return {}
    try:
        term = PairGeometryTerm(**settings)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"model.transformer.pair_geometry: {error}") from None
    return {"pair_geometry": {"weight": term.weight, "window": term.window, "reach": term.reach}}


def _sampling_setting(network: dict, key: str, check: Callable, default):
    """``model.transformer.<key>`` taken out of ``network`` (``default`` where unset) and checked by ``check(value,
    where)``: a bad value is a ConfigError naming the key."""
    try:
        return check(network.pop(key, default), f"model.transformer.{key}")
    except ValueError as error:
        raise ConfigError(str(error)) from None


def transformer_settings(cfg, source: DataSource) -> tuple[dict, dict]:
    """``model.transformer`` split into the network's settings and what else InterMask's config holds: how it reads
    captions, {} (one condition for both people) or ``person_views`` (the phrases that name the two people,
    ``data.person_names``) and ``view_contrast``; the ``caption_aligner`` of its training, where one is on;
    ``velocities_from_positions``, where it is on; the guidance scale its samples use unless told otherwise
    (``cond_scale``, the paper's when unset); and the ``collision_rounds`` (with their ``collision_steps``),
    ``remask_noise``, ``lowpass_hz`` and ``separate_bodies`` of its sampling, where there are any."""
    network = dict(cfg.model.transformer)
    extras = {**caption_aligner_settings(network.pop("caption_aligner", None)),
              **pair_geometry_settings(network.pop("pair_geometry", None))}
    if "pair_geometry" in extras and not source.layout.has_positions:
        raise ConfigError(f"model.transformer.pair_geometry: data={cfg.data.name}'s features hold no joint positions "
                          "to measure the two people's distances on; leave the term off")
    extras["cond_scale"] = _sampling_setting(network, "cond_scale", check_cond_scale, DEFAULT_COND_SCALE)
    rounds = _sampling_setting(network, "collision_rounds", InterMask.check_collision_rounds, 0)
    if rounds:
        if not source.layout.has_positions:
            raise ConfigError(f"model.transformer.collision_rounds={rounds}: data={cfg.data.name}'s features hold no "
                              "joint positions to find the bodies' collisions in; set it to 0")
        extras["collision_rounds"] = rounds
    round_steps = _sampling_setting(network, "collision_steps", InterMask.check_collision_steps, None)
    if rounds and round_steps is not None:
        extras["collision_steps"] = round_steps
    remask_noise = _sampling_setting(network, "remask_noise", check_remask_noise, 0.0)
    if remask_noise:
        extras["remask_noise"] = remask_noise
    lowpass = _sampling_setting(network, "lowpass_hz",
                                lambda value, where: check_cutoff(value, source.layout.fps, where), None)
    if lowpass is not None:
        extras["lowpass_hz"] = lowpass
    if _sampling_setting(network, "separate_bodies", InterMask.check_separate_bodies, False):
        if not source.layout.has_positions:
            raise ConfigError(f"model.transformer.separate_bodies=true: data={cfg.data.name}'s features hold no joint "
                              "positions to move the people apart by; set it to false")
        extras["separate_bodies"] = True
    if network.pop("velocities_from_positions", False):
        if not source.layout.has_positions:
            raise ConfigError(f"model.transformer.velocities_from_positions=true: data={cfg.data.name}'s features "
                              "hold no joint positions to take the velocities from; set it to false")
        extras["velocities_from_positions"] = True
    views, contrast = network.pop("person_views", False), float(network.pop("view_contrast", 1.0))
    if not views:
        return network, extras
    names = source.person_names()
    if names is None:
        raise ConfigError("model.transformer.person_views=true reads each caption from both people's side, which "
                          "needs the phrases that name them: set data.person_names (e.g. [first person, second "
                          "person]) or model.transformer.person_views=false")
    if not contrast >= 1:
        raise ConfigError(f"model.transformer.view_contrast must be at least 1 (1: the views as encoded), got {contrast}")
    return network, {"person_views": list(names), "view_contrast": contrast, **extras}


def build_transformer(cfg, source: DataSource):
    network, extras = transformer_settings(cfg, source)
    # "latest" prefers this experiment's own VQ-VAE run
    own_vq = Path(cfg.runs_root) / cfg.data.name / f"vqvae_{cfg.experiment_name}" / "last.pt"
    vq_path = resolve(cfg.vq_ckpt, cfg.runs_root, cfg.data.name, "vqvae", preferred=own_vq)
    vq = load_vq(vq_path)
    normalizer = source.normalizer()
    text_encoder, cache = _text_backbone(cfg)
    max_time = int(cfg.data.max_frames) // vq.layout.time_downsample
    transformer_kwargs = dict(num_codes=vq.quantizer.num_codes, num_parts=vq.layout.num_parts, max_time=max_time,
                              text_dim=text_encoder.text_dim, cond_drop_prob=float(cfg.train.cond_drop_prob), **network)
    config = {"vq": vq.config, "transformer": transformer_kwargs, "text_encoder": dict(cfg.text_encoder),
              "feature_dim": vq.layout.dim, "vq_checkpoint": str(vq_path), **extras}
    if cfg.data.get("body_model"):  # where sampling reads joints of features that hold none (Inter-X)
        config["body_model"] = str(Path(cfg.data.body_model).resolve())
    model = InterMask(vq, InterMTransformer(**transformer_kwargs), text_encoder, _tensor(normalizer.mean),
                      _tensor(normalizer.std), config)
    device = resolve_device(cfg.device)
    token_dir = Path(cfg.run_dir) / "tokens"
    sets = {split: TokenInteractions(load_or_build_tokens(model, source, split, token_dir, vq_path, device,
                                                          progress=cfg.progress),
                                     person_order=cfg.data.person_order, seed=int(cfg.seed),
                                     person_names=source.person_names())
            for split in ("train", "val")}
    log.info("transformer on VQ %s: %d train / %d val token maps", vq_path, len(sets["train"]), len(sets["val"]))
    task = TransformerTask(model, cache, float(cfg.train.interaction_mask_prob), bool(cfg.train.step_unroll),
                           seed=int(cfg.seed), caption_changes=source.caption_changes())
    return task, sets["train"], sets["val"], collate, ("val_accuracy", "max")


def build_evaluator(cfg, source: DataSource):
    evaluator_kind = cfg.data.get("eval", {}).get("evaluator_kind", "evaluator")
    if evaluator_kind != "evaluator":
        raise ConfigError(f"data={cfg.data.name} is evaluated by a {evaluator_kind}, which is not trained here: "
                          f"convert the published one (python -m intermask.convert official_dir=... dataset={cfg.data.name})")
    text_encoder, cache = _text_backbone(cfg)
    layout = source.layout
    kwargs = dict(motion_dim=2 * (layout.dim - (layout.contact.stop - layout.contact.start)),
                  text_dim=text_encoder.text_dim, max_len=int(cfg.data.max_frames) + 1, **dict(cfg.model.evaluator))
    model = InterCLIPEvaluator(**kwargs)
    if model.input_norm:
        stats = source.normalizer()
        model.set_input_statistics(*(interclip_motion_input(x[None], x[None], layout.contact)[0]
                                     for x in (stats.mean, stats.std)))
    train_set = source.interactions("train", normalized=False, seed=int(cfg.seed))
    val_set = source.interactions("val", normalized=False, seed=int(cfg.seed), mirror=False)
    model.config = {"evaluator": {**kwargs}, "text_encoder": dict(cfg.text_encoder)}
    task = EvaluatorTask(model, text_encoder.backbone, cache, layout.contact, source.caption_changes(),
                         float(cfg.train.get("detail_weight", 0.0)))
    return task, train_set, val_set, collate, ("top1", "max")


BUILDERS = {"vqvae": build_vq, "transformer": build_transformer, "evaluator": build_evaluator}


def build_trainer(cfg) -> Trainer:
    """A Trainer for ``cfg.kind`` with the configured data, model and schedule."""
    if cfg.kind not in BUILDERS:
        raise ConfigError(f"kind must be one of {sorted(BUILDERS)}, got {cfg.kind!r}")
    # settings checked before any data is read
    time_limit = _minutes_to_seconds(cfg.train.get("time_limit_min"))
    fit_to_time = bool(cfg.train.get("fit_to_time_limit", False))
    if fit_to_time and time_limit is None:
        raise ConfigError("train.fit_to_time_limit=true fits the run into train.time_limit_min, which is null; "
                          "set both, or leave fit_to_time_limit false")
    check_settings(cfg.train, "train")
    decay = _decay(cfg.train.get("decay", "step"))
    source = DataSource(cfg.data)
    source.ensure(progress=cfg.progress)
    # the models' initial weights (and the VQ-VAE's preview window) come from the global generators: seed them
    # first, so that one seed gives one run
    seed_everything(int(cfg.seed))
    task, train_set, val_set, collate_fn, (best_metric, best_mode) = BUILDERS[cfg.kind](cfg, source)
    train = cfg.train
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    batch_size = min(int(train.batch_size), len(train_set))
    batch_size -= batch_size % 2  # interaction masking splits each batch in halves
    train_loader = make_loader(train_set, batch_size, shuffle=True, drop_last=True,
                               num_workers=int(train.num_workers), seed=int(cfg.seed), distributed=distributed,
                               collate_fn=collate_fn)
    val_loader = make_loader(val_set, int(train.batch_size), shuffle=False, drop_last=False,
                             num_workers=0, seed=int(cfg.seed), distributed=False, collate_fn=collate_fn)
    steps_per_epoch = len(train_loader)
    max_steps = int(train.max_steps) if train.max_steps else int(train.epochs) * steps_per_epoch
    # the spec's warm-up (a fraction of an epoch), but never more than a tenth of a short run
    warmup = min(round(float(train.warmup_epochs) * steps_per_epoch), max_steps // 10)
    from omegaconf import OmegaConf

    # the checkpoint rebuilds its model from "model_config" alone
    config = {**OmegaConf.to_container(cfg, resolve=True), "model_config": unwrap_model(task.model).config}
    settings = TrainerSettings(
        max_steps=max_steps, lr=float(train.lr), betas=tuple(train.betas), weight_decay=float(train.weight_decay),
        warmup_steps=warmup, milestones=milestones_from_fractions(max_steps, list(train.milestones)),
        gamma=float(train.gamma), decay=decay, grad_clip=train.grad_clip, log_every=train.log_every,
        val_every=train.val_every, ckpt_every=train.ckpt_every, preview_every=train.preview_every, amp=train.amp,
        compile=train.compile, device=cfg.device, resume=cfg.resume, config=config, seed=int(cfg.seed),
        progress=bool(cfg.progress), best_metric=best_metric, best_mode=best_mode, time_limit=time_limit,
        fit_to_time=fit_to_time)
    return Trainer(task, train_loader, val_loader, cfg.run_dir, settings)


def _decay(decay) -> str:
    if decay not in DECAYS:
        raise ConfigError(f"train.decay must be one of {', '.join(DECAYS)}, got {decay!r}")
    return str(decay)


def _minutes_to_seconds(minutes) -> float | None:
    if minutes is None:
        return None
    if not float(minutes) > 0:
        raise ConfigError(f"train.time_limit_min must be a positive number of minutes or null, got {minutes}")
    return float(minutes) * 60.0
