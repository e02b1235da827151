"""Choosing among the faces found: by number, the largest, above a size; and saying when none is left."""

from __future__ import annotations

import pytest

from ganimation_lib.faces import Face, NoFaceFoundError, select_faces


def _face(left: float, width: float) -> Face:
    eye = width / 4
    marks = (
        (left + eye, 40.0),
        (left + 3 * eye, 40.0),
        (left + 2 * eye, 50.0),
        (left + eye, 60.0),
        (left + 3 * eye, 60.0),
    )
    return Face((left, 10.0, left + width, 10.0 + width), 1.0, marks)


SMALL, BIG, MIDDLE = _face(0, 30), _face(100, 90), _face(250, 60)
FACES = [SMALL, BIG, MIDDLE]


def test_with_no_choice_every_face_is_kept_in_order() -> None:
    assert select_faces(FACES) == FACES


def test_an_index_picks_that_face() -> None:
    assert select_faces(FACES, index=2) == [MIDDLE]
    with pytest.raises(NoFaceFoundError, match="face 3 was asked for, but 3 faces are there"):
        select_faces(FACES, index=3)


def test_largest_picks_the_largest_box_wherever_it_is() -> None:
    assert select_faces(FACES, largest=True) == [BIG]
    assert select_faces([MIDDLE, SMALL], largest=True) == [MIDDLE]


def test_min_size_drops_narrow_faces_before_the_index() -> None:
    assert select_faces(FACES, min_size=50) == [BIG, MIDDLE]
    assert select_faces(FACES, min_size=50, index=1) == [MIDDLE]
    assert select_faces(FACES, min_size=30) == FACES  # the limit itself is kept
    with pytest.raises(NoFaceFoundError, match="3 faces found, none at least 100 px wide"):
        select_faces(FACES, min_size=100)


def test_no_face_and_bad_options_are_clear_errors() -> None:
    with pytest.raises(NoFaceFoundError, match="no face found"):
        select_faces([])
    assert issubclass(NoFaceFoundError, ValueError)
    with pytest.raises(ValueError, match="not both"):
        select_faces(FACES, index=0, largest=True)
    with pytest.raises(ValueError, match="whole number >= 0"):
        select_faces(FACES, index=-1)
    with pytest.raises(ValueError, match="min_size"):
        select_faces(FACES, min_size=-5)
