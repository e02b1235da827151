"""Images in and out of inference: PIL images, NumPy arrays and tensors to the library's tensors and back.

Each input type keeps its own conventions, and results come back in the type (and dtype) that went in:

* **PIL images**: any mode; grey-scale, palette and RGBA images are converted to RGB (alpha is dropped),
  16-bit grey (``I;16``, ``I``) is read on its 0-65535 scale. A camera photo's EXIF orientation is applied:
  sizes, boxes and results are as a viewer shows the picture. Images above
  `MAX_PIXELS` (50 megapixels) and files that do not decode (a
  truncated JPEG) raise a ``ValueError`` naming the file. See
  [`ganimation_lib.data.image_io`][ganimation_lib.data.image_io].
* **NumPy arrays**: (H, W) grey or (H, W, C) with C = 1, 3 or 4; ``uint8`` (0-255), ``uint16`` (0-65535)
  or floating point in [0, 1] (the image-library convention).
* **Tensors**: (H, W) or (C, H, W) with C = 1, 3 or 4; floating point in [-1, 1] (the library's
  convention, what [`Generator`][ganimation_lib.models.generator.Generator] takes) or ``uint8`` (0-255).

Examples:
    >>> import numpy as np
    >>> t = to_tensor(np.full((4, 6), 255, dtype=np.uint8))  # grey-scale is repeated to RGB
    >>> t.shape, float(t.min())
    (torch.Size([3, 4, 6]), 1.0)
    >>> from_tensor(t, like=np.zeros((4, 6, 3), dtype=np.uint8)).max()
    np.uint8(255)
"""

from __future__ import annotations

from typing import Any, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image
from torch import Tensor

from ..data.image_io import displayed_size, pil_to_tensor, to_rgb, upright

__all__ = ["ImageLike", "ImageT", "crop_to_tensor", "from_tensor", "image_size", "paste", "to_pil", "to_tensor"]

#: Anything [`to_tensor`][ganimation_lib.inference.images.to_tensor] accepts as one image.
ImageLike: TypeAlias = "Image.Image | npt.NDArray[Any] | Tensor"
#: One of the image types; functions typed with it return the type they were given.
ImageT = TypeVar("ImageT", Image.Image, "npt.NDArray[Any]", Tensor)

# A float image may stray this far outside its range (resampling overshoot) before it is called wrong.
_RANGE_SLACK = 1e-3


def image_size(image: ImageLike) -> tuple[int, int]:
    """Return ``(width, height)`` of an image of any accepted type, without converting it.

    A PIL image's size is as shown, after its EXIF orientation (which the library applies).

    Examples:
        >>> image_size(torch.zeros(3, 32, 48))
        (48, 32)
    """
    if isinstance(image, Image.Image):
        return displayed_size(image)
    if isinstance(image, np.ndarray):
        return int(image.shape[1]), int(image.shape[0])
    if isinstance(image, Tensor):
        return int(image.shape[-1]), int(image.shape[-2])
    raise TypeError(f"image must be a PIL image, a NumPy array or a torch.Tensor, got {type(image).__name__}")


def _channels_last_to_rgb(array: npt.NDArray[Any], what: str) -> npt.NDArray[Any]:
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        hint = ""
        if array.ndim == 3 and array.shape[0] in (1, 3, 4):
            hint = "; it looks channels-first: use array.transpose(1, 2, 0)"
        raise ValueError(f"{what} must have shape (H, W) or (H, W, C) with C = 1, 3 or 4, got {array.shape}{hint}")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return array[:, :, :3]


def to_tensor(image: ImageLike) -> Tensor:
    """Convert one image to a float32 (3, H, W) tensor in [-1, 1].

    Grey-scale is repeated to three channels and alpha is dropped. A tensor input stays on its device.

    Args:
        image: A PIL image, a NumPy array or a tensor, with the conventions of this module's docstring.

    Raises:
        ValueError: If the shape, dtype or value range is not one of those conventions (the message says
            how to convert); for a PIL image also when it is above 50 megapixels or does not decode (a
            truncated file), naming the file.

    Examples:
        >>> from PIL import Image
        >>> to_tensor(Image.new("RGBA", (5, 4), (255, 0, 0, 0)))[:, 0, 0].tolist()
        [1.0, -1.0, -1.0]
    """
    if isinstance(image, Image.Image):
        return pil_to_tensor(to_rgb(image))  # the library's one conversion: AUDataset's images match exactly
    if isinstance(image, np.ndarray):
        array = _channels_last_to_rgb(image, "a NumPy image")
        if array.dtype == np.uint8:
            scaled = array.astype(np.float32) / 255.0
        elif array.dtype == np.uint16:
            scaled = array.astype(np.float32) / 65535.0
        elif np.issubdtype(array.dtype, np.floating):
            scaled = array.astype(np.float32)
            low, high = (float(scaled.min()), float(scaled.max())) if scaled.size else (0.0, 0.0)
            if not np.isfinite(scaled).all() or low < -_RANGE_SLACK or high > 1 + _RANGE_SLACK:
                raise ValueError(
                    f"a float NumPy image must be finite and in [0, 1], got values in [{low:.3g}, {high:.3g}]; "
                    "divide 0-255 values by 255"
                )
        else:
            raise ValueError(f"a NumPy image must be uint8, uint16 or float in [0, 1], got dtype {array.dtype}")
        return torch.from_numpy(np.ascontiguousarray(scaled)).permute(2, 0, 1).mul_(2.0).sub_(1.0)
    if isinstance(image, Tensor):
        tensor = image.detach()
        if tensor.dim() == 2:
            tensor = tensor[None]
        if tensor.dim() != 3 or tensor.shape[0] not in (1, 3, 4):
            hint = " (one image at a time here; pass a batch as a list, e.g. list(batch))" if image.dim() == 4 else ""
            raise ValueError(
                f"an image tensor must have shape (H, W) or (C, H, W) with C = 1, 3 or 4, "
                f"got {tuple(image.shape)}{hint}"
            )
        if tensor.shape[0] == 1:
            tensor = tensor.expand(3, -1, -1)
        tensor = tensor[:3]
        if tensor.dtype == torch.uint8:
            return tensor.float().div(127.5).sub(1.0)
        if not tensor.is_floating_point():
            raise ValueError(f"an image tensor must be float in [-1, 1] or uint8, got dtype {tensor.dtype}")
        tensor = tensor.float()
        if tensor.numel():
            low, high = float(tensor.min()), float(tensor.max())
            if not bool(torch.isfinite(tensor).all()) or low < -1 - _RANGE_SLACK or high > 1 + _RANGE_SLACK:
                raise ValueError(
                    f"a float image tensor must be finite and in [-1, 1] (the library's convention), got values "
                    f"in [{low:.3g}, {high:.3g}]; map [0, 1] images with t * 2 - 1"
                )
        return tensor.clone()
    raise TypeError(f"image must be a PIL image, a NumPy array or a torch.Tensor, got {type(image).__name__}")


def crop_to_tensor(image: ImageLike, box: tuple[int, int, int, int]) -> Tensor:
    """The ``(left, top, right, bottom)`` part of ``image`` as [`to_tensor`][ganimation_lib.inference.images.to_tensor]
    gives it, converting only that part (a 12-megapixel photo is 144 MB as float32).

    A PIL image is cropped as a viewer shows it (EXIF orientation applied); a tensor stays on its device.

    Examples:
        >>> crop_to_tensor(torch.zeros(3, 10, 20), (5, 2, 9, 8)).shape
        torch.Size([3, 6, 4])
    """
    left, top, right, bottom = box
    if isinstance(image, Tensor):
        return to_tensor(image[..., top:bottom, left:right])
    if isinstance(image, Image.Image):
        return to_tensor(upright(image).crop(box))
    if isinstance(image, np.ndarray):
        return to_tensor(image[top:bottom, left:right])
    raise TypeError(f"image must be a PIL image, a NumPy array or a torch.Tensor, got {type(image).__name__}")


def to_pil(tensor: Tensor) -> Image.Image:
    """Convert a (3, H, W) tensor in [-1, 1] to an RGB PIL image.

    Values are clamped to [-1, 1] and rounded to 8 bits.

    Examples:
        >>> to_pil(torch.zeros(3, 2, 5)).size
        (5, 2)
    """
    return Image.fromarray(_to_uint8_hwc(tensor), mode="RGB")


def _to_uint8_hwc(tensor: Tensor) -> npt.NDArray[np.uint8]:
    if tensor.dim() != 3 or tensor.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) image tensor in [-1, 1], got shape {tuple(tensor.shape)}")
    scaled = tensor.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return np.ascontiguousarray(scaled.permute(1, 2, 0).cpu().numpy())


def from_tensor(tensor: Tensor, like: ImageT) -> ImageT:
    """Convert a (3, H, W) tensor in [-1, 1] to the type and dtype of ``like`` (always three channels).

    Args:
        tensor: The image to convert.
        like: An image of the type to return: a PIL image gives an RGB image, an array an (H, W, 3) array
            of the same dtype and scale, a tensor a (3, H, W) tensor of the same dtype on the same device.

    Examples:
        >>> from_tensor(torch.ones(3, 2, 2), like=torch.zeros(3, 1, 1, dtype=torch.uint8)).unique().tolist()
        [255]
    """
    if isinstance(like, Image.Image):
        return to_pil(tensor)
    if isinstance(like, np.ndarray):
        if like.dtype == np.uint8:
            return _to_uint8_hwc(tensor)
        unit = tensor.detach().float().clamp(-1, 1).add(1).div(2).permute(1, 2, 0).cpu().numpy()
        if like.dtype == np.uint16:
            return np.ascontiguousarray(np.round(unit * 65535.0).astype(np.uint16))
        return np.ascontiguousarray(unit.astype(like.dtype))
    if isinstance(like, Tensor):
        if like.dtype == torch.uint8:
            out = tensor.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
        else:
            out = tensor.detach().to(like.dtype if like.is_floating_point() else torch.float32)
        return out.to(like.device)
    raise TypeError(f"like must be a PIL image, a NumPy array or a torch.Tensor, got {type(like).__name__}")


def paste(original: ImageT, region: Tensor, left: int, top: int) -> ImageT:
    """Return a copy of ``original`` (as RGB) with ``region`` (3, h, w) in [-1, 1] written at ``(left, top)``.

    Pixels outside the region are copied from ``original`` in its own type and dtype, so they are unchanged
    bit for bit (apart from grey-scale/RGBA becoming RGB).

    Examples:
        >>> import numpy as np
        >>> out = paste(np.zeros((4, 4, 3), dtype=np.uint8), torch.ones(3, 2, 2), left=1, top=1)
        >>> out[:, :, 0].tolist()
        [[0, 0, 0, 0], [0, 255, 255, 0], [0, 255, 255, 0], [0, 0, 0, 0]]
    """
    h, w = int(region.shape[-2]), int(region.shape[-1])
    if isinstance(original, Image.Image):
        canvas = to_rgb(original)
        canvas = canvas.copy() if canvas is original else canvas
        canvas.paste(to_pil(region), (left, top))
        return canvas
    if isinstance(original, np.ndarray):
        rgb = _channels_last_to_rgb(original, "a NumPy image")
        array = np.array(rgb, copy=True)
        array[top : top + h, left : left + w] = from_tensor(region, like=original)
        return array
    if isinstance(original, Tensor):
        base = original.detach()
        if base.dim() == 2:
            base = base[None]
        if base.shape[0] == 1:
            base = base.expand(3, -1, -1)
        out = base[:3].clone()
        out[:, top : top + h, left : left + w] = from_tensor(region, like=original)
        return out
    raise TypeError(f"original must be a PIL image, a NumPy array or a torch.Tensor, got {type(original).__name__}")
