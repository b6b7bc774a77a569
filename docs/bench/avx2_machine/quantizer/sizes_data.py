"""The synthetic data generator with the body scales drawn from another range: LOW HIGH then the generator's own
arguments. The generator's random draws stay the same (a scale is LOW + (HIGH - LOW) * u for the u it drew), so the
scenes are the same but for the people's sizes (the data's range: 0.85-1.15).

    python docs/bench/avx2_machine/quantizer/sizes_data.py 1.0 1.0 out=data/synthetic_demo_one_size num_clips=1000
"""
import sys

from intermask.data.synthetic import families

low, high = float(sys.argv[1]), float(sys.argv[2])


def draw_scales(rng):
    return low + (high - low) * rng.uniform(0.0, 1.0, size=2)


families.draw_scales = draw_scales
from intermask.data.synthetic.__main__ import main  # noqa: E402

sys.exit(main(sys.argv[3:]))
