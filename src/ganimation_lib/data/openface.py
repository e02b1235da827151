"""Reading OpenFace CSVs: AU intensities per face, found by column name.

OpenFace writes two CSV flavours, and builds differ in details; this reader copes with all of them:

* **image mode** (``FaceLandmarkImg -aus``): ``face, confidence, AU01_r, ..., AU45_r, AU01_c, ..., AU45_c``,
  one row per detected face;
* **sequence mode** (``FeatureExtraction``): ``frame, face_id, timestamp, confidence, success, ...`` (older
  builds: ``frame, timestamp, confidence, success, ...``), one row per face per frame;
* without ``-aus`` the gaze, pose, landmark and shape columns come before the AUs, so every column is found
  **by name**, never by position;
* separators are ``,`` or ``, `` (Windows builds pad names and values with a space).

Intensities (``AUxx_r``, raw 0-5) are what the library trains on; presence columns (``AUxx_c``, 0 or 1,
including AU28, which has no intensity) are kept in `OpenFaceFace.presence`.

Examples:
    >>> import tempfile, pathlib
    >>> from ganimation_lib.aus import AU_NAMES
    >>> header = "face, confidence, " + ", ".join(f"{a}_r" for a in AU_NAMES)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = path.write_text(header + "\\n0, 0.98, " + ", ".join(["1.50"] * 17) + "\\n")
    >>> csv_file = read_openface_csv(path)
    >>> csv_file.mode, len(csv_file.faces), float(csv_file.pick().intensities[0])
    ('image', 1, 1.5)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ..aus import AU_NAMES, AU_SCALE, canonical_au_name, check_au_names
from .errors import DataFormatError
from .label_rows import AUTable, SkippedRow
from .textfiles import csv_rows, open_text, parse_number, parse_values

__all__ = ["FacePolicy", "OpenFaceCSV", "OpenFaceFace", "check_face_policy", "read_openface_csv"]

#: How to choose one face when a CSV row set has several: the first row, or the highest confidence.
FacePolicy = Literal["first", "most_confident"]
_POLICIES = ("first", "most_confident")
# The bookkeeping columns the reader uses (lower case); with the AU columns, none may appear twice.
_BOOKKEEPING = frozenset({"face", "face_id", "frame", "timestamp", "confidence", "success"})


@dataclass(frozen=True, eq=False)
class OpenFaceFace:
    """One face (one CSV row) that OpenFace tracked successfully.

    Attributes:
        line: 1-based line number in the CSV.
        face_id: ``face`` (image mode) or ``face_id`` (sequence mode); 0 when the column is absent.
        frame: The frame number in sequence mode, ``None`` in image mode.
        timestamp: Seconds from the start in sequence mode, ``None`` when absent.
        confidence: OpenFace's tracking confidence (0-1).
        intensities: (len(au_names),) float64 raw ``_r`` intensities (0-5).
        presence: (len(presence_names),) float64 ``_c`` values (0 or 1).
    """

    line: int
    face_id: int
    frame: int | None
    timestamp: float | None
    confidence: float
    intensities: NDArray[np.float64]
    presence: NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class OpenFaceCSV:
    """A parsed OpenFace CSV.

    Attributes:
        path: The file.
        mode: ``"image"`` (FaceLandmarkImg) or ``"sequence"`` (FeatureExtraction: has a ``frame`` column).
        au_names: Layout of every face's ``intensities``.
        presence_names: Layout of every face's ``presence`` (all ``AUxx_c`` columns, in file order).
        faces: Rows with ``success`` 1 (or no success column) and confidence >= ``min_confidence``.
        low_confidence: Rows tracked successfully but below ``min_confidence``.
        failed: Rows with ``success == 0`` (OpenFace lost the face).
        skipped: Malformed rows, with reasons: text where a number belongs (anything but a plain decimal
            number, so ``0_1`` too), a wrong field count, an intensity outside 0-5, or a confidence or
            ``_c`` value outside 0-1.
    """

    path: Path
    mode: Literal["image", "sequence"]
    au_names: tuple[str, ...]
    presence_names: tuple[str, ...]
    faces: tuple[OpenFaceFace, ...]
    low_confidence: tuple[OpenFaceFace, ...]
    failed: tuple[SkippedRow, ...]
    skipped: tuple[SkippedRow, ...]

    def pick(self, policy: FacePolicy = "first", frame: int | None = None) -> OpenFaceFace | None:
        """Return one face: the first row or the most confident one (of ``frame`` in sequence mode).

        Returns ``None`` when there is no usable face.

        Raises:
            ValueError: If ``policy`` is unknown.
        """
        check_face_policy(policy)
        candidates = [f for f in self.faces if frame is None or f.frame == frame]
        if not candidates:
            return None
        if policy == "first":
            return candidates[0]
        return max(candidates, key=lambda f: f.confidence)  # max keeps the first of equal confidences

    def frames(self) -> dict[int, list[OpenFaceFace]]:
        """Usable faces grouped by frame number, in file order (sequence mode; image mode gives frame 0)."""
        grouped: dict[int, list[OpenFaceFace]] = {}
        for face in self.faces:
            grouped.setdefault(0 if face.frame is None else face.frame, []).append(face)
        return grouped

    def to_table(
        self, policy: FacePolicy = "first", name_format: str = "frame_det_{face_id:02d}_{frame:06d}.bmp"
    ) -> AUTable:
        """One AU-table row per frame (one face chosen per frame by ``policy``).

        Args:
            policy: Which face of a frame to keep.
            name_format: File name of each row, formatted with ``frame`` and ``face_id``. The default is the
                name of OpenFace's own aligned crops (``<video>_aligned/frame_det_00_000001.bmp``), so that
                folder can be used as the image folder directly.
        """
        check_face_policy(policy)
        files: list[str] = []
        rows: list[NDArray[np.float64]] = []
        for frame, faces in self.frames().items():
            face = faces[0] if policy == "first" else max(faces, key=lambda f: f.confidence)
            files.append(name_format.format(frame=frame, face_id=face.face_id))
            rows.append(face.intensities)
        values = np.stack(rows) if rows else np.zeros((0, len(self.au_names)))
        return AUTable(tuple(files), values, self.au_names, self.skipped, self.path)


def check_face_policy(policy: str) -> None:
    """Raise a ``ValueError`` naming the choices unless ``policy`` is a `FacePolicy`."""
    if policy not in _POLICIES:
        raise ValueError(f"face policy must be one of {list(_POLICIES)}, got {policy!r}")


@dataclass(frozen=True)
class _Layout:
    """Where everything is in a CSV with a given header (cached: a folder's CSVs share one header)."""

    mode: Literal["image", "sequence"]
    width: int
    face_column: int | None
    frame_column: int | None
    time_column: int | None
    success_column: int | None
    confidence_column: int
    positions: tuple[int, ...]
    presence_names: tuple[str, ...]
    presence_positions: tuple[int, ...]


@functools.lru_cache(maxsize=64)
def _layout(header: tuple[str, ...], names: tuple[str, ...]) -> _Layout:
    """Find the columns of ``header`` by name; raise ValueError (without the path) when it is not OpenFace."""
    index = {name.lower(): i for i, name in enumerate(header)}
    _refuse_duplicates(header)
    if "confidence" not in index:
        raise ValueError(f"has no 'confidence' column, so it is not an OpenFace CSV; header starts {list(header[:6])}")
    intensity_columns: dict[str, int] = {}
    presence_columns: dict[str, int] = {}
    for i, name in enumerate(header):
        lowered = name.lower()
        if lowered.startswith("au") and lowered.endswith(("_r", "_c")):
            try:
                au = canonical_au_name(name)
            except ValueError:
                continue
            (intensity_columns if lowered.endswith("_r") else presence_columns)[au] = i
    missing = [au for au in names if au not in intensity_columns]
    if missing:
        hint = " (was OpenFace run with -aus?)" if not intensity_columns else ""
        raise ValueError(
            f"has no intensity column for {[f'{au}_r' for au in missing]}{hint}; "
            f"it has {[f'{au}_r' for au in intensity_columns]}"
        )
    return _Layout(
        mode="sequence" if "frame" in index else "image",
        width=len(header),
        face_column=index.get("face_id", index.get("face")),
        frame_column=index.get("frame"),
        time_column=index.get("timestamp"),
        success_column=index.get("success"),
        confidence_column=index["confidence"],
        positions=tuple(intensity_columns[au] for au in names),
        presence_names=tuple(presence_columns),
        presence_positions=tuple(presence_columns.values()),
    )


def _refuse_duplicates(header: tuple[str, ...]) -> None:
    """Raise ValueError naming a column the reader uses that appears twice (the last would silently win)."""
    first: dict[str, str] = {}
    for name in header:
        lowered = name.lower()
        key = lowered
        if lowered.startswith("au") and lowered.endswith(("_r", "_c")):
            try:
                key = canonical_au_name(name) + lowered[-2:]  # AU6_r and AU06_r are one AU
            except ValueError:
                continue
        elif lowered not in _BOOKKEEPING:
            continue  # landmarks, pose, gaze: not read
        if key in first:
            same = "" if first[key] == name else f" ({first[key]!r} and {name!r})"
            raise ValueError(
                f"has two columns named {name!r}{same}; keep one, so it is clear which one holds the values"
            )
        first[key] = name


def _number(text: str, column: str, integer: bool = False, unit: bool = False) -> float:
    """Parse a numeric field of a bookkeeping column; raise ValueError with a reason.

    ``integer`` asks for a whole number, ``unit`` for one in OpenFace's range [0, 1] (confidence, ``_c``).
    """
    try:
        value = parse_number(text)
    except ValueError:
        raise ValueError(f"text {text.strip()[:20]!r} in {column}") from None
    if not math.isfinite(value) or (integer and value != int(value)):
        raise ValueError(f"{column} = {text.strip()[:20]!r} is not a {'whole ' if integer else ''}number")
    if unit and not 0.0 <= value <= 1.0:
        raise ValueError(f"{column} = {value:g} is outside OpenFace's range [0, 1]")
    return value


def read_openface_csv(
    path: str | Path,
    au_names: Sequence[str] = AU_NAMES,
    min_confidence: float = 0.0,
    strict: bool = False,
) -> OpenFaceCSV:
    """Read an OpenFace CSV (image or sequence mode, either separator), finding columns by name.

    Args:
        path: The CSV.
        au_names: AUs whose ``_r`` intensities to read, in this order (default: the 17 OpenFace AUs).
        min_confidence: Rows below it go to ``low_confidence`` instead of ``faces``.
        strict: Raise on the first malformed row instead of skipping it.

    Returns:
        The parsed file; malformed rows (see `OpenFaceCSV.skipped`) are skipped with their reasons.

    Raises:
        DataFormatError: If the file is empty, not UTF-8 text, not CSV, has no ``confidence`` column,
            lacks an ``_r`` column of ``au_names``, has two columns of one name among those it reads
            (the bookkeeping and AU columns) (or, with ``strict``, has a malformed row).
        FileNotFoundError: If ``path`` does not exist.
    """
    file_path = Path(path)
    names = check_au_names(au_names)
    if not (math.isfinite(min_confidence) and 0 <= min_confidence <= 1):
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
    with open_text(file_path) as handle:
        records = csv_rows(handle, file_path)
        first = next(records, None)
        if first is None:
            raise DataFormatError("is empty; an OpenFace CSV starts with a header line", file_path)
        try:
            layout = _layout(tuple(map(str.strip, first[1])), names)
        except ValueError as error:
            raise DataFormatError(str(error), file_path, 1) from None
        mode, header_width = layout.mode, layout.width
        face_column, frame_column = layout.face_column, layout.frame_column
        time_column, success_column = layout.time_column, layout.success_column
        confidence_column, positions = layout.confidence_column, layout.positions
        presence_names, presence_positions = layout.presence_names, layout.presence_positions
        presence_fields = [(f"{au}_c", p) for au, p in zip(presence_names, presence_positions, strict=True)]

        faces: list[OpenFaceFace] = []
        low: list[OpenFaceFace] = []
        failed: list[SkippedRow] = []
        skipped: list[SkippedRow] = []

        def skip(line: int, reason: str) -> None:
            if strict:
                raise DataFormatError(reason, file_path, line)
            skipped.append(SkippedRow(line, "", reason))

        for line, fields in records:
            if len(fields) != header_width:
                skip(line, f"{len(fields)} fields, but the header has {header_width}")
                continue
            try:
                if success_column is not None and _number(fields[success_column], "success") == 0:
                    failed.append(SkippedRow(line, "", "OpenFace did not track a face (success = 0)"))
                    continue
                confidence = _number(fields[confidence_column], "confidence", unit=True)
                face_id = 0 if face_column is None else int(_number(fields[face_column], "face", True))
                frame = None if frame_column is None else int(_number(fields[frame_column], "frame", True))
                timestamp = None if time_column is None else _number(fields[time_column], "timestamp")
                presence = np.array([_number(fields[p], c, unit=True) for c, p in presence_fields], dtype=np.float64)
            except ValueError as error:
                skip(line, str(error))
                continue
            values, reason = parse_values([fields[p] for p in positions], [f"{au}_r" for au in names], 0.0, AU_SCALE)
            if values is None:
                skip(line, reason)
                continue
            face = OpenFaceFace(
                line, face_id, frame, timestamp, confidence, np.array(values, dtype=np.float64), presence
            )
            (faces if confidence >= min_confidence else low).append(face)
    return OpenFaceCSV(file_path, mode, names, presence_names, tuple(faces), tuple(low), tuple(failed), tuple(skipped))
