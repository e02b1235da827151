"""Exact, cheaper forms of the generator's two most expensive convolutions.

At 64 px on a CPU, the generator's first 7×7 convolution (image + 17 tiled AU channels) and its two 7×7 heads
take about 60 % of a training step. Both are computed here with the same weights and the same result (up to
float rounding), at a fraction of the cost:

* `conv_image_and_tiled_aus`: the AU channels are constant over the image, so their part of the
  convolution is, at each pixel, the sum of the kernel taps that fall inside the padded image times the AUs:
  a (B, out, 7, 7) tensor spread by two tiny matrix products, instead of a 17-channel 7×7 convolution.
* `fused_heads`: the colour (3 channels) and attention (1 channel) heads read the same features with the
  same kernel size, so they run as one 4-channel convolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["conv_image_and_tiled_aus", "fused_heads"]


def _same_padding(conv: nn.Conv2d) -> int:
    """The integer padding of a stride-1, dilation-1 convolution (the only kind these rewrites are exact for)."""
    pad = conv.padding[0] if isinstance(conv.padding, tuple) else None
    if not isinstance(pad, int) or conv.stride != (1, 1) or conv.dilation != (1, 1):
        raise ValueError(
            f"expected a stride-1, dilation-1 convolution with integer padding, got stride {conv.stride}, "
            f"dilation {conv.dilation}, padding {conv.padding!r}"
        )
    return pad


def _padded(x: Tensor, conv: nn.Conv2d, pad: int) -> tuple[Tensor, int]:
    """``x`` padded as ``conv`` pads it, and the padding still left for ``F.conv2d``."""
    if conv.padding_mode == "zeros":
        return x, pad
    return F.pad(x, (pad, pad, pad, pad), mode=conv.padding_mode), 0


def _tap_coverage(size: int, kernel: int, pad: int, zero_padding: bool, like: Tensor) -> Tensor:
    """(size, kernel) 0/1: whether tap ``k`` of output ``i`` reads inside the image (always 1 unless zero padding)."""
    if not zero_padding:
        return like.new_ones(size, kernel)
    source = torch.arange(size, device=like.device)[:, None] + torch.arange(kernel, device=like.device)[None, :] - pad
    return ((source >= 0) & (source < size)).to(like.dtype)


def conv_image_and_tiled_aus(images: Tensor, aus: Tensor, conv: nn.Conv2d) -> Tensor:
    """``conv(cat([images, aus tiled over H×W]))`` for a stride-1 convolution, without tiling the AUs.

    Args:
        images: (B, C, H, W).
        aus: (B, A); ``conv`` takes ``C + A`` input channels.
        conv: A stride-1, dilation-1 ``nn.Conv2d`` with "same" padding.

    Examples:
        >>> conv = nn.Conv2d(3 + 5, 4, 7, padding=3)
        >>> x, a = torch.randn(2, 3, 12, 12), torch.rand(2, 5)
        >>> tiled = torch.cat([x, a[:, :, None, None].expand(2, 5, 12, 12)], dim=1)
        >>> torch.allclose(conv_image_and_tiled_aus(x, a, conv), conv(tiled), atol=1e-5)
        True
    """
    channels = images.shape[1]
    weight = conv.weight
    full_pad = _same_padding(conv)
    padded, pad = _padded(images, conv, full_pad)
    out = F.conv2d(padded, weight[:, :channels], conv.bias, padding=pad)
    kh, kw = weight.shape[-2:]
    zero_padding = conv.padding_mode == "zeros"
    # A constant channel padded by reflection, replication or wrapping stays constant: every tap counts.
    rows = _tap_coverage(images.shape[2], kh, full_pad, zero_padding, out)
    cols = _tap_coverage(images.shape[3], kw, full_pad, zero_padding, out)
    per_tap = torch.einsum("oaij,ba->boij", weight[:, channels:].to(out.dtype), aus.to(out.dtype))
    return out + torch.einsum("yi,boij,xj->boyx", rows, per_tap, cols)


def fused_heads(features: Tensor, color_head: nn.Conv2d, attention_head: nn.Conv2d) -> tuple[Tensor, Tensor]:
    """The colour and attention heads' pre-activations as one convolution: ``(color_head(f), attention_head(f))``.

    Examples:
        >>> color, attention = nn.Conv2d(8, 3, 7, padding=3, bias=False), nn.Conv2d(8, 1, 7, padding=3)
        >>> f = torch.randn(2, 8, 10, 10)
        >>> c, a = fused_heads(f, color, attention)
        >>> torch.allclose(c, color(f), atol=1e-5) and torch.allclose(a, attention(f), atol=1e-5)
        True
    """
    heads = (color_head, attention_head)
    weight = torch.cat([color_head.weight, attention_head.weight], dim=0)
    bias = None
    if color_head.bias is not None or attention_head.bias is not None:
        biases = [head.bias if head.bias is not None else weight.new_zeros(head.out_channels) for head in heads]
        bias = torch.cat(biases)
    padded, pad = _padded(features, color_head, _same_padding(color_head))
    out = F.conv2d(padded, weight, bias, padding=pad)
    return out[:, : color_head.out_channels], out[:, color_head.out_channels :]
