"""Seams of edits: velocity and acceleration jumps where kept and generated motion meet, against the rest of each
clip and against ground truth, for in-betweening, continuation and a chained long clip; optional side-by-side GIFs
and contact sheets (input | edit) of every kind of edit.

    python scripts/edit_seams.py --ckpt runs/synthetic/transformer_demo/last.pt --data data/synthetic_demo \
        --input outputs/demo/CLIP.npy [--seconds 30] [--variants 0:off,8:on] [--out outputs/edit_seams] [--media]

A variant "N:on" lets each seam fade over at most N frames (``choose_fades`` picks each seam's own; the report lists
them per person). Jumps are per frame: the mean over both people's 22 joints of |v[f] - v[f-1]| (m/s) and
|a[f] - a[f-1]| (m/s^2), at 30 fps (``metrics.physical.velocity_and_acceleration_jumps``). At a seam: the largest
jump from the start of its longest allowed cross-fade (N + 2 frames before it) to 2 frames after it; elsewhere: median, 95th percentile and maximum of the
frames outside every seam's span; ground truth: the same per-frame jumps pooled over the test split's clips. Each
edit is run once per variant with the same seed (the same tokens), so its rows differ only in the alignment and
the cross-fade; the chained clips differ more, as each window continues what the variant made of the last.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from intermask.data.interhuman import read_clip, split_ids
from intermask.generation.editing import DEFAULT_BLEND_FRAMES, edit_interaction, extend_interaction
from intermask.loading import load_interaction_model
from intermask.metrics.physical import seam_jumps, velocity_and_acceleration_jumps
from intermask.outputs.video import ClipRenderer
from intermask.outputs.writer import load_joints, load_sidecar

KEPT, GENERATED = (60, 170, 90), (235, 130, 40)  # the bar under an edited frame: input kept | generated

EDITS = {
    "inbetween": dict(text="the two people hug each other", keep=[(0, 1.5), (3.4, 4.93)]),
    "continuation": dict(text="the two people walk away from each other", keep=[(0, 2.0)], length=160),
    "new_beginning": dict(text="two people walk toward each other", keep=[(2.9, 4.93)]),
    "arms": dict(text="the second person waves with the right hand", keep=[(0, 1.0), (4.0, 4.93)], people=(1,),
                 parts=["arms"]),
}
LONG_TEXTS = ["walking toward one another, both people meet and shake right hands",
              "the first person pushes the second person, who staggers backwards",
              "two people face each other and move around each other clockwise",
              "the two people hug each other"]


def ground_truth_jumps(root: Path, fps: float, max_clips: int) -> dict:
    velocity, acceleration = [], []
    for clip_id in split_ids(root, "test")[:max_clips]:
        joints = read_clip(root, clip_id).joints.astype(np.float64)
        v, a = velocity_and_acceleration_jumps(joints, fps)
        velocity.append(v[3:])
        acceleration.append(a[3:])
    report = {}
    for kind, values in (("velocity", np.concatenate(velocity)), ("acceleration", np.concatenate(acceleration))):
        report[kind] = {"median": float(np.median(values)), "p95": float(np.percentile(values, 95)),
                        "p99": float(np.percentile(values, 99)), "max": float(values.max())}
    return report


def frames_side_by_side(before: np.ndarray | None, after: np.ndarray, kept: np.ndarray | None, text: str,
                        fps: float, frame_ids) -> list[np.ndarray]:
    """Pictures of the input (left, when given) and the edit (right) with a bar: green kept, orange generated."""
    right = ClipRenderer(after, text, fps)
    left = ClipRenderer(before, "input", fps) if before is not None else None
    pictures = []
    for f in frame_ids:
        image = right.frame(int(f)).copy()
        if kept is not None:
            image[-10:] = KEPT if kept[int(f)] else GENERATED
        if left is not None:
            other = left.frame(min(int(f), left.num_frames - 1))
            image = np.concatenate([other, np.full((other.shape[0], 8, 3), 255, np.uint8), image], axis=1)
        pictures.append(image)
    return pictures


def save_gif(path: Path, pictures: list[np.ndarray], fps: float, scale: int) -> None:
    images = [Image.fromarray(p).reduce(scale) for p in pictures]
    palette = images[0].quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    images = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in images]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0,
                   optimize=True)


def save_sheet(path: Path, pictures: list[np.ndarray], columns: int = 2) -> None:
    rows = [np.concatenate(pictures[k:k + columns], axis=1) for k in range(0, len(pictures), columns)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    Image.fromarray(np.concatenate(rows, axis=0)).reduce(2).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="dataset root (ground-truth jumps)")
    parser.add_argument("--input", type=Path, required=True, help="a result's .npy to edit (30 fps)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the chained clip")
    parser.add_argument("--overlap", type=int, default=32, help="frames each window keeps from the previous one")
    parser.add_argument("--variants", default="0:off,8:off,0:on,8:on,16:on",
                        help="BLEND:ALIGN pairs to compare: cross-fade frames and ground-plane alignment on/off; the "
                             "media show the default (8:on)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-clips", type=int, default=100, help="ground-truth clips pooled")
    parser.add_argument("--out", type=Path, default=Path("outputs/edit_seams"))
    parser.add_argument("--media", action="store_true", help="also write side-by-side GIFs and contact sheets")
    args = parser.parse_args()

    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = load_interaction_model(args.ckpt, torch.device("cpu"))
    fps = float(model.layout.fps)
    source = load_joints(args.input).astype(np.float64)
    variants = [(int(b), a == "on") for b, a in (v.split(":") for v in args.variants.split(","))]
    default = (DEFAULT_BLEND_FRAMES, True)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"ground_truth": ground_truth_jumps(args.data, fps, args.max_clips), "edits": {}}
    results = {}
    for kind, edit in EDITS.items():
        report["edits"][kind] = {}
        for blend, align in variants:
            settings = {k: v for k, v in edit.items() if k != "text"}
            result = edit_interaction(model, source, edit["text"], blend_frames=blend, align=align,
                                      generator=torch.Generator().manual_seed(args.seed), **settings)
            report["edits"][kind][f"blend_{blend}_align_{align}"] = {"seams": result.seams,
                                                                   "fades": [{str(seam): fade for seam, fade in
                                                                              person.items()}
                                                                             for person in result.fades],
                                                                   **seam_jumps(result.joints, result.seams, fps,
                                                                                before=blend + 2)}
            if (blend, align) == default or kind not in results:
                results[kind] = result
        common = min(source.shape[1], results[kind].decoded.shape[1])
        kept = results[kind].kept_frames.all(axis=0)[:common]
        error = np.linalg.norm(results[kind].decoded[:, :common] - source[:, :common], axis=-1)
        report["edits"][kind]["decoded_kept_frames_error_cm"] = float(100 * error[:, kept].mean()) if kept.any() \
            else None
        print(kind, json.dumps(report["edits"][kind])[:400], flush=True)
    report["chained"] = {}
    for blend, align in variants:
        chained = extend_interaction(model, None, LONG_TEXTS, int(args.seconds * fps), args.overlap, blend, align,
                                     generator=torch.Generator().manual_seed(args.seed))
        key = f"blend_{blend}_align_{align}"
        report["chained"][key] = {"frames": chained.joints.shape[1], "seams": chained.seams,
                                  **seam_jumps(chained.joints, chained.seams, fps, before=blend + 2)}
        print("chained", key, json.dumps(report["chained"][key])[:300], flush=True)
        if (blend, align) == default:
            long_clip = chained
    (args.out / "seams.json").write_text(json.dumps(report, indent=2) + "\n")
    chained = long_clip
    np.save(args.out / "chained.npy", chained.joints.astype(np.float32))

    if args.media:
        text = load_sidecar(args.input).get("text", "input") if args.input.with_suffix(".json").is_file() else "input"
        for kind, result in results.items():
            frames = result.joints.shape[1]
            kept = result.kept_frames.all(axis=0) if kind != "arms" else result.kept_frames[1]
            label = f"{kind.replace('_', ' ')}: {EDITS[kind]['text']}"
            gif = frames_side_by_side(source, result.joints, kept, label, fps, range(0, frames, 2))
            save_gif(args.out / f"edit_{kind}.gif", gif, fps / 2, scale=2)
            sheet = frames_side_by_side(source, result.joints, kept, label, fps, np.linspace(0, frames - 1, 6))
            save_sheet(args.out / f"edit_{kind}_sheet.png", sheet, columns=1)
        print("input caption:", text)
        long_kept = np.zeros(chained.joints.shape[1], dtype=bool)
        for seam in chained.seams:
            long_kept[seam - args.overlap:seam] = True
        gif = frames_side_by_side(None, chained.joints, long_kept, f"{args.seconds:g} s in windows: "
                                  + " / ".join(t.split(",")[0] for t in LONG_TEXTS), fps, range(0, len(long_kept), 4))
        save_gif(args.out / "edit_long.gif", gif, fps / 4, scale=2)
        sheet = frames_side_by_side(None, chained.joints, long_kept, "chained", fps,
                                    np.linspace(0, len(long_kept) - 1, 12))
        save_sheet(args.out / "edit_long_sheet.png", sheet, columns=3)


if __name__ == "__main__":
    main()
