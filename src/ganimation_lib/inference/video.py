"""Editing every frame of a video: one expression or an AU sequence, faces followed with smoothed alignment.

[`edit_video`][ganimation_lib.inference.video.edit_video] reads a video twice, so that it never holds more than a
batch of frames:

1. **Finding.** The finder runs on the frames (every ``detect_every``-th), and
   [`track_faces`][ganimation_lib.inference.video_tracking.track_faces] joins the faces into tracks, bridges short
   misses and smooths each face's box and landmarks over time with a centred window (no lag), so the aligned crop
   does not jitter ([`video_tracking`][ganimation_lib.inference.video_tracking]).
2. **Editing.** Each frame's smoothed faces are aligned, edited and pasted back exactly as
   [`edit_batch`][ganimation_lib.inference.edit.edit_batch] does for photos (``batch_size`` faces per forward), and
   the frames are encoded as they come ([`video_io`][ganimation_lib.inference.video_io]). Frames with no face
   followed are written unchanged and counted in the [`VideoReport`][ganimation_lib.inference.video.VideoReport].

The output has the input's frame count, frame rate and size; audio is not carried over (the report says when
there was some).

Examples:
    >>> fit_drive(torch.tensor([[0.0], [1.0]]), 3, "stretch")[0].flatten().tolist()
    [0.0, 0.5, 1.0]
    >>> fit_drive(torch.tensor([[0.0], [1.0]]), 3, "hold")
    (tensor([[0.],
            [1.],
            [1.]]), 'the drive has 2 rows for 3 frames: its last row is held for the last 1')
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal, TypeAlias

import torch
from PIL import Image
from torch import Tensor, nn

from ..data.errors import DataFormatError
from ..faces.dlib_finder import DlibFaceFinder
from ..faces.face import Face, FaceFinder
from ..faces.selection import NoFaceFoundError, select_faces
from .drive import DriveSource, read_drive
from .edit import edit_batch
from .expression_targets import Target, resolve_target, smooth_aus
from .pipeline import as_generator, au_layout, check_feather, progress_bar
from .video_io import VIDEO_WRITE_SUFFIXES, check_encoder, probe_video, read_frames, write_video
from .video_tracking import FaceTrack, TrackingOptions, faces_per_frame, select_tracks, track_faces

__all__ = ["DRIVE_FITS", "DriveFit", "VideoReport", "edit_video", "fit_drive"]

DriveFit: TypeAlias = Literal["hold", "loop", "stretch", "exact"]
#: How a drive of another length than the video is fitted to it (see `fit_drive`).
DRIVE_FITS: tuple[str, ...] = ("hold", "loop", "stretch", "exact")


def fit_drive(aus: Tensor, frames: int, how: DriveFit = "hold") -> tuple[Tensor, str | None]:
    """One AU row per video frame from a drive of ``len(aus)`` rows, and a note when the lengths differ.

    ``"hold"`` (default) plays one row per frame, as an animation does: a longer drive is cut, a shorter one holds
    its last row. ``"loop"`` starts the drive again, ``"stretch"`` resamples it (linear interpolation) to the
    video's length, changing its speed, and ``"exact"`` refuses another length.

    Raises:
        ValueError: For ``"exact"`` and another length, or an unknown ``how``.
    """
    if how not in DRIVE_FITS:
        raise ValueError(f"drive_fit={how!r} must be one of {', '.join(DRIVE_FITS)}")
    rows = len(aus)
    if rows == frames:
        return aus, None
    counts = f"the drive has {rows} rows for {frames} frames"
    if how == "exact":
        raise ValueError(
            f"{counts}; give a drive of {frames} rows, or fit it: hold (its last row), loop or stretch "
            "(drive_fit=, --drive-fit)"
        )
    if how == "stretch":
        position = torch.linspace(0, rows - 1, frames) if frames > 1 else torch.zeros(1)
        low = position.floor().long().clamp(max=rows - 1)
        high = (low + 1).clamp(max=rows - 1)
        weight = (position - low)[:, None]
        return aus[low] * (1 - weight) + aus[high] * weight, f"{counts}: stretched to the video's length"
    if how == "loop":
        return aus[torch.arange(frames) % rows], f"{counts}: looped"
    if rows > frames:
        return aus[:frames], f"{counts}: its first {frames} rows are used"
    held = aus[-1:].expand(frames - rows, -1)
    return torch.cat([aus, held]), f"{counts}: its last row is held for the last {frames - rows}"


@dataclass(frozen=True)
class VideoReport:
    """What [`edit_video`][ganimation_lib.inference.video.edit_video] did.

    Attributes:
        path: The video written.
        frames: Frames read and written (the same number).
        fps: The frame rate (the input's average rate).
        width: Frame width in pixels.
        height: Frame height in pixels.
        faces: Faces followed through the video (tracks kept); 1 for a fixed box or the whole frame.
        frames_edited: Frames with at least one face edited.
        frames_untouched: Frames written unchanged: no face followed there (not found, or missed for longer than
            ``max_gap`` frames).
        frames_bridged: Frames where a face the finder missed was edited where its track says it is.
        audio_dropped: Whether the input had audio, which is not carried over.
        drive_note: How a drive of another length was fitted to the video, or ``None``.
        tracks: The tracks followed (with their raw and smoothed boxes), empty without face finding.
    """

    path: Path
    frames: int
    fps: Fraction
    width: int
    height: int
    faces: int
    frames_edited: int
    frames_untouched: int
    frames_bridged: int
    audio_dropped: bool
    drive_note: str | None = None
    tracks: tuple[FaceTrack, ...] = ()

    def summary(self) -> str:
        """One line for people, e.g. ``60 frames, 320x240 at 15 fps; 1 face followed; 60 edited``."""
        fps = f"{float(self.fps):.3g}"
        parts = [f"{self.frames} frames, {self.width}x{self.height} at {fps} fps"]
        parts.append(f"{self.faces} face{'s' if self.faces != 1 else ''} followed; {self.frames_edited} frames edited")
        if self.frames_untouched:
            parts.append(f"{self.frames_untouched} without a face left unchanged")
        if self.frames_bridged:
            parts.append(f"{self.frames_bridged} bridged over a missed face")
        if self.audio_dropped:
            parts.append("audio not carried over")
        if self.drive_note:
            parts.append(self.drive_note)
        return "; ".join(parts)


def _find(
    src: Path, finder: FaceFinder, options: TrackingOptions, min_face_size: float, total: int | None, progress: bool
) -> list[list[Face] | None]:
    """The faces of every searched frame (``None`` for frames skipped by ``detect_every``), the last one included."""
    detections: list[list[Face] | None] = []
    last: Image.Image | None = None
    with progress_bar(total, progress, "finding faces") as bar:
        for number, frame in enumerate(read_frames(src)):
            searched = number % options.detect_every == 0
            detections.append([f for f in finder(frame) if f.width >= min_face_size] if searched else None)
            last = None if searched else frame
            if bar is not None:
                bar.update(1)
    if last is not None:
        detections[-1] = [f for f in finder(last) if f.width >= min_face_size]
    return detections


def _check_frames(file: Path, frames: int) -> int:
    if frames == 0:
        raise DataFormatError("the video has no frames", path=file)
    return frames


def _bridged(tracks: Sequence[FaceTrack], detections: Sequence[list[Face] | None]) -> int:
    frames = set()
    for track in tracks:
        for k, box in enumerate(track.raw_boxes):
            if not math.isfinite(float(box[0])) and detections[track.first + k] is not None:
                frames.add(track.first + k)
    return len(frames)


def _edited_frames(
    generator: nn.Module,
    src: Path,
    aus: Tensor,
    faces: list[list[Face]] | None,
    box: Sequence[float] | None,
    feather: float,
    batch_size: int,
    progress: bool,
) -> Iterator[Image.Image]:
    """Decode, edit in chunks and yield every frame in order (frames without a face unchanged)."""
    chunk: list[tuple[int, Image.Image]] = []

    def flush() -> Iterator[Image.Image]:
        todo = [(n, frame) for n, frame in chunk if faces is None or faces[n]]
        done: dict[int, Image.Image] = {}
        if todo:
            edited = edit_batch(
                generator,
                [frame for _, frame in todo],
                aus[[n for n, _ in todo]],
                boxes=None if box is None else [box] * len(todo),
                faces=None if faces is None else [faces[n] for n, _ in todo],
                feather=feather,
                batch_size=batch_size,
            )
            done = {n: image for (n, _), image in zip(todo, edited, strict=True)}
        for n, frame in chunk:
            yield done.get(n, frame)

    count = 0
    with progress_bar(len(aus), progress, "editing video") as bar:
        for frame in read_frames(src):
            if count == len(aus):
                raise ValueError(f"{src} gave more frames on the second reading than the {len(aus)} of the first")
            chunk.append((count, frame))
            count += 1
            if len(chunk) == batch_size:
                yield from flush()
                chunk.clear()
                if bar is not None:
                    bar.update(batch_size)
        yield from flush()
        if bar is not None:
            bar.update(len(chunk))
    if count != len(aus):
        raise ValueError(f"{src} gave {count} frames on the second reading but {len(aus)} on the first")


def edit_video(
    generator: nn.Module,
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    target: Target | None = None,
    *,
    drive: DriveSource | None = None,
    drive_fit: DriveFit = "hold",
    smooth: int = 0,
    source: Target | None = None,
    box: Sequence[float] | None = None,
    faces: Literal["auto"] | Sequence[Face] | None = "auto",
    finder: FaceFinder | None = None,
    face_index: int | None = None,
    largest: bool = False,
    min_face_size: float = 0,
    tracking: TrackingOptions | None = None,
    feather: float = 0.1,
    codec: str = "libx264",
    crf: int | None = 18,
    batch_size: int = 16,
    progress: bool = False,
    au_names: Sequence[str] | None = None,
) -> VideoReport:
    """Edit the faces in every frame of the video ``src`` towards ``target`` (or along ``drive``); write ``dst``.

    Args:
        generator: A [`Generator`][ganimation_lib.models.generator.Generator] (or an EMA copy) on any device.
        src: The video (any container and codec FFmpeg reads; needs ``pip install 'ganimation_lib[video]'``).
        dst: The edited video: ``.mp4``, ``.mov`` or ``.mkv``.
        target: One target for every frame: an AU vector, a ``{AU: raw intensity}`` dict or a preset.
        drive: Instead of ``target``, an AU sequence, one row per frame (an OpenFace sequence CSV, an
            ``attributes.txt`` or a (frames, num_aus) array; see
            [`read_drive`][ganimation_lib.inference.drive.read_drive]).
        drive_fit: A drive of another length than the video: ``"hold"`` its last row (a longer one is cut),
            ``"loop"``, ``"stretch"`` or ``"exact"`` (refuse); see
            [`fit_drive`][ganimation_lib.inference.video.fit_drive].
        smooth: Moving-average window (frames) over the drive's AUs.
        source: The faces' own AUs, which a dict target starts from (default neutral).
        box: A fixed face box ``(left, top, right, bottom)`` edited in every frame instead of finding faces.
        faces: ``"auto"`` (default) finds the faces with ``finder`` and follows them; a sequence of
            [`Face`][ganimation_lib.faces.face.Face] objects is used in every frame; ``None`` edits each whole
            frame as one face (an aligned crop video). Ignored with ``box``.
        finder: The [`FaceFinder`][ganimation_lib.faces.face.FaceFinder]; default the built-in
            [`DlibFaceFinder`][ganimation_lib.faces.dlib_finder.DlibFaceFinder] (``faces`` extra).
        face_index: Edit only this face: with ``"auto"`` the ``face_index``-th track from the left.
        largest: Edit only the largest face (with ``"auto"``: the track with the largest median box).
        min_face_size: Skip faces narrower than this many pixels.
        tracking: Detection interval, gap, smoothing and short-track settings (default `TrackingOptions()`).
        feather: Blend width at the crop's edges, as a fraction of its side (0 = hard).
        codec: The encoder (see [`write_video`][ganimation_lib.inference.video_io.write_video]).
        crf: H.264 quality (0 lossless, 18 default).
        batch_size: Faces per generator forward (and frames decoded at a time).
        progress: Show progress bars (needs tqdm).
        au_names: The generator's AU layout, for dicts, presets and drive files.

    Returns:
        A [`VideoReport`][ganimation_lib.inference.video.VideoReport].

    Raises:
        VideoExtraMissingError: Without PyAV (an ``ImportError`` naming ``pip install 'ganimation_lib[video]'``).
        FacesExtraMissingError: With ``faces="auto"`` and no ``finder``, without the ``faces`` extra.
        NoFaceFoundError: When no face is followed in any frame (the message suggests ``box``).
        DataFormatError: For a file that is not a readable video.
        ValueError: For both or neither of ``target`` and ``drive``, a drive that does not fit with ``"exact"``,
            another output suffix, or any bad target, box or option.
    """
    model = as_generator(generator)
    check_feather(feather)
    if Path(dst).suffix.lower() not in VIDEO_WRITE_SUFFIXES:
        raise ValueError(f"cannot write a video to {Path(dst).name!r}: use a {', '.join(VIDEO_WRITE_SUFFIXES)} file")
    if (target is None) == (drive is None):
        raise ValueError(
            f"give either target (one expression for every frame) or drive (an AU sequence), not "
            f"{'both' if target is not None else 'neither'}"
        )
    if isinstance(faces, str) and faces != "auto":
        raise ValueError(f"faces must be 'auto', a sequence of Face objects or None, got {faces!r}")
    if finder is not None and (box is not None or faces != "auto"):
        raise ValueError("finder= is used with faces='auto' and no box; leave it out here")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    tracking = TrackingOptions() if tracking is None else tracking
    layout = au_layout(model, au_names)
    info, file = probe_video(src), Path(src)
    check_encoder(codec, crf)  # bad settings are said before the long passes
    if target is not None:
        rows = resolve_target(target, model.num_aus, source=source, au_names=layout)[None]
    else:
        assert drive is not None  # one of the two, checked above
        rows = smooth_aus(read_drive(drive, model.num_aus, au_names=layout), smooth)
    if drive is not None and info.frames is not None:
        fit_drive(rows, info.frames, drive_fit)  # an "exact" mismatch is said before the long pass
    tracks: list[FaceTrack] = []
    per_frame: list[list[Face]] | None = None
    detections: list[list[Face] | None] = []
    if box is None and faces == "auto":
        chosen = finder if finder is not None else DlibFaceFinder()
        detections = _find(file, chosen, tracking, min_face_size, info.frames, progress)
        frames = _check_frames(file, len(detections))
        tracks = select_tracks(track_faces(detections, tracking), index=face_index, largest=largest)
        if not tracks:
            found = sum(len(d) for d in detections if d)
            raise NoFaceFoundError(
                f"{file}: no face followed through its {frames} frames ({found} faces found, none of them in "
                f"{min(tracking.min_track, frames)} frames as one track); give a fixed box (box=, --box), or lower "
                "TrackingOptions.min_track"
            )
        per_frame = faces_per_frame(tracks, frames)
    else:
        given = None if box is not None or faces is None or isinstance(faces, str) else list(faces)
        if given is not None:
            given = select_faces(given, index=face_index, largest=largest, min_size=min_face_size)
        elif face_index is not None or largest or min_face_size:
            raise ValueError("face_index, largest and min_face_size choose among faces: use them with faces=")
        frames = _check_frames(file, sum(1 for _ in read_frames(file)))  # containers' counts can be wrong
        per_frame = None if given is None else [list(given) for _ in range(frames)]
    aus, note = fit_drive(rows, frames, drive_fit) if drive is not None else (rows.expand(frames, -1), None)
    write_video(
        _edited_frames(generator, file, aus, per_frame, box, feather, batch_size, progress),
        dst,
        fps=info.fps,
        codec=codec,
        crf=crf,
    )
    edited = frames if per_frame is None else sum(1 for f in per_frame if f)
    return VideoReport(
        path=Path(dst),
        frames=frames,
        fps=info.fps,
        width=info.width,
        height=info.height,
        faces=len(tracks) if tracks else (1 if per_frame is None else len(per_frame[0])),
        frames_edited=edited,
        frames_untouched=frames - edited,
        frames_bridged=_bridged(tracks, detections),
        audio_dropped=info.has_audio,
        drive_note=note,
        tracks=tuple(tracks),
    )
