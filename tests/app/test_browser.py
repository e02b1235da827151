"""``ganimation app`` end to end in a real browser: headless Chromium driven by Playwright.

The app runs as the command a user types, on a free local port; the test uploads a synthetic face, moves a
slider, and checks that the picture changes, and changes again for a second position; it also picks a preset,
renders the GIF, types a bad face box and uploads files that are not images, and checks that neither the page
nor the server asked for anything outside this machine. A screenshot of the page is written to
``$GANIMATION_APP_SCREENSHOTS`` (default: the test's temporary folder).

Skipped without Playwright or without a Chromium binary (Debian: ``apt install chromium``; Playwright's own
browser download is not needed). ``GANIMATION_CHROMIUM`` names another binary.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

CHROMIUM = Path(os.environ.get("GANIMATION_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = "GANIMATION_APP_SCREENSHOTS"
# Generous limits for a loaded 2-core machine: they catch a hang, they do not time anything.
START_LIMIT_S = 300
STEP_LIMIT_MS = 120_000
LOOPBACK = ("127.0.0.1", "localhost", "::1")

# Runs the command line with an audit hook that writes down every address the server connects to or looks up.
_SERVER = """
import sys
log = open(sys.argv[1], "a", buffering=1)
def hook(event, args):
    if event == "socket.connect":
        log.write(f"connect {args[1]!r}\\n")
    elif event == "socket.getaddrinfo":
        log.write(f"lookup {args[0]!r}\\n")
sys.addaudithook(hook)
from ganimation_lib.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (the system's), or a skip that says what is missing."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra has it)")
    pytest.importorskip("gradio", reason="the app extra is not installed")
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt install chromium (or set GANIMATION_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server(saved_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``ganimation app MODEL --port N`` in a subprocess: its URL and the file of addresses it reached."""
    folder = tmp_path_factory.mktemp("server")
    network, output = folder / "network.txt", folder / "output.txt"
    url = f"http://127.0.0.1:{_free_port()}/"
    argv = ["app", str(saved_model), "--port", url.rsplit(":", 1)[1].strip("/"), "--device", "cpu"]
    with output.open("w") as sink:
        process = subprocess.Popen([sys.executable, "-c", _SERVER, str(network), *argv], stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + START_LIMIT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"ganimation app exited with {process.returncode}:\n{output.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"ganimation app did not answer within {START_LIMIT_S} s:\n{output.read_text()}")
            time.sleep(0.5)
        yield url, network
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _picture(page: Any, selector: str) -> tuple[str, np.ndarray]:
    """The ``src`` of the image in ``selector`` and its pixels."""
    src = page.get_attribute(f"{selector} img", "src")
    body = page.request.get(src).body()
    with Image.open(io.BytesIO(body)) as image:
        return src, np.asarray(image.convert("RGB"), dtype=np.int16)


def _new_picture(page: Any, selector: str, old_src: str) -> tuple[str, np.ndarray]:
    """Wait until the image in ``selector`` is replaced, then return it."""
    page.wait_for_function(
        "([sel, old]) => { const img = document.querySelector(sel + ' img'); return img && img.src !== old; }",
        arg=[selector, old_src],
        timeout=STEP_LIMIT_MS,
    )
    return _picture(page, selector)


def _drag_slider(page: Any, name: str, fraction: float) -> None:
    """Drag the AU's slider from its left end to ``fraction`` of its width and let go (one release event)."""
    box = page.locator(f"#slider-{name} input[type=range]").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 1, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * fraction, y, steps=8)
    page.mouse.up()


def _external(urls: list[str]) -> list[str]:
    return [
        u for u in urls if urlsplit(u).scheme in ("http", "https", "ws", "wss") and urlsplit(u).hostname not in LOOPBACK
    ]


@pytest.mark.slow
def test_editing_in_the_browser(browser: Any, server: tuple[str, Path], face_png: Path, tmp_path: Path) -> None:
    url, network = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(url)
    page.wait_for_selector("#slider-AU12", timeout=STEP_LIMIT_MS)
    page.click("#face-mode label:has-text('whole image')")

    page.set_input_files("#photo input[type=file]", str(face_png))
    page.wait_for_selector("#result img", timeout=STEP_LIMIT_MS)
    src0, neutral = _picture(page, "#result")
    assert neutral.shape == (64, 64, 3)

    _drag_slider(page, "AU12", 0.8)
    src1, first = _new_picture(page, "#result", src0)
    assert np.abs(first - neutral).max() > 0
    assert "AU12=" in page.input_value("#au-text textarea")

    _drag_slider(page, "AU12", 0.3)
    src2, second = _new_picture(page, "#result", src1)
    assert np.abs(second - first).max() > 0 and np.abs(second - neutral).max() > 0
    assert page.locator("#attention img").count() == 1 and page.locator("#colour img").count() == 1

    page.click("#expression input")
    page.click("[role=option]:has-text('happy')")
    page.wait_for_function(
        "() => document.querySelector('#au-text textarea').value === '--au AU06=2.5,AU12=3.5,AU25=1.5'",
        timeout=STEP_LIMIT_MS,
    )
    assert page.input_value("#slider-AU12 input[type=number]") == "3.5"
    _, happy = _new_picture(page, "#result", src2)
    assert np.abs(happy - second).max() > 0

    page.click("#animate")
    link = page.wait_for_selector("#animation a[href*='.gif']", timeout=STEP_LIMIT_MS)
    with Image.open(io.BytesIO(page.request.get(link.get_attribute("href")).body())) as gif:
        assert gif.size == (64, 64) and gif.n_frames > 1

    folder = Path(os.environ.get(SCREENSHOTS) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "app.png"), full_page=True)

    assert _external(requested) == [], "the page fetched from outside this machine"
    reached = network.read_text().splitlines()
    outside = [line for line in reached if not any(host in line for host in (*LOOPBACK, "None"))]
    assert outside == [], f"the server reached outside this machine: {outside}"
    page.close()


@pytest.mark.slow
def test_mistakes_are_said_in_the_page_and_keep_the_picture(
    browser: Any, server: tuple[str, Path], face_png: Path, tmp_path: Path
) -> None:
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.wait_for_selector("#slider-AU12", timeout=STEP_LIMIT_MS)
    page.click("#face-mode label:has-text('whole image')")
    page.set_input_files("#photo input[type=file]", str(face_png))
    page.wait_for_selector("#result img", timeout=STEP_LIMIT_MS)
    src = page.get_attribute("#result img", "src")

    page.click("#face-mode label:has-text('box')")
    page.wait_for_selector("#status:has-text('Type the face box')", timeout=STEP_LIMIT_MS)
    page.fill("#face-box textarea", "oops")
    page.press("#face-box textarea", "Enter")
    page.wait_for_selector("#status:has-text(\"Not edited: face box 'oops'\")", timeout=STEP_LIMIT_MS)
    page.wait_for_selector(".toast-body:has-text('four pixel numbers')", timeout=STEP_LIMIT_MS)
    assert page.get_attribute("#result img", "src") == src  # the last good picture stays

    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    page.set_input_files("#photo input[type=file]", str(notes))
    page.wait_for_selector(".toast-body:has-text('Invalid file type')", timeout=STEP_LIMIT_MS)

    fake = tmp_path / "fake.png"  # named like an image: it reaches the server, which must answer in the page
    fake.write_text("not a picture")
    page.set_input_files("#photo input[type=file]", str(fake))
    toast = page.wait_for_selector(".toast-body:has-text('fake.png is not an image')", timeout=STEP_LIMIT_MS)
    assert "Traceback" not in page.inner_text("body") and "Traceback" not in toast.inner_text()
    page.close()
