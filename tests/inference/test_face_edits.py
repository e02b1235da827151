"""edit()/animate() with faces=: every face aligned, edited and blended back; the rest of the photo untouched."""

from __future__ import annotations

import sys

import numpy as np
import numpy.typing as npt
import pytest
import torch
from PIL import Image

from ganimation_lib import Generator, GeneratorConfig
from ganimation_lib.faces import (
    INSTALL_HINT,
    Face,
    FacesExtraMissingError,
    NoFaceFoundError,
    alignment_transform,
    face_footprint,
)
from ganimation_lib.inference import animate, edit, edit_batch, edit_results
from ganimation_lib.inference.pasting import paste_results

SIZE = 32
WIDTH, HEIGHT = 260, 130


@pytest.fixture(scope="module")
def generator() -> Generator:
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(image_size=SIZE, conv_dim=8, num_residual_blocks=0))
    with torch.no_grad():  # attention well below 1, so the edit visibly changes the faces
        for parameter in g.parameters():
            parameter.mul_(3)
    return g


def _face(left: float, top: float, width: float, tilt: float = 0.0) -> Face:
    """A face in the box ``(left, top, left + width, top + width)`` with plausible landmarks, tilted by ``tilt`` px."""
    x, y, d = left + width / 2, top + 0.42 * width, 0.36 * width
    marks = (
        (x - d / 2, y - tilt),
        (x + d / 2, y + tilt),
        (x, y + 0.45 * d),
        (x - 0.4 * d, y + 1.15 * d - tilt),
        (x + 0.4 * d, y + 1.15 * d + tilt),
    )
    return Face((left, top, left + width, top + width), 1.0, marks)


SMALL = _face(15, 20, 60, tilt=3)
BIG = _face(140, 10, 100)


@pytest.fixture
def group() -> npt.NDArray[np.uint8]:
    """A 'group photo': a noisy background with two faces' worth of texture where SMALL and BIG sit."""
    return np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def _footprint(face: Face) -> tuple[int, int, int, int]:
    region = face_footprint(alignment_transform(face, SIZE), SIZE, WIDTH, HEIGHT)
    assert region is not None
    return region


def _changed(before: npt.NDArray[np.uint8], after: npt.NDArray[np.uint8] | Image.Image) -> npt.NDArray[np.bool_]:
    return np.asarray(np.asarray(after) != before).any(axis=2)


def _inside(*faces: Face) -> npt.NDArray[np.bool_]:
    mask = np.zeros((HEIGHT, WIDTH), bool)
    for face in faces:
        left, top, right, bottom = _footprint(face)
        mask[top:bottom, left:right] = True
    return mask


def test_both_faces_of_a_group_photo_are_edited_and_the_background_kept(
    generator: Generator, group: npt.NDArray[np.uint8]
) -> None:
    out = edit(generator, Image.fromarray(group), "happy", faces=[SMALL, BIG])
    assert isinstance(out, Image.Image) and out.size == (WIDTH, HEIGHT)
    changed = _changed(group, out)
    assert not changed[~_inside(SMALL, BIG)].any()  # bit for bit outside the faces' crops
    for face in (SMALL, BIG):
        left, top, right, bottom = (round(v) for v in face.box)
        assert changed[top:bottom, left:right].mean() > 0.5, face  # most of each face changed


def test_several_faces_equal_one_face_at_a_time(generator: Generator, group: npt.NDArray[np.uint8]) -> None:
    both = np.asarray(edit(generator, group, "surprise", faces=[SMALL, BIG]), int)
    one_then_other = edit(generator, edit(generator, group, "surprise", faces=[SMALL]), "surprise", faces=[BIG])
    assert np.abs(both - np.asarray(one_then_other, int)).max() <= 1  # batch of two vs one: float rounding only
    # and each face with its own target, one call per face
    sad_small = edit(generator, group, "sad", faces=[SMALL])
    assert not np.array_equal(np.asarray(sad_small)[_inside(SMALL)], np.asarray(one_then_other)[_inside(SMALL)])


@pytest.mark.parametrize(
    ("choice", "edited", "kept"),
    [
        ({"face_index": 0}, SMALL, BIG),
        ({"face_index": 1}, BIG, SMALL),
        ({"largest": True}, BIG, SMALL),
        ({"min_face_size": 80}, BIG, SMALL),
        ({"min_face_size": 80, "face_index": 0}, BIG, SMALL),
    ],
)
def test_the_choice_edits_the_face_it_names(
    generator: Generator, group: npt.NDArray[np.uint8], choice: dict[str, object], edited: Face, kept: Face
) -> None:
    found = [SMALL, BIG]
    out = edit(generator, group, "happy", faces="auto", finder=lambda image: found, **choice)  # type: ignore[arg-type]
    changed = _changed(group, out)
    assert changed[_inside(edited)].any()
    assert not changed[_inside(kept) & ~_inside(edited)].any()


def test_the_finder_sees_the_photo_as_shown(generator: Generator, group: npt.NDArray[np.uint8]) -> None:
    seen: list[tuple[int, int]] = []

    def finder(image: Image.Image) -> list[Face]:
        seen.append(image.size)
        assert np.array_equal(np.asarray(image), group)  # the NumPy photo, as a PIL image
        return [BIG]

    edit(generator, group, "happy", faces="auto", finder=finder)
    assert seen == [(WIDTH, HEIGHT)]


def test_no_face_found_is_a_clear_error(generator: Generator, group: npt.NDArray[np.uint8]) -> None:
    with pytest.raises(NoFaceFoundError, match=r"the 260x130 image: no face found; .*box=\(left, top, right"):
        edit(generator, group, "happy", faces="auto", finder=lambda image: [])
    with pytest.raises(NoFaceFoundError, match="2 faces found, none at least 500 px wide"):
        edit(generator, group, "happy", faces=[SMALL, BIG], min_face_size=500)
    with pytest.raises(NoFaceFoundError, match=r"image 1 \(260x130\): no face found"):
        finds = iter([[SMALL], []])
        edit_batch(generator, [group, group], "happy", faces="auto", finder=lambda image: next(finds))
    with pytest.raises(NoFaceFoundError, match="face 2 was asked for, but 2 faces are there"):
        animate(generator, group, ["happy"], faces=[SMALL, BIG], face_index=2)


def test_faces_and_box_together_are_an_error(generator: Generator, group: npt.NDArray[np.uint8]) -> None:
    with pytest.raises(ValueError, match="not both"):
        edit(generator, group, "happy", box=(0, 0, 50, 50), faces=[SMALL])
    with pytest.raises(ValueError, match="not both"):
        animate(generator, group, ["happy"], box=(0, 0, 50, 50), faces="auto", finder=lambda image: [SMALL])
    with pytest.raises(ValueError, match="give faces='auto'"):
        edit(generator, group, "happy", largest=True)
    with pytest.raises(ValueError, match="finder= is used with faces='auto'"):
        edit(generator, group, "happy", faces=[SMALL], finder=lambda image: [])
    with pytest.raises(ValueError, match="faces must be 'auto'"):
        edit(generator, group, "happy", faces="all")  # type: ignore[arg-type]


def test_degenerate_landmarks_are_an_error(generator: Generator, group: npt.NDArray[np.uint8]) -> None:
    flat = Face((10, 10, 60, 60), 1.0, ((30, 30), (30, 30), (30, 40), (25, 50), (35, 50)))
    with pytest.raises(ValueError, match="eyes are 0 px apart"):
        edit(generator, group, "happy", faces=[flat])


def test_auto_without_the_extra_says_what_to_install(
    generator: Generator, group: npt.NDArray[np.uint8], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib fails, as without the extra
    with pytest.raises(FacesExtraMissingError, match=INSTALL_HINT.replace("[", r"\[").replace("]", r"\]")):
        edit(generator, group, "happy", faces="auto")
    out = edit(generator, group, "happy", faces="auto", finder=lambda image: [BIG])  # a finder of one's own
    assert _changed(group, out)[_inside(BIG)].any()


def test_animate_moves_every_face_and_ends_on_the_edit(generator: Generator, group: npt.NDArray[np.uint8]) -> None:
    frames = animate(generator, group, ["neutral", "happy"], frames_per_transition=2, faces=[SMALL, BIG])
    assert len(frames) == 3 and all(frame.shape == group.shape for frame in frames)
    outside = ~_inside(SMALL, BIG)
    assert all(np.array_equal(frame[outside], group[outside]) for frame in frames)
    assert not np.array_equal(frames[0], frames[-1])
    last = np.asarray(edit(generator, group, "happy", faces=[SMALL, BIG]), int)
    assert np.abs(frames[-1].astype(int) - last).max() <= 1


def test_edit_results_give_one_result_per_face_that_paste_back_to_the_edit(
    generator: Generator, group: npt.NDArray[np.uint8]
) -> None:
    results = edit_results(generator, [group], ["happy", "sad"], faces=[SMALL, BIG])
    assert len(results) == 4  # (happy: small, big), (sad: small, big)
    assert [r.region for r in results] == [_footprint(SMALL), _footprint(BIG)] * 2
    for result in results:
        assert result.mask is not None and result.mask.shape[-2:] == result.output.shape[-2:]
        assert result.attention.shape[-2:] == result.output.shape[-2:]
    batch = edit_batch(generator, [group], ["happy", "sad"], faces=[SMALL, BIG])
    assert np.array_equal(paste_results(group, results[:2]), batch[0])
    assert np.array_equal(paste_results(group, results[2:]), batch[1])


def test_one_face_list_per_image(generator: Generator, group: npt.NDArray[np.uint8]) -> None:
    other = group[:, ::-1].copy()
    out = edit_batch(generator, [group, other], "happy", faces=[[SMALL], [BIG]])
    assert not _changed(group, out[0])[~_inside(SMALL)].any() and _changed(group, out[0])[_inside(SMALL)].any()
    assert not _changed(other, out[1])[~_inside(BIG)].any() and _changed(other, out[1])[_inside(BIG)].any()
    with pytest.raises(ValueError, match="faces for 1 images but 2 images"):
        edit_batch(generator, [group, other], "happy", faces=[[SMALL]])


def test_a_tensor_photo_keeps_every_pixel_away_from_the_face(generator: Generator) -> None:
    photo = torch.rand(3, HEIGHT, WIDTH) * 2 - 1
    out = edit(generator, photo, "happy", faces=[BIG])
    outside = torch.from_numpy(~_inside(BIG))
    assert torch.equal(out[:, outside], photo[:, outside])
    assert not torch.equal(out, photo)


def test_a_face_at_the_edge_of_the_photo(generator: Generator, group: npt.NDArray[np.uint8]) -> None:
    edge = _face(-20, 60, 90)  # the crop reaches past the left and bottom edges
    edge = Face((0, 60, 70, 130), 1.0, edge.landmarks)
    out = edit(generator, group, "happy", faces=[edge])
    assert np.asarray(out).shape == group.shape
    assert not _changed(group, out)[~_inside(edge)].any()


def test_a_warping_generator_works_on_aligned_faces(group: npt.NDArray[np.uint8]) -> None:
    g = Generator(GeneratorConfig(image_size=SIZE, conv_dim=8, num_residual_blocks=0, warp_range=0.1))
    with torch.no_grad():
        g.flow_head.conv.weight.normal_(0, 0.5)  # a flow that moves pixels
    out = edit(g, group, "happy", faces=[BIG])
    assert not _changed(group, out)[~_inside(BIG)].any() and _changed(group, out)[_inside(BIG)].any()


def test_the_flow_of_an_aligned_face_moves_the_photo_as_it_moves_the_crop() -> None:
    # Warping the crop by a flow and warping that back into the photo must match warping the photo by the flow
    # compose() converts into photo units (rotation and scale undone), here with a turned, enlarged crop.
    from ganimation_lib.faces import crop_face, warp_to_photo
    from ganimation_lib.inference.aligned import prepare_aligned_face
    from ganimation_lib.inference.pipeline import compose
    from ganimation_lib.models.warp import warp_images

    y, x = torch.meshgrid(
        torch.arange(HEIGHT, dtype=torch.float32), torch.arange(WIDTH, dtype=torch.float32), indexing="ij"
    )
    photo = torch.stack([torch.sin(x / 7 + k) * torch.cos(y / 9 - k) for k in range(3)]) * 0.8
    face = _face(120, 15, 90, tilt=12)  # tilted about 15 degrees
    prepared = prepare_aligned_face(photo, face, 0.0, 64, torch.device("cpu"))
    assert prepared.transform is not None
    flow = torch.zeros(2, 64, 64)
    flow[0], flow[1] = 0.06, -0.03  # a shift right and up, in the crop's normalised units
    keep = torch.ones(1, 64, 64)  # attention 1: the output is the moved input
    result = compose(prepared, torch.zeros(3, 64, 64), keep, torch.zeros(17), flow)
    crop = crop_face(photo, prepared.transform, 64)
    expected = warp_to_photo(warp_images(crop[None], flow[None])[0], prepared.transform, prepared.region)
    centre = prepared.transform.inverse().apply([(32, 32)])[0]
    cx, cy = round(centre[0] - prepared.region[0]), round(centre[1] - prepared.region[1])
    window = (slice(None), slice(cy - 12, cy + 12), slice(cx - 12, cx + 12))
    moved = float((result.output[window] - expected[window]).abs().mean())
    unmoved = float((result.input[window] - expected[window]).abs().mean())
    assert moved < 0.25 * unmoved, (moved, unmoved)  # about 0.04 of it; a wrong sign or axis gives half
