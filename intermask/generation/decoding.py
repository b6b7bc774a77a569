"""Iterative confidence-based decoding of two-person token maps with the Inter-M transformer.

Axes: b batch, n person (2), p body-part row, t token time step, v codes; N = n*p*t flat tokens.

Decoding starts from every token to generate set to [MASK]. Step k of S (schedule time tau = k/(S-1)) masks
the round(cos(pi tau / 2) * L) least-confident tokens of those sampled in the previous step (L = tokens to
generate, at least one per step), predicts them with classifier-free guidance, samples from the top-k
filtered distribution and records each sample's probability as its confidence. Tokens not re-sampled in a
step are frozen for good. Kept tokens (a keep mask over (person, part, time): reaction generation keeps one whole
person, editing keeps chosen steps and parts) and padding never change.

``remask_noise`` > 0 ranks the tokens to mask again by their log-probability plus Gumbel noise of that scale, the
scale falling linearly to zero at the last step (MaskGIT's randomised choice): early steps then freeze tokens that
are likely but not only the most likely ones. 0, the default, ranks by confidence alone, as the paper does.

Parity decoding (``parity=True``, the default for a transformer built with ``parity=True``, i.e. a converted one)
keeps the published sampler's conventions (``models.official_quirks``, 4): unstable ranking of confidence ties,
temperature without effect on multinomial sampling, and the draw over the whole filtered vocabulary. Otherwise
the draw runs over the k kept codes only (``sample_top_k``): the same distribution, less work.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from einops import rearrange

from ..models.masking import FROZEN_SCORE, cosine_schedule, validity_grid
from ..models.random_draws import gumbel_noise

# the paper's classifier-free guidance scale; a model may carry its own (``InterMask.cond_scale``)
DEFAULT_COND_SCALE = 2.0


def check_cond_scale(value, where: str) -> float:
    """``value`` as a guidance scale, a finite number >= 0 (0: the null condition alone, 1: the caption's logits
    alone); a ValueError naming ``where`` otherwise."""
    try:
        scale = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: a guidance scale must be a number, got {value!r}") from None
    if not (math.isfinite(scale) and scale >= 0):
        raise ValueError(f"{where}: a guidance scale must be a finite number >= 0, got {value!r}")
    return scale


def _kept_logits(logits: torch.Tensor, ratio: float, caller: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The ceil((1 - ratio) * v) largest logits along the last axis and their indices.

    ``ratio`` is the fraction of the vocabulary filtered away: 0.9 over 1024 codes keeps 103.
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"{caller}: ratio must be in [0, 1), got {ratio}")
    return logits.topk(math.ceil((1.0 - ratio) * logits.shape[-1]), dim=-1)


def top_k_filter(logits: torch.Tensor, ratio: float) -> torch.Tensor:
    """Keep the ceil((1 - ratio) * v) largest logits along the last axis, set the rest to -inf (``ratio``: the
    fraction filtered away)."""
    values, indices = _kept_logits(logits, ratio, "top_k_filter")
    return torch.full_like(logits, float("-inf")).scatter(-1, indices, values)


def gumbel_sample(
    logits: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """argmax(logits / temperature + Gumbel noise) over the last axis: (..., v) -> (...). Temperature 0 is greedy."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    return (logits / temperature + gumbel_noise(tuple(logits.shape), logits.device, generator)).argmax(dim=-1)


def categorical_sample(
    logits: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw from softmax(logits / temperature) over the last axis: (..., v) -> (...). Temperature 0 is greedy."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = F.softmax(logits.float() / temperature, dim=-1)
    flat = rearrange(probs, "... v -> (...) v")
    if generator is not None and generator.device != flat.device:
        flat_draw = torch.multinomial(flat.to(generator.device), 1, generator=generator).to(flat.device)
    else:
        flat_draw = torch.multinomial(flat, 1, generator=generator)
    return flat_draw.view(probs.shape[:-1])


def sample_top_k(
    logits: torch.Tensor, ratio: float, temperature: float = 1.0, gumbel: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw from softmax(top_k_filter(logits, ratio) / temperature) over the last axis: (..., v) -> (...).

    The same distribution as filtering and then sampling over the whole vocabulary, computed on the k kept logits
    only (103 of 1024 at ratio 0.9): no full-width filtered copy, and the softmax and the draw run over k values.
    The random draws differ from those of the whole-vocabulary samplers, which the parity decoding keeps.
    """
    values, indices = _kept_logits(logits, ratio, "sample_top_k")
    picked = (gumbel_sample if gumbel else categorical_sample)(values, temperature, generator)
    return indices.gather(-1, picked.unsqueeze(-1)).squeeze(-1)


def guided_predictor(
    model,
    cond: torch.Tensor | None,
    lengths_tokens: torch.Tensor,
    num_time: int,
    cond_scale: float,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function (b, 2, p, t) ids -> (b, 2, p, t, v) classifier-free guided logits l_u + s (l_c - l_u),
    for maps of ``num_time`` token steps whose first ``lengths_tokens`` (b,) steps are valid.

    The text condition and the length plan (attention masks, groups of similar length: ``LengthPlan``) are
    built once here, so each call is the network alone: no checks and no host syncs, which keeps a decoding
    loop's GPU queue full. The conditional and null passes run as one batch of 2b (split into length groups
    together). ``cond=None`` is a single null pass; ``cond_scale == 1`` is a single conditional pass, so it returns
    the conditional logits exactly. Logits are float32 whatever precision the model ran in (under bf16 autocast,
    guidance amplifies rounding). ``ids`` must hold valid ids: ``model.forward`` checks them.
    """
    guided = cond is not None and cond_scale != 1
    if guided:  # the conditional and the null pass, stacked
        cond = torch.cat((cond, torch.zeros_like(cond)))
        lengths_tokens = torch.cat((lengths_tokens, lengths_tokens))
    condition = model.embed_condition(cond, lengths_tokens.shape[0])
    plan = model.length_plan(lengths_tokens, num_time)
    if not guided:
        return lambda ids: model.planned_logits(ids, condition, plan).float()

    def predict(ids: torch.Tensor) -> torch.Tensor:
        cond_logits, null_logits = model.planned_logits(torch.cat((ids, ids)), condition, plan).float().chunk(2)
        return null_logits + cond_scale * (cond_logits - null_logits)

    return predict


def guided_logits(
    model,
    ids: torch.Tensor,
    cond: torch.Tensor | None,
    lengths_tokens: torch.Tensor,
    cond_scale: float,
) -> torch.Tensor:
    """Classifier-free guided logits of ``ids`` (b, 2, p, t) -> (b, 2, p, t, v), see ``guided_predictor``."""
    lengths_tokens = model.check_inputs(ids, lengths_tokens)
    return guided_predictor(model, cond, lengths_tokens, ids.shape[-1], cond_scale)(ids)


def _check_request(model, cond, lengths_tokens, steps, cond_scale, temperature, remask_noise, num_time) -> None:
    if lengths_tokens.ndim != 1 or lengths_tokens.numel() == 0:
        raise ValueError(
            f"generate: lengths_tokens must be a non-empty (batch,) tensor, got {tuple(lengths_tokens.shape)}"
        )
    if bool((lengths_tokens < 1).any()) or int(lengths_tokens.max()) > num_time:
        raise ValueError(f"generate: lengths_tokens must lie in [1, {num_time}], got {lengths_tokens.tolist()}")
    if num_time > model.max_time:
        raise ValueError(f"generate: {num_time} token steps exceed the model's max_time {model.max_time}")
    batch = lengths_tokens.shape[0]
    if cond is not None and cond.shape not in ((batch, model.text_dim), (batch, 2, model.text_dim)):
        raise ValueError(
            f"generate: cond must be (batch={batch}, text_dim={model.text_dim}) or per person "
            f"(batch={batch}, 2, text_dim={model.text_dim}), got {tuple(cond.shape)}"
        )
    if steps < 1:
        raise ValueError(f"generate: steps must be at least 1, got {steps}")
    check_cond_scale(cond_scale, "generate")
    if temperature < 0:
        raise ValueError(f"generate: temperature must be >= 0, got {temperature}")
    check_remask_noise(remask_noise, "generate")


def check_remask_noise(value, where: str) -> float:
    """``value`` as a float if it is a usable remask noise scale (finite, >= 0); a ValueError naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{where}: remask_noise must be a finite number >= 0, got {value!r}")
    return float(value)


@torch.inference_mode()
def generate(
    model,
    cond: torch.Tensor | None,
    lengths_tokens: torch.Tensor,
    steps: int = 20,
    cond_scale: float = DEFAULT_COND_SCALE,
    temperature: float = 1.0,
    topk_ratio: float = 0.9,
    gumbel: bool = False,
    fixed_ids: torch.Tensor | None = None,
    keep: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    parity: bool | None = None,
    progress: Callable[[int, int], None] | None = None,
    remask_noise: float = 0.0,
) -> torch.Tensor:
    """Decode token maps for both persons, or the part of them that ``keep`` leaves free.

    model: an ``InterMTransformer``; cond: (b, text_dim) or per-person (b, 2, text_dim) text features, or None for
    the null condition only.
    lengths_tokens: (b,) valid token time steps; the maps span t = max(lengths) unless ``fixed_ids`` sets t.
    steps, cond_scale, temperature (applied to the logits; 0 = greedy), topk_ratio (fraction of codes filtered
    away), gumbel (Gumbel-max instead of multinomial; both draw from softmax(logits / temperature)), remask_noise
    (the scale of the noise on the ranking of tokens to mask again; module docstring).
    fixed_ids: (b, 2, p, t) given tokens, with keep: which of them stay, either (b, 2) bool, True for each person
    kept whole (reaction generation), or (b, 2, p, t) bool, True for each kept token (editing); the rest is
    decoded. generator: seeds every draw.
    parity: decode with the reference implementation's conventions (module docstring); default: the
    model's own ``parity`` attribute, False when it has none.
    progress: called as progress(steps done, steps) after each decoding step.
    Returns ids (b, 2, p, t): codes at valid positions, ``model.pad_id`` beyond each length.
    """
    device = next(model.parameters()).device
    lengths_tokens = lengths_tokens.to(device)
    num_time = fixed_ids.shape[-1] if fixed_ids is not None else int(lengths_tokens.max())
    _check_request(model, cond, lengths_tokens, steps, cond_scale, temperature, remask_noise, num_time)
    valid = validity_grid(lengths_tokens, model.num_parts, num_time)

    to_decode = valid.clone()
    ids = torch.full(valid.shape, model.pad_id, dtype=torch.long, device=device)
    if fixed_ids is not None:
        if fixed_ids.shape != valid.shape:
            raise ValueError(f"generate: fixed_ids must be {tuple(valid.shape)}, got {tuple(fixed_ids.shape)}")
        given = valid & keep_grid(keep, valid.shape).to(device)
        fixed_ids = fixed_ids.to(device)
        if bool(((fixed_ids[given] < 0) | (fixed_ids[given] >= model.num_codes)).any()):
            raise ValueError(f"generate: fixed_ids must hold codes in [0, {model.num_codes}) at valid positions")
        ids = torch.where(given, fixed_ids, ids)
        to_decode &= ~given
    if cond is not None:
        cond = cond.to(device)

    if not bool(to_decode.any()):  # everything kept: nothing to decode
        return ids
    was_training = model.training
    model.eval()
    try:
        parity = bool(getattr(model, "parity", False)) if parity is None else parity
        ids = _decode(model, ids, to_decode, cond, lengths_tokens, steps, cond_scale, temperature, topk_ratio,
                      gumbel, generator, parity, progress, remask_noise)
    finally:
        model.train(was_training)
    return ids


def keep_grid(keep: torch.Tensor | None, shape: tuple[int, int, int, int]) -> torch.Tensor:
    """A keep mask as a (b, 2, p, t) bool grid: a (b, 2) mask of whole persons is broadcast over parts and time."""
    batch = shape[0]
    if keep is None:
        raise ValueError(f"generate: fixed_ids needs keep, of shape ({batch}, 2) or {tuple(shape)}")
    keep = keep.bool()
    if keep.shape == (batch, 2):
        return rearrange(keep, "b n -> b n 1 1").expand(shape)
    if keep.shape != shape:
        raise ValueError(f"generate: keep must be ({batch}, 2) or {tuple(shape)}, got {tuple(keep.shape)}")
    return keep


def _decode(model, ids, to_decode, cond, lengths_tokens, steps, cond_scale, temperature, topk_ratio, gumbel,
            generator, parity=False, progress=None, remask_noise=0.0) -> torch.Tensor:
    """The decoding loop on (b, 2, p, t) ids; only positions in ``to_decode`` are ever written."""
    num_parts = ids.shape[2]
    flat_decode = rearrange(to_decode, "b n p t -> b (n p t)")
    flat_ids = rearrange(ids, "b n p t -> b (n p t)").masked_fill(flat_decode, model.mask_id)
    scores = torch.where(flat_decode, 0.0, FROZEN_SCORE)
    num_to_decode = flat_decode.sum(dim=-1)
    if parity:  # the published sampler: filter the whole vocabulary, then draw over it
        whole_vocabulary = gumbel_sample if gumbel else categorical_sample
        temperature = temperature if gumbel else 1.0

        def sample(logits):
            return whole_vocabulary(top_k_filter(logits, topk_ratio), temperature, generator)
    else:
        def sample(logits):
            return sample_top_k(logits, topk_ratio, temperature, gumbel, generator)
    predict = guided_predictor(model, cond, lengths_tokens, ids.shape[-1], cond_scale)

    for step, tau in enumerate(torch.linspace(0, 1, steps, device=ids.device)):
        num_masked = (cosine_schedule(tau) * num_to_decode).round().clamp(min=1)
        ranks = scores.argsort(dim=-1, stable=not parity).argsort(dim=-1)
        is_mask = (ranks < rearrange(num_masked, "b -> b 1")) & flat_decode
        flat_ids = flat_ids.masked_fill(is_mask, model.mask_id)

        step_ids = rearrange(flat_ids, "b (n p t) -> b n p t", n=2, p=num_parts)
        logits = rearrange(predict(step_ids), "b n p t v -> b (n p t) v")
        sampled = sample(logits)

        flat_ids = torch.where(is_mask, sampled, flat_ids)
        confidence = logits.float().softmax(dim=-1).gather(-1, rearrange(sampled, "b l -> b l 1"))
        confidence = rearrange(confidence, "b l 1 -> b l")
        if remask_noise > 0:  # the next step's ranking: log-probability plus noise that falls to zero by the last step
            scale = remask_noise * (1.0 - min(step + 1, steps - 1) / max(steps - 1, 1))
            confidence = confidence.log() + scale * gumbel_noise(tuple(confidence.shape), confidence.device, generator)
        scores = torch.where(is_mask, confidence, FROZEN_SCORE)
        if progress is not None:
            progress(step + 1, steps)

    return rearrange(flat_ids, "b (n p t) -> b n p t", n=2, p=num_parts)


def reaction_keep(actor_ids: torch.Tensor, actor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Reaction generation as an edit: actor_ids (b, p, t) -> (fixed_ids (b, 2, p, t), keep (b, 2)) keeping the
    actor whole and nothing of the other person."""
    batch = actor_ids.shape[0]
    fixed_ids = torch.zeros(batch, 2, *actor_ids.shape[1:], dtype=torch.long, device=actor_ids.device)
    fixed_ids[:, actor] = actor_ids
    keep = torch.zeros(batch, 2, dtype=torch.bool, device=actor_ids.device)
    keep[:, actor] = True
    return fixed_ids, keep


def generate_reaction(
    model,
    actor_ids: torch.Tensor,
    cond: torch.Tensor | None,
    lengths_tokens: torch.Tensor,
    actor: int = 0,
    steps: int = 10,
    cond_scale: float = DEFAULT_COND_SCALE,
    temperature: float = 1.0,
    topk_ratio: float = 0.9,
    gumbel: bool = False,
    generator: torch.Generator | None = None,
    parity: bool | None = None,
) -> torch.Tensor:
    """Decode the reactor's tokens given the actor's: ``generate`` keeping one whole person.

    actor_ids: (b, p, t) the given person's codes; actor: which person (0 or 1) they are in the output.
    cond: (b, text_dim) or (b, 2, text_dim) text features with CFG at ``cond_scale``, or None for a single
    null-condition pass.
    parity: as for ``generate``.
    Returns ids (b, 2, p, t) with the actor's tokens unchanged at valid positions.
    """
    if actor not in (0, 1):
        raise ValueError(f"generate_reaction: actor must be 0 or 1, got {actor}")
    if actor_ids.ndim != 3:
        raise ValueError(f"generate_reaction: actor_ids must be (batch, parts, time), got {tuple(actor_ids.shape)}")
    fixed_ids, keep = reaction_keep(actor_ids, actor)
    return generate(
        model, cond, lengths_tokens, steps=steps, cond_scale=cond_scale, temperature=temperature,
        topk_ratio=topk_ratio, gumbel=gumbel, fixed_ids=fixed_ids, keep=keep, generator=generator,
        parity=parity,
    )
