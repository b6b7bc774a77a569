"""The procedural interaction dataset: physics of every family, captions that match the joints, the files."""
import json
import re

import numpy as np
import pytest

from intermask.data import interhuman
from intermask.data.synthetic import FAMILY_NAMES, generate_clip, generate_dataset, split_assignment
from intermask.data.synthetic import writer
from intermask.data.synthetic.__main__ import main as cli_main
from intermask.data.synthetic.body import STAND_HEIGHT, Performance, animate, travel, two_bone_ik
from intermask.data.synthetic.clips import min_torso_distance
from intermask.metrics.adherence import count_gesture, facing, left_axis, swept_angle, yaw
from intermask.motion.augment import mirror_joints, mirror_text
from intermask.motion.canonical import zup_to_yup
from intermask.motion.rotation import rot6d_to_matrix
from intermask.motion.skeleton import BONES, REST_OFFSETS, TORSO_JOINTS, bone_lengths, rest_pose

FPS = 30
CLIPS_PER_FAMILY = 3
SIDES = ("left", "right")
COUNT_WORDS = {"twice": 2, "two times": 2, "three times": 3, "four times": 4, "five times": 5}
WRIST = {"left": 20, "right": 21}
SHOULDER = {"left": 16, "right": 17}
ANKLE = {"left": 7, "right": 8}
OTHER_SIDE = {"left": "right", "right": "left"}


@pytest.fixture(scope="module")
def clips():
    """Three clips of every family (clip i has family i % 16)."""
    return [generate_clip(index, seed=0) for index in range(CLIPS_PER_FAMILY * len(FAMILY_NAMES))]


def of_family(clips, family):
    chosen = [clip for clip in clips if clip.family == family]
    assert len(chosen) == CLIPS_PER_FAMILY
    return chosen


# ------------------------------------------------------------------------------------- joint-space helpers
def unit(vector):
    return vector / np.linalg.norm(vector, axis=-1, keepdims=True)


def at(clip, time):
    return min(int(round(time * FPS)), clip.num_frames - 1)


def words_in(text, words):
    return {w for w in words if re.search(rf"\b{w}\b", text, re.IGNORECASE)}


def stated(captions, words):
    """The one word of ``words`` that every caption states (and none states another of them)."""
    found = [words_in(c, words) for c in captions]
    assert all(len(f) == 1 for f in found) and len(set.union(*found)) == 1, (captions, words)
    return found[0].pop()


def stated_count(captions):
    counts = {n for c in captions for w, n in COUNT_WORDS.items() if re.search(rf"\b{w}\b", c)}
    assert len(counts) == 1, captions
    return counts.pop()


# ------------------------------------------------------------------------------------------ building blocks
def test_two_bone_ik_reaches_a_reachable_target_with_the_middle_joint_toward_the_pole(rng):
    frames = 50
    root = rng.normal(size=(frames, 3))
    target = root + 0.6 * unit(rng.normal(size=(frames, 3)))
    pole = rng.normal(size=(frames, 3))
    upper_offset, lower_offset = REST_OFFSETS[4], REST_OFFSETS[7]
    upper, lower = two_bone_ik(root, target, pole, upper_offset, lower_offset, 1.0,
                               rest_pole=np.array([0.0, 0.0, 1.0]), fallback_pole=np.array([1.0, 0.0, 0.0]))
    middle = root + upper @ upper_offset
    np.testing.assert_allclose(middle + lower @ lower_offset, target, atol=1e-9)
    for rotation in (upper, lower):
        np.testing.assert_allclose(rotation @ np.swapaxes(rotation, -1, -2), np.broadcast_to(np.eye(3), rotation.shape),
                                   atol=1e-9)
        np.testing.assert_allclose(np.linalg.det(rotation), 1.0, atol=1e-9)
    line = unit(target - root)
    off_line = (middle - root) - ((middle - root) * line).sum(-1, keepdims=True) * line
    assert ((off_line * pole).sum(-1) > 0).all()


def test_travel_goes_from_0_to_1_smoothly_and_only_forward():
    t = np.arange(0, 4, 1 / FPS)
    progress = travel(t, 0.5, 3.0, 0.6, 0.4)
    assert progress[0] == 0 and progress[-1] == pytest.approx(1.0)
    assert (np.diff(progress) >= 0).all()
    speed = np.diff(progress) * FPS
    assert np.abs(np.diff(speed)).max() < 0.1  # no jump in speed
    cruise = speed[int(1.5 * FPS):int(2.4 * FPS)]
    np.testing.assert_allclose(cruise, 1 / (2.5 - 0.5), rtol=1e-6)


def test_a_standing_body_has_its_feet_on_the_floor_and_its_head_up():
    for scale in (0.85, 1.15):
        body = animate(Performance.standing(40, (0.3, -0.2), 0.7, scale))
        feet = body.joints[:, [10, 11], 1]
        np.testing.assert_allclose(feet, 0.0, atol=1e-9)
        assert body.stance.all()
        assert (body.joints[:, 15, 1] > 1.4 * scale).all()
        np.testing.assert_allclose(body.root[:, 1], STAND_HEIGHT * scale, atol=0.02 * scale)


# ----------------------------------------------------------------------------------------------- physics
def test_there_are_at_least_15_families_each_with_three_distinct_captions(clips):
    assert len(FAMILY_NAMES) >= 15
    assert {clip.family for clip in clips} == set(FAMILY_NAMES)
    for clip in clips:
        assert len(clip.captions) == 3 and len(set(clip.captions)) == 3, clip.captions
        assert all(c and c[0].isupper() and c.endswith(".") and "  " not in c for c in clip.captions)


def test_clips_last_2_to_10_seconds_and_both_people_share_the_frames(clips):
    for clip in clips:
        assert 60 <= clip.num_frames <= 300
        assert clip.joints.shape == (2, clip.num_frames, 22, 3)
        assert clip.rotations.shape == (2, clip.num_frames, 22, 3, 3)
        assert np.isfinite(clip.joints).all()


def test_bone_lengths_are_constant_and_those_of_the_scaled_rest_skeleton(clips):
    rest = bone_lengths(rest_pose())
    for clip in clips:
        lengths = bone_lengths(clip.joints)  # (person, frame, bone)
        assert lengths.std(axis=1).max() < 1e-4, clip.family
        for person in range(2):
            assert 0.85 <= clip.scales[person] <= 1.15
            np.testing.assert_allclose(lengths[person].mean(0), rest * clip.scales[person], atol=1e-6)
    assert len(rest) == len(BONES)


def test_planted_feet_do_not_slide_and_are_low_enough_to_count_as_contacts(clips):
    for clip in clips:
        for person in range(2):
            for foot, (ankle, toe) in enumerate(((7, 10), (8, 11))):
                planted = clip.stance[person, 1:, foot] & clip.stance[person, :-1, foot]
                assert planted.mean() > 0.3, clip.family  # mostly standing on each foot
                for joint in (ankle, toe):
                    step = np.diff(clip.joints[person, :, joint][:, [0, 2]], axis=0)
                    assert np.linalg.norm(step, axis=-1)[planted].max(initial=0) < 0.01, (clip.family, joint)
                heights = clip.joints[person, clip.stance[person, :, foot]]
                assert heights[:, toe, 1].max() < 0.05 and heights[:, ankle, 1].max() < 0.12, clip.family


def test_feet_stay_above_the_floor_and_touch_it_when_standing(clips):
    for clip in clips:
        feet = clip.joints[:, :, [7, 8, 10, 11], 1]
        assert feet.min() > -0.02, clip.family
        lowest_at_start = feet[:, 0].min(-1)
        assert np.all(np.abs(lowest_at_start) < 0.02), (clip.family, lowest_at_start)


def test_heads_stay_up_and_roots_move_smoothly_without_teleporting(clips):
    for clip in clips:
        assert (clip.joints[:, :, 15, 1] > clip.joints[:, :, 0, 1] + 0.2).all(), clip.family
        velocity = np.diff(clip.root, axis=1) * FPS
        assert np.linalg.norm(velocity, axis=-1).max() < 8.0, clip.family
        # no instantaneous velocity jumps: bounded change of velocity per frame (m/s)
        assert np.linalg.norm(np.diff(velocity, axis=1), axis=-1).max() < 0.6, clip.family
        joint_velocity = np.diff(clip.joints, axis=1) * FPS
        assert np.linalg.norm(joint_velocity, axis=-1).max() < 12.0, clip.family


def test_the_two_torsos_never_come_closer_than_20_cm(clips):
    for clip in clips:
        torso = clip.joints[:, :, list(TORSO_JOINTS)]
        gaps = np.linalg.norm(torso[0][:, :, None] - torso[1][:, None, :], axis=-1)
        assert gaps.min() > 0.2, clip.family
        assert min_torso_distance(clip.joints) == pytest.approx(gaps.min())


def test_knees_only_bend_backward_and_elbows_only_bend_the_forearm_forward(clips):
    for clip in clips:
        for hip, knee, ankle in ((1, 4, 7), (2, 5, 8)):
            # the shin in the thigh's frame, against the straight leg (the thigh's rest direction)
            shin = clip.rotations[:, :, knee] @ unit(REST_OFFSETS[ankle])
            assert (shin[..., 2] <= unit(REST_OFFSETS[knee])[2] + 1e-6).all(), clip.family
        for elbow, wrist in ((18, 20), (19, 21)):
            forearm = clip.rotations[:, :, elbow] @ unit(REST_OFFSETS[wrist])
            assert (forearm[..., 2] >= unit(REST_OFFSETS[elbow])[2] - 1e-6).all(), clip.family


# ----------------------------------------------------------------------------- captions against the joints
def test_handshake_uses_the_stated_hand(clips):
    for clip in of_family(clips, "handshake"):
        side = stated(clip.captions, SIDES)
        frame = clip.joints[:, at(clip, clip.events["shake"])]
        assert np.linalg.norm(frame[0, WRIST[side]] - frame[1, WRIST[side]]) < 0.12
        for person in range(2):
            partner = frame[1 - person, 0]
            own = np.linalg.norm(frame[person, WRIST[side]] - partner)
            other = np.linalg.norm(frame[person, WRIST[OTHER_SIDE[side]]] - partner)
            assert own < other - 0.15, clip.captions


def test_high_five_meets_the_stated_hands_high(clips):
    for clip in of_family(clips, "high_five"):
        said = set.union(*[words_in(c, SIDES) for c in clip.captions])
        frame = clip.joints[:, at(clip, clip.events["hit"])]
        pairs = [(stated(clip.captions, SIDES),) * 2] if said else [("left", "right"), ("right", "left")]
        assert said or all("both hands" in c or "double" in c for c in clip.captions)
        for own_1, own_2 in pairs:
            assert np.linalg.norm(frame[0, WRIST[own_1]] - frame[1, WRIST[own_2]]) < 0.15
            for person, own in ((0, own_1), (1, own_2)):
                assert frame[person, WRIST[own], 1] > frame[person, SHOULDER[own], 1] - 0.1
        shorter = int(np.argmin(clip.scales))
        assert max(frame[shorter, WRIST[own], 1] for own in (pairs[0][shorter], pairs[-1][shorter])) > \
            frame[shorter, 15, 1]  # above the head of the shorter one
        if said:
            side = pairs[0][0]
            assert (frame[:, WRIST[side], 1] > frame[:, WRIST[OTHER_SIDE[side]], 1] + 0.4).all()


def test_wave_raises_the_stated_hands_above_the_head(clips):
    for clip in of_family(clips, "wave"):
        for person, hand_key, event in ((0, "hand1", "wave_first"), (1, "hand2", "wave_second")):
            hand = clip.params[hand_key]
            pose = clip.joints[person, at(clip, clip.events[event])]
            assert pose[WRIST[hand], 1] > pose[15, 1] + 0.05
            assert pose[WRIST[OTHER_SIDE[hand]], 1] < pose[SHOULDER[OTHER_SIDE[hand]], 1]
        assert all(f"{clip.params['hand1']} hand" in c or f"{clip.params['hand1']} and" in c
                   for c in clip.captions), clip.captions


def test_bows_drop_the_head_as_deep_as_stated_in_the_stated_order(clips):
    for clip in of_family(clips, "bow"):
        deep = any(words_in(c, ("deeply", "deep", "low")) for c in clip.captions)
        heads = clip.joints[:, :, 15, 1]
        drop = (heads[:, 0] - heads.min(1)) / clip.scales
        if deep:
            assert (drop > 0.15).all(), drop
        else:
            assert ((drop > 0.025) & (drop < 0.15)).all(), drop
        # when each head has gone half of its way down
        halfway = np.array([np.argmax(heads[p, 0] - heads[p] > 0.5 * drop[p] * clip.scales[p]) for p in range(2)])
        halfway = halfway / FPS
        order = clip.params["order"]
        if order == "together":
            assert abs(halfway[0] - halfway[1]) < 0.3
        else:
            first = 0 if order == "first" else 1
            assert halfway[first] < halfway[1 - first] - 0.3
            assert any(re.search(rf"the {order} person (bows|makes|gives)", c, re.IGNORECASE) or
                       re.search(rf"after the {order} person bows", c) for c in clip.captions)


def test_push_contact_is_made_with_the_stated_hands_and_the_other_staggers_back(clips):
    for clip in of_family(clips, "push"):
        pusher = 0 if clip.params["pusher"] == "first" else 1
        frame = clip.joints[:, at(clip, clip.events["contact"])]
        chest = frame[1 - pusher, 9]
        hands = clip.params["hands"]
        used = SIDES if hands == "both" else (hands,)
        for side in used:
            assert np.linalg.norm(frame[pusher, WRIST[side]] - chest) < 0.3
        if hands != "both":
            assert all(f"{hands} hand" in c for c in clip.captions)
            other = np.linalg.norm(frame[pusher, WRIST[OTHER_SIDE[hands]]] - chest)
            assert other > np.linalg.norm(frame[pusher, WRIST[hands]] - chest) + 0.15
        victim = clip.joints[1 - pusher, :, 0]
        backward = -(victim[-1] - victim[0]) @ facing(clip.joints[1 - pusher, 0])
        assert backward > (0.25 if clip.params["force"] == "gently" else 0.6)


def test_a_blocked_kick_meets_the_blocking_forearms(clips):
    blocked = [clip for clip in of_family(clips, "strike") + [generate_clip(6 + 16 * k, seed=2) for k in range(6)]
               if clip.params["attack"] == "kick" and clip.params["defense"] == "blocks"]
    assert blocked
    for clip in blocked:
        attacker = 0 if clip.params["attacker"] == "first" else 1
        foot = clip.joints[attacker, :, 10 if clip.params["side"] == "left" else 11]
        defender = clip.joints[1 - attacker]
        elbows, wrists = defender[:, [18, 19]], defender[:, [20, 21]]
        along = np.clip((((foot[:, None] - elbows) * (wrists - elbows)).sum(-1)
                         / ((wrists - elbows) ** 2).sum(-1)), 0.0, 1.0)
        closest = np.linalg.norm(foot[:, None] - (elbows + along[..., None] * (wrists - elbows)), axis=-1).min()
        assert closest < 0.25  # the kick lands on a forearm instead of stopping a foot or more short


def test_strike_uses_the_stated_limb(clips):
    for clip in of_family(clips, "strike"):
        side = stated(clip.captions, SIDES)
        attacker = 0 if clip.params["attacker"] == "first" else 1
        frame = clip.joints[:, at(clip, clip.events["strike"])]
        if clip.params["attack"] == "punch":
            assert all(words_in(c, ("punch", "punches", "fist")) for c in clip.captions)
            head = frame[1 - attacker, 15]
            own = np.linalg.norm(frame[attacker, WRIST[side]] - head)
            other = np.linalg.norm(frame[attacker, WRIST[OTHER_SIDE[side]]] - head)
            assert own < other - 0.15
        else:
            assert all(words_in(c, ("kick", "kicks")) for c in clip.captions)
            assert frame[attacker, ANKLE[side], 1] > 0.3
            assert frame[attacker, ANKLE[OTHER_SIDE[side]], 1] < 0.15


def test_chase_keeps_the_chaser_behind_and_turns_the_stated_way(clips):
    samples = [generate_clip(7 + 16 * k, seed=1) for k in range(3)]  # more turns
    for clip in of_family(clips, "chase") + samples:
        chaser = 0 if clip.params["chaser"] == "first" else 1
        start, end = at(clip, clip.events["run_start"]), at(clip, clip.events["run_end"])
        runner_pose, chaser_pose = clip.joints[1 - chaser], clip.joints[chaser]
        ahead = ((runner_pose[:, 0] - chaser_pose[:, 0]) * facing(runner_pose)).sum(-1)
        assert (ahead[start:end] > 0.3).all()
        turned = swept_angle(facing(runner_pose))
        turn = set.union(*[set(re.findall(r"\b(?:turning|veering|curving to the) (left|right)\b", c))
                           for c in clip.captions])
        if turn:
            assert len(turn) == 1 and all(turn.issubset(words_in(c, SIDES)) for c in clip.captions)
            assert turned > 0.5 if turn == {"left"} else turned < -0.5
        else:
            assert abs(turned) < 0.2
        speed = np.linalg.norm(np.diff(runner_pose[:, 0][:, [0, 2]], axis=0), axis=-1).max() * FPS
        if all(words_in(c, ("jogs", "jogging", "jog")) for c in clip.captions):
            assert 1.8 < speed < 2.6
        else:
            assert speed > 2.7
        final = np.linalg.norm(runner_pose[-1, 0] - chaser_pose[-1, 0])
        assert final < 1.0 if clip.params["outcome"] == "caught" else final > 2.0
        if clip.params["outcome"] == "caught":  # "catches them by the shoulder": a hand reaches a shoulder
            reach = min(np.linalg.norm(chaser_pose[-24:, wrist] - runner_pose[-24:, shoulder], axis=-1).min()
                        for wrist in (20, 21) for shoulder in (16, 17))
            assert reach < 0.1


def test_circling_turns_the_stated_way_seen_from_above(clips):
    samples = [generate_clip(8 + 16 * k, seed=1) for k in range(3)]
    for clip in of_family(clips, "circle") + samples:
        direction = stated(clip.captions, ("clockwise", "counterclockwise"))
        between = clip.joints[1, :, 0] - clip.joints[0, :, 0]
        swept = swept_angle(between)  # positive about +Y: counterclockwise when looking down from above
        # the same on a page drawn from above: camera at +Y looking down, page-right = +x, so page-up = -z
        page = np.arctan2(-between[:, 2], between[:, 0])
        on_page = np.sum((np.diff(page) + np.pi) % (2 * np.pi) - np.pi)  # > 0: counterclockwise on the page
        assert np.sign(on_page) == np.sign(swept)
        full = all(words_in(c, ("full",)) for c in clip.captions)
        assert abs(abs(swept) - (2 * np.pi if full else np.pi)) < 0.3
        assert swept > 0 if direction == "counterclockwise" else swept < 0
        # both keep facing each other while they circle
        assert ((facing(clip.joints[0, :]) * between).sum(-1) > 0).all()


def test_side_by_side_puts_the_first_person_on_the_stated_side(clips):
    for clip in of_family(clips, "side_by_side"):
        claims = set()
        for caption in clip.captions:
            own = re.search(r"first person[^,;]*? on the (left|right)", caption)
            other = re.search(r"second person is on the (left|right)", caption)
            assert own or other, caption
            claims.add(own.group(1) if own else OTHER_SIDE[other.group(1)])
        assert len(claims) == 1
        middle = at(clip, clip.events["walk_middle"])
        offset = (clip.joints[0, middle, 0] - clip.joints[1, middle, 0]) @ left_axis(clip.joints[1, middle])
        assert offset > 0.4 if claims == {"left"} else offset < -0.4
        turned = swept_angle(facing(clip.joints[0, at(clip, clip.events["walk_start"]):]))
        turn = set.union(*[set(re.findall(r"\b(?:turn|turning|curving to the) (left|right)\b", c))
                           for c in clip.captions])
        if turn:
            assert turned > 0.5 if turn == {"left"} else turned < -0.5
        else:
            assert abs(turned) < 0.2


def test_passing_by_keeps_the_other_on_the_stated_side(clips):
    for clip in of_family(clips, "pass_by"):
        side = stated(clip.captions, SIDES)
        gaps = np.linalg.norm(clip.joints[0, :, 0] - clip.joints[1, :, 0], axis=-1)
        closest = int(gaps.argmin())
        assert 5 < closest < clip.num_frames - 5  # they really pass
        for person in range(2):
            pose = clip.joints[person, closest]
            lateral = (clip.joints[1 - person, closest, 0] - pose[0]) @ left_axis(pose)
            assert lateral > 0.3 if side == "left" else lateral < -0.3


def leftness(pose_sequence):
    """How far a dancer leans into their own left: raised left hand, pelvis to the left, chest turned left."""
    start = pose_sequence[0]
    hands = pose_sequence[:, 20, 1] - pose_sequence[:, 21, 1]
    lateral = (pose_sequence[:, 0] - start[0]) @ left_axis(start)
    twist = (pose_sequence[:, 17] - pose_sequence[:, 16]) @ facing(start)
    return hands + 2 * lateral + 2 * twist


def test_dancers_mirror_each_other_or_move_alike_as_stated(clips):
    samples = [generate_clip(11 + 16 * k, seed=1) for k in range(3)]
    for clip in of_family(clips, "dance") + samples:
        mirror = all(words_in(c, ("mirroring", "mirror")) for c in clip.captions)
        assert mirror or not any(words_in(c, ("mirroring", "mirror")) for c in clip.captions)
        window = slice(at(clip, clip.events["dance_start"]), at(clip, clip.events["dance_end"]))
        first, second = (leftness(clip.joints[p, window]) for p in range(2))
        correlation = np.corrcoef(first, second)[0, 1]
        assert correlation < -0.5 if mirror else correlation > 0.5, (clip.params, correlation)


def test_sneaking_starts_behind_and_the_tap_lands_on_the_stated_shoulder(clips):
    samples = [generate_clip(12 + 16 * k, seed=1) for k in range(3)]
    for clip in of_family(clips, "sneak") + samples:
        sneaker = 0 if clip.params["sneaker"] == "first" else 1
        target_pose, sneaker_pose = clip.joints[1 - sneaker], clip.joints[sneaker]
        assert (sneaker_pose[0, 0] - target_pose[0, 0]) @ facing(target_pose[0]) < -1.0  # behind
        end_gap = sneaker_pose[-1, 0] - target_pose[-1, 0]
        assert end_gap @ facing(target_pose[-1]) > 0.3  # the target has turned round to face them
        if clip.params["ending"] == "taps":
            side = stated(clip.captions, SIDES)
            moment = at(clip, clip.events["moment"])
            wrist = sneaker_pose[moment, WRIST[side]]
            own = np.linalg.norm(wrist - target_pose[moment, SHOULDER[side]])
            assert own < 0.15 and own < np.linalg.norm(wrist - target_pose[moment, SHOULDER[OTHER_SIDE[side]]])


def test_the_crouching_person_is_low_and_is_helped_up_with_the_stated_hand(clips):
    samples = [generate_clip(13 + 16 * k, seed=1) for k in range(3)]
    for clip in of_family(clips, "crouching") + samples:
        approacher = 0 if clip.params["approacher"] == "first" else 1
        low = 1 - approacher
        pelvis = clip.joints[:, :, 0, 1]
        stand = STAND_HEIGHT * clip.scales
        assert pelvis[low, 0] < 0.7 * stand[low]
        if clip.params["ending"] == "helps_up":
            side = stated(clip.captions, SIDES)
            middle = at(clip, 0.5 * (clip.events["grip"] + clip.events["done"]))
            hands = clip.joints[:, middle, WRIST[side]]
            assert np.linalg.norm(hands[0] - hands[1]) < 0.15
            assert pelvis[low, -1] > 0.9 * stand[low]
        else:
            assert pelvis[approacher, -1] < 0.7 * stand[approacher]


def test_repeated_gestures_happen_the_stated_number_of_times(clips):
    samples = [generate_clip(14 + 16 * k, seed=seed) for k in range(3) for seed in (1, 2)]
    for clip in of_family(clips, "repeated_gesture") + samples:
        count = stated_count(clip.captions)
        gesture = {"clap": "claps", "wave": "waves", "nod": "nods"}[
            next(w for w in ("clap", "wave", "nod") if all(re.search(rf"\b{w}", c) for c in clip.captions))]
        hand = stated(clip.captions, SIDES) if gesture == "waves" else None
        performers = {"first": (0,), "second": (1,), "both": (0, 1)}[clip.params["performer"]]
        window = slice(at(clip, clip.events["gesture_start"] - 0.3), at(clip, clip.events["gesture_end"] + 0.3))
        for person in range(2):
            counted = count_gesture(clip.joints[person, window], gesture, hand)
            assert counted == (count if person in performers else 0), (clip.params, person, counted)


def test_pointing_goes_to_the_stated_side_and_the_other_turns_to_look(clips):
    for clip in of_family(clips, "point"):
        side = stated(clip.captions, SIDES)
        pointer = 0 if clip.params["pointer"] == "first" else 1
        frame = at(clip, clip.events["pointing"])
        pose = clip.joints[pointer, frame]
        lateral = (pose[WRIST[side]] - pose[0]) @ left_axis(clip.joints[pointer, 0])
        assert lateral > 0.35 if side == "left" else lateral < -0.35
        direction = (pose[WRIST[side]] - pose[SHOULDER[side]]) * np.array([1.0, 0.0, 1.0])
        spot = pose[0] + 5.0 * direction / np.linalg.norm(direction)
        looker = clip.joints[1 - pointer]

        def off_target(index):
            toward = spot - looker[index, 0]
            return abs((yaw(toward) - yaw(facing(looker[index])) + np.pi) % (2 * np.pi) - np.pi)

        assert off_target(frame) < off_target(0) - 0.5


SLOW_WORDS = ("slowly", "slow pace", "unhurriedly", "leisurely")
QUICK_WORDS = ("quickly", "briskly", "hurriedly", "quick pace")


def test_walking_speed_matches_slowly_and_quickly_in_the_captions(clips):
    walking = ("handshake", "hug", "high_five", "side_by_side", "pass_by", "crouching")
    for clip in (clip for clip in clips if clip.family in walking):
        slow = any(words_in(c, SLOW_WORDS) for c in clip.captions)
        quick = any(words_in(c, QUICK_WORDS) for c in clip.captions)
        assert not (slow and quick)
        # the pair's middle for side by side, where the outer walker of a bend is faster
        pelvis = clip.joints[:, :, 0][..., [0, 2]]
        pelvis = pelvis.mean(0, keepdims=True) if clip.family == "side_by_side" else pelvis
        speed = np.linalg.norm(np.diff(pelvis, axis=1), axis=-1).max() * FPS
        if slow:
            assert 0.5 < speed < 0.95, (clip.family, speed)
        elif quick:
            assert speed > 1.3, (clip.family, speed)
        else:
            assert 0.9 < speed < 1.4, (clip.family, speed)


def test_mirrored_copies_keep_captions_and_joints_consistent(clips):
    """The loader's mirror augmentation swaps left/right and clockwise words: the claims must stay true."""
    for clip in of_family(clips, "handshake") + of_family(clips, "circle"):
        joints = mirror_joints(clip.joints)
        captions = [mirror_text(c) for c in clip.captions]
        if clip.family == "handshake":
            side = stated(captions, SIDES)
            frame = joints[:, at(clip, clip.events["shake"])]
            assert np.linalg.norm(frame[0, WRIST[side]] - frame[1, WRIST[side]]) < 0.12
        else:
            direction = stated(captions, ("clockwise", "counterclockwise"))
            swept = swept_angle(joints[1, :, 0] - joints[0, :, 0])
            assert swept > 0 if direction == "counterclockwise" else swept < 0


def test_hugging_arms_wrap_behind_the_partner(clips):
    for clip in of_family(clips, "hug"):
        frame = clip.joints[:, at(clip, clip.events["hug"])]
        for person in range(2):
            partner = frame[1 - person]
            behind = (frame[person, [20, 21]] - partner[9]) @ facing(partner)
            assert (behind < 0.0).all(), (clip.params, behind)
        assert np.linalg.norm(frame[0, 9] - frame[1, 9]) < 0.6


def test_captions_name_the_people_by_order_and_use_left_and_right_only_for_sides(clips):
    for clip in clips:
        for caption in clip.captions:
            lower = caption.lower()
            assert any(word in lower for word in ("first person", "second person", "two", "both", "pair")), caption
            for match in re.finditer(r"\b(left|right)\b", caption):
                after = caption[match.end():match.end() + 12]
                before = caption[max(0, match.start() - 12):match.start()]
                assert re.match(r"(-handed| hand| fist| leg| foot| arm| shoulder| side|[ ,.;]|$)", after) or \
                    re.search(r"(the|their|turn|turning|veering|to the) $", before), caption


# ------------------------------------------------------------------------------------------------- the files
def test_written_files_round_trip_to_the_generated_joints_and_rotations(tmp_path):
    root = generate_dataset(tmp_path / "synthetic", num_clips=5, seed=3, progress=False)
    for index in (0, 4):
        clip = generate_clip(index, seed=3)
        name = f"{index:06d}"
        for person in range(2):
            stored = np.load(root / "motions_processed" / f"person{person + 1}" / f"{name}.npy")
            assert stored.dtype == np.float32 and stored.shape == (clip.num_frames, 492)
            positions = zup_to_yup(stored[:, :186].reshape(-1, 62, 3))
            np.testing.assert_allclose(positions[:, :22], clip.joints[person], atol=1e-5)
            np.testing.assert_allclose(positions[:, 22:42], np.repeat(clip.joints[person, :, 20:21], 20, 1), atol=1e-5)
            np.testing.assert_allclose(positions[:, 42:62], np.repeat(clip.joints[person, :, 21:22], 20, 1), atol=1e-5)
            rot6d = stored[:, 186:].reshape(-1, 51, 6)
            np.testing.assert_allclose(rot6d_to_matrix(rot6d[:, :21].astype(np.float64)),
                                       clip.rotations[person, :, 1:], atol=1e-5)
            np.testing.assert_allclose(rot6d[:, 21:], np.tile([1, 0, 0, 1, 0, 0], (clip.num_frames, 30, 1)))
        assert (root / "annots" / f"{name}.txt").read_text().splitlines() == list(clip.captions)
        read = interhuman.read_clip(root, name)  # the project's own reader agrees
        np.testing.assert_allclose(read.joints, clip.joints, atol=1e-5)
        assert read.texts == clip.captions


def test_dataset_layout_splits_and_meta(tmp_path):
    root = generate_dataset(tmp_path / "synthetic", num_clips=20, seed=5, progress=False)
    ids = {f"{i:06d}" for i in range(20)}
    splits = {}
    for name in ("train", "val", "test"):
        text = (root / "split" / f"{name}.txt").read_text()
        assert text.endswith("\n")
        splits[name] = text.split()
    assert sorted(splits["train"] + splits["val"] + splits["test"]) == sorted(ids)
    assert (len(splits["train"]), len(splits["val"]), len(splits["test"])) == (16, 2, 2)
    assert (root / "ignore_list.txt").read_text() == ""
    meta = json.loads((root / "meta.json").read_text())
    assert meta["seed"] == 5 and meta["num_clips"] == 20 and meta["version"] == writer.GENERATOR_VERSION
    assert sum(meta["families"].values()) == 20 and set(meta["families"]) == set(FAMILY_NAMES)
    assert meta["families"]["handshake"] == 2 and meta["families"]["point"] == 1
    assert len(interhuman.load_split(root, "train")) == 16
    assert not list(tmp_path.glob("synthetic.tmp-*"))


def test_split_proportions_are_80_10_10_and_seeded():
    splits = split_assignment(4000, seed=0)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [3200, 400, 400]
    assert sorted(sum(splits.values(), [])) == list(range(4000))
    assert split_assignment(4000, seed=0) == splits
    assert split_assignment(4000, seed=1)["val"] != splits["val"]
    with pytest.raises(ValueError, match="at least 3"):
        split_assignment(2, seed=0)


def test_the_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path):
    first = generate_dataset(tmp_path / "a", num_clips=6, seed=11, progress=False)
    second = generate_dataset(tmp_path / "b", num_clips=6, seed=11, progress=False)
    other = generate_dataset(tmp_path / "c", num_clips=6, seed=12, progress=False)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) == 6 * 3 + 3 + 2
    for path in files:
        assert (first / path).read_bytes() == (second / path).read_bytes(), path
    assert (first / "motions_processed/person1/000000.npy").read_bytes() != \
        (other / "motions_processed/person1/000000.npy").read_bytes()


def test_an_interrupted_generation_leaves_nothing_at_the_root(tmp_path, monkeypatch):
    calls = []

    def failing(index, seed):
        calls.append(index)
        if index == 2:
            raise KeyboardInterrupt
        return generate_clip(index, seed)

    monkeypatch.setattr(writer, "generate_clip", failing)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(tmp_path / "synthetic", num_clips=4, seed=0, progress=False)
    assert calls == [0, 1, 2]
    assert not (tmp_path / "synthetic").exists()
    assert list(tmp_path.iterdir()) == []


def test_an_existing_dataset_is_kept_unless_overwrite_is_asked(tmp_path):
    root = generate_dataset(tmp_path / "synthetic", num_clips=3, seed=0, progress=False)
    with pytest.raises(FileExistsError, match="overwrite"):
        generate_dataset(root, num_clips=4, seed=0, progress=False)
    generate_dataset(root, num_clips=4, seed=0, progress=False, overwrite=True)
    assert json.loads((root / "meta.json").read_text())["num_clips"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic"]


def test_bad_arguments_are_rejected_with_a_message(tmp_path, capsys):
    with pytest.raises(ValueError, match="num_clips"):
        generate_dataset(tmp_path / "x", num_clips=2, seed=0, progress=False)
    with pytest.raises(ValueError, match="seed"):
        generate_clip(0, seed=-1)
    assert cli_main([f"out={tmp_path / 'y'}", "clips=5"]) == 2
    assert "unknown argument 'clips=5' (did you mean num_clips=...?)" in capsys.readouterr().err
    assert cli_main(["--help"]) == 0 and "num_clips=4000" in capsys.readouterr().out
    assert cli_main([f"out={tmp_path / 'y'}", "num_clips=many"]) == 2
    assert not (tmp_path / "y").exists()


def test_the_command_line_writes_a_dataset(tmp_path):
    assert cli_main([f"out={tmp_path / 'cli'}", "num_clips=4", "seed=2"]) == 0
    meta = json.loads((tmp_path / "cli" / "meta.json").read_text())
    assert meta["num_clips"] == 4 and meta["seed"] == 2


def test_a_generation_killed_before_it_cleaned_up_leaves_no_staging_folder_behind(tmp_path):
    import socket
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    # as a SIGKILLed generation leaves it on this machine
    abandoned = tmp_path / f"data.tmp-{socket.gethostname()}-{int(dead.stdout)}"
    elsewhere = tmp_path / f"data.tmp-another-host-{int(dead.stdout)}"  # another machine's, on a shared file system
    elsewhere.mkdir()
    (abandoned / "annots").mkdir(parents=True)
    generate_dataset(tmp_path / "data", num_clips=3, seed=0, progress=False)
    assert not abandoned.exists() and (tmp_path / "data" / "meta.json").is_file() and elsewhere.exists()
