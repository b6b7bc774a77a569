"""Does a trained model read the details of its captions: who acts, and left from right?

A caption changed in one detail describes another motion: with the names of the two people exchanged ("the first
person pushes the second" -> "the second person pushes the first"; only for data whose captions name the people,
``data.person_names``) or mirrored (left <-> right, clockwise <-> counterclockwise). This script measures, on the
items whose caption such a change alters:

- for a transformer: its masked-token loss on the validation token maps with each of their captions as it is and
  changed, under the same masks. The gap (nats) is how much the model reads that detail; beside it, the loss with
  another item's caption (the whole caption's worth, as ``val_text_gain`` in training);
- for an evaluator: how often it scores a test clip's own caption above the changed one (0.5: blind to the detail).

    python scripts/caption_details.py --ckpt runs/synthetic/transformer_cpu/last.pt \\
        --evaluator runs/synthetic/evaluator_cpu/last.pt --data data/synthetic --max-frames 160 --json out.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from omegaconf import OmegaConf

from intermask.atomic import write_text_atomic
from intermask.data.datasets import captions_for_order, collate
from intermask.data.source import DataSource
from intermask.data.tokens import load_or_build_tokens
from intermask.loading import TextMotionEvaluator, load_interaction_model
from intermask.metrics.text_motion import own_caption_preferred
from intermask.models.masking import transformer_training_loss
from intermask.models.text import TextFeatureCache
from intermask.training.tasks import changed_captions

CONFIGS = Path(__file__).resolve().parent.parent / "configs" / "data"


@torch.no_grad()
def transformer_gaps(ckpt: Path, source: DataSource, batch_size: int = 32) -> dict:
    """Masked-token loss with the captions as they are, changed, and taken from half a batch away, per change.
    Every caption of every validation token map counts once, the map's people in stored order for even maps and
    exchanged for odd ones (the captions following them)."""
    model = load_interaction_model(ckpt, torch.device("cpu"))
    # the run's cache of validation token maps, rebuilt when its VQ-VAE checkpoint has changed since
    tokens = load_or_build_tokens(model, source, "val", ckpt.parent / "tokens", Path(model.config["vq_checkpoint"]),
                                  torch.device("cpu"))
    items = [{"ids": tokens.ids[i, i % 2].long(), "length_tokens": int(tokens.lengths[i]), "text": text,
              "name": tokens.names[i]}
             for i in range(len(tokens.names))
             for text in captions_for_order(tokens.texts[i], bool(i % 2), source.person_names())]
    cache = TextFeatureCache(model.text_encoder.backbone.name)
    results = {}
    for name, change in source.caption_changes().items():
        chosen = [item for item in items if change(item["text"]) != item["text"]]
        totals = {"own": 0.0, "changed": 0.0, "other": 0.0}  # the caption as it is, changed, another item's
        for start in range(0, len(chosen), batch_size):
            batch = collate(chosen[start:start + batch_size])
            ids = batch["ids"][..., : int(batch["length_tokens"].max())]
            texts = list(batch["text"])
            half = len(texts) // 2  # neighbours are often captions of the same map; half a batch away seldom
            captions = {"own": texts, "changed": [change(text) for text in texts], "other": texts[half:] + texts[:half]}
            for which, captions_used in captions.items():
                generator = torch.Generator().manual_seed(start)  # the same masks for all three
                cond = model.encode_text(captions_used, cache)
                _, logs = transformer_training_loss(model.transformer, ids, cond, batch["length_tokens"], generator,
                                                    interaction_prob=0.0, unroll=False)
                totals[which] += float(logs["ce"]) * len(texts)
        losses = {which: round(total / max(len(chosen), 1), 4) for which, total in totals.items()}
        results[name] = {"items": len(chosen), **losses,
                         "gap": round(losses["changed"] - losses["own"], 4),
                         "text gain": round(losses["other"] - losses["own"], 4)}
    return results


@torch.no_grad()
def evaluator_preferences(path: Path, source: DataSource, split: str, batch_size: int, seed: int = 0) -> dict:
    """Per change: how often the evaluator ranks a clip's own caption above the changed caption."""
    evaluator = TextMotionEvaluator.load(path, torch.device("cpu"))
    dataset = source.interactions(split, normalized=False, seed=seed, mirror=False)
    dataset.set_epoch(0)
    kinds = source.caption_changes()
    wins = {name: [0, 0] for name in kinds}
    for start in range(0, len(dataset), batch_size):
        batch = collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        motion = evaluator.embed_motion(batch["motion"].float(), batch["length"]).float().cpu().numpy()
        texts = list(batch["text"])
        for name, pairs in changed_captions(texts, kinds).items():
            if not pairs:
                continue
            rows = [row for row, _ in pairs]
            own = evaluator.embed_text([texts[row] for row in rows]).float().cpu().numpy()
            changed = evaluator.embed_text([text for _, text in pairs]).float().cpu().numpy()
            wins[name][0] += own_caption_preferred(motion[rows], own, changed)
            wins[name][1] += len(pairs)
    return {name: {"own caption preferred": right, "items": total, "rate": round(right / max(total, 1), 3)}
            for name, (right, total) in wins.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", type=Path, help="transformer checkpoint (its run folder keeps the token cache)")
    parser.add_argument("--evaluator", type=Path, help="text-motion evaluator checkpoint")
    parser.add_argument("--data", required=True, help="dataset root")
    parser.add_argument("--dataset", default="synthetic", help="configs/data/<name>.yaml (default synthetic)")
    parser.add_argument("--split", default="test", help="the evaluator's split (default test)")
    parser.add_argument("--max-frames", type=int, default=None, help="item length (data.max_frames)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if args.ckpt is None and args.evaluator is None:
        parser.error("give --ckpt, --evaluator or both")
    cfg = OmegaConf.load(CONFIGS / f"{args.dataset}.yaml").data
    cfg.root = args.data
    if args.max_frames is not None:
        cfg.max_frames = args.max_frames
    source = DataSource(cfg)
    results = {}
    if args.ckpt is not None:
        results["transformer"] = transformer_gaps(args.ckpt, source)
        print(f"transformer {args.ckpt}: masked-token loss (nats) with each caption as it is and changed")
        for name, row in results["transformer"].items():
            print(f"  {name}: {row['items']} items, own {row['own']}, changed {row['changed']} "
                  f"(gap {row['gap']:+.4f}), another item's {row['other']} (gain {row['text gain']:+.4f})")
    if args.evaluator is not None:
        results["evaluator"] = evaluator_preferences(args.evaluator, source, args.split, int(cfg.eval.batch_size))
        print(f"evaluator {args.evaluator}: own caption scored above the changed one")
        for name, row in results["evaluator"].items():
            print(f"  {name}: {row['own caption preferred']}/{row['items']} = {row['rate']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.json, json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
