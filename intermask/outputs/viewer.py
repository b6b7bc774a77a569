"""A self-contained HTML viewer per result: the clip is embedded in the page, which needs no network.

The page (template in ``assets/viewer.html``) draws the people with a small perspective renderer on a 2D
canvas: orbit by dragging, zoom with the wheel, play/pause, a scrub bar ``#scrub``, a speed choice, the caption,
a floor grid and one colour per person. It exposes ``window.viewer`` (``frame``, ``numFrames``, ``setFrame(i)``,
``play()``, ``pause()``, ``jointsOnScreen()``) for scripts and tests.
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np

from ..motion.skeleton import BONES, HEAD_JOINT, LEFT_JOINTS, PARENTS, RIGHT_JOINTS
from ..atomic import write_text_atomic
from .clip import as_people, check_text
from .video import PERSON_COLOURS

TEMPLATE_PATH = Path(__file__).with_name("assets") / "viewer.html"


def _json_for_script(data) -> str:
    """JSON that is safe inside a <script> element: no '<', '>' or '&' can end it or open a comment."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def viewer_html(joints, text: str, fps: float = 30.0) -> str:
    """The viewer page for a clip (person, frame, joint, 3) or (frame, joint, 3), as one HTML string."""
    joints = as_people(joints, "joints")
    text = check_text(text)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    num_people, num_frames = joints.shape[:2]
    clip = {
        "text": text,
        "fps": float(fps),
        "numPeople": num_people,
        "numFrames": num_frames,
        "parents": list(PARENTS),
        "bones": [list(bone) for bone in BONES],
        "headJoint": HEAD_JOINT,
        "leftJoints": list(LEFT_JOINTS),
        "rightJoints": list(RIGHT_JOINTS),
        "colours": [list(c) for c in PERSON_COLOURS[:num_people]],
        # whole millimetres keep the page small; finer than any motion model resolves
        "joints": np.round(joints * 1000).astype(np.int64).ravel().tolist(),
    }
    fields = {"__TITLE__": html.escape(text), "__CLIP_DATA__": _json_for_script(clip)}
    template = TEMPLATE_PATH.read_text(encoding="utf-8")
    return re.sub("__TITLE__|__CLIP_DATA__", lambda match: fields[match.group(0)], template)


def write_viewer(path, joints, text: str, fps: float = 30.0) -> Path:
    """Write the viewer page of a clip to ``path`` atomically. Returns the path."""
    return write_text_atomic(path, viewer_html(joints, text, fps))
