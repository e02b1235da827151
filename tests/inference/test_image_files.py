"""Image files and PIL images through every entry point: 16-bit, EXIF orientation, truncated, too large."""

from __future__ import annotations

import struct
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from ganimation_lib import Generator
from ganimation_lib.cli import main
from ganimation_lib.data import load_image
from ganimation_lib.data.image_io import MAX_PIXELS, open_image
from ganimation_lib.inference import animate, edit, to_tensor
from ganimation_lib.inference.images import image_size
from tests.conftest import tiny_generator_config

ORIENTATION = 0x0112


@pytest.fixture
def generator() -> Generator:
    return Generator(tiny_generator_config())


def _grey8() -> np.ndarray:
    """(24, 40) uint8 with every level 0-255 (and some twice)."""
    return (np.arange(24 * 40) % 256).astype(np.uint8).reshape(24, 40)


def _sixteen_bit(mode: str, grey8: np.ndarray) -> Image.Image:
    deep = grey8.astype(np.uint16) * 257  # the same picture: 257 * v / 65535 == v / 255
    if mode == "I;16":
        return Image.fromarray(deep)
    if mode == "I;16B":
        return Image.frombytes("I;16B", (grey8.shape[1], grey8.shape[0]), deep.astype(">u2").tobytes())
    return Image.fromarray(deep.astype(np.int32))  # mode I: 16-bit PNGs in older Pillows


# ------------------------------------------------------------------------------------------------ 16-bit


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I"])
def test_sixteen_bit_pil_images_give_the_tensor_of_their_eight_bit_version(mode: str) -> None:
    grey8 = _grey8()
    deep = _sixteen_bit(mode, grey8)
    assert deep.mode == mode
    expected = to_tensor(Image.fromarray(grey8))
    assert float((to_tensor(deep) - expected).abs().max()) <= 2 / 255  # 1/255 of the [-1, 1] range
    # ... which is also what the (already right) NumPy uint16 path gives.
    assert float((to_tensor(np.asarray(deep).astype(np.uint16)) - expected).abs().max()) <= 2 / 255


def test_a_sixteen_bit_png_loads_like_its_eight_bit_version_everywhere(generator: Generator, tmp_path: Path) -> None:
    grey8 = _grey8()
    deep_png, png = tmp_path / "deep.png", tmp_path / "eight.png"
    _sixteen_bit("I;16", grey8).save(deep_png)
    Image.fromarray(grey8).save(png)
    with Image.open(deep_png) as opened:
        assert opened.mode.startswith("I")
    assert float((load_image(deep_png, 16) - load_image(png, 16)).abs().max()) <= 2 / 255
    assert np.abs(np.asarray(open_image(deep_png), int) - np.asarray(open_image(png), int)).max() <= 1
    with Image.open(deep_png) as deep, Image.open(png) as eight:
        edited = [np.asarray(edit(generator, image, "happy"), int) for image in (deep, eight)]
        frames = [animate(generator, image, ["neutral", "sad"], frames_per_transition=1) for image in (deep, eight)]
    assert np.abs(edited[0] - edited[1]).max() <= 1
    assert np.abs(np.asarray(frames[0][-1], int) - np.asarray(frames[1][-1], int)).max() <= 1
    model = Generator(tiny_generator_config()).save_pretrained(tmp_path / "model")
    outs = [tmp_path / "deep_out.png", tmp_path / "eight_out.png"]
    for source, out in zip((deep_png, png), outs, strict=True):
        argv = ["edit", str(model), str(source), "--expression", "happy", "--whole-image", "--device", "cpu"]
        assert main([*argv, "-o", str(out)]) == 0
    assert np.abs(np.asarray(open_image(outs[0]), int) - np.asarray(open_image(outs[1]), int)).max() <= 1


# --------------------------------------------------------------------------------------- EXIF orientation


@pytest.fixture
def camera_photo(tmp_path: Path) -> Path:
    """Stored 40 wide x 20 tall, white left half; EXIF orientation 6: shown 20 x 40 with a white top half."""
    array = np.zeros((20, 40, 3), dtype=np.uint8)
    array[:, :20] = 255
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    path = tmp_path / "camera.png"  # PNG keeps EXIF too, and is lossless
    Image.fromarray(array).save(path, exif=exif)
    return path


def _white_top(image: np.ndarray) -> bool:
    return image.shape[:2] == (40, 20) and bool((image[:18] > 250).all() and (image[22:] < 5).all())


def test_exif_orientation_is_applied_to_pil_images_and_files(generator: Generator, camera_photo: Path) -> None:
    with Image.open(camera_photo) as stored:
        assert stored.size == (40, 20)  # as stored
        assert image_size(stored) == (20, 40)  # as shown
    assert _white_top(np.asarray(open_image(camera_photo)))
    with Image.open(camera_photo) as opened:
        tensor = to_tensor(opened)
    assert _white_top(((tensor.permute(1, 2, 0).numpy() + 1) * 127.5).round())
    loaded = load_image(camera_photo, 8)  # what AUDataset gives
    assert float(loaded[:, :3].mean()) > 0.9 and float(loaded[:, 5:].mean()) < -0.9
    # edit and animate: the box is in the pixels a viewer shows, and the result comes back upright.
    with Image.open(camera_photo) as opened:
        result = edit(generator, opened, "happy", box=(0, 24, 20, 40))
    edited = np.asarray(result)
    assert edited.shape == (40, 20, 3) and np.array_equal(edited[:24], np.asarray(open_image(camera_photo))[:24])
    assert result.getexif().get(ORIENTATION, 1) == 1  # it carries no orientation: applying it again is a no-op
    with Image.open(camera_photo) as opened:
        frames = animate(generator, opened, ["neutral", "happy"], frames_per_transition=1)
    assert all(frame.size == (20, 40) for frame in frames)


# ----------------------------------------------------------------------------------------- truncated files


@pytest.fixture
def truncated_jpeg(tmp_path: Path) -> Path:
    path = tmp_path / "cut.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the header is intact: Image.open succeeds, decoding fails
    return path


@pytest.mark.parametrize(
    "use",
    [
        lambda g, image: to_tensor(image),
        lambda g, image: edit(g, image, "happy"),
        lambda g, image: animate(g, image, ["neutral", "happy"], frames_per_transition=1),
    ],
    ids=["to_tensor", "edit", "animate"],
)
def test_a_truncated_jpeg_is_a_value_error_naming_the_file(
    generator: Generator, truncated_jpeg: Path, use: Callable[[Generator, Image.Image], object]
) -> None:
    message = r"cut\.jpg: is not a readable image .*truncated"
    with Image.open(truncated_jpeg) as image, pytest.raises(ValueError, match=message):
        use(generator, image)  # Image.open succeeded: the error comes when the library decodes it
    for load in (lambda: load_image(truncated_jpeg, 16), lambda: open_image(truncated_jpeg)):
        with pytest.raises(ValueError, match=message):
            load()


def test_the_cli_reports_a_truncated_jpeg(
    truncated_jpeg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = Generator(tiny_generator_config()).save_pretrained(tmp_path / "model")
    argv = ["edit", str(model), str(truncated_jpeg), "--expression", "happy", "-o", str(tmp_path / "out.png")]
    assert main(argv) != 0 and not (tmp_path / "out.png").exists()
    assert "cut.jpg: is not a readable image" in capsys.readouterr().err


# ------------------------------------------------------------------------------------- the pixel limit


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A 1-bit PNG that declares ``width`` x ``height`` but holds one row of data: opens, never decodes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, grey
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(1 + (width + 7) // 8)))
        + chunk(b"IEND", b"")
    )  # fmt: skip
    return path


@pytest.mark.parametrize(
    ("width", "height"),
    [(8200, 8200), (10_000, 10_000), (20_000, 10_000)],  # under, over Pillow's warning; over Pillow's error
)
def test_an_image_above_the_pixel_limit_is_refused_before_decoding(
    generator: Generator, tmp_path: Path, capsys: pytest.CaptureFixture[str], width: int, height: int
) -> None:
    assert width * height > MAX_PIXELS == 50_000_000
    path = _png_header_only(tmp_path / "huge.png", width, height)
    size = f"{width * height / 1e6:.1f} megapixels, above the limit of 50 megapixels"
    model = Generator(tiny_generator_config()).save_pretrained(tmp_path / "model")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning must not reach the user
        for use in (lambda: load_image(path, 16), lambda: open_image(path)):
            with pytest.raises(ValueError, match=rf"huge\.png: the image is .*{size}"):
                use()
        assert main(["edit", str(model), str(path), "--expression", "happy", "-o", str(tmp_path / "out.png")]) != 0
        assert size in capsys.readouterr().err
        if width * height < 89_478_485:  # Pillow itself opens it without a warning: a PIL image in memory
            with Image.open(path) as image:
                for use in (lambda: to_tensor(image), lambda: edit(generator, image, "happy")):
                    with pytest.raises(ValueError, match=rf"{width}x{height} = {size}"):
                        use()


def test_jpegs_for_the_dataset_are_decoded_reduced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A 12-megapixel photo loaded at 128 px need not be decoded at full size: the JPEG decoder scales by 1/8.
    path = tmp_path / "big.jpg"
    Image.fromarray(np.full((256, 320, 3), 200, dtype=np.uint8)).save(path)
    decoded: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile) -> object:
        decoded.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    image = load_image(path, 32)
    assert image.shape == (3, 32, 32) and torch.allclose(image, torch.full_like(image, 200 / 127.5 - 1), atol=0.02)
    assert decoded and max(w * h for w, h in decoded) == 40 * 32  # 1/8 of 320 x 256
