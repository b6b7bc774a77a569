"""Prompt adherence: captions parsed into checkable claims, each decided from the joints alone; the rates of a
dataset split and of a model's generations (scripts/adherence.py)."""
import json

import numpy as np
import pytest
from helpers.fake_data import write_synthetic_split
from helpers.stand_in import ReplayModel, stand_in_vq_reports

from intermask.data.synthetic import FAMILY_NAMES, generate_clip
from intermask.data.synthetic.body import Performance, animate_together
from intermask.metrics.adherence import KINDS, Claim, adherence, check, claims
from intermask.motion.augment import mirror_joints, mirror_text, swap_people, swap_person_names

CLIPS_PER_FAMILY = 5
LEFT_RIGHT = ("left", "right", "clockwise", "counterclockwise")


@pytest.fixture(scope="module")
def clips():
    """Five clips of every family (clip i has family i % 16), a seed no other test file uses."""
    return [generate_clip(index, seed=7) for index in range(CLIPS_PER_FAMILY * len(FAMILY_NAMES))]


def init(action, role):
    return Claim("initiator", action, role, role)


def stated_facts(clip) -> tuple[set, set]:
    """(claims every caption of the clip must make, claims a caption may also make), from the scene parameters."""
    p, family = clip.params, clip.family
    required, optional = set(), set()
    if family in ("handshake", "hug", "high_five"):
        required.add(init(family, p["initiator"]))
        if family != "hug" and p["hand"] != "both":
            required.add(Claim("hand", family, p["hand"], "both"))
    elif family in ("bow", "wave"):
        required.add(init(family, "both" if p["order"] == "together" else p["order"]))
        if family == "wave":
            required |= {Claim("hand", "wave", p["hand1"], "first"), Claim("hand", "wave", p["hand2"], "second")}
    elif family == "push":
        required.add(init("push", p["pusher"]))
        if p["hands"] != "both":
            required.add(Claim("hand", "push", p["hands"], p["pusher"]))
    elif family == "strike":
        required |= {init(p["attack"], p["attacker"]),
                     Claim("hand" if p["attack"] == "punch" else "leg", p["attack"], p["side"], p["attacker"])}
    elif family in ("chase", "side_by_side"):
        if family == "chase":
            required.add(init("chase", p["chaser"]))
        else:
            required.add(Claim("side", "side_by_side", p["first_side"], "first"))
        (optional if p["turn"] == "straight" else required).add(Claim("turn", family, p["turn"], "both"))
    elif family == "circle":
        required.add(Claim("rotation", "circle", p["direction"], "both"))
    elif family == "pass_by":
        required.add(Claim("side", "pass_by", p["side"], "both"))
    elif family == "sneak":
        required.add(init("sneak", p["sneaker"]))
        if p["ending"] == "taps":
            required.add(Claim("side", "tap", p["shoulder"], p["sneaker"]))
    elif family == "crouching":
        required.add(init("crouching", p["approacher"]))
        if p["ending"] == "helps_up":
            required.add(Claim("hand", "help_up", p["hand"], "both"))
    elif family == "repeated_gesture":
        gesture, performer = p["gesture"], p["performer"]
        required |= {init(gesture, performer), Claim("count", gesture, p["count"], performer)}
        if gesture == "waves":
            required.add(Claim("hand", "waves", p["hand"], performer))
    elif family == "point":
        required |= {init("point", p["pointer"]), Claim("side", "point", p["side"], p["pointer"])}
        optional.add(Claim("hand", "point", p["side"], p["pointer"]))
    return required, optional


def per_person(found):
    """A wave-hand claim about both people stands for one claim about each."""
    split = set()
    for claim in found:
        if claim.kind == "hand" and claim.action == "wave" and claim.person == "both":
            split |= {Claim("hand", "wave", claim.value, role) for role in ("first", "second")}
        else:
            split.add(claim)
    return split


# --------------------------------------------------------------------------------------------------- parsing
def test_every_caption_states_exactly_the_facts_of_its_scene_parameters(clips):
    for clip in clips:
        required, optional = stated_facts(clip)
        for caption in clip.captions:
            found = per_person(claims(caption))
            assert required <= found <= required | optional, (caption, clip.params, found)


@pytest.mark.parametrize("caption, expected", [
    ("The first person walks up to the second person and they shake right hands.",
     {init("handshake", "first"), Claim("hand", "handshake", "right", "both")}),
    ("The second person is hugged by the first person, who comes over quickly.", {init("hug", "first")}),
    ("Two people walk toward each other and high-five with both hands.", {init("high_five", "both")}),
    ("Facing one another, the two people turn half a circle counter-clockwise around their midpoint.",
     {Claim("rotation", "circle", "counterclockwise", "both")}),
    ("The pair circle around each other clockwise as seen from above.",
     {Claim("rotation", "circle", "clockwise", "both")}),
    ("Both people clap their hands four times.", {init("claps", "both"), Claim("count", "claps", 4, "both")}),
    ("The first person watches the second person, who nods twice.",
     {init("nods", "second"), Claim("count", "nods", 2, "second")}),
    ("The second person waves back with the left hand after the first person waves at them with the right hand.",
     {init("wave", "first"), Claim("hand", "wave", "left", "second"), Claim("hand", "wave", "right", "first")}),
    ("The first person and the second person wave to each other with their right and left hands respectively.",
     {init("wave", "both"), Claim("hand", "wave", "right", "first"), Claim("hand", "wave", "left", "second")}),
    ("The second person bows deeply in return after the first person bows to them.", {init("bow", "first")}),
    ("The second person leans out of the way as the first person throws a left punch at them.",
     {init("punch", "first"), Claim("hand", "punch", "left", "first")}),
    ("The second person aims a kick at the first person with the right foot, and the first person steps back.",
     {init("kick", "second"), Claim("leg", "kick", "right", "second")}),
    ("The first person runs away veering left and the second person chases after them.",
     {init("chase", "second"), Claim("turn", "chase", "left", "both")}),
    ("Side by side, the first person on the right and the second person on the left walk in a straight line.",
     {Claim("side", "side_by_side", "right", "first"), Claim("turn", "side_by_side", "straight", "both")}),
    ("Walking slowly in opposite directions, the first person passes the second person on the left.",
     {Claim("side", "pass_by", "left", "both")}),
    ("The second person sneaks up behind the first person and taps them on the right shoulder.",
     {init("sneak", "second"), Claim("side", "tap", "right", "second")}),
    ("The first person points off to their left with the left arm, so the second person turns to look.",
     {init("point", "first"), Claim("side", "point", "left", "first"), Claim("hand", "point", "left", "first")}),
    ("The second person shoves the first person roughly using the left hand.",
     {init("push", "second"), Claim("hand", "push", "left", "second")}),
    ("Two people dance quickly facing each other, mirroring each other.", set()),
    ("A person walks forward.", set()),
])
def test_claims_are_parsed_from_hand_written_captions(caption, expected):
    assert set(claims(caption)) == expected


# ------------------------------------------------------------------------------------------------ the checks
def test_every_claim_of_the_synthetic_captions_checks_true_on_its_clip(clips):
    texts = [caption for clip in clips for caption in clip.captions]
    result = adherence(texts, [clip.joints for clip in clips for _ in clip.captions])
    for kind in KINDS:
        rates = result["by_kind"][kind]
        assert rates["claims"] > 0, kind
        assert rates["rate"] == 1.0 and rates["coverage"] == 1.0, (kind, rates)
    failing = [r for r in result["results"] if r["verdict"] is not True]
    assert not failing, failing[:5]


def test_a_mirrored_motion_fails_every_left_right_and_rotation_claim_of_its_original_caption(clips):
    checked = 0
    for clip in clips:
        mirrored = mirror_joints(clip.joints)
        for caption in clip.captions:
            for claim in claims(caption):
                if claim.value in LEFT_RIGHT:
                    assert check(claim, mirrored) is False, (caption, claim)
                    checked += 1
            for claim in claims(mirror_text(caption)):  # the mirrored caption describes it again
                assert check(claim, mirrored) is True, (mirror_text(caption), claim)
    assert checked > 100


def test_swapping_the_two_people_fails_every_single_initiator_claim_and_keeps_together_claims(clips):
    checked = 0
    for clip in clips:
        swapped = swap_people(clip.joints)
        for caption in clip.captions:
            for claim in claims(caption):
                if claim.kind == "initiator":
                    assert check(claim, swapped) is (claim.value == "both"), (caption, claim)
                    checked += claim.value != "both"
    assert checked > 100


def test_swapping_the_people_and_their_names_in_the_captions_keeps_every_claim_true(clips):
    # what the synthetic data's person_names augmentation relies on: the exchanged pair, captioned with the names
    # exchanged, is described as truly as the original
    names = ("first person", "second person")
    texts = [swap_person_names(caption, names) for clip in clips for caption in clip.captions]
    result = adherence(texts, [swap_people(clip.joints) for clip in clips for _ in clip.captions])
    assert result["by_kind"]["initiator"]["claims"] > 100
    failing = [r for r in result["results"] if r["verdict"] is not True]
    assert not failing, failing[:5]


def test_a_wrong_count_fails_and_the_stated_count_passes(clips):
    for clip in (clip for clip in clips if clip.family == "repeated_gesture"):
        claim = next(c for c in claims(clip.captions[0]) if c.kind == "count")
        assert check(claim, clip.joints) is True
        for wrong in (claim.value - 1, claim.value + 1):
            assert check(Claim("count", claim.action, wrong, claim.person), clip.joints) is False


def test_a_motionless_pair_gives_no_evidence_for_acts_that_need_movement():
    """Two people standing still, facing each other: nobody raised, reached, walked, bowed, circled or clapped."""
    frames = 60
    people = animate_together([Performance.standing(frames, (0.0, 0.0), 0.0, 1.0),
                               Performance.standing(frames, (0.0, 1.5), np.pi, 1.0)])
    joints = np.stack([body.joints for body in people])
    silent = [Claim("hand", action, "left", "both") for action in ("handshake", "high_five", "wave", "push", "punch",
                                                                    "point")]
    silent += [Claim("leg", "kick", "left", "first"), Claim("rotation", "circle", "clockwise"),
               Claim("turn", "chase", "left"), Claim("count", "claps", 3, "both"), Claim("count", "nods", 2, "first")]
    silent += [init(action, "first") for action in ("handshake", "hug", "push", "punch", "kick", "point", "bow",
                                                    "wave", "claps", "waves", "nods")]
    for claim in silent:
        assert check(claim, joints) is None, claim


def test_adherence_reports_rate_over_decided_claims_and_coverage_per_kind(clips):
    handshake = next(clip for clip in clips if clip.family == "handshake" and clip.params["initiator"] != "both")
    caption = handshake.captions[0]
    frames = handshake.num_frames
    still = animate_together([Performance.standing(frames, (0.0, 0.0), 0.0, 1.0),
                              Performance.standing(frames, (0.0, 1.5), np.pi, 1.0)])
    still = np.stack([body.joints for body in still])
    result = adherence([caption, caption, caption, "Two people dance slowly, doing the same moves."],
                       [handshake.joints, mirror_joints(handshake.joints), still, handshake.joints])
    hand = result["by_kind"]["hand"]
    assert (hand["claims"], hand["decided"], hand["true"]) == (3, 2, 1)
    assert hand["rate"] == 0.5 and hand["coverage"] == pytest.approx(2 / 3)
    initiator = result["by_kind"]["initiator"]
    assert (initiator["claims"], initiator["decided"], initiator["true"]) == (3, 2, 2)  # mirroring keeps who walks
    assert result["by_kind"]["count"] == {"claims": 0, "decided": 0, "true": 0, "rate": None, "coverage": None}
    assert result["all"]["claims"] == 6 and result["all"]["true"] == 3
    assert result["by_action"]["hand/handshake"]["claims"] == 3
    assert {r["item"] for r in result["results"]} == {0, 1, 2}


def test_bad_inputs_are_rejected_with_what_was_wrong(clips):
    claim = Claim("rotation", "circle", "clockwise")
    with pytest.raises(ValueError, match="caption"):
        claims("  ")
    with pytest.raises(ValueError, match=r"joints: expected \(person=2"):
        check(claim, np.zeros((30, 22, 3)))
    with pytest.raises(ValueError, match="NaN"):
        check(claim, np.full((2, 30, 22, 3), np.nan))
    with pytest.raises(ValueError, match="fps"):
        check(claim, clips[0].joints, fps=0)
    with pytest.raises(ValueError, match="2 texts but 1 motions"):
        adherence(["a", "b"], [clips[0].joints])
    with pytest.raises(ValueError, match=r"joints_list\[1\]"):
        adherence(["a", "b"], [clips[0].joints, np.zeros((2, 5, 21, 3))])
    with pytest.raises(ValueError, match="kind"):
        Claim("colour", "circle", "red")


# ------------------------------------------------------------------------------------------------ the script
@pytest.fixture(scope="module")
def script(load_script):
    return load_script("adherence")


@pytest.fixture(scope="module")
def dataset(clips, tmp_path_factory):
    """Eight clips of the fixture in the InterHuman layout, all in the test split."""
    root = tmp_path_factory.mktemp("adherence") / "synthetic"
    names = [f"{index:06d}" for index in range(8)]
    write_synthetic_split(root, list(zip(names, clips[4:12])))  # wave .. dance: eight families
    return root, clips[4:12]


def test_the_script_reports_ground_truth_rates_and_writes_every_verdict(script, dataset, tmp_path, capsys):
    root, written = dataset
    out = tmp_path / "adherence.json"
    assert script.main(["--data", str(root), "--split", "test", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "8 clips, 24 captions" in printed and "initiator" in printed and "ground truth" in printed
    report = json.loads(out.read_text())
    assert report["model"] is None and report["clips"] == 8
    assert report["ground_truth"]["all"]["rate"] == 1.0
    assert len(report["verdicts"]["ground_truth"]) == sum(len(claims(c)) for clip in written for c in clip.captions)
    assert {"clip", "caption", "kind", "verdict"} <= set(report["verdicts"]["ground_truth"][0])


def test_the_script_generates_each_caption_k_times_at_the_clip_length_cut_to_whole_tokens(
        script, dataset, tmp_path, monkeypatch, capsys):
    import intermask.loading

    root, written = dataset
    model = ReplayModel({caption: clip.joints for clip in written for caption in clip.captions})
    monkeypatch.setattr(intermask.loading, "load_interaction_model", lambda path, device: model)
    out = tmp_path / "model.json"
    assert script.main(["--data", str(root), "--ckpt", str(tmp_path / "last.pt"), "--max-items", "3",
                        "--samples-per-text", "2", "--batch-size", "4", "--device", "cpu", "--json", str(out)]) == 0
    assert "model" in capsys.readouterr().out
    expected = [(caption, min(clip.num_frames, 120) // 4 * 4) for clip in written[:3] for caption in clip.captions
                for _ in range(2)]
    assert model.asked == expected
    report = json.loads(out.read_text())
    assert report["model"]["all"]["claims"] == 2 * report["ground_truth"]["all"]["claims"]
    assert report["model"]["all"]["decided"] > 0  # NaN padding past each length was cut away before checking
    assert {v["sample"] for v in report["verdicts"]["model"]} == {0, 1}


def test_a_tokenizers_reconstructions_are_checked_against_every_caption_of_their_clip(
        script, dataset, tmp_path, monkeypatch, capsys):
    root, _ = dataset
    rates = {}
    for flatten, (report, printed) in stand_in_vq_reports(script, root, tmp_path, monkeypatch, capsys).items():
        assert "reconstruction" in printed
        assert report["compared"] == "reconstruction" and report["checkpoint"] == str(tmp_path / "vq.pt")
        assert len(report["verdicts"]["model"]) == len(report["verdicts"]["ground_truth"])
        assert report["ground_truth"]["all"]["rate"] == 1.0  # read from the features, as the reconstruction is
        rates[flatten] = report["model"]["all"]
    # a lossless tokenizer keeps every claim; one that puts both people at the data's mean place and pose decides
    # few of them
    assert rates[False]["rate"] == 1.0 and rates[False]["decided"] == rates[False]["claims"]
    assert rates[True]["decided"] < rates[True]["claims"] // 2
    with pytest.raises(SystemExit):
        script.main(["--data", str(root), "--vq", "a.pt", "--ckpt", "b.pt"])
    assert "not both" in capsys.readouterr().err


def test_generation_length_is_the_clip_length_clipped_and_cut_to_whole_tokens(script):
    assert script.generation_frames(301, 300, 4) == 300
    assert script.generation_frames(90, 300, 4) == 88
    assert script.generation_frames(250, 196, 4) == 196


def test_the_script_reports_a_missing_dataset_or_an_empty_split_in_one_line(script, dataset, tmp_path, capsys):
    root, _ = dataset
    for argv, named in ((["--data", str(tmp_path / "nowhere")], "nowhere"),
                        (["--data", str(root), "--split", "val"], "val")):
        with pytest.raises(SystemExit) as exit_:
            script.main(argv + ["--json", str(tmp_path / "never.json")])
        error = capsys.readouterr().err
        assert exit_.value.code == 2 and named in error and "Traceback" not in error
    assert not (tmp_path / "never.json").exists()
