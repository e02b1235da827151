"""Editing a face's expression: crop, run the generator at its size, compose at full resolution, paste back.

The generator works at one size (``GeneratorConfig.image_size``). [`edit`][ganimation_lib.inference.edit.edit] resizes
the face region to that size, runs the generator, then upsamples the **attention and colour maps** (not the generated
image) and composes them with the original pixels, ``A·input + (1−A)·colour``, at the input's resolution: where the
attention keeps the input, the result keeps every original pixel's detail.

For a face in a larger photo, a face ``box`` picks the region. The model sees the box expanded to a square
(clamped to the image), and the edit is blended back inside the box with a feathered edge; every pixel
outside the box is returned unchanged.

The steps are [`pipeline`][ganimation_lib.inference.pipeline]'s, shared with
[`animate`][ganimation_lib.inference.animate.animate].

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

from collections.abc import Sequence

from torch import Tensor, nn

from .expression_targets import Target, resolve_target, resolve_targets
from .face_box import Box as Box
from .face_box import face_region as face_region
from .images import ImageLike, ImageT
from .pipeline import EditResult as EditResult
from .pipeline import (
    PreparedFace,
    as_generator,
    au_layout,
    boxes_per_image,
    check_feather,
    paste_back,
    prepare_face,
    run_jobs,
)

# Box and face_region (face_box.py) and EditResult (pipeline.py) stay importable from here.
__all__ = ["Box", "EditResult", "edit", "edit_batch", "edit_results", "face_region"]


def _edit_jobs(
    generator: nn.Module,
    images: Sequence[ImageLike],
    targets: Target | Sequence[Target],
    source: Target | None,
    boxes: Sequence[float] | Sequence[Sequence[float] | None] | None,
    feather: float,
    au_names: Sequence[str] | None,
) -> tuple[list[PreparedFace], list[tuple[int, Tensor]]]:
    model = as_generator(generator)
    check_feather(feather)
    if not isinstance(images, Sequence) or len(images) == 0:
        raise ValueError(
            f"images must be a non-empty sequence of images (a list; for a batch tensor use list(batch)), "
            f"got {type(images).__name__}"
        )
    aus = resolve_targets(targets, model.num_aus, source=source, au_names=au_layout(model, au_names))
    n_images, n_targets = len(images), aus.shape[0]
    if n_images != n_targets and 1 not in (n_images, n_targets):
        raise ValueError(
            f"got {n_images} images and {n_targets} targets; give one image with many targets, many images "
            "with one target, or as many targets as images"
        )
    device = next(generator.parameters()).device
    faces = [
        prepare_face(image, box, feather, model.config.image_size, device)
        for image, box in zip(images, boxes_per_image(boxes, n_images), strict=True)
    ]
    n = max(n_images, n_targets)
    jobs = [(i if n_images > 1 else 0, aus[i if n_targets > 1 else 0]) for i in range(n)]
    return faces, jobs


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
        generator: A [`Generator`][ganimation_lib.models.generator.Generator] (or an EMA copy of one) on any device; it
            runs in eval mode under ``torch.inference_mode`` and is put back in its previous mode afterwards.
        images: The images (PIL, NumPy or tensors; see
            [`ganimation_lib.inference.images`][ganimation_lib.inference.images]). A batch tensor (B, 3, H, W) can be
            passed as ``list(batch)``.
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
    return run_jobs(generator, faces, jobs, batch_size, progress, paste_back)


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
    """Like [`edit_batch`][ganimation_lib.inference.edit.edit_batch], but return each edit's
    [`EditResult`][ganimation_lib.inference.pipeline.EditResult] (region, maps) for inspection.

    Examples:
        >>> import torch
        >>> from ganimation_lib import Generator, GeneratorConfig
        >>> g = Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0))
        >>> r = edit_results(g, [torch.zeros(3, 20, 20)], "surprise")[0]
        >>> r.attention.shape, r.region
        (torch.Size([1, 20, 20]), (0, 0, 20, 20))
    """
    faces, jobs = _edit_jobs(generator, images, targets, source, boxes, feather, au_names)
    return run_jobs(generator, faces, jobs, batch_size, False, lambda _face, result: result)


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
        generator: A [`Generator`][ganimation_lib.models.generator.Generator] (or an EMA copy); run in eval mode under
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
    model = as_generator(generator)
    vector = resolve_target(target, model.num_aus, source=source, au_names=au_layout(model, au_names))
    return edit_batch(generator, [image], vector[None], boxes=[box], feather=feather)[0]
