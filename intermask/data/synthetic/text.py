"""Captions of the synthetic interactions: a small grammar per family, written from the scene parameters.

A template mixes ``{slot}`` fields with ``[a|b|c]`` alternatives (nestable; an empty alternative is allowed).
Each family has several templates with different clause orders; a clip gets three captions from three
different templates, so they differ in wording and order but state the same facts.

"left" and "right" are only ever the body's own sides (or the side on which someone passes or walks), and
turning is "clockwise" / "counterclockwise" as seen from above, so mirroring a caption by swapping those whole
words stays true to the mirrored motion.
"""
from __future__ import annotations

import re

from ...motion.skeleton import OTHER_SIDE

PERSON = {"first": "the first person", "second": "the second person"}
OTHER = {"first": "second", "second": "first"}
COUNT_WORDS = {2: "[twice|two times]", 3: "three times", 4: "four times", 5: "five times"}
SPEED_ADVERB = {
    "slowly": "[slowly|at a slow pace|unhurriedly|leisurely]",
    "normally": "[|at a normal pace|at a steady pace]",
    "quickly": "[quickly|briskly|hurriedly|at a quick pace]",
}
TWO_PEOPLE = "[two people|the two people|both people]"
NUM_CAPTIONS = 3

_CHOICE = re.compile(r"\[([^\[\]]*)\]")


def expand(template: str, rng, **slots) -> str:
    """Fill the slots, resolve the alternatives (innermost first) and tidy the sentence."""
    text = template.format(**slots)
    while True:
        match = _CHOICE.search(text)
        if match is None:
            break
        options = match.group(1).split("|")
        text = text[:match.start()] + options[int(rng.integers(len(options)))] + text[match.end():]
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,;.])", r"\1", text)
    text = re.sub(r",\s*,", ",", text)
    text = text.rstrip(",;") + ("" if text.endswith(".") else ".")
    return text[0].upper() + text[1:]


def _roles(actor: str) -> dict:
    """Slots naming the actor A and the other B."""
    return {"A": PERSON[actor], "B": PERSON[OTHER[actor]]}


def _handshake(p):
    slots = {"h": p["hand"], "adv": SPEED_ADVERB[p["speed"]], "P1": PERSON["first"], "P2": PERSON["second"]}
    if p["initiator"] == "both":
        return slots, [
            TWO_PEOPLE + " walk {adv} toward each other and shake hands with their {h} hands",
            "{P1} and {P2} approach each other {adv} and shake {h} hands",
            "walking {adv} toward one another, [the two people|both people|the pair] meet and shake {h} hands",
            "[{P1} and {P2}|the two people] come together {adv} and greet each other with a {h}-handed handshake",
        ]
    slots.update(_roles(p["initiator"]))
    return slots, [
        "{A} walks {adv} [up to|over to|toward] {B} and they shake {h} hands",
        "{A} approaches {B} {adv} and [offers|extends|holds out] their {h} hand for a handshake, which {B} "
        "[accepts|takes|returns]",
        "{B} [stands still|waits] as {A} [comes over|walks up] {adv} and shakes their {h} hand",
        "after walking {adv} [up to|toward] {B}, {A} shakes hands with them using the {h} hand",
        "two people shake {h} hands after {A} walks over to {B} {adv}",
    ]


def _hug(p):
    slots = {"adv": SPEED_ADVERB[p["speed"]], "P1": PERSON["first"], "P2": PERSON["second"], "pat": ""}
    if p["pats"] == "yes":
        slots["pat"] = ", and " + PERSON[p["patter"]] + " [pats the other on the back|gives the other a few pats " \
                                                          "on the back]"
    if p["initiator"] == "both":
        return slots, [
            TWO_PEOPLE + " walk {adv} toward each other and [hug|embrace]{pat}",
            "{P1} and {P2} approach each other {adv} and share a [hug|warm hug|tight hug]{pat}",
            "[meeting|coming together] {adv}, [the two people|the pair] [hug|embrace] each other{pat}",
        ]
    slots.update(_roles(p["initiator"]))
    return slots, [
        "{A} walks {adv} [up to|over to|toward] {B} and [hugs them|gives them a hug|embraces them]{pat}",
        "{A} approaches {B} {adv}, opens their arms and the two [hug|embrace]{pat}",
        "{B} is [hugged|embraced] by {A}, who [comes over|walks up] {adv}{pat}",
        "after walking {adv} over to {B}, {A} [wraps their arms around them|pulls them into a hug]{pat}",
    ]


def _high_five(p):
    hand = p["hand"]
    slots = {"adv": SPEED_ADVERB[p["speed"]], "P1": PERSON["first"], "P2": PERSON["second"],
             "hands": "both hands" if hand == "both" else f"their {hand} hands",
             "one": "a double high five" if hand == "both" else f"a {hand}-handed high five"}
    if p["initiator"] == "both":
        return slots, [
            TWO_PEOPLE + " walk {adv} toward each other and high-five with {hands}",
            "{P1} and {P2} [meet|come together] {adv} and [do|give each other] {one}",
            "walking {adv} toward one another, [the two people|the pair] slap {hands} together [up high|high in the "
            "air]",
        ]
    slots.update(_roles(p["initiator"]))
    return slots, [
        "{A} walks {adv} [up to|over to] {B} and they high-five with {hands}",
        "{A} approaches {B} {adv} and gives them {one}",
        "after {A} [comes over|walks over] {adv}, the two slap {hands} together [up high|high in the air]",
        "{B} [gets|receives] {one} from {A}, who [walks up|comes over] {adv}",
    ]


def _bow(p):
    deep = p["depth"] == "deeply"
    slots = {"adv": SPEED_ADVERB[p["speed"]], "P1": PERSON["first"], "P2": PERSON["second"],
             "depth": "[deeply|low]" if deep else "[slightly|a little]",
             "bow": "a [deep|low] bow" if deep else "a [slight|small|shallow] bow"}
    if p["order"] == "together":
        return slots, [
            TWO_PEOPLE + " face each other and bow {depth} {adv} at the same time",
            "{P1} and {P2} bow {depth} to each other [together|simultaneously|in unison]",
            "[facing each other|standing face to face], both people [make|give] {bow} {adv} at the same time",
        ]
    slots.update(_roles(p["order"]))
    return slots, [
        "{A} bows {depth} to {B} {adv}, and {B} bows back",
        "{A} [makes|gives] {bow} {adv}, [then|after which] {B} returns the bow",
        "{B} bows {depth} in return after {A} bows to them {adv}",
        "[facing each other|standing face to face], {A} bows first and {B} answers with {bow}",
    ]


def _wave(p):
    slots = {"adv": SPEED_ADVERB[p["speed"]], "P1": PERSON["first"], "P2": PERSON["second"],
             "h1": p["hand1"], "h2": p["hand2"]}
    if p["order"] == "together":
        same = p["hand1"] == p["hand2"]
        return slots, [
            TWO_PEOPLE + " stand apart and wave at each other; {P1} uses the {h1} hand and {P2} the {h2} hand",
            "{P1} waves {adv} at {P2} with the {h1} hand while {P2} [also waves|waves at the same time] with "
            "the {h2} hand",
            ("standing at a distance, {P1} and {P2} wave to each other {adv}, both with their {h1} hands" if same
             else "standing at a distance, {P1} and {P2} wave to each other {adv} with their {h1} and {h2} hands "
                  "respectively"),
        ]
    first = p["order"]
    slots.update(_roles(first))
    slots["ha"], slots["hb"] = (p["hand1"], p["hand2"]) if first == "first" else (p["hand2"], p["hand1"])
    return slots, [
        "{A} waves {adv} at {B} with their {ha} hand, and {B} waves back with their {hb} hand",
        "{B} waves back with the {hb} hand after {A} waves {adv} at them with the {ha} hand",
        "[standing apart|from a distance], {A} raises their {ha} hand and waves to {B}, who [answers|responds] "
        "by waving their {hb} hand",
    ]


def _push(p):
    gentle = p["force"] == "gently"
    hands = p["hands"]
    slots = _roles(p["pusher"])
    slots.update({
        "force": "[gently|lightly|softly]" if gentle else "[hard|forcefully|roughly|violently]",
        "hands": "[with both hands|using both hands]" if hands == "both"
        else f"[with their {hands} hand|using the {hands} hand|one-handed with the {hands} hand]",
        "stagger": "[takes a small step back|steps back a little|is nudged back a step]" if gentle
        else "[staggers backward|stumbles back several steps|is sent staggering back]",
        "verb": "pushes" if gentle else "[pushes|shoves]",
    })
    return slots, [
        "{A} walks up to {B} and {verb} them {force} {hands}; {B} {stagger}",
        "{A} approaches {B} and {verb} them {force} {hands}, and {B} {stagger}",
        "{B} {stagger} after {A} {verb} them {force} {hands}",
        "after stepping forward, {A} {verb} {B} {force} {hands}, so {B} {stagger}",
    ]


def _strike(p):
    side = p["side"]
    slots = _roles(p["attacker"])
    punch = p["attack"] == "punch"
    if punch:
        attack = f"[throws a {side} punch at {{T}}|punches at {{T}} with the {side} hand|swings their {side} fist " \
                 f"at {{T}}]"
    else:
        attack = f"[kicks at {{T}} with their {side} leg|throws a {side} kick at {{T}}|aims a kick at {{T}} " \
                 f"with the {side} foot]"
    defense = {
        "blocks": "[blocks with both arms|raises both arms to block|blocks the blow with their forearms]" if punch
        else "[blocks the kick with both arms|blocks low with crossed arms]",
        "dodges": "[dodges by leaning aside|leans out of the way|sways aside to dodge]" if punch
        else "[steps back to dodge|backs out of reach|dodges by stepping back]",
        "ducks": "[ducks under the punch|ducks to avoid the blow|ducks down]",
    }[p["defense"]]
    slots["defense"] = defense
    return slots, [
        "{A} " + attack.replace("{T}", "{B}") + ", and {B} {defense}",
        "{B} {defense} as {A} " + attack.replace("{T}", "them"),
        "[facing each other|in a fight], {A} " + attack.replace("{T}", "{B}") + " while {B} {defense}",
    ]


def _chase(p):
    slots = _roles(p["chaser"])  # A chases B
    jog = p["pace"] == "jogs"
    turn = {"straight": "[|in a straight line|straight ahead]", "left": "[curving to the left|turning left|"
            "veering left]", "right": "[curving to the right|turning right|veering right]"}[p["turn"]]
    caught = p["outcome"] == "caught"
    slots.update({
        "runs": "[jogs|jogs off]" if jog else "[runs|sprints|dashes]",
        "running": "jogging" if jog else "running",
        "turn": turn,
        "outcome": "[and catches them by the shoulder|and grabs their shoulder in the end]" if caught
        else "[but cannot catch them|but falls behind|without catching them]",
        "outcome2": "[catches up and grabs their shoulder|eventually catches them]" if caught
        else "[never catches up|cannot keep up|falls behind]",
        "outcome3": "who [finally catches them|catches up at the end]" if caught
        else "who [cannot catch up|never catches them]",
    })
    return slots, [
        "{B} {runs} away {turn} and {A} [chases after them|follows in pursuit] {outcome}",
        "{A} chases {B}, who {runs} away {turn}; {A} {outcome2}",
        "{running} away {turn}, {B} is chased by {A}, {outcome3}",
    ]


def _circle(p):
    slots = {"adv": SPEED_ADVERB[p["speed"]], "P1": PERSON["first"], "P2": PERSON["second"],
             "dir": p["direction"] + "[| as seen from above| when viewed from above]",
             "amount": "[half a circle|a half circle]" if p["amount"] == "half" else "[a full circle|one full "
                                                                                     "circle]",
             "hold": "[, holding hands|, hand in hand|, holding both hands]" if p["holding"] == "yes" else ""}
    return slots, [
        TWO_PEOPLE + " face each other and [circle|move] {adv} around each other {dir}{hold}, [completing|making] "
        "{amount}",
        "{P1} and {P2} [side-step|step sideways] {adv} around one another {dir}{hold}, [completing|making] "
        "{amount}",
        "facing one another{hold}, the two people [rotate|turn] {amount} {dir} around their [shared "
        "center|midpoint] {adv}",
    ]


def _side_by_side(p):
    own, other = p["first_side"], OTHER_SIDE[p["first_side"]]
    turn = {"straight": "[|, going straight|, in a straight line]",
            "left": "[, and they turn left together|, curving to the left|, turning left along the way]",
            "right": "[, and they turn right together|, curving to the right|, turning right along the way]"}
    slots = {"adv": SPEED_ADVERB[p["speed"]], "P1": PERSON["first"], "P2": PERSON["second"], "s1": own,
             "s2": other, "turn": turn[p["turn"]],
             "hold": "[, holding hands|, hand in hand]" if p["holding"] == "yes" else ""}
    return slots, [
        TWO_PEOPLE + " walk side by side {adv}{hold}, with {P1} on the {s1}{turn}",
        "{P1} walks {adv} on the {s1} of {P2}{hold}{turn}",
        "{P2} and {P1} walk next to each other {adv}{hold}; {P2} is on the {s2} side{turn}",
        "side by side{hold}, {P1} on the {s1} and {P2} on the {s2} walk {adv}{turn}",
    ]


def _pass_by(p):
    side = p["side"]
    slots = {"adv": SPEED_ADVERB[p["speed"]], "P1": PERSON["first"], "P2": PERSON["second"], "s": side,
             "glance": "[, glancing at each other|, exchanging a glance|, looking at each other as they pass]"
             if p["glance"] == "yes" else "[| without looking at each other]"}
    return slots, [
        TWO_PEOPLE + " walk {adv} toward each other and pass each other on their {s} sides{glance}",
        "{P1} and {P2} approach from opposite directions {adv} and pass by, [{s} shoulder to {s} shoulder|each "
        "with the other on their {s}]{glance}",
        "walking {adv} in opposite directions, {P1} passes {P2} on the {s}{glance}",
    ]


def _dance(p):
    slots = {
        "P1": PERSON["first"], "P2": PERSON["second"],
        "mode": "[mirroring each other|as mirror images of each other|mirroring each other's moves]"
        if p["mode"] == "mirror" else "[doing the same moves|with identical moves|performing the same steps]",
        "move": {"steps": "[stepping from side to side|with side steps|swaying from side to side with their "
                          "arms up]",
                 "arms": "[raising their arms one after the other|alternately lifting their arms|lifting one "
                         "arm at a time]",
                 "twists": "[twisting their upper bodies|doing twists|twisting at the waist]"}[p["move"]],
        "tempo": "[slowly|to a slow beat|at a slow tempo]" if p["tempo"] == "slowly"
        else "[quickly|to a fast beat|energetically]",
    }
    return slots, [
        TWO_PEOPLE + " dance {tempo} facing each other, {move}, {mode}",
        "{P1} and {P2} dance {tempo} {mode}, {move}",
        "facing one another, the two [dance in sync|perform a synchronized dance] {tempo}, {move} and {mode}",
    ]


def _sneak(p):
    slots = _roles(p["sneaker"])
    side = p["shoulder"]
    if p["ending"] == "taps":
        slots["act"] = f"[taps them on the {side} shoulder|taps their {side} shoulder]"
    else:
        slots["act"] = "[startles them|scares them|throws up their arms to scare them]"
    return slots, [
        "{A} [sneaks|creeps|steals] up behind {B} and {act}; {B} turns around",
        "{B} is standing still when {A} [sneaks|creeps] up from behind and {act}, making {B} turn around",
        "[quietly|carefully|stealthily], {A} approaches {B} from behind [in a crouch|hunched over], then {act}, "
        "and {B} turns around",
    ]


def _crouching(p):
    slots = _roles(p["approacher"])
    slots["adv"] = SPEED_ADVERB[p["speed"]]
    hand = p["hand"]
    if p["ending"] == "helps_up":
        slots["end"] = (f"[helps them up with the {hand} hand|offers the {hand} hand and pulls them up|takes their "
                        f"{hand} hand and helps them stand up]")
    else:
        slots["end"] = "[crouches down in front of them|squats down facing them|crouches down too]"
    return slots, [
        "{A} walks {adv} over to {B}, who is [crouching|squatting] on the ground, and {end}",
        "{B} [crouches|squats] on the ground as {A} [approaches|comes over] {adv} and {end}",
        "[seeing|noticing] {B} crouching, {A} walks over {adv} and {end}",
    ]


def _repeated_gesture(p):
    count = COUNT_WORDS[p["count"]]
    gesture = p["gesture"]
    slots = {"adv": SPEED_ADVERB[p["speed"]], "N": count, "P1": PERSON["first"], "P2": PERSON["second"]}
    if gesture == "claps":
        slots["does"], slots["do"] = "claps [their hands|] {N}", "clap [their hands|] {N}"
    elif gesture == "waves":
        hand = p["hand"]
        slots["does"] = f"[waves {{N}} with the {hand} hand|waves their {hand} hand {{N}}]"
        slots["do"] = f"[wave {{N}} with their {hand} hands|wave their {hand} hands {{N}}]"
    else:
        slots["does"], slots["do"] = "nods [their head|] {N}", "nod {N}"
    slots["does"] = slots["does"].replace("{N}", count)
    slots["do"] = slots["do"].replace("{N}", count)
    if p["performer"] == "both":
        return slots, [
            "both people {do} {adv}",
            "the two people face each other and {do} {adv}",
            "{P1} and {P2} {do} at the same time",
        ]
    slots.update(_roles(p["performer"]))
    return slots, [
        "{A} {does} {adv} while {B} [watches|looks on]",
        "{B} [watches|looks at] {A}, who {does} {adv}",
        "standing in front of {B}, {A} {does} {adv}",
    ]


def _point(p):
    slots = _roles(p["pointer"])
    slots["s"] = p["side"]
    return slots, [
        "{A} points to their {s} and {B} turns to look [there|in that direction]",
        "{A} points off to their {s} with the {s} arm, [and|so] {B} turns to look",
        "with their {s} arm, {A} points [somewhere|at something] to their {s}, and {B} [turns toward it|looks "
        "over there]",
    ]


GRAMMARS = {
    "handshake": _handshake,
    "hug": _hug,
    "high_five": _high_five,
    "bow": _bow,
    "wave": _wave,
    "push": _push,
    "strike": _strike,
    "chase": _chase,
    "circle": _circle,
    "side_by_side": _side_by_side,
    "pass_by": _pass_by,
    "dance": _dance,
    "sneak": _sneak,
    "crouching": _crouching,
    "repeated_gesture": _repeated_gesture,
    "point": _point,
}


def describe(family: str, params: dict, rng, count: int = NUM_CAPTIONS) -> tuple[str, ...]:
    """``count`` different captions of a scene, each from a different template of its family."""
    if family not in GRAMMARS:
        raise ValueError(f"no grammar for family {family!r}; expected one of {sorted(GRAMMARS)}")
    slots, templates = GRAMMARS[family](params)
    if len(templates) < count:
        raise ValueError(f"family {family!r} has {len(templates)} templates, fewer than the {count} captions asked")
    chosen = rng.choice(len(templates), size=count, replace=False)
    return tuple(expand(templates[i], rng, **slots) for i in chosen)
