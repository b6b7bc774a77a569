"""Render one frame of a result's body meshes to a PNG: a look at the mesh output (``formats=[mesh]``).

    python scripts/mesh_frame.py RESULT.npy --frame 60 --out mesh_frame.png [--body-model SMPL_NEUTRAL.pkl]

Without ``--body-model`` the meshes come from a stand-in body-model file this script writes: capsules around the
rest skeleton's bones in SMPL's file layout (the real models are not shipped), so the picture checks the pipeline
(file reading, inverse kinematics onto the model's skeleton, skinning), not what a body looks like.
"""
from __future__ import annotations

import argparse
import pickle
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from intermask.motion.body_model import load_body_model
from intermask.motion.skeleton import NUM_JOINTS, PARENTS, rest_pose
from intermask.outputs.mesh import mesh_vertices
from intermask.outputs.video import fit_front_camera
from intermask.outputs.writer import load_joints

SIDES = 10  # vertices around each capsule ring
RINGS = 4  # rings along each bone
HAND_OFFSETS = np.array([[0.08, 0.0, 0.0], [-0.08, 0.0, 0.0]])  # SMPL's joints 22, 23 beyond the wrists
COLOURS = ((214, 96, 77), (67, 147, 195))


def bone_radius(child: int) -> float:
    return 0.11 if child in (3, 6, 9) else 0.07 if child in (1, 2, 12, 13, 14, 15) else 0.05


def capsule_body_model(path: Path) -> Path:
    """An SMPL-layout body-model file (.pkl) of capsules around the rest skeleton's bones."""
    joints = np.concatenate([rest_pose(), rest_pose()[[20, 21]] + HAND_OFFSETS])
    parents = [*PARENTS, 20, 21]
    vertices, weights, faces = [*joints], [*np.eye(24)], []  # one hidden vertex on each joint for the regressor
    for child in range(1, 24):
        parent = parents[child]
        start, end = joints[parent], joints[child]
        axis = (end - start) / np.linalg.norm(end - start)
        side = np.cross(axis, [0.0, 0.0, 1.0] if abs(axis[2]) < 0.9 else [1.0, 0.0, 0.0])
        side /= np.linalg.norm(side)
        up = np.cross(axis, side)
        first = len(vertices)
        for ring in range(RINGS):
            centre = start + (end - start) * ring / (RINGS - 1)
            for k in range(SIDES):
                angle = 2 * np.pi * k / SIDES
                vertices.append(centre + bone_radius(child) * (np.cos(angle) * side + np.sin(angle) * up))
                weights.append(np.eye(24)[parent])  # a bone moves with its parent joint
        for ring in range(RINGS - 1):
            for k in range(SIDES):
                a, b = first + ring * SIDES + k, first + ring * SIDES + (k + 1) % SIDES
                faces += [[a, b, b + SIDES], [a, b + SIDES, a + SIDES]]
    vertices = np.array(vertices)
    regressor = np.zeros((24, len(vertices)))
    regressor[np.arange(24), np.arange(24)] = 1.0
    table = np.stack([np.array([4294967295, *parents[1:]], dtype=np.int64), np.arange(24)])
    arrays = dict(v_template=vertices, f=np.array(faces), J_regressor=regressor, kintree_table=table,
                  weights=np.array(weights), shapedirs=np.zeros((len(vertices), 3, 10)),
                  posedirs=np.zeros((len(vertices), 3, 207)))
    with open(path, "wb") as handle:
        pickle.dump(arrays, handle)
    return path


def render(meshes: list[np.ndarray], faces: np.ndarray, size=(900, 700)) -> Image.Image:
    """Flat-shaded triangles of each person's mesh (V, 3), far to near, from a 3/4 front camera."""
    points = np.concatenate(meshes)
    camera = fit_front_camera(np.concatenate([points, points * [1, 0, 1]]), *size)
    image = Image.new("RGB", size, (246, 244, 238))
    draw = ImageDraw.Draw(image)
    light = np.array([0.3, 0.8, 0.5]) / np.linalg.norm([0.3, 0.8, 0.5])
    triangles = []
    for person, vertices in enumerate(meshes):
        corners = vertices[faces]  # (F, 3, 3)
        normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        normal /= np.linalg.norm(normal, axis=-1, keepdims=True).clip(min=1e-12)
        shade = 0.45 + 0.55 * np.abs(normal @ light)
        screen, depth = camera.project(corners)
        for k in range(len(faces)):
            triangles.append((depth[k].mean(), screen[k], tuple(int(c * shade[k]) for c in COLOURS[person])))
    for _, screen, colour in sorted(triangles, key=lambda t: -t[0]):
        draw.polygon([tuple(p) for p in screen], fill=colour)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("result", type=Path, help="a result's .npy joints (person, frame, 22, 3)")
    parser.add_argument("--frame", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("mesh_frame.png"))
    parser.add_argument("--body-model", type=Path, default=None, help="SMPL .pkl / SMPL-X .npz (default: capsules)")
    args = parser.parse_args()
    joints = load_joints(args.result)
    joints = joints[None] if joints.ndim == 3 else joints
    with tempfile.TemporaryDirectory() as folder:
        path = args.body_model or capsule_body_model(Path(folder) / "capsules.pkl")
        model = load_body_model(path)
    meshes = [mesh_vertices(person[args.frame:args.frame + 1], model)[0] for person in joints[:, :, :NUM_JOINTS]]
    render(meshes, model.faces).save(args.out)
    print(f"{args.out}: frame {args.frame} of {args.result}, {len(meshes)} people, {len(model.faces)} faces each")


if __name__ == "__main__":
    main()
