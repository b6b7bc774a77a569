"""python -m intermask.render PATH.npy|CLIP_NAME [key=value ...]: video, BVH, web viewer and arrays."""
from __future__ import annotations

import logging

from .cli import UsageError, front, positional, quote, run

log = logging.getLogger("intermask.render")


def translate(argv: list[str]) -> list[str]:
    names, rest = positional(argv)
    if len(names) > 1:
        raise UsageError(f"one input expected, got {names}")
    return [f"input={quote(names[0])}", *rest] if names else rest


def job(cfg) -> None:
    from .rendering import render_from_config

    files = render_from_config(cfg)
    log.info("written:\n%s", "\n".join(f"  {fmt:5s} {path}" for fmt, path in files.items()))


@front
def main(argv: list[str]) -> None:
    run("render", job, translate(argv))


if __name__ == "__main__":
    main()
