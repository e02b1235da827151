"""edit / edit_batch / edit_results: sizes, untouched pixels, boxes, batching and bad inputs."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from PIL import Image

from ganimation_lib import Generator
from ganimation_lib.aus import aus_for
from ganimation_lib.inference import edit, edit_batch, edit_results, face_region
from tests.conftest import tiny_generator_config


@pytest.fixture
def generator() -> Generator:
    return Generator(tiny_generator_config())


def _photo(width: int = 80, height: int = 60) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_at_model_size_edit_is_the_generators_composition(generator: Generator) -> None:
    image = torch.rand(3, 32, 32) * 2 - 1
    target = aus_for("surprise")
    expected = generator.eval()(image[None], target[None]).image[0]
    assert torch.allclose(edit(generator, image, target), expected, atol=1e-5)


@pytest.mark.parametrize("kind", ["pil", "numpy", "numpy_float", "tensor", "tensor_uint8"])
def test_edit_keeps_the_input_type_and_size(generator: Generator, kind: str) -> None:
    photo = _photo(70, 45)
    image: object = {
        "pil": Image.fromarray(photo),
        "numpy": photo,
        "numpy_float": photo.astype(np.float32) / 255,
        "tensor": torch.from_numpy(photo).permute(2, 0, 1).float() / 127.5 - 1,
        "tensor_uint8": torch.from_numpy(photo).permute(2, 0, 1).contiguous(),
    }[kind]
    out = edit(generator, image, "happy")  # type: ignore[type-var]
    assert type(out) is type(image)
    if isinstance(out, Image.Image):
        assert out.size == (70, 45) and out.mode == "RGB"
    elif isinstance(out, np.ndarray):
        assert out.shape == (45, 70, 3)
        assert out.dtype == (np.uint8 if kind == "numpy" else np.float32)
    else:
        assert isinstance(image, torch.Tensor)
        assert out.shape == (3, 45, 70) and out.dtype == image.dtype


@pytest.mark.parametrize("box", [(20, 10, 44, 40), (0, 0, 30, 30), (60, 30, 95, 70)])
def test_pixels_outside_the_face_box_are_unchanged(generator: Generator, box: tuple[int, int, int, int]) -> None:
    photo = _photo()
    out = edit(generator, photo, "surprise", box=box)
    (left, top, right, bottom), _ = face_region(box, 80, 60)
    outside = np.ones((60, 80), bool)
    outside[top:bottom, left:right] = False
    assert out.shape == photo.shape
    assert np.array_equal(out[outside], photo[outside])
    assert not np.array_equal(out[~outside], photo[~outside])  # the face itself was edited


def test_feathered_edge_blends_towards_the_original(generator: Generator) -> None:
    photo = _photo()
    box = (20, 10, 60, 50)
    hard = edit(generator, photo, "surprise", box=box, feather=0.0).astype(int)
    soft = edit(generator, photo, "surprise", box=box, feather=0.25).astype(int)
    edge, centre = (slice(10, 50), 20), (30, 40)
    assert np.abs(soft[edge] - photo[edge]).sum() < np.abs(hard[edge] - photo[edge]).sum()
    assert np.array_equal(soft[centre], hard[centre])  # the inside is not blended


@pytest.mark.parametrize(("width", "height"), [(64, 32), (32, 64)])
def test_a_whole_non_square_image_is_not_squashed_for_the_generator(
    generator: Generator, width: int, height: int
) -> None:
    # A 16 px white square in a 64x32 (or 32x64) image must reach the 32 px model still square (8x8);
    # resizing the whole image to 32x32 would make it 8x16.
    image = -torch.ones(3, height, width)
    image[:, 8:24, 8:24] = 1
    seen: list[torch.Tensor] = []
    hook = generator.register_forward_pre_hook(lambda _module, args: seen.append(args[0].clone()) and None)
    out = edit(generator, image, "happy")
    hook.remove()
    (model_input,) = seen
    assert model_input.shape == (1, 3, 32, 32) and out.shape == image.shape
    rows, cols = torch.nonzero(model_input[0, 0] > 0, as_tuple=True)
    assert int(rows.max() - rows.min()) + 1 == int(cols.max() - cols.min()) + 1 == 8


def test_face_region_squares_and_clamps() -> None:
    assert face_region((10, 10, 20, 40), 100, 100) == ((10, 10, 20, 40), (0, 10, 30, 40))
    # A box wider than the image is tall: the square shrinks to the height and the box to the overlap.
    assert face_region((0, 0, 100, 10), 100, 30) == ((35, 0, 65, 10), (35, 0, 65, 30))
    box, region = face_region((-10, -10, 15, 15), 50, 50)
    assert box == (0, 0, 15, 15) and region == (0, 0, 15, 15)
    assert face_region(None, 7, 9) == ((0, 0, 7, 9), (0, 0, 7, 9))


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ((100, 10, 120, 30), "lies outside the 80x60 image"),
        ((-30, -30, -5, -5), "lies outside"),
        ((30, 10, 20, 40), "empty or inverted"),
        ((1, 2, 3), "left, top, right, bottom"),
        ((0, 0, float("nan"), 5), "finite numbers"),
    ],
)
def test_bad_boxes(generator: Generator, box: tuple[float, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        edit(generator, _photo(), "happy", box=box)


def test_grey_and_rgba_inputs_are_converted(generator: Generator) -> None:
    grey = Image.fromarray(_photo()[:, :, 0])
    rgba = Image.fromarray(_photo()).convert("RGBA")
    assert edit(generator, grey, "sad").mode == "RGB"
    assert edit(generator, rgba, "sad").mode == "RGB"
    assert edit(generator, _photo()[:, :, 0], "sad").shape == (60, 80, 3)
    expected = edit(generator, Image.fromarray(_photo()), "sad")
    assert np.array_equal(np.asarray(edit(generator, rgba, "sad")), np.asarray(expected))


def test_bad_targets_and_mismatched_models(generator: Generator) -> None:
    with pytest.raises(ValueError, match="unknown expression 'elated'"):
        edit(generator, _photo(), "elated")
    with pytest.raises(ValueError, match="AU77 is not in this AU layout"):
        edit(generator, _photo(), {"AU77": 1.0})
    small = Generator(tiny_generator_config(num_aus=5))
    with pytest.raises(ValueError, match="built for 5 AUs"):
        edit(small, _photo(), "happy")
    with pytest.raises(ValueError, match="built for 5 AUs"):
        edit(small, _photo(), aus_for("happy"))
    assert edit(small, _photo(), [0.2] * 5).shape == (60, 80, 3)
    with pytest.raises(TypeError, match=r"ema\.shadow"):

        class FakeEMA(torch.nn.Module):
            shadow = generator

        edit(FakeEMA(), _photo(), "happy")


def test_batch_of_targets_matches_one_by_one(generator: Generator) -> None:
    photo = _photo()
    targets = ["neutral", "happy", {"AU26": 4.0}, aus_for("sad")]
    batched = edit_batch(generator, [photo], targets, boxes=(10, 5, 50, 45), batch_size=3)
    singles = [edit(generator, photo, t, box=(10, 5, 50, 45)) for t in targets]
    assert len(batched) == 4
    for b, s in zip(batched, singles, strict=True):
        assert np.abs(b.astype(int) - s.astype(int)).max() <= 1  # batching only reorders float sums


def test_batch_of_images_with_one_target_and_per_image_boxes(generator: Generator) -> None:
    images = [_photo(40, 40), _photo(64, 48)]
    out = edit_batch(generator, images, "happy", boxes=[None, (0, 0, 30, 30)])
    assert [o.shape for o in out] == [(40, 40, 3), (48, 64, 3)]
    with pytest.raises(ValueError, match="2 images and 3 targets"):
        edit_batch(generator, images, ["happy", "sad", "fear"])
    with pytest.raises(ValueError, match="1 boxes for 2 images"):
        edit_batch(generator, images, "happy", boxes=[None])


def test_generator_mode_is_restored_and_ema_copies_work(generator: Generator) -> None:
    generator.train()
    edit(generator, _photo(), "happy")
    assert generator.training
    shadow = copy.deepcopy(generator).eval().requires_grad_(False)  # what training.ema.EMA keeps
    assert edit(shadow, _photo(), "happy").shape == (60, 80, 3)


def test_results_are_ordinary_tensors(generator: Generator) -> None:
    out = edit(generator, torch.zeros(3, 32, 32), "happy")
    assert not out.is_inference()
    (out * torch.ones(1, requires_grad=True)).sum().backward()  # usable in autograd afterwards


def test_edit_results_expose_the_maps(generator: Generator) -> None:
    result = edit_results(generator, [_photo()], "happy", boxes=(20, 10, 44, 40))[0]
    assert result.region == (17, 10, 47, 40) and result.box == (20, 10, 44, 40)
    assert result.input.shape == result.output.shape == result.color.shape == (3, 30, 30)
    assert result.attention.shape == (1, 30, 30)
    assert float(result.attention.min()) >= 0 and float(result.attention.max()) <= 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_generator_and_tensor_inputs(generator: Generator) -> None:
    cuda = generator.cuda()
    image = torch.rand(3, 48, 64, device="cuda") * 2 - 1
    out = edit(cuda, image, "happy", box=(8, 8, 40, 40))
    assert out.device.type == "cuda" and out.shape == image.shape
    cpu = edit(generator.cpu(), image.cpu(), "happy", box=(8, 8, 40, 40))
    assert torch.allclose(out.cpu(), cpu, atol=1e-3)
    assert np.asarray(edit(cuda.cuda(), Image.new("RGB", (40, 30)), "sad")).shape == (30, 40, 3)
