"""The whole text-to-interaction model: text encoder + Inter-M transformer + frozen VQ-VAE + normaliser.

One module so that a single checkpoint rebuilds everything ``sample`` and ``eval`` need: its state dict holds
the trainable text encoder, the transformer, the (frozen) VQ-VAE and the feature statistics.
"""
from __future__ import annotations

from functools import partial
from typing import Callable, Sequence

import torch
from einops import rearrange
from torch import nn

from ..models.caption_aligner import CaptionAligner
from ..models.masking import transformer_training_loss
from ..models.pair_geometry import PairGeometryTerm
from ..models.text import TextEncoder, TextFeatureCache, build_text_encoder
from ..models.transformer import InterMTransformer
from ..models.vqvae import MotionVQVAE
from ..motion.augment import swap_person_names
from ..motion.body_size import body_scale
from ..motion.coding import from_coded_pair, to_coded_pair
from ..motion.features import velocities_from_positions
from ..motion.joints import ChannelJoints, JointReader
from ..motion.layout import FeatureLayout
from ..motion.skeleton import NUM_JOINTS
from ..motion.smoothing import check_cutoff, lowpass_frames
from ..precision import autocast, resolve_compile
from .collisions import resolve_collisions
from .decoding import DEFAULT_COND_SCALE, check_cond_scale, check_remask_noise, generate, keep_grid, reaction_keep
from .separation import separation_offsets


class InterMask(nn.Module):
    """Captions and lengths in, two-person features out; also tokenisation and reaction generation.

    Features are (batch, person=2, frame, feature) normalised unless a method says otherwise.
    """

    # the keys of ``model.transformer`` that are this class's settings (its config), not the network's
    SETTINGS = ("person_views", "view_contrast", "caption_aligner", "pair_geometry", "velocities_from_positions",
                "cond_scale", "collision_rounds", "collision_steps", "remask_noise", "lowpass_hz", "separate_bodies")

    def __init__(self, vq: MotionVQVAE, transformer: InterMTransformer, text_encoder: TextEncoder,
                 mean: torch.Tensor, std: torch.Tensor, config: dict | None = None):
        super().__init__()
        self.config = config or {}
        if transformer.text_dim != text_encoder.text_dim:
            raise ValueError(f"transformer text_dim {transformer.text_dim} != text encoder's {text_encoder.text_dim}")
        if transformer.num_codes != vq.quantizer.num_codes:
            raise ValueError(f"transformer num_codes {transformer.num_codes} != VQ's {vq.quantizer.num_codes}")
        self.vq = vq.requires_grad_(False).eval()
        self.transformer = transformer
        self.text_encoder = text_encoder
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        # config "person_views": the phrases that name the two people in captions (e.g. ["first person", "second
        # person"]); when set, each person is conditioned on the caption read from their own side: person 2's copy
        # has the names exchanged, so "the first person" always means the one being generated. A caption that names
        # who does what then tells each person their own part directly, where one shared condition leaves the
        # network to pair a name with a person. None: one condition for both (the published models)
        self.person_views = tuple(self.config["person_views"]) if self.config.get("person_views") else None
        # config "view_contrast": how much the difference between the two people's conditions is magnified (about
        # their mean). A caption and its name-swapped twin share every word, so their encodings lie close together
        # (about 1 apart where two captions of different interactions lie 10 apart); 1 keeps them as encoded
        self.view_contrast = float(self.config.get("view_contrast", 1.0))
        # config "caption_aligner": the settings of a training-time head (``models.caption_aligner``) that ties the
        # caption's condition to the ground-truth token maps, so that the condition carries who acts and which side;
        # absent: none (the published models). Not used at sampling
        aligner = self.config.get("caption_aligner")
        cond_dim = text_encoder.text_dim * (2 if self.person_views else 1)
        self.aligner = (CaptionAligner(transformer.num_codes, transformer.num_parts, cond_dim, **aligner)
                        if aligner else None)
        # config "pair_geometry": the settings of a training-time term (``models.pair_geometry``) that compares the
        # distances between the two people's joints decoded from the predicted tokens with the ground truth's; absent:
        # none (the published models). Not used at sampling
        geometry = self.config.get("pair_geometry")
        self.pair_geometry = PairGeometryTerm(**geometry) if geometry else None
        if self.pair_geometry is not None and vq.partner_frame:
            raise ValueError("pair_geometry decodes each person in the world frame; this tokenizer codes the second "
                             "person relative to the first (partner_frame): train without one of them")
        # config "velocities_from_positions": decoded features get their own positions' frame differences as their
        # velocities, as the data's are built, where the decoder's velocity channels only approximate them (the
        # joints, what a user sees, are unchanged; what an evaluator reads of the velocities then agrees with them;
        # docs/synthetic-training.md: velocities that agree with the positions). Absent: as decoded (the published)
        self.velocities_from_positions = bool(self.config.get("velocities_from_positions", False))
        if self.velocities_from_positions and not vq.layout.has_positions:
            raise ValueError("velocities_from_positions needs features that hold joint positions; this layout has none")
        # config "lowpass_hz": decoded features, all but the foot contacts, are low-passed over time at this cutoff
        # (``motion.smoothing``, zero phase): a small tokenizer's decoder shakes the joints with noise above the
        # motion's own frequencies (docs/synthetic-training.md: a low-pass on the decoded motion). Absent: as decoded
        self.lowpass_hz = check_cutoff(self.config.get("lowpass_hz"), vq.layout.fps, "config lowpass_hz")
        # config "cond_scale": the guidance scale ``generate`` uses when its caller gives none; absent: the paper's
        self.cond_scale = check_cond_scale(self.config.get("cond_scale", DEFAULT_COND_SCALE), "config cond_scale")
        # config "collision_rounds": how many times ``generate`` gives the frames where the two bodies pass through
        # each other back to the transformer (``generation.collisions``); absent: 0, as first decoded (the paper)
        self.collision_rounds = self.check_collision_rounds(self.config.get("collision_rounds", 0),
                                                            "config collision_rounds")
        # config "collision_steps": how many decoding steps each of those rounds takes over the tokens it masks again;
        # absent: as many as the first decoding's
        self.collision_steps = self.check_collision_steps(self.config.get("collision_steps"), "config collision_steps")
        # config "remask_noise": the noise on the ranking of the tokens ``generate`` masks again
        # (``generation.decoding``); absent: 0, by confidence alone (the paper's)
        self.remask_noise = check_remask_noise(self.config.get("remask_noise", 0.0), "config remask_noise")
        # config "separate_bodies": after the collision rounds, ``generate`` moves the two people apart where one body
        # is still inside the other (``generation.separation``); absent: false, as decoded (the paper)
        self.separate_bodies = self.check_separate_bodies(self.config.get("separate_bodies", False),
                                                          "config separate_bodies")
        # how ``joints`` reads joints from features (``motion.joints``); None: the layout's position channels. A
        # layout without them (Inter-X) is given its data code's reader (``sampling.load_writable_model``)
        self.joint_reader: JointReader | None = None

    @classmethod
    def build(cls, config: dict) -> "InterMask":
        """Rebuild from plain data: {"vq": MotionVQVAE config, "transformer": InterMTransformer kwargs,
        "text_encoder": text encoder config, "feature_dim": int}; weights come from a state dict."""
        vq = MotionVQVAE.from_config(config["vq"])
        text_encoder = build_text_encoder(config["text_encoder"])
        transformer = InterMTransformer(**config["transformer"])
        dim = config.get("feature_dim", vq.layout.dim)
        return cls(vq, transformer, text_encoder, torch.zeros(dim), torch.ones(dim), config)

    def forward(self, ids: torch.Tensor, frozen_text: torch.Tensor, eot_index: torch.Tensor,
                lengths_tokens: torch.Tensor, generator: torch.Generator | None = None,
                interaction_mask_prob: float = 0.2, step_unroll: bool = True,
                changed: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None):
        """The training objective on token maps ids (b, 2, part, step) and cached frozen text features of
        ``caption_views`` of the batch's captions; with a caption aligner, plus its loss, and ``changed`` = (rows
        (pairs,), frozen text features, eot indices) of the captions at those rows changed in one detail (names
        exchanged, mirrored) for its twins' term."""
        cond = self.condition_from_frozen(frozen_text, eot_index)
        geometry = None if self.pair_geometry is None else partial(
            self.pair_geometry, ids=ids, lengths_tokens=lengths_tokens, codebook=self.vq.quantizer.codebook,
            decode_joints=lambda vectors: self.joints(self.vq.decode_vectors(vectors)), generator=generator)
        loss, logs = transformer_training_loss(self.transformer, ids, cond, lengths_tokens, generator,
                                               interaction_prob=interaction_mask_prob, unroll=step_unroll,
                                               logit_loss=geometry)
        if self.aligner is None:
            return loss, logs
        rows = changed_cond = None
        if changed is not None:
            rows, changed_frozen, changed_eot = changed
            changed_cond = self.condition_from_frozen(changed_frozen, changed_eot)
        aligned, terms = self.aligner(ids, lengths_tokens, cond, rows, changed_cond)
        return loss + aligned, {**logs, **terms}

    def train(self, mode: bool = True) -> "InterMask":
        super().train(mode)
        self.vq.eval()  # the tokenizer is frozen: no dropout, no codebook updates
        return self

    @property
    def layout(self) -> FeatureLayout:
        return self.vq.layout

    @property
    def frames_per_token(self) -> int:
        return self.layout.time_downsample

    @property
    def max_frames(self) -> int:
        return self.transformer.max_time * self.frames_per_token

    def normalize(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.std

    def denormalize(self, features: torch.Tensor) -> torch.Tensor:
        return features * self.std + self.mean

    def caption_views(self, texts: Sequence[str]) -> list[str]:
        """The captions the text encoder reads for ``texts``: themselves, or with ``person_views`` the b captions as
        person 1 reads them followed by the b as person 2 does (names exchanged)."""
        if self.person_views is None:
            return list(texts)
        return [*texts, *(swap_person_names(text, self.person_views) for text in texts)]

    def condition_from_frozen(self, frozen_text: torch.Tensor, eot_index: torch.Tensor) -> torch.Tensor:
        """Frozen features of ``caption_views`` -> the transformer's condition: (b, text_dim), or (b, 2, text_dim)
        with ``person_views``, the two people's differences magnified by ``view_contrast``."""
        cond = self.text_encoder.encode_from_frozen(frozen_text, eot_index)
        if self.person_views is None:
            return cond
        cond = rearrange(cond, "(n b) f -> b n f", n=2)
        if self.view_contrast == 1:
            return cond
        mean = cond.mean(1, keepdim=True)
        return mean + self.view_contrast * (cond - mean)

    def encode_text(self, texts: Sequence[str], cache: TextFeatureCache | None = None) -> torch.Tensor:
        """Captions -> the transformer's condition, (b, text_dim) or per person (b, 2, text_dim)."""
        return self.condition_from_frozen(*self.text_encoder.frozen_features(self.caption_views(texts), cache))

    def body_scales(self, motion: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Each person's size as this tokenizer keeps it apart from their tokens (``MotionVQVAE.body_size``):
        normalised motion (b, 2, frame, feature) with valid ``lengths`` (b,) -> scales (b, 2), their skeleton's size
        over the tokenizer's; ones for a tokenizer that codes each person at their own size."""
        if self.vq.body_size is None:
            return torch.ones(motion.shape[:2], device=motion.device)
        return body_scale(self.denormalize(motion), self.layout, self.vq.body_size,
                          self._person_lengths(motion, lengths))

    @staticmethod
    def _person_lengths(motion: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Each clip's valid frames (b,) as each person's (b, 2), on ``motion``'s device: only they say a size."""
        return lengths.to(motion.device)[:, None].expand(motion.shape[:2])

    @torch.no_grad()
    def tokenize(self, motion: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Normalised motion (b, 2, frame, feature) with valid ``lengths`` (b,) -> ids (b, 2, part, frame // 4).

        Only valid frames are encoded (no padding leaks into the last tokens); steps beyond a sample's length
        hold the pad id. A tokenizer with a ``body_size`` codes each person scaled to it: decode with their
        ``body_scales`` to get them back at their own size.
        """
        batch = motion.shape[0]
        frames = motion.shape[2] - motion.shape[2] % self.frames_per_token
        motion = motion[:, :, :frames]
        if self.vq.body_size is not None or self.vq.partner_frame:  # as this tokenizer codes pairs
            coded, _ = to_coded_pair(self.denormalize(motion), self.layout, self.vq.body_size, self.vq.partner_frame,
                                     self._person_lengths(motion, lengths))
            motion = self.normalize(coded)
        people = rearrange(motion, "b n f c -> (b n) f c")
        ids = self.vq.encode(people, lengths=lengths.repeat_interleave(2), pad_id=self.transformer.pad_id)
        return rearrange(ids, "(b n) p t -> b n p t", b=batch)

    @torch.no_grad()
    def decode(self, ids: torch.Tensor, lengths_tokens: torch.Tensor | None = None,
               scales: torch.Tensor | None = None) -> torch.Tensor:
        """ids (b, 2, part, step) -> normalised features (b, 2, 4 step, feature); with ``lowpass_hz`` low-passed over
        time, and with ``velocities_from_positions`` their velocities are their positions' frame differences.

        scales (b, 2): with a tokenizer that keeps each person's size apart from their tokens (``body_size``), each
        person's size over the tokenizer's (``body_scales`` of the motion tokenized); None: everyone at the
        tokenizer's size. Ignored by a tokenizer without one.

        With ``lengths_tokens`` (b,), each clip is decoded from its valid steps only (``MotionVQVAE.decode``) and
        frames past them are zero; without, the whole grid is decoded and pads act as a zero latent.

        The decoder runs in float32 even inside a bf16 autocast (``generate``'s ``amp``): in bf16 (an 8-bit
        mantissa) it put 3-4 mm of noise on the joints, up to 40 mm, and made their jitter 1.7-1.9x float32's, for
        a part of sampling that costs a few percent of it (docs/performance.md: on this CPU).
        """
        batch = ids.shape[0]
        people_lengths = None if lengths_tokens is None else lengths_tokens.repeat_interleave(2)
        with torch.autocast(ids.device.type, enabled=False):
            features = rearrange(self.vq.decode(rearrange(ids, "b n p t -> (b n) p t"), people_lengths),
                                 "(b n) f c -> b n f c", b=batch)
        frames = (torch.full((batch,), features.shape[2], device=features.device) if lengths_tokens is None
                  else lengths_tokens.to(features.device) * self.frames_per_token)
        if self.vq.body_size is not None or self.vq.partner_frame:
            scales = None if self.vq.body_size is None else self.check_scales(scales, batch, features.device)
            world = from_coded_pair(self.denormalize(features), self.layout, scales, self.vq.partner_frame)
            valid = torch.arange(features.shape[2], device=features.device) < frames[:, None]
            features = torch.where(valid[:, None, :, None], self.normalize(world), features)
        if self.lowpass_hz is not None:  # on the normalised features: the filter's unit gain commutes with z-scoring
            smoothed = torch.ones(self.layout.dim, dtype=torch.bool)
            smoothed[self.layout.contact] = False
            features = lowpass_frames(features, frames, self.lowpass_hz, self.layout.fps, smoothed)
        if not self.velocities_from_positions:
            return features
        velocity = self.layout.velocity
        consistent = self.normalize(velocities_from_positions(self.denormalize(features), frames, self.layout))
        features = features.clone()
        features[..., velocity] = consistent[..., velocity]
        return features

    @staticmethod
    def check_scales(scales: torch.Tensor | None, batch: int, device: torch.device) -> torch.Tensor:
        """Body scales for ``batch`` pairs, checked: (batch, 2), finite and > 0; None: ones (the tokenizer's size)."""
        if scales is None:
            return torch.ones(batch, 2, device=device)
        scales = torch.as_tensor(scales, dtype=torch.float32, device=device)
        if scales.shape != (batch, 2):
            raise ValueError(f"scales: expected one scale a person, shape ({batch}, 2), got {tuple(scales.shape)}")
        if not bool((torch.isfinite(scales) & (scales > 0)).all()):
            raise ValueError(f"scales must be finite and > 0 (a person's size over the tokenizer's), got "
                             f"{scales.tolist()}")
        return scales

    def check_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Frame lengths -> token steps, with an error for a length outside what the model was trained on."""
        steps = torch.div(lengths, self.frames_per_token, rounding_mode="floor")
        low, high = self.frames_per_token, self.max_frames
        if bool(((lengths < low) | (lengths > high)).any()):
            raise ValueError(f"lengths must lie in [{low}, {high}] frames ({low / self.layout.fps:.2f}-"
                             f"{high / self.layout.fps:.1f} s at {self.layout.fps} fps), got {lengths.tolist()}")
        return steps

    def guidance_scale(self, asked: float | None = None, where: str = "cond_scale") -> float:
        """The guidance scale to sample at: ``asked``, checked (a ValueError naming ``where``), or this model's own
        (``cond_scale``) when None."""
        return self.cond_scale if asked is None else check_cond_scale(asked, where)

    @torch.no_grad()
    def generate(self, texts: Sequence[str] | None, lengths: torch.Tensor, steps: int = 20,
                 cond_scale: float | None = None,
                 temperature: float = 1.0, topk_ratio: float = 0.9, gumbel: bool = False,
                 generator: torch.Generator | None = None, cache: TextFeatureCache | None = None,
                 given: torch.Tensor | None = None, given_person: int = 0, fixed_ids: torch.Tensor | None = None,
                 keep: torch.Tensor | None = None, amp: str = "off", compile: str | bool = False,
                 progress: Callable[[int, int], None] | None = None,
                 collision_rounds: int | None = None, collision_steps: int | None = None,
                 remask_noise: float | None = None, scales: torch.Tensor | None = None,
                 separate_bodies: bool | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Interactions for ``texts`` (or the null condition when None) of ``lengths`` frames (b,).

        cond_scale: the classifier-free guidance scale; None: the model's own (``cond_scale``, from its config).
        given: optional ids (b, part, step) of one person (``given_person``) whose tokens stay fixed: reaction
        generation, the special case of ``fixed_ids`` (b, 2, part, step) with ``keep`` (b, 2, part, step) bool, True
        for each token that stays (editing: ``generation.editing``). amp: "auto" | "bf16" | "off"
        (``intermask.precision``, as for sampling): bf16 autocast around the transformer; the VQ decoder runs in
        float32. compile: "auto" | True | False (``intermask.precision``): run the transformer through torch.compile
        from this call on (the first call compiles; pays off over many batches). progress: called as
        progress(steps done, steps) after each decoding step. collision_rounds: how many times the frames where the
        two bodies overlap are decoded again (``generation.collisions``); None: the model's own (``collision_rounds``,
        from its config). collision_steps: the decoding steps of each such round; None: the model's own
        (``collision_steps``), or ``steps`` where it has none. remask_noise: the noise on the ranking of the tokens to
        mask again (``generation.decoding``); None: the model's own. separate_bodies: move the two people apart
        where their bodies still overlap (``separate``); None: the model's own. scales: (b, 2) each person's size, for a
        tokenizer that keeps it apart from the tokens (``decode``); None: the tokenizer's own size for everyone.
        Returns (ids (b, 2, part, step), normalised float32 features (b, 2, 4 step, feature)); each clip is
        decoded from its own tokens only, so it does not depend on the rest of the batch, and frames past
        4 * (length // 4) are zero.
        """
        device = self.mean.device
        cond_scale = self.guidance_scale(cond_scale, "generate")
        rounds = self.rounds_of_collisions(collision_rounds, "collision_rounds")
        round_steps = self.steps_of_collisions(steps, collision_steps, "collision_steps")
        remask_noise = self.noise_of_remasking(remask_noise, "remask_noise")
        separate = self.separate_bodies if separate_bodies is None else self.check_separate_bodies(
            separate_bodies, "separate_bodies")
        if separate and not self.layout.has_positions:
            raise ValueError("separate_bodies moves the joint positions of the features; this model's layout holds none")
        if rounds and self.joint_reader is None and not self.layout.has_positions:
            raise ValueError("collision_rounds needs the generated joints; this model's layout holds no positions and "
                             "no joint reader is set")
        if resolve_compile(compile, device):
            self.transformer.compile_logits()
        if given is not None:
            if fixed_ids is not None:
                raise ValueError("generate: give either given (one person's tokens) or fixed_ids with keep")
            fixed_ids, keep = reaction_keep(given.to(device), given_person)
        with autocast(amp, device, inference=True):
            token_steps = self.check_lengths(lengths.to(device))
            scales = self.check_scales(scales, len(token_steps), device)
            cond = self.encode_text(texts, cache) if texts is not None else None
            settings = dict(steps=steps, cond_scale=cond_scale, temperature=temperature, topk_ratio=topk_ratio,
                            gumbel=gumbel, generator=generator, remask_noise=remask_noise)
            ids = generate(self.transformer, cond, token_steps, fixed_ids=fixed_ids, keep=keep, progress=progress,
                           **settings)
            features = self.decode(ids, token_steps, scales)
            fixed = (torch.zeros_like(ids, dtype=torch.bool) if fixed_ids is None
                     else keep_grid(keep, tuple(ids.shape)).to(ids.device))  # the tokens the caller gave
            if rounds:

                def redecode(rows, row_ids, row_keep):
                    row_cond = None if cond is None else cond[rows]
                    return generate(self.transformer, row_cond, token_steps[rows], fixed_ids=row_ids, keep=row_keep,
                                    **{**settings, "steps": round_steps})

                def decode(rows, row_ids, row_steps):
                    return self.decode(row_ids, row_steps, scales[rows])

                ids, features, _ = resolve_collisions(ids, features, token_steps, fixed, rounds, redecode, decode,
                                                    self.joints, self.frames_per_token)
            if separate:  # a person any of whose tokens were given (a reaction's actor, an edit's kept span) stays
                movable = ~fixed.flatten(2).any(dim=2)
                features = self.separate(features.float(), token_steps * self.frames_per_token, movable)
        return ids, features.float()

    def separate(self, features: torch.Tensor, frames: torch.Tensor, movable: torch.Tensor | None = None,
                 ) -> torch.Tensor:
        """Normalised features (b, 2, frame, feature) with ``frames`` (b,) valid -> the same with the two people of
        each clip moved apart horizontally where their torsos, heads or thighs overlap (``generation.separation``):
        positions shifted, velocities by the shift's frame differences, all else as given. movable (b, 2) bool: who
        may move (default both); a clip whose two people may not is returned as given."""
        if not self.layout.has_positions:
            raise ValueError("separate: this model's features hold no joint positions to move")
        movable = torch.ones(features.shape[:2], dtype=torch.bool) if movable is None else movable.bool().cpu()
        joints = self.joints(features).detach().float().cpu().numpy()
        world = self.denormalize(features)
        moved = world.clone()
        position, velocity = self.layout.position, self.layout.velocity
        for row, count in enumerate(frames.tolist()):
            offsets = torch.as_tensor(separation_offsets(joints[row, :, :count], movable[row].tolist()),
                                      dtype=world.dtype, device=world.device)[:, :, None]  # (2, count, 1, 3)
            if not bool(offsets.any()):  # nothing overlaps (or nobody may move, or no frames)
                continue
            shifted = world[row, :, :count, position].unflatten(-1, (-1, 3)) + offsets
            moved[row, :, :count, position] = shifted.flatten(-2)
            step = world[row, :, :count - 1, velocity].unflatten(-1, (-1, 3)) + offsets[:, 1:] - offsets[:, :-1]
            moved[row, :, :count - 1, velocity] = step.flatten(-2)
        return self.normalize(moved)

    def rounds_of_collisions(self, asked: int | None = None, where: str = "collision_rounds") -> int:
        """The collision rounds to sample with: ``asked``, checked (a ValueError naming ``where``), or this model's own
        (``collision_rounds``) when None; ``guidance_scale``'s twin."""
        return self.collision_rounds if asked is None else self.check_collision_rounds(asked, where)

    def steps_of_collisions(self, steps: int, asked: int | None = None, where: str = "collision_steps") -> int:
        """The decoding steps of each collision round after a first decoding of ``steps``: ``asked``, checked (a
        ValueError naming ``where``), or this model's own (``collision_steps``) when None, or ``steps`` where the
        model has none."""
        own = self.collision_steps if asked is None else self.check_collision_steps(asked, where)
        return steps if own is None else own

    def use_lowpass(self, asked: float | None = None, where: str = "lowpass_hz") -> float | None:
        """Set the low-pass that decoded motion gets from now on: ``asked`` in Hz (checked: a ValueError naming
        ``where``), 0 for none, or None to keep this model's own; returns the cutoff in use (None: no filter)."""
        if isinstance(asked, (int, float)) and not isinstance(asked, bool) and asked == 0:
            self.lowpass_hz = None
        elif asked is not None:
            try:
                self.lowpass_hz = check_cutoff(asked, self.layout.fps, where)
            except ValueError:
                raise ValueError(f"{where} must be 0 (no filter), null (the model's own) or a cutoff in Hz strictly "
                                 f"between 0 and {self.layout.fps / 2:g}, got {asked!r}") from None
        return self.lowpass_hz

    def noise_of_remasking(self, asked: float | None = None, where: str = "remask_noise") -> float:
        """The remask noise to sample with: ``asked``, checked (a ValueError naming ``where``), or this model's own
        (``remask_noise``) when None; ``guidance_scale``'s twin."""
        return self.remask_noise if asked is None else check_remask_noise(asked, where)

    @staticmethod
    def check_collision_rounds(value, where: str) -> int:
        """A number of collision rounds (``generation.collisions``), checked: a whole number >= 0."""
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{where} must be a whole number >= 0 (rounds of decoding the frames where the two "
                             f"bodies overlap again; 0: none), got {value!r}")
        return value

    @staticmethod
    def check_separate_bodies(value, where: str) -> bool:
        """Whether to move overlapping bodies apart (``separate``), checked: true or false."""
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false (move the two people apart where their bodies still "
                             f"overlap after sampling), got {value!r}")
        return value

    def use_separation(self, asked: bool | None = None, where: str = "separate_bodies") -> bool:
        """Set whether ``generate`` moves overlapping bodies apart from now on: ``asked`` (checked), or None to keep
        this model's own; returns the setting in use."""
        if asked is not None:
            self.separate_bodies = self.check_separate_bodies(asked, where)
        return self.separate_bodies

    @staticmethod
    def check_collision_steps(value, where: str) -> int | None:
        """The decoding steps of a collision round, checked: None (the first decoding's) or a whole number >= 1."""
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{where} must be a whole number >= 1 (decoding steps of each round of re-decoding where "
                             f"the two bodies overlap) or null (as many as the first decoding's), got {value!r}")
        return value

    @property
    def floor_at_zero(self) -> bool:
        """Whether y = 0 is the ground under the positions ``joints`` gives."""
        return self.joint_reader is None or self.joint_reader.floor_at_zero

    def joints(self, features: torch.Tensor) -> torch.Tensor:
        """Normalised features (..., frame, feature) -> the SMPL-22 body joints (..., frame, 22, 3) in metres
        (SMPL-X's first 22 joints are those)."""
        reader = self.joint_reader if self.joint_reader is not None else ChannelJoints(self.layout)
        return reader.positions(self.denormalize(features))[..., :NUM_JOINTS, :]
