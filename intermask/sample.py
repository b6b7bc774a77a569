"""python -m intermask.sample --text "..." [--text ...] [flags] [key=value ...]"""
from __future__ import annotations

import logging

from .cli import UsageError, front, positional, quote, quote_list, run, split_flags

log = logging.getLogger("intermask.sample")

FLAGS = {"--text": "sample.texts", "--texts-file": "sample.texts_file", "--length": "sample.length",
         "--num-samples": "sample.num_samples", "--seed": "sample.seed", "--steps": "sample.steps",
         "--cond-scale": "sample.cond_scale", "--collision-rounds": "sample.collision_rounds",
         "--collision-steps": "sample.collision_steps",
         "--remask-noise": "sample.remask_noise", "--lowpass": "sample.lowpass_hz",
         "--separate-bodies": "sample.separate_bodies",
         "--temperature": "sample.temperature",
         "--topk-ratio": "sample.topk_ratio", "--out": "sample.out", "--reaction-to": "sample.reaction_to",
         "--reaction-person": "sample.reaction_person", "--edit": "sample.edit", "--keep": "sample.keep",
         "--change": "sample.change", "--edit-person": "sample.edit_person", "--edit-parts": "sample.edit_parts",
         "--then": "sample.then", "--overlap": "sample.overlap", "--blend-frames": "sample.blend_frames",
         "--sizes": "sample.sizes"}
TEXT_FLAGS = {"sample.texts", "sample.texts_file", "sample.out", "sample.reaction_to", "sample.edit",
              "sample.edit_parts", "sample.edit_person"}
LIST_FLAGS = {"sample.texts", "sample.keep", "sample.change", "sample.then"}


def translate(argv: list[str]) -> list[str]:
    found, rest = split_flags(argv, FLAGS, repeatable=("--text", "--keep", "--change", "--then"),
                              switches={"--gumbel": "sample.gumbel"})
    names, rest = positional(rest)
    if names:
        raise UsageError(f"unexpected argument(s) {names}; give prompts with --text \"...\"")
    overrides = []
    for key, values in found.items():
        if key in LIST_FLAGS:
            overrides.append(f"{key}={quote_list(values)}")
        elif key in TEXT_FLAGS:
            overrides.append(f"{key}={quote(values[0])}")
        elif key == "sample.sizes":  # --sizes 1.1,0.9
            overrides.append(f"{key}=[{values[0]}]")
        else:
            overrides.append(f"{key}={values[0]}")
    return [*overrides, *rest]


def job(cfg) -> None:
    from .sampling import sample_from_config

    for name, files in sample_from_config(cfg).items():
        log.info("%s:\n%s", name, "\n".join(f"  {fmt:5s} {path}" for fmt, path in files.items()))


@front
def main(argv: list[str]) -> None:
    run("sample", job, translate(argv))


if __name__ == "__main__":
    main()
