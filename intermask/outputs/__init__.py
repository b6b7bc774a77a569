"""Results people can look at and use: joint arrays with a sidecar, videos, BVH files and an HTML viewer."""
from .bvh import load_bvh_joints, solve_local_rotations, write_bvh
from .video import render_contact_sheet, render_frames, render_video
from .viewer import viewer_html, write_viewer
from .writer import load_joints, load_sidecar, write_result

__all__ = [
    "write_result", "load_joints", "load_sidecar", "load_bvh_joints",
    "render_video", "render_frames", "render_contact_sheet",
    "write_bvh", "solve_local_rotations", "viewer_html", "write_viewer",
]
