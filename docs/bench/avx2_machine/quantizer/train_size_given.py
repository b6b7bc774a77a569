"""`python -m intermask.train` with the VQ-VAE's decoder told each window's true skeleton size: the mean length of the
window's bones (from its positions), z-scored over the data's 0.381 m spread, added to every code vector through a
learnt projection. An upper bound for a tokenizer that carries the person's size in a code of its own beside the
motion's tokens.

    python docs/bench/avx2_machine/quantizer/train_size_given.py vqvae experiment=demo experiment_name=size_given ...
    python docs/bench/avx2_machine/quantizer/probe_size_given.py CKPT experiment=demo   # body_size_probe.py on it
"""
import sys

from einops import rearrange
from torch import nn

from intermask.models import vqvae
from intermask.models.vqvae import features_to_joint_grid, joint_grid_to_features
from intermask.motion.skeleton import PARENTS

SIZE_MEAN, SIZE_STD = 4.284, 0.381  # the demo data's skeleton size per window (body_size_probe.txt), m of bones
built = vqvae.MotionVQVAE.__init__
normalizer = {}


def init(self, *args, **kwargs):
    built(self, *args, **kwargs)
    self.size_code = nn.Linear(1, self.quantizer.code_dim)


def skeleton_size(features):  # normalised (b, t, 262) -> (b, 1), z-scored
    raw = features * normalizer["std"] + normalizer["mean"]
    joints = raw[..., :66].unflatten(-1, (22, 3))
    size = (joints[..., 1:, :] - joints[..., list(PARENTS[1:]), :]).norm(dim=-1).sum(-1).mean(1, keepdim=True)
    return (size - SIZE_MEAN) / SIZE_STD


def forward(self, features):
    self._check_features(features)
    latent = self.encoder(features_to_joint_grid(features, self.layout))
    parts, steps = latent.shape[2:]
    quantized, codes, commit_loss, stats = self.quantizer(self._latent_to_vectors(latent))
    quantized = quantized + self.size_code(skeleton_size(features))[:, None, :]
    quantized = rearrange(quantized, "b (p t) d -> b d p t", p=parts, t=steps)
    recon = joint_grid_to_features(self.decoder(quantized), self.layout)
    return dict(recon=recon, commit_loss=commit_loss, perplexity=stats["perplexity"], usage=stats["usage"],
                codes=rearrange(codes, "b (p t) -> b p t", p=parts))


vqvae.MotionVQVAE.__init__ = init
vqvae.MotionVQVAE.forward = forward

from intermask.training import tasks  # noqa: E402

task_init = tasks.VQTask.__init__


def keep_normalizer(self, model, normalizer_, *args, **kwargs):
    task_init(self, model, normalizer_, *args, **kwargs)
    normalizer["mean"], normalizer["std"] = self.mean, self.std


tasks.VQTask.__init__ = keep_normalizer
if __name__ == "__main__":
    from intermask import train

    sys.argv = ["intermask.train", *sys.argv[1:]]
    train.main()
