"""What ``python -m intermask.render`` does: a joints file, a BVH or a dataset clip written in every output format."""
from __future__ import annotations

from pathlib import Path

from .errors import UsageError
from .loading import load_motion
from .motion.body_model import load_body_model
from .outputs.writer import write_result


def render_from_config(cfg) -> dict[str, Path]:
    """Write a joints file, a BVH (with its partner person), or a dataset clip as stored, in every output format."""
    if not cfg.input:
        raise UsageError("what to render? python -m intermask.render PATH.npy (or a .bvh, or a clip name of data.root)")
    body_model = load_body_model(cfg.body_model) if cfg.body_model else None
    motion = load_motion(cfg.input, cfg.data, float(cfg.data.fps))
    joints, text, name, fps = motion.joints, cfg.text or motion.text, motion.name, motion.fps
    return write_result(cfg.out, name, joints, text or name, {"source": str(cfg.input)}, formats=cfg.formats,
                        fps=fps, bvh_units=cfg.bvh_units, bvh_names=cfg.bvh_names, body_model=body_model)
