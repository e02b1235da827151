"""Draw the pictures of docs/action-units.md with the library's synthetic renderer.

    OMP_NUM_THREADS=1 python docs/scripts/render_au_pictures.py            # writes docs/images/au_*.png
    OMP_NUM_THREADS=1 python docs/scripts/render_au_pictures.py --report   # also prints the changed-pixel table

Deterministic (the renderer is a pure function of identity, AUs and size; no random draw here) and a few seconds
on one CPU core. Two sheets:

* ``au_sheet.png``: for each of the 17 AUs, the neutral face, the same face with only that AU at 1.0 (raw 5,
  OpenFace's maximum) and the difference between the two (black = unchanged, amplified ×4);
* ``au_presets.png``: the neutral face and each expression preset of ``EXPRESSIONS`` at intensity 1.

``--report`` prints, for each AU at 32, 64 and 128 px, how many pixels change by more than 8/255 in some channel:
the figures quoted on the page.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ganimation_lib.aus import AU_DESCRIPTIONS, AU_NAMES, EXPRESSIONS, aus_for
from ganimation_lib.data.face_renderer import FaceRenderer

IMAGES = Path(__file__).resolve().parents[1] / "images"
SIZE = 128
IDENTITY = 0
LABEL = 14  # height of the caption strip above each cell
GAP = 4
AMPLIFY = 4
THRESHOLD = 8  # of 255: a pixel "changes" when some channel moves by more than this


def only(au: str) -> np.ndarray:
    """The normalised AU vector with ``au`` at 1 and every other AU at 0."""
    vector = np.zeros(len(AU_NAMES))
    vector[AU_NAMES.index(au)] = 1.0
    return vector


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def difference(a: Image.Image, b: Image.Image) -> Image.Image:
    """Greyscale |a − b| (largest channel), amplified so that a one-level change of a feature shows."""
    diff = np.abs(pixels(a) - pixels(b)).max(axis=2)
    return Image.fromarray(np.clip(diff * AMPLIFY, 0, 255).astype(np.uint8)).convert("RGB")


def changed_pixels(renderer: FaceRenderer, au: str) -> int:
    neutral = renderer.render(IDENTITY, np.zeros(len(AU_NAMES)))
    moved = renderer.render(IDENTITY, only(au))
    return int((np.abs(pixels(neutral) - pixels(moved)).max(axis=2) > THRESHOLD).sum())


def captioned(cells: list[Image.Image], caption: str) -> Image.Image:
    """Cells side by side under a one-line caption."""
    width = len(cells) * SIZE + (len(cells) - 1) * GAP
    tile = Image.new("RGB", (width, LABEL + SIZE), "white")
    ImageDraw.Draw(tile).text((2, 1), caption, fill="black")
    for i, cell in enumerate(cells):
        tile.paste(cell, (i * (SIZE + GAP), LABEL))
    return tile


def grid(tiles: list[Image.Image], columns: int) -> Image.Image:
    tile_w, tile_h = tiles[0].size
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * tile_w + (columns - 1) * 3 * GAP, rows * (tile_h + GAP)), "white")
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * (tile_w + 3 * GAP), (i // columns) * (tile_h + GAP)))
    return sheet


def save(image: Image.Image, name: str) -> Path:
    """Save as a 256-colour PNG (the faces are flat-shaded, so the palette loses little and halves the size)."""
    path = IMAGES / name
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    return path


def au_sheet(renderer: FaceRenderer) -> Image.Image:
    neutral = renderer.render(IDENTITY, np.zeros(len(AU_NAMES)))
    tiles = []
    for au in AU_NAMES:
        moved = renderer.render(IDENTITY, only(au))
        tiles.append(captioned([neutral, moved, difference(neutral, moved)], f"{au} {AU_DESCRIPTIONS[au]}"))
    return grid(tiles, columns=2)


def preset_sheet(renderer: FaceRenderer) -> Image.Image:
    names = ["neutral", *(name for name in EXPRESSIONS if name != "neutral")]
    tiles = [captioned([renderer.render(IDENTITY, aus_for(name).numpy())], name) for name in names]
    return grid(tiles, columns=4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="print the changed-pixel counts at 32/64/128 px")
    args = parser.parse_args()
    renderer = FaceRenderer(image_size=SIZE)
    IMAGES.mkdir(exist_ok=True)
    for path in (save(au_sheet(renderer), "au_sheet.png"), save(preset_sheet(renderer), "au_presets.png")):
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    if args.report:
        sizes = (32, 64, 128)
        renderers = [FaceRenderer(image_size=s) for s in sizes]
        print("| AU | " + " | ".join(f"{s} px" for s in sizes) + " |")
        print("| --- |" + " --- |" * len(sizes))
        for au in AU_NAMES:
            counts = [changed_pixels(r, au) for r in renderers]
            print(f"| {au} | " + " | ".join(str(c) for c in counts) + " |")


if __name__ == "__main__":
    main()
