"""Pictures for people to look at: grids of a generator's outputs, and writing one image file.

The training sample grids, the evaluation grid, the demo's pictures and the inference writers all go
through here: one [`save_image`][ganimation_lib.inference.visuals.save_image] (any image type, atomic, format by suffix)
and one way to lay out tiles ([`tile_columns`][ganimation_lib.inference.visuals.tile_columns]).

Examples:
    >>> import tempfile, torch
    >>> grid = tile_columns([to_uint8(torch.zeros(2, 3, 4, 4)), to_uint8(torch.ones(2, 1, 4, 4))], pad=1)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_image(grid, f"{tmp}/grid.png").name
    'grid.png'
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor

from ..atomic_files import atomic_path
from ..data.image_io import to_rgb
from ..models.generator import GeneratorOutput
from .images import ImageLike, to_pil, to_tensor

__all__ = ["as_pil", "atomic_file", "make_sample_grid", "save_image", "tile_columns", "to_uint8"]


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (same suffix), moved onto ``path`` if the block succeeds.

    Raises:
        ValueError: When ``path`` is a folder (the message suggests a file name in it).
    """
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"{target} is a folder; give a file name such as {target / 'out.png'}")
    with atomic_path(target) as temporary:
        yield temporary


def as_pil(image: ImageLike) -> Image.Image:
    """One image of any accepted type (see [`images`][ganimation_lib.inference.images]) as an RGB PIL image.

    Examples:
        >>> as_pil(torch.zeros(3, 2, 5)).size
        (5, 2)
    """
    if isinstance(image, Image.Image):
        return to_rgb(image)
    return to_pil(to_tensor(image))


def save_image(image: ImageLike, path: str | os.PathLike[str]) -> Path:
    """Write one image (any accepted type) atomically; the format follows the suffix (PNG, JPEG, ...).

    JPEGs are written at quality 95 without chroma subsampling (Pillow's defaults, 75 and 4:2:0, visibly
    degrade a photo that was edited only inside a face box). A grid from
    [`tile_columns`][ganimation_lib.inference.visuals.tile_columns] is a ``uint8`` tensor, which is written exactly.

    Examples:
        >>> import tempfile, torch
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     save_image(torch.zeros(3, 4, 4), f"{tmp}/x.png").name
        'x.png'
    """
    pil = as_pil(image)
    jpeg = Path(path).suffix.lower() in (".jpg", ".jpeg", ".jpe", ".jfif")
    options: dict[str, Any] = {"quality": 95, "subsampling": 0} if jpeg else {}
    with atomic_file(path) as tmp:
        try:
            pil.save(tmp, **options)
        except (KeyError, ValueError) as error:
            raise ValueError(f"cannot write an image to {path}: {error}; use a suffix such as .png or .jpg") from None
    return Path(path)


def to_uint8(images: Tensor) -> Tensor:
    """(B, 3, H, W) images in [-1, 1], or (B, 1, H, W) masks in [0, 1], as (B, 3, H, W) uint8 tiles on the CPU.

    Examples:
        >>> to_uint8(torch.ones(1, 1, 2, 2))[0, :, 0, 0].tolist()
        [255, 255, 255]
    """
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1) * 2 - 1
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


def tile_columns(columns: Sequence[Tensor], pad: int = 2, gaps: Sequence[int] | None = None) -> Tensor:
    """Lay out (B, 3, H, W) uint8 tile stacks as the columns of a white-padded (3, H', W') uint8 grid.

    Args:
        columns: One stack of tiles per column (see [`to_uint8`][ganimation_lib.inference.visuals.to_uint8]), row ``i``
            of each in row ``i``.
        pad: White pixels around every tile.
        gaps: Extra white pixels before each column (to group columns); ``None``: none.

    Examples:
        >>> tile_columns([torch.zeros(2, 3, 4, 4, dtype=torch.uint8)] * 3, pad=1).shape
        torch.Size([3, 11, 16])
        >>> tile_columns([torch.zeros(2, 3, 4, 4, dtype=torch.uint8)] * 3, pad=1, gaps=[0, 5, 0]).shape
        torch.Size([3, 11, 21])
    """
    extra = [0] * len(columns) if gaps is None else list(gaps)
    if len(extra) != len(columns):
        raise ValueError(f"gaps has {len(extra)} entries for {len(columns)} columns")
    b, _, h, w = columns[0].shape
    grid = torch.full((3, b * (h + pad) + pad, len(columns) * (w + pad) + pad + sum(extra)), 255, dtype=torch.uint8)
    for col, tiles in enumerate(columns):
        x = pad + col * (w + pad) + sum(extra[: col + 1])
        for row in range(b):
            y = pad + row * (h + pad)
            grid[:, y : y + h, x : x + w] = tiles[row]
    return grid


@torch.no_grad()
def make_sample_grid(
    generator: Callable[[Tensor, Tensor], GeneratorOutput], images: Tensor, targets: Sequence[Tensor], pad: int = 2
) -> Tensor:
    """A (3, H', W') uint8 grid: one row per face, ``input | (output, attention, colour) per target``.

    Args:
        generator: Called as ``generator(images, aus)`` and returning a ``GeneratorOutput``.
        images: (B, 3, H, W) faces in [-1, 1].
        targets: One (B, num_aus) or (num_aus,) AU tensor per target expression.
        pad: White pixels between tiles.

    Examples:
        >>> from ganimation_lib import Generator, GeneratorConfig
        >>> g = Generator(GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=0))
        >>> make_sample_grid(g, torch.zeros(2, 3, 32, 32), [torch.zeros(17)]).shape
        torch.Size([3, 70, 138])
    """
    b = images.shape[0]
    columns = [to_uint8(images)]
    for target in targets:
        aus = target.to(images.device, images.dtype)
        aus = aus.expand(b, -1) if aus.dim() == 1 else aus
        out = generator(images, aus)
        columns += [to_uint8(out.image), to_uint8(out.attention), to_uint8(out.color)]
    return tile_columns(columns, pad)
