"""Choosing which of the faces found to edit: one by number, the largest, or those above a size.

Examples:
    >>> faces = [
    ...     Face((0, 0, 40, 40), 1.0, ((10, 15), (30, 15), (20, 22), (12, 30), (28, 30))),
    ...     Face((50, 0, 150, 100), 1.0, ((75, 35), (125, 35), (100, 55), (80, 75), (120, 75))),
    ... ]
    >>> [f.int_box() for f in select_faces(faces, min_size=50)], select_faces(faces, largest=True) == faces[1:]
    ([(50, 0, 150, 100)], True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .face import Face

__all__ = ["NoFaceFoundError", "select_faces"]


class NoFaceFoundError(ValueError):
    """No face to edit: none was found, or none is left after the selection. The message says what to try."""


def select_faces(
    faces: Sequence[Face], *, index: int | None = None, largest: bool = False, min_size: float = 0
) -> list[Face]:
    """The faces to edit among ``faces`` (in the finder's order, left to right for the built-in one).

    Faces narrower than ``min_size`` are dropped first; then ``index`` picks one of those left by its number
    (0 is the first), or ``largest`` the one with the largest box. With neither, every face left is returned.

    Args:
        faces: The faces found.
        index: The number of the one face to keep.
        largest: Keep only the face with the largest box (area).
        min_size: The narrowest box width, in pixels, that is kept.

    Raises:
        ValueError: If both ``index`` and ``largest`` are given, or an option is out of range.
        NoFaceFoundError: If no face is left, or ``index`` is past the last face; the message counts them.
    """
    if index is not None and largest:
        raise ValueError("give either a face index or largest=True (--face or --largest), not both")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
        raise ValueError(f"the face index must be a whole number >= 0 (0 is the first face), got {index!r}")
    if isinstance(min_size, bool) or not isinstance(min_size, (int, float)) or not math.isfinite(min_size):
        raise ValueError(f"min_size must be a number of pixels >= 0, got {min_size!r}")
    if min_size < 0:
        raise ValueError(f"min_size must be a number of pixels >= 0, got {min_size!r}")
    kept = [face for face in faces if face.width >= min_size]
    if not kept:
        found = f"{len(faces)} face{'s' if len(faces) != 1 else ''} found"
        raise NoFaceFoundError(
            f"{found}, none at least {min_size:g} px wide; lower the minimum face size (--min-face-size)"
            if faces
            else "no face found"
        )
    if largest:
        return [max(kept, key=lambda face: face.width * face.height)]
    if index is not None:
        if index >= len(kept):
            raise NoFaceFoundError(
                f"face {index} was asked for, but {len(kept)} face{'s are' if len(kept) != 1 else ' is'} there "
                f"(numbered 0 to {len(kept) - 1}, left to right)"
            )
        return [kept[index]]
    return kept
