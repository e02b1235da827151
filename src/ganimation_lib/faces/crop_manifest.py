"""The manifest of a folder of training crops: where each crop came from and how it was cut.

[`align_folder`][ganimation_lib.faces.training_crops.align_folder] writes one row per crop to ``manifest.csv``
beside the ``imgs/`` folder: the crop's file name, the source photo (its path relative to the folder of photos,
with ``/`` separators), the face's number in that photo (finder order, left to right for the built-in finder), how
many faces the photo had, the box, the finder's confidence, the five landmarks in photo pixels, which landmarks
were estimated, and the [`SimilarityTransform`][ganimation_lib.faces.align.SimilarityTransform] from photo pixels
to crop pixels (``a``, ``b``, ``tx``, ``ty``: ``x' = a·x − b·y + tx``, ``y' = b·x + a·y + ty``). With the
transform a crop (or an edit of it) can be pasted back into its photo with
[`paste_face`][ganimation_lib.faces.align.paste_face].

Examples:
    >>> import tempfile, pathlib
    >>> from ganimation_lib.faces import Face
    >>> face = Face((20, 20, 80, 80), 1.5, ((38, 40), (62, 40), (50, 52), (40, 67), (60, 67)), estimated=(3, 4))
    >>> record = CropRecord.of("me_0.png", "holiday/me.jpg", 0, 1, face, 128)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "manifest.csv"
    >>> write_crop_manifest(path, [record])
    >>> (back,) = read_crop_manifest(path)
    >>> back.photo, back.face.int_box(), back.face.estimated, back == record
    ('holiday/me.jpg', (20, 20, 80, 80), (3, 4), True)
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..atomic_files import atomic_text
from ..data.errors import DataFormatError
from .align import SimilarityTransform, alignment_transform
from .face import LANDMARK_NAMES, Face, Point

__all__ = ["MANIFEST_COLUMNS", "MANIFEST_NAME", "CropRecord", "read_crop_manifest", "write_crop_manifest"]

#: The manifest's file name, beside the ``imgs/`` folder of crops.
MANIFEST_NAME = "manifest.csv"

_LANDMARK_COLUMNS = tuple(f"{name}_{axis}" for name in LANDMARK_NAMES for axis in ("x", "y"))
#: The manifest's columns, in order.
MANIFEST_COLUMNS: tuple[str, ...] = (
    "crop",
    "photo",
    "face",
    "faces_in_photo",
    "left",
    "top",
    "right",
    "bottom",
    "confidence",
    *_LANDMARK_COLUMNS,
    "estimated",
    "a",
    "b",
    "tx",
    "ty",
)


@dataclass(frozen=True)
class CropRecord:
    """One crop of the manifest.

    Attributes:
        crop: The crop's file name in ``imgs/``.
        photo: The source photo, relative to the folder of photos, ``/``-separated.
        index: The face's number among those found in the photo (0 is the first in the finder's order).
        faces_in_photo: How many faces the finder found in the photo.
        face: The face as found (box, confidence, landmarks in photo pixels).
        transform: Photo pixels to crop pixels.
    """

    crop: str
    photo: str
    index: int
    faces_in_photo: int
    face: Face
    transform: SimilarityTransform

    @classmethod
    def of(cls, crop: str, photo: str, index: int, faces_in_photo: int, face: Face, size: int) -> CropRecord:
        """The record of ``face`` aligned to a ``size`` px crop with the default canonical face."""
        return cls(crop, photo, index, faces_in_photo, face, alignment_transform(face, size))

    def row(self) -> list[str]:
        """The record as manifest cells, in the order of `MANIFEST_COLUMNS` (numbers written exactly)."""
        marks = [repr(v) for point in self.face.landmarks for v in point]
        t = self.transform
        return [
            self.crop,
            self.photo,
            str(self.index),
            str(self.faces_in_photo),
            *(repr(float(v)) for v in self.face.box),
            repr(float(self.face.confidence)),
            *marks,
            " ".join(str(i) for i in self.face.estimated),
            *(repr(v) for v in (t.a, t.b, t.tx, t.ty)),
        ]


def write_crop_manifest(path: str | Path, records: Iterable[CropRecord]) -> None:
    """Write ``records`` to the manifest ``path`` (atomically: the file appears only when complete).

    Raises:
        OutputWriteError: If the file cannot be written (a full disk, a read-only folder).
    """
    with atomic_text(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(MANIFEST_COLUMNS)
        for record in records:
            writer.writerow(record.row())


def _record(row: dict[str, str]) -> CropRecord:
    numbers = {key: float(row[key]) for key in MANIFEST_COLUMNS[4:] if key != "estimated"}
    if not all(math.isfinite(v) for v in numbers.values()):
        raise ValueError("a number is not finite")
    points = [(numbers[f"{name}_x"], numbers[f"{name}_y"]) for name in LANDMARK_NAMES]
    marks: tuple[Point, Point, Point, Point, Point] = (points[0], points[1], points[2], points[3], points[4])
    estimated = tuple(int(i) for i in row["estimated"].split())
    box = (numbers["left"], numbers["top"], numbers["right"], numbers["bottom"])
    face = Face(box, numbers["confidence"], marks, estimated)
    transform = SimilarityTransform(numbers["a"], numbers["b"], numbers["tx"], numbers["ty"])
    return CropRecord(row["crop"], row["photo"], int(row["face"]), int(row["faces_in_photo"]), face, transform)


def read_crop_manifest(path: str | Path) -> list[CropRecord]:
    """The records of a manifest [`write_crop_manifest`][ganimation_lib.faces.crop_manifest.write_crop_manifest]
    wrote.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        DataFormatError: If it lacks a column of `MANIFEST_COLUMNS` or a row does not parse (naming its line).
    """
    file = Path(path)
    with open(file, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in MANIFEST_COLUMNS if name not in (reader.fieldnames or ())]
        if missing:
            raise DataFormatError(f"is not a crop manifest: it lacks the columns {', '.join(missing)}", file)
        records = []
        for row in reader:
            try:
                records.append(_record(row))
            except (ValueError, TypeError) as error:
                raise DataFormatError(str(error), file, reader.line_num) from None
    return records
