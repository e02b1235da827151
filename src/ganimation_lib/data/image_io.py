"""Opening, listing and converting image files: the one path every loader of the library takes.

[`load_image`][ganimation_lib.data.dataset.load_image] (and so [`AUDataset`][ganimation_lib.data.dataset.AUDataset]),
[`to_tensor`][ganimation_lib.inference.images.to_tensor], [`edit`][ganimation_lib.inference.edit.edit],
[`animate`][ganimation_lib.inference.animate.animate], the writers and the ``ganimation`` command line all go through
[`to_rgb`][ganimation_lib.data.image_io.to_rgb] (and [`open_image`][ganimation_lib.data.image_io.open_image] for files),
so they agree on:

* **Orientation**: a camera photo's EXIF orientation is applied, as image viewers (and OpenFace, through
  OpenCV) do; sizes and face boxes are in the pixels a viewer shows.
* **Bit depth**: 16-bit grey images (modes ``I;16``, ``I;16B``, ``I;16L``, ``I;16N``, and ``I``, which older
  Pillows give 16-bit PNGs) are read on their 0-65535 scale, like a ``uint16`` NumPy array. (Pillow's own
  ``convert("RGB")`` clips them at 255, which turns a 16-bit photo nearly white.)
* **Size**: images above `MAX_PIXELS` (50 megapixels) are refused with a ``ValueError`` naming the
  size and the limit, before anything is decoded. Pillow's decompression-bomb warning never reaches the
  user: an image large enough to trigger it is above this limit.
* **Errors**: a file that is not an image, is corrupt or truncated raises
  [`DataFormatError`][ganimation_lib.data.errors.DataFormatError] (a ``ValueError``) naming the file.
* **Tensors**: [`pil_to_tensor`][ganimation_lib.data.image_io.pil_to_tensor] is the one conversion of an RGB image to
  the library's (3, H, W) float32 tensors in [-1, 1]; [`list_images`][ganimation_lib.data.image_io.list_images] and
  [`readable_image`][ganimation_lib.data.image_io.readable_image] are how folders of images are listed and checked.

Examples:
    >>> import numpy as np
    >>> from PIL import Image
    >>> deep = Image.fromarray(np.full((2, 3), 257 * 100, dtype=np.uint16))  # mode I;16
    >>> np.asarray(to_rgb(deep))[0, 0].tolist()  # Pillow's convert("RGB") gives [255, 255, 255]
    [100, 100, 100]
"""

from __future__ import annotations

import os
import re
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

from .errors import DataFormatError

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS",
    "as_float_faces",
    "displayed_size",
    "list_images",
    "open_image",
    "pil_to_tensor",
    "readable_image",
    "to_rgb",
    "uint8_to_tensor",
    "upright",
]

#: File extensions treated as images (lower case; names match in any case).
IMAGE_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})

#: The most pixels (width × height) an image may have: 50 megapixels. Above it, an image would need
#: gigabytes as float32 tensors (12 bytes a pixel, several copies while editing); larger photos must be
#: cropped or downscaled first. Arrays and tensors are not checked: they are already in memory.
MAX_PIXELS: Final[int] = 50_000_000

_ORIENTATION = 0x0112  # the EXIF tag; values 5-8 swap width and height
_SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
# What Pillow raises for files it cannot decode (corrupt, truncated, hostile), besides its own types.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, Image.DecompressionBombError)
_BOMB_SIZE = re.compile(r"\((\d+) pixels\)")


def _where(image: Image.Image) -> str | None:
    filename = getattr(image, "filename", "")
    return str(filename) if filename else None


def _too_large(pixels: int, size: str, path: str | Path | None) -> DataFormatError:
    return DataFormatError(
        f"the image is {size}{pixels / 1e6:.1f} megapixels, above the limit of {MAX_PIXELS / 1e6:g} megapixels "
        "(ganimation_lib.data.image_io.MAX_PIXELS); crop or downscale it first",
        path,
    )


def _check_size(image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise _too_large(width * height, f"{width}x{height} = ", _where(image))


@contextmanager
def _reading(path: str | Path | None) -> Iterator[None]:
    """Turn Pillow's decoding errors into a DataFormatError naming the file."""
    try:
        yield
    except DataFormatError:
        raise
    except _DECODE_ERRORS as error:
        raise DataFormatError(f"is not a readable image ({type(error).__name__}: {error})", path) from None


def displayed_size(image: Image.Image) -> tuple[int, int]:
    """``(width, height)`` as a viewer shows the image (after its EXIF orientation).

    An image above `MAX_PIXELS` gives its stored size: it is refused anyway, and reading a PNG's
    EXIF may mean decoding it.

    Examples:
        >>> displayed_size(Image.new("RGB", (40, 20)))
        (40, 20)
    """
    width, height = image.size
    if width * height > MAX_PIXELS:
        return width, height
    with _reading(_where(image)):
        orientation = image.getexif().get(_ORIENTATION, 1)
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def upright(image: Image.Image) -> Image.Image:
    """Return the image decoded and as displayed: its EXIF orientation applied (and removed from it).

    An image without one is returned itself (loaded). Idempotent.

    Raises:
        DataFormatError: If the image is above `MAX_PIXELS` or cannot be decoded (a truncated file),
            naming the file when the image came from one.
    """
    _check_size(image)
    with _reading(_where(image)):
        image.load()
        if image.getexif().get(_ORIENTATION, 1) == 1:
            return image
        return ImageOps.exif_transpose(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert a PIL image to 8-bit RGB, upright: the one conversion every PIL input of the library takes.

    Grey-scale is repeated, palettes are expanded, alpha is dropped; 16-bit grey (``I;16*``, ``I``) is
    scaled from 0-65535 (``I`` values outside it are clipped). An RGB image without an EXIF orientation is
    returned itself.

    Raises:
        DataFormatError: If the image is above `MAX_PIXELS` or cannot be decoded, naming the file.
    """
    shown = upright(image)
    with _reading(_where(image)):
        if shown.mode in _SIXTEEN_BIT:
            deep = np.clip(np.asarray(shown), 0, 65535).astype(np.uint32)
            grey = ((deep * 255 + 32767) // 65535).astype(np.uint8)  # rounded to the nearest 8-bit level
            return Image.fromarray(grey).convert("RGB")
        return shown if shown.mode == "RGB" else shown.convert("RGB")


def open_image(path: str | Path, *, draft_size: int | None = None) -> Image.Image:
    """Open an image file as an upright 8-bit RGB PIL image (decoded: the file is closed again).

    Args:
        path: Any image file Pillow reads.
        draft_size: When given, a JPEG may be decoded at 1/2, 1/4 or 1/8 scale as long as both sides stay
            at least this long (the DCT does it while decoding: fast and small). For images that will be
            resized to this size anyway.

    Raises:
        FileNotFoundError: If ``path`` is not a file.
        DataFormatError: If the file is not an image, is corrupt or truncated, or is above
            `MAX_PIXELS` (checked from its header, before decoding).
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"image {file} does not exist")
    with warnings.catch_warnings():
        # Above Pillow's threshold (89 megapixels) the image is also above MAX_PIXELS: refused below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            opened = Image.open(file)
        except Image.DecompressionBombError as error:  # Pillow refuses outright above 179 megapixels
            found = _BOMB_SIZE.search(str(error))
            if found is not None and int(found.group(1)) > MAX_PIXELS:
                raise _too_large(int(found.group(1)), "", file) from None
            raise DataFormatError(f"is not a readable image ({error})", file) from None
        except _DECODE_ERRORS as error:
            raise DataFormatError(f"is not a readable image ({type(error).__name__}: {error})", file) from None
    with opened:
        _check_size(opened)
        if draft_size is not None:
            with _reading(file):
                opened.draft(None, (draft_size, draft_size))  # a no-op for formats other than JPEG
        return to_rgb(opened)


def readable_image(path: str | Path, draft_size: int | None = None) -> str | None:
    """Decode an image file as [`open_image`][ganimation_lib.data.image_io.open_image] does; return why it cannot be
    used, or ``None``.

    Unlike Pillow's ``verify()``, this finds truncated JPEGs (whose headers are intact).
    """
    try:
        open_image(path, draft_size=draft_size)
    except (DataFormatError, OSError) as error:
        return str(error)
    return None


def list_images(folder: str | Path) -> list[str]:
    """Sorted names of the files directly in ``folder`` whose extension is in `IMAGE_EXTENSIONS`.

    Only names are read (a few MB for 200,000 files); nothing is opened:
    [`readable_image`][ganimation_lib.data.image_io.readable_image] checks one.

    Examples:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> for name in ("b.PNG", "a.jpg", "notes.txt"):
        ...     _ = (folder / name).write_bytes(b"")
        >>> list_images(folder)
        ['a.jpg', 'b.PNG']
    """
    with os.scandir(folder) as entries:
        return sorted(
            e.name for e in entries if e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
        )


def pil_to_tensor(image: Image.Image) -> Tensor:
    """Convert an 8-bit RGB image to a (3, H, W) float32 tensor in [-1, 1]: the library's one conversion.

    Args:
        image: An ``RGB`` image, as [`open_image`][ganimation_lib.data.image_io.open_image] and
            [`to_rgb`][ganimation_lib.data.image_io.to_rgb] return (convert others first).

    Raises:
        ValueError: If the image is not in mode ``RGB``.

    Examples:
        >>> pil_to_tensor(Image.new("RGB", (3, 2), (255, 0, 0)))[:, 0, 0].tolist()
        [1.0, -1.0, -1.0]
    """
    if image.mode != "RGB":
        raise ValueError(f"expected an RGB image, got mode {image.mode!r}; convert it with to_rgb first")
    return uint8_to_tensor(np.asarray(image))


def uint8_to_tensor(pixels: np.ndarray) -> Tensor:
    """Convert (H, W, 3) uint8 RGB pixels to a (3, H, W) float32 tensor in [-1, 1], as `pil_to_tensor` does
    (which calls it): the decoded-image cache's pixels give the same tensors, bit for bit.

    Examples:
        >>> uint8_to_tensor(np.array([[[255, 0, 0]]], dtype=np.uint8))[:, 0, 0].tolist()
        [1.0, -1.0, -1.0]
    """
    array = np.asarray(pixels, dtype=np.float32)
    # Scaled in NumPy: on a busy CPU, torch spreads even a 128 px op over its thread pool and ran ~50x slower.
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1) * np.float32(2 / 255) - np.float32(1)))


def as_float_faces(images: Tensor) -> Tensor:
    """Faces as floating-point tensors in [-1, 1], whichever form a dataset yields them in.

    uint8 tensors (0-255, what ``AUDataset(uint8_images=True)`` yields: a quarter of the bytes through loader
    workers and onto a GPU) become float32, scaled on their own device as `uint8_to_tensor` scales pixels, so
    the values are the same bit for bit; floating-point tensors are returned as they are.

    Args:
        images: ``(..., 3, H, W)`` faces, uint8 or floating point.

    Raises:
        TypeError: For any other dtype (an integer image of another range would be read wrongly).

    Examples:
        >>> as_float_faces(torch.tensor([[[0, 255]]], dtype=torch.uint8)).tolist()
        [[[-1.0, 1.0]]]
        >>> as_float_faces(torch.zeros(1)).dtype
        torch.float32
    """
    if images.is_floating_point():
        return images
    if images.dtype != torch.uint8:
        raise TypeError(
            f"face images must be uint8 (0-255) or floating point in [-1, 1], got {images.dtype}; convert them "
            "to one of those first"
        )
    # Two float32 roundings, as uint8_to_tensor does in NumPy: the same values from either path.
    return images.float().mul_(np.float32(2 / 255).item()).sub_(1.0)
