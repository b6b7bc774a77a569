"""The published InterMask modules, driven on the same inputs as ``bench.py`` drives ours.

Only ``bench.py --reference DIR`` imports this file, with DIR a checkout of the published code; it is never
part of the ``intermask`` package. That code needs packages the project does not depend on (torch_geometric,
positional-encodings), so run it from a throw-away environment, e.g.

    python3 -m venv /tmp/bench_venv
    /tmp/bench_venv/bin/pip install torch==2.13.0 torch_geometric positional-encodings einops numpy tqdm scipy omegaconf
    /tmp/bench_venv/bin/pip install -e . --no-deps
    /tmp/bench_venv/bin/python scripts/bench.py --reference /tmp/official_intermask ...

What is adapted so the published modules run here, without changing what they compute:
- their text tower (CLIP, weights from the network) is not built and ``encode_text`` passes the given text
  feature through, so both sides time the transformer on the same (batch, 768) condition;
- the ``clip`` package, imported at module load but never called then, is replaced by an empty module when absent;
- the quantiser allocates its codebook with ``.cuda()``; while the models are built that call lands on the
  benchmark device instead;
- the loss module reads its normalisation statistics relative to the checkout, so it is built from there.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import torch
from einops import rearrange


@contextlib.contextmanager
def _working_directory(path: Path):
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def _cuda_calls_land_on(device: torch.device):
    """``tensor.cuda()`` inside the block moves to ``device`` (the published quantiser hard-codes CUDA)."""
    original = torch.Tensor.cuda
    torch.Tensor.cuda = lambda tensor, *args, **kwargs: tensor.to(device)
    try:
        yield
    finally:
        torch.Tensor.cuda = original


class OfficialCode:
    """The published modules imported from a checkout at ``reference_dir``."""

    def __init__(self, reference_dir: str | os.PathLike):
        self.root = Path(reference_dir).resolve()
        for expected in ("models/vq/model.py", "models/mask_transformer/transformer.py", "models/losses.py"):
            if not (self.root / expected).is_file():
                raise FileNotFoundError(f"--reference {self.root}: no {expected}; pass a checkout of the published "
                                        f"InterMask code")
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        try:
            importlib.import_module("clip")
        except ImportError:
            sys.modules["clip"] = types.ModuleType("clip")
        try:
            self.vq_model = importlib.import_module("models.vq.model")
            self.losses = importlib.import_module("models.losses")
            self.transformer = importlib.import_module("models.mask_transformer.transformer")
        except ImportError as error:
            raise ImportError(f"the published code at {self.root} needs a package that is missing here ({error}); "
                              f"install it in a throw-away environment, never in the project's") from error

    def vqvae(self, size: dict, device: torch.device) -> torch.nn.Module:
        """The published RVQVAE with the sizes of our ``MotionVQVAE`` config ``size``."""
        args = SimpleNamespace(joints_num=22, dataset_name="interhuman", num_quantizers=1, shared_codebook=False,
                               quantize_dropout_prob=0.2, mu=size.get("decay", 0.99))
        with _cuda_calls_land_on(device):
            model = self.vq_model.RVQVAE(args, input_dim=12, nb_code=size["num_codes"], code_dim=size["code_dim"],
                                         output_emb_width=size["code_dim"], down_t=2, stride_t=2,
                                         width=size["width"], depth=size["depth"],
                                         dilation_growth_rate=size["dilation_growth"], activation="relu", norm=None)
        return model.to(device)

    def vq_loss(self, device: torch.device):
        with _working_directory(self.root):
            return self.losses.Geometric_Losses("l1_smooth", 22, "interhuman", device)

    def mask_transformer(self, size: dict, num_codes: int, device: torch.device) -> torch.nn.Module:
        """The published MaskTransformer with our transformer config ``size``; text comes in as a feature."""
        base = self.transformer.MaskTransformer

        class FeatureConditioned(base):
            def load_and_freeze_clip(self, clip_version):
                pass

            def encode_text(self, raw_text):
                return raw_text

        opt = SimpleNamespace(num_tokens=num_codes, interaction_mask_prob=0.2, step_unroll=1.0)
        with contextlib.redirect_stdout(None):  # it announces its sizes on stdout
            model = FeatureConditioned(code_dim=size["token_dim"], cond_mode="text", latent_dim=size["dim"],
                                       ff_size=size["ff_dim"], num_layers=size["depth"], num_heads=size["heads"],
                                       dropout=size["dropout"], clip_dim=size["text_dim"],
                                       cond_drop_prob=size.get("cond_drop_prob", 0.1), opt=opt)
        return model.to(device)


def flat_ids(ids: torch.Tensor) -> torch.Tensor:
    """Our (b, n, p, t) token maps in the published (b, n p t) layout: person-major, part-major."""
    return rearrange(ids, "b n p t -> b (n p t)")


def vq_loss(model, loss_fn, features: torch.Tensor, weights) -> torch.Tensor:
    """The published VQ-VAE's forward and its weighted geometric losses, as one scalar."""
    recon, commit, _ = model(features)
    rec, explicit, vel, bone, geo, contact, _, _ = loss_fn.forward(features, recon)
    return (rec + weights.commit * commit + weights.position * explicit + weights.velocity * vel
            + weights.bone * bone + weights.geodesic * geo + weights.foot_contact * contact)


def transformer_loss(model, ids: torch.Tensor, cond: torch.Tensor, lengths_tokens: torch.Tensor) -> torch.Tensor:
    """The published transformer's loss (masking, BERT corruption, step unroll) on our (b, 2, p, t) ids."""
    return model(flat_ids(ids), cond, lengths_tokens)[0]


@torch.no_grad()
def sample(transformer, vq, cond: torch.Tensor, lengths_tokens: torch.Tensor, steps: int, cond_scale: float,
           autocast) -> torch.Tensor:
    """Published decoding of both persons' tokens, then the VQ decoder per person: features (b, frame, 2 * 262)."""
    with autocast():
        ids = transformer.generate(cond, lengths_tokens, steps, cond_scale, topk_filter_thres=0.9, temperature=1)
        first, second = ids.chunk(2, dim=-1)
        # the published code marks padding with -1, which its decoder would gather from; clips here are full length
        return torch.cat([vq.forward_decoder(first.unsqueeze(-1)), vq.forward_decoder(second.unsqueeze(-1))], dim=-1)
