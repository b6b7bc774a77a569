"""Build tests/fixtures/official/: golden inputs and outputs of the official InterMask models.

This script runs the authors' code, not this project's, so it needs a throw-away environment with that
code's dependencies (and a checkout of github.com/gohar-malik/InterMask):

    python3 -m venv /tmp/official_venv
    /tmp/official_venv/bin/pip install torch==2.13.0 numpy einops positional-encodings==6.0.3 torch-geometric
    /tmp/official_venv/bin/python scripts/make_official_fixture.py --official /tmp/official_intermask \
        --commit <the checkout's commit id> --out tests/fixtures/official

Each official model is built at a small size wherever its constructor takes sizes (the CLIP-sized text parts
are hard-coded at width 768 and stay so), filled with seeded random weights, and run on fixed inputs. Every
seeded weight is stored as its recipe ``[shape, seed, mean, std]`` (``torch.randn(shape, generator=
torch.Generator().manual_seed(seed)) * std + mean``), which keeps the fixture small; tensors that are not
drawn that way (codebook, positional tables) are stored as values. CLIP itself is never loaded: a small
stand-in module gives the official code its token tables, and the captions map to fixed token ids.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import sys
import types
from argparse import Namespace
from pathlib import Path

import torch
from torch import nn

CONTEXT_LENGTH = 16  # token ids per caption in the fixture (CLIP uses 77; nothing depends on it)
VOCAB_SIZE = 64  # stand-in CLIP vocabulary; the end-of-text token is the largest id, as in CLIP
CLIP_WIDTH = 768
NUM_JOINTS = 22
FEATURE_DIM = 262
INTERX_ROWS = 56  # Inter-X's per-person rows: 55 SMPL-X joint rotations and the root translation


# ---- seeded weights --------------------------------------------------------------------------------------


def seeded_normal(shape, seed: int, mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(tuple(shape), generator=generator) * std + mean


def weight_statistics(name: str, tensor: torch.Tensor) -> tuple[float, float]:
    """(mean, std) of a random weight that keeps activations of order one through the layer."""
    if tensor.ndim >= 2:
        fan_in = tensor.numel() // tensor.shape[0]
        return 0.0, 1.0 / math.sqrt(fan_in)
    if name.endswith("weight"):  # a norm's gain
        return 1.0, 0.1
    return 0.0, 0.1


def fill_seeded(module: nn.Module, base_seed: int, keep=(), overrides=None) -> dict:
    """Overwrite every floating tensor of ``module``'s state dict except ``keep`` with seeded normals.

    Returns {key: recipe}. ``overrides`` gives (mean, std) for chosen keys.
    """
    overrides = overrides or {}
    recipes = {}
    with torch.no_grad():
        for index, (name, tensor) in enumerate(module.state_dict().items()):
            if name in keep or not tensor.is_floating_point():
                continue
            mean, std = overrides.get(name, weight_statistics(name, tensor))
            recipe = [list(tensor.shape), base_seed + index, mean, std]
            tensor.copy_(seeded_normal(*recipe))
            recipes[name] = recipe
    return recipes


def packed(state_dict: dict, recipes: dict) -> dict:
    """A state dict with every seeded tensor replaced by its recipe (a dict), the rest as values."""
    return {key: {"seeded_normal": recipes[key]} if key in recipes else value.detach().clone()
            for key, value in state_dict.items()}


# ---- a CLIP stand-in for the official modules ------------------------------------------------------------


class CLIPStandIn:
    """Answers ``clip.load`` and ``clip.tokenize`` for the official code without the real CLIP.

    ``load`` returns token tables of VOCAB_SIZE x 768 and CONTEXT_LENGTH positions, an identity text
    transformer and final norm, so the frozen text features are token + position embeddings.
    ``tokenize`` looks captions up in ``token_ids``.
    """

    def __init__(self):
        self.token_ids: dict[str, torch.Tensor] = {}
        self.seed = 0

    def module(self) -> types.ModuleType:
        module = types.ModuleType("clip")
        module.load = self.load
        module.tokenize = self.tokenize
        return module

    def load(self, name, device="cpu", jit=False):
        self.seed += 1
        model = Namespace(
            token_embedding=nn.Embedding(VOCAB_SIZE, CLIP_WIDTH),
            positional_embedding=nn.Parameter(torch.zeros(CONTEXT_LENGTH, CLIP_WIDTH)),
            transformer=nn.Identity(),
            ln_final=nn.Identity(),
            dtype=torch.float32,
        )
        with torch.no_grad():
            model.token_embedding.weight.copy_(seeded_normal((VOCAB_SIZE, CLIP_WIDTH), 900 + self.seed))
            model.positional_embedding.copy_(seeded_normal((CONTEXT_LENGTH, CLIP_WIDTH), 950 + self.seed, std=0.1))
        return model, None

    def tokenize(self, texts, truncate=True):
        return torch.stack([self.token_ids[text] for text in texts])

    def add_captions(self, lengths: list[int], seed: int) -> list[str]:
        """Captions whose token ids are [SOT, words..., EOT, 0...] with EOT the largest id."""
        generator = torch.Generator().manual_seed(seed)
        captions = []
        for index, length in enumerate(lengths):
            ids = torch.zeros(CONTEXT_LENGTH, dtype=torch.long)
            ids[0] = VOCAB_SIZE - 2
            ids[1:length - 1] = torch.randint(1, VOCAB_SIZE - 2, (length - 2,), generator=generator)
            ids[length - 1] = VOCAB_SIZE - 1
            caption = f"caption {seed}-{index}"
            self.token_ids[caption] = ids
            captions.append(caption)
        return captions


def install_official(official: Path) -> CLIPStandIn:
    """Make the official packages importable on a CPU-only machine without CLIP or the Inter-X data code."""
    sys.path.insert(0, str(official))
    stand_in = CLIPStandIn()
    sys.modules["clip"] = stand_in.module()
    # the Inter-X evaluator file imports dataset code (h5py, SMPL-X) that its three encoders never use
    for name in ("data.interx", "data.interx_utils"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["data.interx"].Text2MotionDatasetV2HHI = None
    sys.modules["data.interx"].collate_fn = None
    sys.modules["data.interx_utils"].InterxNormalizerTorch = None
    # the official quantiser creates its codebook with .cuda()
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    return stand_in


# ---- the four fixtures -----------------------------------------------------------------------------------


VQ_OPT = dict(name="vq_default", dataset_name="interhuman", checkpoints_dir="./checkpoints", nb_code=64,
              code_dim=32, output_emb_width=32, width=32, depth=2, dilation_growth_rate=3, down_t=2, stride_t=2,
              vq_act="relu", vq_norm=None, num_quantizers=1, shared_codebook=False, quantize_dropout_prob=0.2,
              mu=0.99, window_size=64, batch_size=256)

TRANS_OPT = dict(name="trans_default", vq_name="vq_default", dataset_name="interhuman",
                 checkpoints_dir="./checkpoints", latent_dim=32, n_heads=4, n_layers=2, ff_size=64, dropout=0.2,
                 cond_drop_prob=0.1, interaction_mask_prob=0.2, step_unroll=1.0, batch_size=52, seed=3407,
                 gumbel_sample=False, force_mask=False)

INTERCLIP_CFG = dict(NAME="InterCLIP", NUM_LAYERS=2, NUM_HEADS=8, DROPOUT=0.1, INPUT_DIM=258, LATENT_DIM=32,
                     FF_SIZE=64, ACTIVATION="gelu")


def vq_fixture(commit: str, dataset: str = "interhuman") -> dict:
    """The InterHuman VQ-VAE (graph layers, (batch, time, 262) features) or, with ``dataset="interx"``, the
    Inter-X one (strided convolutions over 56 rows of 6 channels, (batch, time, 56, 6) features)."""
    from models.vq.model import RVQVAE

    joints, channels, frame_shape = ((NUM_JOINTS, 12, (FEATURE_DIM,)) if dataset == "interhuman" else
                                     (INTERX_ROWS, 6, (INTERX_ROWS, 6)))
    vq_opt = {**VQ_OPT, "dataset_name": dataset}
    opt = Namespace(joints_num=joints, **vq_opt)
    vq = RVQVAE(opt, channels, opt.nb_code, opt.code_dim, opt.output_emb_width, opt.down_t, opt.stride_t,
                opt.width, opt.depth, opt.dilation_growth_rate, opt.vq_act, opt.vq_norm)
    codebook_key = "quantizer.layers.0.codebook"
    recipes = fill_seeded(vq, 1000, keep={codebook_key})
    vq.eval()
    with torch.no_grad():
        # codes taken from encoder outputs, as the official initialisation takes them from a batch
        calibration = seeded_normal((4, 32, *frame_shape), 1)
        latents = vq.encoder(vq.preprocess(calibration))
        vectors = latents.flatten(2).transpose(1, 2).reshape(-1, opt.code_dim)
        picks = torch.randperm(vectors.shape[0], generator=torch.Generator().manual_seed(2))[:opt.nb_code]
        vq.quantizer.layers[0].codebook = vectors[picks] + seeded_normal((opt.nb_code, opt.code_dim), 3, std=0.01)

        features = seeded_normal((3, 16, *frame_shape), 4)
        codes, _ = vq.encode(features)
        recon, _, _ = vq(features)
        decoded = vq.forward_decoder(codes)
    fixture = {
        "official_commit": commit,
        "opt": vq_opt,
        "checkpoint": {"vq_model": packed(vq.state_dict(), recipes), "ep": 7, "total_it": 700},
        "inputs": {"features": features},
        "outputs": {"codes": codes[..., 0], "recon": recon, "decoded": decoded},
    }
    return fixture


@contextlib.contextmanager
def recorded_gumbel_noise():
    """Collect the Gumbel noise the official sampler draws, one (batch, token, code) tensor per step.

    The official sampler draws it with the memory layout of its (permuted) logits, so a seed alone does not
    tell another implementation which number lands where; the recorded draws do.
    """
    from models.mask_transformer import tools

    draws, original = [], tools.gumbel_noise

    def recording(like):
        noise = original(like)
        draws.append(noise.contiguous().clone())
        return noise

    tools.gumbel_noise = recording
    try:
        yield draws
    finally:
        tools.gumbel_noise = original


def transformer_fixture(commit: str, stand_in: CLIPStandIn) -> dict:
    from models.mask_transformer.tools import lengths_to_mask
    from models.mask_transformer.transformer import MaskTransformer

    opt = Namespace(num_tokens=VQ_OPT["nb_code"], code_dim=VQ_OPT["code_dim"], **TRANS_OPT)
    model = MaskTransformer(code_dim=opt.code_dim, cond_mode="text", latent_dim=opt.latent_dim,
                            ff_size=opt.ff_size, num_layers=opt.n_layers, num_heads=opt.n_heads,
                            dropout=opt.dropout, clip_dim=CLIP_WIDTH, cond_drop_prob=opt.cond_drop_prob,
                            clip_version="ViT-L/14@336px", opt=opt)
    state = model.state_dict()
    # what the official trainer saves: everything but the frozen CLIP modules
    saved_keys = [key for key in state if not key.startswith("clip_")]
    keep = {key for key in state if key.startswith("clip_")} | {"position_enc.positional_encoding.inv_freq"}
    recipes = fill_seeded(model, 2000, keep=keep)
    model.eval()

    num_parts, max_steps = 5, 6
    lengths = torch.tensor([6, 4])
    batch = lengths.shape[0]
    generator = torch.Generator().manual_seed(20)
    padding = ~lengths_to_mask(lengths, max_steps).repeat(1, num_parts)  # (b, 2 * 5 * t), True = pad
    ids = torch.randint(0, opt.num_tokens, padding.shape, generator=generator)
    ids = torch.where(torch.rand(padding.shape, generator=generator) < 0.3, model.mask_id, ids)
    ids = torch.where(padding, model.pad_id, ids)
    text_features = seeded_normal((batch, CLIP_WIDTH), 21)
    captions = stand_in.add_captions([7, 11], seed=22)

    with torch.no_grad():
        logits = model.trans_forward(ids, text_features, padding)
        null_logits = model.trans_forward(ids, text_features, padding, force_mask=True)
        guided = model.forward_with_cond_scale(ids, text_features, padding, cond_scale=2.5)
        frozen_text = model.clip_token_embedding(stand_in.tokenize(captions)) + model.clip_positional_embedding
        encoded_text = model.encode_text(captions)

        runs = []
        for seed, options in [
            (31, dict(timesteps=5, cond_scale=2.0, temperature=1.0, topk_filter_thres=0.9, gsample=False)),
            (32, dict(timesteps=4, cond_scale=2.0, temperature=1.0, topk_filter_thres=0.9, gsample=True)),
            # the official multinomial sampling ignores its temperature
            (33, dict(timesteps=6, cond_scale=1.5, temperature=0.7, topk_filter_thres=0.8, gsample=False)),
        ]:
            torch.manual_seed(seed)
            with recorded_gumbel_noise() as noise:
                generated = model.generate(captions, lengths, **options)
            runs.append({"mode": "generate", "seed": seed, **options, "ids": generated, "gumbel_noise": noise})
        # reaction: near-zero temperature makes the Gumbel pick the arg-max whatever the draws
        actor = torch.randint(0, opt.num_tokens, (batch, num_parts * max_steps), generator=generator)
        options = dict(timesteps=8, cond_scale=2.0, temperature=1e-10, topk_filter_thres=0.9, gsample=True)
        torch.manual_seed(34)
        reaction = model.generate_reaction(captions, actor, lengths, **options)
        runs.append({"mode": "reaction", "seed": 34, **options, "actor_ids": actor, "ids": reaction})

    stats_generator = torch.Generator().manual_seed(23)
    stats = {"mean": torch.randn(FEATURE_DIM, generator=stats_generator) * 0.1,
             "std": torch.rand(FEATURE_DIM, generator=stats_generator) + 0.5}
    saved = {key: value for key, value in model.state_dict().items() if key in saved_keys}
    return {
        "official_commit": commit,
        "opt": TRANS_OPT,
        "checkpoint": {"t2m_transformer": packed(saved, recipes), "ep": 42, "total_it": 4200},
        "stats": stats,
        "inputs": {"ids": ids, "padding": padding, "lengths": lengths, "text_features": text_features,
                   "frozen_text": frozen_text, "eot_index": stand_in.tokenize(captions).argmax(dim=-1)},
        "outputs": {"logits": logits, "null_logits": null_logits, "guided_logits": guided, "cond_scale": 2.5,
                    "encoded_text": encoded_text},
        "generation": runs,
    }


def interclip_fixture(commit: str, stand_in: CLIPStandIn) -> dict:
    from models.text_motion_evaluators.evaluator_models import InterCLIP

    model = InterCLIP(Namespace(**INTERCLIP_CFG))
    keep = {"motion_encoder.sequence_pos_encoder.pe"}
    recipes = fill_seeded(model, 3000, keep=keep, overrides={"latent_scale": (3.0, 0.0)})
    model.eval()
    lengths = torch.tensor([20, 13, 7])
    motions = seeded_normal((3, 20, 2 * FEATURE_DIM), 40)
    captions = stand_in.add_captions([5, 16, 9], seed=41)
    with torch.no_grad():
        text = model.encode_text({"text": captions})["text_emb"]
        motion = model.encode_motion({"motions": motions, "motion_lens": lengths})["motion_emb"]
    state = {f"model.{key}": value for key, value in packed(model.state_dict(), recipes).items()}
    return {
        "official_commit": commit,
        "cfg": INTERCLIP_CFG,
        # InterGen's evaluator checkpoint: a Lightning checkpoint whose keys carry the wrapper's "model." prefix
        "checkpoint": {"state_dict": state, "epoch": 5},
        "inputs": {"motions": motions, "lengths": lengths, "token_ids": stand_in.tokenize(captions)},
        "outputs": {"text_emb": text, "motion_emb": motion},
    }


def interx_fixture(commit: str) -> dict:
    from models.text_motion_evaluators.evaluator_interx import (MotionEncoderBiGRUCo, MovementConvEncoder,
                                                   TextEncoderBiGRUCo)

    sizes = dict(dim_pose=56 * 12, movement_hidden=16, movement_latent=16, motion_hidden=24, word=12, pos=15,
                 text_hidden=16, coemb=8, unit_length=4)
    encoders = {
        "movement_encoder": MovementConvEncoder(sizes["dim_pose"], sizes["movement_hidden"], sizes["movement_latent"]),
        "text_encoder": TextEncoderBiGRUCo(sizes["word"], sizes["pos"], sizes["text_hidden"], sizes["coemb"], "cpu"),
        "motion_encoder": MotionEncoderBiGRUCo(sizes["movement_latent"], sizes["motion_hidden"], sizes["coemb"],
                                               "cpu"),
    }
    checkpoint = {"epoch": 9}
    for index, (name, encoder) in enumerate(encoders.items()):
        recipes = fill_seeded(encoder, 4000 + 100 * index)
        encoder.eval()
        checkpoint[name] = packed(encoder.state_dict(), recipes)

    # the official wrapper feeds batches sorted by decreasing length (packing needs it)
    motion_lengths = torch.tensor([24, 17, 12])
    motions = seeded_normal((3, 24, 56, 12), 50)
    caption_lengths = torch.tensor([9, 7, 4])
    words = seeded_normal((3, 9, sizes["word"]), 51)
    pos = torch.nn.functional.one_hot(torch.randint(0, sizes["pos"], (3, 9), generator=torch.Generator()
                                                    .manual_seed(52)), sizes["pos"]).float()
    with torch.no_grad():
        prepared = motions.clone()
        prepared[:, :, -1, 9:] = 0
        prepared[:, :, -1, 3:6] = 0
        movements = encoders["movement_encoder"](prepared.reshape(3, 24, -1))
        motion = encoders["motion_encoder"](movements, motion_lengths // sizes["unit_length"])
        text = encoders["text_encoder"](words, pos, caption_lengths)
    return {
        "official_commit": commit,
        "sizes": sizes,
        "checkpoint": checkpoint,
        "inputs": {"motions": motions, "motion_lengths": motion_lengths, "word_embs": words, "pos_onehot": pos,
                   "caption_lengths": caption_lengths},
        "outputs": {"text_emb": text, "motion_emb": motion},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, required=True, help="checkout of the official InterMask code")
    parser.add_argument("--commit", required=True, help="the checkout's commit id, recorded in the fixture")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    torch.set_num_threads(1)
    stand_in = install_official(args.official.resolve())
    args.out.mkdir(parents=True, exist_ok=True)
    fixtures = {
        "vqvae.pt": vq_fixture(args.commit),
        "vqvae_interx.pt": vq_fixture(args.commit, "interx"),
        "transformer.pt": transformer_fixture(args.commit, stand_in),
        "interclip.pt": interclip_fixture(args.commit, stand_in),
        "interx_matching.pt": interx_fixture(args.commit),
    }
    for name, fixture in fixtures.items():
        torch.save(fixture, args.out / name)
        print(f"{args.out / name}: {(args.out / name).stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
