"""A smooth warp field for the generator: move the input's pixels before the attention blends in colour.

GANimation paints every change with its colour head. Most of an expression, though, is geometry: brows rise,
mouth corners pull, lips part. With ``GeneratorConfig.warp_range`` the generator also predicts a flow field at
the resolution of its first upsampling (half the image's at two downsamplings; upsampled bilinearly) and composes
``A·warp(input, flow) + (1−A)·C``: the attention keeps *moved* input pixels, with their true colours, and the
colour head is left to draw what is really new (the inside of an open mouth). The flow head starts at zero,
so an untrained warp generator is the official one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FlowHead", "shorten_flow", "warp_images"]


class FlowHead(nn.Module):
    """Predict a (B, 2, H, W) flow from lower-resolution features, bounded to ``±max_shift``.

    The flow is in ``grid_sample``'s normalised coordinates (x first, then y; ``1`` is half the image), so
    the same field applies at any resolution. A 3×3 convolution, zero-initialised: the warp starts as the
    identity.

    Args:
        channels: Channels of the features it reads.
        max_shift: The largest displacement, in normalised coordinates (0.15 moves a pixel by up to 7.5 %
            of the image side).
        threshold_pixels: When drawing (eval mode), every vector is shortened by this many pixels
            ([`shorten_flow`][ganimation_lib.models.warp.shorten_flow]); training sees the flow as predicted.

    Examples:
        >>> head = FlowHead(channels=8, max_shift=0.15)
        >>> head(torch.randn(2, 8, 4, 4), size=(16, 16)).abs().max().item()
        0.0
    """

    def __init__(self, channels: int, max_shift: float, threshold_pixels: float = 0.0) -> None:
        super().__init__()
        self.max_shift = float(max_shift)
        self.threshold_pixels = float(threshold_pixels)
        self.conv = nn.Conv2d(channels, 2, kernel_size=3, padding=1, bias=False)
        nn.init.zeros_(self.conv.weight)

    def forward(self, features: Tensor, size: tuple[int, int]) -> Tensor:
        """The flow at ``size`` (H, W), from ``features`` at any lower resolution."""
        flow = self.max_shift * torch.tanh(self.conv(features))
        flow = F.interpolate(flow, size=size, mode="bilinear", align_corners=False)
        # Only when drawing: through a threshold the zero-initialised flow would get no gradient and never learn.
        return flow if self.training or not self.threshold_pixels else shorten_flow(flow, self.threshold_pixels)


def shorten_flow(flow: Tensor, pixels: float) -> Tensor:
    """``flow`` (B, 2, H, W) with every vector ``pixels`` shorter, in pixels of an H×W image, and the vectors
    shorter than that set to zero (a soft threshold).

    A move of a fraction of a pixel does not move a feature; through the bilinear resampling it only blends each
    pixel with its neighbours. A generator trained against a critic makes such moves all over the face.

    Examples:
        >>> flow = torch.zeros(1, 2, 4, 4)
        >>> flow[0, 0, 0, 0], flow[0, 0, 0, 1] = 1.0, 0.1  # 2 px and 0.2 px to the right (half the side is 2 px)
        >>> shorten_flow(flow, 0.5)[0, 0, 0, :2].tolist()
        [0.75, 0.0]
    """
    h, w = flow.shape[-2:]
    to_pixels = flow.new_tensor([w / 2, h / 2]).view(1, 2, 1, 1)
    # The squared length plus a tiny epsilon: a zero vector gets a finite gradient if anyone differentiates this.
    length = (flow * to_pixels).square().sum(1, keepdim=True).add(1e-12).sqrt()
    return flow * ((length - pixels).clamp(min=0) / length)


def warp_images(images: Tensor, flow: Tensor) -> Tensor:
    """Sample ``images`` (B, C, H, W) at each pixel's position moved by ``flow`` (B, 2, H, W).

    Each output pixel ``p`` takes the input at ``p + flow(p)`` (normalised coordinates, bilinear, the border
    repeated outside the image), so a zero flow returns the images unchanged.

    Examples:
        >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
        >>> torch.equal(warp_images(x, torch.zeros(1, 2, 4, 4)), x)
        True
        >>> shift = torch.zeros(1, 2, 4, 4)
        >>> shift[:, 0] = 0.5  # half a unit = one pixel of four to the right
        >>> warp_images(x, shift)[0, 0, 0].tolist()
        [1.0, 2.0, 3.0, 3.0]
    """
    b, _, h, w = images.shape
    identity = torch.eye(2, 3, dtype=images.dtype, device=images.device).expand(b, 2, 3)
    grid = F.affine_grid(identity, [b, 1, h, w], align_corners=False) + flow.permute(0, 2, 3, 1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
