"""Drawing found faces on a picture: each box with its number and score, and its five landmarks."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw

from ..data.image_io import to_rgb
from .face import Face

__all__ = ["LANDMARK_COLOURS", "draw_faces"]

LANDMARK_COLOURS: tuple[tuple[int, int, int], ...] = (
    (0, 255, 0),
    (0, 255, 0),
    (255, 255, 0),
    (255, 0, 255),
    (255, 0, 255),
)
"""The colour of each landmark, in the order of `LANDMARK_NAMES`: eyes green, nose yellow, mouth corners magenta.

A landmark the finder estimated (`Face.estimated`) is drawn as a ring, a measured one as a dot.
"""


def draw_faces(image: Image.Image, faces: Sequence[Face]) -> Image.Image:
    """A copy of ``image`` (RGB) with each face's box, ``index: score`` label and landmarks drawn.

    Line widths and dot sizes follow the size of each face, so they are visible on large photos.

    Examples:
        >>> face = Face((2, 2, 14, 14), 0.5, ((5, 6), (11, 6), (8, 9), (6, 11), (10, 11)), estimated=(3, 4))
        >>> drawn = draw_faces(Image.new("RGB", (16, 16)), [face])
        >>> drawn.getpixel((2, 8)), drawn.mode  # the box's left edge is red
        ((255, 0, 0), 'RGB')
    """
    drawn = to_rgb(image).copy()
    pen = ImageDraw.Draw(drawn)
    for index, face in enumerate(faces):
        side = min(face.width, face.height)
        width = max(1, round(side / 100))
        radius = max(1.0, side / 40)
        pen.rectangle([face.box[0], face.box[1], face.box[2] - 1, face.box[3] - 1], outline=(255, 0, 0), width=width)
        pen.text(
            (face.box[0] + width + 1, face.box[1] + width + 1), f"{index}: {face.confidence:.2f}", fill=(255, 0, 0)
        )
        for number, ((x, y), colour) in enumerate(zip(face.landmarks, LANDMARK_COLOURS, strict=True)):
            circle = [x - radius, y - radius, x + radius, y + radius]
            if number in face.estimated:
                pen.ellipse(circle, outline=colour, width=max(1, width))
            else:
                pen.ellipse(circle, fill=colour)
    return drawn
