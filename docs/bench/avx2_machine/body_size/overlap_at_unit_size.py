"""How often the two bodies of a recorded pair overlap once both are brought to one body size, by the point each
is scaled about: as recorded; each about their own root on the ground (this option's first form); both about the
point between their roots (``motion.body_size``); both by their mean scale about that point (one scale a pair, the
scene zoomed). A tokenizer with a body size hands the transformer the scenes at one size: their overlaps are the
ones it learns.

    python docs/bench/avx2_machine/body_size/overlap_at_unit_size.py [DATA_ROOT (data/synthetic_demo)] [SPLIT (test)]
"""
import sys

import numpy as np
import torch

from intermask.data.interhuman import load_split
from intermask.data.datasets import clip_features
from intermask.metrics.physical import penetration_depth_per_frame
from intermask.motion.body_size import body_scale, to_unit_size
from intermask.motion.layout import INTERHUMAN

REFERENCE = 4.26  # m of bones, the synthetic bodies' unit-scale skeleton
root = sys.argv[1] if len(sys.argv) > 1 else "data/synthetic_demo"
split = sys.argv[2] if len(sys.argv) > 2 else "test"


def joints(features: torch.Tensor) -> np.ndarray:
    return features[..., INTERHUMAN.position].unflatten(-1, (-1, 3)).double().numpy()


def about_own_root(pair: np.ndarray, scales: np.ndarray) -> np.ndarray:
    ground = pair[:, :, :1] * np.array([1.0, 0.0, 1.0])
    return ground + (pair - ground) / scales[:, None, None, None]


depths = {"as recorded": [], "each about their own root": [], "about the point between them": [],
          "one scale a pair, about that point": []}
clips = load_split(root, split)
for clip in clips:
    features = torch.from_numpy(clip_features(clip)).double()  # (2, frame, feature)
    scales = body_scale(features, INTERHUMAN, REFERENCE)
    pair = joints(features)
    depths["as recorded"].append(penetration_depth_per_frame(pair))
    depths["each about their own root"].append(penetration_depth_per_frame(about_own_root(pair, scales.numpy())))
    depths["about the point between them"].append(penetration_depth_per_frame(
        joints(to_unit_size(features, scales, INTERHUMAN))))
    depths["one scale a pair, about that point"].append(penetration_depth_per_frame(
        joints(to_unit_size(features, scales.mean().expand(2), INTERHUMAN))))
print(f"{root}/{split}: {len(clips)} clips, {sum(len(d) for d in depths['as recorded'])} frames")
print("| bodies brought to one size | frames overlapping | mean depth over them (mm) |")
print("|---|---|---|")
for name, values in depths.items():
    values = np.concatenate(values)
    inside = values[values > 0]
    print(f"| {name} | {(values > 0).mean():.4f} | {1000 * inside.mean() if len(inside) else 0:.1f} |")
