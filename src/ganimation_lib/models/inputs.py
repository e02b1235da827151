"""What the networks check about the images they are fed, said once for the generator and the critic.

Examples:
    >>> import torch
    >>> check_image_batch(torch.zeros(3, 64, 64))
    Traceback (most recent call last):
    ...
    ValueError: images must have shape (B, 3, H, W), got (3, 64, 64); add a batch dimension with images.unsqueeze(0)
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["check_au_batch", "check_generator_size", "check_image_batch"]


def check_image_batch(images: object) -> None:
    """Raise a ``TypeError``/``ValueError`` naming the problem unless ``images`` is a float (B, 3, H, W) tensor.

    The value range ([-1, 1]) and the size are each network's business and are not checked here.
    """
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 4:
        raise ValueError(
            f"images must have shape (B, 3, H, W), got {tuple(images.shape)}; "
            "add a batch dimension with images.unsqueeze(0)"
        )
    if images.shape[1] != 3:
        raise ValueError(f"images must have 3 (RGB) channels, got {images.shape[1]} in {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"images must be floating point in [-1, 1], got dtype {images.dtype}")


def check_au_batch(aus: Tensor, num_aus: int, batch_size: int, values: bool = True) -> None:
    """Raise a ``ValueError`` naming the problem unless ``aus`` is (``batch_size``, ``num_aus``) and, when
    ``values``, finite (an inf AU is as bad as a NaN one: inf − inf in the first InstanceNorm gives a NaN image).

    Examples:
        >>> import torch
        >>> check_au_batch(torch.zeros(2, 17), num_aus=17, batch_size=3)
        Traceback (most recent call last):
        ...
        ValueError: batch sizes differ: 3 images but 2 AU vectors
    """
    if aus.dim() != 2:
        raise ValueError(f"aus must have shape (B, num_aus), got {tuple(aus.shape)}")
    if aus.shape[1] != num_aus:
        raise ValueError(
            f"aus has {aus.shape[1]} values per image, but this Generator was built for "
            f"{num_aus} (GeneratorConfig.num_aus)"
        )
    if aus.shape[0] != batch_size:
        raise ValueError(f"batch sizes differ: {batch_size} images but {aus.shape[0]} AU vectors")
    if values and aus.is_floating_point() and not bool(torch.isfinite(aus).all()):
        raise ValueError(
            "aus contains NaN or infinite values; replace missing AU values (e.g. with 0) before calling the generator"
        )


def check_generator_size(images: Tensor, image_size: int, num_downsamplings: int, draw_downsample: int) -> None:
    """Raise a ``ValueError`` unless ``images``' H and W go through a generator that downsamples
    ``num_downsamplings`` times after reducing by ``draw_downsample`` (multiples of the total, at least twice it)."""
    h, w = images.shape[-2:]
    step = 2**num_downsamplings * draw_downsample
    if h % step or w % step or h < 2 * step or w < 2 * step:
        raise ValueError(
            f"image size {h}x{w} cannot go through the generator: H and W must be multiples of {step} "
            f"and at least {2 * step}; resize to {image_size}x{image_size}"
        )
