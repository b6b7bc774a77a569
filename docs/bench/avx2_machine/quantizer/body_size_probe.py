"""Does a trained VQ-VAE keep each person's body size and height? On the validation windows of its config: the
joint error split into the root's height and its ground-plane error (a constant offset per window and what varies
within it), and per window the root's mean height and the skeleton's size (the sum of its bone lengths), the data's
against the reconstruction's: their spreads and correlations; and the lowest joint's height per frame (the floor).

    python docs/bench/avx2_machine/quantizer/body_size_probe.py CKPT experiment=demo [more overrides]
    THROUGH=1 ...   # decode each encoder output as it is, the quantiser passed through (a model trained without it)
"""
import os
import sys

import torch
from hydra import compose, initialize_config_dir

from intermask.checkpoint import load_checkpoint
from intermask.cli import CONFIG_DIR
from intermask.data.source import DataSource
from intermask.motion.skeleton import PARENTS
from intermask.training.tasks import build_vq, one_person_a_row

ckpt, overrides = sys.argv[1], sys.argv[2:]
with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
    cfg = compose("train", overrides=["kind=vqvae", "train=vqvae", "progress=false", *overrides])
task, _, val_set, _, _ = build_vq(cfg, DataSource(cfg.data))
task.model.load_state_dict(load_checkpoint(ckpt, kind="vqvae")["model"])
task.model.eval()
if os.environ.get("THROUGH"):
    quantize = task.model.quantizer.forward
    task.model.quantizer.forward = lambda z: (z, *quantize(z)[1:])


def skeleton_size(joints):  # (window, frame, joint, 3) -> (window,)
    return (joints[..., 1:, :] - joints[..., list(PARENTS[1:]), :]).norm(dim=-1).sum(-1).mean(1)


rows = {name: [] for name in ("height", "height_rec", "size", "size_rec", "lowest", "lowest_rec")}
sums = dict.fromkeys(("mpjpe", "height", "plane", "offset", "within"), 0.0)
frames = 0
with torch.no_grad():
    for batch in torch.utils.data.DataLoader(val_set, batch_size=64):
        coded, scales = task.unit_size(batch)  # a tokenizer with a body_size codes everyone at it, pairs together
        batch = one_person_a_row(batch)
        pred = task.joints.positions(task.world_size(task.model(coded)["recon"], scales))
        target = task.joints.positions(batch * task.std + task.mean)
        rows["lowest"].append(target[..., 1].amin(-1).flatten())  # the lowest joint's height per frame
        rows["lowest_rec"].append(pred[..., 1].amin(-1).flatten())
        error = pred[..., 0, :] - target[..., 0, :]
        plane = error[..., [0, 2]]
        offset = plane.mean(1, keepdim=True)
        sums["mpjpe"] += float((pred - target).norm(dim=-1).mean(-1).sum())
        sums["height"] += float(error[..., 1].abs().sum())
        sums["plane"] += float(plane.norm(dim=-1).sum())
        sums["offset"] += float(offset.norm(dim=-1).sum()) * plane.shape[1]
        sums["within"] += float((plane - offset).norm(dim=-1).sum())
        frames += batch.shape[0] * batch.shape[1]
        rows["height"].append(target[..., 0, 1].mean(1)), rows["height_rec"].append(pred[..., 0, 1].mean(1))
        rows["size"].append(skeleton_size(target)), rows["size_rec"].append(skeleton_size(pred))
mm = {name: 1000 * value / frames for name, value in sums.items()}
print(f"{len(val_set)} validation windows: MPJPE {mm['mpjpe']:.1f} mm; the root's height {mm['height']:.1f} mm, its "
      f"ground-plane error {mm['plane']:.1f} mm (a constant offset per window {mm['offset']:.1f}, varying within it "
      f"{mm['within']:.1f})")
for name, label in (("height", "root height per window (m)"), ("size", "skeleton size per window (m of bones)")):
    data, rec = torch.cat(rows[name]), torch.cat(rows[name + "_rec"])
    corr = float(torch.corrcoef(torch.stack([data, rec]))[0, 1])
    print(f"{label}: data mean {data.mean():.3f} std {data.std():.3f}; reconstruction mean {rec.mean():.3f} "
          f"std {rec.std():.3f}; correlation {corr:.3f}")
data, rec = torch.cat(rows["lowest"]), torch.cat(rows["lowest_rec"])
print(f"lowest joint per frame (mm): data mean {1000 * data.mean():.1f}, below the floor "
      f"{float((data < 0).float().mean()):.3f}; "
      f"reconstruction mean {1000 * rec.mean():.1f}, below the floor {float((rec < 0).float().mean()):.3f}, "
      f"error {1000 * (rec - data).mean():+.1f} (mean) {1000 * (rec - data).abs().mean():.1f} (mean absolute)")
