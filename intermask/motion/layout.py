"""The feature layout: every dataset fact a model or loss needs, in one small object.

Models and losses receive a ``FeatureLayout`` instead of branching on dataset names.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from . import skeleton


@dataclass(frozen=True)
class FeatureLayout:
    """Where each quantity sits in a per-person, per-frame feature vector.

    The default is the InterHuman 262-dim layout: positions (22x3) | velocities (22x3) |
    6D rotations of joints 1..21 (21x6) | foot contacts (4).
    """

    num_joints: int = skeleton.NUM_JOINTS
    parents: tuple = skeleton.PARENTS
    chains: tuple = skeleton.KINEMATIC_CHAINS
    fps: int = 30
    position: slice = field(default_factory=lambda: slice(0, 66))
    velocity: slice = field(default_factory=lambda: slice(66, 132))
    rotation: slice = field(default_factory=lambda: slice(132, 258))
    contact: slice = field(default_factory=lambda: slice(258, 262))
    foot_joints: tuple = skeleton.FOOT_JOINTS
    foot_height_limits: tuple = skeleton.FOOT_HEIGHT_LIMITS
    foot_velocity_limit: float = skeleton.FOOT_VELOCITY_LIMIT
    # the VQ-VAE's per-joint token: position 3 | velocity 3 | 6D rotation 6 (root rotation zero-filled)
    channels_per_joint: int = 12
    # how a frame's features fill that (joint row, channel) grid: blocks (start, stop, channels, first_row), each
    # feature slice start:stop read as (rows, channels) and put at rows first_row.. in the next free channels;
    # grid cells no block fills are zero (the root's rotation), features no block holds decode as zero (contacts)
    grid_blocks: tuple = ((0, 66, 3, 0), (66, 132, 3, 0), (132, 258, 6, 1))
    # the token grid: joints pooled to ``num_parts`` rows, time downsampled by ``time_downsample``
    num_parts: int = 5
    time_downsample: int = 4
    # joint-axis sizes after each VQ down-sampling stage, made by convolutions of kernel ``joint_kernel``, stride
    # ``joint_stride`` and padding 1 along the joints (kernel 4, stride 2 along time)
    joint_sizes: tuple = field(default=(22, 11, 5))
    joint_kernel: int = 4
    joint_stride: int = 2
    # joint-axis sizes after each decoder upsampling (None: ``joint_sizes`` backwards)
    decoder_joint_sizes: tuple | None = None
    # whether models read these features z-scored by the dataset's statistics (Inter-X's are used as they are)
    normalized: bool = True

    def to_dict(self) -> dict:
        """Plain data for checkpoints and JSON: slices become [start, stop], tuples become lists."""
        def plain(value):
            if isinstance(value, slice):
                return [value.start, value.stop]
            if isinstance(value, (tuple, list)):
                return [plain(v) for v in value]
            return value
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: "dict | FeatureLayout") -> "FeatureLayout":
        """Inverse of ``to_dict`` (a FeatureLayout passes through)."""
        if isinstance(data, FeatureLayout):
            return data
        def frozen(value):
            return tuple(frozen(v) for v in value) if isinstance(value, list) else value
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"layout config has unknown keys {sorted(unknown)}")
        slices = {"position", "velocity", "rotation", "contact"}
        return cls(**{name: slice(*value) if name in slices else frozen(value) for name, value in data.items()})

    @property
    def dim(self) -> int:
        return self.contact.stop

    @property
    def has_positions(self) -> bool:
        """Whether the features hold joint positions (Inter-X's reach them only through the SMPL-X body model)."""
        return self.position.stop > self.position.start

    @property
    def upsampled_joint_sizes(self) -> tuple:
        """Joint-axis sizes after each decoder upsampling, e.g. (11, 22)."""
        if self.decoder_joint_sizes is not None:
            return tuple(self.decoder_joint_sizes)
        return tuple(reversed(self.joint_sizes))[1:]

    @property
    def bones(self) -> tuple:
        return tuple((c[i], c[i + 1]) for c in self.chains for i in range(len(c) - 1))


INTERHUMAN = FeatureLayout()

# Inter-X's "smpl" representation, per person (frame, 56, 6) flattened row-major to 336 features: rows 0..54 the
# 6D rotations of the SMPL-X joints (0 root, 1..21 body, 22..24 jaw and eyes, 25..54 hands), row 55 the root
# translation and its velocity. Its VQ-VAE convolves the 56 rows directly (kernel 6, stride 3: 56 -> 18 -> 5 rows)
# and upsamples 5 -> 17 -> 56. Positions exist only through the SMPL-X body model (``data.interx.InterXJoints``
# poses it); the skeleton fields describe the 22 body joints the rows start with.
INTERX = FeatureLayout(
    num_joints=56, position=slice(0, 0), velocity=slice(0, 0), rotation=slice(0, 330), contact=slice(336, 336),
    channels_per_joint=6, grid_blocks=((0, 336, 6, 0),), joint_sizes=(56, 18, 5), joint_kernel=6, joint_stride=3,
    decoder_joint_sizes=(17, 56), normalized=False)
