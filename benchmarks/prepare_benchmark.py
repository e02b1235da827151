"""How long ``ganimation prepare`` takes on a folder of 10,000 images with OpenFace-style CSVs.

Generates the folder (tiny PNG crops, one OpenFace image-mode CSV per image with landmark columns before the
AUs, mixed separators, a few multi-face, low-confidence, missing-CSV and corrupt cases), then times the real
command in a subprocess, start-up included, and prints the summary and the wall time.

    python benchmarks/prepare_benchmark.py [--count 10000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import io
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from ganimation_lib.aus import AU_NAMES

PRESENCE = [*AU_NAMES[:16], "AU28", "AU45"]


def build(folder: Path, count: int, seed: int = 0) -> None:
    """Write ``count`` images and (most of) their CSVs into ``folder``."""
    rng = random.Random(seed)
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 160, 130)).save(buffer, format="PNG")
    png = buffer.getvalue()
    landmarks = [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)] + ["pose_Tx", "pose_Ty", "pose_Tz"]
    header = ["face", "confidence", *landmarks, *(f"{a}_r" for a in AU_NAMES), *(f"{a}_c" for a in PRESENCE)]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        stem = f"face_{i:06d}"
        roll = rng.random()
        (folder / f"{stem}.png").write_bytes(b"corrupt" if roll < 0.01 else png)
        if 0.01 <= roll < 0.06:
            continue  # OpenFace found no face: no CSV
        faces = 2 if 0.06 <= roll < 0.08 else 1
        separator = ", " if i % 2 else ","
        lines = [separator.join(header)]
        for face in range(faces):
            confidence = 0.3 if 0.08 <= roll < 0.1 else 0.98
            values = [str(face), f"{confidence:.2f}", *("123.4" for _ in landmarks)]
            values += [f"{rng.uniform(0, 5):.2f}" for _ in AU_NAMES] + [str(rng.randint(0, 1)) for _ in PRESENCE]
            lines.append(separator.join(values))
        (folder / f"{stem}.csv").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--keep", default=None, help="build the folder here instead of a temporary one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(args.keep) if args.keep else Path(temporary)
        images = root / "imgs"
        start = time.perf_counter()
        build(images, args.count)
        print(f"generated {args.count} images + CSVs in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import ganimation_lib.cli.prepare"], check=True)
        startup = time.perf_counter() - start
        command = [sys.executable, "-m", "ganimation_lib", "prepare", str(images), "--quiet"]
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        print(result.stdout.rstrip())
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            raise SystemExit(result.returncode)
        print(f"ganimation prepare on {args.count} images: {elapsed:.2f} s wall, of which ~{startup:.2f} s is start-up")
        print(f"(Python + PyTorch import); work alone: {args.count / max(elapsed - startup, 1e-9):,.0f} images/s")


if __name__ == "__main__":
    main()
