"""Writing edits back into their images: one face, several faces of one image, or a stream of them.

An [`EditResult`][ganimation_lib.inference.pipeline.EditResult] covers a region of its image;
[`paste_result`][ganimation_lib.inference.pasting.paste_result] writes its edited box back (blended with its
mask), leaving every other pixel unchanged, and
[`paste_results`][ganimation_lib.inference.pasting.paste_results] pastes the faces of one image one after another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from .images import ImageT, crop_to_tensor, paste
from .pipeline import EditResult, PreparedFace

__all__ = ["paste_back", "paste_in_groups", "paste_result", "paste_results"]


def paste_result(original: ImageT, result: EditResult) -> ImageT:
    """``original`` with the edited box of ``result`` written back (pixels outside the box unchanged).

    Examples:
        >>> import torch
        >>> frame = torch.zeros(3, 4, 4)
        >>> result = EditResult(frame, torch.ones(3, 4, 4), torch.zeros(1, 4, 4), frame, (0, 0, 4, 4),
        ...                     (1, 1, 3, 3), torch.zeros(17))
        >>> paste_result(frame, result)[0].tolist()
        [[0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    """
    left, top = result.box[0] - result.region[0], result.box[1] - result.region[1]
    right, bottom = result.box[2] - result.region[0], result.box[3] - result.region[1]
    edited = result.output[:, top:bottom, left:right]
    if result.mask is not None:
        # output = m·edit + (1−m)·input, so over a canvas that differs from the input (other faces already
        # pasted) the edit goes on top of the canvas with the same weights; where m is 0 it stays bit for bit.
        canvas = crop_to_tensor(original, result.box).to(edited.device)
        blended = edited + (1 - result.mask) * (canvas - result.input[:, top:bottom, left:right])
        edited = torch.where(result.mask > 0, blended, canvas)
    return paste(original, edited, result.box[0], result.box[1])


def paste_in_groups(sizes: Sequence[int]) -> Callable[[PreparedFace, EditResult], Any]:
    """A ``finish`` for [`run_jobs`][ganimation_lib.inference.pipeline.run_jobs] whose jobs come in groups of
    ``sizes`` consecutive edits of one image (its faces, towards one target).

    It pastes each edit into the group's image and returns the finished image after the last edit of a group,
    ``None`` before it: drop the ``None`` items of what ``run_jobs`` returns.
    """
    counts = iter(sizes)
    canvas: list[Any] = [None]
    left = [0]

    def finish(face: PreparedFace, result: EditResult) -> Any:
        if left[0] == 0:
            canvas[0], left[0] = face.original, next(counts)
        canvas[0] = paste_result(canvas[0], result)
        left[0] -= 1
        return canvas[0] if left[0] == 0 else None

    return finish


def paste_results(original: ImageT, results: Sequence[EditResult]) -> ImageT:
    """``original`` with every result pasted in, one after the other (the edits of several faces of one image).

    Raises:
        ValueError: If ``results`` is empty.
    """
    if not results:
        raise ValueError("paste_results needs at least one EditResult")
    canvas = original
    for result in results:
        canvas = paste_result(canvas, result)
    return canvas


def paste_back(face: PreparedFace, result: EditResult) -> Any:
    """[`paste_result`][ganimation_lib.inference.pasting.paste_result] into the face's original image: the ``finish``
    of edits that return images."""
    return paste_result(face.original, result)
