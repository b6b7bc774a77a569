"""Shrink a result's GIF for the README: every Nth frame, each side divided by a factor, the same playing speed.

    python scripts/shrink_gif.py IN.gif OUT.gif [--every 3] [--reduce 2]
"""
from __future__ import annotations

import argparse

from PIL import Image, ImageSequence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--every", type=int, default=3, help="keep every Nth frame")
    parser.add_argument("--reduce", type=int, default=2, help="divide width and height by this")
    args = parser.parse_args()
    with Image.open(args.source) as gif:
        duration = gif.info.get("duration", 33) * args.every
        frames = [frame.convert("RGB").reduce(args.reduce)
                  for k, frame in enumerate(ImageSequence.Iterator(gif)) if k % args.every == 0]
    palette = frames[0].quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    frames = [frame.quantize(palette=palette) for frame in frames]
    frames[0].save(args.target, save_all=True, append_images=frames[1:], duration=duration, loop=0, optimize=True)


if __name__ == "__main__":
    main()
