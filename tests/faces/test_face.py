"""The face record, the finder interface and the drawing: no detector needed."""

from __future__ import annotations

import math

import pytest
from PIL import Image

from ganimation_lib.faces import LANDMARK_NAMES, Face, FaceFinder, draw_faces

POINTS = ((40.0, 60.0), (80.0, 60.0), (60.0, 80.0), (45.0, 100.0), (75.0, 100.0))


def test_a_face_holds_its_box_score_and_named_landmarks() -> None:
    face = Face((10.4, 20.0, 110.6, 120.0), 1.5, POINTS, estimated=(3, 4))
    assert face.int_box() == (10, 20, 111, 120)
    assert (face.width, face.height) == pytest.approx((100.2, 100.0))
    assert [face.landmark(name) for name in LANDMARK_NAMES] == list(POINTS)
    assert LANDMARK_NAMES == ("eye_left", "eye_right", "nose", "mouth_left", "mouth_right")
    with pytest.raises(KeyError, match="eye_left, eye_right"):
        face.landmark("chin")


@pytest.mark.parametrize(
    ("box", "confidence", "landmarks", "estimated", "message"),
    [
        ((10, 20, 10, 30), 1.0, POINTS, (), "empty or inverted"),
        ((10, 20, 5, 30), 1.0, POINTS, (), "empty or inverted"),
        ((10, 20, math.nan, 30), 1.0, POINTS, (), "finite"),
        ((0, 0, 9, 9), math.inf, POINTS, (), "confidence"),
        ((0, 0, 9, 9), 1.0, POINTS[:4], (), "five"),
        ((0, 0, 9, 9), 1.0, (*POINTS[:4], (1.0, math.nan)), (), "five"),
        ((0, 0, 9, 9), 1.0, POINTS, (5,), "indices"),
    ],
)
def test_a_face_refuses_what_is_not_a_face(
    box: tuple[float, float, float, float],
    confidence: float,
    landmarks: tuple[tuple[float, float], ...],
    estimated: tuple[int, ...],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        Face(box, confidence, landmarks, estimated)  # type: ignore[arg-type]


class _FixedFinder:
    """A finder of one's own: what a wrapper around another detector looks like."""

    def __call__(self, image: Image.Image) -> list[Face]:
        return [Face((0, 0, image.width, image.height), 0.9, POINTS)]


def test_any_callable_from_an_image_to_faces_is_a_finder() -> None:
    finder: FaceFinder = _FixedFinder()
    assert isinstance(finder, FaceFinder)
    assert not isinstance(object(), FaceFinder)
    assert finder(Image.new("RGB", (120, 130)))[0].box == (0, 0, 120, 130)


def test_drawing_marks_boxes_and_landmarks_and_leaves_the_rest_alone() -> None:
    grey = (90, 90, 90)
    image = Image.new("RGB", (200, 160), grey)
    measured = Face((10, 20, 130, 140), 1.0, POINTS)
    estimated = Face((10, 20, 130, 140), 1.0, POINTS, estimated=(3, 4))
    drawn, ringed = draw_faces(image, [measured]), draw_faces(image, [estimated])
    assert drawn.size == image.size and image.getpixel((10, 80)) == grey  # a copy: the input is not drawn on
    assert drawn.getpixel((10, 80)) == (255, 0, 0)  # the box's left edge
    assert drawn.getpixel((40, 60)) == (0, 255, 0)  # an eye: a green dot
    assert drawn.getpixel((45, 100)) == (255, 0, 255)  # a measured mouth corner: a filled dot
    assert ringed.getpixel((45, 100)) == grey  # an estimated one: a ring, its centre untouched
    outside = [(x, y) for x in range(140, 200, 7) for y in range(0, 160, 7)]
    assert all(drawn.getpixel(p) == grey for p in outside)
