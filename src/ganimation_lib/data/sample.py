"""The sample type every ganimation_lib dataset yields and the Trainer consumes."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

__all__ = ["AUSample"]


class AUSample(NamedTuple):
    """One training item: a face, its AUs and the target AUs to animate it towards.

    A ``NamedTuple`` so that PyTorch's default ``DataLoader`` collation batches it field by field and keeps
    the type: a batch is an ``AUSample`` whose tensors gain a leading batch dimension and whose strings
    become tuples.

    Attributes:
        image: (3, H, W) float32 in [-1, 1], or uint8 in 0-255 from ``AUDataset(uint8_images=True)`` (read it
            through `as_float_faces`).
        aus: (num_aus,) float32, the face's own AUs, normalised (OpenFace intensity / 5 by default).
        target_aus: (num_aus,) float32, the AUs to animate towards, same scale as ``aus``.
        target_source: Name of the item whose AUs gave the target ("" when the target was made up).
        name: This item's name (its file name, or ``"synthetic/<identity>"`` for synthetic faces).

    Examples:
        >>> import torch
        >>> from torch.utils.data import default_collate
        >>> s = AUSample(torch.zeros(3, 8, 8), torch.zeros(17), torch.ones(17), "b.jpg", "a.jpg")
        >>> batch = default_collate([s, s])
        >>> type(batch).__name__, batch.image.shape, batch.name
        ('AUSample', torch.Size([2, 3, 8, 8]), ('a.jpg', 'a.jpg'))
    """

    image: Tensor
    aus: Tensor
    target_aus: Tensor
    target_source: str
    name: str
