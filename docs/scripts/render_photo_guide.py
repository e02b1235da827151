"""Draw the before/after picture of docs/faces.md's guide "From your photo to an edited photo".

    python docs/scripts/render_photo_guide.py --photo astronaut.png    # writes docs/images/photo_guide.png
    python docs/scripts/render_photo_guide.py                          # with scikit-image installed

The photo is scikit-image's ``data.astronaut()`` (Eileen Collins, NASA, public domain); scikit-image is not a
dependency of the library: install it, or pass the PNG taken from its wheel (``skimage/data/astronaut.png``). The
model is the one ``make demo`` trains (``demo_output/generator``), which knows 32 px cartoon faces: the picture
shows the pipeline (the face found, aligned to the model's crop, edited, pasted back), not an expression's quality.
Needs the ``faces`` extra. A few seconds on one CPU core; deterministic for a given model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ganimation_lib import Generator
from ganimation_lib.faces import DlibFaceFinder, draw_faces
from ganimation_lib.inference import edit_results, paste_results

IMAGES = Path(__file__).resolve().parents[1] / "images"
PANEL = 200
LABEL = 16


def load_photo(path: str | None) -> Image.Image:
    if path is not None:
        return Image.open(path).convert("RGB")
    from skimage import data  # optional: only for the default photo

    return Image.fromarray(data.astronaut())


def to_pil(tensor: object) -> Image.Image:
    array = ((np.asarray(tensor).transpose(1, 2, 0) + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
    return Image.fromarray(array)


def zoom(image: Image.Image, box: tuple[int, int, int, int], margin: float = 0.6) -> Image.Image:
    """The face's box grown by ``margin`` on each side, squared, as a panel."""
    left, top, right, bottom = box
    grow = margin * max(right - left, bottom - top)
    cx, cy, half = (left + right) / 2, (top + bottom) / 2, max(right - left, bottom - top) / 2 + grow
    return image.crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", default=None, help="the photo (default: scikit-image's astronaut)")
    parser.add_argument("--model", default="demo_output/generator")
    parser.add_argument("--expression", default="happy")
    parser.add_argument("--output", default=str(IMAGES / "photo_guide.png"))
    args = parser.parse_args()
    photo = load_photo(args.photo)
    generator = Generator.from_pretrained(args.model)
    found = DlibFaceFinder()(photo)
    # The most confident face: on this photo the finder also reports the mission patch, at a low score.
    faces = [max(found, key=lambda face: face.confidence)]
    results = edit_results(generator, [photo], args.expression, faces=faces)
    edited = paste_results(photo, results)
    box = tuple(round(v) for v in faces[0].box)
    panels = [
        ("photo", zoom(photo, box)),
        ("face found", zoom(draw_faces(photo, found), box)),
        (f"aligned (model sees {generator.config.image_size} px)", to_pil(results[0].input)),
        (f"edited: {args.expression}", to_pil(results[0].output)),
        ("pasted back", zoom(edited, box)),
    ]
    sheet = Image.new("RGB", (len(panels) * (PANEL + 4) - 4, PANEL + LABEL), "white")
    pen = ImageDraw.Draw(sheet)
    for i, (caption, image) in enumerate(panels):
        x = i * (PANEL + 4)
        sheet.paste(image.resize((PANEL, PANEL), Image.Resampling.LANCZOS), (x, LABEL))
        pen.text((x + 2, 2), caption, fill="black")
    sheet.save(args.output, optimize=True)
    changed = (np.asarray(edited) != np.asarray(photo)).any(axis=2)
    left, top, right, bottom = results[0].region
    outside = changed.copy()
    outside[max(top, 0) : bottom, max(left, 0) : right] = False
    scores = ", ".join(f"{face.confidence:.2f}" for face in found)
    print(f"wrote {args.output}: faces found with scores {scores}; {int(changed.sum())} pixels changed, "
          f"{int(outside.sum())} of them outside the edited region {results[0].region}")


if __name__ == "__main__":
    main()
