"""Where a VQ-VAE's reconstruction loses the evaluator: which feature group, which joint.

A transformer can do no better than its tokenizer's reconstruction of the data. This script tokenises and decodes
test items with a VQ-VAE and reports, beside the joint error:

- the evaluator's FID (protocol scale: embeddings times ``data.eval.emb_scale``) and R@k of the reconstruction
  against the same items' ground truth, and of *hybrids*: the ground truth with one feature group (positions,
  velocities, rotations) taken from the reconstruction, and the reconstruction with one group restored from the
  ground truth. A group whose swap moves the FID is the group the evaluator sees the tokenizer miss.
- per joint, the angle between reconstructed and true local rotations beside the angle of always answering the
  data's mean rotation: a joint whose two numbers match is one the tokenizer has not learnt to rotate.
- where the bodies face: the mean angle between the reconstructed and the true horizontal direction across the
  hips and shoulders (``facing_error_deg``; the features keep no root rotation, so only the joints carry it).

    python scripts/tokenizer_bound.py --vq runs/synthetic/vqvae_cpu/last.pt \\
        --evaluator runs/synthetic/evaluator_cpu/last.pt --data data/synthetic --max-frames 160 --json out.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from intermask.atomic import write_text_atomic
from intermask.data.datasets import collate
from intermask.data.source import DataSource
from intermask.loading import load_text_motion_evaluator, load_vq
from intermask.metrics.text_motion import activation_statistics, frechet_distance, r_precision
from intermask.models.losses import across_body
from intermask.motion.coding import from_coded_pair, to_coded_pair
from intermask.motion.features import velocities_from_positions
from intermask.motion.rotation import geodesic_angle

CONFIGS = Path(__file__).resolve().parent.parent / "configs" / "data"
GROUPS = ("position", "velocity", "rotation")


def reconstruct(vq, normalizer, raw: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Raw items (batch, 2, time, feature) tokenised and decoded, each person from its first ``frames`` (a
    partner-frame tokenizer's second person coded beside the first and put back beside the decoded first; a
    tokenizer with a body size codes each person at it and gives them back their own: ``motion.coding``)."""
    coded, scales = to_coded_pair(raw, vq.layout, vq.body_size, vq.partner_frame, frames[:, None])
    people = normalizer.normalize(coded).flatten(0, 1).float()
    lengths = frames.repeat_interleave(raw.shape[1])
    codes = vq.encode(people, lengths)
    decoded = normalizer.denormalize(vq.decode(codes, lengths // vq.layout.time_downsample)).view_as(raw)
    return from_coded_pair(decoded, vq.layout, scales, vq.partner_frame)

@torch.no_grad()
def measure(vq, evaluator, source: DataSource, split: str, batch_size: int, emb_scale: float, top_k: int = 3,
            seed: int = 0) -> dict:
    layout, normalizer, joints = source.layout, source.normalizer(), source.joints()
    dataset = source.interactions(split, normalized=False, seed=seed, mirror=False)
    dataset.set_epoch(0)
    items = len(dataset) // batch_size * batch_size
    if items == 0:
        raise SystemExit(f"the {split} split has {len(dataset)} items, fewer than one batch of {batch_size}")
    step = vq.layout.time_downsample
    variants = ["ground truth", "reconstruction", "reconstruction, velocities from its positions",
                "reconstruction, velocities from its positions, rotation restored",
                *(f"ground truth, {g} reconstructed" for g in GROUPS),
                *(f"reconstruction, {g} restored" for g in GROUPS)]
    embeddings = {name: [] for name in variants}
    texts, joint_error, facing_error, frame_count = [], 0.0, 0.0, 0
    angle_sum = mean_angle_sum = 0.0
    mean_features = torch.as_tensor(normalizer.mean, dtype=torch.float32)
    rotation_channels = torch.zeros(layout.dim, dtype=torch.bool)
    rotation_channels[layout.rotation] = True
    for start in range(0, items, batch_size):
        batch = collate([dataset[i] for i in range(start, start + batch_size)])
        frames = batch["length"] - batch["length"] % step
        raw = batch["motion"][:, :, : int(frames.max())].float()
        valid = (torch.arange(raw.shape[2])[None, None, :] < frames[:, None, None]).expand(*raw.shape[:3])
        truth = raw * valid[..., None]
        recon = reconstruct(vq, normalizer, truth, frames) * valid[..., None]
        kept_truth, kept_recon = truth[valid], recon[valid]  # (person-frame, feature)
        frame_count += len(kept_truth)
        recon_positions, true_positions = joints.positions(kept_recon), joints.positions(kept_truth)
        joint_error += float((recon_positions - true_positions).norm(dim=-1).mean(-1).sum())
        facing_cosine = (across_body(recon_positions) * across_body(true_positions)).sum(-1).clamp(-1.0, 1.0)
        facing_error += float(torch.acos(facing_cosine).sum())
        true_rotations = joints.rotations(kept_truth)
        angle_sum = angle_sum + geodesic_angle(joints.rotations(kept_recon), true_rotations).sum(0)
        mean_angle_sum = mean_angle_sum + geodesic_angle(joints.rotations(mean_features).expand_as(true_rotations),
                                                         true_rotations).sum(0)
        consistent = velocities_from_positions(recon, frames, layout)
        mixes = {"ground truth": truth, "reconstruction": recon,
                 "reconstruction, velocities from its positions": consistent,
                 "reconstruction, velocities from its positions, rotation restored":
                     torch.where(rotation_channels, truth, consistent)}
        for group in GROUPS:
            channels = getattr(layout, group)
            mixed = truth.clone()
            mixed[..., channels] = recon[..., channels]
            mixes[f"ground truth, {group} reconstructed"] = mixed
            mixed = recon.clone()
            mixed[..., channels] = truth[..., channels]
            mixes[f"reconstruction, {group} restored"] = mixed
        for name, motion in mixes.items():
            embeddings[name].append(evaluator.embed_motion(dataset.from_people(motion), frames).numpy() * emb_scale)
        texts.append(evaluator.embed_text(list(batch["text"])).numpy() * emb_scale)
    reference = activation_statistics(np.concatenate(embeddings["ground truth"]))
    rows = {}
    for name, chunks in embeddings.items():
        fid = frechet_distance(*reference, *activation_statistics(np.concatenate(chunks)))
        hits = np.mean([r_precision(t, m, top_k=top_k)[top_k - 1] / len(t) for t, m in zip(texts, chunks)])
        rows[name] = {"fid": round(float(fid), 3), f"r{top_k}": round(float(hits), 3)}
    degrees = 180.0 / np.pi
    return {
        "items": items, "batch_size": batch_size, "mpjpe_mm": round(1000 * joint_error / frame_count, 1),
        "facing_error_deg": round(degrees * facing_error / frame_count, 1),
        "rotation_error_deg": [round(float(a) * degrees / frame_count, 1) for a in angle_sum],
        "mean_rotation_error_deg": [round(float(a) * degrees / frame_count, 1) for a in mean_angle_sum],
        "evaluator": rows,
    }


def synthetic_source(root: Path, max_frames: int | None = None) -> DataSource:
    """The synthetic data config (``configs/data/synthetic.yaml``) pointed at ``root``, nothing generated; its items
    at most ``max_frames`` long where given."""
    cfg = OmegaConf.load(CONFIGS / "synthetic.yaml").data
    cfg.root, cfg.generate = str(root), None
    if max_frames is not None:
        cfg.max_frames = max_frames
    return DataSource(cfg)


def reconstructed_clips(data: Path, clips: list, vq_path: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each clip (``RawClip`` of a synthetic dataset at ``data``) read from its features and reconstructed by the
    VQ-VAE at ``vq_path``, whole clips cut to whole tokens: (truth, reconstruction) lists of joints
    (2, frame, 22, 3) in metres."""
    from intermask import loading  # looked up at the call: the scripts' tests stand a tokenizer in for it

    source, vq = synthetic_source(data), loading.load_vq(vq_path)
    normalizer, reader = source.normalizer(), source.joints()
    truths, reconstructions = [], []
    with torch.no_grad():
        for clip in clips:
            raw = torch.as_tensor(np.asarray(source.pair_features(clip)), dtype=torch.float32)[None]
            frames = raw.shape[2] - raw.shape[2] % vq.layout.time_downsample  # (features: a frame fewer than joints)
            raw = raw[:, :, :frames]
            recon = reconstruct(vq, normalizer, raw, torch.tensor([frames]))
            truths.append(reader.positions(raw[0]).numpy())
            reconstructions.append(reader.positions(recon[0]).numpy())
    return truths, reconstructions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vq", required=True, help="VQ-VAE checkpoint")
    parser.add_argument("--evaluator", required=True, help="text-motion evaluator checkpoint")
    parser.add_argument("--data", required=True, help="dataset root")
    parser.add_argument("--dataset", default="synthetic", help="configs/data/<name>.yaml (default synthetic)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--max-frames", type=int, default=None, help="item length (data.max_frames)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the protocol's (data.eval)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    cfg = OmegaConf.load(CONFIGS / f"{args.dataset}.yaml").data
    cfg.root = args.data
    if args.max_frames is not None:
        cfg.max_frames = args.max_frames
    source = DataSource(cfg)
    evaluator = load_text_motion_evaluator(args.evaluator, torch.device("cpu"), cfg)
    results = measure(load_vq(args.vq), evaluator, source, args.split,
                      args.batch_size or int(cfg.eval.batch_size), float(cfg.eval.emb_scale))
    print(f"{results['items']} {args.split} items, batch {results['batch_size']}: "
          f"MPJPE {results['mpjpe_mm']} mm, facing {results['facing_error_deg']} deg")
    print("| | FID | R@3 |\n|---|---|---|")
    for name, row in results["evaluator"].items():
        print(f"| {name} | {row['fid']} | {row['r3']} |")
    print("rotation error per joint 1-21 (deg):     ", results["rotation_error_deg"])
    print("mean rotation's error per joint (deg):   ", results["mean_rotation_error_deg"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.json, json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
