"""Result files: BVH round trips, videos, joint arrays with sidecars, the viewer page, rendered frames."""
import json
import re

import imageio.v3 as iio
import numpy as np
import pytest

from intermask.motion.kinematics import forward_kinematics
from intermask.motion.rotation import axis_angle_to_matrix, yaw_matrix
from intermask.motion.skeleton import HEAD_JOINT, JOINT_NAMES, PELVIS_JOINT, REST_OFFSETS
from intermask.outputs import bvh, video, viewer, writer
from intermask.outputs.writer import load_joints, load_sidecar, write_result

LEFT_WRIST, RIGHT_WRIST, LEFT_SHOULDER = JOINT_NAMES.index("left_wrist"), JOINT_NAMES.index("right_wrist"), 16
MILLIMETRE = 1e-3


def make_clip(rng, frames: int = 16):
    """Two people posed by FK with small random local rotations: joints (2, frame, 22, 3), rotations
    (2, frame, 22, 3, 3). Person 2 is 8% taller, so per-clip bone lengths matter."""
    axis_angles = rng.normal(0.0, 0.3, size=(2, frames, 22, 3))
    rotations = axis_angle_to_matrix(axis_angles)
    yaw = np.stack([np.linspace(0, 1.5, frames), np.linspace(np.pi, 2.0, frames)])
    rotations[:, :, 0] = yaw_matrix(yaw) @ rotations[:, :, 0]  # facing turns over the clip
    root = np.zeros((2, frames, 3))
    root[0, :, 0], root[1, :, 0] = -0.7, 0.7
    root[:, :, 2] = np.linspace(0, 0.8, frames)
    root[..., 1] = 0.95
    joints = np.stack([
        forward_kinematics(root[0], rotations[0], REST_OFFSETS),
        forward_kinematics(root[1], rotations[1], REST_OFFSETS * 1.08),
    ])
    return joints, rotations


def raised_left_arm_pose():
    """One person in the rest pose facing +Z, left arm raised overhead, right arm down: (1, 22, 3)."""
    axis_angles = np.zeros((1, 22, 3))
    axis_angles[0, LEFT_SHOULDER, 2] = np.deg2rad(100)
    axis_angles[0, 17, 2] = np.deg2rad(70)
    return forward_kinematics(np.array([[0.0, 0.93, 0.0]]), axis_angle_to_matrix(axis_angles), REST_OFFSETS)


@pytest.fixture
def clip(rng):
    return make_clip(rng)


# ---------------------------------------------------------------- BVH

def test_bvh_round_trip_with_given_rotations_is_within_1mm(clip, tmp_path):
    joints, rotations = clip
    for person in range(2):
        path = bvh.write_bvh(tmp_path / f"p{person}.bvh", joints[person], rotations[person])
        assert np.abs(bvh.load_bvh_joints(path) - joints[person]).max() < MILLIMETRE


def test_bvh_round_trip_from_positions_only_is_within_1mm(clip, tmp_path):
    joints, _ = clip
    for person in range(2):
        path = bvh.write_bvh(tmp_path / f"p{person}.bvh", joints[person])
        assert np.abs(bvh.load_bvh_joints(path) - joints[person]).max() < MILLIMETRE


def test_bvh_round_trip_of_a_body_shaped_unlike_the_rest_pose_is_within_1mm(rng, tmp_path):
    # hips wider and lower, collars and neck leaning: the children of the pelvis and of spine3 point elsewhere
    # relative to each other than in REST_OFFSETS, which no rotation of the rest directions can match
    offsets = REST_OFFSETS.copy()
    offsets[1] += [0.03, -0.04, 0.01]
    offsets[2] += [-0.03, -0.04, 0.01]
    offsets[12] += [0.0, -0.02, 0.03]
    offsets[13] += [0.02, 0.03, -0.02]
    offsets[14] += [-0.01, 0.02, 0.02]
    rotations = axis_angle_to_matrix(rng.normal(0.0, 0.3, size=(24, 22, 3)))
    root = np.stack([np.linspace(0, 1, 24), np.full(24, 0.95), np.zeros(24)], axis=-1)
    joints = forward_kinematics(root, rotations, offsets)
    path = bvh.write_bvh(tmp_path / "body.bvh", joints)
    assert np.abs(bvh.load_bvh_joints(path) - joints).max() < MILLIMETRE


def test_bvhio_reads_our_bvh_files_back_to_the_same_positions(clip, tmp_path):
    bvhio = pytest.importorskip("bvhio")
    joints, rotations = clip
    for person, person_rotations in ((0, rotations[0]), (1, None)):
        path = bvh.write_bvh(tmp_path / f"p{person}.bvh", joints[person], person_rotations)
        root = bvhio.readAsHierarchy(str(path))
        by_name = {joint.Name: joint for joint, _, _ in root.layout()}
        for frame in range(joints.shape[1]):
            root.loadPose(frame, recursive=True)
            positions = np.array([list(by_name[name].PositionWorld) for name in JOINT_NAMES])
            assert np.abs(positions - joints[person, frame]).max() < MILLIMETRE


def test_inverse_kinematics_poses_the_clip_skeleton_like_the_positions(clip):
    joints, _ = clip
    offsets = bvh.clip_offsets(joints[1])
    np.testing.assert_allclose(np.linalg.norm(offsets, axis=-1), np.linalg.norm(REST_OFFSETS * 1.08, axis=-1),
                               atol=1e-9)
    local = bvh.solve_local_rotations(joints[1], offsets)
    np.testing.assert_allclose(local @ np.swapaxes(local, -1, -2), np.broadcast_to(np.eye(3), local.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(local), 1.0, atol=1e-9)
    np.testing.assert_allclose(forward_kinematics(joints[1, :, 0], local, offsets), joints[1], atol=1e-6)


def test_bvh_rejects_rotations_that_pose_another_skeleton(clip, tmp_path):
    joints, rotations = clip
    with pytest.raises(ValueError, match="do not reproduce the joint positions"):
        bvh.write_bvh(tmp_path / "bad.bvh", joints[0], rotations[1][:, ::-1])
    assert not list(tmp_path.iterdir())


def test_zxy_euler_angles_rebuild_the_matrix_including_gimbal_lock(rng):
    matrices = axis_angle_to_matrix(rng.normal(0.0, 1.5, size=(50, 3)))
    locked = bvh.euler_to_matrix(np.array([[30.0, 90.0, 20.0], [-40.0, -90.0, 10.0]]), "ZXY")
    matrices = np.concatenate([matrices, locked])
    rebuilt = bvh.euler_to_matrix(bvh.matrix_to_euler_zxy(matrices), "ZXY")
    np.testing.assert_allclose(rebuilt, matrices, atol=1e-6)


def test_bvh_reader_applies_channels_in_their_listed_order():
    text = """HIERARCHY
ROOT hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation
  JOINT arm
  {
    OFFSET 1 0 0
    CHANNELS 3 Yrotation Zrotation Xrotation
    End Site
    {
      OFFSET 0 0 2
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
0 1 0  0 0 0  0 0 0
5 0 0  0 0 90  0 90 0
"""
    parsed = bvh.parse_bvh(text)
    assert parsed.names == ["hips", "arm", "arm_end"]
    positions = bvh.bvh_positions(parsed)
    np.testing.assert_allclose(positions[0], [[0, 1, 0], [1, 1, 0], [1, 1, 2]], atol=1e-9)
    # root turned 90 degrees about Z sends the arm to +Y; the arm's own Z turn keeps its +Z end site on +Z
    np.testing.assert_allclose(positions[1], [[5, 0, 0], [5, 1, 0], [5, 1, 2]], atol=1e-9)


def test_load_bvh_joints_names_missing_joints(tmp_path):
    path = tmp_path / "other.bvh"
    path.write_text("HIERARCHY\nROOT hips\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition Zposition\n"
                    " End Site\n {\n OFFSET 0 1 0\n }\n}\nMOTION\nFrames: 1\nFrame Time: 0.1\n0 0 0\n")
    with pytest.raises(ValueError, match="lacks the SMPL-22 joints"):
        bvh.load_bvh_joints(path)


def test_bvh_parser_reports_truncated_motion(clip, tmp_path):
    text = bvh.bvh_text(clip[0][0])
    with pytest.raises(ValueError, match="values"):
        bvh.parse_bvh(text[: len(text) - 200], source="cut.bvh")


# ---------------------------------------------------------------- video

def test_mp4_has_one_frame_per_clip_frame(clip, tmp_path):
    if not video.ffmpeg_available():
        pytest.skip("imageio-ffmpeg has no ffmpeg binary here")
    joints, _ = clip
    path = video.render_video(tmp_path / "clip.mp4", joints, "two people step forward")
    assert path.suffix == ".mp4"
    frames = list(iio.imiter(path))
    assert len(frames) == joints.shape[1]
    assert frames[0].shape == (video.CAPTION_HEIGHT + video.VIEW_HEIGHT, 2 * video.VIEW_WIDTH, 3)


def test_gif_is_written_on_request_and_when_ffmpeg_is_missing(clip, tmp_path, monkeypatch):
    joints, _ = clip
    requested = video.render_video(tmp_path / "asked.gif", joints[:, :5], "two people step forward")
    monkeypatch.setattr(video, "ffmpeg_available", lambda: False)
    fallback = video.render_video(tmp_path / "wanted.mp4", joints[:, :5], "two people step forward")
    assert (requested.name, fallback.name) == ("asked.gif", "wanted.gif")
    for path in (requested, fallback):
        assert iio.imread(path, index=None).shape[0] == 5


def test_front_view_shows_heads_up_and_the_bodys_left_on_the_viewers_right():
    pose = raised_left_arm_pose()
    renderer = video.ClipRenderer(pose[None], "a person raises the left arm")
    screen, _ = renderer.cameras[0].project(pose[0])
    assert screen[HEAD_JOINT, 1] < screen[PELVIS_JOINT, 1]  # image rows grow downwards
    assert screen[LEFT_WRIST, 0] > screen[RIGHT_WRIST, 0]
    assert screen[LEFT_WRIST, 1] < screen[HEAD_JOINT, 1]  # the raised hand is above the head
    top, _ = renderer.cameras[1].project(pose[0])
    assert top[LEFT_WRIST, 0] > top[RIGHT_WRIST, 0]


def test_render_frames_draws_both_people_and_follows_the_motion(clip):
    joints, _ = clip
    frames = video.render_frames(joints, "two people step forward", [0, 15])
    assert all(f.dtype == np.uint8 and f.shape == frames[0].shape and f.ndim == 3 for f in frames)
    picture = frames[0].astype(int)
    blue = (picture[..., 2] - picture[..., 0] > 80).sum()
    orange = (picture[..., 0] - picture[..., 2] > 80).sum()
    assert blue > 200 and orange > 200
    assert np.abs(frames[0].astype(int) - frames[1]).sum() > 0


def test_contact_sheet_tiles_n_frames_in_columns(clip, tmp_path):
    joints, _ = clip
    path = video.render_contact_sheet(tmp_path / "sheet.png", joints, "two people step forward", n=3, columns=2)
    sheet = iio.imread(path)
    height, width = video.CAPTION_HEIGHT + video.VIEW_HEIGHT, 2 * video.VIEW_WIDTH
    assert sheet.shape[:2] == (2 * height, 2 * width)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 4, 21, 3)), "must be"),
    (np.zeros((3, 4, 22, 3)), "must be"),
    (np.zeros((2, 0, 22, 3)), "no frames"),
    (np.full((2, 4, 22, 3), np.nan), "NaN"),
])
def test_renderer_rejects_bad_joint_arrays(bad, message):
    with pytest.raises(ValueError, match=message):
        video.render_frames(bad, "text", [0])


def test_a_nan_is_located_in_plain_numbers():
    joints = np.zeros((2, 4, 22, 3))
    joints[1, 2, 5, 0] = np.inf
    with pytest.raises(ValueError, match=r"first at \(person, frame, joint, xyz\) = \(1, 2, 5, 0\)$"):
        video.render_frames(joints, "text", [0])


def test_renderer_rejects_empty_text(clip):
    with pytest.raises(ValueError, match="text"):
        video.render_frames(clip[0], "  ", [0])


# ---------------------------------------------------------------- joint arrays and the writer

def test_npy_and_json_round_trip_keeps_joints_and_reproduction_metadata(clip, tmp_path):
    joints, _ = clip
    meta = {"seed": np.int64(7), "checkpoint": tmp_path / "model.pt", "config": {"cond_scale": 2.0, "steps": [1, 2]}}
    files = write_result(tmp_path, "hug", joints, "they hug", meta, formats=("npy",))
    assert set(files) == {"npy", "json"}
    loaded = load_joints(files["npy"])
    assert loaded.dtype == np.float32 and loaded.shape == joints.shape
    np.testing.assert_array_equal(loaded, joints.astype(np.float32))
    sidecar = load_sidecar(files["npy"])
    assert sidecar["text"] == "they hug" and sidecar["fps"] == 30.0 and sidecar["num_frames"] == joints.shape[1]
    assert sidecar["seed"] == 7 and sidecar["checkpoint"] == str(tmp_path / "model.pt")
    assert sidecar["config"] == {"cond_scale": 2.0, "steps": [1, 2]}
    assert sidecar["joints_file"] == "hug.npy"


def test_write_result_writes_every_format_atomically(clip, tmp_path):
    joints, rotations = clip
    formats = ("npy", "bvh", "html", "mp4" if video.ffmpeg_available() else "gif")
    files = write_result(tmp_path / "out", "greet", joints[:, :6], "they wave", {"seed": 1},
                         rotations=rotations[:, :6], formats=formats)
    expected = {"npy", "json", "bvh_person1", "bvh_person2", "html", formats[-1]}
    assert set(files) == expected and all(path.is_file() for path in files.values())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in files.values())
    for person in range(2):
        restored = writer.load_bvh_joints(files[f"bvh_person{person + 1}"])
        assert np.abs(restored - joints[person, :6]).max() < MILLIMETRE  # one shared world frame


def test_write_result_refuses_bad_requests(clip, tmp_path):
    joints, _ = clip
    with pytest.raises(ValueError, match="formats"):
        writer.write_result(tmp_path, "x", joints, "t", {}, formats=("avi",))
    with pytest.raises(ValueError, match="name"):
        write_result(tmp_path, "../x", joints, "t", {}, formats=("npy",))
    with pytest.raises(ValueError, match="JSON"):
        writer.write_result(tmp_path, "x", joints, "t", {"model": object()}, formats=("npy",))
    with pytest.raises(ValueError, match="may not set"):
        writer.write_result(tmp_path, "x", joints, "t", {"fps": 20}, formats=("npy",))
    assert not list(tmp_path.glob("*.json"))


def test_load_joints_accepts_one_or_two_people_and_names_the_file_on_bad_shapes(clip, tmp_path):
    joints, _ = clip
    np.save(tmp_path / "one.npy", joints[0])
    assert load_joints(tmp_path / "one.npy").shape == joints[0].shape
    written = write_result(tmp_path, "single", joints[0], "one person", {}, formats=("npy",))
    assert load_joints(written["npy"]).shape == (1, *joints[0].shape)  # a one-person result reads back
    np.save(tmp_path / "bad.npy", joints[..., :2])
    with pytest.raises(ValueError, match=r"bad\.npy.*\(2, frame, 22, 3\)"):
        load_joints(tmp_path / "bad.npy")
    np.save(tmp_path / "three.npy", np.concatenate([joints, joints[:1]]))
    with pytest.raises(ValueError, match="three.npy"):
        load_joints(tmp_path / "three.npy")


# ---------------------------------------------------------------- viewer page

def test_viewer_page_loads_nothing_from_the_network(clip):
    page = viewer.viewer_html(clip[0], "they shake hands")
    assert not re.search(r"https?://", page)
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", page)


def test_viewer_page_embeds_the_clip_and_keeps_the_caption_inert(clip):
    joints, _ = clip
    caption = "</script><script>alert(1)</script> & more"
    page = viewer.viewer_html(joints, caption)
    assert page.count("</script>") == 2  # the data block and the program, nothing from the caption
    data = re.search(r'<script id="clip-data" type="application/json">(.*?)</script>', page, re.S).group(1)
    clip_data = json.loads(data)
    assert clip_data["text"] == caption and clip_data["numFrames"] == joints.shape[1]
    stored = np.array(clip_data["joints"]).reshape(joints.shape) / 1000
    assert np.abs(stored - joints).max() <= 0.0005 + 1e-9
    for element in ('id="scrub"', 'id="play"', 'id="speed"', 'id="caption"', "window.viewer"):
        assert element in page


def test_a_bvh_of_motion_whose_bones_stretch_warns_how_far_it_is_from_the_joints(clip, tmp_path, caplog):
    joints, _ = clip
    stretched = joints.copy()
    stretched[:, ::2, 18:] *= 1.05  # the forearms and hands move away from the body every other frame
    with caplog.at_level("WARNING"):
        write_result(tmp_path, "rigid", joints, "two people", {}, formats=("bvh",))
    assert not caplog.records
    with caplog.at_level("WARNING"):
        write_result(tmp_path, "stretched", stretched, "two people", {}, formats=("bvh",))
    assert "stretched_person1.bvh" in caplog.text and "cm from the .npy" in caplog.text


# ---------------------------------------------------------------- BVH for animation tools

def test_a_bvh_in_centimetres_holds_100_times_the_numbers_and_reads_back_in_metres(clip, tmp_path):
    joints = clip[0][0]
    metres = bvh.read_bvh(bvh.write_bvh(tmp_path / "m.bvh", joints))
    path = bvh.write_bvh(tmp_path / "cm.bvh", joints, units="cm")
    centimetres = bvh.read_bvh(path)
    np.testing.assert_allclose(centimetres.offsets, 100 * metres.offsets, atol=1e-4)
    np.testing.assert_allclose(centimetres.motion[:, :3], 100 * metres.motion[:, :3], atol=1e-4)
    np.testing.assert_allclose(centimetres.motion[:, 3:], metres.motion[:, 3:], atol=1e-5)  # angles stay
    assert np.abs(bvh.load_bvh_joints(path) - joints).max() < MILLIMETRE  # found to be centimetres by its size


@pytest.mark.parametrize("preset", ["humanik", "mixamo"])
def test_joint_name_presets_name_every_joint_and_read_back(clip, tmp_path, preset):
    path = bvh.write_bvh(tmp_path / "named.bvh", clip[0][0], names=preset)
    names = bvh.read_bvh(path).names
    assert [n for n in names if not n.endswith("_end")] [:1] == [bvh.JOINT_NAME_PRESETS[preset][0]]
    assert set(bvh.JOINT_NAME_PRESETS[preset]) <= set(names) and "pelvis" not in names
    assert np.abs(bvh.load_bvh_joints(path) - clip[0][0]).max() < MILLIMETRE


def test_unknown_bvh_units_or_names_stop_before_anything_is_written(clip, tmp_path):
    with pytest.raises(ValueError, match="units must be one of"):
        writer.write_result(tmp_path, "x", clip[0], "two people", {}, formats=("npy", "bvh"), bvh_units="inch")
    with pytest.raises(ValueError, match="joint names must be one of"):
        writer.write_result(tmp_path, "x", clip[0], "two people", {}, formats=("npy", "bvh"), bvh_names="maya")
    assert not list(tmp_path.iterdir())


def test_euler_angles_stay_continuous_through_the_zxy_gimbal():
    from intermask.motion.rotation import axis_angle_to_matrix

    steps = np.deg2rad(np.arange(0, 175, 5.0))  # about X through 90 degrees, where per-frame angles flip
    matrices = axis_angle_to_matrix(steps[:, None] * np.array([1.0, 0.0, 0.0]))
    per_frame = bvh.matrix_to_euler_zxy(matrices)
    assert np.abs(np.diff(per_frame, axis=0)).max() > 90  # the flip this guards against
    angles = bvh.continuous_euler_zxy(per_frame)
    assert np.abs(np.diff(angles, axis=0)).max() < 5.0 + 1e-6
    np.testing.assert_allclose(bvh.euler_to_matrix(angles), matrices, atol=1e-9)


def test_a_bone_swinging_past_its_opposite_direction_turns_its_joint_smoothly():
    from intermask.motion.kinematics import forward_kinematics
    from intermask.motion.rotation import yaw_matrix
    from intermask.motion.skeleton import JOINT_NAMES, NUM_JOINTS, REST_OFFSETS

    # the left forearm swings in the ground plane from its rest direction (+X) all the way round past -X
    elbow = JOINT_NAMES.index("left_elbow")
    frames = 72
    local = np.broadcast_to(np.eye(3), (frames, NUM_JOINTS, 3, 3)).copy()
    local[:, elbow] = yaw_matrix(np.deg2rad(np.arange(frames) * 5.0))
    joints = forward_kinematics(np.zeros((frames, 3)), local, REST_OFFSETS)
    solved = bvh.solve_local_rotations(joints, REST_OFFSETS)
    between = np.einsum("fki,fkl->fil", solved[:-1, elbow], solved[1:, elbow])
    turn = np.degrees(np.arccos(np.clip((np.trace(between, axis1=-2, axis2=-1) - 1) / 2, -1, 1)))
    assert turn.max() < 5.5  # the bone turns 5 degrees a frame; the smallest-arc rotation alone flips by ~180
    np.testing.assert_allclose(forward_kinematics(joints[:, 0], solved, REST_OFFSETS), joints, atol=1e-6)


def test_bvhio_reads_a_centimetre_mixamo_file_onto_the_clip(clip, tmp_path):
    import bvhio  # the [dev] extra installs it: an independent reader

    joints = clip[0][0]
    path = bvh.write_bvh(tmp_path / "p.bvh", joints, units="cm", names="mixamo")
    root = bvhio.readAsHierarchy(str(path))
    by_name = {joint.Name: joint for joint, _, _ in root.layout()}
    for frame in range(joints.shape[0]):
        root.loadPose(frame, recursive=True)
        positions = np.array([list(by_name[name].PositionWorld) for name in bvh.JOINT_NAME_PRESETS["mixamo"]])
        assert np.abs(positions / 100 - joints[frame]).max() < MILLIMETRE
