"""What ``python -m intermask.render`` does: a joints file, a BVH or a dataset clip written in every output format."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .data.interhuman import read_clip
from .data.source import DataSource
from .errors import UsageError
from .motion.body_model import load_body_model
from .outputs.bvh import load_bvh_joints, read_bvh
from .outputs.writer import load_joints, load_sidecar, write_result


def bvh_pair(path: Path) -> tuple[np.ndarray, str, float]:
    """Joints (person, frame, 22, 3) of a BVH file, with its partner when it is one of a result's
    ``<name>_person{1,2}.bvh`` files and the other exists; the result's name; the frame rate."""
    match = re.fullmatch(r"(.+)_person([12])", path.stem)
    paths = [path]
    if match:
        partner = path.with_name(f"{match[1]}_person{3 - int(match[2])}{path.suffix}")
        paths = sorted([path, partner] if partner.is_file() else [path], key=lambda p: p.stem)
    people = [load_bvh_joints(p) for p in paths]
    if len({len(person) for person in people}) > 1:
        raise UsageError(f"{paths[0]} and {paths[1]} hold different numbers of frames "
                         f"({len(people[0])} and {len(people[1])})")
    return np.stack(people), match[1] if match else path.stem, 1.0 / read_bvh(path).frame_time


def render_from_config(cfg) -> dict[str, Path]:
    """Write a joints file, a BVH (with its partner person), or a dataset clip as stored, in every output format."""
    if not cfg.input:
        raise UsageError("what to render? python -m intermask.render PATH.npy (or a .bvh, or a clip name of data.root)")
    path = Path(cfg.input)
    fps = float(cfg.data.fps)
    if path.suffix.lower() in (".npy", ".bvh"):
        if not path.is_file():
            raise UsageError(f"{path}: file not found")
        if path.suffix.lower() == ".npy":
            joints, name = load_joints(path), path.stem
        else:
            joints, name, fps = bvh_pair(path)
        sidecar_path = path.with_name(f"{name}.json")
        sidecar = load_sidecar(sidecar_path) if sidecar_path.is_file() else {}
        text = cfg.text or sidecar.get("text")
        fps = float(sidecar.get("fps", fps))
    else:
        source = DataSource(cfg.data)
        clip = read_clip(source.ensure(), str(cfg.input))
        joints, text, name = clip.joints, cfg.text or clip.texts[0], clip.name
    return write_result(cfg.out, name, joints, text or name, {"source": str(cfg.input)}, formats=cfg.formats,
                        fps=fps, bvh_units=cfg.bvh_units, bvh_names=cfg.bvh_names,
                        body_model=load_body_model(cfg.body_model) if cfg.body_model else None)
