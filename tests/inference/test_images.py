"""Image conversion: every accepted type and mode in, the same type out, clear errors for the rest."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ganimation_lib.inference.images import from_tensor, image_size, paste, to_pil, to_tensor


def test_pil_modes_become_rgb() -> None:
    grey = Image.new("L", (5, 3), 255)
    rgba = Image.new("RGBA", (5, 3), (0, 255, 0, 0))
    palette = Image.new("P", (5, 3))
    for image in (grey, rgba, palette):
        t = to_tensor(image)
        assert t.shape == (3, 3, 5) and t.dtype == torch.float32
    assert to_tensor(grey).eq(1).all()
    assert to_tensor(rgba)[:, 0, 0].tolist() == [-1.0, 1.0, -1.0]  # alpha dropped, colour kept


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.full((2, 3), 255, np.uint8), 1.0),
        (np.full((2, 3, 1), 0, np.uint8), -1.0),
        (np.full((2, 3, 4), 65535, np.uint16), 1.0),
        (np.full((2, 3, 3), 0.5, np.float64), 0.0),
    ],
)
def test_numpy_layouts_and_dtypes(array: np.ndarray, expected: float) -> None:
    t = to_tensor(array)
    assert t.shape == (3, 2, 3)
    assert torch.allclose(t, torch.full_like(t, expected))


def test_tensors_uint8_grey_and_rgba() -> None:
    assert to_tensor(torch.full((4, 4), 255, dtype=torch.uint8)).eq(1).all()
    assert to_tensor(torch.zeros(4, 2, 2)).shape == (3, 2, 2)
    assert to_tensor(torch.zeros(1, 2, 2)).shape == (3, 2, 2)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((3, 8, 8), np.uint8), "transpose"),
        (np.zeros((8, 8, 2), np.uint8), "C = 1, 3 or 4"),
        (np.full((4, 4, 3), 255.0), "divide 0-255 values by 255"),
        (np.zeros((4, 4, 3), np.int64), "dtype int64"),
        (torch.full((3, 4, 4), 2.0), "t \\* 2 - 1"),
        (torch.zeros(2, 3, 4, 4), "list\\(batch\\)"),
        (torch.zeros(3, 4, 4, dtype=torch.int32), "dtype torch.int32"),
    ],
)
def test_bad_images_are_refused_with_the_fix(image: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_tensor(image)  # type: ignore[arg-type]


def test_not_an_image() -> None:
    with pytest.raises(TypeError, match="PIL image"):
        to_tensor("face.png")  # type: ignore[arg-type]


def test_round_trips_are_exact() -> None:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    assert np.array_equal(from_tensor(to_tensor(array), like=array), array)
    pil = Image.fromarray(array)
    assert np.array_equal(np.asarray(from_tensor(to_tensor(pil), like=pil)), array)
    u8 = torch.from_numpy(array).permute(2, 0, 1).contiguous()
    assert torch.equal(from_tensor(to_tensor(u8), like=u8), u8)
    assert image_size(pil) == image_size(array) == image_size(u8) == (7, 6)
    assert to_pil(to_tensor(array)).size == (7, 6)


def test_paste_keeps_everything_else_bit_for_bit() -> None:
    original = np.random.default_rng(1).random((10, 12, 3))  # float64: no round trip through float32
    out = paste(original, torch.zeros(3, 2, 3), left=4, top=5)
    assert out.dtype == original.dtype and out.shape == original.shape
    mask = np.ones((10, 12), bool)
    mask[5:7, 4:7] = False
    assert np.array_equal(out[mask], original[mask])
    assert np.allclose(out[5:7, 4:7], 0.5)


def test_paste_converts_grey_and_rgba_to_rgb() -> None:
    assert paste(Image.new("LA", (4, 4)), torch.zeros(3, 1, 1), 0, 0).mode == "RGB"
    assert paste(np.zeros((4, 4), np.uint8), torch.zeros(3, 1, 1), 0, 0).shape == (4, 4, 3)
    assert paste(torch.zeros(4, 4, 4), torch.zeros(3, 1, 1), 0, 0).shape == (3, 4, 4)
