"""Alignment to the model's crop: the fitted transform, the crop, and the warp back into the photo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from ganimation_lib.faces import (
    CANONICAL_FACE,
    CanonicalFace,
    Face,
    SimilarityTransform,
    alignment_transform,
    crop_face,
    estimate_similarity,
    face_footprint,
    feather_mask,
    paste_face,
)

SIZE = 64


def _smooth_photo(height: int = 180, width: int = 240) -> torch.Tensor:
    """A (3, H, W) picture in [-1, 1] of slow waves: bilinear resampling barely changes it."""
    y, x = torch.meshgrid(
        torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij"
    )
    channels = [torch.sin(x / 9 + k) * torch.cos(y / 11 - k) for k in range(3)]
    return torch.stack(channels) * 0.8


def _face_at(transform: SimilarityTransform, size: int = SIZE) -> Face:
    """A face whose landmarks ``transform`` maps exactly onto the canonical ones of a ``size`` crop."""
    points = transform.inverse().apply(CANONICAL_FACE.points(size))
    marks = [(float(x), float(y)) for x, y in points]
    xs, ys = points[:, 0], points[:, 1]
    box = (float(xs.min() - 10), float(ys.min() - 10), float(xs.max() + 10), float(ys.max() + 10))
    return Face(box, 1.0, (marks[0], marks[1], marks[2], marks[3], marks[4]))


def test_the_fit_recovers_a_known_rotation_scale_and_translation() -> None:
    known = SimilarityTransform.from_parts(scale=1.7, rotation=-23.0, translation=(12.5, -40.0))
    source = np.random.default_rng(1).uniform(0, 200, size=(6, 2))
    fitted = estimate_similarity(source, known.apply(source))
    assert fitted.scale == pytest.approx(1.7, abs=1e-9)
    assert fitted.rotation == pytest.approx(-23.0, abs=1e-7)
    assert (fitted.tx, fitted.ty) == pytest.approx((12.5, -40.0), abs=1e-7)
    assert np.allclose(fitted.inverse().apply(known.apply(source)), source)


def test_the_fit_is_least_squares_for_noisy_points() -> None:
    known = SimilarityTransform.from_parts(scale=0.5, rotation=10.0, translation=(3.0, 4.0))
    source = np.random.default_rng(2).uniform(0, 100, size=(40, 2))
    noisy = known.apply(source) + np.random.default_rng(3).normal(0, 0.5, size=(40, 2))
    fitted = estimate_similarity(source, noisy)
    error = np.sum((fitted.apply(source) - noisy) ** 2)
    for nudged in (SimilarityTransform(fitted.a * 1.01, fitted.b, fitted.tx, fitted.ty),
                   SimilarityTransform(fitted.a, fitted.b + 0.005, fitted.tx, fitted.ty),
                   SimilarityTransform(fitted.a, fitted.b, fitted.tx + 0.2, fitted.ty)):  # fmt: skip
        assert np.sum((nudged.apply(source) - noisy) ** 2) > error
    assert fitted.rotation == pytest.approx(10.0, abs=1.0)


def test_alignment_puts_a_face_on_the_canonical_positions() -> None:
    known = SimilarityTransform.from_parts(scale=0.6, rotation=15.0, translation=(-30.0, 12.0))
    face = _face_at(known)
    fitted = alignment_transform(face, SIZE)
    assert fitted.rotation == pytest.approx(15.0, abs=1e-7) and fitted.scale == pytest.approx(0.6, abs=1e-9)
    placed = fitted.apply(face.landmarks)
    assert np.allclose(placed, CANONICAL_FACE.points(SIZE), atol=1e-6)
    # the canonical crop: eyes 0.29 of the side from the top, 0.4 of it apart, centred
    eyes = placed[:2] / SIZE
    assert eyes[:, 1] == pytest.approx([0.29 - 0.5 / SIZE] * 2)
    assert eyes[1, 0] - eyes[0, 0] == pytest.approx(0.4)
    assert (eyes[0, 0] + eyes[1, 0]) / 2 == pytest.approx(0.5 - 0.5 / SIZE)


def test_the_same_face_aligns_to_the_same_place_at_any_model_size() -> None:
    face = Face((0, 0, 100, 100), 1.0, ((30, 40), (70, 42), (50, 60), (35, 78), (66, 79)))
    small, large = (alignment_transform(face, size).apply(face.landmarks) for size in (32, 128))
    assert np.allclose((small + 0.5) / 32, (large + 0.5) / 128)


def test_eyes_and_nose_can_be_the_fitted_landmarks() -> None:
    canonical = CanonicalFace(CANONICAL_FACE.landmarks, fit=(0, 1, 2))
    face = Face((0, 0, 100, 100), 1.0, ((30, 40), (70, 40), (50, 40 + 0.23 * 100), (5, 95), (95, 95)))
    placed = alignment_transform(face, 100, canonical).apply(face.landmarks)
    assert np.allclose(placed[:3], canonical.points(100)[:3], atol=0.6)  # the far-off mouth does not pull
    with pytest.raises(ValueError, match="at least two"):
        CanonicalFace(CANONICAL_FACE.landmarks, fit=(1,))


@pytest.mark.parametrize(
    ("landmarks", "message"),
    [
        (((50, 40), (50.2, 40), (50, 60), (40, 75), (60, 75)), "eyes are 0.2 px apart"),
        (((50, 40), (50, 40), (50, 40), (50, 40), (50, 40)), "eyes are 0 px apart"),
        (((30, 40), (float("nan"), 40), (50, 60), (40, 75), (60, 75)), "five finite"),
        (((30, 40), (70, 40), (50, 60)), "five finite"),
    ],
)
def test_degenerate_landmarks_are_a_clear_error(landmarks: tuple[tuple[float, float], ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        alignment_transform(landmarks, SIZE)  # type: ignore[arg-type]


def test_other_bad_inputs_are_clear_errors() -> None:
    face = Face((0, 0, 100, 100), 1.0, ((30, 40), (70, 40), (50, 60), (35, 78), (65, 78)))
    with pytest.raises(ValueError, match="whole number of pixels"):
        alignment_transform(face, 0)
    with pytest.raises(ValueError, match="one point"):
        estimate_similarity([(1, 1), (1, 1)], [(0, 0), (1, 1)])
    with pytest.raises(ValueError, match="scale above 0"):
        SimilarityTransform(0.0, 0.0, 1.0, 1.0)
    far = SimilarityTransform.from_parts(scale=1.0, rotation=0.0, translation=(-5000.0, 0.0))
    with pytest.raises(ValueError, match="outside the 240x180 photo"):
        crop_face(_smooth_photo(), far, SIZE)


def test_the_crop_shows_what_the_transform_says() -> None:
    photo = torch.zeros(3, 120, 160) - 1
    transform = SimilarityTransform.from_parts(scale=1.5, rotation=30.0, translation=(-20.0, -60.0))
    x, y = 70, 50
    photo[:, y - 1 : y + 2, x - 1 : x + 2] = 1.0  # a bright 3x3 dot
    crop = crop_face(photo, transform, SIZE)
    ((cx, cy),) = transform.apply([(x, y)])
    weight = crop[0] + 1  # 0 on the dark background
    rows, cols = torch.meshgrid(torch.arange(float(SIZE)), torch.arange(float(SIZE)), indexing="ij")
    centre = (float((weight * cols).sum() / weight.sum()), float((weight * rows).sum() / weight.sum()))
    assert centre == pytest.approx((cx, cy), abs=0.3)


def test_crop_then_warp_back_round_trips_away_from_the_border() -> None:
    photo = _smooth_photo()
    transform = SimilarityTransform.from_parts(scale=1.3, rotation=-15.0, translation=(-60.0, -20.0))
    crop = crop_face(photo, transform, SIZE)
    back = paste_face(photo, crop, transform, feather=0.1)
    left, _, right, _ = face_footprint(transform, SIZE, 240, 180) or (0, 0, 0, 0)
    inside = transform.inverse().apply([(SIZE * 0.25, SIZE * 0.25), (SIZE * 0.75, SIZE * 0.75)])
    (x0, y0), (x1, y1) = np.sort(inside, axis=0).astype(int)
    assert x1 - x0 > 10 and right > left
    assert float((back - photo)[:, y0:y1, x0:x1].abs().max()) < 0.03  # resampling twice, nothing else
    assert not torch.equal(back, photo)  # it did write the crop back


def test_pixels_outside_the_feathered_region_are_bit_identical() -> None:
    photo = _smooth_photo()
    transform = SimilarityTransform.from_parts(scale=0.8, rotation=25.0, translation=(-40.0, -10.0))
    edited = torch.ones(3, SIZE, SIZE)  # an edit that changes every pixel of the crop
    back = paste_face(photo, edited, transform, feather=0.15)
    changed = (back != photo).any(dim=0)
    region = face_footprint(transform, SIZE, 240, 180)
    assert region is not None
    left, top, right, bottom = region
    outside = torch.ones_like(changed)
    outside[top:bottom, left:right] = False
    assert changed.any() and not changed[outside].any()
    # inside the footprint's box too, pixels beyond the crop's rotated square are untouched
    ys, xs = torch.nonzero(changed, as_tuple=True)
    crop_points = transform.apply(np.stack([xs.numpy(), ys.numpy()], 1).astype(float))
    assert (crop_points > -1.5).all() and (crop_points < SIZE + 0.5).all()
    # the feather: the crop's centre is fully the edit, its edge only partly
    cx, cy = transform.inverse().apply([(SIZE / 2, SIZE / 2)])[0]
    assert torch.allclose(back[:, round(cy), round(cx)], torch.ones(3))


def test_a_pil_photo_round_trips_and_keeps_every_other_pixel() -> None:
    array = ((_smooth_photo() + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    photo = Image.fromarray(array)
    transform = SimilarityTransform.from_parts(scale=1.2, rotation=8.0, translation=(-90.0, -30.0))
    crop = crop_face(photo, transform, SIZE)
    back = paste_face(photo, crop, transform)
    assert isinstance(back, Image.Image) and back.size == photo.size and back is not photo
    before, after = array.astype(int), np.asarray(back).astype(int)
    left, top, right, bottom = face_footprint(transform, SIZE, 240, 180) or (0, 0, 0, 0)
    outside = np.ones(before.shape[:2], bool)
    outside[top:bottom, left:right] = False
    assert np.array_equal(after[outside], before[outside])
    assert np.abs(after - before).mean() < 1.0 and np.abs(after - before).max() <= 12


def test_a_large_face_is_reduced_with_antialiasing() -> None:
    # A fine checkerboard averages to grey when reduced; sampled without antialiasing it would alias.
    photo = torch.ones(3, 400, 400)
    photo[:, ::2, :] *= -1
    photo[:, :, ::2] *= -1
    transform = SimilarityTransform.from_parts(scale=0.2, rotation=0.0, translation=(-20.0, -20.0))
    crop = crop_face(photo, transform, 32)
    assert float(crop.abs().max()) < 0.1


def test_feather_mask_is_one_inside_and_falls_to_the_edges() -> None:
    mask = feather_mask(40, 0.1)
    assert mask.shape == (1, 40, 40)
    assert torch.equal(mask[0, 4:36, 4:36], torch.ones(32, 32))
    assert 0 < float(mask[0, 0, 20]) < float(mask[0, 2, 20]) < 1
    assert torch.equal(feather_mask(10, 0.0), torch.ones(1, 10, 10))
    with pytest.raises(ValueError, match="feather"):
        feather_mask(10, 0.7)


def test_footprint_is_none_for_a_crop_outside_the_photo() -> None:
    away = SimilarityTransform.from_parts(scale=1.0, rotation=0.0, translation=(1000.0, 1000.0))
    assert face_footprint(away, 32, 100, 100) is None
    photo = torch.zeros(3, 100, 100)
    assert torch.equal(paste_face(photo, torch.ones(3, 32, 32), away), photo)
    assert math.isclose(away.scale, 1.0)
