"""Rotation conversions, batch-first, for torch tensors and numpy arrays alike.

The 6D representation is the first two columns of the rotation matrix read row by row:
``[R00, R01, R10, R11, R20, R21]``. That is the layout for which mirroring across the x axis negates the
6D components 1, 2 and 4, as the InterHuman files expect.
"""
from __future__ import annotations

import functools

import numpy as np
import torch


def _is_numpy(value) -> bool:
    # numpy scalars (np.float64(0.5)) are not ndarrays but must take the numpy path too
    return isinstance(value, (np.ndarray, np.generic))


def _accepts_numpy(fn):
    """Run a torch implementation on numpy input too, returning numpy with the input's dtype."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if any(_is_numpy(a) for a in args):
            dtype = next(np.asarray(a).dtype for a in args if _is_numpy(a))
            converted = [torch.from_numpy(np.asarray(a, dtype=np.float64)) if _is_numpy(a) else a
                         for a in args]
            return fn(*converted, **kwargs).numpy().astype(dtype if dtype.kind == "f" else np.float64)
        return fn(*args, **kwargs)

    return wrapper


@_accepts_numpy
def matrix_to_rot6d(matrix):
    """(..., 3, 3) -> (..., 6)."""
    return matrix[..., :, :2].reshape(*matrix.shape[:-2], 6)


@_accepts_numpy
def rot6d_to_matrix(rot6d):
    """(..., 6) -> (..., 3, 3), Gram-Schmidt on the two stored columns."""
    columns = rot6d.reshape(*rot6d.shape[:-1], 3, 2)
    a1, a2 = columns[..., 0], columns[..., 1]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


@_accepts_numpy
def axis_angle_to_matrix(axis_angle):
    """Rodrigues' formula. (..., 3) -> (..., 3, 3)."""
    angle = axis_angle.norm(dim=-1, keepdim=True).unsqueeze(-1)  # (..., 1, 1)
    axis = axis_angle / axis_angle.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*axis.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand_as(skew)
    return eye + torch.sin(angle) * skew + (1 - torch.cos(angle)) * (skew @ skew)


@_accepts_numpy
def matrix_to_axis_angle(matrix):
    """(..., 3, 3) -> (..., 3); angles in [0, pi]."""
    cos = ((matrix.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1.0, 1.0)
    angle = torch.acos(cos)
    vec = torch.stack([matrix[..., 2, 1] - matrix[..., 1, 2],
                       matrix[..., 0, 2] - matrix[..., 2, 0],
                       matrix[..., 1, 0] - matrix[..., 0, 1]], dim=-1)
    sin = torch.sin(angle)
    small = sin.abs() < 1e-6
    axis = vec / (2 * sin.clamp_min(1e-6)).unsqueeze(-1)
    # near pi the antisymmetric part vanishes: take the axis from the symmetric part instead
    near_pi = small & (cos < 0)
    if near_pi.any():
        sym = (matrix[near_pi] + torch.eye(3, dtype=matrix.dtype, device=matrix.device)) / 2
        column = sym.diagonal(dim1=-2, dim2=-1).argmax(-1)
        picked = sym[torch.arange(sym.shape[0]), :, column]
        axis[near_pi] = torch.nn.functional.normalize(picked, dim=-1)
    axis = torch.where(small.unsqueeze(-1) & ~near_pi.unsqueeze(-1), torch.zeros_like(axis), axis)
    return axis * angle.unsqueeze(-1)


@_accepts_numpy
def yaw_matrix(angle):
    """Rotation about +Y by ``angle`` radians. (...,) -> (..., 3, 3)."""
    c, s = torch.cos(angle), torch.sin(angle)
    zero, one = torch.zeros_like(angle), torch.ones_like(angle)
    return torch.stack([c, zero, s, zero, one, zero, -s, zero, c], dim=-1).reshape(*angle.shape, 3, 3)


@_accepts_numpy
def geodesic_angle(matrix_a, matrix_b, eps: float = 1e-7):
    """Angle (radians) of R_a R_b^T. (..., 3, 3) x2 -> (...)."""
    relative = matrix_a @ matrix_b.transpose(-1, -2)
    cos = (relative.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    return torch.acos(cos.clamp(-1 + eps, 1 - eps))
