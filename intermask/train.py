"""python -m intermask.train {vqvae,transformer,evaluator} [key=value ...]"""
from __future__ import annotations

import logging

from .cli import UsageError, front, positional, run

KINDS = ("vqvae", "transformer", "evaluator")
log = logging.getLogger("intermask.train")


def translate(argv: list[str]) -> list[str]:
    """``vqvae key=value`` -> ``kind=vqvae train=vqvae key=value``."""
    names, rest = positional(argv)
    if len(names) > 1:
        raise UsageError(f"one model name expected, got {names}")
    if not names:
        if any(a in ("--help", "-h", "--hydra-help") or a.startswith("--cfg") or a == "-c" for a in rest):
            return rest
        raise UsageError(f"which model? python -m intermask.train {{{','.join(KINDS)}}} [key=value ...]")
    if names[0] not in KINDS:
        raise UsageError(f"unknown model {names[0]!r}; choose one of {', '.join(KINDS)}")
    return [f"kind={names[0]}", f"train={names[0]}", *rest]


def job(cfg) -> dict:
    from .training.tasks import build_trainer

    trainer = build_trainer(cfg)
    log.info("training %s on %s -> %s", cfg.kind, cfg.data.name, trainer.run_dir)
    metrics = trainer.fit()
    log.info("done: %s", ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())))
    log.info("checkpoint: %s", trainer.run_dir / "last.pt")
    return metrics


@front
def main(argv: list[str]) -> None:
    run("train", job, translate(argv))


if __name__ == "__main__":
    main()
