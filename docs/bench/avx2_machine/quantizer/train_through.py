"""`python -m intermask.train` with the VQ-VAE's quantiser passed through: each encoder output reaches the decoder as
it is (a plain autoencoder of the same trunk; the codebook still follows its EMA, the commitment term is zero).

    python docs/bench/avx2_machine/quantizer/train_through.py vqvae experiment=demo experiment_name=through ...
"""
import sys

from intermask.models import quantizer

quantize = quantizer.EMAQuantizer.forward


def through(self, z):
    _, codes, commit, stats = quantize(self, z)
    return z, codes, commit * 0, stats


quantizer.EMAQuantizer.forward = through
from intermask import train  # noqa: E402

sys.argv = ["intermask.train", *sys.argv[1:]]
train.main()
