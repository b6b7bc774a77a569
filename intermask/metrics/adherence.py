"""Prompt adherence: does a two-person motion do what its caption says?

A caption of the synthetic grammar (``intermask.data.synthetic.text``) states facts that can be read back from
joint positions alone: which hand shakes, waves, pushes or punches, which leg kicks, on which side someone
walks, passes, points or taps, which way the pair circles seen from above, which way a walk turns, who starts
or does the action, and how many times a gesture is repeated. ``claims(text)`` parses those facts into
``Claim`` records; ``check(claim, joints)`` decides one of them from the joints (person=2, frame, joint=22,
xyz), Y-up metres, and nothing else, so it judges generated motions as it judges the data. ``adherence``
pools many (caption, joints) pairs into a rate per claim kind.

A check answers True (the motion does it), False (the motion does the opposite or something else) or None:
the motion gives no evidence either way (nobody raised a hand, the pair did not circle, nobody moved toward
the other). Rates are computed over decided claims, and the share of decided claims is reported beside them
as coverage, so that a model cannot look adherent by doing nothing.

Claim kinds:

- ``hand``: which hand does the act (handshake, high five, helping up, push, punch, wave, repeated waves,
  pointing arm), of one person or of both;
- ``leg``: which leg kicks;
- ``side``: where someone is or aims: the first person's side when walking side by side, the side on which
  two people pass, the side someone points to, the partner's shoulder that is tapped;
- ``rotation``: clockwise or counterclockwise, seen from above, of the line between two circling people;
- ``turn``: whether a walk or run turns left, right or goes straight;
- ``initiator``: who acts: who walks up (or both), who bows or waves first (or both together), who pushes,
  strikes, points, chases, sneaks up, or performs a repeated gesture;
- ``count``: how many times a clap, wave or nod is repeated.

Every threshold below is a stated choice; the synthetic data clear them by a wide margin (their ranges are
quoted beside them), so the thresholds mostly matter for generated motions. The narrowest call is who
punches: the punch is found as the wrist that comes nearest the partner's head, and a defender's blocking
hands come within about 5 cm of the punching fist's distance. Which hand punches is decided with a wide
margin (15 cm), since the attacker's other hand stays in guard.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.signal import find_peaks

from ..motion import skeleton
from ..motion.skeleton import NUM_JOINTS, OTHER_SIDE, SIDES

KINDS = ("hand", "leg", "side", "rotation", "turn", "initiator", "count")
ROLES = (*skeleton.ROLES, "both")  # whose act a claim is about
PEOPLE = {"first": (0,), "second": (1,), "both": (0, 1)}
GESTURES = ("claps", "waves", "nods")

PELVIS, CHEST, NECK, HEAD = skeleton.PELVIS_JOINT, skeleton.CHEST_JOINT, skeleton.NECK_JOINT, skeleton.HEAD_JOINT
WRIST, SHOULDER, ANKLE = skeleton.WRIST_JOINTS, skeleton.SHOULDER_JOINTS, skeleton.ANKLE_JOINTS
LEFT_HIP, RIGHT_HIP = skeleton.HIP_JOINTS["left"], skeleton.HIP_JOINTS["right"]
HORIZONTAL = np.array([1.0, 0.0, 1.0])

# --- thresholds (metres, radians, seconds). Each sits well between what the synthetic data do and do not do;
# the ranges quoted are those of 40 clips per family.
HANDS_MEET = 0.2  # two people's wrists this close have met (shake, slap, grip: < 0.15; hanging hands: > 0.5)
HAND_RAISED = 0.1  # a wrist this far above its shoulder is raised (waving: > 0.33; the other hand: < -0.4)
ARM_EXTENDED = 0.45  # horizontal wrist-to-pelvis reach of a pointing arm (> 0.56; other arms: < 0.32)
POINT_LATERAL = 0.25  # sideways reach of a pointing hand (> 0.35)
PUSH_REACH = 0.35  # a pushing wrist gets this close to the partner's chest (< 0.19; the pushed one's: > 0.54)
PUNCH_REACH = 0.6  # a punching wrist gets this close to the partner's head (a dodged punch still: < 0.45)
KICK_LIFT = 0.2  # a kicking ankle rises this far above the other (> 0.48; steps and stances: < 0.08)
TAP_REACH = 0.25  # a tapping wrist gets this close to the partner's shoulder (< 0.05)
APPROACH = 0.4  # progress toward the partner's starting spot that is walking up (> 0.8; standing: < 0.2)
BOW_DROP = 0.025  # head drop that counts as a bow; a slight bow drops the head 2.5-15 cm
SAME_TIME = 0.4  # two starts closer than this (s) are together (together: < 0.2; in turn: > 0.6)
CIRCLED = np.pi / 4  # swept angle of the line between two people that counts as circling (half a circle: pi)
TURNED = 0.4  # swept facing of a walk that counts as a turn (straight: < 0.01; turns: > 0.72)
WALKED = 1.0  # path length of the pelvis below which nobody walked, so a turn claim has no evidence
SIDE_OFFSET = 0.15  # sideways offset that puts a walking partner on one side (> 0.54)
PASS_GAP = 2.0  # pelvises never closer than this: the two did not pass each other


@dataclass(frozen=True)
class Claim:
    """One checkable fact of a caption.

    kind: one of ``KINDS``; action: what it is about ("handshake", "punch", "circle", "claps", ...);
    value: "left"/"right" (hand, leg, side, turn also "straight"), "clockwise"/"counterclockwise" (rotation),
    "first"/"second"/"both" (initiator) or a number (count); person: whose act it is, "first", "second" or
    "both" (for initiator claims it repeats the value).
    """

    kind: str
    action: str
    value: str | int
    person: str = "both"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Claim.kind: expected one of {KINDS}, got {self.kind!r}")
        if self.person not in ROLES:
            raise ValueError(f"Claim.person: expected one of {ROLES}, got {self.person!r}")


# ------------------------------------------------------------------------------------- joint-space helpers
def left_axis(pose: np.ndarray) -> np.ndarray:
    """Horizontal unit left of a body from its hips. pose: (..., 22, 3) -> (..., 3)."""
    left = (pose[..., LEFT_HIP, :] - pose[..., RIGHT_HIP, :]) * HORIZONTAL
    return left / np.maximum(np.linalg.norm(left, axis=-1, keepdims=True), 1e-9)


def facing(pose: np.ndarray) -> np.ndarray:
    """Horizontal unit facing (left x up) of a body from its hips. pose: (..., 22, 3) -> (..., 3)."""
    left = left_axis(pose)
    return np.stack([-left[..., 2], np.zeros(left.shape[:-1]), left[..., 0]], -1)


def yaw(direction: np.ndarray) -> np.ndarray:
    """Angle of a horizontal direction (..., 3), increasing with turns to the left (positive about +Y)."""
    return np.arctan2(direction[..., 0], direction[..., 2])


def swept_angle(directions: np.ndarray) -> float:
    """Signed angle swept by horizontal directions (frame, 3); > 0 is counterclockwise seen from above."""
    angles = yaw(directions)
    return float(np.sum((np.diff(angles) + np.pi) % (2 * np.pi) - np.pi))


def count_gesture(pose_sequence: np.ndarray, gesture: str, hand: str | None = None) -> int:
    """Claps (hands meeting), waves (side-to-side swings of a raised ``hand``) or nods of one person.

    pose_sequence: (frame, 22, 3). A clap is the wrists coming within 10 cm, counted again only after they
    part by 18 cm (hysteresis against jitter); a wave is a peak of the hand's outward travel while it is at
    least 20 cm above its shoulder; a nod is a peak of the head's forward offset from the neck.
    """
    if gesture not in GESTURES:
        raise ValueError(f"count_gesture: gesture must be one of {GESTURES}, got {gesture!r}")
    if gesture == "claps":
        apart = np.linalg.norm(pose_sequence[:, WRIST["left"]] - pose_sequence[:, WRIST["right"]], axis=-1)
        touching, count = False, 0
        for distance in apart:
            if not touching and distance < 0.1:
                touching, count = True, count + 1
            elif touching and distance > 0.18:
                touching = False
        return count
    start = pose_sequence[0]
    if gesture == "waves":
        if hand not in SIDES:
            raise ValueError(f"count_gesture: waves need hand 'left' or 'right', got {hand!r}")
        sign = 1 if hand == "left" else -1
        outward = sign * (pose_sequence[:, WRIST[hand]] - pose_sequence[:, PELVIS]) @ left_axis(start)
        raised = pose_sequence[:, WRIST[hand], 1] > pose_sequence[:, SHOULDER[hand], 1] + 0.2
        peaks = find_peaks(outward, prominence=0.1)[0]
        return int(raised[peaks].sum())
    forward = (pose_sequence[:, HEAD] - pose_sequence[:, NECK]) @ facing(start)
    return len(find_peaks(forward, prominence=0.015)[0])


def hand_rise(pose_sequence: np.ndarray) -> dict:
    """Highest rise of each wrist above its own shoulder (m) over the frames. (frame, 22, 3) -> {side: m}."""
    return {side: float((pose_sequence[:, WRIST[side], 1] - pose_sequence[:, SHOULDER[side], 1]).max())
            for side in SIDES}


def raised_hand(pose_sequence: np.ndarray) -> str | None:
    """The hand raised higher above its shoulder, or None when neither goes above it by ``HAND_RAISED``."""
    rise = hand_rise(pose_sequence)
    best = max(SIDES, key=rise.get)
    return best if rise[best] > HAND_RAISED else None


def arm_reach(pose_sequence: np.ndarray) -> dict:
    """Farthest horizontal distance (m) of each wrist from the pelvis over the frames: how far an arm points."""
    return {side: float(np.linalg.norm((pose_sequence[:, WRIST[side]] - pose_sequence[:, PELVIS]) * HORIZONTAL,
                                       axis=-1).max()) for side in SIDES}


def kick_lift(pose_sequence: np.ndarray) -> dict:
    """Highest rise (m) of each ankle above the other ankle over the frames: how high a leg kicks."""
    heights = {side: pose_sequence[:, ANKLE[side], 1] for side in SIDES}
    return {side: float((heights[side] - heights[OTHER_SIDE[side]]).max()) for side in SIDES}


def approach_progress(joints: np.ndarray) -> np.ndarray:
    """How far (m) each person gets toward where the other started. joints: (2, frame, 22, 3) -> (2,).

    Progress is the largest projection of the pelvis's travel on the horizontal direction to the partner's
    first position: walking up counts, being pushed away or running off counts as nothing.
    """
    pelvis = joints[:, :, PELVIS] * HORIZONTAL
    progress = []
    for person in range(2):
        toward = pelvis[1 - person, 0] - pelvis[person, 0]
        toward = toward / max(np.linalg.norm(toward), 1e-9)
        progress.append(float(((pelvis[person] - pelvis[person, 0]) @ toward).max()))
    return np.array(progress)


def closest_reach(joints: np.ndarray, person: int, target_joint: int) -> dict:
    """Closest distance (m) over the frames of each wrist of ``person`` to a joint of the partner."""
    target = joints[1 - person, :, target_joint]
    return {side: float(np.linalg.norm(joints[person, :, WRIST[side]] - target, axis=-1).min()) for side in SIDES}


def meeting_hands(joints: np.ndarray) -> tuple[str, str] | None:
    """(person 1's side, person 2's side) of the two wrists that come closest, or None if none meet."""
    pairs = {(a, b): np.linalg.norm(joints[0, :, WRIST[a]] - joints[1, :, WRIST[b]], axis=-1).min()
             for a in SIDES for b in SIDES}
    best = min(pairs, key=pairs.get)
    return best if pairs[best] < HANDS_MEET else None


def bow_halfway_time(heads: np.ndarray, fps: float) -> float | None:
    """When a head's height track (frame,) has gone half its way down, in seconds; None if it never bows.

    The standing height is the 90th percentile of the track rather than its first frame, so that a clip which
    starts mid-motion still has a fair reference.
    """
    standing = float(np.percentile(heads, 90))
    drop = standing - float(heads.min())
    if drop < BOW_DROP:
        return None
    return float(np.argmax(heads < standing - 0.5 * drop)) / fps


def raise_time(pose_sequence: np.ndarray, fps: float) -> float | None:
    """When either wrist first rises ``HAND_RAISED`` above its shoulder, in seconds; None if never."""
    rise = np.stack([pose_sequence[:, WRIST[s], 1] - pose_sequence[:, SHOULDER[s], 1] for s in SIDES]).max(0)
    above = rise > HAND_RAISED
    return float(np.argmax(above)) / fps if above.any() else None


def path_length(pelvis: np.ndarray) -> float:
    """Horizontal distance (m) travelled by a pelvis track (frame, 3)."""
    return float(np.linalg.norm(np.diff(pelvis * HORIZONTAL, axis=0), axis=-1).sum())


# --------------------------------------------------------------------------------------------- the parsing
PERSON = r"the (first|second) person"
COUNT_WORDS = {"twice": 2, "two times": 2, "three times": 3, "four times": 4, "five times": 5}
_COUNT_PATTERN = re.compile(r"\b(" + "|".join(COUNT_WORDS) + r")\b")
_HAND = re.compile(r"\b(left|right)(?:-handed| hands?)\b")


def _first_role(text: str, patterns: Sequence[str]) -> str | None:
    """The role named by the first of ``patterns`` that matches (each has one (first|second) group)."""
    for pattern in patterns:
        match = re.search(pattern, text)
        if match:
            return match.group(1)
    return None


def _first_named(text: str) -> str | None:
    match = re.search(PERSON, text)
    return match.group(1) if match else None


def _rotation(text: str) -> str | None:
    if re.search(r"\b(?:counter|anti)[\s-]?clockwise\b", text):
        return "counterclockwise"
    return "clockwise" if re.search(r"\bclockwise\b", text) else None


def _turn(text: str, verbs: str) -> str | None:
    match = re.search(rf"\b(?:{verbs}) (left|right)\b", text)
    if match:
        return match.group(1)
    return "straight" if re.search(r"\bstraight\b", text) else None


def _walk_up_claims(action: str, text: str) -> list[Claim]:
    """Who walks up in handshake, hug and high-five captions: one person or both."""
    role = _first_role(text, [rf"after walking [^,]*, {PERSON}", rf"{PERSON},? (?:who )?(?:walks|approaches|comes)\b"])
    if role is None and re.search(r"each other|one another|come together|\bmeet\b", text):
        role = "both"
    return [Claim("initiator", action, role, role)] if role else []


def _meeting_hand_claims(action: str, text: str) -> list[Claim]:
    match = _HAND.search(text)
    return [Claim("hand", action, match.group(1), "both")] if match else []


def _handshake(text: str) -> list[Claim]:
    return _walk_up_claims("handshake", text) + _meeting_hand_claims("handshake", text)


def _high_five(text: str) -> list[Claim]:
    return _walk_up_claims("high_five", text) + _meeting_hand_claims("high_five", text)


def _hug(text: str) -> list[Claim]:
    return _walk_up_claims("hug", text)


def _crouching(text: str) -> list[Claim]:
    role = _first_role(text, [rf"{PERSON},? (?:who )?(?:walks|approaches|comes)\b"])
    found = [Claim("initiator", "crouching", role, role)] if role else []
    return found + _meeting_hand_claims("help_up", text)


def _bow(text: str) -> list[Claim]:
    if re.search(r"same time|together|simultaneously|in unison", text):
        return [Claim("initiator", "bow", "both", "both")]
    role = _first_role(text, [rf"after {PERSON} bows"]) or _first_named(text)
    return [Claim("initiator", "bow", role, role)] if role else []


def _wave_hands(text: str) -> list[Claim]:
    """Each person's waving hand: the hand named in a clause belongs to that clause's subject."""
    respectively = re.search(r"\b(left|right) and (left|right) hands respectively", text)
    if respectively:
        return [Claim("hand", "wave", respectively.group(1), "first"),
                Claim("hand", "wave", respectively.group(2), "second")]
    found, last_named = [], None
    for clause in re.split(r"[,;]| while | after | and (?=the (?:first|second) person)", text):
        clause = clause.strip()
        named = re.findall(PERSON, clause)
        if re.match(r"both\b", clause):
            subject = "both"
        elif clause.startswith("who") and last_named:
            subject = last_named
        else:
            subject = named[0] if named else None
        if named:
            last_named = named[-1]
        hand = _HAND.search(clause)
        if hand and subject:
            found.append(Claim("hand", "wave", hand.group(1), subject))
    return found


def _wave(text: str) -> list[Claim]:
    if re.search(r"waves back|who (?:answers|responds)", text):
        role = _first_role(text, [rf"after {PERSON} waves"]) or _first_named(text)
    else:
        role = "both"
    return ([Claim("initiator", "wave", role, role)] if role else []) + _wave_hands(text)


def _push(text: str) -> list[Claim]:
    role = _first_role(text, [rf"{PERSON} (?:walks|approaches|pushes|shoves)\b"])
    if role is None:
        return []
    hand = _HAND.search(text)
    return [Claim("initiator", "push", role, role)] + ([Claim("hand", "push", hand.group(1), role)] if hand else [])


def _strike(text: str) -> list[Claim]:
    role = _first_role(text, [rf"{PERSON} (?:throws|punches|swings|kicks|aims)\b"])
    if role is None:
        return []
    if re.search(r"\bpunch|\bfist", text):
        side = re.search(r"\b(left|right) (?:punch|hand|fist)\b", text)
        return [Claim("initiator", "punch", role, role)] + ([Claim("hand", "punch", side.group(1), role)]
                                                           if side else [])
    side = re.search(r"\b(left|right) (?:kick|leg|foot)\b", text)
    return [Claim("initiator", "kick", role, role)] + ([Claim("leg", "kick", side.group(1), role)] if side else [])


def _chase(text: str) -> list[Claim]:
    role = _first_role(text, [rf"{PERSON} (?:chases|follows)\b", rf"chased by {PERSON}"])
    turn = _turn(text, "turning|veering|curving to the")
    return (([Claim("initiator", "chase", role, role)] if role else []) +
            ([Claim("turn", "chase", turn, "both")] if turn else []))


def _circle(text: str) -> list[Claim]:
    return [Claim("rotation", "circle", _rotation(text), "both")]


def _side_by_side(text: str) -> list[Claim]:
    found = []
    own = re.search(r"first person[^,;]*? on the (left|right)\b", text)
    other = re.search(r"second person is on the (left|right)\b", text)
    if own or other:
        found.append(Claim("side", "side_by_side", own.group(1) if own else OTHER_SIDE[other.group(1)], "first"))
    turn = _turn(text, "turn|turning|curving to the")
    return found + ([Claim("turn", "side_by_side", turn, "both")] if turn else [])


def _pass_by(text: str) -> list[Claim]:
    sides = set(re.findall(r"\b(left|right)\b", text))
    return [Claim("side", "pass_by", sides.pop(), "both")] if len(sides) == 1 else []


def _sneak(text: str) -> list[Claim]:
    role = _first_role(text, [rf"{PERSON} (?:sneaks|creeps|steals|tiptoes|approaches)\b"])
    if role is None:
        return []
    shoulder = re.search(r"\b(left|right) shoulder\b", text)
    return [Claim("initiator", "sneak", role, role)] + ([Claim("side", "tap", shoulder.group(1), role)]
                                                        if shoulder else [])


def _repeated_gesture(text: str) -> list[Claim]:
    count = COUNT_WORDS[_COUNT_PATTERN.search(text).group(1)]
    gesture = re.search(r"\b(clap|wave|nod)", text)
    if gesture is None:
        return []
    gesture = gesture.group(1) + "s"
    if re.search(r"both people|the two people|first person and the second person", text):
        role = "both"
    else:
        role = _first_role(text, [rf"{PERSON},? (?:who )?(?:claps|waves|nods)\b"])
    if role is None:
        return []
    found = [Claim("initiator", gesture, role, role), Claim("count", gesture, count, role)]
    hand = _HAND.search(text)
    if gesture == "waves" and hand:
        found.append(Claim("hand", "waves", hand.group(1), role))
    return found


def _point(text: str) -> list[Claim]:
    role = _first_role(text, [rf"{PERSON} points\b"])
    if role is None:
        return []
    found = [Claim("initiator", "point", role, role)]
    side = re.search(r"\bto their (left|right)\b", text)
    arm = re.search(r"\b(left|right) arm\b", text)
    if side:
        found.append(Claim("side", "point", side.group(1), role))
    if arm:
        found.append(Claim("hand", "point", arm.group(1), role))
    return found


# (pattern that marks a caption of the family, its parser), tried in order: the first match decides
_FAMILIES = (
    (r"\bhigh[- ]fives?\b|\bslap\b", _high_five),
    (r"\bshake\b|\bshakes\b|handshake", _handshake),
    (r"\bhug|\bembrace|arms around", _hug),
    (r"\bpush|\bshove", _push),
    (r"\bpunch|\bkick|\bfist\b", _strike),
    (r"\bchase|\bpursuit\b", _chase),
    (_COUNT_PATTERN.pattern, _repeated_gesture),
    (r"\bbow", _bow),
    (r"\bwave|\bwaving\b", _wave),
    (r"clockwise", _circle),
    (r"side by side|next to each other|on the (?:left|right) of", _side_by_side),
    (r"\bpass", _pass_by),
    (r"\bbehind\b", _sneak),
    (r"\bcrouch|\bsquat", _crouching),
    (r"\bpoints\b", _point),
)


def claims(text: str) -> list[Claim]:
    """The checkable claims of one caption (an empty list when it states none, e.g. a dance)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"claims: expected a non-empty caption, got {text!r}")
    lower = re.sub(r"\s+", " ", text.lower()).strip()
    for pattern, parse in _FAMILIES:
        if re.search(pattern, lower):
            return parse(lower)
    return []


# ---------------------------------------------------------------------------------------------- the checks
def _all_people(verdicts) -> bool | None:
    """One verdict for a claim about several people: False beats None beats True."""
    verdicts = list(verdicts)
    if any(v is False for v in verdicts):
        return False
    if any(v is None for v in verdicts):
        return None
    return True


def _nearer(distances: dict, limit: float, value: str) -> bool | None:
    """Is ``value`` the side with the smaller distance? None when neither side is within ``limit``."""
    best = min(SIDES, key=distances.get)
    return None if distances[best] > limit else best == value


def _stronger(measure: dict, limit: float, value: str) -> bool | None:
    """Is ``value`` the side with the larger measure? None when neither side exceeds ``limit``."""
    best = max(SIDES, key=measure.get)
    return None if measure[best] < limit else best == value


def _check_hand(claim: Claim, joints: np.ndarray, fps: float) -> bool | None:
    people = PEOPLE[claim.person]
    if claim.action in ("handshake", "high_five", "help_up"):
        met = meeting_hands(joints)
        return None if met is None else met == (claim.value, claim.value)
    if claim.action == "push":
        return _all_people(_nearer(closest_reach(joints, p, CHEST), PUSH_REACH, claim.value) for p in people)
    if claim.action == "punch":
        return _all_people(_nearer(closest_reach(joints, p, HEAD), PUNCH_REACH, claim.value) for p in people)
    if claim.action in ("wave", "waves"):
        raised = [raised_hand(joints[p]) for p in people]
        return _all_people(None if hand is None else hand == claim.value for hand in raised)
    if claim.action == "point":
        return _all_people(_stronger(arm_reach(joints[p]), ARM_EXTENDED, claim.value) for p in people)
    raise ValueError(f"no hand check for action {claim.action!r}")


def _check_leg(claim: Claim, joints: np.ndarray, fps: float) -> bool | None:
    return _all_people(_stronger(kick_lift(joints[p]), KICK_LIFT, claim.value) for p in PEOPLE[claim.person])


def _lateral_sign(value: float, threshold: float, claimed: str) -> bool | None:
    if abs(value) < threshold:
        return None
    return (value > 0) == (claimed == "left")


def _check_side(claim: Claim, joints: np.ndarray, fps: float) -> bool | None:
    pelvis = joints[:, :, PELVIS]
    if claim.action == "side_by_side":
        offset = np.median(((pelvis[0] - pelvis[1]) * left_axis(joints[1])).sum(-1))
        return _lateral_sign(float(offset), SIDE_OFFSET, claim.value)
    if claim.action == "pass_by":
        gaps = np.linalg.norm((pelvis[0] - pelvis[1]) * HORIZONTAL, axis=-1)
        closest = int(gaps.argmin())
        if gaps[closest] > PASS_GAP:
            return None
        verdicts = [_lateral_sign(float((pelvis[1 - p, closest] - pelvis[p, closest]) @ left_axis(joints[p, closest])),
                                  0.0, claim.value) for p in range(2)]
        return _all_people(verdicts)
    if claim.action == "tap":
        verdicts = []
        for p in PEOPLE[claim.person]:
            reach = {s: min(np.linalg.norm(joints[p, :, WRIST[w]] - joints[1 - p, :, SHOULDER[s]], axis=-1).min()
                            for w in SIDES) for s in SIDES}
            verdicts.append(_nearer(reach, TAP_REACH, claim.value))
        return _all_people(verdicts)
    if claim.action == "point":
        verdicts = []
        for p in PEOPLE[claim.person]:
            hands = joints[p, :, [WRIST["left"], WRIST["right"]]]  # (side, frame, 3)
            outward = np.linalg.norm((hands - joints[p, None, :, PELVIS]) * HORIZONTAL, axis=-1)
            side, frame = np.unravel_index(int(outward.argmax()), outward.shape)
            lateral = (hands[side, frame] - joints[p, frame, PELVIS]) @ left_axis(joints[p, frame])
            verdicts.append(_lateral_sign(float(lateral), POINT_LATERAL, claim.value))
        return _all_people(verdicts)
    raise ValueError(f"no side check for action {claim.action!r}")


def _check_rotation(claim: Claim, joints: np.ndarray, fps: float) -> bool | None:
    swept = swept_angle((joints[1, :, PELVIS] - joints[0, :, PELVIS]) * HORIZONTAL)
    if abs(swept) < CIRCLED:
        return None
    return (swept > 0) == (claim.value == "counterclockwise")


def _check_turn(claim: Claim, joints: np.ndarray, fps: float) -> bool | None:
    if max(path_length(joints[p, :, PELVIS]) for p in range(2)) < WALKED:
        return None
    swept = float(np.mean([swept_angle(facing(joints[p])) for p in range(2)]))
    if claim.value == "straight":
        return abs(swept) < TURNED
    return swept > TURNED if claim.value == "left" else swept < -TURNED


def _gesture_counts(joints: np.ndarray, gesture: str) -> list[int]:
    """Repetitions of a gesture by each person; waves are counted on the hand each one raises."""
    counts = []
    for p in range(2):
        hand = raised_hand(joints[p]) if gesture == "waves" else None
        counts.append(0 if gesture == "waves" and hand is None else count_gesture(joints[p], gesture, hand))
    return counts


def _actors(starts: list, role: str) -> bool | None:
    """Does the order of two start times (s, or None) say that ``role`` went first ("both": together)?"""
    if any(start is None for start in starts):
        return None
    gap = starts[1] - starts[0]
    if abs(gap) < SAME_TIME:
        return role == "both"
    return role == ("first" if gap > 0 else "second")


def solo_actor(joints: np.ndarray, action: str) -> int | None:
    """Who does a one-person act ("push", "punch", "kick", "point"), or None when nobody clearly does it.

    A push or punch is whoever brings a wrist nearest the partner's chest or head; a kick whoever lifts an
    ankle highest above the other; pointing whoever reaches an arm farthest out.
    """
    if action in ("push", "punch"):
        target, limit = (CHEST, PUSH_REACH) if action == "push" else (HEAD, PUNCH_REACH)
        nearest = [min(closest_reach(joints, p, target).values()) for p in range(2)]
        actor = int(np.argmin(nearest))
        return actor if nearest[actor] < limit else None
    measure, limit = {"kick": (kick_lift, KICK_LIFT), "point": (arm_reach, ARM_EXTENDED)}[action]
    strength = [max(measure(joints[p]).values()) for p in range(2)]
    actor = int(np.argmax(strength))
    return actor if strength[actor] > limit else None


def _check_initiator(claim: Claim, joints: np.ndarray, fps: float) -> bool | None:
    action, role = claim.action, claim.value
    if action in ("handshake", "hug", "high_five", "crouching", "sneak", "chase"):
        movers = tuple(p for p, progress in enumerate(approach_progress(joints)) if progress > APPROACH)
        return None if not movers else movers == PEOPLE[role]
    if action in ("push", "punch", "point", "kick"):
        actor = solo_actor(joints, action)
        return None if actor is None else PEOPLE[role] == (actor,)
    if action == "bow":
        return _actors([bow_halfway_time(joints[p, :, HEAD, 1], fps) for p in range(2)], role)
    if action == "wave":
        return _actors([raise_time(joints[p], fps) for p in range(2)], role)
    if action in GESTURES:
        performers = tuple(p for p, count in enumerate(_gesture_counts(joints, action)) if count > 0)
        return None if not performers else performers == PEOPLE[role]
    raise ValueError(f"no initiator check for action {action!r}")


def _check_count(claim: Claim, joints: np.ndarray, fps: float) -> bool | None:
    counts = _gesture_counts(joints, claim.action)
    return _all_people(None if counts[p] == 0 else counts[p] == claim.value for p in PEOPLE[claim.person])


_CHECKS = {"hand": _check_hand, "leg": _check_leg, "side": _check_side, "rotation": _check_rotation,
           "turn": _check_turn, "initiator": _check_initiator, "count": _check_count}


def validate_joints(joints, name: str = "joints") -> np.ndarray:
    """A finite two-person clip (2, frame >= 2, 22, 3) as float64, or a ValueError saying what is wrong."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 4 or joints.shape[0] != 2 or joints.shape[2:] != (NUM_JOINTS, 3):
        raise ValueError(f"{name}: expected (person=2, frame, {NUM_JOINTS}, 3), got shape {joints.shape}")
    if joints.shape[1] < 2:
        raise ValueError(f"{name}: need at least 2 frames, got {joints.shape[1]}")
    if not np.isfinite(joints).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return joints


def check(claim: Claim, joints, fps: float = 30) -> bool | None:
    """Does the motion say what the claim says? joints: (person=2, frame, 22, 3) Y-up metres at ``fps``.

    True or False, or None when the motion shows nothing to judge the claim by.
    """
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return _CHECKS[claim.kind](claim, validate_joints(joints), float(fps))


# ----------------------------------------------------------------------------------------- the aggregation
def _rates(verdicts: list) -> dict:
    """{claims, decided, true, rate = true / decided (None if nothing decided), coverage = decided / claims}."""
    decided = [v for v in verdicts if v is not None]
    true = sum(bool(v) for v in decided)
    return {"claims": len(verdicts), "decided": len(decided), "true": true,
            "rate": true / len(decided) if decided else None,
            "coverage": len(decided) / len(verdicts) if verdicts else None}


def adherence(texts: Sequence[str], joints_list: Sequence, fps: float = 30) -> dict:
    """Adherence of motions to their captions: texts[i] describes joints_list[i] (2, frame, 22, 3).

    Returns {"all": rates, "by_kind": {kind: rates}, "by_action": {"kind/action": rates}, "results": [...]}
    where rates = {claims, decided, true, rate, coverage} and results lists each checked claim with its
    item index and verdict.
    """
    if len(texts) != len(joints_list):
        raise ValueError(f"adherence: {len(texts)} texts but {len(joints_list)} motions")
    results = []
    for index, (text, joints) in enumerate(zip(texts, joints_list)):
        joints = validate_joints(joints, f"joints_list[{index}]")
        for claim in claims(text):
            results.append({"item": index, **asdict(claim), "verdict": check(claim, joints, fps)})
    by_kind = {kind: _rates([r["verdict"] for r in results if r["kind"] == kind]) for kind in KINDS}
    actions = sorted({(r["kind"], r["action"]) for r in results}, key=lambda ka: (KINDS.index(ka[0]), ka[1]))
    by_action = {f"{kind}/{action}": _rates([r["verdict"] for r in results
                                            if (r["kind"], r["action"]) == (kind, action)])
                 for kind, action in actions}
    return {"all": _rates([r["verdict"] for r in results]), "by_kind": by_kind, "by_action": by_action,
            "results": results}
