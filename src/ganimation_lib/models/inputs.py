"""What the networks check about the images they are fed, said once for the generator and the critic.

Examples:
    >>> import torch
    >>> check_image_batch(torch.zeros(3, 64, 64))
    Traceback (most recent call last):
    ...
    ValueError: images must have shape (B, 3, H, W), got (3, 64, 64); add a batch dimension with images.unsqueeze(0)
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["check_image_batch"]


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
