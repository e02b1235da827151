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
from typing import Any

from torch import Tensor, nn

from ..aus import AU_NAMES
from .drive import DriveSource, read_drive
from .expression_targets import Easing, Target, keyframe_path, resolve_targets, smooth_aus
from .images import ImageT
from .pipeline import as_generator, au_layout, check_feather, paste_back, prepare_face, run_jobs

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
        feather: Width of the blend at the box edges, as a fraction of the box's shorter side.
        batch_size: Frames per generator forward.
        progress: Show a progress bar (needs tqdm).
        au_names: The generator's AU layout, for dicts, presets and drive files; default:
            ``generator.au_names`` when the saved model recorded them, else the 17 OpenFace AUs.

    Returns:
        The frames, each of the input's type and size.

    Raises:
        ValueError: When both or neither of ``keyframes`` and ``drive`` are given, and for any bad target,
            drive file, box or image (a PIL image above 50 megapixels or that does not decode, named).
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
    face = prepare_face(image, box, feather, model.config.image_size, device)
    jobs = [(0, row) for row in aus]
    frames: list[Any] = run_jobs(generator, [face], jobs, batch_size, progress, paste_back, desc="animating")
    return frames
