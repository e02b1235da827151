"""A face found in a photo, and the interface every face finder follows.

A face finder is any callable that takes a picture and returns a list of [`Face`][ganimation_lib.faces.face.Face]
objects ([`FaceFinder`][ganimation_lib.faces.face.FaceFinder]): the built-in
[`DlibFaceFinder`][ganimation_lib.faces.dlib_finder.DlibFaceFinder], or a wrapper around OpenFace, RetinaFace or a
detector of your own. Coordinates are in pixels of the picture as a viewer shows it (EXIF orientation applied, as
[`open_image`][ganimation_lib.data.image_io.open_image] does), ``x`` to the right and ``y`` down.

Examples:
    >>> face = Face(
    ...     box=(10.0, 20.0, 110.0, 120.0),
    ...     confidence=1.5,
    ...     landmarks=((40.0, 60.0), (80.0, 60.0), (60.0, 80.0), (45.0, 100.0), (75.0, 100.0)),
    ... )
    >>> face.int_box(), face.width, face.landmark("nose")
    ((10, 20, 110, 120), 100.0, (60.0, 80.0))
    >>> isinstance(lambda image: [face], FaceFinder)  # any callable of an image is a finder
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from PIL import Image

from ..face_layout import LANDMARK_NAMES as LANDMARK_NAMES
from ..face_layout import Point as Point

__all__ = ["LANDMARK_NAMES", "Face", "FaceFinder", "Point"]


@dataclass(frozen=True)
class Face:
    """One face in a picture: a box, how sure the finder is, and five landmarks.

    Attributes:
        box: ``(left, top, right, bottom)`` in pixels, right and bottom exclusive, inside the picture.
        confidence: The finder's score for this face. Its scale is the finder's own (the built-in finder gives
            a detector margin, not a probability): compare scores of one finder, not across finders.
        landmarks: Five ``(x, y)`` points in the order of `LANDMARK_NAMES`: the centres of the eyes, the nose
            and the corners of the mouth.
        estimated: Indices into ``landmarks`` of points the finder estimated from the others instead of
            locating them in the picture (the built-in finder's default model has no mouth points).

    Raises:
        ValueError: If the box is empty or inverted, a number is not finite, or there are not five landmarks.
    """

    box: tuple[float, float, float, float]
    confidence: float
    landmarks: tuple[Point, Point, Point, Point, Point]
    estimated: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.box) != 4 or not all(math.isfinite(v) for v in self.box):
            raise ValueError(f"box must be four finite numbers (left, top, right, bottom), got {self.box!r}")
        left, top, right, bottom = self.box
        if right <= left or bottom <= top:
            raise ValueError(f"box {self.box} is empty or inverted: it must have left < right and top < bottom")
        if not math.isfinite(self.confidence):
            raise ValueError(f"confidence must be a finite number, got {self.confidence!r}")
        if len(self.landmarks) != len(LANDMARK_NAMES) or not all(
            len(point) == 2 and all(math.isfinite(v) for v in point) for point in self.landmarks
        ):
            raise ValueError(f"landmarks must be five finite (x, y) points {LANDMARK_NAMES}, got {self.landmarks!r}")
        if any(not 0 <= i < len(LANDMARK_NAMES) for i in self.estimated):
            raise ValueError(f"estimated holds indices 0-4 of landmarks, got {self.estimated!r}")

    @property
    def width(self) -> float:
        """The box's width in pixels."""
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        """The box's height in pixels."""
        return self.box[3] - self.box[1]

    def landmark(self, name: str) -> Point:
        """The landmark called ``name`` (one of `LANDMARK_NAMES`).

        Raises:
            KeyError: If ``name`` is not a landmark name.
        """
        if name not in LANDMARK_NAMES:
            raise KeyError(f"{name!r} is not a landmark; the names are {', '.join(LANDMARK_NAMES)}")
        return self.landmarks[LANDMARK_NAMES.index(name)]

    def int_box(self) -> tuple[int, int, int, int]:
        """The box rounded to whole pixels: what ``edit(..., boxes=...)`` and ``ganimation edit --box`` take."""
        left, top, right, bottom = (round(v) for v in self.box)
        return left, top, right, bottom


@runtime_checkable
class FaceFinder(Protocol):
    """Anything that finds faces: called with a picture, returns the faces in it (an empty list when none).

    Implementations should return faces in a stable order; the built-in finder sorts them left to right.
    """

    def __call__(self, image: Image.Image) -> list[Face]:
        """The faces in ``image`` (any Pillow mode; coordinates in its pixels)."""
        ...
