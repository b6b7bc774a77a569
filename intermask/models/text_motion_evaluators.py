"""Text–motion evaluators: the embedding spaces that R-precision, FID, MM Dist, Diversity and MModality use.

- ``InterCLIPEvaluator`` (InterHuman): a Transformer over the two-person motion read through a learned query
  token, a Transformer over frozen text-token features read at the end-of-text token, both projected to 512,
  L2-normalised and scaled by a learned ``latent_scale``; trained with a symmetric InfoNCE loss.
- ``InterXMatchingEvaluator`` (Inter-X): a strided-convolution movement encoder followed by a bidirectional
  GRU for motion, and a bidirectional GRU over GloVe word vectors plus part-of-speech one-hots for text.

Module and parameter names follow the released checkpoints, so those load with ``strict=True``: InterGen's
``interclip.ckpt`` once ``interclip_state_dict`` has removed its ``model.`` prefix (hence the camel-case
``textTransEncoder``), and Inter-X's ``finest.tar`` through ``InterXMatchingEvaluator.load_matching_checkpoint``
(one state dict per encoder). Both evaluators mask padded frames / words instead of sorting a batch by length,
so embeddings come back in input order and do not depend on the rest of the batch.
"""
from __future__ import annotations

import math
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from ..motion.layout import INTERHUMAN
from .attention import EncoderLayer
from .dropout import Dropout

# the 15 part-of-speech classes of the matching network's one-hot text input, in checkpoint order
POS_TAGS = (
    "VERB", "NOUN", "DET", "ADP", "NUM", "AUX", "PRON", "ADJ", "ADV",
    "Loc_VIP", "Body_VIP", "Obj_VIP", "Act_VIP", "Desc_VIP", "OTHER",
)
# the smallest std by which ``input_norm`` divides a motion input channel (raw units: metres, metres per frame, 6D)
INPUT_STD_FLOOR = 1e-2
# CLIP ViT-L/14@336px text tokenizer: vocabulary and context of the released InterCLIP's token tables
CLIP_VOCAB_SIZE, CLIP_CONTEXT_LENGTH = 49408, 77


# ----------------------------------------------------------------------------------------------------------
# shared helpers


def frame_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """True on valid steps. lengths (batch,) -> (batch, max_len) bool."""
    return torch.arange(max_len, device=lengths.device)[None] < lengths[:, None]


def l2_normalize(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def sinusoidal_table(length: int, dim: int) -> torch.Tensor:
    """Sine on even channels, cosine on odd ones, wavelengths 2π … 2π·10000. -> (length, dim)."""
    if dim % 2:
        raise ValueError(f"sinusoidal positions need an even width, got {dim}")
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table


def symmetric_info_nce(text_emb: torch.Tensor, motion_emb: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """CLIP loss: cross-entropy of cosine logits × logit_scale, text→motion and motion→text averaged.

    text_emb, motion_emb: (batch, dim); the i-th text and i-th motion are the positive pair.
    """
    logits = logit_scale * l2_normalize(motion_emb) @ l2_normalize(text_emb).t()  # (motion, text)
    targets = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)) / 2


def detail_loss(motion_emb: torch.Tensor, own_emb: torch.Tensor, changed_emb: torch.Tensor,
                logit_scale: torch.Tensor) -> torch.Tensor:
    """Each motion's own caption against one caption changed in a single detail, alone: the cross-entropy of
    the pair of cosine logits × logit_scale, with the own caption the right answer.

    motion_emb, own_emb, changed_emb: (pairs, dim), row-aligned. Ranked among a whole batch, such a twin (the same
    words, the people's names exchanged) is one competitor of many and the contrastive loss barely separates it;
    alone, the pair teaches the difference.
    """
    if not motion_emb.shape == own_emb.shape == changed_emb.shape:
        raise ValueError(f"detail_loss: motion {tuple(motion_emb.shape)}, own {tuple(own_emb.shape)} and changed "
                         f"{tuple(changed_emb.shape)} captions must have one shape")
    motion = l2_normalize(motion_emb)
    logits = logit_scale * torch.stack([(motion * l2_normalize(own_emb)).sum(-1),
                                        (motion * l2_normalize(changed_emb)).sum(-1)], dim=-1)
    return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device))


def _check_lengths(lengths: torch.Tensor, batch: int, max_len: int, name: str) -> torch.Tensor:
    lengths = torch.as_tensor(lengths)
    if lengths.shape != (batch,):
        raise ValueError(f"{name}: expected shape ({batch},), got {tuple(lengths.shape)}")
    if batch and (int(lengths.min()) < 1 or int(lengths.max()) > max_len):
        raise ValueError(f"{name}: every length must lie in [1, {max_len}], got {lengths.tolist()}")
    return lengths.long()


def _check_features(x: torch.Tensor, dim: int, name: str) -> None:
    if x.ndim != 3 or x.shape[-1] != dim:
        raise ValueError(f"{name}: expected (batch, time, {dim}), got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or infinite values")


def _transformer(width: int, heads: int, ff_dim: int, dropout: float, layers: int,
                 attention_dropout: float | None = None) -> nn.TransformerEncoder:
    layer = EncoderLayer(width, heads, ff_dim, dropout, activation="gelu", batch_first=True,
                         attention_dropout=attention_dropout)
    # nested tensors would return zeros at padded steps only in eval mode; plain masking behaves the same in both
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


# ----------------------------------------------------------------------------------------------------------
# InterCLIP (InterHuman)


def interclip_motion_input(person_a, person_b, contact: slice = INTERHUMAN.contact):
    """The evaluator's per-frame input: both people's de-normalised features without the foot contacts.

    person_a, person_b: (..., time, feature) -> (..., time, 2 * (feature - contact channels)), laid out [A | B];
    InterHuman: 2 * (262 - 4) = 516. Works for torch tensors and numpy arrays.
    """
    if person_a.shape != person_b.shape:
        raise ValueError(f"person_a {tuple(person_a.shape)} and person_b {tuple(person_b.shape)} differ in shape")
    if person_a.shape[-1] < contact.stop:
        raise ValueError(f"features have {person_a.shape[-1]} channels, the contact slice ends at {contact.stop}")
    keep = [c for c in range(person_a.shape[-1]) if not contact.start <= c < contact.stop]
    parts = (person_a[..., keep], person_b[..., keep])
    return torch.cat(parts, dim=-1) if isinstance(person_a, torch.Tensor) else np.concatenate(parts, axis=-1)


def interclip_state_dict(checkpoint: Mapping) -> dict:
    """The evaluator weights of a released InterCLIP checkpoint, ready for ``load_state_dict(strict=True)``.

    Accepts the checkpoint dict (with a "state_dict" entry) or the state dict itself, and strips the
    "model." prefix that the training wrapper added to every key.
    """
    state = checkpoint.get("state_dict", checkpoint)
    if not isinstance(state, Mapping):
        raise ValueError(f"checkpoint 'state_dict' should be a mapping, got {type(state).__name__}")
    prefix = "model."
    return {key[len(prefix):] if key.startswith(prefix) else key: value for key, value in state.items()}


class SinusoidalPositions(nn.Module):
    """Adds fixed sinusoidal position codes, then dropout. (batch, time, dim) -> (batch, time, dim)."""

    def __init__(self, dim: int, max_len: int, dropout: float):
        super().__init__()
        self.dropout = Dropout(dropout)
        # persistent because the released checkpoint stores the table
        self.register_buffer("pe", sinusoidal_table(max_len, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > self.pe.shape[0]:
            raise ValueError(f"sequence of {x.shape[1]} steps exceeds the {self.pe.shape[0]} position codes")
        return self.dropout(x + self.pe[: x.shape[1]])


class InterCLIPMotionEncoder(nn.Module):
    """Two-person motion -> one unnormalised embedding, read from a learned query token.

    (batch, time, motion_dim) -> Linear -> prepend query -> positions -> Transformer (padding masked)
    -> LayerNorm -> Linear on the query token -> (batch, embed_dim).
    """

    def __init__(self, motion_dim: int, latent_dim: int, embed_dim: int, layers: int, heads: int,
                 ff_dim: int, dropout: float, max_len: int, attention_dropout: float | None = None):
        super().__init__()
        self.query_token = nn.Parameter(torch.randn(1, latent_dim))
        self.embed_motion = nn.Linear(motion_dim, latent_dim)
        self.sequence_pos_encoder = SinusoidalPositions(latent_dim, max_len, dropout)
        self.transformer = _transformer(latent_dim, heads, ff_dim, dropout, layers, attention_dropout)
        self.out_ln = nn.LayerNorm(latent_dim)
        self.out = nn.Linear(latent_dim, embed_dim)

    def forward(self, motion: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        frames = self.embed_motion(motion)
        query = repeat(self.query_token, "1 d -> b 1 d", b=motion.shape[0])
        tokens = self.sequence_pos_encoder(torch.cat([query, frames], dim=1))
        valid = F.pad(frame_mask(lengths, motion.shape[1]), (1, 0), value=True)  # the query is always valid
        hidden = self.transformer(tokens, src_key_padding_mask=~valid)
        return self.out(self.out_ln(hidden[:, 0]))


class InterCLIPEvaluator(nn.Module):
    """InterHuman's contrastive text–motion evaluator.

    Motion: de-normalised features of both people without contacts, [A 258 | B 258] = 516 per frame
    (``interclip_motion_input``). Text: frozen token features (batch, tokens, text_dim) with the index of the
    end-of-text token. The released model reads CLIP ViT-L/14@336px token + position embeddings, which it
    keeps as ``token_embedding`` / ``positional_embedding``: build it with ``InterCLIPEvaluator.released()``
    (``vocab_size`` and ``context_length`` set) and use ``token_features`` on CLIP token ids. By default
    (``vocab_size=None``) those tables are left out and the features come from elsewhere, e.g.
    ``text_backbone.frozen_features(texts)`` through ``encode_texts``.

    Both embeddings are L2-normalised and multiplied by ``latent_scale``, so their norm is |latent_scale|.

    ``input_norm`` (this project's option; off in the released model) z-scores the motion input with fixed
    statistics kept in the state dict (``set_input_statistics``). The raw input mixes positions in metres with
    per-frame velocities a hundred times smaller; z-scored, a small evaluator learns to retrieve captions in a
    third of the steps (docs/synthetic-training.md).

    ``attention_dropout`` (this project's option) sets the dropout on the attention weights apart from ``dropout``
    (None, the released model's: the same).
    """

    def __init__(self, motion_dim: int = 516, latent_dim: int = 1024, text_dim: int = 768, embed_dim: int = 512,
                 motion_layers: int = 8, text_layers: int = 8, heads: int = 8, ff_dim: int = 2048,
                 dropout: float = 0.1, max_len: int = 2000, vocab_size: int | None = None,
                 context_length: int = CLIP_CONTEXT_LENGTH, text_backbone=None, input_norm: bool = False,
                 attention_dropout: float | None = None):
        super().__init__()
        self.motion_dim, self.text_dim, self.embed_dim = motion_dim, text_dim, embed_dim
        self.input_norm = input_norm
        if input_norm:
            self.register_buffer("input_mean", torch.zeros(motion_dim))
            self.register_buffer("input_std", torch.ones(motion_dim))
        self.motion_encoder = InterCLIPMotionEncoder(motion_dim, latent_dim, embed_dim, motion_layers, heads,
                                                     ff_dim, dropout, max_len, attention_dropout)
        if vocab_size is not None:
            self.token_embedding = nn.Embedding(vocab_size, text_dim).requires_grad_(False)
            self.positional_embedding = nn.Parameter(0.01 * torch.randn(context_length, text_dim),
                                                     requires_grad=False)
        self.textTransEncoder = _transformer(text_dim, heads, ff_dim, dropout, text_layers, attention_dropout)
        self.text_ln = nn.LayerNorm(text_dim)
        self.out = nn.Linear(text_dim, embed_dim)
        self.latent_scale = nn.Parameter(torch.ones(1))
        # kept outside the module tree so that its weights never enter this evaluator's state dict
        object.__setattr__(self, "text_backbone", text_backbone)

    @classmethod
    def released(cls, **overrides) -> InterCLIPEvaluator:
        """The layout of InterGen's ``interclip.ckpt``, CLIP token tables included; load its weights with
        ``load_state_dict(interclip_state_dict(checkpoint), strict=True)``."""
        return cls(**{"vocab_size": CLIP_VOCAB_SIZE, "context_length": CLIP_CONTEXT_LENGTH, **overrides})

    @property
    def has_token_tables(self) -> bool:
        return hasattr(self, "token_embedding")

    def _scale(self, embedding: torch.Tensor) -> torch.Tensor:
        return l2_normalize(embedding) * self.latent_scale

    @torch.no_grad()
    def set_input_statistics(self, mean, std, floor: float = INPUT_STD_FLOOR) -> None:
        """The motion input's mean and std, (motion_dim,) each; a std below ``floor`` counts as ``floor``, so that
        a channel the data hardly moves is not magnified past 1 / floor in the motion it judges."""
        if not self.input_norm:
            raise ValueError("set_input_statistics needs an evaluator built with input_norm=True")
        mean, std = (torch.as_tensor(np.asarray(x), dtype=torch.float32) for x in (mean, std))
        for name, x in (("mean", mean), ("std", std)):
            if x.shape != (self.motion_dim,) or not torch.isfinite(x).all():
                raise ValueError(f"input {name}: expected ({self.motion_dim},) finite values, got {tuple(x.shape)}")
        self.input_mean.copy_(mean)
        self.input_std.copy_(std.clamp(min=floor))

    def encode_motion(self, motion: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """motion (batch, time, motion_dim), lengths (batch,) valid frames -> (batch, embed_dim)."""
        _check_features(motion, self.motion_dim, "motion")
        lengths = _check_lengths(lengths, motion.shape[0], motion.shape[1], "lengths").to(motion.device)
        if self.input_norm:
            motion = (motion - self.input_mean) / self.input_std
        return self._scale(self.motion_encoder(motion, lengths))

    def encode_text(self, frozen_tokens: torch.Tensor, eot_index: torch.Tensor,
                    padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """frozen_tokens (batch, tokens, text_dim), eot_index (batch,) -> (batch, embed_dim).

        padding_mask (batch, tokens), True on padding, is optional: the released model attends to CLIP's
        whole fixed 77-token context, padding included, so it is trained and evaluated without one.
        """
        _check_features(frozen_tokens, self.text_dim, "frozen_tokens")
        eot_index = torch.as_tensor(eot_index, device=frozen_tokens.device).long()
        batch, tokens = frozen_tokens.shape[:2]
        if eot_index.shape != (batch,) or (batch and (eot_index.min() < 0 or eot_index.max() >= tokens)):
            raise ValueError(f"eot_index: expected ({batch},) indices in [0, {tokens}), got {eot_index.tolist()}")
        hidden = self.text_ln(self.textTransEncoder(frozen_tokens, src_key_padding_mask=padding_mask))
        return self._scale(self.out(hidden[torch.arange(batch, device=hidden.device), eot_index]))

    @torch.no_grad()
    def token_features(self, token_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frozen features of CLIP token ids: token + position embeddings, and the end-of-text index.

        token_ids (batch, tokens <= context_length) -> ((batch, tokens, text_dim), (batch,)). The end-of-text
        token has the largest id of CLIP's vocabulary, so its position is the row-wise argmax.
        """
        if not self.has_token_tables:
            raise ValueError("this evaluator was built with vocab_size=None and has no token embedding tables")
        token_ids = torch.as_tensor(token_ids, device=self.token_embedding.weight.device).long()
        context = self.positional_embedding.shape[0]
        if token_ids.ndim != 2 or token_ids.shape[1] > context:
            raise ValueError(f"token_ids: expected (batch, tokens <= {context}), got {tuple(token_ids.shape)}")
        features = self.token_embedding(token_ids) + self.positional_embedding[: token_ids.shape[1]]
        return features, token_ids.argmax(dim=-1)

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Captions -> (batch, embed_dim) through ``text_backbone.frozen_features``."""
        if self.text_backbone is None:
            raise ValueError("encode_texts needs a text_backbone with frozen_features(texts); none was given")
        features, eot_index = self.text_backbone.frozen_features(list(texts))
        device = self.out.weight.device
        return self.encode_text(features.to(device, torch.float32), eot_index.to(device))

    def forward(self, motion, lengths, frozen_tokens, eot_index) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (text_emb, motion_emb), each (batch, embed_dim), pairs aligned by row."""
        return self.encode_text(frozen_tokens, eot_index), self.encode_motion(motion, lengths)

    def contrastive_loss(self, text_emb: torch.Tensor, motion_emb: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE on cosine logits × latent_scale²."""
        return symmetric_info_nce(text_emb, motion_emb, self.latent_scale ** 2)

    def detail_loss(self, motion_emb: torch.Tensor, own_emb: torch.Tensor, changed_emb: torch.Tensor) -> torch.Tensor:
        """``detail_loss`` at this evaluator's temperature (cosine logits × latent_scale²)."""
        return detail_loss(motion_emb, own_emb, changed_emb, self.latent_scale ** 2)


# ----------------------------------------------------------------------------------------------------------
# Text–motion matching network (Inter-X)


def prepare_interx_motion(motion: torch.Tensor) -> torch.Tensor:
    """Inter-X pair features (batch, time, 56, 12) -> matching-network input (batch, time, 672).

    Row 55 holds each person's root translation (channels 0:3 / 6:9) and its velocity (3:6 / 9:12); the
    released evaluation feeds the network with the velocities zeroed, so they are zeroed here too.
    """
    if motion.ndim != 4 or motion.shape[-2:] != (56, 12):
        raise ValueError(f"motion: expected (batch, time, 56, 12), got {tuple(motion.shape)}")
    motion = motion.clone()
    motion[:, :, -1, 3:6] = 0
    motion[:, :, -1, 9:12] = 0
    return rearrange(motion, "b t row channel -> b t (row channel)")


class MovementConvEncoder(nn.Module):
    """Two stride-2 convolutions (kernel 4) then a Linear: (batch, time, in) -> (batch, time / 4, latent)."""

    def __init__(self, input_dim: int, hidden_dim: int, latent_dim: int, dropout: float = 0.2):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv1d(input_dim, hidden_dim, 4, 2, 1),
            Dropout(dropout),
            nn.LeakyReLU(0.2),
            nn.Conv1d(hidden_dim, latent_dim, 4, 2, 1),
            Dropout(dropout),
            nn.LeakyReLU(0.2),
        )
        self.out_net = nn.Linear(latent_dim, latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.main(rearrange(x, "b t c -> b c t"))
        return self.out_net(rearrange(x, "b c t -> b t c"))


def _bigru_head(hidden_dim: int, output_dim: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(2 * hidden_dim, hidden_dim),
        nn.LayerNorm(hidden_dim),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden_dim, output_dim),
    )


def _bigru_last_states(gru: nn.GRU, inputs: torch.Tensor, lengths: torch.Tensor,
                       initial: torch.Tensor) -> torch.Tensor:
    """Final forward and backward states of a packed bidirectional GRU: (batch, time, h) -> (batch, 2h)."""
    packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
    _, last = gru(packed, repeat(initial, "direction 1 h -> direction b h", b=inputs.shape[0]).contiguous())
    return rearrange(last, "direction b h -> b (direction h)")


class MotionEncoderBiGRU(nn.Module):
    """Movement features -> embedding. (batch, steps, input), lengths (batch,) -> (batch, output)."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int):
        super().__init__()
        self.input_emb = nn.Linear(input_dim, hidden_dim)
        self.gru = nn.GRU(hidden_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.output_net = _bigru_head(hidden_dim, output_dim)
        self.hidden = nn.Parameter(torch.randn(2, 1, hidden_dim))  # learned initial state per direction

    def forward(self, movements: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.output_net(_bigru_last_states(self.gru, self.input_emb(movements), lengths, self.hidden))


class TextEncoderBiGRU(nn.Module):
    """Word vectors + POS one-hots -> embedding. (batch, words, word_dim), (batch, words, pos_dim), lengths."""

    def __init__(self, word_dim: int, pos_dim: int, hidden_dim: int, output_dim: int):
        super().__init__()
        self.pos_emb = nn.Linear(pos_dim, word_dim)
        self.input_emb = nn.Linear(word_dim, hidden_dim)
        self.gru = nn.GRU(hidden_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.output_net = _bigru_head(hidden_dim, output_dim)
        self.hidden = nn.Parameter(torch.randn(2, 1, hidden_dim))

    def forward(self, word_embs: torch.Tensor, pos_onehot: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        inputs = self.input_emb(word_embs + self.pos_emb(pos_onehot))
        return self.output_net(_bigru_last_states(self.gru, inputs, lengths, self.hidden))


class InterXMatchingEvaluator(nn.Module):
    """Inter-X's text–motion matching evaluator (no normalisation, no scale: raw 512-d embeddings).

    Motion (batch, time, 672) from ``prepare_interx_motion`` with valid lengths; the movement encoder divides
    time by ``unit_length`` = 4. Text: GloVe vectors and POS one-hots from ``GloVe.encode`` with sentence
    lengths counting the start/end tokens.
    """

    def __init__(self, motion_dim: int = 56 * 12, movement_hidden: int = 512, movement_latent: int = 512,
                 motion_hidden: int = 1024, word_dim: int = 300, pos_dim: int = len(POS_TAGS),
                 text_hidden: int = 512, embed_dim: int = 512, unit_length: int = 4):
        super().__init__()
        self.motion_dim, self.word_dim, self.pos_dim = motion_dim, word_dim, pos_dim
        self.unit_length = unit_length
        self.movement_encoder = MovementConvEncoder(motion_dim, movement_hidden, movement_latent)
        self.motion_encoder = MotionEncoderBiGRU(movement_latent, motion_hidden, embed_dim)
        self.text_encoder = TextEncoderBiGRU(word_dim, pos_dim, text_hidden, embed_dim)

    def load_matching_checkpoint(self, checkpoint: Mapping) -> None:
        """Load a ``finest.tar``-style dict holding one state dict per encoder, strictly."""
        for name in ("movement_encoder", "motion_encoder", "text_encoder"):
            if name not in checkpoint:
                raise KeyError(f"matching checkpoint has no '{name}' entry; it has {sorted(checkpoint)}")
            getattr(self, name).load_state_dict(checkpoint[name], strict=True)

    def encode_motion(self, motion: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """motion (batch, time, motion_dim), lengths (batch,) frames -> (batch, embed_dim)."""
        _check_features(motion, self.motion_dim, "motion")
        lengths = _check_lengths(lengths, motion.shape[0], motion.shape[1], "lengths")
        movements = self.movement_encoder(motion)
        steps = lengths // self.unit_length
        if motion.shape[0] and int(steps.min()) < 1:
            raise ValueError(f"lengths: every motion needs at least {self.unit_length} frames, got {lengths.tolist()}")
        if motion.shape[0] and int(steps.max()) > movements.shape[1]:
            raise ValueError(f"lengths: {lengths.tolist()} exceed the {movements.shape[1]} movement steps of "
                             f"{motion.shape[1]} frames")
        return self.motion_encoder(movements, steps)

    def encode_text(self, word_embs: torch.Tensor, pos_onehot: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """word_embs (batch, words, word_dim), pos_onehot (batch, words, pos_dim), lengths (batch,)
        -> (batch, embed_dim)."""
        _check_features(word_embs, self.word_dim, "word_embs")
        _check_features(pos_onehot, self.pos_dim, "pos_onehot")
        if pos_onehot.shape[:2] != word_embs.shape[:2]:
            raise ValueError(f"pos_onehot {tuple(pos_onehot.shape)} does not match word_embs {tuple(word_embs.shape)}")
        lengths = _check_lengths(lengths, word_embs.shape[0], word_embs.shape[1], "text lengths")
        return self.text_encoder(word_embs, pos_onehot, lengths)

    def forward(self, motion, motion_lengths, word_embs, pos_onehot, text_lengths):
        """-> (text_emb, motion_emb), each (batch, embed_dim)."""
        return self.encode_text(word_embs, pos_onehot, text_lengths), self.encode_motion(motion, motion_lengths)


class GloVe:
    """Word vectors and part-of-speech one-hots for the matching network's text encoder.

    Reads ``<folder>/<prefix>_data.npy`` (vectors), ``<prefix>_words.pkl`` (vocabulary) and
    ``<prefix>_idx.pkl`` (word -> row); Inter-X ships them as ``glove/hhi_vab_*``. Tokens are "word/POS"
    strings. A word listed in ``vip_words`` (category such as "Loc_VIP" -> words) takes that category as its
    tag; a word outside the vocabulary becomes "unk" tagged OTHER.
    """

    def __init__(self, folder: str | Path, prefix: str = "hhi_vab",
                 vip_words: Mapping[str, Sequence[str]] | None = None):
        folder = Path(folder)
        paths = {kind: folder / f"{prefix}_{kind}" for kind in ("data.npy", "words.pkl", "idx.pkl")}
        for path in paths.values():
            if not path.is_file():
                raise FileNotFoundError(f"GloVe file missing: {path}")
        vectors = np.load(paths["data.npy"])
        with open(paths["words.pkl"], "rb") as f:
            words = pickle.load(f)
        with open(paths["idx.pkl"], "rb") as f:
            word_to_row = pickle.load(f)
        self.vectors = {word: np.asarray(vectors[word_to_row[word]], dtype=np.float32) for word in words}
        if "unk" not in self.vectors:
            raise ValueError(f"GloVe vocabulary in {paths['words.pkl']} lacks the 'unk' word")
        self.dim = next(iter(self.vectors.values())).shape[-1]
        self.vip_tag = {}
        for tag, tagged_words in (vip_words or {}).items():
            if tag not in POS_TAGS:
                raise ValueError(f"vip_words: unknown category {tag!r}; expected one of {POS_TAGS}")
            self.vip_tag.update({word: tag for word in tagged_words})

    def __len__(self) -> int:
        return len(self.vectors)

    @staticmethod
    def pos_onehot(tag: str) -> np.ndarray:
        onehot = np.zeros(len(POS_TAGS), dtype=np.float32)
        onehot[POS_TAGS.index(tag if tag in POS_TAGS else "OTHER")] = 1
        return onehot

    def __getitem__(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """Look up a "word/POS" token -> (vector (dim,), one-hot (15,))."""
        word, sep, tag = token.rpartition("/")
        if not sep:
            raise ValueError(f"token {token!r} is not of the form 'word/POS'")
        if word not in self.vectors:
            return self.vectors["unk"], self.pos_onehot("OTHER")
        return self.vectors[word], self.pos_onehot(self.vip_tag.get(word, tag))

    def encode(self, tokens: Sequence[str], max_tokens: int = 35) -> tuple[np.ndarray, np.ndarray, int]:
        """Crop to ``max_tokens``, wrap in sos/eos, pad with unk.

        -> (word vectors (max_tokens + 2, dim), POS one-hots (max_tokens + 2, 15), length with sos/eos).
        """
        if not tokens:
            raise ValueError("encode: empty token list")
        sentence = ["sos/OTHER", *list(tokens)[:max_tokens], "eos/OTHER"]
        padded = sentence + ["unk/OTHER"] * (max_tokens + 2 - len(sentence))
        vectors, onehots = zip(*(self[token] for token in padded))
        return np.stack(vectors), np.stack(onehots), len(sentence)
