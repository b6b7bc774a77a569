"""Prompt adherence on a dataset split: how often clips do what their captions say, for the ground truth and,
given a transformer checkpoint, for the model's generations from the same captions.

    python scripts/adherence.py --data data/synthetic --split test [--ckpt runs/synthetic/transformer_x/last.pt]
        [--max-items N] [--samples-per-text K] [--json OUT]
    python scripts/adherence.py --data data/synthetic --split test --vq runs/synthetic/vqvae_x/last.pt

Every caption of a test clip is parsed into checkable claims (``intermask.metrics.adherence``): which hand,
which side, clockwise or counterclockwise, who initiates, how many times. Ground truth checks each caption's
claims on that clip's joints. The model generates ``K`` motions per caption, each as long as the clip (clipped
to the model's longest motion and cut to whole tokens, 4 * floor(L / 4) frames), and its claims are checked on
them. With ``--vq`` instead of ``--ckpt`` the compared column is a VQ-VAE's reconstruction of each clip (tokenised
and decoded whole, cut to whole tokens; the ground truth then read from the same features): the adherence a
perfect token predictor would reach with that tokenizer. The table gives, per claim kind, the rate of claims the
motion confirms among those it decides and, in brackets, true / decided and the coverage decided / claims (a motion
that does nothing decides nothing).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from intermask.atomic import write_text_atomic
from intermask.cli import guarded
from intermask.data.interhuman import check_root, ignored_ids, read_clip, split_ids
from intermask.metrics.adherence import KINDS, adherence
from intermask.precision import resolve_device


def split_and_model_parser(description: str) -> argparse.ArgumentParser:
    """The arguments of a script that reads a dataset split and, given a checkpoint, generates from its captions."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, required=True, help="dataset root in the InterHuman layout")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--ckpt", type=Path, default=None, help="transformer checkpoint (last.pt) to generate with")
    parser.add_argument("--vq", type=Path, default=None,
                        help="VQ-VAE checkpoint: check its reconstructions of the clips instead (the tokenizer's bound)")
    parser.add_argument("--max-items", type=int, default=None, help="only the split's first N clips")
    parser.add_argument("--batch-size", type=int, default=32, help="captions generated at once")
    parser.add_argument("--steps", type=int, default=None, help="decoding iterations (model default if unset)")
    parser.add_argument("--cond-scale", type=float, default=None, help="guidance scale (model default if unset)")
    parser.add_argument("--collision-rounds", type=int, default=None,
                        help="rounds of re-decoding where the two bodies overlap (model default if unset)")
    parser.add_argument("--collision-steps", type=int, default=None,
                        help="decoding steps of each such round (model default if unset; else as --steps)")
    parser.add_argument("--remask-noise", type=float, default=None,
                        help="noise on the ranking of the tokens masked again (model default if unset)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument("--amp", default="auto", choices=("auto", "bf16", "off"),
                        help="generation precision: auto = bf16 autocast on CUDA and on a CPU with AMX, float32 elsewhere")
    return parser


def parse_counts(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse, refusing a count below 1 (every integer option but the seed and the steps is a count), and a model
    and a tokenizer given together."""
    args = parser.parse_args(argv)
    if args.vq is not None and args.ckpt is not None:
        parser.error("give --ckpt (a model's generations) or --vq (a VQ-VAE's reconstructions), not both")
    for name in ("max_items", "samples_per_text", "batch_size"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    return args


def generation_options(args: argparse.Namespace) -> dict:
    """The decoding settings asked for on the command line (the model's own for the rest)."""
    asked = (("steps", args.steps), ("cond_scale", args.cond_scale), ("collision_rounds", args.collision_rounds),
             ("collision_steps", args.collision_steps), ("remask_noise", args.remask_noise))
    options = {key: value for key, value in asked if value is not None}
    options["amp"] = args.amp
    return options


def write_report(path: Path | None, report: dict) -> None:
    """The report as JSON at ``path`` (written whole or not at all; nothing without a path)."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(report, indent=1))
    print(f"wrote {path}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = split_and_model_parser(__doc__.splitlines()[0])
    parser.add_argument("--samples-per-text", type=int, default=1, help="generations per caption")
    parser.add_argument("--json", type=Path, default=None, help="also write the rates and every verdict here")
    return parse_counts(parser, argv)


def read_split(root: Path, split: str, max_items: int | None) -> list:
    """The split's clips (``RawClip``: joints (2, frame, 22, 3) Y-up and all captions), ignored ids left out."""
    check_root(root)
    ignore = ignored_ids(root)
    ids = [clip_id for clip_id in split_ids(root, split) if clip_id not in ignore]
    return [read_clip(root, clip_id) for clip_id in ids[:max_items]]


def generation_frames(num_frames: int, max_frames: int, frames_per_token: int) -> int:
    """Frames to generate for a clip of ``num_frames``: clipped to the model's longest, cut to whole tokens."""
    length = min(num_frames, max_frames)
    return length - length % frames_per_token


def generate_joints(model, texts: list[str], frames: list[int], seed: int, batch_size: int,
                    options: dict | None = None, progress: bool = False) -> list[np.ndarray]:
    """One motion per (caption, frame count): joints (2, frames, 22, 3) each, in metres.

    Batch ``b`` draws from a generator seeded ``seed + b``, so a run is reproducible for a given batch size.
    """
    device = model.mean.device
    motions = []
    starts = range(0, len(texts), batch_size)
    for batch, start in enumerate(tqdm(starts, desc="generating", disable=not progress, leave=False)):
        chunk_texts, chunk_frames = texts[start:start + batch_size], frames[start:start + batch_size]
        generator = torch.Generator(device=device).manual_seed(seed + batch)
        _, features = model.generate(chunk_texts, torch.tensor(chunk_frames, device=device), generator=generator,
                                     **(options or {}))
        joints = model.joints(features).cpu().numpy()  # (batch, 2, frame, 22, 3)
        motions.extend(joints[i, :, :length] for i, length in enumerate(chunk_frames))
    return motions


def rates_row(result: dict) -> str:
    if result["rate"] is None:
        return f"{'-':>6} (0/{result['claims']})"
    return f"{result['rate']:6.3f} ({result['true']}/{result['decided']}, cov {result['coverage']:.2f})"


def format_table(columns: dict[str, dict]) -> str:
    """Rates per claim kind (rows) for each evaluated source (columns: "ground truth", "model")."""
    width = 30
    lines = [f"{'claim kind':<12}" + "".join(f"{name:>{width}}" for name in columns)]
    for kind in (*KINDS, "all"):
        cells = [result["all"] if kind == "all" else result["by_kind"][kind] for result in columns.values()]
        if all(cell["claims"] == 0 for cell in cells):
            continue
        lines.append(f"{kind:<12}" + "".join(f"{rates_row(cell):>{width}}" for cell in cells))
    return "\n".join(lines)


def verdicts(result: dict, items: list[dict]) -> list[dict]:
    """Each checked claim with the clip, caption and sample it came from."""
    return [{**items[r["item"]], **{k: v for k, v in r.items() if k != "item"}} for r in result["results"]]


def summary(result: dict) -> dict:
    return {key: result[key] for key in ("all", "by_kind", "by_action")}


def per_caption(motions: list[np.ndarray], clips: list) -> list[np.ndarray]:
    """Each clip's motion once for every caption of the clip (the order of ``texts`` in ``run``)."""
    return [motion for motion, clip in zip(motions, clips) for _ in clip.texts]


def run(args: argparse.Namespace) -> dict:
    clips = read_split(args.data, args.split, args.max_items)
    items = [{"clip": clip.name, "caption": caption} for clip in clips for caption in clip.texts]
    texts = [item["caption"] for item in items]
    truths = [clip.joints for clip in clips]
    if args.vq is not None:  # both columns read from the features, over the same whole tokens
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from tokenizer_bound import reconstructed_clips

        truths, reconstructions = reconstructed_clips(args.data, clips, args.vq)
    truth = adherence(texts, per_caption(truths, clips), fps=args.fps)
    report = {"data": str(args.data), "split": args.split, "clips": len(clips), "captions": len(texts),
              "checkpoint": None, "ground_truth": summary(truth), "model": None,
              "verdicts": {"ground_truth": verdicts(truth, items)}}
    if args.vq is not None:
        rebuilt = adherence(texts, per_caption(reconstructions, clips), fps=args.fps)
        report.update(checkpoint=str(args.vq), compared="reconstruction", model=summary(rebuilt))
        report["verdicts"]["model"] = verdicts(rebuilt, items)
        return report
    if args.ckpt is not None:
        from intermask.loading import load_interaction_model

        model = load_interaction_model(args.ckpt, resolve_device(args.device))
        lengths = {clip.name: generation_frames(clip.num_frames, model.max_frames, model.frames_per_token)
                   for clip in clips}
        samples = [{**item, "sample": k} for item in items for k in range(args.samples_per_text)]
        options = generation_options(args)
        motions = generate_joints(model, [s["caption"] for s in samples], [lengths[s["clip"]] for s in samples],
                                  args.seed, args.batch_size, options, progress=sys.stderr.isatty())
        generated = adherence([s["caption"] for s in samples], motions, fps=args.fps)
        report.update(checkpoint=str(args.ckpt), samples_per_text=args.samples_per_text, model=summary(generated))
        report["verdicts"]["model"] = verdicts(generated, samples)
    return report


@guarded  # a user's mistake (a missing dataset, an empty split, a bad checkpoint) is one line and exit status 2
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    columns = {"ground truth": report["ground_truth"]}
    heading = f"{report['data']} / {report['split']}: {report['clips']} clips, {report['captions']} captions"
    if report.get("compared") == "reconstruction":
        columns["reconstruction"] = report["model"]
        heading += f", each clip reconstructed by {report['checkpoint']}"
    elif report["model"] is not None:
        columns["model"] = report["model"]
        heading += f", {report['samples_per_text']} generation(s) per caption from {report['checkpoint']}"
    print(heading)
    print(format_table(columns))
    write_report(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
