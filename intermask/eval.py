"""python -m intermask.eval --dataset {synthetic,interhuman,interx} [--quick] [--reconstruction] [ckpt=...] [key=value ...]"""
from __future__ import annotations

import logging

from .cli import UsageError, config_choices, front, positional, run, split_flags

log = logging.getLogger("intermask.eval")


def translate(argv: list[str]) -> list[str]:
    found, rest = split_flags(argv, {"--dataset": "data"}, switches={"--quick": "quick",
                                                                                "--reconstruction": "reconstruction"})
    names, rest = positional(rest)
    if names:
        raise UsageError(f"unexpected argument(s) {names}; choose the dataset with --dataset NAME")
    datasets = config_choices("data")
    for name in found.get("data", []):
        if name not in datasets:
            raise UsageError(f"--dataset {name}: no such dataset; the datasets are {', '.join(datasets)}")
    return [f"{key}={values[0]}" for key, values in found.items()] + rest


def job(cfg) -> None:
    from .evaluation_run import evaluate_from_config

    table, paths = evaluate_from_config(cfg)
    print(table)
    log.info("written: %s", ", ".join(str(p) for p in paths))


@front
def main(argv: list[str]) -> None:
    run("eval", job, translate(argv))


if __name__ == "__main__":
    main()
