"""The editing pipeline of edit and animate: crop, run the generator at its size, compose, paste back.

[`edit`][ganimation_lib.inference.edit.edit] and [`animate`][ganimation_lib.inference.animate.animate] (and the command
line) are built from these steps.

The generator works at one size (``GeneratorConfig.image_size``).
[`prepare_face`][ganimation_lib.inference.pipeline.prepare_face] crops the face region and resizes it to that size once
per input; [`run_jobs`][ganimation_lib.inference.pipeline.run_jobs] sends (face, target AUs) jobs through the generator
in batches; [`compose`][ganimation_lib.inference.pipeline.compose] upsamples the **attention and colour maps** (not the
generated image) and composes them with the original pixels, ``A·input + (1−A)·colour``, at the input's resolution:
where the attention keeps the input, the result keeps every original pixel's detail; inside a face box only, with a
feathered edge. [`paste_result`][ganimation_lib.inference.pasting.paste_result] writes the box back: every pixel
outside it is returned unchanged. A face aligned to the model's crop (``PreparedFace.transform``, made by
[`prepare_aligned_face`][ganimation_lib.inference.aligned.prepare_aligned_face]) has its maps warped back into the
photo instead of upsampled, and is blended in with a mask that follows the crop's rotated square.

Examples:
    >>> import torch
    >>> from ganimation_lib import Generator, GeneratorConfig
    >>> g = Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0))
    >>> face = prepare_face(torch.zeros(3, 40, 60), (10, 5, 30, 25), 0.1, 16, torch.device("cpu"))
    >>> face.region, face.model_input.shape
    ((10, 5, 30, 25), torch.Size([3, 16, 16]))
    >>> [r.output.shape for r in run_jobs(g, [face], [(0, torch.zeros(17))], 4, False, lambda f, r: r)]
    [torch.Size([3, 20, 20])]
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from ..aus import AU_NAMES
from ..config_mixin import is_finite_number
from ..data.image_io import upright
from ..face_layout import CANONICAL_FACE, CanonicalFace
from ..faces.align import SimilarityTransform, warp_to_photo
from ..models.generator import Generator
from ..models.registered import drawing_model
from ..models.unwrap import unwrap_model
from ..models.warp import warp_images
from .face_box import Box, face_region
from .images import ImageLike, crop_to_tensor, image_size

__all__ = [
    "EditResult",
    "PreparedFace",
    "as_generator",
    "au_layout",
    "face_crop_of",
    "progress_bar",
    "boxes_per_image",
    "check_feather",
    "compose",
    "prepare_face",
    "run_jobs",
]

_R = TypeVar("_R")


@dataclass(frozen=True)
class EditResult:
    """One edit with everything needed to inspect it (see
    [`side_by_side`][ganimation_lib.inference.writers.side_by_side]).

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
        mask: (1, box height, box width) the weights ``output`` was blended in with over ``box`` (1: the edit,
            0: the input), or ``None`` for a hard edge; pasting onto an image that already holds other edits
            uses them, so overlapping faces blend instead of cutting each other off.
    """

    input: Tensor
    output: Tensor
    attention: Tensor
    color: Tensor
    region: Box
    box: Box
    aus: Tensor
    mask: Tensor | None = None


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
class PreparedFace:
    """An input image prepared once, however many targets it is edited towards (see
    [`prepare_face`][ganimation_lib.inference.pipeline.prepare_face]).

    Attributes:
        original: The input as given (its type and size are the result's).
        pixels: (3, h, w) float32 region of the input, on the generator's device.
        model_input: (3, S, S) the region (padded to a square if it is not one) resized for the generator.
        region: Where the region lies in the input, ``(left, top, right, bottom)``.
        box: The part of the region that is edited.
        mask: (1, h', w') feathered blend weights over ``box``, or ``None`` for a hard edge.
        padding: ``(left, right, top, bottom)`` pixels added to make the region square.
        transform: For a face aligned to the model's crop, the photo-to-crop transform: the generator's maps are
            warped back through it onto ``region`` (``box`` is then the region, ``mask`` the crop's feathered
            square). ``None`` for a box or the whole image.
    """

    original: Any
    pixels: Tensor
    model_input: Tensor
    region: Box
    box: Box
    mask: Tensor | None
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    transform: SimilarityTransform | None = None


def as_generator(generator: nn.Module) -> Generator:
    """The [`Generator`][ganimation_lib.models.generator.Generator] inside ``generator``, which may be wrapped.

    ``torch.compile`` and data-parallel wrappers are looked through
    (`unwrap_model`); the wrapper itself is what runs.

    Raises:
        TypeError: If it is not a ganimation_lib Generator (for an EMA, the message points to ``ema.shadow``).

    Examples:
        >>> import torch
        >>> from ganimation_lib import Generator, GeneratorConfig
        >>> g = Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0))
        >>> as_generator(torch.nn.DataParallel(g)) is g
        True
    """
    inner = unwrap_model(generator) if isinstance(generator, nn.Module) else generator
    if not isinstance(inner, Generator):
        hint = "; for EMA weights pass ema.shadow" if hasattr(generator, "shadow") else ""
        raise TypeError(f"generator must be a ganimation_lib Generator, got {type(generator).__name__}{hint}")
    return inner


def au_layout(model: Generator, au_names: Sequence[str] | None) -> Sequence[str]:
    """The AU layout for dict and preset targets: given, else recorded with the saved model, else OpenFace's 17."""
    if au_names is not None:
        return au_names
    recorded: Sequence[str] | None = getattr(model, "au_names", None)
    return recorded if recorded is not None else AU_NAMES


def face_crop_of(model: Generator) -> CanonicalFace:
    """Where faces go in ``model``'s crop: the layout recorded with the saved model, else the official crops'.

    Examples:
        >>> from ganimation_lib import Generator, GeneratorConfig
        >>> face_crop_of(Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0))).landmarks[0]
        (0.3, 0.29)
    """
    recorded: CanonicalFace | None = getattr(model, "face_crop", None)
    return recorded if recorded is not None else CANONICAL_FACE


def check_feather(feather: float) -> None:
    """Raise a ``ValueError`` unless ``feather`` is a fraction of the box's shorter side in [0, 0.5]."""
    if not is_finite_number(feather) or not 0 <= feather <= 0.5:
        raise ValueError(
            f"feather={feather!r} must be a fraction of the box's shorter side in [0, 0.5] (0 = hard edge)"
        )


def boxes_per_image(boxes: Sequence[float] | Sequence[Sequence[float] | None] | None, n: int) -> list[Any]:
    """One box (or ``None``) per image: ``None`` for all, one box for all, or one per image as given.

    Raises:
        ValueError: If a list of boxes does not have one per image.

    Examples:
        >>> boxes_per_image((0, 0, 8, 8), 2), boxes_per_image(None, 1)
        ([(0, 0, 8, 8), (0, 0, 8, 8)], [None])
    """
    if boxes is None:
        return [None] * n
    if len(boxes) == 4 and all(is_finite_number(v) for v in boxes):
        return [boxes] * n
    if len(boxes) != n:
        raise ValueError(f"got {len(boxes)} boxes for {n} images; give one box, or one box (or None) per image")
    return list(boxes)


def prepare_face(
    image: ImageLike, box: Sequence[float] | None, feather: float, size: int, device: torch.device
) -> PreparedFace:
    """Crop ``image`` to the square around ``box``, on ``device``, and resize it to the generator's ``size``.

    Args:
        image: The input (PIL, NumPy or tensor); a PIL image is used as a viewer shows it (EXIF orientation).
        box: The face ``(left, top, right, bottom)``, or ``None`` for the whole image.
        feather: Blend width at the box edges, as a fraction of its shorter side (see
            [`check_feather`][ganimation_lib.inference.pipeline.check_feather]).
        size: The generator's ``image_size``.
        device: The generator's device.

    Raises:
        ValueError: For a bad box or image.
    """
    if isinstance(image, Image.Image):
        image = upright(image)  # decoded as a viewer shows it: the box and the result are in those pixels
    width, height = image_size(image)
    clamped, region = face_region(box, width, height)
    pixels = crop_to_tensor(image, region).to(device)
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
    return PreparedFace(image, pixels, model_input, region, clamped, mask, padding)


def compose(
    face: PreparedFace,
    color: Tensor,
    attention: Tensor,
    aus: Tensor,
    flow: Tensor | None = None,
    color_change: Tensor | None = None,
) -> EditResult:
    """Upsample the generator's maps to the region and compose ``A·input + (1−A)·colour`` inside the box.

    Args:
        face: The prepared input.
        color: (3, S, S) the generator's colour map for it.
        attention: (1, S, S) its attention map.
        aus: The target AUs (kept in the result).
        flow: (2, S, S) its warp field (``GeneratorConfig.warp_range``): the full-resolution input is warped
            by it before the blend, ``A·warp(input) + (1−A)·colour``.
        color_change: (3, S, S) the change painted around the warped input
            (``GeneratorConfig.color_residual_around="warp"``): the colour is then the photo's own warped pixels
            plus this change, sharp at the photo's resolution, and ``color`` is not used.
    """
    h, w = face.pixels.shape[-2:]
    pad_left, pad_right, pad_top, pad_bottom = face.padding
    side = (h + pad_top + pad_bottom, w + pad_left + pad_right)
    transform = face.transform

    def up(x: Tensor) -> Tensor:
        if transform is not None:
            return warp_to_photo(x, transform, face.region)
        full = F.interpolate(x[None].float(), size=side, mode="bilinear", align_corners=False)[0]
        return full[:, pad_top : pad_top + h, pad_left : pad_left + w]

    a = up(attention).clamp(0, 1)
    kept = face.pixels
    if flow is not None:
        kept = warp_images(face.pixels[None], _flow_to_region(flow, face, up)[None])[0]
    c = up(color).clamp(-1, 1) if color_change is None else (kept + up(color_change)).clamp(-1, 1)
    composed = a * kept + (1 - a) * c
    left, top = face.box[0] - face.region[0], face.box[1] - face.region[1]
    right, bottom = face.box[2] - face.region[0], face.box[3] - face.region[1]
    output = face.pixels.clone()
    inside = composed[:, top:bottom, left:right]
    if face.mask is not None:
        inside = face.mask * inside + (1 - face.mask) * face.pixels[:, top:bottom, left:right]
    output[:, top:bottom, left:right] = inside
    return EditResult(face.pixels, output, a, c, face.region, face.box, aus, face.mask)


def _flow_to_region(flow: Tensor, face: PreparedFace, up: Callable[[Tensor], Tensor]) -> Tensor:
    """The generator's flow (normalised units of its square input) in normalised units of ``face.region``."""
    h, w = face.pixels.shape[-2:]
    if face.transform is None:  # the padded square's units, rescaled to the unpadded region's
        pad_left, pad_right, pad_top, pad_bottom = face.padding
        units = flow.new_tensor([(w + pad_left + pad_right) / w, (h + pad_top + pad_bottom) / h])
        return up(flow) * units[:, None, None].float()
    # A shift d (crop pixels) at crop point T(q) moves photo point q by L^-1 d, L = T's rotation and scale.
    t, half = face.transform, flow.shape[-1] / 2
    dx, dy = up(flow * half)
    norm = t.a**2 + t.b**2
    return torch.stack([(t.a * dx + t.b * dy) / norm * (2 / w), (t.a * dy - t.b * dx) / norm * (2 / h)])


@contextlib.contextmanager
def _evaluating(module: nn.Module) -> Iterator[None]:
    """Eval mode for the duration, then the caller's mode back (a Trainer's generator stays in training)."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def progress_bar(total: int | None, enabled: bool, desc: str) -> Any:
    """A tqdm bar counting frames (a context manager), or ``nullcontext(None)`` when disabled or without tqdm."""
    if not enabled:
        return contextlib.nullcontext(None)
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional (the ``extras`` extra): run without a bar
        return contextlib.nullcontext(None)
    return tqdm(total=total, desc=desc, unit="frame")


def run_jobs(
    generator: nn.Module,
    faces: Sequence[PreparedFace],
    jobs: Sequence[tuple[int, Tensor]],
    batch_size: int,
    progress: bool,
    finish: Callable[[PreparedFace, EditResult], _R],
    desc: str = "editing",
) -> list[_R]:
    """Run (face index, target AUs) jobs through the generator ``batch_size`` at a time.

    The generator runs in eval mode under ``torch.inference_mode`` and is put back in its previous mode.

    Args:
        generator: The generator (possibly wrapped).
        faces: The prepared inputs.
        jobs: ``(index into faces, target AUs)`` pairs, in output order.
        batch_size: Jobs per generator forward.
        progress: Show a progress bar (needs tqdm).
        finish: Turns each composed [`EditResult`][ganimation_lib.inference.pipeline.EditResult] into what is returned
            (e.g. [`paste_back`][ganimation_lib.inference.pasting.paste_back]).
        desc: The progress bar's label.

    Raises:
        ValueError: If ``batch_size`` is not a positive integer.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    parameter = next(generator.parameters())
    drawer = drawing_model(generator)  # a generator trained on registered faces registers them
    results: list[_R] = []
    with _evaluating(generator), progress_bar(len(jobs), progress, desc) as bar:
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start : start + batch_size]
            inputs = torch.stack([faces[i].model_input for i, _ in chunk]).to(parameter.dtype)
            aus = torch.stack([a for _, a in chunk]).to(device=parameter.device, dtype=parameter.dtype)
            with torch.inference_mode():
                out = drawer(inputs, aus)
            # Composition runs outside inference mode so returned tensors are ordinary tensors.
            with torch.no_grad():
                color, attention = out.color.clone(), out.attention.clone()
                flow = None if out.flow is None else out.flow.clone()
                change = None if out.color_change is None else out.color_change.clone()
                for k, (i, target) in enumerate(chunk):
                    moved = None if flow is None else flow[k]
                    painted = None if change is None else change[k]
                    composed = compose(faces[i], color[k], attention[k], target, moved, painted)
                    results.append(finish(faces[i], composed))
            if bar is not None:
                bar.update(len(chunk))
    return results
