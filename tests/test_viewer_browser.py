"""The HTML viewer in a real headless browser: it loads cleanly offline, scrubbing and orbiting move the
people on screen, and a screenshot shows both of them."""
import os
import shutil
from types import SimpleNamespace
from pathlib import Path

import numpy as np
import pytest

from intermask.motion.kinematics import forward_kinematics
from intermask.motion.rotation import axis_angle_to_matrix, yaw_matrix
from intermask.motion.skeleton import REST_OFFSETS
from intermask.outputs.video import PERSON_COLOURS
from intermask.outputs.viewer import write_viewer

CHROMIUM = os.environ.get("INTERMASK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOT = Path("/tmp/viewer_screenshot.png")

if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
    pytest.skip(f"no chromium at {CHROMIUM} (bash scripts/install_browser.sh installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                               "(bash scripts/install_browser.sh installs it)")


def facing_pair(frames: int = 60) -> np.ndarray:
    """Two people 1.4 m apart facing each other; person 2 walks closer while swinging its legs and arms."""
    t = np.arange(frames) / 30
    swing = np.sin(2 * np.pi * t)
    axis_angles = np.zeros((2, frames, 22, 3))
    axis_angles[:, :, 16, 2], axis_angles[:, :, 17, 2] = -1.2, 1.2  # arms down
    axis_angles[1, :, 1, 0], axis_angles[1, :, 2, 0] = 0.5 * swing, -0.5 * swing
    axis_angles[1, :, 16, 1] = axis_angles[1, :, 17, 1] = 0.5 * swing
    axis_angles[0, :, 16, 2] = np.linspace(-1.2, 1.6, frames)  # person 1 raises the left arm
    rotations = axis_angle_to_matrix(axis_angles)
    rotations[0, :, 0] = yaw_matrix(np.full(frames, np.pi / 2))  # faces +X
    rotations[1, :, 0] = yaw_matrix(np.full(frames, -np.pi / 2))  # faces -X
    root = np.zeros((2, frames, 3))
    root[0, :, 0], root[1, :, 0] = -0.7, np.linspace(0.9, 0.5, frames)
    root[..., 1] = 0.93
    return forward_kinematics(root, rotations, REST_OFFSETS)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    path = write_viewer(tmp_path_factory.mktemp("viewer") / "pair.html", facing_pair(), "two people face each other")
    problems, requests = [], []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(path.as_uri())
            page.wait_for_function("window.viewer !== undefined && window.viewer.numFrames > 0")
            yield SimpleNamespace(page=page, problems=problems, requests=requests)
        finally:
            browser.close()


def on_screen(page) -> np.ndarray:
    """(person, joint, xy) canvas pixels of the current frame."""
    return np.array(page.evaluate("window.viewer.jointsOnScreen()"), dtype=float)


def test_page_loads_without_errors_or_network_requests(browser):
    assert browser.page.evaluate("window.viewer.numFrames") == 60
    assert browser.problems == []
    assert all(url.startswith(("file:", "data:", "about:")) for url in browser.requests), browser.requests
    assert browser.page.inner_text("#caption") == "two people face each other"


def test_scrub_bar_moves_the_people_on_screen(browser):
    page = browser.page
    page.evaluate("window.viewer.pause()")
    scrub = page.locator("#scrub")
    scrub.evaluate("(el) => { el.value = '0'; el.dispatchEvent(new Event('input')); }")
    start = on_screen(page)
    scrub.evaluate("(el) => { el.value = '45'; el.dispatchEvent(new Event('input')); }")
    later = on_screen(page)
    assert page.evaluate("window.viewer.frame") == 45
    moved = np.linalg.norm(later - start, axis=-1)  # (person, joint) pixels
    assert moved[1].max() > 10  # the walker
    assert moved[0, 20] > 10  # person 1's left wrist, rising
    assert moved[0, :16].max() < 1e-6  # person 1's body stands still
    assert browser.problems == []


def test_dragging_orbits_and_wheel_zooms(browser):
    page = browser.page
    page.evaluate("window.viewer.setFrame(10)")
    before = on_screen(page)
    box = page.locator("#view").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y + 30, steps=4)
    page.mouse.up()
    page.wait_for_timeout(50)
    orbited = on_screen(page)
    assert np.linalg.norm(orbited - before, axis=-1).max() > 20
    spread = np.ptp(orbited.reshape(-1, 2), axis=0).max()
    page.mouse.wheel(0, -400)  # wheel up zooms in
    page.wait_for_timeout(50)
    assert np.ptp(on_screen(page).reshape(-1, 2), axis=0).max() > 1.2 * spread
    page.dblclick("#view")  # double-click returns to the home view
    page.wait_for_timeout(50)
    np.testing.assert_allclose(on_screen(page), before, atol=1e-6)


def test_play_advances_frames_and_screenshot_shows_both_people(browser):
    page = browser.page
    page.evaluate("window.viewer.setFrame(0); window.viewer.setSpeed(2); window.viewer.play()")
    page.wait_for_function("window.viewer.frame > 5", timeout=5000)
    page.evaluate("window.viewer.setFrame(45)")
    page.screenshot(path=str(SCREENSHOT))
    from PIL import Image

    picture = np.asarray(Image.open(SCREENSHOT).convert("RGB")).astype(int)
    canvas = page.locator("#view").bounding_box()
    people = on_screen(page) + [canvas["x"], canvas["y"]]  # canvas pixels -> page pixels
    for person, colour in enumerate(PERSON_COLOURS):
        # pixels of the person's colour family near where the viewer says the person is
        near = np.abs(picture - np.array(colour)).sum(-1) < 120
        ys, xs = np.nonzero(near)
        assert len(xs) > 150, f"person {person + 1} is hardly visible"
        low, high = people[person].min(axis=0), people[person].max(axis=0)
        inside = (xs >= low[0] - 20) & (xs <= high[0] + 20) & (ys >= low[1] - 20) & (ys <= high[1] + 20)
        assert inside.mean() > 0.7  # the rest: legend swatch and name label
    assert browser.problems == []
