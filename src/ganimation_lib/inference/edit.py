"""Editing a face's expression: crop, run the generator at its size, compose at full resolution, paste back.

The generator works at one size (``GeneratorConfig.image_size``). :func:`edit` resizes the face region to
that size, runs the generator, then upsamples the **attention and colour maps** (not the generated image)
and composes them with the original pixels, ``A·input + (1−A)·colour``, at the input's resolution: where the
attention keeps the input, the result keeps every original pixel's detail.

For a face in a larger photo, a face ``box`` picks the region. The model sees the box expanded to a square
(clamped to the image), and the edit is blended back inside the box with a feathered edge; every pixel
outside the box is returned unchanged.

Examples:
    >>> import torch
    >>> from ganimation_lib import Generator, GeneratorConfig
    >>> g = Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0))
    >>> photo = torch.rand(3, 40, 60) * 2 - 1
    >>> out = edit(g, photo, "happy", box=(10, 5, 30, 25))
    >>> out.shape, bool((out[:, :, 30:] == photo[:, :, 30:]).all())
    (torch.Size([3, 40, 60]), True)
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from ..aus import AU_NAMES
from ..data.image_io import upright
from ..models.generator import Generator
from .expression_targets import Target, resolve_target, resolve_targets
from .images import ImageLike, ImageT, image_size, paste, to_tensor

__all__ = ["Box", "EditResult", "edit", "edit_batch", "edit_results", "face_region"]

#: A face box ``(left, top, right, bottom)`` in pixels; right and bottom are exclusive.
Box: TypeAlias = tuple[int, int, int, int]

_R = TypeVar("_R")


@dataclass(frozen=True)
class EditResult:
    """One edit with everything needed to inspect it (see :func:`~ganimation_lib.inference.side_by_side`).

    All tensors cover ``region`` (the square the model saw, at the input's resolution), are float32 and sit
    on the generator's device.

    Attributes:
        input: (3, h, w) the region of the input, in [-1, 1].
        output: (3, h, w) the same region after editing, in [-1, 1] (equal to ``input`` outside ``box``).
        attention: (1, h, w) the upsampled attention in [0, 1]; 1 keeps the input pixel.
        color: (3, h, w) the upsampled colour map in [-1, 1].
        region: Where the region lies in the image, ``(left, top, right, bottom)``.
        box: The part of the region that was edited (the clamped face box, or the whole image).
        aus: (num_aus,) the target AUs, normalised.
    """

    input: Tensor
    output: Tensor
    attention: Tensor
    color: Tensor
    region: Box
    box: Box
    aus: Tensor


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def face_region(box: Sequence[float] | None, width: int, height: int) -> tuple[Box, Box]:
    """Check a face box against a ``width`` × ``height`` image; return ``(clamped box, square region)``.

    The region is the box expanded to a square around its centre (what the generator sees), shifted and if
    need be shrunk to fit inside the image. ``None`` means the whole image (then the region need not be
    square: it is padded to a square for the generator, so the face is never squashed, and the padding is
    cropped off the generator's maps).

    Raises:
        ValueError: If the box is not four numbers, is empty or inverted, or lies outside the image.

    Examples:
        >>> face_region((10, 20, 30, 30), width=100, height=50)
        ((10, 20, 30, 30), (10, 15, 30, 35))
        >>> face_region((90, 0, 130, 20), width=100, height=50)  # clamped, then squared inside the image
        ((90, 0, 100, 20), (80, 0, 100, 20))
    """
    if box is None:
        whole = (0, 0, width, height)
        return whole, whole
    if isinstance(box, (str, bytes)) or not isinstance(box, Sequence) or len(box) != 4:
        raise ValueError(f"box must be (left, top, right, bottom) in pixels, got {box!r}")
    if not all(_number(v) for v in box):
        raise ValueError(f"box must hold four finite numbers (left, top, right, bottom), got {box!r}")
    left, top, right, bottom = (round(float(v)) for v in box)
    if right <= left or bottom <= top:
        raise ValueError(
            f"box {tuple(box)} is empty or inverted: it must be (left, top, right, bottom) with left < right "
            "and top < bottom"
        )
    if right <= 0 or bottom <= 0 or left >= width or top >= height:
        raise ValueError(
            f"box {tuple(box)} lies outside the {width}x{height} image; give (left, top, right, bottom) in "
            "pixels of this image"
        )
    left, top, right, bottom = max(left, 0), max(top, 0), min(right, width), min(bottom, height)
    side = min(max(right - left, bottom - top), width, height)
    square_left = min(max(round((left + right - side) / 2), 0), width - side)
    square_top = min(max(round((top + bottom - side) / 2), 0), height - side)
    region = (square_left, square_top, square_left + side, square_top + side)
    # A box wider than the image is tall (or vice versa) does not fit in the square: keep the overlap.
    clamped = (max(left, region[0]), max(top, region[1]), min(right, region[2]), min(bottom, region[3]))
    return clamped, region


def _feather_mask(box: Box, width: int, height: int, feather: float, device: torch.device) -> Tensor | None:
    """(1, h, w) blend weights for the box: 1 inside, falling smoothly to 0 at edges inside the image."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    ramp = feather * min(w, h)
    if ramp <= 0 or box == (0, 0, width, height):
        return None

    def axis(n: int, open_start: bool, open_end: bool) -> Tensor:
        pos = torch.arange(n, dtype=torch.float32, device=device) + 0.5
        inf = torch.full_like(pos, math.inf)
        distance = torch.minimum(pos if open_start else inf, (n - pos) if open_end else inf)
        return (distance / ramp).clamp(0, 1)

    wx = axis(w, left > 0, right < width)
    wy = axis(h, top > 0, bottom < height)
    t = torch.minimum(wy[:, None], wx[None, :])
    return (t * t * (3 - 2 * t))[None]  # smoothstep: no visible seam where the ramp meets the inside


@dataclass
class _Face:
    """An input image prepared once, however many targets it is edited towards."""

    original: Any
    pixels: Tensor  # (3, h, w) float32 region of the input, on the generator's device
    model_input: Tensor  # (3, S, S) the region (padded to a square if it is not one) resized for the generator
    region: Box
    box: Box
    mask: Tensor | None
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)  # (left, right, top, bottom) added to make it square


def _generator_of(generator: nn.Module) -> Generator:
    inner = getattr(generator, "_orig_mod", generator)  # torch.compile wrapper
    if not isinstance(inner, Generator):
        hint = "; for EMA weights pass ema.shadow" if hasattr(generator, "shadow") else ""
        raise TypeError(f"generator must be a ganimation_lib Generator, got {type(generator).__name__}{hint}")
    return inner


def _au_names(model: Generator, au_names: Sequence[str] | None) -> Sequence[str]:
    """The AU layout for dicts and presets: given, else recorded with the saved model, else OpenFace's 17."""
    if au_names is not None:
        return au_names
    recorded: Sequence[str] | None = getattr(model, "au_names", None)
    return recorded if recorded is not None else AU_NAMES


def _prepare(image: ImageLike, box: Sequence[float] | None, feather: float, size: int, device: torch.device) -> _Face:
    if isinstance(image, Image.Image):
        image = upright(image)  # decoded as a viewer shows it: the box and the result are in those pixels
    width, height = image_size(image)
    clamped, region = face_region(box, width, height)
    left, top, right, bottom = region
    # Convert only the region, not the whole photo (a 12-megapixel photo is 144 MB as float32).
    if isinstance(image, Tensor):
        region_image: ImageLike = image[..., top:bottom, left:right]  # a large photo on the GPU stays there
    elif isinstance(image, Image.Image):
        region_image = image.crop(region)
    else:
        region_image = image[top:bottom, left:right]
    pixels = to_tensor(region_image).to(device)
    # A whole non-square image is padded to a square (edge pixels repeated) rather than squashed into one:
    # the generator was trained on undistorted square faces. The padding is cropped off its maps.
    h, w = pixels.shape[-2:]
    across, down = max(h - w, 0), max(w - h, 0)
    padding = (across // 2, across - across // 2, down // 2, down - down // 2)
    square = F.pad(pixels[None], padding, mode="replicate") if across or down else pixels[None]
    # Antialiased downscaling: a large face crop would alias into the model's 128 px otherwise.
    resized = F.interpolate(square, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    model_input = resized[0].clamp(-1, 1)
    mask = _feather_mask(clamped, width, height, feather, device)
    return _Face(image, pixels, model_input, region, clamped, mask, padding)


def _compose(face: _Face, color: Tensor, attention: Tensor, aus: Tensor) -> EditResult:
    h, w = face.pixels.shape[-2:]
    pad_left, pad_right, pad_top, pad_bottom = face.padding
    side = (h + pad_top + pad_bottom, w + pad_left + pad_right)

    def up(x: Tensor) -> Tensor:
        full = F.interpolate(x[None].float(), size=side, mode="bilinear", align_corners=False)[0]
        return full[:, pad_top : pad_top + h, pad_left : pad_left + w]

    a, c = up(attention).clamp(0, 1), up(color).clamp(-1, 1)
    composed = a * face.pixels + (1 - a) * c
    left, top = face.box[0] - face.region[0], face.box[1] - face.region[1]
    right, bottom = face.box[2] - face.region[0], face.box[3] - face.region[1]
    output = face.pixels.clone()
    inside = composed[:, top:bottom, left:right]
    if face.mask is not None:
        inside = face.mask * inside + (1 - face.mask) * face.pixels[:, top:bottom, left:right]
    output[:, top:bottom, left:right] = inside
    return EditResult(face.pixels, output, a, c, face.region, face.box, aus)


@contextlib.contextmanager
def _evaluating(module: nn.Module) -> Iterator[None]:
    """Eval mode for the duration, then the caller's mode back (a Trainer's generator stays in training)."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def _progress(total: int, enabled: bool, desc: str) -> Any:
    if not enabled:
        return contextlib.nullcontext(None)
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional (the ``extras`` extra): run without a bar
        return contextlib.nullcontext(None)
    return tqdm(total=total, desc=desc, unit="frame")


def _run(
    generator: nn.Module,
    faces: Sequence[_Face],
    jobs: Sequence[tuple[int, Tensor]],
    batch_size: int,
    progress: bool,
    finish: Callable[[_Face, EditResult], _R],
    desc: str = "editing",
) -> list[_R]:
    """Run (face index, target AUs) jobs through the generator ``batch_size`` at a time."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    parameter = next(generator.parameters())
    results: list[_R] = []
    with _evaluating(generator), _progress(len(jobs), progress, desc) as bar:
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start : start + batch_size]
            inputs = torch.stack([faces[i].model_input for i, _ in chunk]).to(parameter.dtype)
            aus = torch.stack([a for _, a in chunk]).to(device=parameter.device, dtype=parameter.dtype)
            with torch.inference_mode():
                out = generator(inputs, aus)
            # Composition runs outside inference mode so returned tensors are ordinary tensors.
            with torch.no_grad():
                color, attention = out.color.clone(), out.attention.clone()
                for k, (i, target) in enumerate(chunk):
                    results.append(finish(faces[i], _compose(faces[i], color[k], attention[k], target)))
            if bar is not None:
                bar.update(len(chunk))
    return results


def _boxes(boxes: Sequence[float] | Sequence[Sequence[float] | None] | None, n: int) -> list[Any]:
    if boxes is None:
        return [None] * n
    if len(boxes) == 4 and all(_number(v) for v in boxes):
        return [boxes] * n
    if len(boxes) != n:
        raise ValueError(f"got {len(boxes)} boxes for {n} images; give one box, or one box (or None) per image")
    return list(boxes)


def _check_feather(feather: float) -> None:
    if not _number(feather) or not 0 <= feather <= 0.5:
        raise ValueError(
            f"feather={feather!r} must be a fraction of the box's shorter side in [0, 0.5] (0 = hard edge)"
        )


def _edit_jobs(
    generator: nn.Module,
    images: Sequence[ImageLike],
    targets: Target | Sequence[Target],
    source: Target | None,
    boxes: Sequence[float] | Sequence[Sequence[float] | None] | None,
    feather: float,
    au_names: Sequence[str] | None,
) -> tuple[list[_Face], list[tuple[int, Tensor]]]:
    model = _generator_of(generator)
    _check_feather(feather)
    if not isinstance(images, Sequence) or len(images) == 0:
        raise ValueError(
            f"images must be a non-empty sequence of images (a list; for a batch tensor use list(batch)), "
            f"got {type(images).__name__}"
        )
    aus = resolve_targets(targets, model.num_aus, source=source, au_names=_au_names(model, au_names))
    n_images, n_targets = len(images), aus.shape[0]
    if n_images != n_targets and 1 not in (n_images, n_targets):
        raise ValueError(
            f"got {n_images} images and {n_targets} targets; give one image with many targets, many images "
            "with one target, or as many targets as images"
        )
    device = next(generator.parameters()).device
    faces = [
        _prepare(image, box, feather, model.config.image_size, device)
        for image, box in zip(images, _boxes(boxes, n_images), strict=True)
    ]
    n = max(n_images, n_targets)
    jobs = [(i if n_images > 1 else 0, aus[i if n_targets > 1 else 0]) for i in range(n)]
    return faces, jobs


def _paste_result(original: ImageT, result: EditResult) -> ImageT:
    """``original`` with the edited box of ``result`` written back (pixels outside the box unchanged)."""
    left, top = result.box[0] - result.region[0], result.box[1] - result.region[1]
    right, bottom = result.box[2] - result.region[0], result.box[3] - result.region[1]
    return paste(original, result.output[:, top:bottom, left:right], result.box[0], result.box[1])


def _paste_back(face: _Face, result: EditResult) -> Any:
    return _paste_result(face.original, result)


def edit_batch(
    generator: nn.Module,
    images: Sequence[ImageT],
    targets: Target | Sequence[Target],
    *,
    source: Target | None = None,
    boxes: Sequence[float] | Sequence[Sequence[float] | None] | None = None,
    feather: float = 0.1,
    batch_size: int = 16,
    progress: bool = False,
    au_names: Sequence[str] | None = None,
) -> list[ImageT]:
    """Edit many images, or one image towards many targets, ``batch_size`` forwards at a time.

    Args:
        generator: A :class:`~ganimation_lib.Generator` (or an EMA copy of one) on any device; it runs in
            eval mode under ``torch.inference_mode`` and is put back in its previous mode afterwards.
        images: The images (PIL, NumPy or tensors; see :mod:`ganimation_lib.inference.images`). A batch
            tensor (B, 3, H, W) can be passed as ``list(batch)``.
        targets: One target for every image, or one per image, or many targets for a single image: AU
            vectors (a 2-D tensor is one per row), ``{AU: raw intensity}`` dicts or presets.
        source: The faces' own AUs, which dict targets start from (default: neutral).
        boxes: One face box ``(left, top, right, bottom)`` for every image, or one (or ``None``) per image;
            ``None`` edits the whole image.
        feather: Width of the blend at the box edges, as a fraction of the box's shorter side (0 = hard).
        batch_size: Images per generator forward.
        progress: Show a progress bar (needs tqdm).
        au_names: The generator's AU layout, for dict and preset targets; default: ``generator.au_names``
            when the saved model recorded them, else the 17 OpenFace AUs.

    Returns:
        One edited image per (image, target) pair, of the input's type and size.

    Raises:
        ValueError: For bad targets, boxes or images, or when the counts of images and targets differ.

    Examples:
        >>> import numpy as np
        >>> from ganimation_lib import Generator, GeneratorConfig
        >>> g = Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0))
        >>> frames = edit_batch(g, [np.zeros((20, 30, 3), np.uint8)], ["neutral", "happy", "sad"])
        >>> len(frames), frames[0].shape, frames[0].dtype
        (3, (20, 30, 3), dtype('uint8'))
    """
    faces, jobs = _edit_jobs(generator, images, targets, source, boxes, feather, au_names)
    return _run(generator, faces, jobs, batch_size, progress, _paste_back)


def edit_results(
    generator: nn.Module,
    images: Sequence[ImageLike],
    targets: Target | Sequence[Target],
    *,
    source: Target | None = None,
    boxes: Sequence[float] | Sequence[Sequence[float] | None] | None = None,
    feather: float = 0.1,
    batch_size: int = 16,
    au_names: Sequence[str] | None = None,
) -> list[EditResult]:
    """Like :func:`edit_batch`, but return each edit's :class:`EditResult` (region, maps) for inspection.

    Examples:
        >>> from ganimation_lib import Generator, GeneratorConfig
        >>> g = Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0))
        >>> r = edit_results(g, [torch.zeros(3, 20, 20)], "surprise")[0]
        >>> r.attention.shape, r.region
        (torch.Size([1, 20, 20]), (0, 0, 20, 20))
    """
    faces, jobs = _edit_jobs(generator, images, targets, source, boxes, feather, au_names)
    return _run(generator, faces, jobs, batch_size, False, lambda _face, result: result)


def edit(
    generator: nn.Module,
    image: ImageT,
    target: Target,
    *,
    source: Target | None = None,
    box: Sequence[float] | None = None,
    feather: float = 0.1,
    au_names: Sequence[str] | None = None,
) -> ImageT:
    """Edit one face towards one target expression; return an image of the input's type and size.

    Args:
        generator: A :class:`~ganimation_lib.Generator` (or an EMA copy); run in eval mode under
            ``torch.inference_mode``, then put back in its previous mode.
        image: A PIL image, a NumPy array or a tensor (grey-scale and RGBA are converted to RGB). A PIL
            image's EXIF orientation is applied: ``box`` and the result are as a viewer shows the photo.
        target: An AU vector (normalised, one value per AU), a ``{AU name: raw intensity}`` dict (AUs it
            does not name come from ``source``) or an expression preset (``"happy"``, ``"happy:0.8"``,
            ``Expression("happy", 0.8)``).
        source: The face's own AUs (vector, dict or preset); default neutral.
        box: The face ``(left, top, right, bottom)`` in a larger photo; the model sees it squared, and the
            edit is feathered back inside the box. ``None`` edits the whole image.
        feather: Width of the blend at the box edges, as a fraction of the box's shorter side (0 = hard).
        au_names: The generator's AU layout, for dict and preset targets; default: ``generator.au_names``
            when the saved model recorded them, else the 17 OpenFace AUs.

    Raises:
        ValueError: For an unknown AU name or preset, an AU vector of the wrong length, a box outside the
            image, an image of an unsupported shape, dtype or range, or a PIL image above 50 megapixels
            or that does not decode (a truncated file; the message names it).

    Examples:
        >>> from PIL import Image
        >>> from ganimation_lib import Generator, GeneratorConfig
        >>> g = Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0))
        >>> edit(g, Image.new("L", (50, 40)), {"AU12": 3.5}).size  # grey-scale in, RGB out
        (50, 40)
    """
    model = _generator_of(generator)
    vector = resolve_target(target, model.num_aus, source=source, au_names=_au_names(model, au_names))
    return edit_batch(generator, [image], vector[None], boxes=[box], feather=feather)[0]
