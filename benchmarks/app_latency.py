"""How fast the interactive editor is: ``ganimation app`` start-up, and slider release to new picture.

Two figures per model, measured the way a user meets them:

* **start-up**: from starting ``ganimation app MODEL`` (a new Python process) to its first HTTP 200 on ``/``,
  i.e. imports, loading the model, building the page and starting the server;
* **release to picture**: in headless Chromium (Playwright, the system's browser), from letting go of the AU12
  slider (``mouse.up``) to the moment the result ``<img>`` shows a new, fully loaded picture. It includes the
  browser's event, Gradio's queue and its HTTP/SSE round trip, the editor's callback (the generator on CPU), the
  PNG encode and the image download and decode. The callback alone is also timed in-process
  (``Editor.views``), so the overhead of the page is visible.

Models: the demo's trained generator (``demo_output/generator``, 32 px; ``make demo`` writes it) and the
official-size generator at 128 px (random weights: speed does not depend on training), each editing a
synthetic face of its own size in "whole image" mode. Torch uses ``--threads`` threads in both the server and
the in-process timing. Prints each measurement and the median.

    python benchmarks/app_latency.py                       # both models, 3 starts, 10 releases each
    python benchmarks/app_latency.py --skip-official --releases 20
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import torch

from ganimation_lib import Generator, GeneratorConfig
from ganimation_lib.app.controls import preset_values
from ganimation_lib.app.editor import WHOLE_IMAGE, Editor
from ganimation_lib.app.page import example_faces
from ganimation_lib.aus import AU_NAMES

CHROMIUM = os.environ.get("GANIMATION_CHROMIUM", "/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start(model: Path, port: int, threads: int) -> tuple[subprocess.Popen[bytes], float]:
    """Start ``ganimation app`` and return it with the seconds until it answered."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "ganimation_lib", "app", str(model), "--port", str(port), "--device", "cpu"]
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"ganimation app exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                if response.status == 200:
                    return process, time.perf_counter() - start
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _releases(port: int, photo: Path, count: int) -> list[float]:
    """Seconds from releasing the AU12 slider to the new picture, ``count`` times at alternating positions."""
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#slider-AU12", timeout=120_000)
        page.click("#face-mode label:has-text('whole image')")
        page.set_input_files("#photo input[type=file]", str(photo))
        page.wait_for_selector("#result img", timeout=120_000)
        box = page.locator("#slider-AU12 input[type=range]").bounding_box()
        y = box["y"] + box["height"] / 2
        for i in range(count + 1):  # the first release warms up
            old = page.get_attribute("#result img", "src")
            page.mouse.move(box["x"] + 1, y)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * (0.3 + 0.5 * (i % 2)) + i, y, steps=4)
            start = time.perf_counter()
            page.mouse.up()
            page.wait_for_function(
                "old => { const img = document.querySelector('#result img');"
                " return img && img.src !== old && img.complete && img.naturalWidth > 0; }",
                arg=old,
                timeout=120_000,
            )
            if i:
                times.append(time.perf_counter() - start)
        browser.close()
    return times


def _callback(model: Path, photo: Path, count: int) -> list[float]:
    """Seconds of the editor's callback alone (in this process), alternating two AU12 values."""
    editor = Editor(Generator.from_pretrained(model), finder=None)
    values = [preset_values("happy", 0.5, AU_NAMES), preset_values("happy", 1.0, AU_NAMES)]
    editor.views(photo, values[0], WHOLE_IMAGE)  # warm-up
    times = []
    for i in range(count):
        start = time.perf_counter()
        editor.views(photo, values[i % 2], WHOLE_IMAGE)
        times.append(time.perf_counter() - start)
    return times


def _report(name: str, label: str, seconds: list[float]) -> None:
    shown = ", ".join(f"{s:.3f}" for s in seconds)
    print(f"{name:28s} {label:34s} median {statistics.median(seconds):6.3f} s   ({shown})")


def measure(name: str, model: Path, size: int, folder: Path, args: argparse.Namespace) -> None:
    """Print start-up, release-to-picture and callback times for one saved model."""
    photo = example_faces(folder / f"faces-{size}", count=1, size=size)[0]
    starts = []
    for _ in range(args.starts):
        port = _free_port()
        process, seconds = _start(model, port, args.threads)
        starts.append(seconds)
        if len(starts) < args.starts:
            _stop(process)
    try:
        releases = _releases(port, photo, args.releases)
    finally:
        _stop(process)
    _report(name, "start-up to serving", starts)
    _report(name, f"release to picture ({size} px photo)", releases)
    _report(name, "callback alone (Editor.views)", _callback(model, photo, args.releases))


def main() -> None:
    """Measure the demo model and the official-size generator."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--demo-model", type=Path, default=Path("demo_output/generator"))
    parser.add_argument("--starts", type=int, default=3, help="start-ups timed per model")
    parser.add_argument("--releases", type=int, default=10, help="slider releases timed per model")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    parser.add_argument("--skip-official", action="store_true", help="only the demo model")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPU cores, Chromium {CHROMIUM}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.demo_model.is_dir():
            config = Generator.from_pretrained(args.demo_model).config
            measure(f"demo ({config.image_size} px)", args.demo_model, config.image_size, folder, args)
        else:
            print(f"no demo model at {args.demo_model} (make demo writes it): skipped")
        if not args.skip_official:
            official = Generator(GeneratorConfig.official()).save_pretrained(folder / "official")
            measure("official (128 px, random)", official, 128, folder, args)


if __name__ == "__main__":
    main()
