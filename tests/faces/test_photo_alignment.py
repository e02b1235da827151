"""Alignment and box-free edits on the real photos of ../shared/fixtures (skipped without the extra or the photos)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganimation_lib import Generator
from ganimation_lib.cli import main
from ganimation_lib.faces import CANONICAL_FACE, DlibFaceFinder, alignment_transform, crop_face, paste_face
from ganimation_lib.inference import to_pil
from tests.conftest import tiny_generator_config

pytest.importorskip("dlib", reason="the faces extra is not installed: pip install 'ganimation_lib[faces]'")
pytestmark = pytest.mark.fixtures


def _moved(photo: Image.Image, angle: float, scale: float, shift: tuple[int, int]) -> Image.Image:
    """``photo`` rotated by ``angle`` degrees, scaled and placed at ``shift`` on a larger grey canvas."""
    turned = photo.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 128, 128))
    turned = turned.resize((round(turned.width * scale), round(turned.height * scale)), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (turned.width + 2 * shift[0], turned.height + 2 * shift[1]), (128, 128, 128))
    canvas.paste(turned, shift)
    return canvas


def test_a_rotated_scaled_shifted_photo_aligns_to_the_same_crop(
    finder: DlibFaceFinder, open_photo: Callable[[str], Image.Image]
) -> None:
    photo = open_photo("single_face.jpg")
    moved = _moved(photo, angle=15, scale=0.8, shift=(90, 40))
    crops = []
    for picture in (photo, moved):
        (face,) = finder(picture)
        crops.append(to_pil(crop_face(picture, alignment_transform(face, 128), 128)))
    # The finder, run again on the two crops, puts the landmarks in the same places, near the canonical ones.
    (straight,), (aligned,) = finder(crops[0]), finder(crops[1])
    marks = np.array(straight.landmarks), np.array(aligned.landmarks)
    assert np.abs(marks[0] - marks[1]).max() < 3.0, marks
    assert np.abs(marks[1][:2] - CANONICAL_FACE.points(128)[:2]).max() < 4.0, marks
    pixels = [np.asarray(crop, float) for crop in crops]
    assert np.abs(pixels[0] - pixels[1])[20:108, 20:108].mean() < 12  # the same face, resampled differently


def test_an_unedited_crop_warped_back_leaves_the_photo_unchanged(
    finder: DlibFaceFinder, open_photo: Callable[[str], Image.Image]
) -> None:
    photo = open_photo("0-f1-su-ph.jpg")
    (face,) = finder(photo)
    transform = alignment_transform(face, 128)
    back = np.asarray(paste_face(photo, crop_face(photo, transform, 128), transform), int)
    before = np.asarray(photo, int)
    left, top, right, bottom = face.int_box()
    assert back.shape == before.shape
    assert np.abs(back - before).mean() < 1.5  # resampling noise only
    margin = right - left  # the crop is about 2.5 eye distances wide: well inside the box plus its width
    far = np.ones(before.shape[:2], bool)
    far[max(top - margin, 0) : bottom + margin, max(left - margin, 0) : right + margin] = False
    assert np.array_equal(back[far], before[far])


def test_a_group_photo_gets_every_face_edited(
    finder: DlibFaceFinder, open_photo: Callable[[str], Image.Image], tmp_path: Path
) -> None:
    names = ("0-f1-su-ph.jpg", "single_face.jpg")
    photos = [open_photo(name) for name in names]
    canvas = Image.new("RGB", (sum(p.width for p in photos) + 60, max(p.height for p in photos) + 40), (30, 90, 40))
    canvas.paste(photos[0], (20, 20))
    canvas.paste(photos[1], (40 + photos[0].width, 10))
    group = tmp_path / "group.png"
    canvas.save(group)
    faces = finder(canvas)
    assert len(faces) == 2
    model = Generator(tiny_generator_config()).save_pretrained(tmp_path / "model")
    out = tmp_path / "out.png"
    argv = ["edit", str(model), str(group), "--expression", "happy", "--device", "cpu", "-o", str(out)]
    assert main(argv) == 0
    before, after = np.asarray(canvas), np.asarray(Image.open(out))
    assert after.shape == before.shape
    changed = (before != after).any(axis=2)
    near = np.zeros(changed.shape, bool)
    for face in faces:
        left, top, right, bottom = face.int_box()
        margin = right - left
        assert changed[top:bottom, left:right].mean() > 0.3, face  # the face is edited
        near[max(top - margin, 0) : bottom + margin, max(left - margin, 0) : right + margin] = True
    assert not changed[~near].any()  # pixels farther than the box plus a margin are identical
