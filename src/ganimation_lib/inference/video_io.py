"""Reading and writing videos with PyAV (the optional extra ``pip install 'ganimation_lib[video]'``).

[`read_frames`][ganimation_lib.inference.video_io.read_frames] decodes a video frame by frame as RGB PIL images and
[`write_video`][ganimation_lib.inference.video_io.write_video] encodes frames as they come, so a long video never
sits in memory. [`probe_video`][ganimation_lib.inference.video_io.probe_video] reads what a video is (size, frame
rate, audio). Only the first video stream is read; audio, subtitles and the display rotation of phone videos are
not carried over (the frames are edited as stored). A video with a variable frame rate is written at its average
rate, one output frame per input frame. ``av`` is imported only when a video is read or written, so the library
imports without it; without it these raise
[`VideoExtraMissingError`][ganimation_lib.inference.video_io.VideoExtraMissingError].
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

from PIL import Image

from ..data.errors import DataFormatError
from .visuals import atomic_file

__all__ = [
    "VIDEO_INSTALL_HINT",
    "VIDEO_SUFFIXES",
    "VIDEO_WRITE_SUFFIXES",
    "VideoExtraMissingError",
    "VideoInfo",
    "check_encoder",
    "import_av",
    "is_video_path",
    "probe_video",
    "read_frames",
    "write_video",
]

VIDEO_INSTALL_HINT = "pip install 'ganimation_lib[video]'"
"""The command that installs PyAV."""

#: Files read as videos, by suffix (lower case). A ``.gif`` stays an image: Pillow reads it.
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mpg", ".mpeg")
#: Containers `write_video` writes.
VIDEO_WRITE_SUFFIXES: tuple[str, ...] = (".mp4", ".mov", ".mkv")


class VideoExtraMissingError(ImportError):
    """PyAV, which reads and writes videos, is not installed; the message says what to install."""


def import_av() -> ModuleType:
    """The ``av`` module.

    Raises:
        VideoExtraMissingError: If PyAV is not installed.
    """
    try:
        return importlib.import_module("av")
    except ImportError as error:
        raise VideoExtraMissingError(f"videos need PyAV: {VIDEO_INSTALL_HINT}") from error


def is_video_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a video by its suffix (`VIDEO_SUFFIXES`).

    Examples:
        >>> is_video_path("clip.MP4"), is_video_path("face.gif")
        (True, False)
    """
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds.

    Attributes:
        width: Frame width in pixels.
        height: Frame height in pixels.
        fps: The average frame rate (frames per second, exact).
        frames: The frame count the container states, or ``None`` when it does not say (count by decoding).
        codec: The video codec's name.
        has_audio: Whether the file has an audio stream (it is not carried over).
    """

    width: int
    height: int
    fps: Fraction
    frames: int | None
    codec: str
    has_audio: bool


def _open(av: ModuleType, path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise DataFormatError(f"not a video PyAV can read ({error})", path=path) from None
    if not container.streams.video:
        container.close()
        raise DataFormatError("has no video stream", path=path)
    return container


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Size, frame rate, frame count and audio of a video, without decoding it.

    Raises:
        VideoExtraMissingError: Without PyAV.
        FileNotFoundError: If the file does not exist.
        DataFormatError: If it is not a video PyAV can read, has no video stream or no frame rate.
    """
    av, file = import_av(), Path(path)
    with _open(av, file) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or rate <= 0:
            raise DataFormatError("states no frame rate", path=file)
        context = stream.codec_context
        return VideoInfo(
            width=int(context.width),
            height=int(context.height),
            fps=Fraction(rate),
            frames=int(stream.frames) or None,
            codec=str(context.name),
            has_audio=bool(container.streams.audio),
        )


def read_frames(path: str | os.PathLike[str]) -> Iterator[Image.Image]:
    """Decode the first video stream of ``path`` frame by frame, as RGB PIL images in display order.

    Raises:
        VideoExtraMissingError: Without PyAV.
        FileNotFoundError: If the file does not exist.
        DataFormatError: If it is not a readable video, or decoding fails part of the way (a truncated file).
    """
    av, file = import_av(), Path(path)
    with _open(av, file) as container:
        try:
            for frame in container.decode(video=0):
                yield frame.to_image()
        except av.FFmpegError as error:
            raise DataFormatError(f"decoding failed part of the way ({error})", path=file) from None


def check_encoder(codec: str, crf: int | None) -> None:
    """Raise a ``ValueError`` unless ``codec`` is a video encoder of this PyAV build and ``crf`` is 0-51 or ``None``.

    Raises:
        VideoExtraMissingError: Without PyAV.
    """
    av = import_av()
    if crf is not None and (isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 51):
        raise ValueError(f"crf={crf!r} must be a whole number from 0 (lossless) to 51, or None")
    try:
        found = av.codec.Codec(codec, "w")
    except (av.FFmpegError, ValueError):
        found = None
    if found is None or found.type != "video":
        raise ValueError(f"codec={codec!r} is not a video encoder of this PyAV build; try 'libx264' or 'ffv1'")


def _pixel_format(av: ModuleType, codec: str, width: int, height: int) -> str:
    if codec == "libx264":  # 4:2:0 chroma needs even sides; 4:4:4 takes any size
        return "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    if codec == "libx264rgb":
        return "rgb24"
    if codec == "ffv1":
        return "bgr0"  # lossless RGB
    formats = av.codec.Codec(codec, "w").video_formats
    return str(formats[0].name) if formats else "yuv420p"


def write_video(
    frames: Iterable[Image.Image],
    path: str | os.PathLike[str],
    *,
    fps: Fraction | float,
    codec: str = "libx264",
    crf: int | None = 18,
) -> int:
    """Encode ``frames`` (RGB PIL images of one size) as they come into a video file; return how many were written.

    The file is written under a temporary name and moved into place when the last frame is in, so an interrupted
    run leaves no half video.

    Args:
        frames: The frames, in order (an iterator is consumed one frame at a time).
        path: A ``.mp4``, ``.mov`` or ``.mkv`` file.
        fps: The frame rate.
        codec: An FFmpeg encoder: ``"libx264"`` (H.264, default; 4:2:0 chroma, 4:4:4 for odd sizes),
            ``"libx264rgb"`` or ``"ffv1"`` (lossless RGB, ``.mkv``), or any other video encoder of the PyAV build.
        crf: H.264 quality for the ``libx264`` encoders: 0 lossless, 18 (default) visually lossless, 23 x264's own
            default, 51 worst; ``None`` for the encoder's default. Ignored by other encoders.

    Raises:
        VideoExtraMissingError: Without PyAV.
        ValueError: For another suffix, an unknown encoder, a bad rate or ``crf``, no frames, or frames of
            different sizes.
    """
    av, target = import_av(), Path(path)
    if target.suffix.lower() not in VIDEO_WRITE_SUFFIXES:
        raise ValueError(f"cannot write a video to {target.name!r}: use a {', '.join(VIDEO_WRITE_SUFFIXES)} file")
    rate = Fraction(fps).limit_denominator(100_000) if isinstance(fps, (int, float, Fraction)) else None
    if rate is None or not rate > 0:
        raise ValueError(f"fps={fps!r} must be a positive frame rate")
    check_encoder(codec, crf)
    count = 0
    with atomic_file(target) as tmp, av.open(str(tmp), mode="w") as container:
        stream: Any = None
        for image in frames:
            if stream is None:
                stream = container.add_stream(codec, rate=rate)
                stream.width, stream.height = image.size
                stream.pix_fmt = _pixel_format(av, codec, *image.size)
                if crf is not None and codec.startswith("libx264"):
                    stream.options = {"crf": str(crf)}
            elif image.size != (stream.width, stream.height):
                raise ValueError(f"frame {count} is {image.size}, the first frames {(stream.width, stream.height)}")
            for packet in stream.encode(av.VideoFrame.from_image(image.convert("RGB"))):
                container.mux(packet)
            count += 1
        if stream is None:
            raise ValueError("no frames to write")
        for packet in stream.encode():
            container.mux(packet)
    return count
