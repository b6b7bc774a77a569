"""The published checkpoints' tensor names and sizes, mapped onto this library's models.

Three kinds of published weights load here:
- the InterMask VQ-VAE and Inter-M transformer (``vq_model``/``net`` and ``t2m_transformer``/``trans`` entries);
- InterGen's InterCLIP evaluator (``interclip.ckpt``: a ``state_dict`` whose keys carry a ``model.`` prefix);
- Inter-X's text–motion matching evaluator (``finest.tar``: one state dict per encoder).

Every conversion is strict: each published tensor lands in exactly one place, each tensor of ours comes from
exactly one published tensor (or is derived from one, such as the quantiser's EMA sums), shapes must agree,
and the first key that breaks any of this is named in an ``OfficialCheckpointError``. Sizes are read from the
tensors; what no tensor tells (attention heads, dilation growth, dropout) comes from the run's option file.

Transformer keys (i = block, k = FFN layer 0 or 3, p = weight | bias):

    token_emb.weight                                   -> transformer.token_emb.weight
    input_process.poseEmbedding.p                      -> transformer.input_proj.p
    cond_emb.p                                         -> transformer.text_projection.p
    Transformer.blocks.i.adaLN_mod_combined.model.1.p  -> transformer.blocks.i.joint_modulation.net.1.p
    Transformer.blocks.i.self_attn.attention.*         -> transformer.blocks.i.self_attn.*
    Transformer.blocks.i.ffn_combined.model.k.p        -> transformer.blocks.i.joint_ffn.net.k.p
    Transformer.blocks.i.adaLN_mod_split.model.1.p     -> transformer.blocks.i.person_modulation.net.1.p
    Transformer.blocks.i.spa_temp_attn.spatial_attention.*    -> transformer.blocks.i.spatial_attn.*
    Transformer.blocks.i.spa_temp_attn.temporal_attention.*   -> transformer.blocks.i.temporal_attn.*
    Transformer.blocks.i.local_inter_attn.interaction_attention.* -> transformer.blocks.i.cross_attn.*
    Transformer.blocks.i.ffn_split.model.k.p           -> transformer.blocks.i.person_ffn.net.k.p
    output_process.dense.p                             -> transformer.head.dense.p
    output_process.adaLN_mod.model.1.p                 -> transformer.head.modulation.net.1.p
    output_process.poseFinal.p                         -> transformer.head.to_logits.p
    clipTrans.*                                        -> text_encoder.transformer.*
    clipln.p                                           -> text_encoder.final_norm.p
    position_enc.positional_encoding.inv_freq          checked against our fixed 2D sinusoid, then dropped

where an attention's ``in_proj_weight``/``in_proj_bias`` become ``in_proj.weight``/``in_proj.bias``. The
VQ-VAE's table is ``vq_key_table`` (the same renaming as ``vqvae.official_key_to_ours``).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from ..generation.interaction_model import InterMask
from ..models.text import FrozenTextBackbone, TextEncoder
from ..models.text_motion_evaluators import InterCLIPEvaluator, InterXMatchingEvaluator, interclip_state_dict
from ..models.transformer import InterMTransformer
from ..models.vqvae import MotionVQVAE
from ..motion.layout import INTERHUMAN, INTERX, FeatureLayout

# what the official code fixes rather than its option files
OFFICIAL_NUM_PARTS = 5
# the longest motion a published transformer was trained on: InterHuman crops 300 frames (75 token steps),
# Inter-X 150 (37 whole token steps)
OFFICIAL_MAX_FRAMES = {"interhuman": 300, "interx": 150}
OFFICIAL_VQ_DROPOUT = 0.2
OFFICIAL_VQ_GUMBEL_TEMPERATURE = 0.5
OFFICIAL_TEXT_HEADS = 8
OFFICIAL_TEXT_DROPOUT = 0.1
OFFICIAL_INTERX_UNIT_LENGTH = 4

INTERX_ENCODERS = ("movement_encoder", "motion_encoder", "text_encoder")


class OfficialCheckpointError(ValueError):
    """A published checkpoint does not fit the model it should become; the message names the key."""


# ---- two-way key tables ------------------------------------------------------------------------------------

# the values a {placeholder} in a key pattern may take
PLACEHOLDERS = {"i": r"\d+", "k": r"\d+", "g": r"[12]", "p": r"weight|bias", "lin": r"lin|lin_l|lin_r",
                "rest": r".+"}


def _compile(pattern: str) -> re.Pattern:
    regex = re.escape(pattern)
    for name, values in PLACEHOLDERS.items():
        regex = regex.replace(re.escape("{" + name + "}"), f"(?P<{name}>{values})")
    return re.compile(regex)


@dataclass(frozen=True)
class KeyTable:
    """Pairs of (official pattern, our pattern) with ``{placeholders}``, read in either direction."""

    rules: tuple[tuple[str, str], ...]

    def _translate(self, key: str, source: int) -> str | None:
        for rule in self.rules:
            match = _compile(rule[source]).fullmatch(key)
            if match:
                return rule[1 - source].format(**match.groupdict())
        return None

    def to_ours(self, official_key: str) -> str | None:
        return self._translate(official_key, 0)

    def to_official(self, our_key: str) -> str | None:
        return self._translate(our_key, 1)


def _attention_rules(official: str, ours: str) -> list[tuple[str, str]]:
    """torch.nn.MultiheadAttention's packed projection -> ours (see ``attention.MultiheadAttention``)."""
    return [(f"{official}.in_proj_weight", f"{ours}.in_proj.weight"),
            (f"{official}.in_proj_bias", f"{ours}.in_proj.bias"),
            (f"{official}.out_proj.{{p}}", f"{ours}.out_proj.{{p}}")]


def vq_key_table(num_stages: int = 2, graph: bool = True) -> KeyTable:
    """Official VQ-VAE keys <-> ``MotionVQVAE`` keys, for ``num_stages`` down-sampling stages, with skeleton graph
    layers (InterHuman) or with plain input and output convolutions (``graph=False``, Inter-X)."""
    # without graph layers the encoder starts with a convolution and a ReLU, which shift its stages by two
    first = 0 if graph else 2
    rules = [("decoder.model.0.{p}", "decoder.from_code.{p}"),
             (f"encoder.model.{first + num_stages}.{{p}}", "encoder.to_code.{p}"),
             (f"decoder.model.{2 + num_stages}.{{p}}", "decoder.refine.{p}"),
             ("quantizer.layers.0.codebook", "quantizer.codebook")]
    if graph:
        rules += [("encoder.gcn_layer{g}.{lin}.{p}", "encoder.graph{g}.{lin}.{p}"),
                  ("decoder.gcn_layer{g}.{lin}.{p}", "decoder.graph{g}.{lin}.{p}")]
    else:  # after the decoder's refining convolution and its ReLU
        rules += [("encoder.model.0.{p}", "encoder.input_conv.{p}"),
                  (f"decoder.model.{4 + num_stages}.{{p}}", "decoder.output_conv.{p}")]
    for stage in range(num_stages):
        # the decoder's stages sit after its input convolution and ReLU, hence 2 + stage
        encoder, decoder = f"encoder.model.{first + stage}", f"decoder.model.{2 + stage}"
        ours_encoder, ours_decoder = f"encoder.stages.{stage}", f"decoder.stages.{stage}"
        rules += [(f"{encoder}.0.{{p}}", f"{ours_encoder}.downsample.{{p}}"),
                  (f"{decoder}.2.{{p}}", f"{ours_decoder}.conv.{{p}}")]
        for official_stack, ours_stack in ((f"{encoder}.1", ours_encoder), (f"{decoder}.0", ours_decoder)):
            block, ours_block = f"{official_stack}.model.{{k}}", f"{ours_stack}.resnet.blocks.{{k}}"
            rules += [(f"{block}.conv1.{{p}}", f"{ours_block}.dilated_conv.{{p}}"),
                      (f"{block}.conv2.{{p}}", f"{ours_block}.pointwise_conv.{{p}}")]
    return KeyTable(tuple(rules))


def _transformer_rules() -> tuple[tuple[str, str], ...]:
    block, ours = "Transformer.blocks.{i}", "transformer.blocks.{i}"
    rules = [("token_emb.weight", "transformer.token_emb.weight"),
             ("input_process.poseEmbedding.{p}", "transformer.input_proj.{p}"),
             ("cond_emb.{p}", "transformer.text_projection.{p}"),
             (f"{block}.adaLN_mod_combined.model.1.{{p}}", f"{ours}.joint_modulation.net.1.{{p}}"),
             (f"{block}.ffn_combined.model.{{k}}.{{p}}", f"{ours}.joint_ffn.net.{{k}}.{{p}}"),
             (f"{block}.adaLN_mod_split.model.1.{{p}}", f"{ours}.person_modulation.net.1.{{p}}"),
             (f"{block}.ffn_split.model.{{k}}.{{p}}", f"{ours}.person_ffn.net.{{k}}.{{p}}"),
             ("output_process.dense.{p}", "transformer.head.dense.{p}"),
             ("output_process.adaLN_mod.model.1.{p}", "transformer.head.modulation.net.1.{p}"),
             ("output_process.poseFinal.{p}", "transformer.head.to_logits.{p}"),
             ("clipTrans.{rest}", "text_encoder.transformer.{rest}"),
             ("clipln.{p}", "text_encoder.final_norm.{p}")]
    rules += _attention_rules(f"{block}.self_attn.attention", f"{ours}.self_attn")
    rules += _attention_rules(f"{block}.spa_temp_attn.spatial_attention", f"{ours}.spatial_attn")
    rules += _attention_rules(f"{block}.spa_temp_attn.temporal_attention", f"{ours}.temporal_attn")
    rules += _attention_rules(f"{block}.local_inter_attn.interaction_attention", f"{ours}.cross_attn")
    return tuple(rules)


TRANSFORMER_KEYS = KeyTable(_transformer_rules())
SAME_KEYS = KeyTable((("{rest}", "{rest}"),))
POSITION_FREQUENCIES_KEY = "position_enc.positional_encoding.inv_freq"


# ---- strict renaming ---------------------------------------------------------------------------------------


def _shape(value) -> tuple:
    """The shape of a tensor, or a shape itself, as a plain tuple."""
    return tuple(value) if isinstance(value, torch.Size) else tuple(value.shape)


def convert_strictly(official: Mapping, table: KeyTable, expected: Mapping[str, torch.Size], what: str,
                     checks: Mapping[str, Callable[[torch.Tensor], None]] | None = None) -> dict:
    """Rename ``official`` tensors through ``table`` onto exactly the keys and shapes of ``expected``.

    ``checks`` handles official keys that have no counterpart but whose value must be right (each callable
    raises if not). Raises ``OfficialCheckpointError`` naming the first unexpected, duplicate, mis-shaped or
    missing key; floating tensors come back as float32.
    """
    checks = checks or {}
    ours = {}
    for key, value in official.items():
        if not isinstance(value, torch.Tensor):
            raise OfficialCheckpointError(f"{what}: entry {key!r} is a {type(value).__name__}, not a tensor")
        if key in checks:
            checks[key](value)
            continue
        target = table.to_ours(key)
        if target is None or target not in expected:
            why = f"it would be {target!r}, which the model lacks" if target else "no tensor of the model matches it"
            raise OfficialCheckpointError(f"{what}: unexpected key {key!r} ({why})")
        if target in ours:
            raise OfficialCheckpointError(f"{what}: key {key!r} maps to {target!r}, which another key already filled")
        if _shape(value) != _shape(expected[target]):
            raise OfficialCheckpointError(f"{what}: key {key!r} has shape {_shape(value)}, but {target!r} needs "
                                          f"{_shape(expected[target])}")
        ours[target] = value.detach().float() if value.is_floating_point() else value.detach()
    missing = [key for key in expected if key not in ours]
    if missing:
        official_name = table.to_official(missing[0]) or missing[0]
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise OfficialCheckpointError(f"{what}: missing key {official_name!r}, needed for {missing[0]!r}{more}")
    return ours


def _shapes_of(build: Callable[[], torch.nn.Module], what: str) -> dict[str, torch.Size]:
    """Tensor shapes of a model's state dict, built on the meta device (no memory, no initialisation)."""
    try:
        with torch.device("meta"):
            return {key: value.shape for key, value in build().state_dict().items()}
    except ValueError as error:
        raise OfficialCheckpointError(f"{what}: its tensors' sizes do not fit together: {error}") from error


def _require(state: Mapping, key: str, what: str) -> torch.Tensor:
    if key not in state:
        raise OfficialCheckpointError(f"{what}: missing key {key!r}")
    return state[key]


def _count(state: Mapping, pattern: str) -> int:
    """How many distinct values the single ``(\\d+)`` group of ``pattern`` takes over the keys."""
    found = {match[1] for key in state if (match := re.fullmatch(pattern, key))}
    return len(found)


def _entry(checkpoint: Mapping, names: tuple[str, ...], what: str) -> Mapping:
    for name in names:
        if name in checkpoint:
            return checkpoint[name]
    raise OfficialCheckpointError(f"{what}: none of the entries {list(names)} found; it has {sorted(checkpoint)}")


# ---- VQ-VAE ------------------------------------------------------------------------------------------------


def vq_config_from_official(state: Mapping, opt: Mapping | None = None) -> dict:
    """``MotionVQVAE`` config of an official VQ-VAE state dict; ``opt`` is its run's option file (opt.txt).

    Graph layers mark the InterHuman model (22 joints x 12 channels); without them it is the Inter-X one
    (56 rows x 6 channels, strided convolutions over the rows).
    """
    opt = dict(opt or {})
    what = "official VQ-VAE"
    graph = "encoder.gcn_layer1.lin_l.weight" in state
    layout = INTERHUMAN if graph else INTERX
    dataset = _dataset_of(graph)
    if opt.get("dataset_name", dataset) != dataset:
        raise OfficialCheckpointError(f"{what}: its options name dataset {opt['dataset_name']!r}, but its layers are "
                                      f"those of the {dataset} model")
    if int(opt.get("num_quantizers", 1)) != 1 or "quantizer.layers.1.codebook" in state:
        raise OfficialCheckpointError(f"{what}: only a single quantiser layer is supported "
                                      f"(num_quantizers={opt.get('num_quantizers')})")
    if opt.get("vq_act", "relu") != "relu" or opt.get("vq_norm") not in (None, "None"):
        raise OfficialCheckpointError(f"{what}: only vq_act=relu without vq_norm is supported, got "
                                      f"vq_act={opt.get('vq_act')} vq_norm={opt.get('vq_norm')}")
    num_stages = _count(state, r"encoder\.model\.(\d+)\.0\.weight")
    if num_stages != len(layout.joint_sizes) - 1:
        raise OfficialCheckpointError(f"{what}: {num_stages} down-sampling stages, its layout needs "
                                      f"{len(layout.joint_sizes) - 1}")
    first_stage = 0 if graph else 2
    codebook = _require(state, "quantizer.layers.0.codebook", what)
    width_key = "encoder.gcn_layer1.lin_l.weight" if graph else "encoder.model.0.weight"
    return dict(layout=layout.to_dict(),
                width=int(_require(state, width_key, what).shape[0]),
                code_dim=int(codebook.shape[1]), num_codes=int(codebook.shape[0]),
                depth=_count(state, rf"encoder\.model\.{first_stage}\.1\.model\.(\d+)\.conv1\.weight"),
                dilation_growth=int(opt.get("dilation_growth_rate", 3)), dropout=OFFICIAL_VQ_DROPOUT,
                legacy_graph=graph, decay=float(opt.get("mu", 0.99)),
                gumbel_temperature=OFFICIAL_VQ_GUMBEL_TEMPERATURE, stochastic_assignment=True, legacy_reset=True,
                graph=graph)


def _with_fresh_ema(ours: dict) -> dict:
    """Published quantisers keep no EMA sums or counts: restart them from the codebook."""
    codebook = ours["quantizer.codebook"]
    ours["quantizer.code_sum"] = codebook.clone()
    ours["quantizer.code_count"] = torch.ones(codebook.shape[0])
    ours["quantizer.initialized"] = torch.tensor(True)
    return ours


_EMA_KEYS = ("quantizer.code_sum", "quantizer.code_count", "quantizer.initialized")


def convert_vq(checkpoint: Mapping, opt: Mapping | None = None) -> tuple[dict, dict]:
    """An official VQ-VAE checkpoint (``vq_model`` or ``net`` entry) -> (MotionVQVAE config, state dict)."""
    state = _entry(checkpoint, ("vq_model", "net"), "official VQ-VAE checkpoint")
    config = vq_config_from_official(state, opt)
    num_stages = len(config["layout"]["joint_sizes"]) - 1
    shapes = _shapes_of(lambda: MotionVQVAE.from_config(config), "official VQ-VAE")
    expected = {key: shape for key, shape in shapes.items() if key not in _EMA_KEYS}
    ours = convert_strictly(state, vq_key_table(num_stages, config["graph"]), expected, "official VQ-VAE")
    return config, _with_fresh_ema(ours)


# ---- Inter-M transformer and its text encoder --------------------------------------------------------------


class WidthOnlyBackbone(FrozenTextBackbone):
    """A frozen text backbone known only by its feature width.

    A ``TextEncoder`` built on it has the trainable part only: enough to check or run converted weights on
    frozen features given from elsewhere (``encode_from_frozen``). Captions cannot be encoded with it.
    """

    def __init__(self, feature_dim: int, name: str = "clip"):
        super().__init__()
        self.feature_dim = feature_dim
        self.name = name
        self.freeze()

    def forward(self, texts):
        raise ValueError(f"text backbone {self.name!r} was built without weights: it gives sizes only, so "
                         f"captions must be encoded by the real backbone (e.g. InterMask.build)")


def text_encoder_config_from_official(state: Mapping) -> dict:
    """The ``configs/text_encoder/clip.yaml`` settings of the official trainable text encoder."""
    what = "official transformer"
    return dict(name="clip", frozen_dim=int(_require(state, "clipln.weight", what).shape[0]), weights=None,
                layers=_count(state, r"clipTrans\.layers\.(\d+)\.linear1\.weight"), heads=OFFICIAL_TEXT_HEADS,
                ff_dim=int(_require(state, "clipTrans.layers.0.linear1.weight", what).shape[0]),
                dropout=OFFICIAL_TEXT_DROPOUT, cache=True)


def text_encoder_from_config(config: Mapping) -> TextEncoder:
    """The trainable text encoder of ``config`` on a ``WidthOnlyBackbone`` (no frozen weights needed)."""
    return TextEncoder(WidthOnlyBackbone(int(config["frozen_dim"]), str(config["name"])),
                       num_layers=int(config["layers"]), heads=int(config["heads"]), ff_dim=int(config["ff_dim"]),
                       dropout=float(config["dropout"]))


def transformer_config_from_official(state: Mapping, opt: Mapping | None = None,
                                     max_frames: int = OFFICIAL_MAX_FRAMES["interhuman"]) -> dict:
    """``InterMTransformer`` keyword arguments of an official transformer state dict and its opt.txt."""
    opt = dict(opt or {})
    what = "official transformer"
    num_codes, dim = _shape(_require(state, "output_process.poseFinal.weight", what))
    vocab_size, token_dim = _shape(_require(state, "token_emb.weight", what))
    if vocab_size != num_codes + 3:
        raise OfficialCheckpointError(f"{what}: token_emb has {vocab_size} rows, expected {num_codes} codes + "
                                      f"mask, pad and sep = {num_codes + 3}")
    heads = int(opt.get("n_heads", 6))
    if dim % heads:
        raise OfficialCheckpointError(f"{what}: width {dim} is not divisible by n_heads={heads} (from opt.txt)")
    return dict(num_codes=int(num_codes), num_parts=OFFICIAL_NUM_PARTS, max_time=max_frames // 4,
                token_dim=int(token_dim), dim=int(dim),
                depth=_count(state, r"Transformer\.blocks\.(\d+)\.adaLN_mod_combined\.model\.1\.weight"),
                heads=heads, ff_dim=int(_require(state, "Transformer.blocks.0.ffn_combined.model.0.weight",
                                                 what).shape[0]),
                dropout=float(opt.get("dropout", 0.2)),
                text_dim=int(_require(state, "cond_emb.weight", what).shape[1]), parity=True,
                cond_drop_prob=float(opt.get("cond_drop_prob", 0.1)))


def _position_frequency_check(dim: int) -> Callable[[torch.Tensor], None]:
    """Our fixed 2D sinusoid uses these frequencies (``intermask.sinusoid_2d``); a checkpoint must agree."""
    half = dim // 2
    ours = 1.0 / 10000 ** (torch.arange(0, half, 2, dtype=torch.float64) / half)

    def check(stored: torch.Tensor) -> None:
        if _shape(stored) != _shape(ours) or not torch.allclose(stored.double(), ours, rtol=1e-6, atol=0):
            raise OfficialCheckpointError(
                f"official transformer: {POSITION_FREQUENCIES_KEY!r} holds other frequencies than the fixed 2D "
                f"sinusoid of width {dim} (shape {_shape(stored)}, expected {_shape(ours)})")

    return check


def _dataset_of(graph: bool) -> str:
    """The published VQ-VAEs differ in one thing that names their dataset: InterHuman's has graph layers."""
    return "interhuman" if graph else "interx"


def official_dataset(vq_config: Mapping, opt: Mapping | None = None) -> str:
    """"interhuman" or "interx": the dataset of a published transformer, as its converted VQ-VAE tells (configs
    converted before ``graph`` was recorded are InterHuman's); options (``opt``) naming another are an error."""
    from_vq = _dataset_of(vq_config.get("graph", True))
    named = dict(opt or {}).get("dataset_name")
    if named is not None and named != from_vq:
        raise OfficialCheckpointError(f"official transformer: its options name dataset {named!r}, but its VQ-VAE is "
                                      f"the {from_vq} one")
    return from_vq


def convert_transformer(checkpoint: Mapping, opt: Mapping | None, vq_config: Mapping, vq_state: Mapping,
                        mean: torch.Tensor | None, std: torch.Tensor | None, max_frames: int | None = None,
                        ) -> tuple[dict, dict]:
    """An official transformer checkpoint with its converted VQ-VAE and normalisation statistics
    -> (``InterMask.build`` config, ``InterMask`` state dict).

    Features the VQ-VAE's layout does not normalise (Inter-X) take no statistics (``mean``/``std`` None).
    ``max_frames`` defaults to the length the published model of that dataset was trained on.
    """
    state = _entry(checkpoint, ("t2m_transformer", "trans"), "official transformer checkpoint")
    layout = FeatureLayout.from_dict(vq_config["layout"])
    transformer = transformer_config_from_official(
        state, opt, max_frames or OFFICIAL_MAX_FRAMES[official_dataset(vq_config, opt)])
    text_encoder = text_encoder_config_from_official(state)
    if transformer["num_codes"] != vq_config["num_codes"] or transformer["token_dim"] != vq_config["code_dim"]:
        raise OfficialCheckpointError(
            f"official transformer: {transformer['num_codes']} codes of width {transformer['token_dim']} do not "
            f"match the VQ-VAE's {vq_config['num_codes']} codes of width {vq_config['code_dim']}")
    feature_dim = layout.dim
    if (mean is None) != (std is None) or (mean is not None) != layout.normalized:
        needed = "a normalisation mean and std" if layout.normalized else "no normalisation statistics"
        raise OfficialCheckpointError(f"official transformer: the features of its VQ-VAE take {needed}")
    if mean is None:
        mean, std = torch.zeros(feature_dim), torch.ones(feature_dim)
    for name, stat in (("mean", mean), ("std", std)):
        if _shape(stat) != (feature_dim,):
            raise OfficialCheckpointError(f"normalisation {name} has shape {_shape(stat)}, expected ({feature_dim},)")
        if not torch.isfinite(stat).all():
            raise OfficialCheckpointError(f"normalisation {name} holds NaN or infinite values")
    if bool((std <= 0).any()):
        raise OfficialCheckpointError("normalisation std has entries <= 0")
    config = {"vq": dict(vq_config), "transformer": transformer, "text_encoder": text_encoder,
              "feature_dim": feature_dim}

    def build() -> torch.nn.Module:
        return InterMask(MotionVQVAE.from_config(vq_config), InterMTransformer(**transformer),
                         text_encoder_from_config(text_encoder), torch.zeros(feature_dim), torch.ones(feature_dim))

    expected = {key: shape for key, shape in _shapes_of(build, "official transformer").items()
                if key.startswith(("transformer.", "text_encoder."))}
    ours = convert_strictly(state, TRANSFORMER_KEYS, expected, "official transformer",
                            checks={POSITION_FREQUENCIES_KEY: _position_frequency_check(transformer["dim"])})
    ours.update({f"vq.{key}": value for key, value in vq_state.items()})
    ours["mean"], ours["std"] = mean.float(), std.float()
    return config, ours


# ---- evaluators --------------------------------------------------------------------------------------------


def interclip_config_from_official(state: Mapping, cfg: Mapping | None = None) -> dict:
    """``InterCLIPEvaluator`` keyword arguments of an InterCLIP state dict (prefix stripped) and its
    ``eval_model.yaml`` (NUM_HEADS, DROPOUT)."""
    cfg = dict(cfg or {})
    what = "official InterCLIP"
    heads = int(cfg.get("NUM_HEADS", OFFICIAL_TEXT_HEADS))
    if heads != OFFICIAL_TEXT_HEADS:
        raise OfficialCheckpointError(f"{what}: NUM_HEADS={heads}, but InterCLIPEvaluator shares the text "
                                      f"encoder's {OFFICIAL_TEXT_HEADS} heads with the motion encoder")
    latent_dim, motion_dim = _shape(_require(state, "motion_encoder.embed_motion.weight", what))
    ff_dims = {int(state[key].shape[0]) for key in state if key.endswith("linear1.weight")}
    if len(ff_dims) != 1:
        raise OfficialCheckpointError(f"{what}: the motion and text encoders use different feed-forward widths "
                                      f"{sorted(ff_dims)}; InterCLIPEvaluator has one")
    vocab_size, text_dim = _shape(_require(state, "token_embedding.weight", what))
    return dict(motion_dim=int(motion_dim), latent_dim=int(latent_dim), text_dim=int(text_dim),
                embed_dim=int(_require(state, "out.weight", what).shape[0]),
                motion_layers=_count(state, r"motion_encoder\.transformer\.layers\.(\d+)\.linear1\.weight"),
                text_layers=_count(state, r"textTransEncoder\.layers\.(\d+)\.linear1\.weight"), heads=heads,
                ff_dim=ff_dims.pop(), dropout=float(cfg.get("DROPOUT", 0.1)),
                max_len=int(_require(state, "motion_encoder.sequence_pos_encoder.pe", what).shape[0]),
                vocab_size=int(vocab_size),
                context_length=int(_require(state, "positional_embedding", what).shape[0]))


def convert_interclip(checkpoint: Mapping, cfg: Mapping | None = None) -> tuple[dict, dict]:
    """InterGen's ``interclip.ckpt`` -> (InterCLIPEvaluator kwargs, state dict)."""
    state = interclip_state_dict(checkpoint)
    config = interclip_config_from_official(state, cfg)
    expected = _shapes_of(lambda: InterCLIPEvaluator(**config), "official InterCLIP")
    return config, convert_strictly(state, SAME_KEYS, expected, "official InterCLIP")


def interx_config_from_official(checkpoint: Mapping) -> dict:
    """``InterXMatchingEvaluator`` keyword arguments of a ``finest.tar``-style checkpoint."""
    what = "official Inter-X matching evaluator"
    for name in INTERX_ENCODERS:
        if not isinstance(checkpoint.get(name), Mapping):
            raise OfficialCheckpointError(f"{what}: no {name!r} state dict; the checkpoint has {sorted(checkpoint)}")
    movement, motion, text = (checkpoint[name] for name in INTERX_ENCODERS)
    movement_hidden, motion_dim, _ = _shape(_require(movement, "main.0.weight", what))
    word_dim, pos_dim = _shape(_require(text, "pos_emb.weight", what))
    return dict(motion_dim=int(motion_dim), movement_hidden=int(movement_hidden),
                movement_latent=int(_require(movement, "out_net.weight", what).shape[0]),
                motion_hidden=int(_require(motion, "input_emb.weight", what).shape[0]),
                word_dim=int(word_dim), pos_dim=int(pos_dim),
                text_hidden=int(_require(text, "input_emb.weight", what).shape[0]),
                embed_dim=int(_require(motion, "output_net.3.weight", what).shape[0]),
                unit_length=OFFICIAL_INTERX_UNIT_LENGTH)


def convert_interx_matching(checkpoint: Mapping) -> tuple[dict, dict]:
    """Inter-X's ``finest.tar`` -> (InterXMatchingEvaluator kwargs, state dict)."""
    config = interx_config_from_official(checkpoint)
    expected = _shapes_of(lambda: InterXMatchingEvaluator(**config), "official Inter-X matching evaluator")
    flat = {f"{name}.{key}": value for name in INTERX_ENCODERS for key, value in checkpoint[name].items()}
    return config, convert_strictly(flat, SAME_KEYS, expected, "official Inter-X matching evaluator")
