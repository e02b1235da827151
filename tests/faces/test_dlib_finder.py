"""The built-in finder on real photos: the faces a person sees, with plausible landmarks (skipped without the extra)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from ganimation_lib.faces import DlibFaceFinder, Face
from ganimation_lib.faces.dlib_finder import DETECTOR_WINDOW

pytest.importorskip("dlib", reason="the faces extra is not installed: pip install 'ganimation_lib[faces]'")
pytestmark = pytest.mark.fixtures

# What a person sees in each photo of ../shared/fixtures/photos (one face each): a point on the face (between
# the eyes and the mouth) and the range of the face's width in pixels, read off the photos by eye.
PHOTOS = {
    "0-f1-su-ph.jpg": ((260, 290), (200, 420)),  # frontal, surprised
    "45-m7-di-ph.jpg": ((110, 320), (150, 350)),  # head turned about 45 degrees
    "single_face.jpg": ((272, 290), (120, 260)),  # smiling man outdoors
}


def _check_landmarks(face: Face, margin: float = 0.05) -> None:
    """Every landmark inside the box (give or take ``margin`` of its size), in the documented order."""
    left, top, right, bottom = face.box
    dx, dy = margin * face.width, margin * face.height
    points = np.array(face.landmarks)
    assert ((points[:, 0] >= left - dx) & (points[:, 0] <= right + dx)).all(), face
    assert ((points[:, 1] >= top - dy) & (points[:, 1] <= bottom + dy)).all(), face
    eye_left, eye_right, nose, mouth_left, mouth_right = points
    assert eye_left[0] < eye_right[0] and mouth_left[0] < mouth_right[0], face  # the picture's left first
    eyes_y, mouth_y = (eye_left[1] + eye_right[1]) / 2, (mouth_left[1] + mouth_right[1]) / 2
    assert eyes_y < nose[1] < mouth_y, face  # eyes above nose above mouth on an upright face
    assert np.linalg.norm(eye_right - eye_left) > 0.2 * face.width, face


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_finds_the_one_face_of_each_photo(
    finder: DlibFaceFinder, open_photo: Callable[[str], Image.Image], name: str
) -> None:
    faces = finder(open_photo(name))
    assert len(faces) == 1, faces
    (x, y), (narrowest, widest) = PHOTOS[name]
    face = faces[0]
    left, top, right, bottom = face.box
    assert left <= x < right and top <= y < bottom, face
    assert narrowest <= face.width <= widest, face
    assert face.confidence > 0
    assert face.estimated == (3, 4)  # the 5-point model has no mouth points
    _check_landmarks(face)


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_mirroring_the_photo_mirrors_the_face(
    finder: DlibFaceFinder, open_photo: Callable[[str], Image.Image], name: str
) -> None:
    photo = open_photo(name)
    (face,), (mirrored,) = finder(photo), finder(ImageOps.mirror(photo))
    width, tolerance = photo.width, 0.1 * face.width
    assert mirrored.box[0] == pytest.approx(width - face.box[2], abs=tolerance)
    assert mirrored.box[2] == pytest.approx(width - face.box[0], abs=tolerance)
    assert mirrored.box[1] == pytest.approx(face.box[1], abs=tolerance)
    # The eye on the picture's left in the mirror is the eye on the right in the photo.
    (mx, my), (x, y) = mirrored.landmark("eye_left"), face.landmark("eye_right")
    assert (mx, my) == pytest.approx((width - x, y), abs=tolerance)
    _check_landmarks(mirrored)


def test_five_point_eyes_agree_with_the_68_point_model(
    finder: DlibFaceFinder, open_photo: Callable[[str], Image.Image]
) -> None:
    wide = DlibFaceFinder(landmarks="68-point")
    for name in ("0-f1-su-ph.jpg", "single_face.jpg"):  # frontal faces: both models see both eyes
        photo = open_photo(name)
        (five,), (sixty_eight,) = finder(photo), wide(photo)
        assert sixty_eight.estimated == ()
        _check_landmarks(sixty_eight)
        eyes = np.array(sixty_eight.landmarks[:2])
        distance = np.linalg.norm(eyes[1] - eyes[0])
        assert np.abs(np.array(five.landmarks[:2]) - eyes).max() < 0.1 * distance
        # The estimated mouth corners land near the measured ones (within a third of the eye distance).
        assert np.abs(np.array(five.landmarks[3:]) - np.array(sixty_eight.landmarks[3:])).max() < distance / 3


def test_finds_each_face_of_a_group_photo_left_to_right(
    finder: DlibFaceFinder, open_photo: Callable[[str], Image.Image]
) -> None:
    names = sorted(PHOTOS)
    photos = [open_photo(name).resize((512, 512)) for name in names]
    group = Image.new("RGB", (512 * len(photos), 512))
    for index, photo in enumerate(photos):
        group.paste(photo, (512 * index, 0))
    faces = finder(group)
    assert len(faces) == len(photos), faces
    for index, (face, photo) in enumerate(zip(faces, photos, strict=True)):
        # The turned head touches its photo's left edge: there the box may reach into the neighbour's photo.
        assert 512 * index <= (face.box[0] + face.box[2]) / 2 < 512 * (index + 1), (names[index], face)
        assert all(512 * index <= x < 512 * (index + 1) for x, _ in face.landmarks), (names[index], face)
        (alone,) = finder(photo)
        # The same face as found in the photo alone: each box's centre lies inside the other box.
        centre = ((face.box[0] + face.box[2]) / 2 - 512 * index, (face.box[1] + face.box[3]) / 2)
        assert alone.box[0] <= centre[0] < alone.box[2] and alone.box[1] <= centre[1] < alone.box[3], (face, alone)
        _check_landmarks(face)


def test_finds_the_face_of_each_official_sample_crop(finder: DlibFaceFinder, fixtures_dir: Path) -> None:
    crops = sorted((fixtures_dir / "official_sample" / "imgs").glob("*.jpg"))
    assert len(crops) == 4
    for path in crops:
        with Image.open(path) as image:
            faces = finder(image)
            size = image.size
        assert len(faces) == 1, (path.name, faces)
        face = faces[0]
        assert 0 <= face.box[0] < face.box[2] <= size[0] and 0 <= face.box[1] < face.box[3] <= size[1], face
        assert face.width >= 0.6 * size[0], (path.name, face)  # aligned crops: the face fills the picture
        _check_landmarks(face, margin=0.15)  # the crops cut the face at the chin: the box may stop short


def test_an_image_without_a_face_gives_an_empty_list(finder: DlibFaceFinder) -> None:
    rng = np.random.default_rng(0)
    assert finder(Image.new("RGB", (200, 150), (90, 120, 200))) == []
    assert finder(Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))) == []


def test_any_image_mode_is_read_as_rgb(finder: DlibFaceFinder, open_photo: Callable[[str], Image.Image]) -> None:
    photo = open_photo("single_face.jpg")
    (rgb,), (grey,) = finder(photo), finder(photo.convert("L"))
    assert grey.box == pytest.approx(rgb.box, abs=0.1 * rgb.width)


def test_a_large_photo_is_scaled_down_for_detection_and_landmarked_at_full_size(
    finder: DlibFaceFinder, open_photo: Callable[[str], Image.Image]
) -> None:
    photo = open_photo("0-f1-su-ph.jpg")  # 512 px
    (face,) = finder(photo)
    large = photo.resize((2048, 2048), Image.Resampling.BICUBIC)  # above detect_size=1024: detected at 1024 px
    for found in (finder(large), DlibFaceFinder(detect_size=None)(large)):
        assert len(found) == 1, found
        (big,) = found
        tolerance = 0.1 * big.width
        assert big.box == pytest.approx(tuple(4 * v for v in face.box), abs=tolerance)
        assert np.array(big.landmarks) == pytest.approx(4 * np.array(face.landmarks), abs=tolerance)
        _check_landmarks(big)


def test_smallest_face_follows_the_detection_scale_and_upsampling() -> None:
    assert DlibFaceFinder(upsample=0).smallest_face(500, 400) == DETECTOR_WINDOW  # no scaling, no doubling
    assert DlibFaceFinder(upsample=1).smallest_face(500, 400) == DETECTOR_WINDOW // 2
    # A 2,048 px photo is detected at 1,024 px: a face must be twice as wide in the photo.
    assert DlibFaceFinder(upsample=1, detect_size=1024).smallest_face(2048, 1000) == DETECTOR_WINDOW
    assert DlibFaceFinder(upsample=2, detect_size=None).smallest_face(2048, 1000) == DETECTOR_WINDOW // 4
