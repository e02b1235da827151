"""Face boxes: checking a box against an image and squaring it into the region the generator sees."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

from ..config_mixin import is_finite_number

__all__ = ["Box", "face_region", "parse_box_text"]

#: A face box ``(left, top, right, bottom)`` in pixels; right and bottom are exclusive.
Box: TypeAlias = tuple[int, int, int, int]


def parse_box_text(text: str, message: str) -> Box:
    """A box typed as ``LEFT,TOP,RIGHT,BOTTOM`` (pixels), rounded like ``edit()``'s own boxes (``int()`` would
    truncate 10.7 to 10 where the library gives 11); anything but four finite numbers raises ``ValueError(message)``.

    Examples:
        >>> parse_box_text(" 10, 20,110.6,120 ", "four numbers")
        (10, 20, 111, 120)
    """
    try:
        values = [float(part.strip()) for part in text.split(",")]
    except ValueError:
        raise ValueError(message) from None
    if len(values) != 4 or not all(is_finite_number(v) for v in values):
        raise ValueError(message)
    left, top, right, bottom = (round(v) for v in values)
    return left, top, right, bottom


def face_region(box: Sequence[float] | None, width: int, height: int) -> tuple[Box, Box]:
    """Check a face box against a ``width`` × ``height`` image; return ``(clamped box, square region)``.

    The region is the box expanded to a square around its centre (what the generator sees), shifted and if
    need be shrunk to fit inside the image. ``None`` means the whole image (then the region need not be
    square: it is padded to a square for the generator, so the face is never squashed, and the padding is
    cropped off the generator's maps).

    Raises:
        ValueError: If the box is not four numbers, is empty or inverted, or lies outside the image.

    Examples:
        >>> face_region((10, 20, 30, 30), width=100, height=50)
        ((10, 20, 30, 30), (10, 15, 30, 35))
        >>> face_region((90, 0, 130, 20), width=100, height=50)  # clamped, then squared inside the image
        ((90, 0, 100, 20), (80, 0, 100, 20))
    """
    if box is None:
        whole = (0, 0, width, height)
        return whole, whole
    if isinstance(box, (str, bytes)) or not isinstance(box, Sequence) or len(box) != 4:
        raise ValueError(f"box must be (left, top, right, bottom) in pixels, got {box!r}")
    if not all(is_finite_number(v) for v in box):
        raise ValueError(f"box must hold four finite numbers (left, top, right, bottom), got {box!r}")
    left, top, right, bottom = (round(float(v)) for v in box)
    if right <= left or bottom <= top:
        raise ValueError(
            f"box {tuple(box)} is empty or inverted: it must be (left, top, right, bottom) with left < right "
            "and top < bottom"
        )
    if right <= 0 or bottom <= 0 or left >= width or top >= height:
        raise ValueError(
            f"box {tuple(box)} lies outside the {width}x{height} image; give (left, top, right, bottom) in "
            "pixels of this image"
        )
    left, top, right, bottom = max(left, 0), max(top, 0), min(right, width), min(bottom, height)
    side = min(max(right - left, bottom - top), width, height)
    square_left = min(max(round((left + right - side) / 2), 0), width - side)
    square_top = min(max(round((top + bottom - side) / 2), 0), height - side)
    region = (square_left, square_top, square_left + side, square_top + side)
    # A box wider than the image is tall (or vice versa) does not fit in the square: keep the overlap.
    clamped = (max(left, region[0]), max(top, region[1]), min(right, region[2]), min(bottom, region[3]))
    return clamped, region
