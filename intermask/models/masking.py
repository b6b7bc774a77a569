"""Masked-token modelling for the Inter-M transformer: schedules, masking, corruption and the training loss.

Axes: b batch, n person (2), p body-part row, t token time step, v vocabulary (codes).
A flat token index runs over (n p t) person-major, part-major, the order of the transformer's sequence.
Token ids: codes 0..num_codes-1, then mask, pad and sep ids (see ``InterMTransformer``).

Every random draw takes an optional ``torch.Generator`` (``random_draws``), so a CPU generator reproduces the same
masks on any device.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from einops import rearrange

from .random_draws import bernoulli, uniform

# the schedule the unroll step advances along: one decoding step of a 20-step sampler
UNROLL_SCHEDULE_STEPS = 20
# the confidence of tokens that must not be masked again (given, padding, or kept from an earlier step)
FROZEN_SCORE = 1e5


def cosine_schedule(t: torch.Tensor) -> torch.Tensor:
    """Masked fraction at schedule time t in [0, 1]: cos(pi t / 2), 1 at t=0 and 0 at t=1."""
    return torch.cos(t * math.pi / 2)


def inverse_cosine_schedule(ratio: torch.Tensor) -> torch.Tensor:
    """Schedule time whose masked fraction is ``ratio``: acos(ratio) / (pi / 2)."""
    return torch.acos(ratio.clamp(0.0, 1.0)) / (math.pi / 2)


def validity_grid(lengths_tokens: torch.Tensor, num_parts: int, num_time: int, num_persons: int = 2) -> torch.Tensor:
    """Which tokens hold motion: (b,) valid time steps per sample -> (b, n, p, t) bool.

    Both persons share the sample's length; every part row is valid up to it.
    """
    if lengths_tokens.ndim != 1:
        raise ValueError(f"lengths_tokens: expected shape (batch,), got {tuple(lengths_tokens.shape)}")
    time_valid = torch.arange(num_time, device=lengths_tokens.device) < rearrange(lengths_tokens, "b -> b 1")
    return rearrange(time_valid, "b t -> b 1 1 t").expand(-1, num_persons, num_parts, -1)


def random_masking(valid: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-sample cosine-scheduled random mask: (b, N) valid bool -> (b, N) bool, True = masked.

    Each sample draws tau ~ U(0, 1) and masks round(cos(pi tau / 2) * V) of its V valid positions (at least one),
    chosen uniformly among them. The count follows the sample's own length, as decoding's schedule does, so a
    sample's mask depends neither on how far the batch is padded nor on the other samples in it. (The published
    code counts round(ratio * N) over the padded length N and drops the padded picks: the same ratio in
    expectation, a wider spread for short samples.)
    """
    if valid.ndim != 2:
        raise ValueError(f"random_masking: valid must be (batch, tokens), got {tuple(valid.shape)}")
    batch, num_tokens = valid.shape
    ratio = cosine_schedule(uniform((batch,), valid.device, generator))
    num_masked = (ratio * valid.sum(dim=-1)).round().clamp(min=1)
    # a random order of each sample's valid positions (padding sorts last): masked when the rank is below the count
    noise = uniform((batch, num_tokens), valid.device, generator).masked_fill(~valid, 2.0)
    ranks = noise.argsort(dim=-1).argsort(dim=-1)
    return (ranks < rearrange(num_masked, "b -> b 1")) & valid


def interaction_masking(valid: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mask one whole person per sample: (b, n=2, ...) valid bool -> (b, 2, ...) bool, True = masked.

    A coin flip picks the person masked in the first half of the batch; the second half masks the other one,
    so each batch teaches both "react to person 1" and "react to person 2". The batch must be even.
    """
    if valid.ndim < 2 or valid.shape[1] != 2:
        raise ValueError(f"interaction_masking: valid must be (batch, 2, ...), got {tuple(valid.shape)}")
    batch = valid.shape[0]
    if batch % 2 != 0:
        raise ValueError(
            f"interaction_masking: needs an even batch size to mask each person in half of it, got {batch}"
        )
    first_half_person = int(uniform((1,), valid.device, generator).item() < 0.5)
    masked_person = torch.full((batch,), first_half_person, device=valid.device)
    masked_person[batch // 2:] = 1 - first_half_person
    person_index = torch.arange(2, device=valid.device)
    person_masked = rearrange(person_index, "n -> 1 n") == rearrange(masked_person, "b -> b 1")
    return person_masked.view(batch, 2, *([1] * (valid.ndim - 2))) & valid


def bert_corrupt(
    ids: torch.Tensor,
    mask: torch.Tensor,
    num_codes: int,
    mask_id: int,
    generator: torch.Generator | None = None,
    random_prob: float = 0.1,
    mask_prob: float = 0.88,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT-style corruption of the masked positions.

    Each masked position becomes a uniformly random code with probability ``random_prob``; of the others,
    a fraction ``mask_prob`` become ``mask_id``; the rest keep their true id (the model still has to predict
    them). Returns (corrupted ids, is_mask_token): same shape as ids, the latter True where [MASK] was written.
    """
    if ids.shape != mask.shape:
        raise ValueError(f"bert_corrupt: ids {tuple(ids.shape)} and mask {tuple(mask.shape)} differ in shape")
    to_random = mask & bernoulli(mask, random_prob, generator)
    random_codes = (uniform(tuple(ids.shape), ids.device, generator) * num_codes).long().clamp(max=num_codes - 1)
    corrupted = torch.where(to_random, random_codes, ids)
    is_mask_token = mask & ~to_random & bernoulli(mask, mask_prob, generator)
    corrupted = corrupted.masked_fill(is_mask_token, mask_id)
    return corrupted, is_mask_token


def unroll_remask(
    logits: torch.Tensor,
    corrupted_ids: torch.Tensor,
    is_mask_token: torch.Tensor,
    valid: torch.Tensor,
    schedule_steps: int = UNROLL_SCHEDULE_STEPS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One decoding step taken from the training prediction (step unroll), without gradient.

    logits: (b, N, v) from the first pass; corrupted_ids, is_mask_token, valid: (b, N).
    A sample's [MASK] fraction r over its V valid tokens gives schedule time acos(r)/(pi/2); one step later,
    round(cos(pi tau'/2) * V) lowest-confidence tokens stay masked (decoding's count for a sample of that length),
    every other [MASK] token takes the arg-max prediction. Returns (ids for the second pass, filled) where
    ``filled`` marks the [MASK] positions that were given a prediction; they leave the loss. (The published code
    measures r and the count over the padded length, so its short samples unroll as if late in the schedule.)
    """
    if not (corrupted_ids.shape == is_mask_token.shape == valid.shape):
        raise ValueError(f"unroll_remask: corrupted_ids {tuple(corrupted_ids.shape)}, is_mask_token "
                         f"{tuple(is_mask_token.shape)} and valid {tuple(valid.shape)} must agree")
    logits = logits.detach()
    num_valid = valid.sum(dim=-1).clamp(min=1)
    ratio = is_mask_token.sum(dim=-1) / num_valid
    next_time = (inverse_cosine_schedule(ratio) + 1 / (schedule_steps + 1)).clamp(max=1.0)
    num_remasked = (cosine_schedule(next_time) * num_valid).round().clamp(min=1)

    confidence, predicted = logits.softmax(dim=-1).max(dim=-1)
    confidence = confidence.masked_fill(~is_mask_token, FROZEN_SCORE)
    ranks = confidence.argsort(dim=-1, stable=True).argsort(dim=-1)
    remasked = ranks < rearrange(num_remasked, "b -> b 1")

    filled = is_mask_token & ~remasked
    return torch.where(filled, predicted, corrupted_ids), filled


def masked_token_loss(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy and arg-max accuracy over the masked positions only.

    logits: (..., v); targets, mask: (...). With no masked position the loss is a graph-connected zero and
    the accuracy is NaN (nothing was asked).
    Every position is scored and the mask weights the mean, instead of picking the masked positions out: picking
    needs their count on the host, a device-to-host wait in the middle of each training step.
    """
    if logits.shape[:-1] != targets.shape or targets.shape != mask.shape:
        raise ValueError(
            f"masked_token_loss: logits {tuple(logits.shape)}, targets {tuple(targets.shape)} and mask "
            f"{tuple(mask.shape)} must agree on the leading axes"
        )
    weight = mask.float()
    asked = weight.sum()
    # unmasked positions may hold pad or sep ids, which are no class of the logits
    safe_targets = targets.masked_fill(~mask, 0)
    per_token = F.cross_entropy(rearrange(logits.float(), "... v -> (...) v"), safe_targets.flatten(),
                                reduction="none")
    loss = (per_token * weight.flatten()).sum() / asked.clamp(min=1.0)
    correct = (logits.argmax(dim=-1) == targets).float()
    accuracy = (correct * weight).sum() / asked  # 0 / 0 = NaN when nothing was asked
    return loss, accuracy.detach()


def transformer_training_loss(
    model,
    ids: torch.Tensor,
    cond: torch.Tensor | None,
    lengths_tokens: torch.Tensor,
    generator: torch.Generator | None = None,
    interaction_prob: float = 0.2,
    unroll: bool = True,
    logit_loss: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict]] | None = None,
) -> tuple[torch.Tensor, dict]:
    """The Inter-M training objective on one batch of token maps.

    ids: (b, 2, p, t) codes (padding positions may hold anything; they become pad ids).
    cond: (b, text_dim) text features or None; lengths_tokens: (b,) valid time steps per sample.
    One masking mode per batch: interaction masking with probability ``interaction_prob`` (needs an even
    batch), otherwise random masking; BERT corruption; cross-entropy on masked positions; with ``unroll``,
    a second pass from the model's own one-step prediction adds its cross-entropy on the still-masked tokens.
    ``logit_loss``: a further term on the first pass's logits (b, n, p, t, v) and its mask (b, n, p, t), returning
    (loss, logs of 0-d tensors), added to the loss.
    Returns (loss, logs) with float logs: ce, accuracy, interaction (1.0 when that mode was drawn) and, with
    unroll, ce_unroll and accuracy_unroll; and logit_loss's.
    """
    if ids.ndim != 4 or ids.shape[1] != 2:
        raise ValueError(f"transformer_training_loss: ids must be (batch, 2, parts, time), got {tuple(ids.shape)}")
    batch, _, num_parts, num_time = ids.shape
    if interaction_prob > 0 and batch % 2 != 0:
        raise ValueError(
            f"transformer_training_loss: interaction masking (prob {interaction_prob}) needs an even batch, got {batch}"
        )
    valid = validity_grid(lengths_tokens.to(ids.device), num_parts, num_time)
    ids = ids.masked_fill(~valid, model.pad_id)

    interaction = bool(uniform((1,), ids.device, generator).item() < interaction_prob)
    if interaction:
        mask = interaction_masking(valid, generator)
    else:
        flat_mask = random_masking(rearrange(valid, "b n p t -> b (n p t)"), generator)
        mask = rearrange(flat_mask, "b (n p t) -> b n p t", n=2, p=num_parts)
    corrupted, is_mask_token = bert_corrupt(ids, mask, model.num_codes, model.mask_id, generator)

    logits = model(corrupted, cond, lengths_tokens, generator=generator)
    ce, accuracy = masked_token_loss(logits, ids, mask)
    loss = ce
    measured = {"ce": ce.detach(), "accuracy": accuracy}
    if logit_loss is not None:
        extra, extra_logs = logit_loss(logits, mask)
        loss = loss + extra
        measured.update({name: value.detach() for name, value in extra_logs.items()})

    if unroll:
        unrolled, filled = unroll_remask(
            rearrange(logits, "b n p t v -> b (n p t) v"),
            rearrange(corrupted, "b n p t -> b (n p t)"),
            rearrange(is_mask_token, "b n p t -> b (n p t)"),
            rearrange(valid, "b n p t -> b (n p t)"),
        )
        unrolled, filled = (rearrange(x, "b (n p t) -> b n p t", n=2, p=num_parts) for x in (unrolled, filled))
        unroll_logits = model(unrolled, cond, lengths_tokens, generator=generator)
        ce_unroll, accuracy_unroll = masked_token_loss(unroll_logits, ids, mask & ~filled)
        loss = loss + ce_unroll
        measured.update(ce_unroll=ce_unroll.detach(), accuracy_unroll=accuracy_unroll)
    # one device-to-host copy for every log, once the whole forward work is queued
    values = dict(zip(measured, torch.stack(list(measured.values())).tolist()))
    logs = {"ce": values.pop("ce"), "accuracy": values.pop("accuracy"), "interaction": float(interaction), **values}
    return loss, logs
