"""The web app: a Starlette application around one loaded model and its generation queue.

    GET  /                           the page (static/index.html, its script and style from /static)
    GET  /api/info                   the model's length range and the page's defaults and limits
    POST /api/generate               a form (captions, length, seed, cond_scale, num_samples; reaction: mode,
                                     motion files, person; edit: mode, motion files, ranges, range_kind,
                                     edit_person, part) -> 202 {"job": id}, or 400/413 {"error": message}
    GET  /api/jobs/{id}              the job's state (``jobs.GenerationQueue.state``)
    GET  /results/{folder}/{file}    a result file as written to the output folder
    GET  /api/zip/{folder}/{name}/{bvh|npy}   the BVH pair, or the .npy with its .json, as one zip

Every request's results go to a folder of their own under the output folder, written by ``sampling`` through
``outputs.writer`` (atomic), so what the page shows is what is on disk. Uploads are checked (size, that they
hold a motion) before a job is queued, and land in the request's folder too.
"""
from __future__ import annotations

import io
import math
import re
import secrets
import time
import zipfile
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch
from omegaconf import DictConfig, OmegaConf
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..atomic import atomic_path
from ..errors import ConfigError, UsageError
from ..generation.editing import body_parts
from ..generation.interaction_model import InterMask
from ..models.text import caption_cuts
from ..outputs.writer import load_sidecar
from ..sampling import PEOPLE, edit_input, reaction_source, sample_with
from .jobs import GenerationQueue

STATIC = Path(__file__).with_name("static")
NEEDED_FORMATS = ("npy", "bvh", "html")  # the viewer, the BVH pair and npy+json downloads
MOTION_SUFFIXES = (".npy", ".bvh")
PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MEGABYTE = 2 ** 20
DRAINED_AT_MOST = 1024 * MEGABYTE


@dataclass
class AppSettings:
    """What the app needs besides the model: where results go and the sample settings each request starts from."""

    out: Path
    sample: DictConfig
    checkpoint: str
    typical_seconds: float
    device: torch.device
    max_captions: int = 8
    max_samples: int = 4
    max_upload_mb: float = 8
    keep_jobs: int = 200


def create_app(model: InterMask, settings: AppSettings) -> Starlette:
    """The app serving ``model``; its queue is ``app.state.jobs`` (closed when the app shuts down)."""
    missing = [fmt for fmt in NEEDED_FORMATS if fmt not in settings.sample.formats]
    if missing:
        raise ConfigError(f"sample.formats={list(settings.sample.formats)}: the app needs {list(NEEDED_FORMATS)} "
                          f"(add {missing})")
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    limits = Limits.of(model, settings)

    def run(request: SimpleNamespace, progress) -> list[dict]:
        cuts = {cut.text: cut.message() for cut in caption_cuts(model.text_encoder.backbone, request.captions)}
        written = sample_with(model, request.sample, settings.checkpoint, settings.typical_seconds, settings.device,
                              progress)
        return [describe(name, files, out, cuts) for name, files in written.items()]

    jobs = GenerationQueue(run, settings.keep_jobs)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def info(request: Request) -> Response:
        return JSONResponse({**vars(limits), "checkpoint": checkpoint_name(settings.checkpoint),
                             "seed": int(settings.sample.seed),
                             "num_samples": int(settings.sample.num_samples)})

    async def generate(request: Request) -> Response:
        declared = int(request.headers.get("content-length") or 0)
        if declared > limits.max_upload_bytes:
            if declared <= DRAINED_AT_MOST:  # read it away, so the client gets the answer, not a broken pipe
                async for _ in request.stream():
                    pass
            return problem(413, too_large(declared, limits))
        try:
            async with request.form(max_files=2, max_fields=24) as form:
                fields = {key: value for key, value in form.items() if isinstance(value, str)}
                fields["part"] = ",".join(item for item in form.getlist("part") if isinstance(item, str))
                uploads = [item for item in form.getlist("motion") if isinstance(item, UploadFile) and item.filename]
                if sum(item.size or 0 for item in uploads) > limits.max_upload_bytes:
                    return problem(413, too_large(sum(item.size or 0 for item in uploads), limits))
                files = [(item.filename, await item.read()) for item in uploads]
        except MultiPartException as error:
            return problem(400, f"the form could not be read: {error}")
        try:
            job_request = parse_request(fields, files, limits, settings, out)
            if job_request.sample.edit:
                check_edit(model, job_request.sample, files)
        except UsageError as error:
            return problem(400, str(error))
        job = jobs.submit(job_request)
        return JSONResponse({"job": job.id}, status_code=202)

    async def job_state(request: Request) -> Response:
        state = jobs.state(request.path_params["job_id"])
        if state is None:
            return problem(404, "no such request (the server forgets old ones; their files stay in the output "
                                "folder)")
        return JSONResponse(state)

    async def bundle(request: Request) -> Response:
        folder, name, kind = (request.path_params[key] for key in ("folder", "name", "kind"))
        if not (PLAIN_NAME.match(folder) and PLAIN_NAME.match(name)) or kind not in ("bvh", "npy"):
            return problem(404, "no such result")
        directory = out / folder
        paths = (sorted(directory.glob(f"{name}_person*.bvh")) if kind == "bvh"
                 else [path for path in (directory / f"{name}.npy", directory / f"{name}.json") if path.is_file()])
        if not paths:
            return problem(404, f"no {kind} files for {folder}/{name}")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in paths:
                archive.write(path, path.name)
        return Response(buffer.getvalue(), media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{name}_{kind}.zip"'})

    @asynccontextmanager
    async def lifespan(app):
        yield
        jobs.close(timeout=5)

    app = Starlette(routes=[
        Route("/", page),
        Route("/api/info", info),
        Route("/api/generate", generate, methods=["POST"]),
        Route("/api/jobs/{job_id}", job_state),
        Route("/api/zip/{folder}/{name}/{kind}", bundle),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Mount("/results", StaticFiles(directory=out), name="results"),
    ], lifespan=lifespan)
    app.state.jobs = jobs
    return app


@dataclass
class Limits:
    """What a request may ask of this model and app; the page reads them from /api/info."""

    fps: float
    shortest_seconds: float
    longest_seconds: float
    default_seconds: float
    cond_scale: float  # the guidance scale a request gets when it gives none: sample.cond_scale, else the model's
    max_captions: int
    max_samples: int
    max_upload_bytes: int
    parts: list[str]

    @classmethod
    def of(cls, model: InterMask, settings: AppSettings) -> "Limits":
        fps = float(model.layout.fps)
        # whole tenths of a second inside what the model generates
        shortest = math.ceil(10 * model.frames_per_token / fps) / 10
        longest = math.floor(10 * model.max_frames / fps) / 10
        default = float(settings.sample.length) if settings.sample.length is not None else settings.typical_seconds
        cond_scale = model.guidance_scale(settings.sample.cond_scale, "sample.cond_scale")
        return cls(fps, shortest, longest, min(max(default, shortest), longest), cond_scale, int(settings.max_captions),
                   int(settings.max_samples), int(settings.max_upload_mb * MEGABYTE), list(body_parts(model.layout)))


def parse_request(fields: dict[str, str], files: list[tuple[str, bytes]], limits: Limits, settings: AppSettings,
                  out: Path) -> SimpleNamespace:
    """The form's fields and uploaded files -> a job request (captions, sample config); UsageError says what is
    wrong in words the page shows as they are."""
    mode = fields.get("mode", "text")
    if mode not in ("text", "reaction", "edit"):
        raise UsageError(f"Mode {mode!r}: text, reaction or edit")
    given = mode != "text"  # a reaction or an edit of an uploaded motion: the caption is optional
    captions = [line.strip() for line in fields.get("captions", "").splitlines() if line.strip()]
    if not captions and not given:
        raise UsageError("Type a caption first: a sentence that says what the two people do.")
    if len(captions) > (1 if given else limits.max_captions):
        raise UsageError(f"{len(captions)} captions: a{'n' if mode == 'edit' else ''} {mode} takes at most one" if given
                         else f"{len(captions)} captions: at most {limits.max_captions} at once (one per line)")
    length = number(fields, "length", float, limits.default_seconds)
    if not given and not limits.shortest_seconds <= length <= limits.longest_seconds:
        raise UsageError(f"Length {length:g} s is out of range: this model generates "
                         f"{limits.shortest_seconds:g} to {limits.longest_seconds:g} seconds.")
    seed = number(fields, "seed", int, int(settings.sample.seed))
    if not 0 <= seed < 2 ** 63:
        raise UsageError(f"Seed {seed}: a whole number from 0 up")
    cond_scale = number(fields, "cond_scale", float, limits.cond_scale)
    if not 0 <= cond_scale <= 20:
        raise UsageError(f"Guidance scale {cond_scale:g}: a number from 0 (ignore the caption) to 20")
    num_samples = number(fields, "num_samples", int, int(settings.sample.num_samples))
    if not 1 <= num_samples <= limits.max_samples:
        raise UsageError(f"Number of samples {num_samples}: 1 to {limits.max_samples}")

    folder = out / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    overrides = {"texts": captions, "texts_file": None, "length": length, "seed": seed, "cond_scale": cond_scale,
                 "num_samples": num_samples, "out": str(folder), "reaction_to": None, "reaction_person": 0,
                 "edit": None, "keep": [], "change": []}
    if mode == "reaction":
        overrides["reaction_to"], overrides["reaction_person"] = given_motion(files, fields, folder / "uploads")
    elif mode == "edit":
        overrides.update(edit_fields(fields, limits), length=None)  # the edited clip is as long as the upload
        overrides["edit"] = stored_motion(files, folder / "uploads", "Edit mode")[0]
    return SimpleNamespace(captions=captions, sample=OmegaConf.merge(settings.sample, overrides))


def edit_fields(fields: dict[str, str], limits: Limits) -> dict:
    """The edit's sample settings from the form: ranges ("0:1.5, end-1.5:end") kept or changed, whose motion
    (1, 2, both) and which body parts (``generation.editing.body_parts``; none ticked: the whole body)."""
    ranges = [text.strip() for text in fields.get("ranges", "").split(",") if text.strip()]
    kind = fields.get("range_kind", "keep")
    if kind not in ("keep", "change"):
        raise UsageError(f"Range kind {kind!r}: keep or change")
    if kind == "change" and not ranges:
        raise UsageError("Edit mode: give the time ranges to regenerate, e.g. 1:2.5")
    person = fields.get("edit_person", "both")
    if person not in PEOPLE:
        raise UsageError(f"Person to edit {person!r}: 1, 2 or both")
    parts = [part.strip() for part in fields.get("part", "").split(",") if part.strip()]
    unknown = [part for part in parts if part not in limits.parts]
    if unknown:
        raise UsageError(f"Unknown body part {unknown[0]!r}: this model's parts are {', '.join(limits.parts)}")
    return {kind: ranges, "edit_person": person, "edit_parts": ",".join(parts) or None}


def check_edit(model: InterMask, sample: DictConfig, files: list[tuple[str, bytes]]) -> None:
    """Check the edit against its upload and the model before it is queued (two people at the model's frame rate,
    ranges inside the clip), in words about the uploaded file rather than where it is stored."""
    try:
        edit_input(model, sample)
    except UsageError as error:
        raise UsageError(str(error).replace(f"--edit {sample.edit}", files[0][0]).replace("--edit", "the upload")
                         .replace("--keep", "kept range").replace("--change", "changed range")) from error
    except Exception as error:  # whatever a malformed file raises, the page says it is not a motion
        raise UsageError(f"{files[0][0]} does not hold a motion this app reads ({error})") from error


def given_motion(files: list[tuple[str, bytes]], fields: dict[str, str], folder: Path) -> tuple[str, int]:
    """Store the uploaded motion (a result's .npy, or one or two .bvh) and check it holds a motion; returns
    (the file of the person to keep, its index inside that file)."""
    person = number(fields, "person", int, 1)
    if person not in (1, 2):
        raise UsageError(f"Person {person}: 1 or 2")
    stored = stored_motion(files, folder, "Reaction mode")
    if len(stored) == 1 and stored[0].suffix == ".bvh" and person > 1:
        raise UsageError(f"Person {person} was picked but only one BVH file was uploaded.")
    path, index = (stored[person - 1], 0) if stored[0].suffix == ".bvh" else (stored[0], person - 1)
    try:
        reaction_source(path, index)
    except Exception as error:  # whatever a malformed file raises, the page says it is not a motion
        name = files[stored.index(path)][0]
        raise UsageError(f"{name} does not hold a motion this app reads ({error})") from error
    return str(path), index


def stored_motion(files: list[tuple[str, bytes]], folder: Path, mode: str) -> list[Path]:
    """Store the uploaded motion (a result's .npy, or one or two .bvh) under ``folder``; a BVH pair as
    given_person1.bvh and given_person2.bvh, so that either finds its partner (``loading.bvh_pair``)."""
    if not files:
        raise UsageError(f"{mode}: upload a result's .npy, or its BVH pair, first.")
    suffixes = [Path(name).suffix.lower() for name, _ in files]
    if any(suffix not in MOTION_SUFFIXES for suffix in suffixes):
        raise UsageError(f"{', '.join(name for name, _ in files)}: upload a result's .npy or .bvh files")
    if suffixes.count(".npy") and len(files) > 1:
        raise UsageError("Upload one .npy (it holds both people) or a BVH pair, not both.")
    folder.mkdir(parents=True, exist_ok=True)
    stored = []
    for index, (name, content) in enumerate(files):
        path = folder / ((f"given_person{index + 1}" if len(files) > 1 else "given") + suffixes[index])
        with atomic_path(path) as temporary:
            Path(temporary).write_bytes(content)
        stored.append(path)
    return stored


def number(fields: dict[str, str], key: str, kind: type, default):
    text = (fields.get(key) or "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise UsageError(f"{key.replace('_', ' ').capitalize()} {text!r}: not a {'whole ' if kind is int else ''}"
                         f"number") from None
    if not math.isfinite(value):
        raise UsageError(f"{key.replace('_', ' ').capitalize()} {text!r}: a finite number is needed")
    return value


def too_large(size: int, limits: Limits) -> str:
    return (f"The upload is {size / MEGABYTE:.0f} MB; the app takes up to {limits.max_upload_bytes / MEGABYTE:g} MB "
            f"(a result's .npy or BVH pair is well under 1 MB).")


def problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def describe(name: str, files: dict[str, Path], out: Path, cuts: dict[str, str]) -> dict:
    """One written result as the page needs it: caption, viewer page, file links, zip links, caption note."""
    folder = files["html"].parent.name
    text = load_sidecar(files["npy"])["text"]
    return {"name": name, "text": text, "note": cuts.get(text),
            "viewer": f"/results/{folder}/{files['html'].name}",
            "files": {key: f"/results/{folder}/{path.name}" for key, path in files.items()},
            "zips": {kind: f"/api/zip/{folder}/{name}/{kind}" for kind in ("bvh", "npy")}}


def checkpoint_name(path: str) -> str:
    """The checkpoint as the page names it: its run folder and file (transformer_demo/last.pt)."""
    path = Path(path)
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name
