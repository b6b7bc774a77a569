"""Where R-precision is lost, per synthetic interaction family: the protocol's retrieval within batches, for the
ground truth of a split and for a model's generations (or its tokenizer's reconstructions) of the same items.

    python scripts/retrieval_by_family.py --data data/synthetic --evaluator runs/synthetic/evaluator_cpu/last.pt \\
        --ckpt runs/synthetic/transformer_cpu/last.pt [--reconstruction] [--max-frames 160] [--replications 2]
        [--batch-size 96] [--steps 10] [--cond-scale S] [--json OUT]

The items are drawn as ``python -m intermask.eval`` draws them (a random crop, caption and person order per item,
whole batches of ``--batch-size`` in a shuffled order, one pass per replication), and each caption ranks the batch's
motions by the evaluator's distance. Per family (from the clip's index in the synthetic data), over its captions:

- ``R@k``: the caption's own motion among its k nearest, the protocol's R-precision (an own motion tied with
  others counts by expectation, as the protocol counts it);
- ``family R@k``: some motion of the caption's family among its k nearest: the family read, whatever the detail;
- ``taken by``: for captions whose own motion is not the nearest, the family of the motion that is, counted: a
  model whose waves read as another family's gesture shows its captions taken by that family.

A model whose R@k trails the ground truth's while its family R@k keeps up loses the details (who acts, which hand);
one whose family R@k falls loses the interaction itself. ``--reconstruction`` compares the model's VQ-VAE
reconstructing each item instead: the bound a perfect token predictor would reach, family by family.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from adherence import write_report  # noqa: E402
from physical_by_family import check_synthetic  # noqa: E402
from tokenizer_bound import synthetic_source  # noqa: E402

from intermask.cli import guarded  # noqa: E402
from intermask.data.source import DataSource, check_exists  # noqa: E402
from intermask.data.synthetic import family_for_index  # noqa: E402
from intermask.metrics.text_motion import euclidean_distance_matrix  # noqa: E402
from intermask.precision import check_settings, resolve_device  # noqa: E402

EVAL_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "eval.yaml"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a synthetic dataset's root")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--evaluator", type=Path, required=True, help="text-motion evaluator checkpoint (last.pt)")
    parser.add_argument("--ckpt", type=Path, default=None, help="transformer checkpoint whose generations to rank")
    parser.add_argument("--reconstruction", action="store_true",
                        help="rank the checkpoint's VQ-VAE reconstructions of the items instead of its generations")
    parser.add_argument("--max-frames", type=int, default=None,
                        help="longest item in frames (the data config's by default; the CPU recipe's 160)")
    parser.add_argument("--replications", type=int, default=2, help="protocol passes over the split")
    parser.add_argument("--batch-size", type=int, default=96, help="the protocol's batch (96 for InterHuman's)")
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="decoding iterations (the evaluation's 20 if unset)")
    parser.add_argument("--cond-scale", type=float, default=None, help="guidance scale (model default if unset)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    if args.reconstruction and args.ckpt is None:
        parser.error("--reconstruction needs --ckpt: the checkpoint's VQ-VAE reconstructs the items")
    for name in ("replications", "batch_size", "top_k", "max_frames"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    return args


def batch_retrieval(text_emb: np.ndarray, motion_emb: np.ndarray, families: list[str], top_k: int = 3) -> list[dict]:
    """Per caption of one batch (row i of each embedding a pair): ``hit`` (its own motion among its ``top_k``
    nearest, ties counted by expectation as ``metrics.text_motion.r_precision`` counts them), ``family_hit`` (a
    motion of its family among its ``top_k`` nearest) and ``taken_by`` (the family of its nearest motion when that
    is not its own, else None)."""
    distances = euclidean_distance_matrix(text_emb, motion_emb)
    rows = []
    for i, row in enumerate(distances):
        closer, tied = int((row < row[i]).sum()), int((row == row[i]).sum())
        nearest = np.argsort(row, kind="stable")[:top_k]
        first = int(np.argmin(row))
        rows.append({"hit": float(np.clip((top_k - closer) / tied, 0.0, 1.0)),
                     "family_hit": float(any(families[j] == families[i] for j in nearest)),
                     "taken_by": None if row[first] == row[i] else families[first]})
    return rows


def summarise(rows: list[dict], families: list[str]) -> dict:
    """Per family (sorted) and over all: captions, R@k, family R@k and the ``taken_by`` counts (most first)."""
    grouped = defaultdict(list)
    for family, row in zip(families, rows):
        grouped[family].append(row)

    def summary(group: list[dict]) -> dict:
        taken = Counter(row["taken_by"] for row in group if row["taken_by"] is not None)
        return {"captions": len(group), "r_at_k": float(np.mean([row["hit"] for row in group])),
                "family_r_at_k": float(np.mean([row["family_hit"] for row in group])),
                "taken_by": dict(taken.most_common())}

    return {"all": summary(rows), "families": {family: summary(group) for family, group in sorted(grouped.items())}}


def data_source(root: Path, max_frames: int | None) -> DataSource:
    """The synthetic dataset at ``root`` (it must exist and be one the synthetic generator wrote), its items at most
    ``max_frames`` long."""
    source = synthetic_source(root, max_frames)
    check_exists(source)
    check_synthetic(root)
    return source


@torch.no_grad()
def run(args: argparse.Namespace) -> dict:
    from intermask import loading  # looked up at the call: the tests stand a model and an evaluator in for it
    from intermask.evaluation_run import EvaluationRun, generation_settings

    source = data_source(args.data, args.max_frames)
    device = resolve_device(args.device)
    evaluator = loading.load_text_motion_evaluator(args.evaluator, device, source.cfg)
    model = loading.load_interaction_model(args.ckpt, device) if args.ckpt is not None else None
    # the evaluation's decoding settings (configs/eval.yaml), with the ones asked on the command line
    defaults = OmegaConf.to_container(OmegaConf.load(EVAL_CONFIG).generation)
    asked = {key: value for key, value in (("steps", args.steps), ("cond_scale", args.cond_scale)) if value is not None}
    generation = {**defaults, **asked}
    check_settings(generation, "generation")
    generation = generation_settings(generation, model)
    dataset = source.interactions(args.split, normalized=False, seed=args.seed, mirror=False)
    if len(dataset) < args.batch_size:
        raise ValueError(f"the {args.split} split of {args.data} has {len(dataset)} items, fewer than one batch of "
                         f"{args.batch_size} (--batch-size)")
    evaluation = EvaluationRun(dataset, evaluator, model, args.batch_size, generation, device)
    compared = None if model is None else "reconstruction" if args.reconstruction else "generation"
    columns = {"ground truth": []} | ({compared: []} if compared else {})
    families = []
    rng = np.random.default_rng(args.seed)
    passes = len(dataset) // args.batch_size * args.replications
    with tqdm(total=passes, desc="batches", disable=not sys.stderr.isatty(), leave=False) as bar:
        for _ in range(args.replications):
            for batch in evaluation.batches(rng):
                if len(batch["text"]) < args.batch_size:
                    continue  # the protocol keeps whole batches only
                names = [family_for_index(int(name)) for name in batch["name"]]
                motions = {"ground truth": (batch["motion"], batch["length"])}
                if compared == "generation":
                    motions[compared] = evaluation.generate(batch["text"], batch["length"], int(rng.integers(2**31)))
                elif compared == "reconstruction":
                    motions[compared] = evaluation.reconstruct(batch["motion"], batch["length"])
                text_emb = evaluator.embed_text(list(batch[evaluator.text_key])).cpu().numpy()
                for column, (raw, frames) in motions.items():
                    motion_emb = evaluator.embed_motion(raw, frames).cpu().numpy()
                    columns[column] += batch_retrieval(text_emb, motion_emb, names, args.top_k)
                families += names
                bar.update()
    return {"data": str(args.data), "split": args.split, "evaluator": str(args.evaluator),
            "checkpoint": None if args.ckpt is None else str(args.ckpt), "compared": compared,
            "generation": generation if compared == "generation" else None, "replications": args.replications,
            "batch_size": args.batch_size, "top_k": args.top_k,
            "columns": {column: summarise(rows, families) for column, rows in columns.items()}}


def format_table(report: dict) -> str:
    """One row per family and one over all: each column's R@k, the compared column's family R@k, and the
    families its missed captions were taken by."""
    k, columns = report["top_k"], report["columns"]
    compared = report["compared"]
    label = {"ground truth": "data", "generation": "model", "reconstruction": "recon"}
    header = f"{'family':<18}{'captions':>9}" + "".join(f"{f'{label[name]} R@{k}':>12}" for name in columns)
    if compared:
        header += f"{f'{label[compared]} family R@{k}':>20}   {label[compared]}'s misses taken by"
    lines = [header]
    for family in ("all", *columns["ground truth"]["families"]):
        cells = [table["all"] if family == "all" else table["families"][family] for table in columns.values()]
        line = f"{family:<18}{cells[0]['captions']:>9}" + "".join(f"{cell['r_at_k']:>12.3f}" for cell in cells)
        if compared:
            taken = ", ".join(f"{name} {count}" for name, count in list(cells[-1]["taken_by"].items())[:3])
            line += f"{cells[-1]['family_r_at_k']:>20.3f}   {taken}"
        lines.append(line)
    return "\n".join(lines)


@guarded  # a user's mistake (a missing dataset or checkpoint, too few items) is one line and exit status 2
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    what = f"; {report['compared']} by {report['checkpoint']}" if report["compared"] else ""
    replications = report["replications"]
    print(f"{report['data']} / {report['split']}: {replications} replication{'s' * (replications != 1)}, batch "
          f"{report['batch_size']}; evaluator {report['evaluator']}{what}")
    print(format_table(report))
    write_report(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
