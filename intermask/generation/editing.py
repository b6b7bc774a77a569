"""Editing an interaction on its token map: keep what the user names, regenerate the rest under a caption.

Axes: n person (2), p body-part row, t token time step, f frame, j joint.

An edit is a keep mask over the two people's token maps (n, p, t): kept tokens are fixed during decoding exactly as
reaction generation fixes one person (``decoding.generate`` with ``keep``), the rest is decoded. The kinds of edit
are masks of one shape:

    in-betweening        keep (both or one person) at 0-2 s and 8-10 s, regenerate between
    continuation         keep a prefix, the clip is longer than the input: what follows is generated
    a new beginning      keep a suffix, regenerate what leads to it
    body parts           keep everything but some rows of one person over a time range (``BODY_PARTS``)
    longer clips         windows of the model's length, each continuing the last ``overlap`` frames of the clip
                         so far (``extend_interaction``)
    reaction             keep one whole person (the published special case)

Motion goes in and out as world joints (person, frame, 22, 3). The input is put in its first person's canonical
frame (as training clips are), tokenised by the model's VQ-VAE, edited, decoded and moved back. Frames whose
tokens are all kept are the input's own frames; near a seam they cross-fade into the decoded motion, whose kept steps
reproduce the input within the tokenizer's reconstruction error. Each seam takes the shortest fade (up to
``blend_frames``) that keeps its velocity jump within the input's own 95th percentile (``choose_fades``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ..errors import UsageError
from ..metrics.physical import velocity_and_acceleration_jumps
from ..motion.canonical import CanonicalFrame, canonical_frame
from ..motion.features import joints_to_features
from ..motion.layout import FeatureLayout
from ..motion.skeleton import JOINT_NAMES
from .interaction_model import InterMask

# Names of the token map's rows for the 22-joint skeleton, by the joints each row is centred on
# (``part_joints``: pelvis, hips, spine1 | knees, spine2, left ankle | right ankle, spine3, feet |
# neck, collars, head | shoulders, elbows, wrists). The rows are not anatomical: the VQ-VAE's strided
# convolutions pool consecutive SMPL joint indices, and its graph convolutions and kernels reach neighbours.
PART_NAMES = ("hips", "knees", "feet", "head", "arms")
BODY_PART_GROUPS = {"legs": ("hips", "knees", "feet"), "upper": ("head", "arms"), "all": PART_NAMES}
DEFAULT_BLEND_FRAMES = 32  # the longest fade a seam may take (``choose_fades`` picks each seam's own)
FADES = (0, 2, 4, 8, 12, 16, 24, 32, 48)  # fade lengths tried at a seam, shortest first
IDENTITY_6D = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])


class EditError(UsageError, ValueError):
    """An edit that cannot be made as asked (bad range, unknown part, wrong input); the message says why."""


def part_joints(layout: FeatureLayout) -> tuple[tuple[int, ...], ...]:
    """The joints each token-map row is centred on: (part,) tuples of joint indices.

    Each of the VQ-VAE's joint down-sampling convolutions (padding 1, kernel ``joint_kernel``, stride
    ``joint_stride``) centres output row r on inputs stride*r .. stride*r + stride - 1; the last row also takes
    the inputs that no row is centred on (11 -> 5 rows leaves one over). Composed over the stages, every joint
    belongs to one row. The kernels overlap their neighbours, so a row's codes also shape the joints next to its own.
    """
    owner = list(range(layout.joint_sizes[0]))
    for size in layout.joint_sizes[1:]:
        owner = [min(row // layout.joint_stride, size - 1) for row in owner]
    return tuple(tuple(j for j, row in enumerate(owner) if row == part) for part in range(layout.num_parts))


def body_parts(layout: FeatureLayout) -> dict[str, tuple[int, ...]]:
    """{part name: joints} of the token map's rows, named for the 22-joint skeleton (``PART_NAMES``), else
    "row0".."row4"."""
    names = PART_NAMES if layout.num_joints == len(JOINT_NAMES) and layout.num_parts == len(PART_NAMES) \
        else tuple(f"row{r}" for r in range(layout.num_parts))
    return dict(zip(names, part_joints(layout)))


def part_rows(parts: Sequence[str] | None, layout: FeatureLayout) -> tuple[int, ...]:
    """Rows of the named parts or groups (``BODY_PART_GROUPS``); None: every row."""
    known = body_parts(layout)
    names = list(known)
    if parts is None:
        return tuple(range(len(names)))
    if not parts:
        raise EditError("no body part named; parts: " + _parts_help(known))
    rows = set()
    for part in parts:
        members = BODY_PART_GROUPS.get(part, (part,)) if names == list(PART_NAMES) else (part,)
        for member in members:
            if member not in known:
                raise EditError(f"unknown body part {part!r}; parts: {_parts_help(known)}")
            rows.add(names.index(member))
    return tuple(sorted(rows))


def _parts_help(known: dict[str, tuple[int, ...]]) -> str:
    listing = "; ".join(f"{name} ({', '.join(JOINT_NAMES[j] if j < len(JOINT_NAMES) else str(j) for j in joints)})"
                        for name, joints in known.items())
    groups = ", ".join(f"{group} = {'+'.join(members)}" for group, members in BODY_PART_GROUPS.items())
    return f"{listing}; groups: {groups}"


def parse_seconds(text: str, clip_seconds: float) -> tuple[float, float]:
    """A range "START:END" in seconds; END may be "end" and either may be "end-X" (X seconds before the end)."""
    def value(part: str) -> float:
        part = part.strip()
        if part == "end":
            return clip_seconds
        if part.startswith("end-"):
            return clip_seconds - float(part[4:])
        return float(part)

    start, colon, end = str(text).partition(":")
    try:
        if not colon:
            raise ValueError
        bounds = value(start), value(end)
    except ValueError:
        raise EditError(f"range {text!r}: write START:END in seconds, e.g. 0:2, 3.5:end or end-2:end") from None
    return bounds


def check_ranges(ranges: Sequence[Sequence[float]], clip_seconds: float, what: str = "range") -> list[tuple[float, float]]:
    """Ranges (start, end) in seconds that lie within [0, clip_seconds] with start < end."""
    checked = []
    for bounds in ranges:
        if len(bounds) != 2:
            raise EditError(f"{what} {tuple(bounds)}: give (start, end) in seconds")
        start, end = (float(b) for b in bounds)
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end > clip_seconds + 1e-6 \
                or start >= end:
            raise EditError(f"{what} {start:g}:{end:g} s: needs 0 <= start < end <= {clip_seconds:.2f} "
                            f"(the clip's length in seconds)")
        checked.append((start, end))
    return checked


def steps_within(ranges: Sequence[tuple[float, float]], num_steps: int, frames_per_token: int,
                 fps: float) -> torch.Tensor:
    """(t,) bool: token steps whose frames [4t, 4t + 4) all lie within the ranges (seconds)."""
    frames = torch.zeros(num_steps * frames_per_token, dtype=torch.bool)
    for start, end in ranges:
        frames[int(round(start * fps)):int(round(end * fps))] = True
    return frames.view(num_steps, frames_per_token).all(dim=-1)


def keep_mask(num_parts: int, num_steps: int, input_steps: int, edited_steps: torch.Tensor,
              people: Sequence[int] = (0, 1), rows: Sequence[int] | None = None) -> torch.Tensor:
    """The keep mask (n=2, p, t) of an edit: every token of the input (its first ``input_steps`` steps) is kept
    except the ``rows`` (default all) of ``people`` at ``edited_steps`` (t,) bool; steps past the input are
    generated."""
    keep = torch.zeros(2, num_parts, num_steps, dtype=torch.bool)
    keep[:, :, :input_steps] = True
    rows = list(range(num_parts)) if rows is None else list(rows)
    for person in people:
        keep[person, rows] &= ~edited_steps
    return keep


@dataclass
class EditResult:
    """An edited interaction.

    joints: (2, frame, 22, 3) world joints; ids: (2, p, t) its token map; keep: (2, p, t) the kept tokens;
    kept_frames: (2, frame) bool, frames whose every token was kept (the input's own frames there); seams: frames
    where kept and generated motion meet (the first frame after a change); decoded: (2, frame, 22, 3) the decoded
    token map before the input's kept frames are put back; fades: per person, the frames of cross-fade each of its
    seams took (``choose_fades``).
    """

    joints: np.ndarray
    ids: torch.Tensor
    keep: torch.Tensor
    kept_frames: np.ndarray
    seams: list[int] = field(default_factory=list)
    decoded: np.ndarray | None = None
    fades: list[dict[int, int]] = field(default_factory=list)


def _pair_frames(joints: np.ndarray) -> tuple[CanonicalFrame, CanonicalFrame]:
    """The first person's canonical frame for both people, each on their own floor (``canonicalize_pair``)."""
    first = canonical_frame(joints[0], "person 1")
    return first, first._replace(floor=canonical_frame(joints[1], "person 2").floor)


def person_features(model: InterMask, canonical: np.ndarray, rot6d: np.ndarray | None = None) -> torch.Tensor:
    """Normalised features (frame, feature) of one person's canonical joints (frame, 22, 3), as many frames as
    given (the last frame's velocity continues the one before it).

    rot6d: (frame, 21, 6) local rotations where known (a dataset clip); without them (a result's .npy, a BVH) the
    rotation channels read as the data's mean. Rotations solved from positions by inverse kinematics twist
    differently from a dataset's, which a VQ-VAE reads far outside its data (on the synthetic demo model: 0.6-2.3 m
    mean joint error, against 0.15 m with the mean, the same as with the clip's own rotations).
    """
    extended = np.concatenate([canonical, 2 * canonical[-1:] - canonical[-2:-1]])
    known = rot6d is not None
    rot6d = np.concatenate([rot6d, rot6d[-1:]]) if known else np.tile(IDENTITY_6D, (len(extended), 21, 1))
    features = torch.as_tensor(joints_to_features(extended, rot6d), dtype=torch.float32, device=model.mean.device)
    features = model.normalize(features)
    if not known:
        features[:, model.layout.rotation] = 0.0
    return features


def tokenize_joints(model: InterMask, joints: np.ndarray, rot6d: np.ndarray | None = None
                    ) -> tuple[torch.Tensor, tuple[CanonicalFrame, CanonicalFrame], torch.Tensor]:
    """World joints (2, frame, 22, 3), frame a multiple of 4, with their local rotations (2, frame, 21, 6) where
    known -> ids (2, p, frame / 4), the canonical frames they live in and the two people's body scales (2,)
    (``InterMask.body_scales``)."""
    frames = _pair_frames(joints)
    motion = torch.stack([person_features(model, frame.apply(person), None if rot6d is None else rot6d[n])
                          for n, (frame, person) in enumerate(zip(frames, joints))])
    lengths = torch.tensor([joints.shape[1]], device=model.mean.device)
    return model.tokenize(motion[None], lengths)[0], frames, model.body_scales(motion[None], lengths)[0]


def check_input(joints, model: InterMask, what: str = "the input") -> np.ndarray:
    """Two people's world joints (2, frame, joints, 3) with at least two tokens' worth of frames."""
    joints = np.asarray(joints, dtype=np.float64)
    num_joints = model.layout.num_joints
    if joints.ndim != 4 or joints.shape[0] != 2 or joints.shape[2:] != (num_joints, 3):
        raise EditError(f"{what} must hold two people's joints (2, frame, {num_joints}, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise EditError(f"{what} holds NaN or inf")
    if joints.shape[1] < 2 * model.frames_per_token:
        raise EditError(f"{what} has {joints.shape[1]} frames; at least {2 * model.frames_per_token} are needed")
    return joints


def kept_runs(kept: np.ndarray) -> list[tuple[int, int]]:
    """(first, last + 1) frames of each run of kept frames. kept: (frame,) bool."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], kept.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def fade_weights(kept: np.ndarray, fades: dict[int, int] | int) -> np.ndarray:
    """(frame,) weights of the input over the decoded motion: 0 at generated frames, 1 at kept ones, except within a
    seam's fade, where they ease down (smoothstep: velocity and acceleration change gradually at both ends) towards
    the generated frames over that many kept frames. ``fades``: frames of fade per seam (the first frame after the
    change, as ``seams_of``), or one number for every seam; a fade stays inside its own kept run."""
    weights = np.zeros(len(kept))
    for first, stop in kept_runs(kept):
        distance = np.arange(first, stop)
        ramp = np.ones(stop - first)
        for seam, away in ((first, distance - first + 1), (stop, stop - distance)):
            if 0 < seam < len(kept):  # a generated frame lies on this side of the run
                fade = fades if isinstance(fades, int) else fades.get(seam, 0)
                if fade > 0:
                    ramp = np.minimum(ramp, _smoothstep(away / (fade + 1)))
        weights[first:stop] = ramp
    return weights


def choose_fades(kept: np.ndarray, given: np.ndarray, decoded: np.ndarray, longest: int, fps: float
                 ) -> dict[int, int]:
    """The shortest fade at each of one person's seams whose velocity jump stays within what the input itself does:
    its 95th percentile over the kept frames, or its own largest jump around the seam where that is more. Fades are
    tried from ``FADES`` up to ``longest`` frames; when none is enough, the one with the smallest jump.

    kept: (frame,) bool; given: (input frame, joint, 3) the input's joints (frames past it are generated);
    decoded: (frame, joint, 3) the decoded motion, already aligned. A jump is the one
    ``metrics.physical.velocity_and_acceleration_jumps`` measures, taken at a seam from the start of its fade to
    two frames after it.
    """
    seams = seams_of(kept[None])
    candidates = [fade for fade in FADES if fade <= longest] or [0]
    inputs = len(given)
    own = velocity_and_acceleration_jumps(given[None], fps)[0]
    kept_own = own[3:][kept[3:inputs]]
    typical = float(np.percentile(kept_own, 95)) if kept_own.size else 0.0

    def blend(fades: dict[int, int]) -> np.ndarray:
        weights = fade_weights(kept, fades)[:inputs, None, None]
        blended = decoded.copy()
        blended[:inputs] = weights * given + (1 - weights) * decoded[:inputs]
        return velocity_and_acceleration_jumps(blended[None], fps)[0]

    fades: dict[int, int] = {}
    for seam in seams:
        jumps = []
        for fade in candidates:
            span = slice(max(3, seam - fade - 2), seam + 3)
            here = own[span.start:min(span.stop, inputs)]
            limit = max(typical, float(here.max()) if here.size else 0.0)
            jumps.append(float(blend({**fades, seam: fade})[span].max(initial=0.0)))
            if jumps[-1] <= limit:
                break
        fades[seam] = candidates[len(jumps) - 1] if jumps[-1] <= limit else candidates[int(np.argmin(jumps))]
    return fades


def ground_offsets(kept: np.ndarray, given: np.ndarray, decoded: np.ndarray) -> np.ndarray:
    """(frame, 3) ground-plane shifts that carry one person's decoded motion onto the given one at every seam.

    At each seam the shift is the difference of the root (x, z) between the given and the decoded motion at the
    kept frame next to it; a generated run takes the shift of the seam before it, of the seam after it, or the
    line between the two; a kept run the shift of its nearest seam (it shows only in the cross-fade). The model
    decodes absolute positions, and a generated run may start where the kept motion is not: shifted, the generated
    motion continues from where the kept motion ends. kept: (frame,) bool; given, decoded: (frame, joint, 3).
    """
    frames = len(kept)
    edges = np.flatnonzero(kept[1:] != kept[:-1]) + 1  # first frame after each change
    offsets = np.zeros((frames, 3))
    if edges.size == 0 or kept.all() or not kept.any():
        return offsets
    anchors = [edge - 1 if kept[edge - 1] else edge for edge in edges]  # the kept frame at each seam
    shift = np.zeros((len(edges), 3))
    shift[:, [0, 2]] = given[anchors, 0][:, [0, 2]] - decoded[anchors, 0][:, [0, 2]]
    bounds = [0, *edges.tolist(), frames]
    for k, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
        before, after = (shift[k - 1] if k > 0 else None), (shift[k] if k < len(edges) else None)
        if kept[start] or before is None or after is None:
            near = [s for s in (before, after) if s is not None]
            if kept[start] and len(near) == 2:  # a kept run between two seams: each half follows its own seam
                middle = (start + stop) // 2
                offsets[start:middle], offsets[middle:stop] = before, after
            else:
                offsets[start:stop] = near[0]
        else:
            ramp = (np.arange(start, stop) - (start - 1)) / (stop - start + 1)
            offsets[start:stop] = (1 - ramp)[:, None] * before + ramp[:, None] * after
    return offsets


def seams_of(kept_frames: np.ndarray) -> list[int]:
    """Frames where kept and generated motion meet: f with kept[n, f] != kept[n, f - 1] for some person."""
    change = (kept_frames[:, 1:] != kept_frames[:, :-1]).any(axis=0)
    return [int(f) + 1 for f in np.flatnonzero(change)]


def edit_interaction(
    model: InterMask,
    joints: np.ndarray,
    text: str | None,
    keep: Sequence[Sequence[float]] = (),
    people: Sequence[int] = (0, 1),
    parts: Sequence[str] | None = None,
    length: int | None = None,
    blend_frames: int = DEFAULT_BLEND_FRAMES,
    rot6d: np.ndarray | None = None,
    align: bool = True,
    steps: int = 20,
    **settings,
) -> EditResult:
    """Regenerate the named people's (body parts') motion outside the ``keep`` ranges under ``text``.

    joints: (2, frame, 22, 3) world joints at the model's frame rate. keep: (start, end) ranges in seconds kept
    for ``people`` (0, 1) and ``parts`` (names or groups, ``body_parts``; None: the whole body); everything else of
    the input is kept too. A token step is kept when all its frames lie in a range. length: frames of the result
    (default the input's); past the input everything is generated (continuation); at most ``model.max_frames``
    (longer clips: ``extend_interaction``). rot6d: (2, frame, 21, 6) local rotations of the input where known
    (``person_features``). align: shift generated runs in the ground plane so they start and end where the kept
    motion is (``ground_offsets``); blend_frames: the longest cross-fade a seam may take (``choose_fades``). text None: the null condition. steps and ``settings`` (cond_scale,
    temperature, topk_ratio, gumbel, generator, amp, compile) go to ``InterMask.generate``.
    """
    joints = check_input(joints, model)
    fpt, fps = model.frames_per_token, model.layout.fps
    length = joints.shape[1] if length is None else int(length)
    length -= length % fpt
    if not fpt <= length <= model.max_frames:
        raise EditError(f"an edit is {length} frames long; one window holds {fpt}..{model.max_frames} frames "
                        f"({model.max_frames / fps:.1f} s): longer clips are made by extend_interaction")
    unknown = sorted(set(people) - {0, 1})
    if unknown or not people:
        raise EditError(f"people {list(people)}: name person 0 and/or 1 (the first and the second)")
    rows = part_rows(parts, model.layout)
    ranges = check_ranges(keep, length / fps, "kept range")
    input_frames = min(joints.shape[1], length) // fpt * fpt
    input_steps, num_steps = input_frames // fpt, length // fpt
    edited = ~steps_within(ranges, num_steps, fpt, fps)
    mask = keep_mask(model.layout.num_parts, num_steps, input_steps, edited, people, rows)

    given_ids, frames, scales = tokenize_joints(model, joints[:, :input_frames],
                                                None if rot6d is None else rot6d[:, :input_frames])
    fixed = torch.zeros(2, mask.shape[1], num_steps, dtype=torch.long, device=given_ids.device)
    fixed[..., :input_steps] = given_ids
    device = model.mean.device
    ids, features = model.generate([text] if text is not None else None, torch.tensor([length], device=device),
                                   steps=steps, fixed_ids=fixed[None], keep=mask[None].to(device),
                                   scales=scales[None], **settings)
    canonical = model.joints(features)[0].cpu().numpy().astype(np.float64)
    decoded = np.stack([frame.invert(person) for frame, person in zip(frames, canonical)])

    kept_frames = mask.all(dim=1).repeat_interleave(fpt, dim=-1).numpy()
    result, fades = decoded.copy(), []
    for person in range(2):
        given = np.concatenate([joints[person, :input_frames], decoded[person, input_frames:]])
        if align:
            result[person] += ground_offsets(kept_frames[person], given, decoded[person])[:, None]
        fades.append(choose_fades(kept_frames[person], joints[person, :input_frames], result[person], blend_frames,
                                  fps))
        weights = fade_weights(kept_frames[person], fades[-1])[:input_frames, None, None]
        result[person, :input_frames] = weights * joints[person, :input_frames] \
            + (1 - weights) * result[person, :input_frames]
    return EditResult(result, ids[0].cpu(), mask, kept_frames, seams_of(kept_frames), decoded, fades)


@dataclass
class ChainedResult:
    """A clip made of windows: joints (2, frame, 22, 3); seams: first frame of each window after the first;
    windows: (first frame, last frame + 1, caption) of each window's new frames."""

    joints: np.ndarray
    seams: list[int]
    windows: list[tuple[int, int, str | None]]


def extend_interaction(
    model: InterMask,
    joints: np.ndarray | None,
    texts: Sequence[str | None],
    length: int,
    overlap: int,
    blend_frames: int = DEFAULT_BLEND_FRAMES,
    align: bool = True,
    steps: int = 20,
    sizes: torch.Tensor | None = None,
    **settings,
) -> ChainedResult:
    """Continue a clip to ``length`` frames, one window of the model's length at a time.

    Each window keeps the last ``overlap`` frames (a multiple of 4, less than a window) of the clip so far as its
    prefix and generates the rest under its caption: ``texts[k]`` for the k-th new window, the last caption for
    any windows beyond. Windows are canonicalised on their own first frame, as every training clip is. joints None:
    the first window is generated from ``texts[0]`` alone, its people at ``sizes`` (2,) where given
    (``InterMask.generate``'s scales); later windows keep the sizes of the clip they continue.
    """
    fpt, window = model.frames_per_token, model.max_frames - model.max_frames % model.frames_per_token
    if not texts:
        texts = [None]
    windows = []
    if joints is None:
        first = min(window, length - length % fpt)
        device = model.mean.device
        _, features = model.generate(texts[:1] if texts[0] is not None else None, torch.tensor([first], device=device),
                                     steps=steps, scales=None if sizes is None else sizes[None], **settings)
        joints = model.joints(features)[0].cpu().numpy().astype(np.float64)
        windows.append((0, first, texts[0]))
    joints = check_input(joints, model, "the clip to extend")
    if overlap % fpt or not fpt <= overlap <= window - fpt:
        raise EditError(f"overlap of {overlap} frames: a multiple of {fpt} from {fpt} to {window - fpt} "
                        f"(a window holds {window} frames)")
    if overlap > joints.shape[1]:
        raise EditError(f"overlap of {overlap} frames is longer than the clip to extend ({joints.shape[1]} frames)")
    clip, seams = joints, []
    while clip.shape[1] < length:
        new = min(window - overlap, length - clip.shape[1])
        caption = texts[min(len(windows), len(texts) - 1)]
        tail = clip[:, clip.shape[1] - overlap:]
        size = overlap + new + (-new) % fpt
        edited = edit_interaction(model, tail, caption, keep=[(0, overlap / model.layout.fps)], length=size,
                                  blend_frames=blend_frames, align=align, steps=steps, **settings)
        start = clip.shape[1]
        clip = np.concatenate([clip[:, :start - overlap], edited.joints[:, :overlap + new]], axis=1)
        seams.append(start)
        windows.append((start, start + new, caption))
    return ChainedResult(clip[:, :length] if clip.shape[1] > length else clip, seams, windows)
