"""python -m intermask.data.synthetic [out=data/synthetic] [num_clips=4000] [seed=0] [workers=1] [overwrite=false]

Writes the synthetic interaction dataset in the InterHuman layout. Normalisation statistics are computed from
the train split by the dataset reader on first use.
"""
from __future__ import annotations

import difflib
import sys

from .writer import generate_dataset

DEFAULTS = {"out": "data/synthetic", "num_clips": "4000", "seed": "0", "workers": "1", "overwrite": "false"}
TRUE, FALSE = {"1", "true", "yes"}, {"0", "false", "no"}


def parse_arguments(argv: list[str]) -> dict:
    """``key=value`` arguments over the defaults; unknown keys and malformed values raise ValueError."""
    values = dict(DEFAULTS)
    for argument in argv:
        key, sep, value = argument.partition("=")
        if not sep or key not in DEFAULTS:
            near = difflib.get_close_matches(key, list(DEFAULTS), n=1, cutoff=0.6)
            raise ValueError(f"unknown argument {argument!r}" + (f" (did you mean {near[0]}=...?)" if near else "") +
                             f"; expected key=value with key in {sorted(DEFAULTS)}")
        values[key] = value
    parsed = {"out": values["out"]}
    for key in ("num_clips", "seed", "workers"):
        try:
            parsed[key] = int(values[key])
        except ValueError:
            raise ValueError(f"{key} must be an integer, got {values[key]!r}") from None
    flag = values["overwrite"].lower()
    if flag not in TRUE | FALSE:
        raise ValueError(f"overwrite must be true or false, got {values['overwrite']!r}")
    parsed["overwrite"] = flag in TRUE
    return parsed


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(argument in ("-h", "--help") for argument in argv):
        print(__doc__.strip())
        return 0
    try:
        args = parse_arguments(argv)
        root = generate_dataset(args["out"], num_clips=args["num_clips"], seed=args["seed"], progress=True,
                                workers=args["workers"], overwrite=args["overwrite"])
    except (ValueError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    print(f"wrote {args['num_clips']} clips to {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
