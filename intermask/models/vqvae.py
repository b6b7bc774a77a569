"""The 2D motion VQ-VAE: one person's motion as a (part, time) grid of codebook tokens.

    features (batch, time, feature)                       e.g. (B, T, 262)
      -> joint grid (batch, channel, joint, time)         (B, 12, 22, T)   pos | vel | rot6d per joint
      -> encoder: 2 graph convs, 2 strided 2D convs       (B, code_dim, 5, T/4)
      -> quantiser over the part-major flattening         codes (B, 5, T/4)
      -> decoder: 2 nearest upsamplings to (11, T/2), (22, T), 2 graph convs
      -> joint grid -> features                           (B, T, 262), foot contacts zero

Axis names used in the shapes below: b batch, c channel, j joint, p part (a row of the latent grid),
t time (frames or latent steps), d code dimension.

Official checkpoint keys map onto ours as follows (``official_state_dict_to_ours`` does it), with S the number
of down-sampling stages (2), i < S the stage and k the residual block:

    encoder.gcn_layer{1,2}.*                   -> encoder.graph{1,2}.*
    encoder.model.{i}.0.*                      -> encoder.stages.{i}.downsample.*
    encoder.model.{i}.1.model.{k}.conv1.*      -> encoder.stages.{i}.resnet.blocks.{k}.dilated_conv.*
    encoder.model.{i}.1.model.{k}.conv2.*      -> encoder.stages.{i}.resnet.blocks.{k}.pointwise_conv.*
    encoder.model.{S}.*                        -> encoder.to_code.*
    decoder.model.0.*                          -> decoder.from_code.*
    decoder.model.{2+i}.0.model.{k}.conv{1,2}  -> decoder.stages.{i}.resnet.blocks.{k}.{dilated,pointwise}_conv
    decoder.model.{2+i}.2.*                    -> decoder.stages.{i}.conv.*
    decoder.model.{2+S}.*                      -> decoder.refine.*
    decoder.gcn_layer{1,2}.*                   -> decoder.graph{1,2}.*
    quantizer.layers.0.codebook                -> quantizer.codebook (EMA sums/counts restarted from it)

The published weights were trained with the graph-batching quirk, so load them with ``legacy_graph=True``.
"""
from __future__ import annotations

import re
from typing import Iterator

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ..motion.layout import INTERHUMAN, FeatureLayout
from .dropout import Dropout
from .graph import SkeletonGraphConv
from .quantizer import EMAQuantizer

# ---- feature <-> joint grid ---------------------------------------------------------------------------


def check_vq_layout(layout: FeatureLayout) -> None:
    """The VQ-VAE's assumptions about a layout, checked once with a clear message."""
    joints = layout.num_joints
    sizes = {"position": (layout.position, 3 * joints), "velocity": (layout.velocity, 3 * joints),
             "rotation": (layout.rotation, 6 * (joints - 1))}
    for name, (part, expected) in sizes.items():
        if part.stop - part.start != expected:
            raise ValueError(f"layout.{name} spans {part.stop - part.start} dims, expected {expected} "
                             f"for {joints} joints")
    if layout.channels_per_joint != 12:
        raise ValueError(f"layout.channels_per_joint must be 12 (pos 3 | vel 3 | rot6d 6), "
                         f"got {layout.channels_per_joint}")
    sizes = tuple(layout.joint_sizes)
    if sizes[0] != joints or sizes[-1] != layout.num_parts:
        raise ValueError(f"layout.joint_sizes {sizes} must run from num_joints={joints} "
                         f"to num_parts={layout.num_parts}")
    for before, after in zip(sizes, sizes[1:]):
        if before // 2 != after:  # what a kernel-4, stride-2, padding-1 convolution produces
            raise ValueError(f"layout.joint_sizes {sizes}: each stride-2 stage maps n joints to n // 2, "
                             f"but {before} -> {after}")
    if layout.time_downsample != 2 ** (len(sizes) - 1):
        raise ValueError(f"layout.time_downsample={layout.time_downsample} must be 2 ** stages "
                         f"= {2 ** (len(sizes) - 1)} for joint_sizes {sizes}")


def features_to_joint_grid(features: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """(b, t, feature) -> (b, 12, j, t): per joint [position 3 | velocity 3 | 6D rotation 6].

    The root has no local rotation in the features, so its rotation channels are zero; contacts are dropped.
    """
    position = rearrange(features[..., layout.position], "b t (j c) -> b t j c", c=3)
    velocity = rearrange(features[..., layout.velocity], "b t (j c) -> b t j c", c=3)
    rotation = rearrange(features[..., layout.rotation], "b t (j c) -> b t j c", c=6)
    root_rotation = rotation.new_zeros(rotation[:, :, :1].shape)
    grid = torch.cat([position, velocity, torch.cat([root_rotation, rotation], dim=2)], dim=-1)
    return rearrange(grid, "b t j c -> b c j t")


def joint_grid_to_features(grid: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """(b, 12, j, t) -> (b, t, feature). The root rotation channels are discarded, foot contacts are zero."""
    grid = rearrange(grid, "b c j t -> b t j c")
    features = grid.new_zeros(*grid.shape[:2], layout.dim)
    features[..., layout.position] = rearrange(grid[..., 0:3], "b t j c -> b t (j c)")
    features[..., layout.velocity] = rearrange(grid[..., 3:6], "b t j c -> b t (j c)")
    features[..., layout.rotation] = rearrange(grid[:, :, 1:, 6:12], "b t j c -> b t (j c)")
    return features


# ---- building blocks ------------------------------------------------------------------------------------


class ResidualBlock(nn.Module):
    """Pre-activation residual block without normalisation: x + Dropout(Conv1x1(ReLU(Conv3x3_dilated(ReLU(x)))))."""

    def __init__(self, channels: int, dilation: int, dropout: float):
        super().__init__()
        self.dilated_conv = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.pointwise_conv = nn.Conv2d(channels, channels, 1)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(self.pointwise_conv(F.relu(self.dilated_conv(F.relu(x)))))


class ResidualStack(nn.Module):
    """``depth`` residual blocks with dilations growth^(depth-1), ..., growth, 1 (i.e. [3, 1])."""

    def __init__(self, channels: int, depth: int, dilation_growth: int, dropout: float):
        super().__init__()
        dilations = [dilation_growth ** k for k in reversed(range(depth))]
        self.blocks = nn.ModuleList(ResidualBlock(channels, d, dropout) for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class DownStage(nn.Module):
    """Halve joints and time with a kernel-4 stride-2 convolution, then refine with a residual stack."""

    def __init__(self, width: int, depth: int, dilation_growth: int, dropout: float):
        super().__init__()
        self.downsample = nn.Conv2d(width, width, 4, stride=2, padding=1)
        self.resnet = ResidualStack(width, depth, dilation_growth, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resnet(self.downsample(x))


def _phase_taps(kernel: torch.Tensor, dim: int) -> torch.Tensor:
    """Fold a kernel's 3 taps along ``dim`` into 2 taps per output phase of a 2x nearest upsampling, with a new
    leading phase axis. The output at 2i + r reads upsampled positions 2i + r - 1 .. 2i + r + 1, i.e. inputs
    (i-1, i, i) for r = 0 and (i, i, i+1) for r = 1: phase 0 applies (w0, w1 + w2) to inputs (i-1, i), phase 1
    applies (w0 + w1, w2) to inputs (i, i+1)."""
    w0, w1, w2 = kernel.unbind(dim)
    return torch.stack((torch.stack((w0, w1 + w2), dim), torch.stack((w0 + w1, w2), dim)))


def upsample2x_conv3x3(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(F.interpolate(x, scale_factor=2, mode="nearest"))`` for a 3x3, padding-1 ``conv``, computed
    without the upsampled map: (b, c, n, m) -> (b, o, 2n, 2m).

    Each of the four output phases (row parity r, column parity s) is a 2x2 convolution of ``x`` whose taps are
    sums of the 3x3 kernel's (``_phase_taps``); the four run as one convolution with 4o output channels: 16
    instead of 36 multiply-adds per input pixel and channel pair, the same numbers up to rounding, and
    gradients reach ``conv.weight`` through the folding.
    """
    shape = (conv.kernel_size, conv.padding, conv.stride, conv.dilation, conv.groups)
    if shape != ((3, 3), (1, 1), (1, 1), (1, 1), 1):
        raise ValueError(f"upsample2x_conv3x3 needs a 3x3 convolution with padding 1, stride 1, dilation 1 and "
                         f"one group, got kernel, padding, stride, dilation, groups = {shape}")
    kernel = _phase_taps(_phase_taps(conv.weight, -2), -1)  # (s, r, o, i, 2, 2)
    # With padding 1, output row j of a 2x2 convolution reads inputs (j-1, j): phase 0 of input row i is row i,
    # phase 1 is row i+1. Shuffled in the order (phase 1, phase 0), row j's phases land at 2j and 2j+1, so
    # output row 2i (phase 0 of row i) sits at 2i+1 and 2i+1 (phase 1 of row i+1) at 2i+2: a crop by one.
    kernel = rearrange(kernel.flip(0, 1), "s r o i a b -> (o r s) i a b")
    bias = None if conv.bias is None else conv.bias.repeat_interleave(4)
    shuffled = F.pixel_shuffle(F.conv2d(x, kernel, bias, padding=1), 2)
    rows, cols = x.shape[-2:]
    return shuffled[..., 1:2 * rows + 1, 1:2 * cols + 1]


class UpStage(nn.Module):
    """Residual stack, nearest upsampling to an explicit (joint, time) size, 3x3 convolution."""

    def __init__(self, width: int, depth: int, dilation_growth: int, dropout: float):
        super().__init__()
        self.resnet = ResidualStack(width, depth, dilation_growth, dropout)
        self.conv = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        x = self.resnet(x)
        if tuple(size) == (2 * x.shape[-2], 2 * x.shape[-1]):
            return upsample2x_conv3x3(x, self.conv)
        # an explicit size, not the scale factor 2.2 that 5 -> 11 joints would need
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class MotionEncoder(nn.Module):
    """(b, 12, j, t) -> (b, code_dim, parts, t / 2^stages)."""

    def __init__(self, layout: FeatureLayout, width: int, code_dim: int, depth: int, dilation_growth: int,
                 dropout: float, legacy_graph: bool):
        super().__init__()
        joints, bones = layout.num_joints, layout.bones
        self.graph1 = SkeletonGraphConv(layout.channels_per_joint, width, bones, joints, legacy=legacy_graph)
        self.graph2 = SkeletonGraphConv(width, width, bones, joints, legacy=legacy_graph)
        self.stages = nn.ModuleList(DownStage(width, depth, dilation_growth, dropout)
                                    for _ in layout.joint_sizes[1:])
        self.to_code = nn.Conv2d(width, code_dim, 3, padding=1)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.graph2(F.relu(self.graph1(grid))))
        for stage in self.stages:
            x = stage(x)
        return self.to_code(x)


class MotionDecoder(nn.Module):
    """(b, code_dim, parts, t') -> (b, 12, j, t' * 2^stages), upsampling joints through ``joint_sizes``."""

    def __init__(self, layout: FeatureLayout, width: int, code_dim: int, depth: int, dilation_growth: int,
                 dropout: float, legacy_graph: bool):
        super().__init__()
        joints, bones = layout.num_joints, layout.bones
        self.joint_sizes = tuple(reversed(layout.joint_sizes))[1:]  # e.g. (11, 22)
        self.from_code = nn.Conv2d(code_dim, width, 3, padding=1)
        self.stages = nn.ModuleList(UpStage(width, depth, dilation_growth, dropout) for _ in self.joint_sizes)
        self.refine = nn.Conv2d(width, width, 3, padding=1)
        self.graph1 = SkeletonGraphConv(width, width, bones, joints, legacy=legacy_graph)
        self.graph2 = SkeletonGraphConv(width, layout.channels_per_joint, bones, joints, legacy=legacy_graph)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        if latent.device.type == "cpu":
            # a latent grid regrouped from code vectors is laid out channels-last, and convolutions keep the layout
            # they are given; on a CPU their backward pass is faster in the standard layout (VQ-VAE step 5% faster)
            latent = latent.contiguous()
        x = F.relu(self.from_code(latent))
        for stage, joints in zip(self.stages, self.joint_sizes):
            x = stage(x, size=(joints, 2 * x.shape[-1]))
        x = F.relu(self.refine(x))
        return self.graph2(F.relu(self.graph1(x)))


# ---- per-sample lengths ---------------------------------------------------------------------------------


def _checked_lengths(lengths, batch: int, low: int, high: int, name: str, unit: str,
                    device: torch.device) -> torch.Tensor:
    """``lengths`` as a (batch,) integer tensor on ``device``, each in [low, high] ``unit``, or a ValueError."""
    lengths = torch.as_tensor(lengths, device=device)
    if lengths.shape != (batch,) or lengths.dtype.is_floating_point:
        raise ValueError(f"{name} must be ({batch},) integers, got {tuple(lengths.shape)} {lengths.dtype}")
    values = lengths.tolist()
    if values and (min(values) < low or max(values) > high):
        raise ValueError(f"{name} must lie in [{low}, {high}] {unit}, got {values}")
    return lengths


def _rows_by_length(lengths: torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
    """(length, indices of the samples of that length) for each distinct length, shortest first."""
    for length in lengths.unique().tolist():
        yield length, (lengths == length).nonzero(as_tuple=True)[0]


# ---- the model ------------------------------------------------------------------------------------------


class MotionVQVAE(nn.Module):
    """Tokenise one person's motion features into a (part, time) grid of codes and decode them back.

    Args:
        layout: where positions, velocities and rotations sit in the features, and the token grid sizes.
        width: channels of the convolutional trunk.
        code_dim, num_codes: codebook vector size and count.
        depth, dilation_growth: residual blocks per stage and their dilation growth (dilations [3, 1]).
        dropout: dropout inside each residual block.
        legacy_graph: reproduce the published graph-batching quirk (only to run published weights).
        decay, gumbel_temperature, stochastic_assignment, legacy_reset: see ``EMAQuantizer``.
    """

    def __init__(self, layout: FeatureLayout = INTERHUMAN, width: int = 512, code_dim: int = 512,
                 num_codes: int = 1024, depth: int = 2, dilation_growth: int = 3, dropout: float = 0.2,
                 legacy_graph: bool = False, decay: float = 0.99, gumbel_temperature: float = 0.5,
                 stochastic_assignment: bool = True, legacy_reset: bool = False):
        super().__init__()
        check_vq_layout(layout)
        self.layout = layout
        self.config = dict(layout=layout.to_dict(), width=width, code_dim=code_dim,
                           num_codes=num_codes, depth=depth, dilation_growth=dilation_growth, dropout=dropout,
                           legacy_graph=legacy_graph, decay=decay, gumbel_temperature=gumbel_temperature,
                           stochastic_assignment=stochastic_assignment, legacy_reset=legacy_reset)
        trunk = dict(width=width, code_dim=code_dim, depth=depth, dilation_growth=dilation_growth,
                     dropout=dropout, legacy_graph=legacy_graph)
        self.encoder = MotionEncoder(layout, **trunk)
        self.quantizer = EMAQuantizer(num_codes, code_dim, decay=decay, gumbel_temperature=gumbel_temperature,
                                      stochastic=stochastic_assignment, legacy_reset=legacy_reset)
        self.decoder = MotionDecoder(layout, **trunk)

    @classmethod
    def from_config(cls, config: dict) -> "MotionVQVAE":
        """Rebuild a model from its ``config`` (plain data, as stored in a checkpoint)."""
        config = dict(config)
        config["layout"] = FeatureLayout.from_dict(config["layout"])
        return cls(**config)

    @property
    def num_codes(self) -> int:
        return self.quantizer.num_codes

    @property
    def pad_id(self) -> int:
        """The token id of padded steps: num_codes is [MASK], num_codes + 1 is [PAD] (1024, 1025)."""
        return self.quantizer.num_codes + 1

    def _check_features(self, features: torch.Tensor) -> None:
        if features.ndim != 3 or features.shape[-1] != self.layout.dim:
            raise ValueError(f"features must be (batch, time, {self.layout.dim}), got {tuple(features.shape)}")
        time, step = features.shape[1], self.layout.time_downsample
        if time == 0 or time % step:
            raise ValueError(f"features have {time} frames; the VQ-VAE needs a positive multiple of {step} "
                             f"(crop to {time - time % step} or pad to {time + (-time) % step})")
        if not torch.isfinite(features).all():
            raise ValueError("features contain NaN or infinite values")

    def _latent_to_vectors(self, latent: torch.Tensor) -> torch.Tensor:
        # part-major: the vector of part p at step t sits at index p * t' + t
        return rearrange(latent, "b d p t -> b (p t) d")

    def forward(self, features: torch.Tensor) -> dict:
        """Reconstruct ``features`` (b, t, feature) through the quantised bottleneck.

        Returns ``recon`` (b, t, feature), ``commit_loss``, ``perplexity``, ``usage`` (scalars) and the
        ``codes`` (b, parts, t / 4) chosen (sampled while training, nearest in eval).
        """
        self._check_features(features)
        latent = self.encoder(features_to_joint_grid(features, self.layout))
        parts, steps = latent.shape[2:]
        quantized, codes, commit_loss, stats = self.quantizer(self._latent_to_vectors(latent))
        quantized = rearrange(quantized, "b (p t) d -> b d p t", p=parts, t=steps)
        recon = joint_grid_to_features(self.decoder(quantized), self.layout)
        return dict(recon=recon, commit_loss=commit_loss, perplexity=stats["perplexity"],
                    usage=stats["usage"], codes=rearrange(codes, "b (p t) -> b p t", p=parts))

    @torch.no_grad()
    def _encode_all(self, features: torch.Tensor) -> torch.Tensor:
        latent = self.encoder(features_to_joint_grid(features, self.layout))
        codes = self.quantizer.encode(self._latent_to_vectors(latent))
        return rearrange(codes, "b (p t) -> b p t", p=latent.shape[2])

    @torch.no_grad()
    def encode(self, features: torch.Tensor, lengths: torch.Tensor | None = None,
               pad_id: int | None = None) -> torch.Tensor:
        """Nearest-code tokens of ``features`` (b, t, feature) -> codes (b, parts, t / 4), int64.

        With ``lengths`` (b,) in frames, each sample is encoded from its first 4 * (length // 4) frames only,
        so padding never leaks into valid tokens; later steps get ``pad_id`` (default ``self.pad_id``).
        Samples of equal valid length are encoded together. Call ``eval()`` first for deterministic tokens
        (dropout). With ``legacy_graph`` a sample's tokens depend on its batch position, so grouping by length
        changes them; the published tokens came from whole padded batches (``lengths=None``).
        """
        self._check_features(features)
        if lengths is None:
            return self._encode_all(features)
        batch, time = features.shape[:2]
        lengths = _checked_lengths(lengths, batch, 0, time, "lengths", "frames", features.device)
        step = self.layout.time_downsample
        pad_id = self.pad_id if pad_id is None else pad_id
        codes = torch.full((batch, self.layout.num_parts, time // step), pad_id, dtype=torch.long,
                           device=features.device)
        for steps, rows in _rows_by_length(lengths // step):
            if steps > 0:
                codes[rows, :, :steps] = self._encode_all(features[rows, :steps * step])
        return codes

    def _decode_all(self, codes: torch.Tensor) -> torch.Tensor:
        latent = rearrange(self.quantizer.decode(codes), "b p t d -> b d p t")
        return joint_grid_to_features(self.decoder(latent), self.layout)

    def decode(self, codes: torch.Tensor, lengths_tokens: torch.Tensor | None = None) -> torch.Tensor:
        """Features (b, 4 t', feature) of tokens ``codes`` (b, parts, t'); ids >= num_codes act as a zero latent.

        With ``lengths_tokens`` (b,) in token steps, each sample is decoded from its first valid steps only, as
        ``encode`` does: the decoder's receptive field reaches across many steps, so decoding a short sample
        padded to a batch's longest would let the padding shape its last frames, and its motion would depend on
        the other samples in the batch. Samples of equal length are decoded together; frames past a sample's
        4 * length are zero.
        """
        if codes.ndim != 3 or codes.shape[1] != self.layout.num_parts or codes.shape[2] == 0:
            raise ValueError(f"codes must be (batch, {self.layout.num_parts}, steps > 0), got {tuple(codes.shape)}")
        if lengths_tokens is None:
            return self._decode_all(codes)
        batch, steps = codes.shape[0], codes.shape[2]
        lengths_tokens = _checked_lengths(lengths_tokens, batch, 1, steps, "lengths_tokens", "token steps",
                                         codes.device)
        groups = list(_rows_by_length(lengths_tokens))
        if not groups or groups[0][0] == steps:  # no sample, or every sample full length
            return self._decode_all(codes)
        step = self.layout.time_downsample
        features = None
        for length, rows in groups:
            decoded = self._decode_all(codes[rows, :, :length])
            if features is None:
                features = decoded.new_zeros(batch, steps * step, decoded.shape[-1])
            features[rows, :length * step] = decoded
        return features


# ---- plain-data config and official checkpoints ---------------------------------------------------------


_CONV_NAMES = {"conv1": "dilated_conv", "conv2": "pointwise_conv"}


def _official_rules(num_stages: int):
    return [
        (r"encoder\.gcn_layer([12])\.(.+)", lambda m: f"encoder.graph{m[1]}.{m[2]}"),
        (r"encoder\.model\.(\d+)\.0\.(weight|bias)", lambda m: f"encoder.stages.{m[1]}.downsample.{m[2]}"),
        (r"encoder\.model\.(\d+)\.1\.model\.(\d+)\.(conv[12])\.(weight|bias)",
         lambda m: f"encoder.stages.{m[1]}.resnet.blocks.{m[2]}.{_CONV_NAMES[m[3]]}.{m[4]}"),
        (rf"encoder\.model\.{num_stages}\.(weight|bias)", lambda m: f"encoder.to_code.{m[1]}"),
        (r"decoder\.model\.0\.(weight|bias)", lambda m: f"decoder.from_code.{m[1]}"),
        (r"decoder\.model\.(\d+)\.0\.model\.(\d+)\.(conv[12])\.(weight|bias)",
         lambda m: f"decoder.stages.{int(m[1]) - 2}.resnet.blocks.{m[2]}.{_CONV_NAMES[m[3]]}.{m[4]}"),
        (r"decoder\.model\.(\d+)\.2\.(weight|bias)", lambda m: f"decoder.stages.{int(m[1]) - 2}.conv.{m[2]}"),
        (rf"decoder\.model\.{2 + num_stages}\.(weight|bias)", lambda m: f"decoder.refine.{m[1]}"),
        (r"decoder\.gcn_layer([12])\.(.+)", lambda m: f"decoder.graph{m[1]}.{m[2]}"),
        (r"quantizer\.layers\.0\.codebook", lambda m: "quantizer.codebook"),
    ]


def official_key_to_ours(key: str, num_stages: int = 2) -> str:
    """This module's name for an official VQ-VAE checkpoint key (see the module docstring).

    Raises ``KeyError`` for a key with no learned counterpart here, so nothing is dropped silently.
    """
    for pattern, rename in _official_rules(num_stages):
        match = re.fullmatch(pattern, key)
        if match:
            return rename(match)
    raise KeyError(f"official VQ-VAE key {key!r} has no counterpart in MotionVQVAE")


def official_state_dict_to_ours(state_dict: dict, num_stages: int = 2) -> dict:
    """Rename an official VQ-VAE state dict to this module's keys.

    The EMA sums and counts, which the official checkpoint does not store, restart from its codebook.
    """
    ours = {official_key_to_ours(key, num_stages): value for key, value in state_dict.items()}
    if "quantizer.codebook" in ours:
        codebook = ours["quantizer.codebook"]
        ours["quantizer.code_sum"] = codebook.clone()
        ours["quantizer.code_count"] = torch.ones(codebook.shape[0], dtype=codebook.dtype)
        ours["quantizer.initialized"] = torch.tensor(True)
    return ours
