"""Animating one face: through keyframe expressions, or driven by another face's AU sequence.

Every frame is an [`edit`][ganimation_lib.inference.edit.edit] of the same input towards one point of an AU path;
the input is cropped and resized once, and frames go through the generator ``batch_size`` at a time.

Examples:
    >>> import torch
    >>> from ganimation_lib import Generator, GeneratorConfig
    >>> g = Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0))
    >>> frames = animate(g, torch.zeros(3, 16, 16), ["neutral", "happy", "surprise"], frames_per_transition=4)
    >>> len(frames)  # 2 transitions x 4 frames + the last keyframe
    9
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from torch import Tensor, nn

from ..aus import AU_NAMES
from ..faces.face import Face, FaceFinder
from .aligned import prepare_images
from .drive import DriveSource, read_drive
from .expression_targets import Easing, Target, keyframe_path, resolve_targets, smooth_aus
from .images import ImageT
from .pasting import paste_in_groups
from .pipeline import as_generator, au_layout, check_feather, face_crop_of, run_jobs

__all__ = ["animate", "animation_aus"]


def animation_aus(
    num_aus: int,
    keyframes: Sequence[Target] | Tensor | None = None,
    *,
    frames_per_transition: int = 16,
    easing: Easing = "linear",
    drive: DriveSource | None = None,
    smooth: int = 0,
    source: Target | None = None,
    au_names: Sequence[str] = AU_NAMES,
) -> Tensor:
    """Return the (frames, num_aus) AU path that [`animate`][ganimation_lib.inference.animate.animate] renders, one row
    per frame.

    Exactly one of ``keyframes`` and ``drive`` must be given; see [`animate`][ganimation_lib.inference.animate.animate]
    for the arguments.

    Examples:
        >>> import torch
        >>> animation_aus(17, ["neutral", "happy"], frames_per_transition=8).shape
        torch.Size([9, 17])
        >>> animation_aus(2, drive=torch.tensor([[0.0, 0.0], [0.3, 0.6], [0.0, 0.0]]), smooth=3)[1]
        tensor([0.1000, 0.2000])
    """
    if (keyframes is None) == (drive is None):
        raise ValueError(
            "give either keyframes (expressions to move through) or drive (an AU sequence to follow), not "
            f"{'both' if keyframes is not None else 'neither'}"
        )
    if drive is not None:
        aus = read_drive(drive, num_aus, au_names=au_names)
        return smooth_aus(aus, smooth)
    assert keyframes is not None
    if not isinstance(keyframes, Tensor) and (isinstance(keyframes, (str, dict)) or len(keyframes) == 0):
        raise ValueError(f"keyframes must be a non-empty sequence of targets, got {keyframes!r}")
    if isinstance(keyframes, Tensor) and keyframes.dim() != 2:
        raise ValueError(f"keyframes as a tensor must have shape (K, num_aus), got {tuple(keyframes.shape)}")
    vectors = resolve_targets(list(keyframes), num_aus, source=source, au_names=au_names)
    return smooth_aus(keyframe_path(vectors, frames_per_transition, easing), smooth)


def animate(
    generator: nn.Module,
    image: ImageT,
    keyframes: Sequence[Target] | Tensor | None = None,
    *,
    frames_per_transition: int = 16,
    easing: Easing = "linear",
    drive: DriveSource | None = None,
    smooth: int = 0,
    source: Target | None = None,
    box: Sequence[float] | None = None,
    faces: Literal["auto"] | Sequence[Face] | None = None,
    finder: FaceFinder | None = None,
    face_index: int | None = None,
    largest: bool = False,
    min_face_size: float = 0,
    feather: float = 0.1,
    batch_size: int = 16,
    progress: bool = False,
    au_names: Sequence[str] | None = None,
) -> list[ImageT]:
    """Animate a face through keyframe expressions, or make it mimic an AU sequence.

    Args:
        generator: A [`Generator`][ganimation_lib.models.generator.Generator] (or an EMA copy); run in eval mode under
            ``torch.inference_mode``, then put back in its previous mode.
        image: The face (PIL, NumPy or tensor), or a photo with ``box`` around the face. A PIL image's EXIF
            orientation is applied, as in [`edit`][ganimation_lib.inference.edit.edit].
        keyframes: Expressions to move through, in order: AU vectors, ``{AU: raw intensity}`` dicts or
            presets (``"happy"``, ``"happy:0.5"``, ``Expression``); a (K, num_aus) tensor also works.
        frames_per_transition: Frames from one keyframe to the next; the animation has
            ``(K - 1) * frames_per_transition + 1`` frames, starting and ending exactly on the first and last
            keyframes.
        easing: ``"linear"`` or ``"ease"`` (cosine ease-in-out: the face pauses on each keyframe).
        drive: Instead of keyframes, an AU sequence to follow, one frame per row in frame order: an
            OpenFace sequence CSV, an ``attributes.txt`` file, or a (frames, num_aus) normalised tensor/array.
        smooth: Moving-average window (frames) applied to the AU path over time; 0 or 1 for none.
        source: The face's own AUs, which dict keyframes start from (default: neutral).
        box: The face ``(left, top, right, bottom)`` in a larger photo (see
            [`edit`][ganimation_lib.inference.edit.edit]).
        faces: ``"auto"`` or [`Face`][ganimation_lib.faces.face.Face] objects: animate every face, each aligned
            to the model's crop, all of them through the same expressions (see
            [`edit`][ganimation_lib.inference.edit.edit]). Not with ``box``.
        finder: The [`FaceFinder`][ganimation_lib.faces.face.FaceFinder] of ``faces="auto"``.
        face_index: Animate only this face (0 is the first).
        largest: Animate only the face with the largest box.
        min_face_size: Skip faces whose box is narrower than this many pixels.
        feather: Width of the blend at the edges, as a fraction of the box's shorter side, or with ``faces`` of
            the aligned crop's side.
        batch_size: Faces per generator forward (frames times faces in all).
        progress: Show a progress bar (needs tqdm).
        au_names: The generator's AU layout, for dicts, presets and drive files; default:
            ``generator.au_names`` when the saved model recorded them, else the 17 OpenFace AUs.

    Returns:
        The frames, each of the input's type and size.

    Raises:
        ValueError: When both or neither of ``keyframes`` and ``drive`` are given, and for any bad target,
            drive file, box or image (a PIL image above 50 megapixels or that does not decode, named), and
            for both ``box`` and ``faces``.
        NoFaceFoundError: With ``faces``, when there is no face to animate (the message suggests ``box=``).
        FacesExtraMissingError: With ``faces="auto"`` and no ``finder``, when the ``faces`` extra is missing.
    """
    model = as_generator(generator)
    check_feather(feather)
    aus = animation_aus(
        model.num_aus,
        keyframes,
        frames_per_transition=frames_per_transition,
        easing=easing,
        drive=drive,
        smooth=smooth,
        source=source,
        au_names=au_layout(model, au_names),
    )
    device = next(generator.parameters()).device
    (prepared,) = prepare_images(
        [image],
        boxes=None if box is None else [box],
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
    jobs = [(k, row) for row in aus for k in range(len(prepared))]
    finish = paste_in_groups([len(prepared)] * len(aus))
    done: list[Any] = run_jobs(generator, prepared, jobs, batch_size, progress, finish, desc="animating")
    return [frame for frame in done if frame is not None]
