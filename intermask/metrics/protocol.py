"""The evaluation protocol: replications, seeds, batching and confidence intervals around the pure metrics.

The protocol never touches datasets or models. The caller supplies four callables:

- ``gt_batches_fn(rng) -> Iterable[EvalBatch]``: one pass over the test set, drawing its random choices
  (caption, crop, order, shuffling) from ``rng``. Each call with a new rng is a fresh stochastic pass.
- ``gen_batches_fn(rng) -> Iterable[EvalBatch]``: one generation per test item (same caption and length),
  drawing every random choice, sampling included, from ``rng``.
- ``embed_fn(batch) -> (text_emb, motion_emb)``: evaluator embeddings (batch, dim), rows paired.
- ``mm_fn(rng, num_texts, num_samples) -> motion embeddings (num_texts, num_samples, dim)``: optional;
  ``num_samples`` generations for each of ``num_texts`` random test captions, for MModality.

Each replication runs three passes: ground truth, a second ground-truth pass that serves as the FID
reference for both rows (hence GT FID > 0), and the generated pass. Embeddings are cut into consecutive
chunks of ``batch_size`` in stream order, dropping the tail, and every text–motion metric uses those kept
items: R-precision ranks within a chunk, so it depends on ``batch_size`` (96 InterHuman, 32 Inter-X), not
on how the callables batch. Physical metrics use every clip of a pass whose batches carry ``joints``.

MModality is scaled like Diversity (× emb_scale / divide_by, i.e. × 3 on InterHuman), one convention for
every method; unscaled InterHuman numbers quoted elsewhere are 3 times smaller.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from .physical import PHYSICAL_KEYS, PhysicalMetrics
from .text_motion import (
    activation_statistics,
    diversity,
    frechet_distance,
    matching_score,
    mean_confidence_interval,
    multimodality,
    r_precision,
)

GT_ROW, MODEL_ROW = "ground truth", "model"


@dataclass(frozen=True)
class ProtocolConfig:
    """Protocol constants; the defaults are InterHuman's (Inter-X: batch_size 32, emb_scale 1, divide_by 1)."""

    batch_size: int = 96
    replications: int = 20
    emb_scale: float = 6.0
    divide_by: float = 2.0
    diversity_pairs: int = 300
    mm_num_texts: int = 100
    mm_num_samples: int = 30
    mm_pairs: int = 10
    # how many replications (the first ones) also measure MultiModality, whose 3,000 generations cost about 3x a
    # replication's own on InterHuman's test split and 8x on the synthetic one; None: every replication, as published
    mm_replications: int | None = None
    top_k: int = 3
    fps: float = 30.0
    seed: int = 0

    def __post_init__(self):
        for name in ("batch_size", "replications", "diversity_pairs", "mm_num_texts", "mm_num_samples",
                     "mm_pairs", "top_k"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"ProtocolConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.mm_replications is not None and not 1 <= int(self.mm_replications) <= self.replications:
            raise ValueError(f"ProtocolConfig.mm_replications must lie in [1, replications={self.replications}] or "
                             f"be None (every replication), got {self.mm_replications}")
        if self.top_k > self.batch_size:
            raise ValueError(f"ProtocolConfig.top_k ({self.top_k}) exceeds batch_size ({self.batch_size})")
        if self.mm_pairs > self.mm_num_samples:
            raise ValueError(f"ProtocolConfig.mm_pairs ({self.mm_pairs}) exceeds mm_num_samples "
                             f"({self.mm_num_samples}): MultiModality draws its pairs without replacement")
        for name in ("emb_scale", "divide_by", "fps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ProtocolConfig.{name} must be positive, got {getattr(self, name)}")


@dataclass
class EvalBatch:
    """One batch of test items as the protocol sees it.

    text: whatever ``embed_fn`` reads (captions, frozen text features, GloVe tokens).
    motion: the evaluator's motion input, e.g. (batch, time, 516) de-normalised features.
    lengths: (batch,) valid frames.
    joints: optional (batch, 2, time, 22, 3) positions (Y-up, metres) for the physical metrics.
    """

    text: Any
    motion: Any
    lengths: Any
    joints: Any = None


def metric_names(top_k: int = 3) -> tuple[str, ...]:
    """Row keys in table order."""
    return (*(f"R@{k}" for k in range(1, top_k + 1)), "FID", "MMDist", "Diversity", "MModality", *PHYSICAL_KEYS)


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


@dataclass
class _Pass:
    text_emb: np.ndarray  # (items, dim), the kept full chunks only
    motion_emb: np.ndarray
    physical: dict | None


def check_items(cfg: ProtocolConfig, items: int, name: str, pairs_key: str = "protocol.diversity_pairs") -> int:
    """The items of a pass of ``items`` that whole evaluation batches keep; a ValueError (naming ``name`` and the keys
    that fit the split, Diversity's ``pairs_key``) where they fill no batch or fewer than Diversity's pairs."""
    kept = items // cfg.batch_size * cfg.batch_size
    if kept == 0:
        pairs = f", and {pairs_key} (now {cfg.diversity_pairs}) at most as many" if cfg.diversity_pairs > items else ""
        hint = f" (protocol.batch_size sets it: at most {items} for this split{pairs})" if items else ""
        raise ValueError(f"{name}: {items} items, fewer than one evaluation batch of {cfg.batch_size}{hint}")
    if kept < cfg.diversity_pairs:
        raise ValueError(f"{name}: {kept} items in whole evaluation batches, fewer than the {cfg.diversity_pairs} "
                         f"that Diversity draws without replacement ({pairs_key} sets it: at most {kept} "
                         "for this split, or more items)")
    return kept


def _run_pass(batches: Iterable[EvalBatch], embed_fn: Callable, cfg: ProtocolConfig, name: str,
              physical_metrics: bool = True) -> _Pass:
    """Embeddings of a pass, and its physical metrics when its batches carry joints and ``physical_metrics``."""
    texts, motions = [], []
    physical = PhysicalMetrics(cfg.fps)
    with_joints = None
    for batch in batches:
        text_emb, motion_emb = (_to_numpy(e) for e in embed_fn(batch))
        if text_emb.ndim != 2 or text_emb.shape != motion_emb.shape:
            raise ValueError(f"{name}: embed_fn must return two (batch, dim) arrays of one shape, "
                             f"got {text_emb.shape} and {motion_emb.shape}")
        texts.append(text_emb)
        motions.append(motion_emb)
        if with_joints is None:
            with_joints = batch.joints is not None
        if with_joints != (batch.joints is not None):
            raise ValueError(f"{name}: some batches carry joints and others do not")
        if with_joints and physical_metrics:
            physical.add_batch(_to_numpy(batch.joints), _to_numpy(batch.lengths).astype(np.int64))
    kept = check_items(cfg, sum(len(t) for t in texts), name)
    return _Pass(np.concatenate(texts)[:kept], np.concatenate(motions)[:kept],
                 physical.result() if with_joints and physical_metrics else None)


def _row(run: _Pass, reference_stats, cfg: ProtocolConfig, rng: np.random.Generator) -> dict:
    """Text–motion metrics of one pass (and its physical metrics when present)."""
    hits = np.zeros(cfg.top_k)
    for start in range(0, len(run.text_emb), cfg.batch_size):
        chunk = slice(start, start + cfg.batch_size)
        hits += r_precision(run.text_emb[chunk], run.motion_emb[chunk], cfg.top_k)
    row = {f"R@{k + 1}": hits[k] / len(run.text_emb) for k in range(cfg.top_k)}
    row["FID"] = frechet_distance(*activation_statistics(cfg.emb_scale * run.motion_emb), *reference_stats)
    row["MMDist"] = matching_score(run.text_emb, run.motion_emb)
    row["Diversity"] = diversity(run.motion_emb, cfg.diversity_pairs, rng, cfg.emb_scale, cfg.divide_by)
    row.update(run.physical or {})
    return row


def evaluate(protocol_cfg: ProtocolConfig, gt_batches_fn: Callable, gen_batches_fn: Callable | None,
             embed_fn: Callable, mm_fn: Callable | None = None, progress: bool = True) -> dict:
    """Run ``replications`` seeded replications; see the module docstring for the callables.

    Returns {"rows": {row: {metric: (mean, ci) or None}}, "replications": {row: {metric: [values]}},
    "config": dict}, rows "ground truth" and "model", metrics in ``metric_names`` order (MModality and
    physical metrics None where not measured; the ground-truth row has no MModality). Without
    ``gen_batches_fn`` only the ground-truth row is measured (its numbers are the same either way).
    """
    cfg = protocol_cfg
    per_replication = {GT_ROW: {}, MODEL_ROW: {}} if gen_batches_fn is not None else {GT_ROW: {}}
    mm_replications = cfg.replications if cfg.mm_replications is None else int(cfg.mm_replications)
    for index, seeds in enumerate(tqdm(np.random.SeedSequence(cfg.seed).spawn(cfg.replications),
                                       desc="evaluation replications", disable=not progress)):
        gt_rng, reference_rng, gen_rng, gt_div_rng, gen_div_rng, mm_rng, mm_pair_rng = (
            np.random.default_rng(s) for s in seeds.spawn(7))
        ground_truth = _run_pass(gt_batches_fn(gt_rng), embed_fn, cfg, "ground-truth pass")
        # the reference pass only gives FID its statistics: no row, so no physical metrics
        reference = _run_pass(gt_batches_fn(reference_rng), embed_fn, cfg, "reference ground-truth pass",
                              physical_metrics=False)
        reference_stats = activation_statistics(cfg.emb_scale * reference.motion_emb)
        rows = {GT_ROW: _row(ground_truth, reference_stats, cfg, gt_div_rng)}
        if gen_batches_fn is not None:
            generated = _run_pass(gen_batches_fn(gen_rng), embed_fn, cfg, "generated pass")
            rows[MODEL_ROW] = _row(generated, reference_stats, cfg, gen_div_rng)
        if mm_fn is not None and gen_batches_fn is not None and index < mm_replications:
            mm_emb = _to_numpy(mm_fn(mm_rng, cfg.mm_num_texts, cfg.mm_num_samples))
            if mm_emb.ndim != 3 or mm_emb.shape[:2] != (cfg.mm_num_texts, cfg.mm_num_samples):
                raise ValueError(f"mm_fn: expected ({cfg.mm_num_texts}, {cfg.mm_num_samples}, dim) embeddings, "
                                 f"got {mm_emb.shape}")
            rows[MODEL_ROW]["MModality"] = multimodality(mm_emb, cfg.mm_pairs, mm_pair_rng,
                                                         cfg.emb_scale, cfg.divide_by)
        for row, values in rows.items():
            for metric, value in values.items():
                per_replication[row].setdefault(metric, []).append(float(value))
    summary = {
        row: {metric: mean_confidence_interval(per_replication[row][metric])
              if metric in per_replication[row] else None
              for metric in metric_names(cfg.top_k)}
        for row in per_replication
    }
    return {"rows": summary, "replications": per_replication, "config": asdict(cfg)}


# ----------------------------------------------------------------------------------------------------------
# reporting

COLUMN_TITLES = {
    "MMDist": "MM Dist", "penetration_ratio": "Penetr. ratio", "penetration_depth": "Penetr. depth (m)",
    "penetration_depth_max": "Max penetr. (m)", "foot_skate_speed": "Skate speed (m/s)",
    "foot_skate_ratio": "Skate ratio", "floor_penetration_ratio": "Floor ratio",
    "floor_penetration_depth": "Floor depth (m)", "bone_length_drift": "Bone drift",
    "jitter": "Jitter (m/s²)",
}


def format_mean_ci(mean: float, ci: float) -> str:
    """Format as "mean±ci" with 3 decimals, more when the interval needs them to show a significant digit."""
    # intervals below 1e-6 are rounding noise of constant values, not worth six decimals
    decimals = 3 if not 1e-6 <= ci < 1e-3 else int(-np.floor(np.log10(ci)))
    return f"{mean:.{decimals}f}±{ci:.{decimals}f}"


def format_table(results: dict) -> str:
    """Markdown table in the paper's layout: one row per method, "mean±ci" cells, "–" where not measured."""
    rows = results["rows"]
    metrics = [m for m in dict.fromkeys(k for values in rows.values() for k in values)
               if any(values.get(m) is not None for values in rows.values())]
    header = "| | " + " | ".join(COLUMN_TITLES.get(m, m) for m in metrics) + " |"
    lines = [header, "|---" * (len(metrics) + 1) + "|"]
    for name, values in rows.items():
        cells = [format_mean_ci(*values[m]) if values.get(m) is not None else "–" for m in metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def results_to_json(results: dict) -> str:
    """JSON text of ``evaluate``'s results; each (mean, ci) becomes {"mean": ..., "ci": ...}."""
    rows = {row: {metric: None if value is None else {"mean": float(value[0]), "ci": float(value[1])}
                  for metric, value in values.items()}
            for row, values in results["rows"].items()}
    return json.dumps({**results, "rows": rows}, indent=2, default=float)
