"""The built-in face finder: dlib's HOG face detector and its 5-point landmark model.

It needs the optional extra ``pip install 'ganimation_lib[faces]'``: ``dlib-bin`` (a binary wheel of dlib) and
``face-recognition-models`` (dlib's landmark models, shipped inside the package, so nothing is downloaded). Without
the extra the rest of the library works as before (``--box``, aligned crops) and creating a
[`DlibFaceFinder`][ganimation_lib.faces.dlib_finder.DlibFaceFinder] raises
[`FacesExtraMissingError`][ganimation_lib.faces.dlib_finder.FacesExtraMissingError], which says what to install.
The models are read with dlib's own file format, which holds numbers only: loading them runs no code. Why this
backend and what it finds is measured in the guide (docs/faces.md).

Landmarks: the default ``"5-point"`` model (trained on images annotated by dlib's author, CC0) marks both
corners of each eye and the base of the nose. The eye centres are the midpoints of the corners; the mouth
corners, which it does not mark, are estimated by placing a mean face on the two eyes (about 0.15 of the eye
distance from where the 68-point model puts them on the test photos), and are listed in
[`Face.estimated`][ganimation_lib.faces.face.Face]. ``"68-point"`` measures the mouth corners and the nose tip
too, but its training data (iBUG 300-W) excludes commercial use.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np
from PIL import Image

from ..data.image_io import to_rgb
from .face import Face, Point

__all__ = ["DETECTOR_WINDOW", "INSTALL_HINT", "DlibFaceFinder", "FacesExtraMissingError", "dlib_model_path"]

INSTALL_HINT = "pip install 'ganimation_lib[faces]'"
#: Side in pixels of dlib's HOG detector window: the smallest face it finds without upsampling.
DETECTOR_WINDOW = 80
"""The command that installs the built-in face finder."""

LandmarkModel = Literal["5-point", "68-point"]
_MODEL_FILES: dict[str, str] = {
    "5-point": "shape_predictor_5_face_landmarks.dat",
    "68-point": "shape_predictor_68_face_landmarks.dat",
}
# A mean face in a 112x112 crop (InsightFace's five-point template): eyes, nose tip, mouth corners.
_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)


class FacesExtraMissingError(ImportError):
    """The optional extra of the built-in face finder is not installed; the message says what to install."""


def _import_dlib() -> ModuleType:
    try:
        return importlib.import_module("dlib")
    except ImportError as error:
        raise FacesExtraMissingError(
            f"finding faces needs the optional extra: {INSTALL_HINT} (it installs dlib-bin and "
            "face-recognition-models). Without it, give the face yourself (ganimation edit --box) or pass your "
            "own face finder"
        ) from error


def dlib_model_path(name: str) -> Path:
    """The path of a model file shipped in ``face-recognition-models`` (its package is located, not imported).

    Raises:
        FacesExtraMissingError: If ``face-recognition-models`` is not installed or lacks the file.
    """
    # find_spec locates the package without running its __init__ (which needs pkg_resources, gone from setuptools).
    spec = importlib.util.find_spec("face_recognition_models")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / "models" / name
        if path.is_file():
            return path
    raise FacesExtraMissingError(
        f"the face landmark model {name} was not found: {INSTALL_HINT} installs face-recognition-models, which ships it"
    )


def _similarity(source: np.ndarray, target: np.ndarray) -> tuple[complex, complex]:
    """``(a, b)`` of the similarity ``z -> a z + b`` (complex numbers) that best maps ``source`` to ``target``."""
    zs = source[:, 0] + 1j * source[:, 1]
    zt = target[:, 0] + 1j * target[:, 1]
    cs, ct = zs - zs.mean(), zt - zt.mean()
    a = complex(np.sum(np.conj(cs) * ct) / np.sum(np.abs(cs) ** 2))
    return a, complex(zt.mean() - a * zs.mean())


def _five_from_dlib5(points: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """Five landmarks from dlib's 5-point model: (image-right eye corners, image-left eye corners, nose base)."""
    eye_left, eye_right = points[2:4].mean(axis=0), points[0:2].mean(axis=0)
    measured = np.stack([eye_left, eye_right, points[4]])
    # The eyes alone place the mouth better than eyes and nose: the template's nose is the tip, dlib's the base.
    a, b = _similarity(_TEMPLATE[:2], measured[:2])
    mouth = a * (_TEMPLATE[3:, 0] + 1j * _TEMPLATE[3:, 1]) + b
    return np.concatenate([measured, np.stack([mouth.real, mouth.imag], axis=1)]), (3, 4)


def _five_from_dlib68(points: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """Five landmarks from the 68-point (iBUG) layout: eyes 36-41 and 42-47, nose tip 30, mouth corners 48, 54."""
    return np.stack([points[36:42].mean(axis=0), points[42:48].mean(axis=0), points[30], points[48], points[54]]), ()


class DlibFaceFinder:
    """Find faces with dlib's HOG detector and place five landmarks with a dlib shape predictor.

    Args:
        upsample: How many times the picture is doubled before detection. The detector's window is 80 px, so
            ``0`` finds faces from about 80 px wide, ``1`` (default) from about 40 px, ``2`` from 20 px, each
            about four times slower than the last.
        min_confidence: Faces scoring below this are dropped. The score is the detector's margin: above 0 is
            a detection; most clear faces score 1 or more.
        landmarks: ``"5-point"`` (default, permissive licence, mouth corners estimated) or ``"68-point"``
            (measures the mouth; its training data excludes commercial use).
        detect_size: A picture whose longer side is above this many pixels is scaled down to it for detection
            (the landmarks are placed on the full picture). The face sizes of ``upsample`` are then in the
            scaled picture: with the defaults, faces from about 4% of the longer side. A 12-megapixel photo
            takes 0.4 s and 76 MB of memory instead of 4 s and 560 MB. ``None`` detects at full size.

    Raises:
        FacesExtraMissingError: If the ``faces`` extra is not installed.
        ValueError: If an option is out of range or ``landmarks`` is not a known model.

    Examples:
        >>> finder = DlibFaceFinder()  # doctest: +SKIP
        >>> [face.int_box() for face in finder(Image.open("photo.jpg"))]  # doctest: +SKIP
        [(180, 201, 367, 388)]
    """

    def __init__(
        self,
        *,
        upsample: int = 1,
        min_confidence: float = 0.0,
        landmarks: LandmarkModel = "5-point",
        detect_size: int | None = 1024,
    ) -> None:
        if isinstance(upsample, bool) or not isinstance(upsample, int) or upsample < 0:
            raise ValueError(f"upsample must be a whole number >= 0, got {upsample!r}")
        if not isinstance(min_confidence, (int, float)) or not math.isfinite(min_confidence):
            raise ValueError(f"min_confidence must be a finite number, got {min_confidence!r}")
        if landmarks not in _MODEL_FILES:
            raise ValueError(f"landmarks must be one of {sorted(_MODEL_FILES)}, got {landmarks!r}")
        if detect_size is not None and (
            isinstance(detect_size, bool) or not isinstance(detect_size, int) or detect_size < DETECTOR_WINDOW
        ):
            raise ValueError(
                f"detect_size must be a whole number of pixels >= {DETECTOR_WINDOW} (the detector's window) or None, "
                f"got {detect_size!r}"
            )
        dlib = _import_dlib()
        self.upsample = upsample
        self.min_confidence = float(min_confidence)
        self.landmarks = landmarks
        self.detect_size = detect_size
        self._detector: Any = dlib.get_frontal_face_detector()
        self._predictor: Any = dlib.shape_predictor(str(dlib_model_path(_MODEL_FILES[landmarks])))
        self._rectangle: Any = dlib.rectangle

    def detection_scale(self, width: int, height: int) -> float:
        """How many times a ``width`` × ``height`` picture is reduced for detection (1: not at all)."""
        if self.detect_size is None:
            return 1.0
        return max(1.0, max(width, height) / self.detect_size)

    def smallest_face(self, width: int, height: int) -> int:
        """The narrowest face, in pixels of a ``width`` × ``height`` picture, that this finder can find."""
        return round(DETECTOR_WINDOW * self.detection_scale(width, height) / float(2**self.upsample))

    def __call__(self, image: Image.Image) -> list[Face]:
        """The faces in ``image``, left to right (an empty list when none is found)."""
        rgb = to_rgb(image)
        width, height = rgb.size
        scale = self.detection_scale(width, height)
        detected = rgb
        if scale > 1.0:
            size = (max(1, round(width / scale)), max(1, round(height / scale)))
            detected = rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        pixels = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
        small = pixels if detected is rgb else np.ascontiguousarray(np.asarray(detected, dtype=np.uint8))
        rects, scores, _ = self._detector.run(small, self.upsample, self.min_confidence)
        faces = []
        for rect, score in zip(rects, scores, strict=True):
            # dlib's right and bottom are inclusive and may lie outside the picture: make them exclusive, scale
            # them to the full picture, clip.
            left, top = rect.left() * scale, rect.top() * scale
            right, bottom = (rect.right() + 1) * scale, (rect.bottom() + 1) * scale
            box = (max(left, 0.0), max(top, 0.0), min(right, float(width)), min(bottom, float(height)))
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            full = self._rectangle(round(left), round(top), round(right) - 1, round(bottom) - 1)
            shape = self._predictor(pixels, full)
            points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
            five, estimated = (_five_from_dlib5 if self.landmarks == "5-point" else _five_from_dlib68)(points)
            marks: list[Point] = [(float(x), float(y)) for x, y in five]
            faces.append(Face(box, float(score), (marks[0], marks[1], marks[2], marks[3], marks[4]), estimated))
        return sorted(faces, key=lambda face: (face.box[0], face.box[1]))
