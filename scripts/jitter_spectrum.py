"""Where a tokenizer's reconstructions shake: the joints' acceleration power per frequency band, the data's against
the reconstruction's, and the jitter left after a low-pass at each cutoff asked.

    python scripts/jitter_spectrum.py --data data/synthetic --vq runs/synthetic/vqvae_x/last.pt
        [--split test] [--max-items N] [--lowpass 6 8 10] [--json OUT]

Each clip is read from its features and reconstructed whole, cut to whole tokens (``scripts/tokenizer_bound.py``).
The spectrum: each joint coordinate's second frame difference (an acceleration in m/s²), in Hann-windowed stretches
of 64 frames half overlapping, its power summed over bands of 2 Hz; clips shorter than one stretch add to the
jitter only. The jitter is the protocol's, the joints' mean acceleration magnitude. A low-pass is
``intermask.motion.smoothing``'s, as ``model.transformer.lowpass_hz`` applies it to decoded motion, here to the joints
(its result on the data is shown too: what the filter itself takes of real motion).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from adherence import read_split, write_report  # noqa: E402
from tokenizer_bound import reconstructed_clips  # noqa: E402

from intermask.cli import guarded  # noqa: E402
from intermask.metrics.physical import acceleration_magnitudes  # noqa: E402
from intermask.motion.smoothing import check_cutoff, lowpass_frames  # noqa: E402

WINDOW = 64
BAND_HZ = 2.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset root in the InterHuman layout")
    parser.add_argument("--vq", type=Path, required=True, help="VQ-VAE checkpoint whose reconstructions to measure")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--max-items", type=int, default=None, help="only the split's first N clips")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--lowpass", type=float, nargs="*", default=[], help="cutoffs in Hz to try (default none)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    if args.max_items is not None and args.max_items < 1:
        parser.error(f"--max-items must be at least 1, got {args.max_items}")
    for cutoff in args.lowpass:
        try:
            check_cutoff(cutoff, args.fps, "--lowpass")
        except ValueError as error:
            parser.error(str(error))
    return args


def acceleration_power(motions: list[np.ndarray], fps: float) -> np.ndarray:
    """Mean power per frequency bin (``WINDOW // 2 + 1`` bins) of the joints' accelerations, motions (2, frame, 22, 3)."""
    hann = np.hanning(WINDOW)[None, :, None, None]
    total, count = np.zeros(WINDOW // 2 + 1), 0
    for joints in motions:
        acceleration = (joints[:, 2:] - 2 * joints[:, 1:-1] + joints[:, :-2]) * fps ** 2
        for start in range(0, acceleration.shape[1] - WINDOW + 1, WINDOW // 2):
            stretch = acceleration[:, start:start + WINDOW] * hann
            total += (np.abs(np.fft.rfft(stretch, axis=1)) ** 2).mean(axis=(0, 2, 3))
            count += 1
    return total / max(count, 1)


def bands(power: np.ndarray, fps: float) -> list[dict]:
    """``power`` summed over bands of ``BAND_HZ`` up to the Nyquist frequency."""
    freqs = np.fft.rfftfreq(WINDOW, 1 / fps)
    edges = np.arange(0.0, fps / 2, BAND_HZ)
    rows = []
    for low in edges:
        high = min(low + BAND_HZ, fps / 2)
        inside = (freqs >= low) & ((freqs < high) | ((high == fps / 2) & (freqs <= high)))
        rows.append({"low_hz": float(low), "high_hz": float(high), "power": float(power[inside].sum())})
    return rows


def lowpassed(motions: list[np.ndarray], cutoff: float, fps: float) -> list[np.ndarray]:
    """Each motion (2, frame, 22, 3) low-passed over its frames."""
    out = []
    for joints in motions:
        flat = torch.as_tensor(joints, dtype=torch.float32).reshape(1, 2, joints.shape[1], -1)
        smooth = lowpass_frames(flat, torch.tensor([joints.shape[1]]), cutoff, fps)
        out.append(smooth.reshape(joints.shape).numpy())
    return out


def jitter(motions: list[np.ndarray], fps: float) -> float:
    return float(np.mean([acceleration_magnitudes(joints, fps).mean() for joints in motions]))


def run(args: argparse.Namespace) -> dict:
    clips = read_split(args.data, args.split, args.max_items)
    if not clips:
        raise ValueError(f"{args.data} has no clips in its {args.split} split")
    truths, reconstructions = reconstructed_clips(args.data, clips, args.vq)
    data_bands = bands(acceleration_power(truths, args.fps), args.fps)
    recon_bands = bands(acceleration_power(reconstructions, args.fps), args.fps)
    report = {"data": str(args.data), "split": args.split, "clips": len(clips), "checkpoint": str(args.vq),
              "bands": [{"low_hz": d["low_hz"], "high_hz": d["high_hz"], "data": d["power"], "reconstruction": r["power"]}
                        for d, r in zip(data_bands, recon_bands)],
              "jitter": {"data": jitter(truths, args.fps), "reconstruction": jitter(reconstructions, args.fps)},
              "lowpass": []}
    for cutoff in args.lowpass:
        report["lowpass"].append({"cutoff_hz": cutoff, "data": jitter(lowpassed(truths, cutoff, args.fps), args.fps),
                                  "reconstruction": jitter(lowpassed(reconstructions, cutoff, args.fps), args.fps)})
    return report


def format_report(report: dict) -> str:
    lines = ["band (Hz)    data power  recon power  recon / data"]
    for band in report["bands"]:
        ratio = band["reconstruction"] / band["data"] if band["data"] > 0 else float("inf")
        lines.append(f"{band['low_hz']:4.0f}-{band['high_hz']:<4.0f} {band['data']:13.4g} {band['reconstruction']:12.4g} "
                     f"{ratio:13.2f}")
    lines.append(f"jitter (m/s²): data {report['jitter']['data']:.3f}, reconstruction "
                 f"{report['jitter']['reconstruction']:.3f}")
    for row in report["lowpass"]:
        lines.append(f"  low-passed at {row['cutoff_hz']:g} Hz: data {row['data']:.3f}, reconstruction "
                     f"{row['reconstruction']:.3f}")
    return "\n".join(lines)


@guarded  # a user's mistake (a missing dataset, an empty split, a bad checkpoint) is one line and exit status 2
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    print(f"{report['data']} / {report['split']}: {report['clips']} clips reconstructed by {report['checkpoint']}")
    print(format_report(report))
    write_report(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
