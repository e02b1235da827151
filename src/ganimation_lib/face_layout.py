"""Where the face sits in a model's crop: five landmarks as fractions of the side (the crop a model was trained on).

A model trained on aligned crops must be given faces aligned the same way, so the layout is part of a saved model
(``config.json``'s ``face_crop``, [`PretrainedMixin.face_crop`][ganimation_lib.models.pretrained.PretrainedMixin])
as well as of face alignment ([`ganimation_lib.faces.align`][ganimation_lib.faces.align]). It lives here, below
both, because models must not depend on the face finders.

Examples:
    >>> CANONICAL_FACE.points(128)[:2].tolist()  # the eye centres of a 128 px crop, in pixels
    [[37.9, 36.62], [89.1, 36.62]]
    >>> CanonicalFace.from_dict(CANONICAL_FACE.to_dict()) == CANONICAL_FACE
    True
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from .atomic_files import atomic_text
from .config_mixin import read_json

__all__ = [
    "CANONICAL_FACE",
    "FACE_CROP_FILE",
    "LANDMARK_NAMES",
    "CanonicalFace",
    "Point",
    "read_face_crop",
    "write_face_crop",
]

#: The file beside a dataset's ``imgs/`` that says how its crops were aligned (``ganimation prepare --align`` writes
#: it; ``ganimation train`` records it with the exported generator).
FACE_CROP_FILE = "face_crop.json"

Point: TypeAlias = tuple[float, float]
"""A point ``(x, y)`` in pixels."""

LANDMARK_NAMES: tuple[str, ...] = ("eye_left", "eye_right", "nose", "mouth_left", "mouth_right")
"""The five landmarks of a [`Face`][ganimation_lib.faces.face.Face], in order.

"Left" and "right" are the sides of the picture (smaller ``x`` first), not of the person: ``eye_left`` is the
person's right eye. This is the order of RetinaFace, MTCNN and InsightFace's five points.
"""


@dataclass(frozen=True)
class CanonicalFace:
    """Where the five landmarks of an aligned face sit in the crop, as fractions of its side.

    Attributes:
        landmarks: ``(x, y)`` fractions in the order of `LANDMARK_NAMES`.
        fit: The landmarks the transform is fitted to (indices into ``landmarks``, at least two, not all on one
            point). The default, eyes and mouth corners, leaves the nose out: finders disagree on which point it
            is (dlib's 5-point model marks its base, others its tip, 0.25 of the eye distance apart) and it moves
            most when the head turns.

    Raises:
        ValueError: If a fraction is not finite or ``fit`` does not name at least two landmarks.
    """

    landmarks: tuple[Point, Point, Point, Point, Point]
    fit: tuple[int, ...] = (0, 1, 3, 4)

    def __post_init__(self) -> None:
        if len(self.landmarks) != len(LANDMARK_NAMES) or not all(
            len(p) == 2 and all(isinstance(v, (int, float)) and math.isfinite(v) for v in p) for p in self.landmarks
        ):
            raise ValueError(f"landmarks must be five finite (x, y) fractions {LANDMARK_NAMES}, got {self.landmarks}")
        if len(set(self.fit)) < 2 or not all(isinstance(i, int) and 0 <= i < len(LANDMARK_NAMES) for i in self.fit):
            raise ValueError(f"fit must name at least two landmarks by index 0-4, got {self.fit!r}")

    def points(self, size: int) -> npt.NDArray[np.float64]:
        """The (5, 2) canonical landmarks in pixels of a crop of side ``size``."""
        return np.asarray(self.landmarks, dtype=np.float64) * size - 0.5

    def to_dict(self) -> dict[str, Any]:
        """The layout as JSON-ready values (what ``config.json`` stores)."""
        return {"landmarks": [list(point) for point in self.landmarks], "fit": list(self.fit)}

    @classmethod
    def from_dict(cls, data: object) -> CanonicalFace:
        """The layout [`to_dict`][ganimation_lib.face_layout.CanonicalFace.to_dict] wrote.

        Raises:
            ValueError: If ``data`` is not such a dict (the message names what is wrong).
        """
        if not isinstance(data, dict) or set(data) - {"landmarks", "fit"} or "landmarks" not in data:
            raise ValueError(f'a face crop must be {{"landmarks": [[x, y] x 5], "fit": [...]}}, got {data!r}')
        landmarks, fit = data["landmarks"], data.get("fit", [0, 1, 3, 4])
        if not isinstance(landmarks, list) or not all(isinstance(p, list) for p in landmarks):
            raise ValueError(f"a face crop's landmarks must be five [x, y] pairs, got {landmarks!r}")
        if not isinstance(fit, list):
            raise ValueError(f"a face crop's fit must be a list of landmark indices, got {fit!r}")
        points = tuple(tuple(point) for point in landmarks)
        return cls(points, tuple(fit))  # type: ignore[arg-type]  # checked by __post_init__


# Eyes as measured in training crops (docs/faces.md): 0.29 of the side from the top, 0.4 apart, centred. The mouth
# corners and nose sit where the five-point mean face (InsightFace's, the one the built-in finder places the
# mouth with) puts them for those eyes: 1.15 eye distances below them, 0.83 eye distances wide.
CANONICAL_FACE = CanonicalFace(((0.30, 0.29), (0.70, 0.29), (0.50, 0.52), (0.334, 0.75), (0.666, 0.75)))
"""The default crop: the layout of OpenFace's aligned frames and the official GANimation sample crops."""


def write_face_crop(folder: str | os.PathLike[str], crop: CanonicalFace) -> Path:
    """Write ``crop`` to ``folder/face_crop.json`` (atomically) and return the file's path."""
    path = Path(folder) / FACE_CROP_FILE
    with atomic_text(path, newline=None) as handle:
        handle.write(json.dumps(crop.to_dict(), indent=2) + "\n")
    return path


def read_face_crop(folder: str | os.PathLike[str]) -> CanonicalFace | None:
    """The layout ``folder/face_crop.json`` records, or ``None`` when the folder has none.

    Raises:
        ValueError: If the file is not such a layout (the message names it).

    Examples:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> read_face_crop(folder) is None
        True
        >>> read_face_crop(write_face_crop(folder, CANONICAL_FACE).parent) == CANONICAL_FACE
        True
    """
    path = Path(folder) / FACE_CROP_FILE
    if not path.is_file():
        return None
    fix = "write it again (ganimation prepare --align writes it) or delete it to use the default layout"
    try:
        return CanonicalFace.from_dict(read_json(path, fix=fix))
    except ValueError as error:
        raise ValueError(f"{path}: {error}; {fix}") from None
