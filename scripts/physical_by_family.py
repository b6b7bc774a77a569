"""Where a model's bodies overlap and its feet slide: the physical measures per synthetic interaction family, for
the ground truth of a split and for a model's generations from the same captions.

    python scripts/physical_by_family.py --data data/synthetic --split test --ckpt runs/synthetic/transformer_x/last.pt
        [--max-items N] [--steps 10] [--cond-scale S] [--json OUT]
    python scripts/physical_by_family.py --data data/synthetic --vq runs/synthetic/vqvae_x/last.pt [--json OUT]

With ``--vq`` the compared column is a VQ-VAE's reconstruction of each clip (tokenised and decoded whole, cut to
whole tokens, as ``scripts/tokenizer_bound.py`` does) instead of a model's generation: what the tokenizer alone
costs each family.

The model generates one motion per clip from the clip's first caption, as long as the clip (clipped to the model's
longest motion and cut to whole tokens, as ``scripts/adherence.py`` does, whose helpers it uses). A clip's family
follows from its index in the synthetic data (``family_for_index``). Per family, the mean over its clips of: the
fraction of frames whose torsos, heads or thighs overlap (``penetration``, the protocol's capsules), the clip's
deepest overlap in metres (negative: the bodies never touch), the foot-skating speed in m/s (``skate``), the
protocol's jitter, the joints' mean acceleration in m/s² (``jitter``: a decoder that shakes shows here), how
far the highest wrist of either person rises above its shoulder in metres (``hand_rise``: a wave or a high five
lifts it 0.3-0.4 m above, arms hanging keep it 0.3-0.4 m below; a tokenizer that has not learnt to raise an arm
shows here), and over the clips whose caption names one person as the one who acts (``initiator``: "the second
person waves four times"), the same rise for the other person (``bystander_hand_rise``: a model that gives the
act to both people raises the bystander's hand too).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from adherence import (generate_joints, generation_frames, generation_options, parse_counts,  # noqa: E402
                       read_split, split_and_model_parser, write_report)
from tokenizer_bound import reconstructed_clips  # noqa: E402

from intermask.cli import guarded  # noqa: E402
from intermask.data.synthetic import family_for_index  # noqa: E402
from intermask.metrics.adherence import ROLES, claims, hand_rise  # noqa: E402
from intermask.metrics.physical import (acceleration_magnitudes, foot_skating,  # noqa: E402
                                        penetration_depth_per_frame)
from intermask.precision import resolve_device  # noqa: E402

MEASURES = ("penetration", "deepest", "skate", "jitter", "hand_rise", "bystander_hand_rise")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = split_and_model_parser(__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None, help="also write the table here")
    return parse_counts(parser, argv)


def named_actor(caption: str) -> int | None:
    """The person (0: first, 1: second) a caption names as the one who acts, None when it names both or none."""
    for claim in claims(caption):
        if claim.kind == "initiator":
            return ROLES.index(claim.value) if claim.value in ROLES[:2] else None
    return None


def measure(joints: np.ndarray, fps: float, actor: int | None = None) -> dict[str, float | None]:
    """The measures of one clip, joints (2, frame, 22, 3) in metres; ``actor``: the person its caption names as
    acting, whose partner's hand rise is the bystander's (None: no bystander)."""
    depths = penetration_depth_per_frame(joints)
    rises = [max(hand_rise(person).values()) for person in joints]
    return {"penetration": float((depths > 0).mean()), "deepest": float(depths.max()),
            "skate": float(foot_skating(joints, fps)["foot_skate_speed"]),
            "jitter": float(acceleration_magnitudes(joints, fps).mean()), "hand_rise": max(rises),
            "bystander_hand_rise": None if actor is None else rises[1 - actor]}


def by_family(families: list[str], motions: list[np.ndarray], fps: float, actors: list[int | None]) -> dict[str, dict]:
    """Per family (sorted), the number of clips and the mean of each measure over them (the bystander's over the
    clips that have one, None in a family without; ``bystanders`` counts them)."""
    grouped = defaultdict(list)
    for family, joints, actor in zip(families, motions, actors):
        grouped[family].append(measure(joints, fps, actor))
    table = {}
    for family, rows in sorted(grouped.items()):
        table[family] = {"clips": len(rows)}
        for key in MEASURES:
            values = [row[key] for row in rows if row[key] is not None]
            table[family][key] = float(np.mean(values)) if values else None
        table[family]["bystanders"] = sum(row["bystander_hand_rise"] is not None for row in rows)
    return table


def check_synthetic(root: Path) -> None:
    """The families follow from the clips' indices only in a dataset that ``intermask.data.synthetic`` wrote."""
    meta = root / "meta.json"
    generator = json.loads(meta.read_text()).get("generator") if meta.is_file() else None
    if generator != "intermask.data.synthetic":
        raise ValueError(f"{root} is not a synthetic dataset ({meta} does not name intermask.data.synthetic as its "
                         "generator): the families are read from the synthetic clips' indices")


def run(args: argparse.Namespace) -> dict:
    clips = read_split(args.data, args.split, args.max_items)
    check_synthetic(args.data)
    if not clips:
        raise ValueError(f"{args.data} has no clips in its {args.split} split")
    families = [family_for_index(int(clip.name)) for clip in clips]
    actors = [named_actor(clip.texts[0]) for clip in clips]  # the model generates from each clip's first caption
    report = {"data": str(args.data), "split": args.split, "clips": len(clips), "checkpoint": None, "model": None}
    if args.vq is not None:
        truths, reconstructions = reconstructed_clips(args.data, clips, args.vq)
        report.update(checkpoint=str(args.vq), compared="reconstruction",
                      ground_truth=by_family(families, truths, args.fps, actors),
                      model=by_family(families, reconstructions, args.fps, actors))
        return report
    if args.ckpt is None:
        report["ground_truth"] = by_family(families, [clip.joints for clip in clips], args.fps, actors)
        return report
    from intermask.loading import load_interaction_model

    model = load_interaction_model(args.ckpt, resolve_device(args.device))
    lengths = [generation_frames(clip.num_frames, model.max_frames, model.frames_per_token) for clip in clips]
    options = generation_options(args)
    motions = generate_joints(model, [clip.texts[0] for clip in clips], lengths, args.seed, args.batch_size, options,
                              progress=sys.stderr.isatty())
    # the ground truth over the same frames as the generations
    report["ground_truth"] = by_family(families, [clip.joints[:, :n] for clip, n in zip(clips, lengths)], args.fps,
                                       actors)
    report.update(checkpoint=str(args.ckpt), compared="generation", generation=options,
                  model=by_family(families, motions, args.fps, actors))
    return report


HEADINGS = {"penetration": "overlap", "deepest": "deepest m", "skate": "skate m/s", "jitter": "jitter",
            "hand_rise": "hand up m", "bystander_hand_rise": "bystander m"}


def format_table(report: dict) -> str:
    """One row per family: the ground truth's measures, then the model's (``data`` and ``model`` columns)."""
    label = "recon" if report.get("compared") == "reconstruction" else "model"
    sources = [("data", report["ground_truth"])] + ([(label, report["model"])] if report["model"] else [])
    header = f"{'family':<18}{'clips':>6}" + "".join(f"{f'{name} {HEADINGS[key]}':>18}" for name, _ in sources
                                                   for key in MEASURES)
    lines = [header]
    for family, row in report["ground_truth"].items():
        cells = "".join(f"{'-':>18}" if table[family][key] is None else f"{table[family][key]:>18.4f}"
                        for _, table in sources for key in MEASURES)
        lines.append(f"{family:<18}{row['clips']:>6}{cells}")
    return "\n".join(lines)


@guarded  # a user's mistake (a missing dataset, an empty split, a bad checkpoint) is one line and exit status 2
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    print(f"{report['data']} / {report['split']}: {report['clips']} clips"
          + (f", each clip's {report['compared']} by {report['checkpoint']}" if report["model"] else ""))
    print(format_table(report))
    write_report(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
