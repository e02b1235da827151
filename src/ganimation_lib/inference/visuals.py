"""Pictures for people to look at: grids of a generator's outputs, and writing one image file.

The training sample grids, the evaluation grid, the demo's pictures and the inference writers all go
through here: one [`save_image`][ganimation_lib.inference.visuals.save_image] (any image type, atomic, format by suffix)
and one way to lay out tiles ([`tile_columns`][ganimation_lib.inference.visuals.tile_columns], with an optional
header of column labels). Tensor grids are unlabelled unless asked (``labels=``, ``labelled=True``); the files the
library writes are labelled.

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
from .grid_labels import add_header
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


def tile_columns(
    columns: Sequence[Tensor],
    pad: int = 2,
    gaps: Sequence[int] | None = None,
    *,
    labels: Sequence[str] | None = None,
    groups: Sequence[tuple[str, int, int]] = (),
) -> Tensor:
    """Lay out (B, 3, H, W) uint8 tile stacks as the columns of a white-padded (3, H', W') uint8 grid.

    The tiling is ``torchvision.utils.make_grid`` (one call per run of columns between gaps).

    Args:
        columns: One stack of tiles per column (see [`to_uint8`][ganimation_lib.inference.visuals.to_uint8]), row ``i``
            of each in row ``i``.
        pad: White pixels around every tile.
        gaps: Extra white pixels before each column (to group columns); ``None``: none.
        labels: One label per column, written in a header strip above the grid
            ([`add_header`][ganimation_lib.inference.grid_labels.add_header]); ``None``: no header, only tiles.
        groups: ``(name, first column, number of columns)`` per column group, named above the labels.

    Examples:
        >>> tile_columns([torch.zeros(2, 3, 4, 4, dtype=torch.uint8)] * 3, pad=1).shape
        torch.Size([3, 11, 16])
        >>> tile_columns([torch.zeros(2, 3, 4, 4, dtype=torch.uint8)] * 3, pad=1, gaps=[0, 5, 0]).shape
        torch.Size([3, 11, 21])
    """
    extra = [0] * len(columns) if gaps is None else list(gaps)
    if len(extra) != len(columns):
        raise ValueError(f"gaps has {len(extra)} entries for {len(columns)} columns")
    if labels is not None and len(labels) != len(columns):
        raise ValueError(f"{len(labels)} labels for {len(columns)} columns")
    from torchvision.utils import make_grid  # here, not at the top: importing torchvision takes about 1 s

    width = columns[0].shape[3]
    starts = [col for col in range(len(columns)) if col == 0 or extra[col] > 0]
    parts: list[Tensor] = []
    for first, end in zip(starts, [*starts[1:], len(columns)], strict=True):
        run = torch.stack([tiles.cpu() for tiles in columns[first:end]], dim=1).flatten(0, 1)  # row-major tiles
        # make_grid returns a lone tile unpadded, so a 1×1 run is padded here as make_grid pads the others.
        part = (
            torch.nn.functional.pad(run[0], (pad, pad, pad, pad), value=255)
            if run.shape[0] == 1
            else make_grid(run, nrow=end - first, padding=pad, pad_value=255)
        )
        gap = torch.full((3, part.shape[1], extra[first]), 255, dtype=torch.uint8)
        parts += [gap, part if first == 0 else part[:, :, pad:]]  # neighbouring runs share one pad column
    grid = torch.cat(parts, dim=2)
    if labels is None:
        return grid
    return add_header(grid, width, labels, pad=pad, gaps=extra, groups=groups)


@torch.no_grad()
def make_sample_grid(
    generator: Callable[[Tensor, Tensor], GeneratorOutput],
    images: Tensor,
    targets: Sequence[Tensor],
    pad: int = 2,
    *,
    names: Sequence[str] | None = None,
    labelled: bool = False,
) -> Tensor:
    """A (3, H', W') uint8 grid: one row per face, ``input | (output, attention, colour) per target``.

    Args:
        generator: Called as ``generator(images, aus)`` and returning a ``GeneratorOutput``.
        images: (B, 3, H, W) faces in [-1, 1].
        targets: One (B, num_aus) or (num_aus,) AU tensor per target expression.
        pad: White pixels between tiles.
        names: A name per target for the header (``"happy"``...); ``None``: ``"target 1"``, ``"target 2"``...
        labelled: Add the header strip (target names over their three columns, and ``input``, ``output``,
            ``attention``, ``colour`` over each column); ``False`` (the default): the tiles only, whose shape
            follows from the tile size alone. The files the library writes (training samples, the demo) are
            labelled.

    Examples:
        >>> from ganimation_lib import Generator, GeneratorConfig
        >>> g = Generator(GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=0))
        >>> make_sample_grid(g, torch.zeros(2, 3, 32, 32), [torch.zeros(17)]).shape
        torch.Size([3, 70, 138])
        >>> make_sample_grid(g, torch.zeros(2, 3, 32, 32), [torch.zeros(17)], labelled=True).shape[1] > 70
        True
    """
    titles = [f"target {i + 1}" for i in range(len(targets))] if names is None else list(names)
    if len(titles) != len(targets):
        raise ValueError(f"{len(titles)} names for {len(targets)} targets")
    b = images.shape[0]
    columns = [to_uint8(images)]
    for target in targets:
        aus = target.to(images.device, images.dtype)
        aus = aus.expand(b, -1) if aus.dim() == 1 else aus
        out = generator(images, aus)
        columns += [to_uint8(out.image), to_uint8(out.attention), to_uint8(out.color)]
    if not labelled:
        return tile_columns(columns, pad)
    labels = ["input", *(["output", "attention", "colour"] * len(targets))]
    groups = [(title, 1 + 3 * i, 3) for i, title in enumerate(titles)]
    return tile_columns(columns, pad, labels=labels, groups=groups)
