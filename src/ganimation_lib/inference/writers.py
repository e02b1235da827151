"""Writing results: GIFs (Pillow), MP4 (PyAV, optional), PNG frames and a side-by-side view.

One image is written by [`save_image`][ganimation_lib.inference.visuals.save_image] (re-exported here), which
the frames go through as well.

Every file is written to a temporary name in the destination folder and moved into place with
``os.replace``, so an interrupted run never leaves half a GIF under the final name.

Examples:
    >>> import tempfile, torch
    >>> from PIL import Image
    >>> frames = [torch.full((3, 8, 8), v) for v in (-1.0, 0.0, 1.0)]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save_gif(frames, f"{tmp}/a.gif", duration=50)
    ...     Image.open(path).n_frames
    3
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .edit import EditResult
from .images import ImageLike, to_pil
from .video_io import VideoExtraMissingError, write_video
from .visuals import as_pil, atomic_file, save_image

__all__ = [
    "ANIMATION_SUFFIXES",
    "attention_heatmap",
    "save_animation",
    "save_frames",
    "save_gif",
    "save_image",
    "save_mp4",
    "side_by_side",
]

#: What [`save_animation`][ganimation_lib.inference.writers.save_animation] writes, by the output's suffix (a path
#: without a suffix is a PNG folder).
ANIMATION_SUFFIXES: tuple[str, ...] = (".gif", ".mp4")

_VIDEO_HINT = "MP4 output needs PyAV: pip install 'ganimation_lib[video]' (or write a .gif or a PNG folder)"


def _check_frames(frames: Sequence[ImageLike]) -> list[Image.Image]:
    if isinstance(frames, (str, bytes, Tensor, np.ndarray, Image.Image)) or len(frames) == 0:
        raise ValueError("frames must be a non-empty sequence of images (for a batch tensor use list(batch))")
    images = [as_pil(f) for f in frames]
    sizes = {im.size for im in images}
    if len(sizes) > 1:
        raise ValueError(f"all frames must have the same size, got {sorted(sizes)}")
    return images


def save_gif(
    frames: Sequence[ImageLike],
    path: str | os.PathLike[str],
    *,
    duration: float = 80.0,
    loop: int | None = 0,
) -> Path:
    """Write frames as an animated GIF with Pillow.

    Pillow quantises each frame to an adaptive 256-colour palette, and merges a frame identical to the
    one before it into that frame (adding up their durations).

    Args:
        frames: Images of one size (PIL, NumPy or tensors).
        path: The ``.gif`` file.
        duration: Milliseconds each frame is shown.
        loop: Times the animation repeats: 0 forever, ``None`` to play once.

    Raises:
        ValueError: For no frames, frames of different sizes, or a non-positive duration.
    """
    images = _check_frames(frames)
    if not duration > 0:
        raise ValueError(f"duration={duration!r} must be a positive number of milliseconds per frame")
    options: dict[str, Any] = {"save_all": True, "append_images": images[1:], "duration": duration}
    if loop is not None:
        if isinstance(loop, bool) or not isinstance(loop, int) or loop < 0:
            raise ValueError(f"loop={loop!r} must be 0 (forever), a positive repeat count or None (play once)")
        options["loop"] = loop
    with atomic_file(path) as tmp:
        images[0].save(tmp, format="GIF", **options)
    return Path(path)


def save_mp4(frames: Sequence[ImageLike], path: str | os.PathLike[str], *, fps: float = 25.0) -> Path:
    """Write frames as an H.264 MP4 with PyAV (``pip install 'ganimation_lib[video]'``), through
    [`write_video`][ganimation_lib.inference.video_io.write_video] (odd sizes are kept, with 4:4:4 chroma).

    Raises:
        ImportError: When PyAV is not installed (the message says how to install it).
        ValueError: For no frames, frames of different sizes, or a non-positive frame rate.
    """
    images = _check_frames(frames)
    if not fps > 0:
        raise ValueError(f"fps={fps!r} must be a positive frame rate")
    try:
        write_video(images, path, fps=fps)
    except VideoExtraMissingError as error:
        raise VideoExtraMissingError(_VIDEO_HINT) from error
    return Path(path)


def save_frames(frames: Sequence[ImageLike], folder: str | os.PathLike[str], *, prefix: str = "frame_") -> list[Path]:
    """Write frames as numbered PNGs (``frame_0000.png``, ...) into ``folder`` (created if missing).

    A folder that already holds more frames of this name (an earlier, longer animation) is refused rather
    than left mixing two animations.

    Examples:
        >>> import tempfile, torch
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     [p.name for p in save_frames([torch.zeros(3, 4, 4)] * 2, tmp)]
        ['frame_0000.png', 'frame_0001.png']
    """
    images = _check_frames(frames)
    directory = Path(folder)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} exists and is not a folder; PNG frames need a folder")
    digits = max(4, len(str(len(images) - 1)))
    if directory.is_dir():
        pattern = re.compile(rf"{re.escape(prefix)}(\d+)\.png")
        stale = sorted(
            p.name for p in directory.iterdir() if (m := pattern.fullmatch(p.name)) and int(m[1]) >= len(images)
        )
        if stale:
            raise ValueError(
                f"{directory} already holds {stale[0]} and {len(stale) - 1} more frame(s) beyond the {len(images)} "
                "being written (an earlier animation); empty the folder or choose another one"
            )
    return [save_image(im, directory / f"{prefix}{i:0{digits}d}.png") for i, im in enumerate(images)]


def save_animation(
    frames: Sequence[ImageLike],
    path: str | os.PathLike[str],
    *,
    duration: float = 80.0,
    loop: int | None = 0,
) -> Path:
    """Write frames by the output's suffix: ``.gif`` (Pillow), ``.mp4`` (PyAV), none: a folder of PNGs.

    ``duration`` is the milliseconds per frame (the MP4 frame rate is ``1000 / duration``); ``loop``
    applies to GIFs.

    Raises:
        ValueError: For any other suffix.
        ImportError: For ``.mp4`` without PyAV.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".gif":
        return save_gif(frames, target, duration=duration, loop=loop)
    if suffix == ".mp4":
        return save_mp4(frames, target, fps=1000.0 / duration)
    if suffix == "":
        save_frames(frames, target)
        return target
    raise ValueError(
        f"cannot write an animation to {target.name!r}: use a .gif or .mp4 file, or a folder name (no suffix) "
        "for PNG frames"
    )


# Anchors of a perceptually ordered black-red-yellow-white ("hot") colour map.
_HOT = torch.tensor(
    [[0.0, 0.0, 0.0], [0.5, 0.0, 0.1], [0.9, 0.2, 0.0], [1.0, 0.7, 0.0], [1.0, 1.0, 0.9]], dtype=torch.float32
)


def attention_heatmap(attention: Tensor) -> Tensor:
    """Colour-map an attention mask (1, H, W) in [0, 1] to a (3, H, W) image in [-1, 1].

    The map shows ``1 - attention``: bright where the generator paints its colour, black where it keeps
    the input pixel.

    Examples:
        >>> attention_heatmap(torch.ones(1, 2, 2)).amax().item()  # everything kept: black
        -1.0
    """
    if attention.dim() != 3 or attention.shape[0] != 1:
        raise ValueError(f"attention must have shape (1, H, W), got {tuple(attention.shape)}")
    edit_amount = (1 - attention[0].detach().float().cpu()).clamp(0, 1)
    position = edit_amount * (len(_HOT) - 1)
    low = position.floor().long().clamp(max=len(_HOT) - 2)
    frac = (position - low)[..., None]
    rgb = _HOT[low] * (1 - frac) + _HOT[low + 1] * frac
    return rgb.permute(2, 0, 1) * 2 - 1


def side_by_side(result: EditResult, *, height: int | None = 256, gap: int = 4) -> Image.Image:
    """Lay out an edit for inspection: input | output | attention heat map | colour, left to right.

    Args:
        result: One item of [`edit_results`][ganimation_lib.inference.edit.edit_results].
        height: Panel height in pixels (nearest-neighbour scaled so pixels stay visible); ``None`` keeps
            the region's own size.
        gap: White pixels between panels.

    Examples:
        >>> from ganimation_lib import Generator, GeneratorConfig
        >>> from ganimation_lib.inference import edit_results
        >>> g = Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0))
        >>> side_by_side(edit_results(g, [torch.zeros(3, 16, 16)], "happy")[0], height=32, gap=2).size
        (134, 32)
    """
    panels = [result.input, result.output, attention_heatmap(result.attention), result.color]
    images = [to_pil(p.cpu()) for p in panels]
    if height is not None:
        if isinstance(height, bool) or not isinstance(height, int) or height < 1:
            raise ValueError(f"height={height!r} must be a positive number of pixels or None")
        w, h = images[0].size
        size = (max(1, round(w * height / h)), height)
        images = [im.resize(size, Image.Resampling.NEAREST) for im in images]
    w, h = images[0].size
    canvas = Image.new("RGB", (4 * w + 3 * gap, h), (255, 255, 255))
    for i, im in enumerate(images):
        canvas.paste(im, (i * (w + gap), 0))
    return canvas
