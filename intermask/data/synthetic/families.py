"""The interaction families: one function per family draws its parameters and plans both people.

Every family function takes a ``numpy.random.Generator`` and returns a ``Scene``: the family name, the drawn
parameters (everything the captions state: who initiates, which hand, which direction, how many times, how
fast), the two ``Performance`` plans (person 1 = "the first person") and the times of the key events. Scenes
are planned in a local frame (the first actor near the origin, facing +Z) and then turned and shifted at
random. The parameters change the motion, and the captions (``text.py``) are written from them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...motion.skeleton import OTHER_SIDE, ROLES, SIDE_SIGN, SIDES
from .body import (
    ARM_LENGTH,
    FPS,
    HEAD_HEIGHT,
    SHOULDER_HEIGHT,
    Performance,
    Route,
    forward_xz,
    frame_times,
    gait_for_speed,
    heading_towards,
    keyframes,
    left_xz,
    lift,
    plan_footsteps,
    ramp,
    smoothstep,
    travel,
    window,
    wrap_angle,
)

MAX_FRAMES = 300  # 10 s at 30 fps
MIN_FRAMES = 60  # 2 s
SPEEDS = ("slowly", "normally", "quickly")
WALK_SPEED = {"slowly": 0.75, "normally": 1.15, "quickly": 1.6}  # m/s
TEMPO = {"slowly": 1.3, "normally": 1.0, "quickly": 0.75}  # duration multiplier of gestures

# wrist poses, (outward, up, forward) from the shoulder in the chest frame of a unit-scale body
RAISED_HAND = np.array([0.08, 0.38, 0.12])
WAVE_SWING = 0.22  # outward travel of the hand in one wave
GUARD = np.array([-0.1, 0.02, 0.26])
RUNNING_ARM = np.array([0.03, -0.27, 0.17])
REACHING_DOWN = np.array([-0.04, -0.42, 0.3])
ELBOW_DOWN = np.array([0.5, -1.0, -0.25])
ELBOW_OUT = np.array([1.0, -0.4, -0.3])


@dataclass
class Scene:
    """A planned two-person clip before animation."""

    family: str
    params: dict
    people: tuple  # (Performance, Performance): person 1, person 2
    events: dict = field(default_factory=dict)  # name -> time in seconds

    @property
    def num_frames(self) -> int:
        return self.people[0].num_frames


# --------------------------------------------------------------------------------------------------- helpers
def pick(rng, options):
    return options[int(rng.integers(len(options)))]


def draw_scales(rng) -> np.ndarray:
    """Body scales of the two people, uniform in [0.85, 1.15]."""
    return rng.uniform(0.85, 1.15, size=2)


def frames_until(end: float) -> int:
    """Frame count of a clip that ends at ``end`` seconds, at least 2 s long."""
    return int(np.ceil(max(end, MIN_FRAMES / FPS) * FPS)) + 1


def ordered(actor, other, actor_role: str):
    """(person 1, person 2) given the actor and whether the actor is the first or the second person."""
    return (actor, other) if actor_role == "first" else (other, actor)


def add_idle(perf: Performance, rng) -> None:
    """Small, slow weight shifts, breathing and head movement so that nobody stands frozen."""
    t = frame_times(perf.num_frames)
    phase = rng.uniform(0, 2 * np.pi, size=5)
    freq = rng.uniform(0.15, 0.35, size=3)
    amplitude = rng.uniform(0.006, 0.016) * perf.scale
    perf.sway = perf.sway + amplitude * np.stack([np.sin(2 * np.pi * freq[0] * t + phase[0]),
                                                  np.sin(2 * np.pi * freq[1] * t + phase[1])], -1)
    perf.side_lean = perf.side_lean + 0.02 * np.sin(2 * np.pi * freq[0] * t + phase[0])
    perf.lean = perf.lean + 0.012 * np.sin(2 * np.pi * 0.25 * t + phase[2])
    perf.head_yaw = perf.head_yaw + 0.08 * np.sin(2 * np.pi * freq[2] * t + phase[3])
    perf.head_pitch = perf.head_pitch + 0.04 * np.sin(2 * np.pi * 0.5 * freq[2] * t + phase[4])


def look_at(perf: Performance, target_xz, weight=1.0) -> None:
    """Turn the head toward ground points (frame, 2), as far as a neck allows.

    A point that goes round behind the body is let go of smoothly, so the head never snaps from one shoulder
    to the other.
    """
    wanted = wrap_angle(heading_towards(perf.path, target_xz) - perf.heading)
    behind = smoothstep((np.pi - np.abs(wanted)) / 1.2)
    perf.head_yaw = perf.head_yaw + np.clip(wanted, -1.2, 1.2) * behind * weight


WALK_EASE = 0.5  # seconds to speed up from standing and to slow down again


def arrival_time(distance: float, start_time: float, speed: float, ease: float = WALK_EASE) -> float:
    """When a walk of ``distance`` at cruise ``speed`` that starts at ``start_time`` comes to rest."""
    return start_time + distance / speed + ease


def walk_between(t, start, end, start_time: float, speed: float, ease: float = WALK_EASE):
    """Straight walk path (frame, 2) from ``start`` to ``end`` (x, z) beginning at ``start_time``."""
    start, end = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    arrival = arrival_time(float(np.linalg.norm(end - start)), start_time, speed, ease)
    return start + (end - start) * travel(t, start_time, arrival, ease)[:, None]


def place_at_random(scene: Scene, rng) -> Scene:
    yaw = rng.uniform(-np.pi, np.pi)
    offset = rng.uniform(-1.5, 1.5, size=2)
    return Scene(scene.family, scene.params, tuple(p.placed(yaw, offset) for p in scene.people), scene.events)


def shoulder_point(perf: Performance, side: str, time_or_frames, scale: float | None = None):
    """Approximate world position of a standing body's shoulder, from its plan (frame, 3) or at one time."""
    scale = perf.scale if scale is None else scale
    if np.isscalar(time_or_frames):
        index = min(int(round(time_or_frames * FPS)), perf.num_frames - 1)
        path, heading = perf.path[index], perf.heading[index]
    else:
        path, heading = perf.path, perf.heading
    side_offset = SIDE_SIGN[side] * 0.19 * scale * left_xz(heading)
    return lift(path + side_offset, SHOULDER_HEIGHT * scale)


def meeting_height(scales, forwards, laterals, preferred: float) -> float:
    """A height near ``preferred`` where two standing people's hands can meet.

    Person i reaches ``forwards[i]`` ahead of and ``laterals[i]`` beside its shoulder; the result lies in the
    band of heights both can reach with a slightly bent arm (the middle of the gap if there is no such band).
    """
    lows, highs = [], []
    for scale, forward, lateral in zip(scales, forwards, laterals):
        arm = 0.95 * ARM_LENGTH * scale
        vertical = float(np.sqrt(max(arm ** 2 - forward ** 2 - lateral ** 2, 0.0)))
        lows.append(SHOULDER_HEIGHT * scale - vertical)
        highs.append(SHOULDER_HEIGHT * scale + vertical)
    low, high = max(lows), min(highs)
    return 0.5 * (low + high) if low > high else float(np.clip(preferred, low, high))


def approach_pair(t, walkers, start_gap: float, end_gap: float, start_time: float, speed: float):
    """Paths of two people facing each other along +Z; those in ``walkers`` (indices) walk to ``end_gap``.

    Both walkers start at ``start_time`` and share the distance, so they arrive together.
    """
    share = (start_gap - end_gap) / len(walkers)
    starts = [np.array([0.0, 0.0]), np.array([0.0, start_gap])]
    ends = [starts[0] + [0.0, share if 0 in walkers else 0.0], starts[1] - [0.0, share if 1 in walkers else 0.0]]
    return [walk_between(t, starts[i], ends[i], start_time, speed) for i in range(2)]


WALKERS = {"first": (0,), "second": (1,), "both": (0, 1)}


def facing_walkers(t, scales, walkers, start_gap, end_gap, start_time, speed) -> list:
    """Performances of two people facing each other along +Z, the ``walkers`` approaching to ``end_gap``."""
    paths = approach_pair(t, walkers, start_gap, end_gap, start_time, speed)
    return [Performance(scale=scales[i], path=paths[i], heading=np.full(len(t), np.pi * i),
                        gait=gait_for_speed(speed)) for i in range(2)]


def facing_pair(num_frames: int, gap: float, scales) -> tuple:
    """Two standing people facing each other ``gap`` metres apart along +Z."""
    return (Performance.standing(num_frames, (0.0, 0.0), 0.0, scales[0]),
            Performance.standing(num_frames, (0.0, gap), np.pi, scales[1]))


# -------------------------------------------------------------------------------------------------- families
def handshake(rng) -> Scene:
    """Walk up (one or both) and shake the stated hands."""
    initiator, hand, speed = pick(rng, ROLES + ("both",)), pick(rng, SIDES), pick(rng, SPEEDS)
    scales = draw_scales(rng)
    mean_scale, speed_ms, tempo = scales.mean(), WALK_SPEED[speed], TEMPO[speed]
    gap = rng.uniform(0.6, 0.68) * mean_scale
    start_gap = rng.uniform(1.8, 3.0) if initiator != "both" else rng.uniform(2.4, 3.8)
    walkers = WALKERS[initiator]
    start = rng.uniform(0.2, 0.6)
    shakes = int(rng.integers(2, 4))
    shake_rate = 2.2 / tempo
    arrival = arrival_time((start_gap - gap) / len(walkers), start, speed_ms)
    grip = arrival + 0.3 * tempo
    release = grip + shakes / shake_rate + 0.15
    lowered = release + 0.5 * tempo
    end = lowered + rng.uniform(0.3, 0.8)
    t = frame_times(frames_until(end))
    people = facing_walkers(t, scales, walkers, start_gap, gap, start, speed_ms)
    # the hands meet on the line between them, nearer the smaller person, at a height both reach
    share = scales[0] / scales.sum()
    meeting_xz = people[0].path[-1] + share * (people[1].path[-1] - people[0].path[-1])
    height = meeting_height(scales, (gap * share - 0.03 * scales[0], gap * (1 - share) - 0.03 * scales[1]),
                            0.19 * scales, preferred=1.0 * mean_scale)
    shaking = np.sin(2 * np.pi * shake_rate * (t - grip)) * window(t, grip, grip + 0.1, release - 0.1, release)
    meeting = lift(np.broadcast_to(meeting_xz, (len(t), 2)), height + 0.035 * shaking)
    holding = window(t, arrival - 0.45 * tempo, grip, release, lowered)
    for perf, partner in zip(people, people[::-1]):
        add_idle(perf, rng)
        perf.arms[hand].reach.add(meeting, holding)
        perf.arms[hand].pole.add(ELBOW_DOWN, holding)
        perf.lean += 0.08 * holding
        look_at(perf, partner.path)
    return Scene("handshake", {"initiator": initiator, "hand": hand, "speed": speed}, tuple(people),
                 {"shake": 0.5 * (grip + release)})


def hug(rng) -> Scene:
    """Walk up (one or both), open the arms, hug with a gentle sway (optionally patting the back), let go."""
    initiator, speed, pats = pick(rng, ROLES + ("both",)), pick(rng, SPEEDS), pick(rng, ("yes", "no"))
    scales = draw_scales(rng)
    mean_scale, speed_ms, tempo = scales.mean(), WALK_SPEED[speed], TEMPO[speed]
    gap = rng.uniform(0.36, 0.4) * mean_scale
    start_gap = rng.uniform(1.6, 2.6) + (0.5 if initiator == "both" else 0.0)
    walkers = WALKERS[initiator]
    start = rng.uniform(0.2, 0.6)
    hold = rng.uniform(1.2, 2.0) * tempo
    arrival = arrival_time((start_gap - gap) / len(walkers), start, speed_ms)
    closed = arrival + 0.35 * tempo
    release = closed + hold
    end = release + 0.6 * tempo + rng.uniform(0.3, 0.7)
    t = frame_times(frames_until(end))
    people = facing_walkers(t, scales, walkers, start_gap, gap, start, speed_ms)
    high = int(np.argmax(scales))  # the taller one's arms go over the shoulders, the other's round the waist
    patter = {"first": 0, "second": 1, "both": int(rng.integers(2))}[initiator]
    wrap = window(t, arrival - 0.3 * tempo, closed, release, release + 0.6 * tempo)
    opening = window(t, arrival - 0.9 * tempo, arrival - 0.3 * tempo, arrival - 0.2 * tempo, closed)
    sway = np.sin(2 * np.pi * 0.45 * (t - closed)) * wrap
    pat_rate = 2.0
    pat_count = int(rng.integers(2, 4))
    pat_start = closed + 0.3
    patting = (0.5 - 0.5 * np.cos(2 * np.pi * pat_rate * (t - pat_start))) * \
        ((t >= pat_start) & (t <= pat_start + pat_count / pat_rate))
    for index, (perf, partner) in enumerate(zip(people, people[::-1])):
        add_idle(perf, rng)
        partner_xz = partner.path[-1]
        partner_facing = forward_xz(partner.heading[-1])
        # over the shoulders or around the waist, at heights the hugger reaches without bending down
        height = (np.clip(1.3 * perf.scale, 1.1 * partner.scale, 1.38 * partner.scale) if index == high
                  else np.clip(1.2 * perf.scale, 1.0 * partner.scale, 1.25 * partner.scale))
        for side in SIDES:
            back = partner_xz - 0.07 * partner.scale * partner_facing
            target_xz = back + SIDE_SIGN[side] * 0.1 * partner.scale * left_xz(perf.heading[-1])
            target = lift(np.broadcast_to(target_xz, (len(t), 2)), height)
            if pats == "yes" and index == patter and side == "right":
                target = target - lift(partner_facing[None] * 0.07 * patting[:, None], 0.0)
            perf.arms[side].reach.add(target, wrap)
            perf.arms[side].pose.add(np.array([0.35, -0.05, 0.3]), opening)
            perf.arms[side].pole.add(ELBOW_OUT, np.maximum(wrap, opening))
        perf.lean += 0.1 * wrap
        perf.side_lean += 0.06 * sway * (1 if index == 0 else -1)
        perf.head_yaw += 0.45 * wrap  # heads go past each other's left
        look_at(perf, partner.path, 1.0 - wrap)
    params = {"initiator": initiator, "speed": speed, "pats": pats}
    if pats == "yes":
        params["patter"] = ROLES[patter]
    return Scene("hug", params, tuple(people), {"hug": 0.5 * (closed + release)})


def high_five(rng) -> Scene:
    """Walk up (one or both), raise the stated hand (or both) and slap hands high."""
    initiator, hand, speed = pick(rng, ROLES + ("both",)), pick(rng, SIDES + ("both",)), pick(rng, SPEEDS)
    scales = draw_scales(rng)
    mean_scale, speed_ms, tempo = scales.mean(), WALK_SPEED[speed], TEMPO[speed]
    gap = rng.uniform(0.66, 0.74) * mean_scale
    start_gap = rng.uniform(1.8, 3.0) + (0.5 if initiator == "both" else 0.0)
    walkers = WALKERS[initiator]
    start = rng.uniform(0.2, 0.6)
    arrival = arrival_time((start_gap - gap) / len(walkers), start, speed_ms)
    hit = arrival + rng.uniform(0.2, 0.4) * tempo
    end = hit + 0.9 * tempo + rng.uniform(0.3, 0.8)
    t = frame_times(frames_until(end))
    people = facing_walkers(t, scales, walkers, start_gap, gap, start, speed_ms)
    # the hands meet where both can reach: nearer the smaller person, no higher than the smaller can stretch
    share = scales[0] / scales.sum()
    mid = people[0].path[-1] + share * (people[1].path[-1] - people[0].path[-1])
    lateral_to_shoulder = 0.19 if hand != "both" else 0.0
    height = meeting_height(scales, (gap * share - 0.03 * scales[0], gap * (1 - share) - 0.03 * scales[1]),
                            lateral_to_shoulder * scales, preferred=1.75 * mean_scale)
    first_left = left_xz(0.0)
    # (person 1's hand, person 2's hand, lateral offset of the meeting point along person 1's left)
    pairs = [(hand, hand, 0.0)] if hand != "both" else [("left", "right", 0.19), ("right", "left", -0.19)]
    raised = window(t, arrival - 0.6 * tempo, arrival - 0.1 * tempo, hit + 0.3, hit + 0.9 * tempo)
    slap = window(t, hit - 0.22 * tempo, hit, hit + 0.06, hit + 0.35 * tempo)
    for own_1, own_2, lateral in pairs:
        point = lift(np.broadcast_to(mid + lateral * mean_scale * first_left, (len(t), 2)), height)
        for perf, own in zip(people, (own_1, own_2)):
            perf.arms[own].pose.add(np.array([0.08, 0.32, 0.2]), raised)
            perf.arms[own].reach.add(point, slap)
            perf.arms[own].pole.add(ELBOW_DOWN, raised)
    for perf, partner in zip(people, people[::-1]):
        add_idle(perf, rng)
        perf.lean += 0.06 * slap
        look_at(perf, partner.path)
    return Scene("high_five", {"initiator": initiator, "hand": hand, "speed": speed}, tuple(people),
                 {"hit": hit})


def bow(rng) -> Scene:
    """Both bow to each other, together or one after the other, slightly or deeply."""
    order, depth, speed = pick(rng, ("together",) + ROLES), pick(rng, ("slightly", "deeply")), pick(rng, SPEEDS)
    scales = draw_scales(rng)
    tempo = TEMPO[speed]
    gap = rng.uniform(1.2, 2.2)
    amount = rng.uniform(0.4, 0.55) if depth == "slightly" else rng.uniform(0.95, 1.15)
    down, hold, up = 0.7 * tempo, rng.uniform(0.3, 0.7) * tempo, 0.8 * tempo
    start = rng.uniform(0.4, 0.9)
    follow = down + 0.5 * hold + 0.3 * tempo
    starts = {"together": (start, start + rng.uniform(0.0, 0.15)), "first": (start, start + follow),
              "second": (start + follow, start)}[order]
    end = max(starts) + down + hold + up + rng.uniform(0.4, 0.9)
    t = frame_times(frames_until(end))
    people = facing_pair(len(t), gap, scales)
    for perf, partner, begin in zip(people, people[::-1], starts):
        add_idle(perf, rng)
        bending = window(t, begin, begin + down, begin + down + hold, begin + down + hold + up)
        perf.lean += amount * bending
        perf.head_pitch += 0.8 * amount * bending
        for side in SIDES:
            perf.arms[side].pose.add(np.array([-0.01, -0.46, 0.1]), bending)
        look_at(perf, partner.path, 1.0 - bending)
    return Scene("bow", {"order": order, "depth": depth, "speed": speed}, people,
                 {"bow_first": starts[0] + down + 0.5 * hold, "bow_second": starts[1] + down + 0.5 * hold})


def wave(rng) -> Scene:
    """Standing apart, both wave at each other with the stated hands, together or one answering the other."""
    order, speed = pick(rng, ("together",) + ROLES), pick(rng, SPEEDS)
    hands = (pick(rng, SIDES), pick(rng, SIDES))
    scales = draw_scales(rng)
    tempo = TEMPO[speed]
    gap = rng.uniform(2.0, 3.2)
    rate = 1.7 / tempo
    duration = rng.uniform(1.2, 2.0) * tempo
    start = rng.uniform(0.3, 0.8)
    follow = 0.8 * tempo
    starts = {"together": (start, start + rng.uniform(0.0, 0.2)), "first": (start, start + follow),
              "second": (start + follow, start)}[order]
    end = max(starts) + duration + 0.9 * tempo + rng.uniform(0.3, 0.8)
    t = frame_times(frames_until(end))
    people = facing_pair(len(t), gap, scales)
    for perf, partner, begin, hand in zip(people, people[::-1], starts, hands):
        add_idle(perf, rng)
        waving = window(t, begin, begin + 0.45 * tempo, begin + 0.45 * tempo + duration,
                        begin + 0.9 * tempo + duration)
        pose = np.tile(RAISED_HAND, (len(t), 1))
        pose[:, 0] += WAVE_SWING * (0.5 - 0.5 * np.cos(2 * np.pi * rate * (t - begin)))
        perf.arms[hand].pose.add(pose, waving)
        perf.arms[hand].pole.add(ELBOW_DOWN, waving)
        perf.side_lean -= SIDE_SIGN[hand] * 0.04 * waving
        look_at(perf, partner.path)
    mids = [begin + 0.45 * tempo + 0.5 * duration for begin in starts]
    return Scene("wave", {"order": order, "hand1": hands[0], "hand2": hands[1], "speed": speed}, people,
                 {"wave_first": mids[0], "wave_second": mids[1]})


def push(rng) -> Scene:
    """One walks up and pushes the other (both hands or the stated one); the other staggers back."""
    pusher, hands, force = pick(rng, ROLES), pick(rng, ("both",) + SIDES), pick(rng, ("gently", "hard"))
    scales = draw_scales(rng)
    if pusher == "second":
        scales = scales[::-1]
    actor_scale, victim_scale = scales
    mean_scale = scales.mean()
    start_gap = rng.uniform(1.4, 2.2)
    start = rng.uniform(0.2, 0.5)
    back = rng.uniform(0.3, 0.45) if force == "gently" else rng.uniform(0.8, 1.3)
    stagger = 0.8 if force == "gently" else 1.1
    walk_end = start_gap - 0.72 * mean_scale
    contact = arrival_time(walk_end, start, 1.0) + 0.35
    end = contact + max(stagger, 0.7) + rng.uniform(0.5, 1.0)
    t = frame_times(frames_until(end))
    frames = len(t)
    approach_path = walk_between(t, (0.0, 0.0), (0.0, walk_end), start, 1.0)
    lunge = 0.2 * mean_scale * travel(t, contact - 0.4, contact + 0.05, 0.15)
    actor = Performance(scale=actor_scale, path=approach_path + lunge[:, None] * [0.0, 1.0],
                        heading=np.zeros(frames), gait=gait_for_speed(1.0))
    moved = back * travel(t, contact - 0.03, contact - 0.03 + stagger, 0.12, 0.6 * stagger)
    victim = Performance(scale=victim_scale, path=np.stack([np.zeros(frames), start_gap + moved], -1),
                         heading=np.full(frames, np.pi), gait=gait_for_speed(1.2, step_length=0.45))
    recoil = window(t, contact, contact + 0.15, contact + 0.3, contact + stagger)
    victim.lean -= (0.12 if force == "gently" else 0.3) * recoil
    if force == "hard":
        flail = window(t, contact, contact + 0.2, contact + 0.5, contact + 1.1)
        for side in SIDES:
            victim.arms[side].pose.add(np.array([0.3, -0.05, 0.25]), flail)
    pushing = window(t, contact - 0.3, contact, contact + 0.12, contact + 0.45)
    chest_xz = victim.path + 0.12 * victim_scale * forward_xz(victim.heading)
    used = SIDES if hands == "both" else (hands,)
    for side in used:
        lateral = SIDE_SIGN[side] * (0.12 if hands == "both" else 0.05) * victim_scale * left_xz(actor.heading)
        actor.arms[side].reach.add(lift(chest_xz + lateral, 1.2 * victim_scale), pushing)
        actor.arms[side].pole.add(ELBOW_DOWN, pushing)
    actor.lean += 0.18 * window(t, contact - 0.4, contact, contact + 0.2, contact + 0.7)
    for perf, partner in ((actor, victim), (victim, actor)):
        add_idle(perf, rng)
        look_at(perf, partner.path)
    people = ordered(actor, victim, pusher)
    return Scene("push", {"pusher": pusher, "hands": hands, "force": force}, people,
                 {"contact": contact, "stagger_end": contact + stagger})


def strike(rng) -> Scene:
    """One punches or kicks with the stated limb; the other blocks or evades."""
    attacker, attack, side = pick(rng, ROLES), pick(rng, ("punch", "kick")), pick(rng, SIDES)
    defense = pick(rng, ("blocks", "dodges", "ducks") if attack == "punch" else ("blocks", "dodges"))
    scales = draw_scales(rng)
    if attacker == "second":
        scales = scales[::-1]
    actor_scale, defender_scale = scales
    mean_scale = scales.mean()
    # a blocked kick goes to the midsection and lands on the forearms; a dodged one aims low, out of reach once the
    # defender steps back
    gap = (rng.uniform(0.85, 0.98) if attack == "punch" else
           rng.uniform(0.98, 1.05) if defense == "blocks" else rng.uniform(1.15, 1.3)) * mean_scale
    strike_time = rng.uniform(0.9, 1.4)
    end = strike_time + rng.uniform(1.2, 1.8)
    t = frame_times(frames_until(end))
    frames = len(t)
    actor = Performance.standing(frames, (0.0, 0.0), 0.0, actor_scale, gait=gait_for_speed(1.0, step_length=0.3))
    defender = Performance.standing(frames, (0.0, gap), np.pi, defender_scale,
                                    gait=gait_for_speed(1.0, step_length=0.3))
    sign = SIDE_SIGN[side]
    guard = window(t, 0.1, 0.5, end - 0.6, end)
    for arm_side in SIDES:
        actor.arms[arm_side].pose.add(GUARD, guard)
        actor.arms[arm_side].pole.add(ELBOW_DOWN, guard)
    if attack == "punch":
        step = 0.15 * mean_scale * travel(t, strike_time - 0.35, strike_time - 0.05, 0.12)
        actor.path = actor.path + step[:, None] * [0.0, 1.0]
        head = lift(np.broadcast_to(defender.path[0], (frames, 2)), HEAD_HEIGHT * defender_scale - 0.05)
        stop_short = 0.28 if defense == "blocks" else 0.1
        head[:, 2] -= stop_short * defender_scale
        extension = window(t, strike_time - 0.25, strike_time, strike_time + 0.08, strike_time + 0.45)
        actor.arms[side].reach.add(head, extension)
        # the punching shoulder drives forward: a right punch turns the chest to the left
        actor.twist -= sign * 0.35 * window(t, strike_time - 0.25, strike_time, strike_time + 0.05,
                                            strike_time + 0.45)
        actor.lean += 0.12 * extension
    else:
        steps = plan_footsteps(actor.path, actor.heading, actor_scale, actor.gait)
        planted = steps.ankles[SIDES.index(side), 0]
        facing = np.array([0.0, 1.0])
        foot_xz = planted[[0, 2]]
        chamber = lift(foot_xz + 0.25 * actor_scale * facing, 0.45 * actor_scale)
        kick_height = 0.95 if defense == "blocks" else 0.62
        extended = lift(np.array([foot_xz[0] * 0.4, foot_xz[1]]) + 0.72 * actor_scale * facing,
                        kick_height * actor_scale)
        times = strike_time + np.array([-0.45, -0.15, 0.0, 0.25, 0.6])
        target = keyframes(t, times, np.stack([planted, chamber, extended, chamber, planted]))
        kicking = window(t, times[0] - 0.05, times[0], times[-1], times[-1] + 0.05)
        actor.feet[side].add(target, kicking)
        actor.lean -= 0.2 * window(t, times[0], times[1], times[3], times[4])
    defend = window(t, strike_time - 0.35, strike_time - 0.08, strike_time + 0.3, strike_time + 0.8)
    if defense == "blocks":
        pose = np.array([-0.12, 0.1, 0.28]) if attack == "punch" else np.array([-0.14, -0.45, 0.33])
        for arm_side in SIDES:
            defender.arms[arm_side].pose.add(pose, defend)
            defender.arms[arm_side].pole.add(ELBOW_DOWN, defend)
        defender.lean += 0.12 * defend
        defender.head_pitch += 0.2 * defend
    elif defense == "ducks":
        defender.crouch += 0.5 * defend
        defender.lean += 0.35 * defend
    elif attack == "punch":  # dodges a punch by swaying the upper body aside
        dodge_side = pick(rng, (-1.0, 1.0))
        defender.side_lean += dodge_side * 0.35 * defend
        defender.sway += (dodge_side * 0.08 * defender_scale * defend)[:, None] * left_xz(defender.heading)
        defender.twist += dodge_side * 0.2 * defend
    else:  # dodges a kick by stepping back
        retreat = 0.45 * defender_scale * travel(t, strike_time - 0.4, strike_time + 0.15, 0.15)
        defender.path = defender.path + retreat[:, None] * [0.0, 1.0]
        defender.lean -= 0.12 * defend
    for perf, partner in ((actor, defender), (defender, actor)):
        add_idle(perf, rng)
        look_at(perf, partner.path)
    people = ordered(actor, defender, attacker)
    return Scene("strike", {"attacker": attacker, "attack": attack, "side": side, "defense": defense}, people,
                 {"strike": strike_time})


def chase(rng) -> Scene:
    """One runs away along a straight or curving route and the other chases, catching up or not."""
    chaser, pace = pick(rng, ROLES), pick(rng, ("jogs", "runs"))
    turn, outcome = pick(rng, ("straight",) + SIDES), pick(rng, ("escapes", "caught"))
    scales = draw_scales(rng)
    if chaser == "second":
        scales = scales[::-1]
    chaser_scale, runner_scale = scales
    # a capture stage's length, as in InterHuman: a few metres of running, not a street's
    speed = rng.uniform(2.0, 2.4) if pace == "jogs" else rng.uniform(2.9, 3.4)
    run_time = rng.uniform(1.2, 1.8)
    start_gap = rng.uniform(1.4, 2.0)
    start, delay, ease_in, ease_out = rng.uniform(0.2, 0.5), rng.uniform(0.2, 0.4), 0.7, 0.9
    stop = start + run_time + 0.5 * (ease_in + ease_out)
    runner_distance = speed * run_time
    final_gap = 0.42 * scales.mean() if outcome == "caught" else start_gap + rng.uniform(1.0, 2.0)
    chaser_distance = runner_distance + start_gap - final_gap
    end = stop + (rng.uniform(0.6, 1.0) if outcome == "caught" else rng.uniform(0.3, 0.6))
    t = frame_times(frames_until(end))
    total = start_gap + runner_distance + 1.0
    if turn == "straight":
        route = Route((0.0, 0.0), 0.0, [("line", total)])
    else:  # the runner takes the whole bend while running
        before = start_gap + rng.uniform(0.5, 0.25 * runner_distance)
        angle = rng.uniform(0.8, 1.6) * SIDE_SIGN[turn]
        radius = min(rng.uniform(2.5, 4.0), 0.5 * runner_distance / abs(angle))
        route = Route((0.0, 0.0), 0.0, [("line", before), ("arc", radius, angle), ("line", total)])
    runner_path, runner_heading = route.at(start_gap + runner_distance * travel(t, start, stop, ease_in, ease_out))
    chaser_path, chaser_heading = route.at(chaser_distance * travel(t, start + delay, stop, ease_in, ease_out))
    gait = gait_for_speed(speed)
    runner = Performance(scale=runner_scale, path=runner_path, heading=runner_heading, gait=gait, arm_swing=0.9)
    pursuer = Performance(scale=chaser_scale, path=chaser_path, heading=chaser_heading, gait=gait, arm_swing=0.9)
    for perf, begin in ((runner, start), (pursuer, start + delay)):
        running = window(t, begin, begin + ease_in, stop - ease_out, stop)
        perf.lean += (0.22 if pace == "runs" else 0.14) * running
        for side in SIDES:
            perf.arms[side].pose.add(RUNNING_ARM, running)
        add_idle(perf, rng)
    glance = rng.uniform(start + 0.8, max(start + 0.9, stop - 1.5))
    runner.head_yaw += pick(rng, (-1.0, 1.0)) * 1.1 * window(t, glance, glance + 0.3, glance + 0.5, glance + 0.8)
    look_at(pursuer, runner.path, 0.5)
    if outcome == "caught":
        grab_side = pick(rng, SIDES)
        grab = window(t, stop - 0.6, stop - 0.1, end + 1.0, end + 2.0)
        pursuer.arms[grab_side].reach.add(shoulder_point(runner, grab_side, t), grab)
        runner.head_yaw += 0.9 * ramp(t, stop - 0.2, stop + 0.3)
    people = ordered(pursuer, runner, chaser)
    return Scene("chase", {"chaser": chaser, "pace": pace, "turn": turn, "outcome": outcome}, people,
                 {"run_start": start + delay + ease_in, "run_end": stop - ease_out})


def circle(rng) -> Scene:
    """Facing each other, the two side-step around their midpoint, clockwise or counterclockwise from above."""
    direction, amount = pick(rng, ("clockwise", "counterclockwise")), pick(rng, ("half", "full"))
    speed, holding = pick(rng, SPEEDS), pick(rng, ("yes", "no"))
    scales = draw_scales(rng)
    mean_scale = scales.mean()
    radius = 0.4 * mean_scale if holding == "yes" else rng.uniform(0.55, 0.8) * mean_scale
    angular_speed = {"slowly": 0.9, "normally": 1.3, "quickly": 1.8}[speed]
    # counterclockwise seen from above is a positive turn about +Y
    angle = (np.pi if amount == "half" else 2 * np.pi) * (1.0 if direction == "counterclockwise" else -1.0)
    start = rng.uniform(0.3, 0.7)
    stop = start + abs(angle) / angular_speed + 0.8
    end = stop + rng.uniform(0.3, 0.8)
    t = frame_times(frames_until(end))
    phi = rng.uniform(-np.pi, np.pi) + angle * travel(t, start, stop, 0.8)
    spoke = radius * forward_xz(phi)
    gait = gait_for_speed(0.8, step_length=0.3, turn_radius=0.15)
    people = (Performance(scale=scales[0], path=-spoke, heading=phi, gait=gait),
              Performance(scale=scales[1], path=spoke, heading=phi + np.pi, gait=gait))
    if holding == "yes":
        for lateral, own_1, own_2 in ((0.19, "left", "right"), (-0.19, "right", "left")):
            point = lift(lateral * mean_scale * left_xz(phi), 1.05 * mean_scale)
            for perf, own in zip(people, (own_1, own_2)):
                perf.arms[own].reach.add(point, 1.0)
                perf.arms[own].pole.add(ELBOW_DOWN, 1.0)
    for perf in people:
        add_idle(perf, rng)
    return Scene("circle", {"direction": direction, "amount": amount, "speed": speed, "holding": holding},
                 people, {"circle_start": start, "circle_end": stop})


def side_by_side(rng) -> Scene:
    """The two walk next to each other, straight or turning, the first person on the stated side."""
    first_side, turn = pick(rng, SIDES), pick(rng, ("straight",) + SIDES)
    speed, holding = pick(rng, SPEEDS), pick(rng, ("yes", "no"))
    scales = draw_scales(rng)
    mean_scale, speed_ms = scales.mean(), WALK_SPEED[speed]
    half_gap = (rng.uniform(0.3, 0.35) if holding == "yes" else rng.uniform(0.34, 0.46)) * mean_scale
    walk_time = rng.uniform(2.2, 3.5)
    start, ease = rng.uniform(0.3, 0.7), 0.6
    stop = start + walk_time + ease
    end = stop + rng.uniform(0.3, 0.8)
    t = frame_times(frames_until(end))
    distance = speed_ms * walk_time
    if turn == "straight":
        route = Route((0.0, 0.0), 0.0, [("line", distance + 1.0)])
    else:
        before = rng.uniform(0.3, max(0.4, 0.2 * distance))
        angle = rng.uniform(0.8, 1.4) * SIDE_SIGN[turn]
        # the whole bend within the walk, which a capture stage keeps to a few metres
        radius = min(rng.uniform(1.8, 3.0), 0.7 * (distance - before) / abs(angle))
        route = Route((0.0, 0.0), 0.0, [("line", before), ("arc", radius, angle), ("line", distance + 1.0)])
    centre, heading = route.at(distance * travel(t, start, stop, ease))
    lateral = half_gap * SIDE_SIGN[first_side]  # person 1 along the shared left axis
    gait = gait_for_speed(speed_ms)
    people = (Performance(scale=scales[0], path=centre + lateral * left_xz(heading), heading=heading, gait=gait),
              Performance(scale=scales[1], path=centre - lateral * left_xz(heading), heading=heading, gait=gait))
    if holding == "yes":
        inner = (OTHER_SIDE[first_side], first_side)  # person 1's inner hand, person 2's inner hand
        point = lift(centre + 0.08 * mean_scale * forward_xz(heading), 0.88 * mean_scale)
        for perf, own in zip(people, inner):
            perf.arms[own].reach.add(point, 1.0)
            perf.arm_swing = 0.25
    for perf, partner in zip(people, people[::-1]):
        add_idle(perf, rng)
        chat = rng.uniform(start, stop)
        look_at(perf, partner.path, 0.7 * window(t, chat - 0.4, chat, chat + 0.6, chat + 1.0))
    return Scene("side_by_side", {"first_side": first_side, "turn": turn, "speed": speed, "holding": holding},
                 people, {"walk_middle": 0.5 * (start + stop), "walk_start": start, "walk_end": stop})


def pass_by(rng) -> Scene:
    """Walking toward each other slightly offset, they pass with the other on the stated side."""
    side, speed, glance = pick(rng, SIDES), pick(rng, SPEEDS), pick(rng, ("yes", "no"))
    scales = draw_scales(rng)
    speed_ms = WALK_SPEED[speed]
    walk_time = rng.uniform(2.6, 3.8) if speed != "slowly" else rng.uniform(3.0, 4.2)
    distance = speed_ms * walk_time
    start_gap = distance * rng.uniform(0.85, 1.15)
    offset = rng.uniform(0.6, 0.85)
    start = rng.uniform(0.2, 0.5)
    # passing with the other on one's left: person 1 (facing +Z) has person 2 toward +X
    x1 = -SIDE_SIGN[side] * 0.5 * offset
    end = arrival_time(distance, start, speed_ms) + rng.uniform(0.3, 0.7)
    t = frame_times(frames_until(end))
    frames = len(t)
    path1 = walk_between(t, (x1, 0.0), (x1, distance), start, speed_ms)
    path2 = walk_between(t, (-x1, start_gap), (-x1, start_gap - distance), start, speed_ms)
    gait = gait_for_speed(speed_ms)
    people = (Performance(scale=scales[0], path=path1, heading=np.zeros(frames), gait=gait),
              Performance(scale=scales[1], path=path2, heading=np.full(frames, np.pi), gait=gait))
    apart = np.linalg.norm(people[0].path - people[1].path, axis=-1)
    for perf, partner in zip(people, people[::-1]):
        add_idle(perf, rng)
        if glance == "yes":
            look_at(perf, partner.path, smoothstep((3.0 - apart) / 1.5))
    return Scene("pass_by", {"side": side, "speed": speed, "glance": glance}, people,
                 {"pass": float(t[np.argmin(apart)])})


def dance(rng) -> Scene:
    """Facing each other, both dance to the same beat, mirroring each other or doing the same moves."""
    mode, move, tempo = pick(rng, ("mirror", "same")), pick(rng, ("steps", "arms", "twists")), pick(
        rng, ("slowly", "quickly"))
    scales = draw_scales(rng)
    gap = rng.uniform(1.3, 1.8)
    beat = rng.uniform(0.85, 1.05) if tempo == "slowly" else rng.uniform(0.58, 0.68)
    beats = int(rng.integers(4, 9))
    start = rng.uniform(0.4, 0.8)
    stop = start + beats * beat
    end = stop + rng.uniform(0.5, 1.0)
    t = frame_times(frames_until(end))
    people = facing_pair(len(t), gap, scales)
    envelope = window(t, start - 0.3, start + 0.25, stop - 0.25, stop + 0.3)
    beat_wave = np.sin(np.pi * (t - start) / beat) * envelope
    bounce = (0.5 - 0.5 * np.cos(2 * np.pi * (t - start) / beat)) * envelope
    first_sign = pick(rng, (-1.0, 1.0))  # +1: the first beat goes to the dancer's own left
    signs = (first_sign, first_sign if mode == "same" else -first_sign)
    for perf, partner, sign in zip(people, people[::-1], signs):
        add_idle(perf, rng)
        if move == "steps":
            perf.path = perf.path + (0.22 * perf.scale * sign * beat_wave)[:, None] * left_xz(perf.heading)
            perf.gait = gait_for_speed(0.8, step_length=0.18, swing_fraction=0.3)
            perf.side_lean += 0.08 * sign * beat_wave
            for side in SIDES:
                perf.arms[side].pose.add(np.array([0.25, 0.3, 0.2]), envelope)
        elif move == "arms":
            for side in SIDES:
                up = np.maximum(SIDE_SIGN[side] * sign * beat_wave, 0.0) ** 2  # smooth through the zero crossings
                perf.arms[side].pose.add(np.array([0.15, 0.42, 0.05]), up)
                perf.arms[side].pole.add(ELBOW_DOWN, up)
            perf.crouch += 0.1 * bounce
            perf.side_lean -= 0.06 * sign * beat_wave
        else:
            perf.twist += 0.45 * sign * beat_wave
            for side in SIDES:
                perf.arms[side].pose.add(np.array([0.28, -0.18, 0.16]), envelope)
                perf.arms[side].pole.add(ELBOW_OUT, envelope)
            perf.crouch += 0.1 * bounce
        look_at(perf, partner.path)
    return Scene("dance", {"mode": mode, "move": move, "tempo": tempo}, people,
                 {"dance_start": start, "dance_end": stop})


def sneak(rng) -> Scene:
    """One creeps up behind the other and taps the stated shoulder or startles them; the other turns round."""
    sneaker, ending, shoulder = pick(rng, ROLES), pick(rng, ("taps", "startles")), pick(rng, SIDES)
    scales = draw_scales(rng)
    if sneaker == "second":
        scales = scales[::-1]
    actor_scale, target_scale = scales
    start_distance = rng.uniform(2.0, 3.2)
    speed = rng.uniform(0.5, 0.65)
    start = rng.uniform(0.2, 0.5)
    # close enough for the hand to reach the other's shoulder from behind (closer when the other is taller)
    climb = max(0.0, SHOULDER_HEIGHT * (target_scale - actor_scale))
    reach = np.sqrt(max((0.9 * ARM_LENGTH * actor_scale) ** 2 - climb ** 2, 0.0))
    stop_distance = float(np.clip(reach + 0.04, 0.36, 0.5 * scales.mean()))
    arrival = arrival_time(start_distance - stop_distance, start, speed, ease=0.7)
    moment = arrival + 0.6
    turn_start = moment + 0.35
    end = turn_start + 1.3 + rng.uniform(0.3, 0.6)
    t = frame_times(frames_until(end))
    frames = len(t)
    path = walk_between(t, (0.0, -start_distance), (0.0, -stop_distance), start, speed, ease=0.7)
    actor = Performance(scale=actor_scale, path=path, heading=np.zeros(frames),
                        gait=gait_for_speed(speed, step_length=0.32, lift=0.04))
    target = Performance.standing(frames, (0.0, 0.0), 0.0, target_scale,
                                  gait=gait_for_speed(1.0, step_length=0.3, turn_radius=0.25))
    creeping = window(t, start - 0.2, start + 0.5, arrival - 0.1, arrival + 0.4)
    actor.crouch += 0.3 * creeping
    actor.lean += 0.3 * creeping
    actor.head_pitch -= 0.25 * creeping
    for side in SIDES:
        actor.arms[side].pose.add(np.array([0.02, -0.3, 0.22]), creeping)
    target.head_yaw += 0.35 * np.sin(2 * np.pi * 0.2 * t) * (1.0 - ramp(t, moment - 1.0, moment))
    if ending == "taps":
        tap = window(t, moment - 0.35, moment, moment + 0.1, moment + 0.45)
        actor.arms[shoulder].reach.add(shoulder_point(target, shoulder, t), tap)
        turn_sign = SIDE_SIGN[shoulder]  # turn toward the tapped side
        target.head_yaw += turn_sign * 0.9 * window(t, moment + 0.05, moment + 0.35, turn_start + 0.4,
                                                    turn_start + 1.0)
    else:
        boo = window(t, moment - 0.3, moment, moment + 0.5, moment + 0.9)
        for side in SIDES:
            actor.arms[side].pose.add(np.array([0.25, 0.35, 0.2]), boo)
            actor.arms[side].pole.add(ELBOW_DOWN, boo)
            target.arms[side].pose.add(np.array([-0.05, -0.08, 0.22]), window(t, moment + 0.05, moment + 0.2,
                                                                               moment + 0.6, moment + 1.0))
        flinch = window(t, moment + 0.05, moment + 0.35, moment + 0.45, moment + 0.9)
        target.crouch += 0.25 * flinch
        target.lean += 0.15 * flinch
        turn_sign = pick(rng, (-1.0, 1.0))
    target.heading = target.heading + turn_sign * np.pi * travel(t, turn_start, turn_start + 1.2, 0.4)
    add_idle(actor, rng)
    add_idle(target, rng)
    look_at(actor, target.path, 0.5)
    people = ordered(actor, target, sneaker)
    return Scene("sneak", {"sneaker": sneaker, "ending": ending, "shoulder": shoulder}, people,
                 {"moment": moment, "turned": turn_start + 1.2})


def crouching(rng) -> Scene:
    """One walks up to the other, who crouches on the ground, and either helps them up or crouches too."""
    approacher, ending = pick(rng, ROLES), pick(rng, ("helps_up", "crouches"))
    hand, speed = pick(rng, SIDES), pick(rng, SPEEDS)
    scales = draw_scales(rng)
    if approacher == "second":
        scales = scales[::-1]
    actor_scale, crouched_scale = scales
    mean_scale, speed_ms, tempo = scales.mean(), WALK_SPEED[speed], TEMPO[speed]
    start_distance = rng.uniform(2.0, 3.2)
    gap = (0.72 if ending == "helps_up" else 0.8) * mean_scale
    start = rng.uniform(0.2, 0.5)
    rise = 1.2 * tempo
    arrival = arrival_time(start_distance - gap, start, speed_ms)
    grip = arrival + 0.5 * tempo
    end = grip + 0.2 + rise + rng.uniform(0.6, 1.0)
    t = frame_times(frames_until(end))
    frames = len(t)
    path = walk_between(t, (0.0, start_distance), (0.0, gap), start, speed_ms)
    actor = Performance(scale=actor_scale, path=path, heading=np.full(frames, np.pi),
                        gait=gait_for_speed(speed_ms))
    low = Performance.standing(frames, (0.0, 0.0), 0.0, crouched_scale)
    looking_down = 1.0 - ramp(t, arrival - 0.8, arrival)
    low.head_pitch += 0.5 * looking_down - 0.25 * (1.0 - looking_down)
    if ending == "helps_up":
        stand_up = ramp(t, grip + 0.2, grip + 0.2 + rise)
        low.crouch += 0.9 * (1.0 - stand_up)
        low.lean += 0.35 * (1.0 - stand_up) + 0.05
        holding = window(t, grip - 0.5 * tempo, grip, grip + 0.2 + rise + 0.2, grip + 0.2 + rise + 0.7 * tempo)
        meeting_xz = np.array([0.0, 0.5 * gap])
        standing = meeting_height(scales, 0.5 * gap - 0.03 * scales, 0.19 * scales, preferred=1.0 * mean_scale)
        height = keyframes(t, [grip + 0.2, grip + 0.2 + rise], [0.92 * crouched_scale, standing])
        point = lift(np.broadcast_to(meeting_xz, (frames, 2)), height)
        for perf in (actor, low):
            perf.arms[hand].reach.add(point, holding)
            perf.arms[hand].pole.add(ELBOW_DOWN, holding)
        bending = window(t, grip - 0.6 * tempo, grip, grip + 0.2, grip + 0.2 + rise)
        actor.lean += 0.45 * bending
        actor.crouch += 0.25 * bending
        reaching_down = 1.0 - ramp(t, grip - 0.8 * tempo, grip - 0.3 * tempo)
    else:
        low.crouch += 0.9
        low.lean += 0.35
        squat = ramp(t, arrival + 0.2, arrival + 0.2 + rise)
        actor.crouch += 0.85 * squat
        actor.lean += 0.3 * squat
        actor.head_pitch += 0.3 * squat
        for side in SIDES:
            actor.arms[side].pose.add(REACHING_DOWN, squat)
        reaching_down = np.ones(frames)
    for side in SIDES:
        low.arms[side].pose.add(REACHING_DOWN, reaching_down)
    add_idle(actor, rng)
    add_idle(low, rng)
    look_at(actor, low.path)
    people = ordered(actor, low, approacher)
    return Scene("crouching", {"approacher": approacher, "ending": ending, "hand": hand, "speed": speed}, people,
                 {"arrival": arrival, "grip": grip, "done": grip + 0.2 + rise})


def repeated_gesture(rng) -> Scene:
    """One (or both) claps, waves or nods a stated number of times while the other watches."""
    performer, gesture = pick(rng, ROLES + ("both",)), pick(rng, ("claps", "waves", "nods"))
    count, hand, speed = int(rng.integers(2, 6)), pick(rng, SIDES), pick(rng, SPEEDS)
    scales = draw_scales(rng)
    tempo = TEMPO[speed]
    gap = rng.uniform(1.3, 2.6)
    period = {"claps": 0.5, "waves": 0.55, "nods": 0.75}[gesture] * tempo
    raise_time = rng.uniform(0.4, 0.8)
    begin = raise_time + 0.45 * tempo
    finish = begin + count * period
    end = finish + 0.45 * tempo + rng.uniform(0.4, 0.9)
    t = frame_times(frames_until(end))
    people = facing_pair(len(t), gap, scales)
    inside = (t >= begin) & (t <= finish)
    cycle = 2 * np.pi * (t - begin) / period
    active = window(t, raise_time, begin, finish, finish + 0.45 * tempo)
    performers = {"first": (0,), "second": (1,), "both": (0, 1)}[performer]
    for index, (perf, partner) in enumerate(zip(people, people[::-1])):
        add_idle(perf, rng)
        look_at(perf, partner.path)
        if index not in performers:
            continue
        if gesture == "claps":
            # hands 2 x (0.03 .. 0.17) apart: they meet once per period, and start and end apart
            half_gap = np.where(inside, 0.03 + 0.14 * (0.5 + 0.5 * np.cos(cycle)), 0.17)
            pose = np.stack([half_gap - 0.2, np.full(len(t), -0.18), np.full(len(t), 0.33)], -1)
            for side in SIDES:
                perf.arms[side].pose.add(pose, active)
                perf.arms[side].pole.add(np.array([0.4, -1.0, -0.3]), active)
        elif gesture == "waves":
            pose = np.tile(RAISED_HAND, (len(t), 1))
            pose[:, 0] += WAVE_SWING * (0.5 - 0.5 * np.cos(cycle)) * inside
            perf.arms[hand].pose.add(pose, active)
            perf.arms[hand].pole.add(ELBOW_DOWN, active)
        else:
            perf.head_pitch += 0.45 * (0.5 - 0.5 * np.cos(cycle)) * inside
    params = {"performer": performer, "gesture": gesture, "count": count, "speed": speed}
    if gesture == "waves":
        params["hand"] = hand
    return Scene("repeated_gesture", params, people, {"gesture_start": begin, "gesture_end": finish})


def point(rng) -> Scene:
    """One points off to their left or right with that arm; the other turns to look there."""
    pointer, side = pick(rng, ROLES), pick(rng, SIDES)
    scales = draw_scales(rng)
    if pointer == "second":
        scales = scales[::-1]
    actor_scale, looker_scale = scales
    gap = rng.uniform(1.4, 2.4)
    sign = SIDE_SIGN[side]
    angle = rng.uniform(0.9, 1.5)
    start = rng.uniform(0.4, 0.9)
    hold = rng.uniform(1.6, 2.4)
    end = start + 0.5 + hold + 0.6 + rng.uniform(0.3, 0.7)
    t = frame_times(frames_until(end))
    frames = len(t)
    actor = Performance.standing(frames, (0.0, 0.0), 0.0, actor_scale)
    looker = Performance.standing(frames, (0.0, gap), np.pi, looker_scale, gait=gait_for_speed(1.0, step_length=0.3))
    direction = forward_xz(sign * angle)
    pointing = window(t, start, start + 0.5, start + 0.5 + hold, start + 1.1 + hold)
    shoulder = shoulder_point(actor, side, 0.0)
    actor.arms[side].reach.add(shoulder + 0.8 * np.array([direction[0], 0.12, direction[1]]), pointing)
    actor.twist += sign * 0.2 * pointing
    actor.head_yaw += sign * min(angle, 1.1) * 0.8 * pointing
    spot = 5.0 * direction
    turn = wrap_angle(heading_towards(looker.path[0], spot) - np.pi)
    turning = travel(t, start + 0.4, start + 1.4, 0.35)
    looker.heading = looker.heading + 0.75 * turn * turning
    add_idle(actor, rng)
    add_idle(looker, rng)
    look_at(actor, looker.path, 1.0 - pointing)
    looker.head_yaw += 0.25 * turn * turning
    people = ordered(actor, looker, pointer)
    return Scene("point", {"pointer": pointer, "side": side}, people,
                 {"pointing": start + 0.5 + 0.5 * hold, "point_start": start})


FAMILIES = {
    "handshake": handshake,
    "hug": hug,
    "high_five": high_five,
    "bow": bow,
    "wave": wave,
    "push": push,
    "strike": strike,
    "chase": chase,
    "circle": circle,
    "side_by_side": side_by_side,
    "pass_by": pass_by,
    "dance": dance,
    "sneak": sneak,
    "crouching": crouching,
    "repeated_gesture": repeated_gesture,
    "point": point,
}


def plan_scene(family: str, rng) -> Scene:
    """Draw and plan one scene of ``family``, placed at a random spot and orientation."""
    if family not in FAMILIES:
        raise ValueError(f"unknown interaction family {family!r}; expected one of {sorted(FAMILIES)}")
    return place_at_random(FAMILIES[family](rng), rng)
