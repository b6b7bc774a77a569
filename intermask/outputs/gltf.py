"""An animated, skinned body mesh as one binary glTF 2.0 file (``.glb``), which Blender and most 3D tools import.

The file holds the body model's rest mesh (Y-up metres, as glTF wants), a skeleton of its joints (one node each,
placed at its rest offset from its parent), a skin (each vertex on its four most weighted joints, weights
renormalised) and one animation: every joint's rotation per frame and the root's translation, sampled linearly at
the clip's frame rate. The body model's pose-corrective blend shapes are not part of glTF skinning and are left out.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..motion.body_model import BodyModel
from ..motion.rotation import axis_angle_to_matrix
from .mesh import body_pose

INFLUENCES = 4  # joints per vertex in glTF's JOINTS_0 / WEIGHTS_0
FLOAT, UNSIGNED_SHORT, UNSIGNED_INT = 5126, 5123, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963


def matrix_to_quaternion(matrix: np.ndarray) -> np.ndarray:
    """Rotations (..., 3, 3) -> unit quaternions (..., 4) in glTF's (x, y, z, w) order, w >= 0."""
    m = np.asarray(matrix, dtype=np.float64)
    w = np.sqrt(np.clip(1.0 + m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2], 0.0, None)) / 2
    x = np.sqrt(np.clip(1.0 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2], 0.0, None)) / 2
    y = np.sqrt(np.clip(1.0 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], 0.0, None)) / 2
    z = np.sqrt(np.clip(1.0 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2], 0.0, None)) / 2
    x = np.copysign(x, m[..., 2, 1] - m[..., 1, 2])
    y = np.copysign(y, m[..., 0, 2] - m[..., 2, 0])
    z = np.copysign(z, m[..., 1, 0] - m[..., 0, 1])
    quaternion = np.stack([x, y, z, w], axis=-1)
    return quaternion / np.linalg.norm(quaternion, axis=-1, keepdims=True)


def continuous_quaternions(quaternions: np.ndarray) -> np.ndarray:
    """Quaternions (frame, ..., 4) with each frame's sign chosen nearest the previous frame's, so that linear
    interpolation between frames never takes the long way round."""
    out = quaternions.copy()
    for frame in range(1, len(out)):
        flip = (out[frame] * out[frame - 1]).sum(axis=-1) < 0
        out[frame][flip] *= -1
    return out


class _Buffer:
    """The binary chunk and its views and accessors, appended in order."""

    def __init__(self):
        self.data, self.views, self.accessors = bytearray(), [], []

    def add(self, array: np.ndarray, component: int, kind: str, target: int | None = None,
            bounds: bool = False) -> int:
        while len(self.data) % 4:
            self.data.append(0)
        raw = np.ascontiguousarray(array).tobytes()
        view = {"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)}
        if target is not None:
            view["target"] = target
        self.data += raw
        self.views.append(view)
        accessor = {"bufferView": len(self.views) - 1, "componentType": component, "count": int(array.shape[0]),
                    "type": kind}
        if bounds:
            flat = array.reshape(array.shape[0], -1)
            accessor["min"], accessor["max"] = flat.min(axis=0).tolist(), flat.max(axis=0).tolist()
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def gltf_binary(model: BodyModel, pose: np.ndarray, trans: np.ndarray, fps: float, name: str = "person") -> bytes:
    """The .glb bytes of ``model`` animated by axis-angle ``pose`` (frame, joints, 3) and ``trans`` (frame, 3)."""
    frames = pose.shape[0]
    rest = model.rest_joints()
    offsets = model.rest_offsets()
    buffer = _Buffer()
    positions = buffer.add(model.template.astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER, bounds=True)
    strongest = np.argsort(-model.weights, axis=1)[:, :INFLUENCES]
    weights = np.take_along_axis(model.weights, strongest, axis=1).clip(min=0.0)
    weights /= weights.sum(axis=1, keepdims=True).clip(min=1e-12)
    joints_0 = buffer.add(strongest.astype(np.uint16), UNSIGNED_SHORT, "VEC4", ARRAY_BUFFER)
    weights_0 = buffer.add(weights.astype(np.float32), FLOAT, "VEC4", ARRAY_BUFFER)
    indices = buffer.add(model.faces.reshape(-1).astype(np.uint32), UNSIGNED_INT, "SCALAR", ELEMENT_ARRAY_BUFFER)
    # the rest skeleton has no rotations, so each joint's inverse bind matrix only moves its rest position to 0
    inverse_bind = np.tile(np.eye(4, dtype=np.float32), (model.num_joints, 1, 1))
    inverse_bind[:, :3, 3] = -rest
    bind = buffer.add(inverse_bind.transpose(0, 2, 1).reshape(-1, 16), FLOAT, "MAT4")  # glTF stores columns first

    rotations = np.broadcast_to(np.eye(3), (frames, model.num_joints, 3, 3)).copy()
    rotations[:, : pose.shape[1]] = axis_angle_to_matrix(np.asarray(pose, dtype=np.float64))
    quaternions = continuous_quaternions(matrix_to_quaternion(rotations)).astype(np.float32)
    times = buffer.add((np.arange(frames) / fps).astype(np.float32), FLOAT, "SCALAR", bounds=True)
    root_path = buffer.add((rest[0] + trans).astype(np.float32), FLOAT, "VEC3")
    samplers = [{"input": times, "output": root_path, "interpolation": "LINEAR"}]
    channels = [{"sampler": 0, "target": {"node": 1, "path": "translation"}}]
    for joint in range(model.num_joints):
        samplers.append({"input": times, "output": buffer.add(quaternions[:, joint], FLOAT, "VEC4"),
                         "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": joint + 1, "path": "rotation"}})

    # node 0 is the mesh, nodes 1.. the joints (joint j is node j + 1)
    nodes = [{"name": name, "mesh": 0, "skin": 0}]
    for joint, parent in enumerate(model.parents):
        node = {"name": f"joint{joint}", "translation": offsets[joint].tolist()}
        children = [child + 1 for child, p in enumerate(model.parents) if p == joint]
        if children:
            node["children"] = children
        nodes.append(node)
    document = {
        "asset": {"version": "2.0", "generator": "intermask"},
        "scene": 0,
        "scenes": [{"nodes": [0, 1]}],
        "nodes": nodes,
        "meshes": [{"name": name, "primitives": [{"attributes": {"POSITION": positions, "JOINTS_0": joints_0,
                                                                 "WEIGHTS_0": weights_0}, "indices": indices}]}],
        "skins": [{"joints": list(range(1, model.num_joints + 1)), "inverseBindMatrices": bind, "skeleton": 1}],
        "animations": [{"name": "interaction", "samplers": samplers, "channels": channels}],
        "buffers": [{"byteLength": len(buffer.data)}],
        "bufferViews": buffer.views,
        "accessors": buffer.accessors,
    }
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    binary = bytes(buffer.data) + b"\0" * (-len(buffer.data) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return (struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<I4s", len(text), b"JSON") + text
            + struct.pack("<I4s", len(binary), b"BIN\0") + binary)


def write_gltf(path, joints, model: BodyModel, fps: float) -> Path:
    """Write one person's clip (frame, 22, 3) as an animated skinned mesh of ``model`` (``.glb``, atomically)."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    path = Path(path).with_suffix(".glb")
    pose, trans = body_pose(joints, model)
    content = gltf_binary(model, pose, trans, fps, name=path.stem)
    with atomic_path(path) as temporary:
        temporary.write_bytes(content)
    return path
