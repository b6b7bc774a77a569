"""python -m intermask.convert [OFFICIAL_DIR] official_dir=PATH out=DIR [key=value ...]

Turns the published weights of a checkout of the official code into this library's self-describing checkpoints
(``official.conversion`` does the work).
"""
from __future__ import annotations

import logging
from pathlib import Path

from .cli import UsageError, front, positional, quote, run

log = logging.getLogger("intermask.convert")


def translate(argv: list[str]) -> list[str]:
    """An optional positional checkout path -> ``official_dir=PATH``."""
    names, rest = positional(argv)
    if len(names) > 1:
        raise UsageError(f"one official checkout expected, got {names}")
    return [f"official_dir={quote(names[0])}", *rest] if names else rest


def job(cfg) -> dict[str, Path]:
    from .official.conversion import convert_official_dir

    if not cfg.official_dir:
        raise UsageError("which checkout? python -m intermask.convert official_dir=PATH out=DIR")
    written = convert_official_dir(cfg.official_dir, cfg.out, dataset=cfg.dataset, name=cfg.name, which=cfg.which,
                                   vq_which=cfg.vq_which, evaluators=bool(cfg.evaluators),
                                   trust_pickle=bool(cfg.trust_pickle),
                                   max_frames=None if cfg.max_frames is None else int(cfg.max_frames))
    log.info("written:\n%s", "\n".join(f"  {kind:16s} {path}" for kind, path in written.items()))
    return written


@front
def main(argv: list[str]) -> None:
    run("convert", job, translate(argv))


if __name__ == "__main__":
    main()
