"""How high R-precision can go on synthetic data: the score of a perfect judge that reads only what captions say.

Two clips of the same family whose captions state the same facts (who starts, which hand, which side, how many
times...) cannot be told apart from their captions, however well a judge reads the motion: the caption of one
describes the other as truly. Such clips tie, and ties rank in random order, so in an evaluation batch a caption
whose clip has s such twins (itself included) finds it within the top k with probability min(k / s, 1). This script
draws the protocol's batches (a shuffle per replication, one caption per clip, whole batches only) and reports
that expectation for k = 1..3, over all clips and per family: the ceiling of the ground truth's R@k, against which
an evaluator's ground-truth row is read.

A clip's facts are the claims ``metrics.adherence.claims`` reads from its caption (every synthetic caption states
exactly its scene's facts: tests/test_adherence.py); its family comes from its name, the generator's clip index.

    python scripts/retrieval_ceiling.py --data data/synthetic --split test --batch-size 96
"""
from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from intermask.atomic import write_text_atomic
from intermask.cli import guarded
from intermask.data.interhuman import read_texts
from intermask.data.synthetic import family_for_index
from intermask.errors import DatasetError, UsageError
from intermask.metrics.adherence import claims


def caption_key(clip: str, caption: str) -> tuple:
    """What a caption tells about its clip: the family and the set of facts it states."""
    return family_for_index(int(clip)), frozenset(claims(caption))


def batch_hits(keys: list, top_k: int = 3) -> np.ndarray:
    """Per caption of one batch, the expected hits at k = 1..top_k of a judge that tells keys apart and nothing else:
    a caption whose key s clips of the batch share (its own included) ranks its clip among them at random, a hit at
    k with probability min(k / s, 1), as ``metrics.text_motion.r_precision`` counts ties. (batch,) -> (batch, top_k)."""
    shared = Counter(keys)
    return np.minimum(np.arange(1, top_k + 1)[None, :] / np.array([[shared[key]] for key in keys]), 1.0)


def ceiling(captions: dict[str, list[str]], batch_size: int, replications: int, top_k: int = 3,
            seed: int = 0) -> dict:
    """R@1..top_k ceilings over ``replications`` protocol draws of ``captions`` (clip -> its captions)."""
    clips = sorted(captions)
    if len(clips) < batch_size:
        raise UsageError(f"{len(clips)} clips, fewer than one batch of {batch_size}")
    rng = np.random.default_rng(seed)
    overall, per_family = [], defaultdict(list)
    for _ in range(replications):
        order = rng.permutation(len(clips))
        for start in range(0, len(clips) // batch_size * batch_size, batch_size):
            batch = [clips[i] for i in order[start:start + batch_size]]
            keys = [caption_key(clip, captions[clip][rng.integers(len(captions[clip]))]) for clip in batch]
            hits = batch_hits(keys, top_k)
            overall.append(hits)
            for key, row in zip(keys, hits):
                per_family[key[0]].append(row)

    def rates(rows) -> list[float]:
        return [round(float(v), 4) for v in np.mean(rows, axis=0)]

    return {"batch_size": batch_size, "replications": replications, "overall": rates(np.concatenate(overall)),
            "per_family": {family: rates(rows) for family, rows in sorted(per_family.items())}}


def read_captions(root: Path, split: str) -> dict[str, list[str]]:
    split_file = root / "split" / f"{split}.txt"
    if not split_file.is_file():
        raise DatasetError(f"{split_file} not found: --data must be a synthetic dataset root (python -m "
                           f"intermask.data.synthetic out=...)")
    captions = {}
    for clip in split_file.read_text().split():
        if not clip.isdigit():
            raise DatasetError(f"{split_file}: clip {clip!r} is not a synthetic clip index (the generator names "
                               f"clip i by i, which gives its family)")
        captions[clip] = list(read_texts(root, clip))
    return captions


@guarded  # a user's mistake (a missing dataset, a batch larger than the split) is one line and exit status 2
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="synthetic dataset root")
    parser.add_argument("--split", default="test")
    parser.add_argument("--batch-size", type=int, default=96, help="the protocol's (96 on synthetic)")
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    result = ceiling(read_captions(args.data, args.split), args.batch_size, args.replications)
    print(f"R@1..3 ceiling, batch {args.batch_size}, {args.replications} replications: {result['overall']}")
    for family, rates in result["per_family"].items():
        print(f"  {family:18s} {rates}")
    if args.json is not None:
        write_text_atomic(args.json, json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
