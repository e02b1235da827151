"""Editing a face's expression: crop, run the generator at its size, compose at full resolution, paste back.

The generator works at one size (``GeneratorConfig.image_size``). [`edit`][ganimation_lib.inference.edit.edit] resizes
the face region to that size, runs the generator, then upsamples the **attention and colour maps** (not the generated
image) and composes them with the original pixels, ``A·input + (1−A)·colour``, at the input's resolution: where the
attention keeps the input, the result keeps every original pixel's detail.

For a face in a larger photo, a face ``box`` picks the region. The model sees the box expanded to a square
(clamped to the image), and the edit is blended back inside the box with a feathered edge; every pixel
outside the box is returned unchanged. Without a box, ``faces="auto"`` finds every face (or ``faces=`` gives
them as [`Face`][ganimation_lib.faces.face.Face] objects), aligns each to the crop the model was trained on,
edits it and blends it back ([`ganimation_lib.inference.aligned`][ganimation_lib.inference.aligned]).

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
from typing import Literal

from torch import Tensor, nn

from ..faces.face import Face, FaceFinder
from .aligned import FacesOption, prepare_images
from .expression_targets import Target, resolve_target, resolve_targets
from .face_box import Box as Box
from .face_box import face_region as face_region
from .images import ImageLike, ImageT
from .pasting import paste_in_groups
from .pipeline import EditResult as EditResult
from .pipeline import PreparedFace, as_generator, au_layout, check_feather, face_crop_of, run_jobs

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
    faces: FacesOption | None,
    finder: FaceFinder | None,
    face_index: int | None,
    largest: bool,
    min_face_size: float,
) -> tuple[list[PreparedFace], list[tuple[int, Tensor]], list[int]]:
    """The prepared faces, the (face, AUs) jobs in output order, and how many jobs each (image, target) pair has."""
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
    per_image = prepare_images(
        images,
        boxes=boxes,
        faces=faces,
        finder=finder,
        face_index=face_index,
        largest=largest,
        min_face_size=min_face_size,
        feather=feather,
        size=model.config.image_size,
        device=device,
        canonical=face_crop_of(model),
    )
    starts = [sum(len(group) for group in per_image[:i]) for i in range(n_images)]
    jobs, sizes = [], []
    for i in range(max(n_images, n_targets)):
        image = i if n_images > 1 else 0
        target = aus[i if n_targets > 1 else 0]
        jobs += [(starts[image] + k, target) for k in range(len(per_image[image]))]
        sizes.append(len(per_image[image]))
    return [face for group in per_image for face in group], jobs, sizes


def edit_batch(
    generator: nn.Module,
    images: Sequence[ImageT],
    targets: Target | Sequence[Target],
    *,
    source: Target | None = None,
    boxes: Sequence[float] | Sequence[Sequence[float] | None] | None = None,
    faces: FacesOption | None = None,
    finder: FaceFinder | None = None,
    face_index: int | None = None,
    largest: bool = False,
    min_face_size: float = 0,
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
        faces: Instead of boxes, edit every face of each image, aligned to the model's crop: ``"auto"`` finds
            them with ``finder``; [`Face`][ganimation_lib.faces.face.Face] objects are used for every image, or
            give one sequence of them per image. Each target applies to every face of its image.
        finder: The [`FaceFinder`][ganimation_lib.faces.face.FaceFinder] of ``faces="auto"``; default a
            [`DlibFaceFinder`][ganimation_lib.faces.dlib_finder.DlibFaceFinder] (the ``faces`` extra).
        face_index: With ``faces``, edit only this face (0 is the first, left to right for the built-in finder).
        largest: With ``faces``, edit only the face with the largest box.
        min_face_size: With ``faces``, skip faces whose box is narrower than this many pixels.
        feather: Width of the blend at the edges, as a fraction of the box's shorter side, or with ``faces`` of
            the aligned crop's side (0 = hard).
        batch_size: Faces per generator forward.
        progress: Show a progress bar (needs tqdm).
        au_names: The generator's AU layout, for dict and preset targets; default: ``generator.au_names``
            when the saved model recorded them, else the 17 OpenFace AUs.

    Returns:
        One edited image per (image, target) pair, of the input's type and size.

    Raises:
        ValueError: For bad targets, boxes or images, when the counts of images and targets differ, or when
            both ``faces`` and ``boxes`` are given.
        NoFaceFoundError: With ``faces``, when an image has no face to edit (the message says what to do).
        FacesExtraMissingError: With ``faces="auto"`` and no ``finder``, when the ``faces`` extra is missing.

    Examples:
        >>> import numpy as np
        >>> from ganimation_lib import Generator, GeneratorConfig
        >>> g = Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0))
        >>> frames = edit_batch(g, [np.zeros((20, 30, 3), np.uint8)], ["neutral", "happy", "sad"])
        >>> len(frames), frames[0].shape, frames[0].dtype
        (3, (20, 30, 3), dtype('uint8'))
    """
    prepared, jobs, sizes = _edit_jobs(
        generator, images, targets, source, boxes, feather, au_names, faces, finder, face_index, largest, min_face_size
    )
    done = run_jobs(generator, prepared, jobs, batch_size, progress, paste_in_groups(sizes))
    return [image for image in done if image is not None]


def edit_results(
    generator: nn.Module,
    images: Sequence[ImageLike],
    targets: Target | Sequence[Target],
    *,
    source: Target | None = None,
    boxes: Sequence[float] | Sequence[Sequence[float] | None] | None = None,
    faces: FacesOption | None = None,
    finder: FaceFinder | None = None,
    face_index: int | None = None,
    largest: bool = False,
    min_face_size: float = 0,
    feather: float = 0.1,
    batch_size: int = 16,
    au_names: Sequence[str] | None = None,
) -> list[EditResult]:
    """Like [`edit_batch`][ganimation_lib.inference.edit.edit_batch], but return each edit's
    [`EditResult`][ganimation_lib.inference.pipeline.EditResult] (region, maps) for inspection.

    With ``faces``, there is one result per face of each (image, target) pair, the faces of a pair in a row;
    [`paste_results`][ganimation_lib.inference.pasting.paste_results] puts a pair's faces into its image.

    Examples:
        >>> import torch
        >>> from ganimation_lib import Generator, GeneratorConfig
        >>> g = Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0))
        >>> r = edit_results(g, [torch.zeros(3, 20, 20)], "surprise")[0]
        >>> r.attention.shape, r.region
        (torch.Size([1, 20, 20]), (0, 0, 20, 20))
    """
    prepared, jobs, _ = _edit_jobs(
        generator, images, targets, source, boxes, feather, au_names, faces, finder, face_index, largest, min_face_size
    )
    return run_jobs(generator, prepared, jobs, batch_size, False, lambda _face, result: result)


def edit(
    generator: nn.Module,
    image: ImageT,
    target: Target,
    *,
    source: Target | None = None,
    box: Sequence[float] | None = None,
    faces: Literal["auto"] | Sequence[Face] | None = None,
    finder: FaceFinder | None = None,
    face_index: int | None = None,
    largest: bool = False,
    min_face_size: float = 0,
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
            edit is feathered back inside the box. ``None`` (and no ``faces``) edits the whole image.
        faces: ``"auto"`` finds every face with ``finder`` (default: the built-in
            [`DlibFaceFinder`][ganimation_lib.faces.dlib_finder.DlibFaceFinder], ``faces`` extra), or give the
            [`Face`][ganimation_lib.faces.face.Face] objects to edit; each is aligned to the model's crop, edited
            and blended back, and pixels away from the faces are unchanged. Not with ``box``. To give each face
            its own target, edit them one at a time (``faces=[face]``), passing on the result.
        finder: The [`FaceFinder`][ganimation_lib.faces.face.FaceFinder] of ``faces="auto"``.
        face_index: Edit only this face (0 is the first; the built-in finder lists faces left to right).
        largest: Edit only the face with the largest box.
        min_face_size: Skip faces whose box is narrower than this many pixels (applied before the other two).
        feather: Width of the blend at the edges, as a fraction of the box's shorter side, or with ``faces`` of
            the aligned crop's side (0 = hard).
        au_names: The generator's AU layout, for dict and preset targets; default: ``generator.au_names``
            when the saved model recorded them, else the 17 OpenFace AUs.

    Raises:
        ValueError: For an unknown AU name or preset, an AU vector of the wrong length, a box outside the
            image, an image of an unsupported shape, dtype or range, or a PIL image above 50 megapixels
            or that does not decode (a truncated file; the message names it), both ``box`` and ``faces``.
        NoFaceFoundError: With ``faces``, when there is no face to edit (a ``ValueError``; the message says so
            and suggests ``box=``).
        FacesExtraMissingError: With ``faces="auto"`` and no ``finder``, when the ``faces`` extra is missing.

    Examples:
        >>> from PIL import Image
        >>> from ganimation_lib import Generator, GeneratorConfig
        >>> g = Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0))
        >>> edit(g, Image.new("L", (50, 40)), {"AU12": 3.5}).size  # grey-scale in, RGB out
        (50, 40)
        >>> import torch
        >>> from ganimation_lib.faces import Face
        >>> face = Face((20, 10, 60, 50), 1.0, ((32, 25), (48, 25), (40, 33), (33, 43), (47, 43)))
        >>> photo = torch.rand(3, 60, 120) * 2 - 1
        >>> out = edit(g, photo, "happy", faces=[face])  # aligned to the model's crop, blended back
        >>> out.shape, torch.equal(out[:, :, 70:], photo[:, :, 70:])
        (torch.Size([3, 60, 120]), True)
    """
    model = as_generator(generator)
    vector = resolve_target(target, model.num_aus, source=source, au_names=au_layout(model, au_names))
    return edit_batch(
        generator,
        [image],
        vector[None],
        boxes=None if box is None else [box],
        faces=faces,
        finder=finder,
        face_index=face_index,
        largest=largest,
        min_face_size=min_face_size,
        feather=feather,
    )[0]
