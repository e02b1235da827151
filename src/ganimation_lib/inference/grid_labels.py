"""Column labels for picture grids: a white header strip with text drawn by Pillow above a tile grid.

[`add_header`][ganimation_lib.inference.grid_labels.add_header] takes a grid laid out by
[`tile_columns`][ganimation_lib.inference.visuals.tile_columns] and the same ``pad``/``gaps``, and returns it with
one line of labels per cell (``"input"``, ``"output"``...) and, when ``groups`` are given, a line above with the
name of each column group (the target expression) over its columns. The grid itself is unchanged below the
header: ``labelled[:, -grid.shape[1]:]`` is ``grid``.

Text uses Pillow's built-in font (``ImageFont.load_default(size=...)``): no font file, the same pixels on every
machine. A label too wide for its tile even at 9 px is written in its short form (`SHORT_LABELS`); the size is
then the largest, from tile width / 3 (9 to 16 px) down to 8 px, at which every label fits over its tile: 32 px
tiles read ``attn`` (9 px text) where 64 px tiles read ``attention`` (14 px).

Examples:
    >>> import torch
    >>> grid = torch.zeros(3, 36, 70, dtype=torch.uint8)  # 1 row, 2 columns of 32 px tiles, pad 2
    >>> labelled = add_header(grid, 32, ["input", "output"], pad=2, groups=[("happy", 1, 1)])
    >>> labelled.shape[1] > grid.shape[1], bool((labelled[:, -36:] == grid).all())
    (True, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

__all__ = ["SHORT_LABELS", "add_header", "column_lefts", "header_font_size"]

#: Short forms used when a label does not fit its column at the smallest font size.
SHORT_LABELS: Mapping[str, str] = {
    "attention": "attn",
    "expression asked for": "target",
    "true picture": "true",
}

_MIN_SIZE = 8
_TEXT = (0, 0, 0)
_RULE = (150, 150, 150)


def column_lefts(count: int, width: int, pad: int, gaps: Sequence[int] | None = None) -> list[int]:
    """The x of each column's first tile pixel in a ``tile_columns`` grid.

    Examples:
        >>> column_lefts(3, 32, 2, gaps=[0, 6, 0])
        [2, 42, 76]
    """
    extra = [0] * count if gaps is None else list(gaps)
    if len(extra) != count:
        raise ValueError(f"gaps has {len(extra)} entries for {count} columns")
    return [pad + col * (width + pad) + sum(extra[: col + 1]) for col in range(count)]


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _width(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str) -> float:
    left, _, right, _ = font.getbbox(text)
    return float(right - left)


def header_font_size(labels: Sequence[str], room: int, largest: int, smallest: int = _MIN_SIZE) -> int:
    """The largest size from ``largest`` down to ``smallest`` at which every label is at most ``room`` px wide
    (``smallest`` when none is).

    Examples:
        >>> header_font_size(["input"], 64, 16), header_font_size(["attention"], 30, 10)
        (16, 8)
    """
    for size in range(largest, smallest - 1, -1):
        font = _font(size)
        if all(_width(font, text) <= room for text in labels):
            return size
    return smallest


def _fitted(labels: Sequence[str], room: int, largest: int) -> tuple[list[str], int]:
    """The labels as written and their font size: the short form (`SHORT_LABELS`) of each label that does not
    fit even at 9 px, then the largest size (down to 8 px) at which they all fit."""
    small = _font(_MIN_SIZE + 1)
    chosen = [text if _width(small, text) <= room else SHORT_LABELS.get(text, text) for text in labels]
    return chosen, header_font_size(chosen, room, largest)


def _line_height(size: int) -> int:
    return size + max(3, size // 3)


def add_header(
    grid: Tensor,
    tile_width: int,
    labels: Sequence[str],
    *,
    pad: int = 2,
    gaps: Sequence[int] | None = None,
    groups: Sequence[tuple[str, int, int]] = (),
) -> Tensor:
    """``grid`` (3, H, W) uint8 with a white header strip above it: one label per column, group names above.

    Args:
        grid: A (3, H, W) uint8 grid from [`tile_columns`][ganimation_lib.inference.visuals.tile_columns].
        tile_width: The width of one tile in it.
        labels: One label per column (centred over it).
        pad: The ``pad`` the grid was tiled with.
        gaps: The ``gaps`` it was tiled with.
        groups: ``(name, first column, number of columns)`` per column group; the name is centred over the
            group's columns, with a grey rule under it spanning them.

    Returns:
        (3, header + H, W) uint8; the header's height depends on the font size (and whether there are groups).
    """
    if grid.dim() != 3 or grid.shape[0] != 3 or grid.dtype != torch.uint8:
        raise ValueError(f"grid must be a (3, H, W) uint8 tensor, got {tuple(grid.shape)} {grid.dtype}")
    lefts = column_lefts(len(labels), tile_width, pad, gaps)
    largest = max(9, min(16, tile_width // 3))
    cell_text, cell_size = _fitted(labels, tile_width - 2, largest)  # 2 px apart at least
    group_size = largest
    if groups:
        spans = [lefts[first + count - 1] + tile_width - lefts[first] for _, first, count in groups]
        group_size = min(
            header_font_size([name], span, largest + 2) for (name, _, _), span in zip(groups, spans, strict=True)
        )
    rows = [(cell_size, _line_height(cell_size))]
    if groups:
        rows.insert(0, (group_size, _line_height(group_size) + 2))
    height = sum(h for _, h in rows) + pad
    header = Image.new("RGB", (grid.shape[2], height), "white")
    draw = ImageDraw.Draw(header)
    y = pad
    if groups:
        font = _font(group_size)
        line = rows[0][1]
        for name, first, count in groups:
            left, right = lefts[first], lefts[first + count - 1] + tile_width
            draw.text(((left + right) / 2, y + line / 2 - 1), name, fill=_TEXT, font=font, anchor="mm")
            draw.line([(left, y + line - 2), (right - 1, y + line - 2)], fill=_RULE, width=1)
        y += line
    font = _font(cell_size)
    line = rows[-1][1]
    for text, left in zip(cell_text, lefts, strict=True):
        draw.text((left + tile_width / 2, y + line / 2), text, fill=_TEXT, font=font, anchor="mm")
    strip = torch.from_numpy(np.asarray(header, dtype=np.uint8).copy()).permute(2, 0, 1)
    return torch.cat([strip, grid.cpu()], dim=1)
