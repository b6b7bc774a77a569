"""Videos, preview frames and contact sheets of two-person clips, drawn with Pillow into RGB buffers.

Each frame shows two viewpoints side by side under a caption bar: a 3/4 front perspective (the camera sits
in front of the +Z-facing rest pose, turned 35 degrees toward the bodies' left, so a body's left arm
appears on the viewer's right) and an orthographic top-down view (+X right, +Z down the screen). People
are drawn in two colours, their left limbs lighter and right limbs darker, over a floor grid at y = 0 with
a grey floor shadow and a one-second root trail. Lines are drawn at twice the size and box-filtered down,
which anti-aliases them at little cost.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..motion.skeleton import HEAD_JOINT, KINEMATIC_CHAINS, LEFT_JOINTS, PELVIS_JOINT, RIGHT_JOINTS
from ..atomic import atomic_path
from .clip import as_people, check_text

PERSON_COLOURS = ((38, 110, 235), (235, 100, 30))  # person 1 blue, person 2 orange
BACKGROUND = (250, 250, 247)
GRID_MINOR, GRID_MAJOR = (222, 222, 216), (196, 196, 188)
SHADOW = (205, 205, 200)
CAPTION_BACKGROUND, CAPTION_COLOUR = (34, 36, 40), (240, 240, 240)
VIEW_WIDTH, VIEW_HEIGHT = 480, 384  # per viewpoint; multiples of 16 so ffmpeg never rescales
CAPTION_HEIGHT = 48
SUPERSAMPLE = 2
TRAIL_SECONDS = 1.0
HEAD_RADIUS = 0.09  # m
GRID_STEP = 0.5  # m; every second line is drawn darker
FRONT_AZIMUTH, FRONT_ELEVATION, FIELD_OF_VIEW = 35.0, 18.0, 40.0  # degrees
GIF_DOWNSCALE = 2  # gifs hold every frame in memory until saved, so they are written at half size


def _mix(colour, other, amount: float):
    return tuple(int(round(c + (o - c) * amount)) for c, o in zip(colour, other))


def _bone_colour(person_colour, child: int):
    if child in LEFT_JOINTS:
        return _mix(person_colour, (255, 255, 255), 0.38)
    if child in RIGHT_JOINTS:
        return _mix(person_colour, (0, 0, 0), 0.28)
    return person_colour


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType: the fixed bitmap font
        return ImageFont.load_default()


# ---------------------------------------------------------------- cameras

@dataclass
class PerspectiveCamera:
    """Pinhole camera: ``rotation`` rows are the camera's right, up and forward axes in world coordinates."""

    eye: np.ndarray
    rotation: np.ndarray
    focal: float
    centre: tuple[float, float]

    def project(self, points: np.ndarray):
        """World points (..., 3) -> screen pixels (..., 2) and depth along the view (...)."""
        local = (points - self.eye) @ self.rotation.T
        depth = local[..., 2]
        safe = np.where(depth > 1e-6, depth, 1e-6)
        x = self.centre[0] + self.focal * local[..., 0] / safe
        y = self.centre[1] - self.focal * local[..., 1] / safe
        return np.stack([x, y], axis=-1), depth

    def pixels_per_metre(self, depth):
        return self.focal / np.maximum(depth, 1e-6)


@dataclass
class TopCamera:
    """Orthographic view from above: +X to the right, +Z down the screen; depth is -y so higher is nearer."""

    origin: np.ndarray  # world (x, z) at the screen centre
    scale: float  # pixels per metre
    centre: tuple[float, float]

    def project(self, points: np.ndarray):
        x = self.centre[0] + self.scale * (points[..., 0] - self.origin[0])
        y = self.centre[1] + self.scale * (points[..., 2] - self.origin[1])
        return np.stack([x, y], axis=-1), -points[..., 1]

    def pixels_per_metre(self, depth):
        return np.full(np.shape(depth), self.scale)


def fit_front_camera(points: np.ndarray, width: int, height: int, margin: float = 0.92) -> PerspectiveCamera:
    """A 3/4 front camera at the distance that keeps every point (n, 3) inside a ``width`` x ``height`` view."""
    low, high = points.min(axis=0), points.max(axis=0)
    target = (low + high) / 2
    azimuth, elevation = math.radians(FRONT_AZIMUTH), math.radians(FRONT_ELEVATION)
    towards_eye = np.array([math.cos(elevation) * math.sin(azimuth), math.sin(elevation),
                            math.cos(elevation) * math.cos(azimuth)])
    forward = -towards_eye
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    rotation = np.stack([right, up, forward])
    tan_vertical = math.tan(math.radians(FIELD_OF_VIEW) / 2) * margin
    tan_horizontal = tan_vertical * width / height
    local = (points - target) @ rotation.T
    # a point (x, y, z) relative to the target fits when |x| <= tan * (z + distance)
    distance = max(
        float(np.max(np.abs(local[:, 0]) / tan_horizontal - local[:, 2])),
        float(np.max(np.abs(local[:, 1]) / tan_vertical - local[:, 2])),
        1.0,
    )
    focal = (height / 2) / math.tan(math.radians(FIELD_OF_VIEW) / 2)
    return PerspectiveCamera(target + towards_eye * distance, rotation, focal, (width / 2, height / 2))


def fit_top_camera(points: np.ndarray, width: int, height: int, margin: float = 0.88,
                   min_span: float = 2.5) -> TopCamera:
    """A top-down camera framing the (x, z) extent of ``points`` (n, 3), at least ``min_span`` metres wide."""
    low, high = points[:, [0, 2]].min(axis=0), points[:, [0, 2]].max(axis=0)
    span = np.maximum(high - low + 0.4, min_span)
    scale = margin * min(width / span[0], height / span[1])
    return TopCamera((low + high) / 2, scale, (width / 2, height / 2))


def _clip_to_near(start: np.ndarray, end: np.ndarray, camera, near: float = 0.05):
    """Cut a world segment to the part in front of a perspective camera; None if none of it is."""
    if not isinstance(camera, PerspectiveCamera):
        return start, end
    depth_start = (start - camera.eye) @ camera.rotation[2]
    depth_end = (end - camera.eye) @ camera.rotation[2]
    if depth_start < near and depth_end < near:
        return None
    if depth_start < near:
        start = start + (end - start) * (near - depth_start) / (depth_end - depth_start)
    elif depth_end < near:
        end = end + (start - end) * (near - depth_end) / (depth_start - depth_end)
    return start, end


# ---------------------------------------------------------------- the renderer

class ClipRenderer:
    """Renders frames of one clip; cameras, grid and caption are prepared once per clip.

    joints: (person, frame, joint, 3) or (frame, joint, 3), Y-up metres.
    """

    def __init__(self, joints, text: str, fps: float = 30.0):
        self.joints = as_people(joints, "joints")
        self.text = check_text(text)
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = float(fps)
        self.num_people, self.num_frames = self.joints.shape[:2]
        self.width, self.height = 2 * VIEW_WIDTH, CAPTION_HEIGHT + VIEW_HEIGHT
        every = max(1, self.num_frames // 200)
        points = self.joints[:, ::every].reshape(-1, 3)
        # the floor under the people and some room around them belongs in the picture too
        floor = points * [1, 0, 1]
        centre = floor.mean(axis=0)
        around = centre + 0.6 * np.array([[1.0, 0, 1.0], [-1.0, 0, -1.0], [1.0, 0, -1.0], [-1.0, 0, 1.0]])
        framed = np.concatenate([points, floor, around])
        big_w, big_h = VIEW_WIDTH * SUPERSAMPLE, VIEW_HEIGHT * SUPERSAMPLE
        self.cameras = (fit_front_camera(framed, big_w, big_h), fit_top_camera(framed, big_w, big_h))
        self.label_font, self.small_font = _font(15), _font(12)
        self.backgrounds = [self._floor(camera, framed) for camera in self.cameras]
        notes_font = _font(12 * SUPERSAMPLE)
        for background, name in zip(self.backgrounds, ("3/4 front", "top")):
            ImageDraw.Draw(background).text((8 * SUPERSAMPLE, 6 * SUPERSAMPLE), name, fill=(110, 110, 105),
                                            font=notes_font)
        ImageDraw.Draw(self.backgrounds[0]).text((8 * SUPERSAMPLE, (VIEW_HEIGHT - 8) * SUPERSAMPLE),
                                                 "light limbs = left side", fill=(120, 120, 115),
                                                 font=notes_font, anchor="ld")
        self.page = self._page()
        # every chain has one side (left, right or centre), so one colour per chain
        self.chain_colours = [[_bone_colour(colour, chain[-1]) for chain in KINEMATIC_CHAINS]
                              for colour in PERSON_COLOURS]
        trail_length = max(1, int(TRAIL_SECONDS * self.fps))
        self.trail_colours = [[_mix(colour, BACKGROUND, 0.25 + 0.7 * (1 - (k + 1) / trail_length))
                               for k in range(trail_length)] for colour in PERSON_COLOURS]

    # -- static parts

    def _floor(self, camera, framed: np.ndarray) -> Image.Image:
        image = Image.new("RGB", (VIEW_WIDTH * SUPERSAMPLE, VIEW_HEIGHT * SUPERSAMPLE), BACKGROUND)
        draw = ImageDraw.Draw(image)
        low = np.floor((framed[:, [0, 2]].min(axis=0) - 2.0) / GRID_STEP) * GRID_STEP
        high = np.ceil((framed[:, [0, 2]].max(axis=0) + 2.0) / GRID_STEP) * GRID_STEP
        for axis in (0, 1):
            for value in np.arange(low[axis], high[axis] + 1e-9, GRID_STEP):
                start, end = np.zeros(3), np.zeros(3)
                start[2 * axis], end[2 * axis] = value, value
                other = 2 - 2 * axis
                start[other], end[other] = low[1 - axis], high[1 - axis]
                segment = _clip_to_near(start, end, camera)
                if segment is None:
                    continue
                ends, _ = camera.project(np.stack(segment))
                major = abs(value / (2 * GRID_STEP) - round(value / (2 * GRID_STEP))) < 1e-6
                draw.line([tuple(ends[0]), tuple(ends[1])], fill=GRID_MAJOR if major else GRID_MINOR,
                          width=SUPERSAMPLE)
        return image

    def _page(self) -> Image.Image:
        """The caption bar; the views are pasted below it."""
        page = Image.new("RGB", (self.width, self.height), BACKGROUND)
        draw = ImageDraw.Draw(page)
        draw.rectangle([0, 0, self.width, CAPTION_HEIGHT - 1], fill=CAPTION_BACKGROUND)
        font = _font(15)
        lines = _wrap(self.text, font, draw, self.width - 24 - 110, max_lines=2)
        top = (CAPTION_HEIGHT - 18 * len(lines)) / 2
        for k, line in enumerate(lines):
            draw.text((12, top + 18 * k), line, fill=CAPTION_COLOUR, font=font)
        return page

    # -- one frame

    def _trail(self, draw, camera, person: int, frame: int):
        first = max(0, frame - len(self.trail_colours[person]))
        path = self.joints[person, first:frame + 1, PELVIS_JOINT] * [1, 0, 1]
        if len(path) < 2:
            return
        screen, _ = camera.project(path)
        colours = self.trail_colours[person][-(len(path) - 1):]  # newest segments are the strongest
        for k, colour in enumerate(colours):
            draw.line([tuple(screen[k]), tuple(screen[k + 1])], fill=colour, width=2 * SUPERSAMPLE)

    def _draw_view(self, view: int, frame: int) -> Image.Image:
        camera = self.cameras[view]
        image = self.backgrounds[view].copy()
        draw = ImageDraw.Draw(image)
        pose = self.joints[:, frame]  # (person, joint, 3)
        if view == 0:  # floor shadows ground the figures in the perspective view
            shadow, _ = camera.project(pose * [1, 0, 1])
            for person in range(self.num_people):
                for chain in KINEMATIC_CHAINS:
                    draw.line([tuple(point) for point in shadow[person, list(chain)]], fill=SHADOW,
                              width=3 * SUPERSAMPLE, joint="curve")
        for person in range(self.num_people):
            self._trail(draw, camera, person, frame)
        screen, depth = camera.project(pose)
        # limbs and heads painted far to near: (depth, person, chain index or -1 for the head)
        strokes = [(float(depth[person, list(chain)].mean()), person, index)
                   for person in range(self.num_people) for index, chain in enumerate(KINEMATIC_CHAINS)]
        strokes += [(float(depth[person, HEAD_JOINT]), person, -1) for person in range(self.num_people)]
        for _, person, index in sorted(strokes, reverse=True):
            if index >= 0:
                chain = KINEMATIC_CHAINS[index]
                draw.line([tuple(point) for point in screen[person, list(chain)]],
                          fill=self.chain_colours[person][index], width=3 * SUPERSAMPLE, joint="curve")
            else:
                x, y = screen[person, HEAD_JOINT]
                radius = max(3.0, HEAD_RADIUS * float(camera.pixels_per_metre(depth[person, HEAD_JOINT])))
                colour = PERSON_COLOURS[person]
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour,
                             outline=_mix(colour, (0, 0, 0), 0.45), width=SUPERSAMPLE)
        return image.reduce(SUPERSAMPLE)

    def frame(self, frame: int) -> np.ndarray:
        """The picture (height, width, 3) uint8 of one frame index."""
        if not 0 <= frame < self.num_frames:
            raise ValueError(f"frame index {frame} outside the clip's {self.num_frames} frames")
        canvas = self.page.copy()
        for view in range(2):
            canvas.paste(self._draw_view(view, frame), (view * VIEW_WIDTH, CAPTION_HEIGHT))
        draw = ImageDraw.Draw(canvas)
        draw.line([(VIEW_WIDTH, CAPTION_HEIGHT), (VIEW_WIDTH, self.height)], fill=GRID_MAJOR, width=1)
        for view, camera in enumerate(self.cameras):
            above_heads = self.joints[:, frame, HEAD_JOINT] + ([0.0, 0.28, 0.0] if view == 0 else [0.0, 0.0, -0.32])
            labels, _ = camera.project(above_heads)
            for person in range(self.num_people):
                x, y = labels[person] / SUPERSAMPLE + [view * VIEW_WIDTH, CAPTION_HEIGHT]
                draw.text((x, y), f"P{person + 1}", fill=PERSON_COLOURS[person], font=self.label_font,
                          anchor="mm", stroke_width=2, stroke_fill=BACKGROUND)
        clock = f"{frame / self.fps:5.2f} / {(self.num_frames - 1) / self.fps:.2f} s"
        draw.text((self.width - 12, CAPTION_HEIGHT / 2), clock, fill=CAPTION_COLOUR, font=self.small_font,
                  anchor="rm")
        return np.asarray(canvas)


def _wrap(text: str, font, draw, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap to ``max_width`` pixels; the last line ends in an ellipsis if text is left over."""
    words, lines, current = text.split(), [], ""
    for index, word in enumerate(words):
        candidate = f"{current} {word}".strip()
        if draw.textlength(candidate, font=font) <= max_width or not current:
            current = candidate
            continue
        lines.append(current)
        current = word
        if len(lines) == max_lines:
            current = ""
            rest = " ".join([lines.pop(), *words[index:]])
            while rest and draw.textlength(rest + "…", font=font) > max_width:
                rest = rest[:-1]
            lines.append(rest.rstrip() + "…")
            break
    if current:
        lines.append(current)
    return lines


# ---------------------------------------------------------------- public functions

def render_frames(joints, text: str, frame_ids, fps: float = 30.0) -> list[np.ndarray]:
    """Pictures (height, width, 3) uint8 of the given frame indices of a clip (person, frame, joint, 3)."""
    renderer = ClipRenderer(joints, text, fps)
    return [renderer.frame(int(i)) for i in frame_ids]


def ffmpeg_available() -> bool:
    """Whether imageio-ffmpeg and its ffmpeg binary can be used."""
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return False
    return True


def render_video(path, joints, text: str, fps: float = 30.0) -> Path:
    """Write a clip (person, frame, joint, 3) as a video, atomically; one video frame per clip frame.

    ``path`` ending in .mp4 writes H.264 (yuv420p) through imageio-ffmpeg; where ffmpeg is unavailable, or
    when ``path`` ends in .gif, a GIF at half size is written instead (GIF delays are whole centiseconds, so
    30 fps plays at 1/0.03 s). Returns the path written, whose suffix says which.
    """
    path = Path(path)
    if path.suffix.lower() not in (".mp4", ".gif"):
        raise ValueError(f"video path must end in .mp4 or .gif, got {path}")
    renderer = ClipRenderer(joints, text, fps)
    if path.suffix.lower() == ".mp4" and ffmpeg_available():
        _write_mp4(path, renderer)
        return path
    path = path.with_suffix(".gif")
    _write_gif(path, renderer)
    return path


def _write_mp4(path: Path, renderer: ClipRenderer):
    import imageio_ffmpeg

    with atomic_path(path) as temporary:
        writer = imageio_ffmpeg.write_frames(
            str(temporary), (renderer.width, renderer.height), fps=renderer.fps, codec="libx264", quality=None,
            pix_fmt_out="yuv420p", macro_block_size=16, ffmpeg_log_level="error",
            output_params=["-preset", "veryfast", "-crf", "23", "-movflags", "+faststart"],
        )
        writer.send(None)
        try:
            for frame in range(renderer.num_frames):
                writer.send(renderer.frame(frame))
        finally:
            writer.close()


def _write_gif(path: Path, renderer: ClipRenderer):
    images, palette = [], None
    for frame in range(renderer.num_frames):
        image = Image.fromarray(renderer.frame(frame)).reduce(GIF_DOWNSCALE)
        # one palette for all frames keeps colours steady and quantising cheap
        palette = palette or image.quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        images.append(image.quantize(palette=palette, dither=Image.Dither.NONE))
    with atomic_path(path) as temporary:
        images[0].save(temporary, format="GIF", save_all=True, append_images=images[1:],
                       duration=round(1000 / renderer.fps), loop=0, optimize=False)


def render_contact_sheet(path, joints, text: str, n: int = 8, columns: int = 2, fps: float = 30.0) -> Path:
    """Write one PNG with ``n`` evenly spaced frames of a clip (person, frame, joint, 3) in a grid, atomically."""
    if n < 1 or columns < 1:
        raise ValueError(f"contact sheet needs n >= 1 and columns >= 1, got n={n}, columns={columns}")
    renderer = ClipRenderer(joints, text, fps)
    frame_ids = np.unique(np.linspace(0, renderer.num_frames - 1, n).round().astype(int))
    tiles = [renderer.frame(int(i)) for i in frame_ids]
    rows = math.ceil(len(tiles) / columns)
    height, width = tiles[0].shape[:2]
    sheet = np.full((rows * height, min(columns, len(tiles)) * width, 3), 255, dtype=np.uint8)
    for k, tile in enumerate(tiles):
        row, column = divmod(k, columns)
        sheet[row * height:(row + 1) * height, column * width:(column + 1) * width] = tile
    path = Path(path)
    with atomic_path(path) as temporary:
        Image.fromarray(sheet).save(temporary, format="PNG")
    return path
