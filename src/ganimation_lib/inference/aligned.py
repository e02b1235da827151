"""Editing the faces of a photo without a box: find them, choose, align each to the model's crop.

``edit(..., faces="auto")`` (and [`animate`][ganimation_lib.inference.animate.animate], ``edit_batch``,
``edit_results``) run a face finder on each image, or take the [`Face`][ganimation_lib.faces.face.Face] objects
given; [`find_faces`][ganimation_lib.inference.aligned.find_faces] chooses among them
([`select_faces`][ganimation_lib.faces.selection.select_faces]) and
[`prepare_aligned_face`][ganimation_lib.inference.aligned.prepare_aligned_face] crops each one aligned like the
training data ([`ganimation_lib.faces.align`][ganimation_lib.faces.align]). The pipeline then warps the generator's
maps back into the photo and blends every face in with a feathered edge; pixels away from the faces are returned
bit for bit.

Examples:
    >>> import torch
    >>> from ganimation_lib.faces import Face
    >>> face = Face((20, 20, 80, 80), 1.0, ((38, 40), (62, 40), (50, 52), (40, 67), (60, 67)))
    >>> prepared = prepare_aligned_face(torch.zeros(3, 100, 120), face, 0.1, 16, torch.device("cpu"))
    >>> prepared.model_input.shape, prepared.region
    (torch.Size([3, 16, 16]), (19, 21, 82, 84))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeAlias

import torch
from PIL import Image

from ..data.image_io import upright
from ..faces.align import (
    CANONICAL_FACE,
    CanonicalFace,
    alignment_transform,
    crop_face,
    face_footprint,
    feather_mask,
    warp_to_photo,
)
from ..faces.dlib_finder import DlibFaceFinder
from ..faces.face import Face, FaceFinder
from ..faces.selection import NoFaceFoundError, select_faces
from .images import ImageLike, crop_to_tensor, image_size, to_pil, to_tensor
from .pipeline import PreparedFace, boxes_per_image, prepare_face

__all__ = ["FacesOption", "find_faces", "prepare_aligned_face", "prepare_images"]

FacesOption: TypeAlias = "Literal['auto'] | Sequence[Face] | Sequence[Sequence[Face]]"
"""``"auto"`` (find them), the faces of every image, or one sequence of faces per image."""

_NO_FACE_HINT = (
    "give the face's box yourself (box=(left, top, right, bottom); ganimation edit --box LEFT,TOP,RIGHT,BOTTOM), "
    "or edit the whole image (faces=None; --whole-image)"
)


def _as_pil(image: ImageLike) -> Image.Image:
    """The picture a finder sees: a PIL image as displayed, arrays and tensors converted."""
    if isinstance(image, Image.Image):
        return upright(image)
    return to_pil(to_tensor(image).cpu())


def _faces_given(faces: Sequence[Face] | Sequence[Sequence[Face]], n_images: int) -> list[list[Face]]:
    if not isinstance(faces, Sequence) or len(faces) == 0:
        raise ValueError(f"faces must be 'auto' or a non-empty sequence of Face objects, got {faces!r}")
    if all(isinstance(face, Face) for face in faces):
        return [[face for face in faces if isinstance(face, Face)]] * n_images
    per_image = [list(group) for group in faces if isinstance(group, Sequence)]
    if len(per_image) != len(faces) or not all(isinstance(f, Face) for group in per_image for f in group):
        raise ValueError("faces must be Face objects (for every image), or one sequence of Face objects per image")
    if len(per_image) != n_images:
        raise ValueError(f"got faces for {len(per_image)} images but {n_images} images; give one sequence per image")
    return per_image


def find_faces(
    images: Sequence[ImageLike],
    faces: FacesOption,
    *,
    finder: FaceFinder | None = None,
    face_index: int | None = None,
    largest: bool = False,
    min_face_size: float = 0,
) -> list[list[Face]]:
    """The faces to edit in each image: found (``faces="auto"``) or given, then chosen.

    Args:
        images: The images (PIL, NumPy or tensors).
        faces: ``"auto"`` runs ``finder`` on each image; a sequence of
            [`Face`][ganimation_lib.faces.face.Face] objects is used for every image; a sequence of such
            sequences gives each image its own.
        finder: Any [`FaceFinder`][ganimation_lib.faces.face.FaceFinder]; default (with ``"auto"``) a
            [`DlibFaceFinder`][ganimation_lib.faces.dlib_finder.DlibFaceFinder], which needs the ``faces`` extra.
        face_index: Edit only this face (0 is the first, left to right for the built-in finder).
        largest: Edit only the face with the largest box.
        min_face_size: Skip faces whose box is narrower than this many pixels.

    Returns:
        One non-empty list of faces per image.

    Raises:
        NoFaceFoundError: When an image has no face (left after the choice); the message names the image and says
            what to do instead.
        FacesExtraMissingError: With ``"auto"`` and no ``finder`` when the ``faces`` extra is not installed.
        ValueError: For a bad ``faces`` value or choice.
    """
    chosen_finder: FaceFinder | None = None
    if isinstance(faces, str):
        if faces != "auto":
            raise ValueError(f"faces must be 'auto', a sequence of Face objects or None, got {faces!r}")
        chosen_finder = finder if finder is not None else DlibFaceFinder()
        found = [chosen_finder(_as_pil(image)) for image in images]
    else:
        if finder is not None:
            raise ValueError("finder= is used with faces='auto'; with faces given as Face objects leave it out")
        found = _faces_given(faces, len(images))
    chosen = []
    for number, (image, image_faces) in enumerate(zip(images, found, strict=True)):
        try:
            chosen.append(select_faces(image_faces, index=face_index, largest=largest, min_size=min_face_size))
        except NoFaceFoundError as error:
            width, height = image_size(image)
            where = f"image {number} ({width}x{height})" if len(images) > 1 else f"the {width}x{height} image"
            hint = _NO_FACE_HINT
            if isinstance(chosen_finder, DlibFaceFinder) and not image_faces:
                smallest = chosen_finder.smallest_face(width, height)
                hint = f"the built-in finder sees faces at least {smallest} px wide, turned towards the camera; {hint}"
            raise NoFaceFoundError(f"{where}: {error}; {hint}") from None
    return chosen


def prepare_aligned_face(
    image: ImageLike,
    face: Face,
    feather: float,
    size: int,
    device: torch.device,
    canonical: CanonicalFace = CANONICAL_FACE,
) -> PreparedFace:
    """Crop ``face`` aligned to the generator's ``size`` × ``size`` crop, and what pasting it back needs.

    Args:
        image: The photo (PIL, NumPy or tensor); a PIL image is used as a viewer shows it.
        face: The face, with its landmarks in the photo's pixels.
        feather: Width of the blend at the crop's edges, as a fraction of its side (0 = hard).
        size: The generator's ``image_size``.
        device: The generator's device.
        canonical: Where the landmarks go in the crop.

    Raises:
        ValueError: For degenerate landmarks, or a face whose crop lies outside the image.
    """
    if isinstance(image, Image.Image):
        image = upright(image)  # the landmarks and the result are in the pixels a viewer shows
    width, height = image_size(image)
    transform = alignment_transform(face, size, canonical)
    region = face_footprint(transform, size, width, height)
    if region is None:
        raise ValueError(f"face {face.int_box()} lies outside the {width}x{height} image: check its landmarks")
    pixels = crop_to_tensor(image, region).to(device)
    model_input = crop_face(pixels, transform.shifted(region[0], region[1]), size)
    mask = warp_to_photo(feather_mask(size, feather, device), transform, region, padding="zeros").clamp(0, 1)
    return PreparedFace(image, pixels, model_input, region, region, mask, transform=transform)


def prepare_images(
    images: Sequence[ImageLike],
    *,
    boxes: Sequence[float] | Sequence[Sequence[float] | None] | None,
    faces: FacesOption | None,
    finder: FaceFinder | None,
    face_index: int | None,
    largest: bool,
    min_face_size: float,
    feather: float,
    size: int,
    device: torch.device,
    canonical: CanonicalFace = CANONICAL_FACE,
) -> list[list[PreparedFace]]:
    """The prepared faces of each image: one per box (or the whole image) without ``faces``, else every face chosen.

    The arguments are those of [`edit_batch`][ganimation_lib.inference.edit.edit_batch]; ``canonical`` is where found
    faces go in the model's crop ([`face_crop_of`][ganimation_lib.inference.pipeline.face_crop_of] the model).

    Raises:
        ValueError: If ``faces`` and ``boxes`` are both given, or a face choice is given without ``faces``.
        NoFaceFoundError: When an image has no face to edit.
    """
    if faces is None:
        if finder is not None or face_index is not None or largest or min_face_size:
            raise ValueError(
                "finder, face_index, largest and min_face_size choose among found faces: give faces='auto' (or "
                "Face objects) with them"
            )
        return [[prepare_face(image, box, feather, size, device)] for image, box in zip(
            images, boxes_per_image(boxes, len(images)), strict=True
        )]  # fmt: skip
    if boxes is not None and any(box is not None for box in boxes_per_image(boxes, len(images))):
        raise ValueError("give either faces= (find and align the faces) or box=/boxes= (edit a box as it is), not both")
    chosen = find_faces(
        images, faces, finder=finder, face_index=face_index, largest=largest, min_face_size=min_face_size
    )
    return [
        [prepare_aligned_face(image, face, feather, size, device, canonical) for face in image_faces]
        for image, image_faces in zip(images, chosen, strict=True)
    ]
