"""A tokenizer on the first 384 test items in its own frame and misread in the other: each person's joint error, the
error of the second person's root offset from the first's on the ground, and the reconstructions' overlap.

    python docs/bench/v12_tries/partner_frame_probe.py VQ_CHECKPOINT    (from the repository root)
"""
import sys, numpy as np, torch
from omegaconf import OmegaConf
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3] / "scripts"))
from tokenizer_bound import CONFIGS
from intermask.data.datasets import collate
from intermask.data.source import DataSource
from intermask.loading import load_vq
from intermask.metrics.physical import interpenetration
from intermask.motion.partner import to_partner_frame, from_partner_frame

torch.set_grad_enabled(False)
cfg = OmegaConf.load(CONFIGS / "synthetic.yaml"); cfg.root = "data/synthetic"; cfg.max_frames = 160
source = DataSource(cfg)
vq = load_vq(sys.argv[1]).eval()
layout, norm, joints = source.layout, source.normalizer(), source.joints()
ds = source.interactions("test", normalized=False, seed=0, mirror=False); ds.set_epoch(0)
res = {m: dict(err1=0., err2=0., off=0., n=0, pen=[]) for m in ("world", "partner")}
pen_gt = []
for s in range(0, 384, 64):
    b = collate([ds[i] for i in range(s, s + 64)])
    fr = b["length"] - b["length"] % 4
    raw = b["motion"][:, :, :int(fr.max())].float()
    valid = (torch.arange(raw.shape[2])[None, :] < fr[:, None])
    truth = raw * valid[:, None, :, None]
    for mode in res:
        x = to_partner_frame(truth, layout) if mode == "partner" else truth
        people = norm.normalize(x).flatten(0, 1).float()
        L = fr.repeat_interleave(2)
        rec = norm.denormalize(vq.decode(vq.encode(people, L), L // 4)).view_as(x)
        if mode == "partner":
            rec = from_partner_frame(rec, layout)
        pj, tj = joints.positions(rec), joints.positions(truth)  # (b,2,t,j,3)
        r = res[mode]
        for i in range(len(fr)):
            t = int(fr[i]); e = (pj[i, :, :t] - tj[i, :, :t]).norm(dim=-1).mean(-1)
            r["err1"] += float(e[0].sum()); r["err2"] += float(e[1].sum()); r["n"] += t
            po = (pj[i, 1, :t, 0] - pj[i, 0, :t, 0]); to = (tj[i, 1, :t, 0] - tj[i, 0, :t, 0])
            r["off"] += float((po - to)[:, [0, 2]].norm(dim=-1).sum())
            r["pen"].append(interpenetration(pj[i, :, :t, :22].numpy()))
            if mode == "world":
                pen_gt.append(interpenetration(tj[i, :, :t, :22].numpy()))
for m, r in res.items():
    print(m, "person1 %.1f mm person2 %.1f mm root offset err %.1f mm" % (1000 * r["err1"] / r["n"], 1000 * r["err2"] / r["n"], 1000 * r["off"] / r["n"]))
    print("  pen", {k: np.mean([p[k] for p in r["pen"]]) for k in r["pen"][0]} if isinstance(r["pen"][0], dict) else np.mean(r["pen"]))
print("gt pen", {k: np.mean([p[k] for p in pen_gt]) for k in pen_gt[0]})
