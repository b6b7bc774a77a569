"""The local web app (python -m intermask.serve) on the untrained stand-in model: the page in a headless browser
generates, plays and hands out a BVH pair without a request leaving this machine; bad input gets a message
and the server keeps serving; requests are answered in order; every result is on disk."""
import io
import json
import socket
import threading
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from intermask.app.jobs import GenerationQueue
from intermask.motion.layout import INTERHUMAN
from intermask.outputs.bvh import read_bvh
from intermask.outputs.writer import load_sidecar

from helpers.stand_in import tiny_model
from test_cli import CONFIG_DIR
from test_viewer_browser import CHROMIUM, CHROMIUM_ARGS

pytest.importorskip("starlette", reason="the app extra is not installed (pip install -e '.[app]')")
uvicorn = pytest.importorskip("uvicorn", reason="the app extra is not installed (pip install -e '.[app]')")

from intermask.app.server import AppSettings, create_app  # noqa: E402  (needs starlette)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free port of 127.0.0.1 with the stand-in model; yields (base url, output folder)."""
    out = tmp_path_factory.mktemp("app_out")
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("serve", overrides=["sample.steps=2", "sample.formats=[npy,bvh,html]"])
    settings = AppSettings(out=out, sample=cfg.sample, checkpoint="stand_in.pt", typical_seconds=2.0,
                           device=torch.device("cpu"), **cfg.app)
    app = create_app(tiny_model(INTERHUMAN), settings)
    port = free_port()
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", out
    running.should_exit = True
    thread.join(10)


def call(url: str, fields: dict | None = None, files: dict | None = None) -> tuple[int, dict]:
    """GET url, or POST a multipart form; returns (status, json)."""
    request = urllib.request.Request(url)
    if fields is not None or files is not None:
        boundary = "----intermask-test"
        body = io.BytesIO()
        for key, value in (fields or {}).items():
            body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
        for name, content in (files or {}).items():
            body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="motion"; filename="{name}"\r\n'
                       f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
        body.write(f"--{boundary}--\r\n".encode())
        request = urllib.request.Request(url, data=body.getvalue(), method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for(base: str, job: str) -> dict:
    deadline = time.monotonic() + 120
    while (state := call(f"{base}/api/jobs/{job}")[1])["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    return state


# --- the page in a headless browser -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM} (bash scripts/install_browser.sh installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="bash scripts/install_browser.sh installs it")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, server):
    """A fresh page on the app; every request it makes is recorded, and any leaving 127.0.0.1 is refused."""
    base, _ = server
    context = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
    requests, problems = [], []

    def only_local(route):
        requests.append(route.request.url)
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(base + "/")
    page.wait_for_function("document.getElementById('length').value !== ''")
    page.requests, page.problems = requests, problems
    yield page
    context.close()


def test_the_page_generates_plays_and_hands_out_a_bvh_pair_without_a_request_leaving_localhost(page, server,
                                                                                                  tmp_path):
    base, out = server
    page.fill("#captions", "two people shake hands")
    page.fill("#length", "2")
    page.click("#generate")
    card = page.wait_for_selector(".result", timeout=60_000)

    viewer = card.query_selector("iframe.viewer").content_frame()
    viewer.wait_for_function("window.viewer !== undefined && window.viewer.frame > 0", timeout=20_000)
    assert viewer.evaluate("window.viewer.numFrames") == 60  # 2 s at 30 fps
    assert viewer.inner_text("#caption") == "two people shake hands"

    with page.expect_download() as download:
        card.query_selector("a.bvh").click()
    archive = tmp_path / download.value.suggested_filename
    download.value.save_as(archive)
    with zipfile.ZipFile(archive) as pair:
        names = sorted(pair.namelist())
        pair.extractall(tmp_path / "pair")
    assert [name[-12:] for name in names] == ["_person1.bvh", "_person2.bvh"]
    for name in names:
        clip = read_bvh(tmp_path / "pair" / name)
        assert len(clip.motion) == 60
        assert any(out.rglob(name)), f"{name} is not in the output folder"  # what is shown is on disk

    assert page.problems == []
    assert page.requests and all(url.startswith(base + "/") for url in page.requests), page.requests


@pytest.mark.parametrize("fill,message", [
    ({"#captions": "   "}, "Type a caption first"),
    ({"#captions": "two people hug", "#length": "99"}, "Length 99 s is out of range: this model generates 0.2 to 4.9"),
])
def test_bad_input_gets_a_message_on_the_page(page, fill, message):
    for selector, value in fill.items():
        page.fill(selector, value)
    page.click("#generate")
    page.wait_for_selector("#message:not([hidden])")
    assert message in page.inner_text("#message")


@pytest.mark.parametrize("name,content,message", [
    ("motion.npy", b"not a motion at all", "motion.npy does not hold a motion this app reads"),
    ("huge.bvh", bytes(50 * 2 ** 20), "The upload is 50 MB; the app takes up to 8 MB"),
])
def test_a_bad_upload_gets_a_message_on_the_page(page, tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    page.check("input[value=reaction]")
    page.set_input_files("#motion", tmp_path / name)
    page.click("#generate")
    page.wait_for_selector("#message:not([hidden])")
    assert message in page.inner_text("#message")


def stand_in_result(server, caption: str = "two people walk") -> Path:
    """A result of the stand-in model (2 s, 60 frames) written by the app, as a user would download it."""
    base, out = server
    (result,) = wait_for(base, call(f"{base}/api/generate", {"captions": caption, "length": "2"})[1]["job"])["results"]
    return out / result["files"]["npy"].removeprefix("/results/")


def test_the_page_edits_an_uploaded_result_keeping_a_range_of_one_person(page, server):
    base, out = server
    npy = stand_in_result(server)
    given = np.load(npy)
    page.check("input[value=edit]")
    page.set_input_files("#motion", npy)
    page.fill("#ranges", "0:1")
    page.select_option("#edit_person", "2")
    page.check("#parts input[value=arms]")
    page.fill("#captions", "the second person waves")
    page.click("#generate")
    card = page.wait_for_selector(".result", timeout=60_000)
    viewer = card.query_selector("iframe.viewer").content_frame()
    viewer.wait_for_function("window.viewer !== undefined && window.viewer.frame > 0", timeout=20_000)
    assert viewer.inner_text("#caption") == "the second person waves"

    (written,) = [path for path in out.rglob("edit_*.npy")
                  if card.get_attribute("data-name") == path.stem and "uploads" not in path.parts]
    edit = load_sidecar(written)["edit"]
    assert edit["people"] == [2] and edit["parts"] == ["arms"] and edit["keep_requested_seconds"] == [[0.0, 1.0]]
    assert edit["kept_seconds"] == [[0.0, 0.9333]]  # whole 4-frame token steps inside 0-1 s
    edited = np.load(written)
    assert edited.shape == given.shape
    np.testing.assert_allclose(edited[0], given[0], atol=1e-5)  # person 1 is not edited
    seam = round(edit["kept_seconds"][0][1] * 30)
    untouched = seam - edit["fade_frames"][1][str(seam)]  # before the cross-fade into the edit
    assert untouched > 0
    np.testing.assert_allclose(edited[1, :untouched], given[1, :untouched], atol=1e-5)
    assert not np.allclose(edited[1], given[1], atol=1e-3)  # and person 2's arms were regenerated after it
    assert page.problems == []


def test_a_bad_edit_range_gets_a_message_on_the_page_and_nothing_is_queued(page, server):
    base, out = server
    npy = stand_in_result(server, "two people bow")
    page.check("input[value=edit]")
    page.set_input_files("#motion", npy)
    page.fill("#ranges", "0:1, 2:1")
    page.click("#generate")
    page.wait_for_selector("#message:not([hidden])")
    assert page.inner_text("#message").strip() == "kept range 2:1 s: needs 0 <= start < end <= 2.00 (the clip's " \
                                                  "length in seconds)"
    assert page.inner_text("#status-text") == "" and not page.query_selector(".result")
    assert call(f"{base}/api/info")[0] == 200


def test_an_edit_of_a_bvh_pair_regenerates_the_changed_range_of_both_people(server):
    base, out = server
    (result,) = wait_for(base, call(f"{base}/api/generate", {"captions": "two people turn", "length": "2"})[1]["job"]
                         )["results"]
    pair = {f"turn_person{k}.bvh": (out / result["files"][f"bvh_person{k}"].removeprefix("/results/")).read_bytes()
            for k in (1, 2)}
    status, answer = call(f"{base}/api/generate", {"mode": "edit", "range_kind": "change", "ranges": "1:end"}, pair)
    assert status == 202, answer
    (edited,) = wait_for(base, answer["job"])["results"]
    edit = load_sidecar(out / edited["files"]["npy"].removeprefix("/results/"))["edit"]
    assert edit["people"] == [1, 2] and edit["parts"] == "all" and edit["keep_requested_seconds"] == [[0.0, 1.0]]
    assert edit["source"].endswith("given_person1.bvh") and edit["source_frames"] == 60
    assert edited["text"] == "(edit without text)"  # no caption typed: the regenerated range follows no text


def test_the_server_refuses_impossible_edits_with_one_line(server, tmp_path):
    base, _ = server
    npy = stand_in_result(server, "two people jump").read_bytes()
    one_person = io.BytesIO()
    np.save(one_person, np.load(io.BytesIO(npy))[0])
    for fields, files, message in [
        ({"ranges": "soon"}, {"r.npy": npy}, "range 'soon': write START:END in seconds"),
        ({"part": "tail"}, {"r.npy": npy}, "Unknown body part 'tail': this model's parts are hips, knees, feet"),
        ({"edit_person": "3"}, {"r.npy": npy}, "Person to edit '3': 1, 2 or both"),
        ({"range_kind": "change"}, {"r.npy": npy}, "Edit mode: give the time ranges to regenerate"),
        ({}, {"one.npy": one_person.getvalue()}, "one.npy: holds one person; an edit needs both"),
        ({}, {"bad.npy": b"not a motion"}, "the upload: "),
        ({}, {}, "Edit mode: upload a result's .npy, or its BVH pair, first."),
    ]:
        status, answer = call(f"{base}/api/generate", {"mode": "edit", **fields}, files)
        assert status == 400 and message in answer["error"] and "\n" not in answer["error"], (fields, answer)
    assert call(f"{base}/api/info")[0] == 200


# --- the server ---------------------------------------------------------------------------------------------

def test_the_page_offers_the_models_own_guidance_scale_unless_the_settings_give_one(server, tmp_path):
    from omegaconf import OmegaConf

    from intermask.app.server import Limits

    base, _ = server
    assert call(f"{base}/api/info")[1]["cond_scale"] == 2.0  # the stand-in sets none: the paper's
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("serve")
    model = tiny_model(INTERHUMAN, config={"cond_scale": 1.5})

    def offered(cond_scale):
        settings = AppSettings(out=tmp_path, sample=OmegaConf.merge(cfg.sample, {"cond_scale": cond_scale}),
                               checkpoint="model.pt", typical_seconds=2.0, device=torch.device("cpu"), **cfg.app)
        return Limits.of(model, settings).cond_scale

    assert offered(None) == 1.5 and offered(3) == 3.0


def test_the_server_refuses_bad_uploads_with_a_message_and_keeps_serving(server):
    base, _ = server
    status, answer = call(f"{base}/api/generate", {"mode": "reaction"}, {"huge.npy": bytes(50 * 2 ** 20)})
    assert status == 413 and "The upload is 50 MB; the app takes up to 8 MB" in answer["error"]
    status, answer = call(f"{base}/api/generate", {"mode": "reaction"}, {"notes.txt": b"hello"})
    assert status == 400 and "upload a result's .npy or .bvh files" in answer["error"]
    status, answer = call(f"{base}/api/generate", {"mode": "reaction", "person": "2"},
                          {"a.bvh": b"HIERARCHY\nnonsense", "b.bvh": b"HIERARCHY\nnonsense"})
    assert status == 400 and "b.bvh does not hold a motion" in answer["error"]
    assert call(f"{base}/api/info")[0] == 200


def test_requests_are_answered_in_order_and_a_reaction_keeps_the_uploaded_person(server):
    base, out = server
    jobs = [call(f"{base}/api/generate", {"captions": f"caption number {k}", "length": "1", "seed": str(k)})[1]["job"]
            for k in range(3)]
    states = [wait_for(base, job) for job in jobs]  # none of them polled while it ran: each still finished
    assert [state["state"] for state in states] == ["done"] * 3
    assert [state["results"][0]["text"] for state in states] == [f"caption number {k}" for k in range(3)]
    npy = out / states[0]["results"][0]["files"]["npy"].removeprefix("/results/")
    given = np.load(npy)

    status, answer = call(f"{base}/api/generate", {"mode": "reaction", "person": "2"}, {"result.npy": npy.read_bytes()})
    assert status == 202
    (result,) = wait_for(base, answer["job"])["results"]
    reaction = np.load(out / result["files"]["npy"].removeprefix("/results/"))
    np.testing.assert_allclose(reaction[0], given[1][: reaction.shape[1]], atol=1e-5)  # the kept person, unchanged

    pair = {f"p{k}.bvh": (out / states[1]["results"][0]["files"][f"bvh_person{k}"].removeprefix("/results/"))
            .read_bytes() for k in (1, 2)}
    status, answer = call(f"{base}/api/generate", {"mode": "reaction", "person": "1", "captions": "they wave"}, pair)
    (result,) = wait_for(base, answer["job"])["results"]
    assert status == 202 and result["text"] == "they wave" and set(result["zips"]) == {"bvh", "npy"}


def test_the_queue_runs_jobs_one_at_a_time_in_order_and_survives_a_failing_one():
    ran, running = [], []

    def runner(request, progress):
        running.append(request)
        assert len(running) == 1, "two jobs ran at once"
        time.sleep(0.02)
        progress("decoding", 1, 1)
        running.remove(request)
        ran.append(request)
        if request == "bad":
            raise ValueError("this caption is bad")
        if request == "bug":
            raise RuntimeError("a bug")
        return [request]

    queue = GenerationQueue(runner)
    jobs = [queue.submit(request) for request in ("a", "bad", "bug", "b")]
    deadline = time.monotonic() + 10
    while any(queue.state(job.id)["state"] in ("queued", "running") for job in jobs):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    queue.close()
    assert ran == ["a", "bad", "bug", "b"]
    states = [queue.state(job.id) for job in jobs]
    assert [state["state"] for state in states] == ["done", "failed", "failed", "done"]
    assert states[1]["error"] == "this caption is bad"
    assert states[2]["error"] == "generation failed (RuntimeError: a bug)"
    assert states[3]["results"] == ["b"]


@pytest.mark.parametrize("host,warned", [("127.0.0.1", False), ("0.0.0.0", True)])
def test_serve_binds_this_machine_only_unless_asked_and_warns_when_asked(tmp_path, monkeypatch, caplog, host, warned):
    import intermask.sampling as sampling
    from intermask import serve

    checkpoint = tmp_path / "transformer.pt"
    checkpoint.write_bytes(b"")  # stands for a trained model, which the patch replaces
    monkeypatch.setattr(sampling, "load_writable_model", lambda path, device: tiny_model(INTERHUMAN))
    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **options: served.update(host=host, port=port))
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        overrides = [f"ckpt={checkpoint}", f"sample.out={tmp_path / 'out'}", "device=cpu"]
        cfg = compose("serve", overrides=overrides + ([f"host={host}"] if host != "127.0.0.1" else []))
    with caplog.at_level("WARNING"):
        serve.job(cfg)
    assert served == {"host": host, "port": 7860}
    assert ("anyone who reaches port 7860 can generate with this model" in caplog.text) == warned


def test_several_captions_give_several_results_and_a_caption_cut_short_says_how_much_was_read(page):
    long = "the first person walks up to the second person and waves " * 5  # 55 words; the stand-in reads 24
    page.fill("#captions", f"two people hug\n{long}")
    page.fill("#length", "1")
    page.click("#generate")
    page.wait_for_function("document.querySelectorAll('.result').length === 2", timeout=60_000)
    notes = [note.inner_text() for note in page.query_selector_all(".result .note") if note.is_visible()]
    assert len(notes) == 1 and "only its first 24 of 55 words (123 of 284 characters) are used" in notes[0]


def test_a_client_that_goes_away_mid_upload_cancels_nothing_others_wait_for(server):
    base, _ = server
    waiting = call(f"{base}/api/generate", {"captions": "two people wave", "length": "1"})[1]["job"]
    with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1]))) as gone:
        gone.sendall(b"POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"captions\"\r\n\r\nhal")
    assert wait_for(base, waiting)["state"] == "done"
    status, answer = call(f"{base}/api/generate", {"captions": "two people bow", "length": "1"})
    assert status == 202 and wait_for(base, answer["job"])["results"][0]["text"] == "two people bow"
