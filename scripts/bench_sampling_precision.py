"""Sampling in bf16 against float32 with a trained model: speed, how far the token distributions move, and what
decoding in bf16 would do to the joints.

Usage: python scripts/bench_sampling_precision.py --ckpt runs/synthetic/transformer_cpu/last.pt
           [--batch 96] [--frames 160] [--steps 10] [--repeats 2] [--device auto]

Prints, for the model's own captions of four families:
- the time to generate a batch (``generate``, no collision rounds) with ``amp=off`` and ``amp=bf16``;
- the guided logits of bf16 against float32 on the same partly masked token maps: the mean KL divergence per
  masked token (nats), the share of tokens whose most likely code agrees, and the distributions' entropy;
- the same token maps decoded by the VQ decoder under bf16 autocast against float32: the joints' distance (mm)
  and the jitter (mean joint acceleration, m/s²) of both (``InterMask.decode`` runs in float32 for this reason).
"""
from __future__ import annotations

import argparse
import time

import torch

from intermask.generation.decoding import guided_predictor
from intermask.loading import load_interaction_model
from intermask.metrics.physical import jitter
from intermask.precision import resolve_device

CAPTIONS = ("the first person pushes the second person, who staggers backwards", "two people hug each other warmly",
            "the second person waves at the first person three times", "the first person chases the second person")


def timed_generation(model, texts, lengths, steps, amp, repeats) -> list[float]:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.generate(texts, lengths, steps=steps, amp=amp, collision_rounds=0,
                       generator=torch.Generator(lengths.device).manual_seed(1))
        seconds.append(time.perf_counter() - started)
    return seconds


def logit_agreement(model, ids, token_steps, texts, masked_share, device) -> tuple[float, float, float]:
    """(mean KL(float32 || bf16) per masked token, top-1 agreement, mean entropy) of the guided logits."""
    masked = torch.rand(ids.shape, generator=torch.Generator().manual_seed(2)).to(device) < masked_share
    inputs = ids.masked_fill(masked, model.transformer.mask_id)
    predict = guided_predictor(model.transformer, model.encode_text(texts), token_steps, ids.shape[-1],
                               model.guidance_scale())
    exact = predict(inputs).log_softmax(-1)
    with torch.autocast(device.type, dtype=torch.bfloat16):
        halved = predict(inputs).float().log_softmax(-1)
    kl = (exact.exp() * (exact - halved)).sum(-1)[masked]
    agree = (exact.argmax(-1) == halved.argmax(-1))[masked].float().mean()
    entropy = -(exact.exp() * exact).sum(-1)[masked].mean()
    return float(kl.mean()), float(agree), float(entropy)


@torch.inference_mode()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--batch", type=int, default=96)
    parser.add_argument("--frames", type=int, default=160)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    model = load_interaction_model(args.ckpt, device)
    texts = [CAPTIONS[i % len(CAPTIONS)] for i in range(args.batch)]
    lengths = torch.randint(args.frames // 3, args.frames + 1, (args.batch,),
                            generator=torch.Generator().manual_seed(0))
    lengths = (lengths - lengths % model.frames_per_token).to(device)
    print(f"{args.ckpt}: batch {args.batch}, {args.frames // 3}-{args.frames} frames, {args.steps} decoding steps, "
          f"{device}, {torch.get_num_threads()} threads")
    for amp in ("off", "bf16"):
        seconds = timed_generation(model, texts, lengths, args.steps, amp, args.repeats)
        print(f"generate amp={amp}: " + ", ".join(f"{s:.2f} s" for s in seconds))

    full = torch.full((args.batch,), args.frames - args.frames % model.frames_per_token, device=device)
    ids, _ = model.generate(texts, full, steps=args.steps, collision_rounds=0,
                            generator=torch.Generator(device).manual_seed(1))
    token_steps = full // model.frames_per_token
    for share in (1.0, 0.5, 0.1):
        kl, agree, entropy = logit_agreement(model, ids, token_steps, texts, share, device)
        print(f"logits, {share:.0%} of the tokens masked: KL {kl:.5f} nats a token, top-1 agreement {agree:.3f}, "
              f"entropy {entropy:.3f} nats")

    people, people_steps = ids.flatten(0, 1), token_steps.repeat_interleave(2)
    exact = model.joints(model.vq.decode(people, people_steps).unflatten(0, ids.shape[:2]))
    with torch.autocast(device.type, dtype=torch.bfloat16):  # what the decoder gives under bf16
        halved = model.joints(model.vq.decode(people, people_steps).float().unflatten(0, ids.shape[:2]))
    distance = (exact - halved).norm(dim=-1) * 1000
    fps = 30.0

    def mean_jitter(joints):
        return sum(jitter(clip.cpu().numpy(), fps) for clip in joints) / len(joints)

    print(f"decoder under bf16: joints {float(distance.mean()):.2f} mm from float32's (at most "
          f"{float(distance.max()):.1f}); jitter {mean_jitter(halved):.3f} m/s² against {mean_jitter(exact):.3f}")


if __name__ == "__main__":
    main()
