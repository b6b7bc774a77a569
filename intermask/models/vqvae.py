"""The 2D motion VQ-VAE: one person's motion as a (part, time) grid of codebook tokens.

    features (batch, time, feature)                       e.g. (B, T, 262)
      -> joint grid (batch, channel, joint, time)         (B, 12, 22, T)   pos | vel | rot6d per joint
      -> encoder: 2 graph convs, 2 strided 2D convs       (B, code_dim, 5, T/4)
      -> quantiser over the part-major flattening         codes (B, 5, T/4)
      -> decoder: 2 nearest upsamplings to (11, T/2), (22, T), 2 graph convs
      -> joint grid -> features                           (B, T, 262), foot contacts zero

Axis names used in the shapes below: b batch, c channel, j joint, p part (a row of the latent grid),
t time (frames or latent steps), d code dimension.

The InterHuman model reads the grid through two skeleton graph convolutions and writes it through two more; the
Inter-X model (``graph=False``) uses one 3x3 convolution at each end and strided convolutions over its 56 rows.
Official checkpoints convert through ``official.weights`` (``vq_key_table``, ``convert_vq``) and switch on the
published code's quirks (``legacy_graph``, ``legacy_reset``: ``official_quirks``, 1 and 3).
"""
from __future__ import annotations

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


def _grid_placement(layout: FeatureLayout) -> list[tuple[slice, int, slice]]:
    """(feature slice, rows, grid slice (rows, channels)) of each of the layout's grid blocks."""
    placement, channel = [], 0
    for start, stop, channels, first_row in layout.grid_blocks:
        rows = (stop - start) // channels
        placement.append((slice(start, stop), rows, (slice(first_row, first_row + rows),
                                                     slice(channel, channel + channels))))
        channel += channels
    return placement


def check_vq_layout(layout: FeatureLayout) -> None:
    """The VQ-VAE's assumptions about a layout, checked once with a clear message."""
    joints, channel = layout.num_joints, 0
    for start, stop, channels, first_row in layout.grid_blocks:
        block = f"layout.grid_blocks entry {(start, stop, channels, first_row)}"
        if not (0 <= start < stop <= layout.dim) or channels < 1 or (stop - start) % channels:
            raise ValueError(f"{block}: features {start}:{stop} of {layout.dim} must split into rows of {channels}")
        if not 0 <= first_row <= joints - (stop - start) // channels:
            raise ValueError(f"{block}: its {(stop - start) // channels} rows from row {first_row} pass the "
                             f"{joints} joints")
        channel += channels
    if channel != layout.channels_per_joint:
        raise ValueError(f"layout.grid_blocks fill {channel} channels, layout.channels_per_joint is "
                         f"{layout.channels_per_joint}")
    sizes = tuple(layout.joint_sizes)
    if sizes[0] != joints or sizes[-1] != layout.num_parts:
        raise ValueError(f"layout.joint_sizes {sizes} must run from num_joints={joints} "
                         f"to num_parts={layout.num_parts}")
    kernel, stride = layout.joint_kernel, layout.joint_stride
    for before, after in zip(sizes, sizes[1:]):
        if (before + 2 - kernel) // stride + 1 != after:
            raise ValueError(f"layout.joint_sizes {sizes}: a kernel-{kernel}, stride-{stride}, padding-1 "
                             f"convolution maps {before} joints to {(before + 2 - kernel) // stride + 1}, not {after}")
    if layout.time_downsample != 2 ** (len(sizes) - 1):
        raise ValueError(f"layout.time_downsample={layout.time_downsample} must be 2 ** stages "
                         f"= {2 ** (len(sizes) - 1)} for joint_sizes {sizes}")
    upsampled = layout.upsampled_joint_sizes
    if len(upsampled) != len(sizes) - 1 or upsampled[-1] != joints:
        raise ValueError(f"layout.decoder_joint_sizes {upsampled} must hold one size per stage "
                         f"({len(sizes) - 1}) and end at num_joints={joints}")


def features_to_joint_grid(features: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """(b, t, feature) -> (b, channel, joint, t), filled by the layout's grid blocks (InterHuman: per joint
    [position 3 | velocity 3 | 6D rotation 6]; the root has no local rotation, so its rotation channels are zero;
    contacts are dropped)."""
    grid = features.new_zeros(*features.shape[:2], layout.num_joints, layout.channels_per_joint)
    for feature_slice, rows, (row_slice, channel_slice) in _grid_placement(layout):
        grid[:, :, row_slice, channel_slice] = features[..., feature_slice].unflatten(-1, (rows, -1))
    return rearrange(grid, "b t j c -> b c j t")


def joint_grid_to_features(grid: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """(b, channel, joint, t) -> (b, t, feature). Grid cells outside the blocks (the root rotation channels)
    are discarded; features outside them (foot contacts) are zero."""
    grid = rearrange(grid, "b c j t -> b t j c")
    features = grid.new_zeros(*grid.shape[:2], layout.dim)
    for feature_slice, _, (row_slice, channel_slice) in _grid_placement(layout):
        features[..., feature_slice] = grid[:, :, row_slice, channel_slice].flatten(-2)
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
    """Shrink the joints (kernel ``joint_kernel``, stride ``joint_stride``) and halve time (kernel 4, stride 2) with
    one padding-1 convolution, then refine with a residual stack."""

    def __init__(self, width: int, depth: int, dilation_growth: int, dropout: float, joint_kernel: int = 4,
                 joint_stride: int = 2):
        super().__init__()
        self.downsample = nn.Conv2d(width, width, (joint_kernel, 4), stride=(joint_stride, 2), padding=1)
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
    """(b, channel, j, t) -> (b, code_dim, parts, t / 2^stages).

    The input layer is two skeleton graph convolutions (``graph``, InterHuman) or one 3x3 convolution (Inter-X).
    """

    def __init__(self, layout: FeatureLayout, width: int, code_dim: int, depth: int, dilation_growth: int,
                 dropout: float, legacy_graph: bool, graph: bool = True):
        super().__init__()
        joints, bones, channels = layout.num_joints, layout.bones, layout.channels_per_joint
        if graph:
            self.graph1 = SkeletonGraphConv(channels, width, bones, joints, legacy=legacy_graph)
            self.graph2 = SkeletonGraphConv(width, width, bones, joints, legacy=legacy_graph)
        else:
            self.input_conv = nn.Conv2d(channels, width, 3, padding=1)
        self.graph = graph
        self.stages = nn.ModuleList(DownStage(width, depth, dilation_growth, dropout, layout.joint_kernel,
                                              layout.joint_stride) for _ in layout.joint_sizes[1:])
        self.to_code = nn.Conv2d(width, code_dim, 3, padding=1)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        if self.graph:
            x = F.relu(self.graph2(F.relu(self.graph1(grid))))
        else:
            x = F.relu(self.input_conv(grid))
        for stage in self.stages:
            x = stage(x)
        return self.to_code(x)


class MotionDecoder(nn.Module):
    """(b, code_dim, parts, t') -> (b, channel, j, t' * 2^stages), upsampling joints through the layout's
    ``upsampled_joint_sizes``; the output layer is two skeleton graph convolutions (``graph``) or a 3x3 one."""

    def __init__(self, layout: FeatureLayout, width: int, code_dim: int, depth: int, dilation_growth: int,
                 dropout: float, legacy_graph: bool, graph: bool = True):
        super().__init__()
        joints, bones, channels = layout.num_joints, layout.bones, layout.channels_per_joint
        self.joint_sizes = layout.upsampled_joint_sizes  # e.g. (11, 22)
        self.from_code = nn.Conv2d(code_dim, width, 3, padding=1)
        self.stages = nn.ModuleList(UpStage(width, depth, dilation_growth, dropout) for _ in self.joint_sizes)
        self.refine = nn.Conv2d(width, width, 3, padding=1)
        if graph:
            self.graph1 = SkeletonGraphConv(width, width, bones, joints, legacy=legacy_graph)
            self.graph2 = SkeletonGraphConv(width, channels, bones, joints, legacy=legacy_graph)
        else:
            self.output_conv = nn.Conv2d(width, channels, 3, padding=1)
        self.graph = graph

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        if latent.device.type == "cpu":
            # a latent grid regrouped from code vectors is laid out channels-last, and convolutions keep the layout
            # they are given; on a CPU their backward pass is faster in the standard layout (VQ-VAE step 5% faster)
            latent = latent.contiguous()
        x = F.relu(self.from_code(latent))
        for stage, joints in zip(self.stages, self.joint_sizes):
            x = stage(x, size=(joints, 2 * x.shape[-1]))
        x = F.relu(self.refine(x))
        if self.graph:
            return self.graph2(F.relu(self.graph1(x)))
        return self.output_conv(x)


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
        legacy_graph: the published graph batching, for converted checkpoints only (``official_quirks``, 1).
        graph: skeleton graph convolutions as the encoder's input and the decoder's output layers (InterHuman);
            False: one 3x3 convolution each (Inter-X, whose rows are no single skeleton graph).
        decay, gumbel_temperature, stochastic_assignment, legacy_reset: see ``EMAQuantizer``.
        partner_frame: the tokens of a pair's second person were made with that person placed relative to the
            first's root (``motion.partner``). The model codes one person at a time and never reads it; whoever
            pairs people for it (the VQ task, ``InterMask``) does, so the convention travels with the weights.
        body_size: None: each person coded at their own size (the published). A skeleton size in metres (the sum of
            the bone lengths): both people of a pair were scaled to it about the point between them before
            tokenizing, their scales kept apart from the tokens (``motion.body_size``); like ``partner_frame``, read
            by whoever feeds the model (``motion.coding``), not by the model.
    """

    def __init__(self, layout: FeatureLayout = INTERHUMAN, width: int = 512, code_dim: int = 512,
                 num_codes: int = 1024, depth: int = 2, dilation_growth: int = 3, dropout: float = 0.2,
                 legacy_graph: bool = False, decay: float = 0.99, gumbel_temperature: float = 0.5,
                 stochastic_assignment: bool = True, legacy_reset: bool = False, graph: bool = True,
                 partner_frame: bool = False, body_size: float | None = None):
        super().__init__()
        check_vq_layout(layout)
        if partner_frame and not layout.has_positions:
            raise ValueError("partner_frame needs features with joint positions; this layout has none")
        if body_size is not None and (isinstance(body_size, bool) or not float(body_size) > 0):
            raise ValueError(f"body_size must be null or a skeleton size in metres > 0, got {body_size!r}")
        if body_size is not None and not layout.has_positions:
            raise ValueError("body_size needs features with joint positions; this layout has none")
        self.layout = layout
        self.partner_frame = bool(partner_frame)
        self.body_size = None if body_size is None else float(body_size)
        self.config = dict(layout=layout.to_dict(), width=width, code_dim=code_dim,
                           num_codes=num_codes, depth=depth, dilation_growth=dilation_growth, dropout=dropout,
                           legacy_graph=legacy_graph, decay=decay, gumbel_temperature=gumbel_temperature,
                           stochastic_assignment=stochastic_assignment, legacy_reset=legacy_reset, graph=graph,
                           partner_frame=self.partner_frame, body_size=self.body_size)
        trunk = dict(width=width, code_dim=code_dim, depth=depth, dilation_growth=dilation_growth,
                     dropout=dropout, legacy_graph=legacy_graph, graph=graph)
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

    def decode_vectors(self, vectors: torch.Tensor) -> torch.Tensor:
        """Features (b, 4 t', feature) of code vectors (b, parts, t', code_dim), codebook rows or blends of them,
        differentiably (a loss on the features reaches the vectors)."""
        return joint_grid_to_features(self.decoder(rearrange(vectors, "b p t d -> b d p t")), self.layout)

    def _decode_all(self, codes: torch.Tensor) -> torch.Tensor:
        return self.decode_vectors(self.quantizer.decode(codes))

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
