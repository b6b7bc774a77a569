"""Body models from a user's file: reading, posing (against the independent smplx reader), and result meshes."""
import json
import pickle

import numpy as np
import pytest
import torch

from helpers.body_models import JOINTS, VERTICES, smpl_arrays

from intermask.motion.body_model import BodyModelError, load_body_model
from intermask.motion.kinematics import forward_kinematics
from intermask.motion.rotation import axis_angle_to_matrix
from intermask.motion.skeleton import JOINT_NAMES, NUM_JOINTS, REST_OFFSETS
from intermask.outputs.mesh import body_pose, mesh_vertices, write_mesh

@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    with open(path, "wb") as handle:
        pickle.dump(smpl_arrays(), handle)
    return path


def test_zero_pose_gives_the_template_and_its_regressed_joints(model_file):
    model = load_body_model(model_file)
    vertices, joints = model.pose(np.zeros((2, JOINTS, 3)), trans=np.zeros((2, 3)))
    np.testing.assert_allclose(vertices[1], model.template, atol=1e-12)
    np.testing.assert_allclose(joints[0], model.joint_regressor @ model.template, atol=1e-12)


def test_turning_one_joint_moves_only_its_subtree(model_file):
    model = load_body_model(model_file)
    pose = np.zeros((1, JOINTS, 3))
    elbow = JOINT_NAMES.index("left_elbow")
    pose[0, elbow] = [0.0, 0.8, 0.0]
    _, joints = model.pose(pose)
    moved = np.linalg.norm(joints[0] - model.rest_joints(), axis=-1) > 1e-9
    subtree = {elbow}
    for joint, parent in enumerate(model.parents):
        if parent in subtree:
            subtree.add(joint)
    assert set(np.flatnonzero(moved)) == subtree - {elbow}  # the elbow turns in place; below it everything moves


def test_posing_agrees_with_the_independent_smplx_reader(model_file):
    import smplx  # the [dev] extra installs it
    from smplx.vertex_ids import vertex_ids

    rng = np.random.default_rng(3)
    pose, trans, betas = rng.normal(0, 0.4, (4, JOINTS, 3)), rng.normal(0, 0.5, (4, 3)), rng.normal(0, 1, 10)
    ours, our_joints = load_body_model(model_file).pose(pose, trans, betas)
    reference = smplx.SMPL(model_path=str(model_file), batch_size=4, vertex_ids={k: 0 for k in vertex_ids["smplh"]})
    tensor = lambda x: torch.tensor(x, dtype=torch.float32)  # noqa: E731
    out = reference(global_orient=tensor(pose[:, 0]), body_pose=tensor(pose[:, 1:].reshape(4, -1)),
                    transl=tensor(trans), betas=tensor(np.tile(betas, (4, 1))))
    np.testing.assert_allclose(out.vertices.detach().numpy(), ours, atol=1e-4)
    np.testing.assert_allclose(out.joints[:, :JOINTS].detach().numpy(), our_joints, atol=1e-4)


def test_a_clip_on_the_models_own_skeleton_comes_back_as_its_posed_joints(model_file, tmp_path):
    model = load_body_model(model_file)
    rng = np.random.default_rng(5)
    local = axis_angle_to_matrix(rng.normal(0, 0.5, (6, NUM_JOINTS, 3)))
    offsets = model.rest_offsets()[:NUM_JOINTS]
    clip = forward_kinematics(rng.normal(0, 0.3, (6, 3)) + [0, 0.9, 0], local, offsets)
    pose, trans = body_pose(clip, model)
    _, joints = model.pose(pose, trans)
    np.testing.assert_allclose(joints[:, :NUM_JOINTS], clip, atol=1e-6)
    with np.load(write_mesh(tmp_path / "person1", clip, model, fps=30)) as data:
        assert data["vertices"].shape == (6, VERTICES, 3) and data["faces"].shape == (50, 3)
        np.testing.assert_allclose(data["vertices"], mesh_vertices(clip, model), atol=1e-5)


def test_missing_or_wrong_body_model_files_say_what_and_where(tmp_path):
    with pytest.raises(BodyModelError, match="no such body-model file.*smpl.is.tue.mpg.de"):
        load_body_model(tmp_path / "SMPL_NEUTRAL.pkl")
    arrays = smpl_arrays()
    del arrays["weights"]
    np.savez(tmp_path / "partial.npz", **arrays)
    with pytest.raises(BodyModelError, match=r"lacks \['weights'\]"):
        load_body_model(tmp_path / "partial.npz")
    arrays = smpl_arrays()
    arrays["J_regressor"] = arrays["J_regressor"][:, :-1]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(BodyModelError, match="J_regressor is"):
        load_body_model(tmp_path / "bad.npz")
    (tmp_path / "model.obj").write_text("v 0 0 0\n")
    with pytest.raises(BodyModelError, match=r"\.pkl \(SMPL\) or \.npz"):
        load_body_model(tmp_path / "model.obj")


def test_a_model_without_smpls_body_tree_cannot_pose_a_clip(tmp_path):
    arrays = smpl_arrays()
    arrays["kintree_table"][0, 5] = 1  # right knee hung under the left hip
    np.savez(tmp_path / "odd.npz", **arrays)
    clip = forward_kinematics(np.zeros((2, 3)), np.tile(np.eye(3), (2, NUM_JOINTS, 1, 1)), REST_OFFSETS)
    with pytest.raises(BodyModelError, match="not SMPL's body tree"):
        mesh_vertices(clip, load_body_model(tmp_path / "odd.npz"))


def test_sample_writes_meshes_and_smpl_files_on_the_users_body_model(tmp_path, model_file, monkeypatch):
    import intermask.sampling as sampling
    from intermask.errors import UsageError
    from intermask.motion.layout import INTERHUMAN
    from helpers.stand_in import tiny_model
    from test_sample import sample_config

    monkeypatch.setattr(sampling, "load_interaction_model", lambda path, device: tiny_model(INTERHUMAN))
    cfg = sample_config(tmp_path, "--text", "two people hug", "--length", "1",
                        overrides=["sample.formats=[npy,smpl,mesh]", f"sample.body_model={model_file}"])
    (files,) = sampling.sample_from_config(cfg).values()
    assert {"smpl_person1", "smpl_person2", "mesh_person1", "mesh_person2", "glb_person1", "glb_person2"} <= set(files)
    with np.load(files["mesh_person2"]) as data:
        assert data["vertices"].shape[1:] == (VERTICES, 3) and np.isfinite(data["vertices"]).all()

    (tmp_path / "none").mkdir()
    cfg = sample_config(tmp_path / "none", "--text", "two people hug", "--length", "1",
                        overrides=["sample.formats=[npy,mesh]"])
    with pytest.raises(UsageError, match="mesh format needs a body model"):
        sampling.sample_from_config(cfg)
    assert not (tmp_path / "none" / "out").exists()  # refused before anything was written


def read_accessor(document, blob, index):
    """An accessor's array from a parsed glTF (float, uint16 and uint32 components)."""
    accessor = document["accessors"][index]
    view = document["bufferViews"][accessor["bufferView"]]
    dtype = {5126: np.float32, 5123: np.uint16, 5125: np.uint32}[accessor["componentType"]]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[accessor["type"]]
    raw = np.frombuffer(blob, dtype=dtype, count=accessor["count"] * width, offset=view["byteOffset"])
    return raw.reshape(accessor["count"], width)


def quaternion_matrix(q):
    x, y, z, w = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def test_the_glb_skins_its_mesh_like_the_body_model_in_every_frame(model_file, tmp_path):
    import pygltflib  # the [dev] extra installs it: an independent glTF reader
    from dataclasses import replace

    from intermask.outputs.gltf import write_gltf

    model = replace(load_body_model(model_file), pose_dirs=None)  # glTF skinning has no pose correctives
    rng = np.random.default_rng(7)
    clip = forward_kinematics(rng.normal(0, 0.2, (5, 3)) + [0, 0.9, 0],
                              axis_angle_to_matrix(rng.normal(0, 0.5, (5, NUM_JOINTS, 3))),
                              model.rest_offsets()[:NUM_JOINTS])
    path = write_gltf(tmp_path / "person1", clip, model, fps=30)
    gltf = pygltflib.GLTF2().load_binary(str(path))
    assert len(gltf.animations[0].channels) == JOINTS + 1 and len(gltf.skins[0].joints) == JOINTS
    document, blob = json.loads(gltf.to_json()), gltf.binary_blob()

    primitive = document["meshes"][0]["primitives"][0]
    rest_vertices = read_accessor(document, blob, primitive["attributes"]["POSITION"])
    influences = read_accessor(document, blob, primitive["attributes"]["JOINTS_0"]).astype(int)
    weights = read_accessor(document, blob, primitive["attributes"]["WEIGHTS_0"])
    inverse_bind = read_accessor(document, blob, document["skins"][0]["inverseBindMatrices"]).reshape(-1, 4, 4)
    inverse_bind = inverse_bind.transpose(0, 2, 1)  # stored column by column
    animated = {}
    for channel in document["animations"][0]["channels"]:
        sampler = document["animations"][0]["samplers"][channel["sampler"]]
        animated[(channel["target"]["node"], channel["target"]["path"])] = read_accessor(document, blob,
                                                                                        sampler["output"])
    expected, _ = model.pose(*body_pose(clip, model))
    for frame in range(len(clip)):
        world = {}
        for node in range(1, JOINTS + 1):  # parents come first
            local = np.eye(4)
            local[:3, :3] = quaternion_matrix(animated[(node, "rotation")][frame])
            translation = animated.get((node, "translation"))
            local[:3, 3] = translation[frame] if translation is not None else document["nodes"][node]["translation"]
            parent = next((n for n in world if node in document["nodes"][n].get("children", [])), None)
            world[node] = local if parent is None else world[parent] @ local
        skinning = np.stack([world[j + 1] @ inverse_bind[j] for j in range(JOINTS)])
        blended = np.einsum("vk,vkab->vab", weights, skinning[influences])
        vertices = np.einsum("vab,vb->va", blended[:, :3, :3], rest_vertices) + blended[:, :3, 3]
        np.testing.assert_allclose(vertices, expected[frame], atol=1e-4)
