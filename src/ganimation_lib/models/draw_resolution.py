"""From the drawing size back to the face's: how a generator that draws on a reduced face returns full-size maps.

A generator with ``GeneratorConfig.draw_downsample`` > 1 runs its networks on the face reduced by that factor
(a 64 px face drawn by a 32 px network). Its colour and attention maps must then be brought back to the face's
size. ``"bilinear"`` (the first fast recipe) interpolates them: each map has one value per 2×2 block of the face,
so a change finer than the block (a 1 px lip line, a lid's edge) cannot be drawn, only blurred — on the
synthetic faces a perfect colour change drawn that way still leaves 0.88-0.92 of the unchanged input's error to
the true picture. ``"shuffle"`` has each head draw ``draw_downsample²`` values per reduced pixel instead, one for
each full-size pixel of its block, put in place by ``pixel_shuffle`` (depth to space, Shi et al. 2016): every
pixel of the face gets its own value, for a head convolution a few channels wider and no other cost.

Examples:
    >>> import torch
    >>> color, attention = torch.zeros(1, 3 * 4, 8, 8), torch.zeros(1, 4, 8, 8)
    >>> color[0, :4, 0, 0] = torch.tensor([1.0, 2.0, 3.0, 4.0])  # the red of one reduced pixel's 2x2 block
    >>> full_color, full_attention = maps_at_face_size(color, attention, (16, 16), 2, "shuffle", grey=False)
    >>> full_color[0, 0, :2, :2].tolist(), tuple(full_attention.shape)
    ([[1.0, 2.0], [3.0, 4.0]], (1, 1, 16, 16))
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor

__all__ = ["DRAW_UPSAMPLES", "DrawUpsample", "head_values_per_pixel", "maps_at_face_size"]

DrawUpsample = Literal["bilinear", "shuffle"]
DRAW_UPSAMPLES: tuple[str, ...] = ("bilinear", "shuffle")


def head_values_per_pixel(draw_downsample: int, draw_upsample: DrawUpsample) -> int:
    """How many values each head draws per reduced pixel and channel: ``draw_downsample²`` for ``"shuffle"``,
    else 1.

    Examples:
        >>> [head_values_per_pixel(2, mode) for mode in ("shuffle", "bilinear")], head_values_per_pixel(1, "shuffle")
        ([4, 1], 1)
    """
    return draw_downsample**2 if draw_upsample == "shuffle" else 1


def maps_at_face_size(
    color: Tensor, attention: Tensor, size: tuple[int, int], scale: int, upsample: DrawUpsample, *, grey: bool
) -> tuple[Tensor, Tensor]:
    """The colour (after its tanh) and attention (after its sigmoid) drawn at the reduced size, brought to
    ``size``: (B, 1 if ``grey`` else 3, H, W) and (B, 1, H, W).

    ``color`` holds 3 × ``head_values_per_pixel`` channels (colour-major), ``attention`` that many. With
    ``grey`` the three colour channels are averaged first, at the drawing size, so only the grey map is
    upsampled.
    """
    per_pixel = head_values_per_pixel(scale, upsample)
    if grey:
        color = color.reshape(color.shape[0], 3, per_pixel, *color.shape[2:]).mean(dim=1)
    if scale == 1:
        return color, attention
    if per_pixel > 1:
        return F.pixel_shuffle(color, scale), F.pixel_shuffle(attention, scale)
    color = F.interpolate(color, size=size, mode="bilinear", align_corners=False)
    return color, F.interpolate(attention, size=size, mode="bilinear", align_corners=False)
