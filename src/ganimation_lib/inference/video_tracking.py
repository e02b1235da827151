"""Following faces through a video: detections joined into tracks, gaps bridged, paths smoothed without lag.

A finder run on every frame on its own gives boxes and landmarks that wobble by a few pixels from one frame to the
next, so the aligned crop, and with it the pasted edit, would jitter.
[`track_faces`][ganimation_lib.inference.video_tracking.track_faces] turns the detections of a whole video into
[`FaceTrack`][ganimation_lib.inference.video_tracking.FaceTrack] objects:

1. **Association.** Each detection joins the track whose last box overlaps it most (IoU at least ``min_iou``), or
   whose last centre is nearest (within half the box's width); greedily, best pairs first, one detection per track.
   A detection no track takes starts a new track.
2. **Gaps.** A track missed for at most ``max_gap`` frames between two of its detections is bridged by linear
   interpolation (the face is edited in those frames); a longer miss ends the track there, and the frames without
   a track are left untouched. Tracks are never extrapolated past their first or last detection.
3. **Smoothing.** Every coordinate of the box and the five landmarks is replaced by a Gaussian-weighted local linear
   fit over the track (standard deviation ``smooth`` frames, cut at 3·``smooth``). The window is centred, so there
   is no lag: a face moving at constant speed keeps its path exactly, up to the track's ends, where a plain
   moving average would pull it back. Frame-to-frame noise shrinks by about ``1 / sqrt(2·sqrt(pi)·smooth)``
   (0.38 at ``smooth=2``); a sudden head movement is rounded over about ``±2·smooth`` frames. The whole video is
   known before editing (two passes), which is what allows a centred window.
4. **Short tracks.** A track with fewer than ``min_track`` detections (a false detection for a frame or two) is
   dropped, so no background patch flickers with an edit.

Examples:
    >>> from ganimation_lib.faces import Face
    >>> def at(x):
    ...     marks = ((x + 12, 25), (x + 28, 25), (x + 20, 32), (x + 14, 40), (x + 26, 40))
    ...     return Face((x, 10, x + 40, 50), 1.0, marks)
    >>> tracks = track_faces([[at(10)], [at(12)], [], [at(16)], [at(18)]], TrackingOptions(smooth=1.0))
    >>> len(tracks), tracks[0].first, tracks[0].last, tracks[0].bridged
    (1, 0, 4, 1)
    >>> [round(tracks[0].face(t).box[0], 3) for t in range(5)]  # constant speed: kept exactly, gap bridged
    [10.0, 12.0, 14.0, 16.0, 18.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..config_mixin import is_finite_number
from ..faces.face import Face, Point

__all__ = ["FaceTrack", "TrackingOptions", "faces_per_frame", "select_tracks", "smooth_path", "track_faces"]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrackingOptions:
    """How faces are followed through a video (see [`video_tracking`][ganimation_lib.inference.video_tracking]).

    Attributes:
        detect_every: Run the finder on every ``detect_every``-th frame (and the last); the frames between are
            bridged like missed detections. 1 (default) finds faces in every frame.
        max_gap: The most frames in a row a track may go undetected and still be followed (bridged); a longer miss
            ends it. At least ``detect_every - 1``.
        smooth: Standard deviation, in frames, of the smoothing window; 0 for none.
        min_iou: The least overlap (intersection over union) of a detection with a track's last box for it to be
            the same face, unless its centre is within half the box's width of the track's.
        min_track: Tracks with fewer detections are dropped as false detections (lowered to the number of frames
            searched in a very short video).

    Raises:
        ValueError: For an option out of range.
    """

    detect_every: int = 1
    max_gap: int = 6
    smooth: float = 2.0
    min_iou: float = 0.3
    min_track: int = 3

    def __post_init__(self) -> None:
        for name in ("detect_every", "min_track"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be a whole number >= 1")
        gap = self.max_gap
        if isinstance(gap, bool) or not isinstance(gap, int) or gap < self.detect_every - 1:
            raise ValueError(
                f"max_gap={gap!r} must be a whole number of frames >= detect_every - 1 = {self.detect_every - 1} "
                "(the frames between two searched frames)"
            )
        if not is_finite_number(self.smooth) or not 0 <= self.smooth <= 100:
            raise ValueError(f"smooth={self.smooth!r} must be a number of frames in [0, 100] (0: no smoothing)")
        if not is_finite_number(self.min_iou) or not 0 < self.min_iou <= 1:
            raise ValueError(f"min_iou={self.min_iou!r} must be a fraction in (0, 1]")


@dataclass(frozen=True)
class FaceTrack:
    """One face followed through frames ``first`` to ``last`` (inclusive).

    Attributes:
        first: The first frame of the track.
        boxes: (n, 4) smoothed boxes, one per frame from ``first``.
        landmarks: (n, 5, 2) smoothed landmarks.
        raw_boxes: (n, 4) the boxes as detected, NaN in frames the finder did not find (or search) this face.
        confidence: (n,) the detections' scores, interpolated over bridged frames.
        bridged: Frames inside the track where it was not detected (bridged by interpolation).
    """

    first: int
    boxes: Array
    landmarks: Array
    raw_boxes: Array
    confidence: Array
    bridged: int

    @property
    def last(self) -> int:
        """The last frame of the track."""
        return self.first + len(self.boxes) - 1

    @property
    def detections(self) -> int:
        """How many frames the finder found this face in."""
        return int(np.isfinite(self.raw_boxes[:, 0]).sum())

    def face(self, frame: int) -> Face:
        """The smoothed face in ``frame`` (between ``first`` and ``last``).

        Raises:
            IndexError: For a frame outside the track.
        """
        if not self.first <= frame <= self.last:
            raise IndexError(f"frame {frame} is outside the track (frames {self.first} to {self.last})")
        k = frame - self.first
        left, top, right, bottom = (float(v) for v in self.boxes[k])
        box = (left, top, max(right, left + 1.0), max(bottom, top + 1.0))
        points: list[Point] = [(float(x), float(y)) for x, y in self.landmarks[k]]
        return Face(box, float(self.confidence[k]), (points[0], points[1], points[2], points[3], points[4]))


def _iou(a: Array, b: Array) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def _affinity(track_box: Array, box: Array, min_iou: float) -> float:
    """How well ``box`` continues a track whose last box is ``track_box``: above 0 if it may, higher is better."""
    iou = _iou(track_box, box)
    if iou >= min_iou:
        return 1.0 + iou
    distance = math.hypot(
        (box[0] + box[2] - track_box[0] - track_box[2]) / 2, (box[1] + box[3] - track_box[1] - track_box[3]) / 2
    )
    reach = 0.5 * (track_box[2] - track_box[0])
    return 1.0 - distance / reach if distance < reach else 0.0


def smooth_path(values: Array, sigma: float) -> Array:
    """Gaussian-weighted local linear fit of each column of ``values`` (n, ...) over its first axis.

    Rows with NaN are ignored (their neighbours still get a value if any row lies within ``3·sigma``). A straight
    line is kept exactly, ends included.

    Examples:
        >>> smooth_path(np.array([0.0, 1.0, 2.0, 3.0]), 2.0).round(6).tolist()
        [0.0, 1.0, 2.0, 3.0]
        >>> smooth_path(np.array([0.0, 1.0, 0.0, 1.0, 0.0]), 1.0).round(2).tolist()
        [0.14, 0.47, 0.49, 0.47, 0.14]
    """
    if sigma <= 0:
        return values.copy()
    n = len(values)
    flat = values.reshape(n, -1)
    reach = max(1, math.ceil(3 * sigma))
    offsets = np.arange(-reach, reach + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    out = np.full_like(flat, np.nan)
    for t in range(n):
        lo, hi = max(0, t - reach), min(n, t + reach + 1)
        window, d = flat[lo:hi], offsets[lo - t + reach : hi - t + reach]
        known = np.isfinite(window)
        w = np.where(known, kernel[lo - t + reach : hi - t + reach, None], 0.0)
        y = np.where(known, window, 0.0)
        s0, s1, s2 = w.sum(0), (w * d[:, None]).sum(0), (w * d[:, None] ** 2).sum(0)
        t0, t1 = (w * y).sum(0), (w * d[:, None] * y).sum(0)
        det = s0 * s2 - s1 * s1
        with np.errstate(invalid="ignore", divide="ignore"):
            fitted = np.where(det > 1e-9 * np.maximum(s0 * s2, 1e-300), (s2 * t0 - s1 * t1) / det, t0 / s0)
        out[t] = np.where(s0 > 0, fitted, np.nan)
    return out.reshape(values.shape)


def _interpolate(values: Array) -> Array:
    """Fill NaN rows of ``values`` (n, ...) linearly between the known rows around them (ends known)."""
    flat = values.reshape(len(values), -1).copy()
    known = np.flatnonzero(np.isfinite(flat[:, 0]))
    frames = np.arange(len(flat), dtype=np.float64)
    for column in range(flat.shape[1]):
        flat[:, column] = np.interp(frames, known.astype(np.float64), flat[known, column])
    return flat.reshape(values.shape)


def _finish(first: int, found: dict[int, Face], sigma: float) -> FaceTrack:
    last = max(found)
    n = last - first + 1
    raw = np.full((n, 14), np.nan)  # box, then the five landmarks
    confidence = np.full(n, np.nan)
    for frame, face in found.items():
        raw[frame - first] = [*face.box, *(v for point in face.landmarks for v in point)]
        confidence[frame - first] = face.confidence
    filled = _interpolate(raw)
    smoothed = smooth_path(filled, sigma)
    return FaceTrack(
        first=first,
        boxes=smoothed[:, :4],
        landmarks=smoothed[:, 4:].reshape(n, 5, 2),
        raw_boxes=raw[:, :4],
        confidence=_interpolate(confidence),
        bridged=n - len(found),
    )


def track_faces(
    detections: Sequence[Sequence[Face] | None], options: TrackingOptions = TrackingOptions()
) -> list[FaceTrack]:
    """Join per-frame detections into smoothed tracks (see [`video_tracking`][ganimation_lib.inference.video_tracking]).

    Args:
        detections: For each frame of the video, the faces found in it, or ``None`` for a frame the finder did not
            search (``detect_every`` above 1).
        options: Association, gap, smoothing and short-track settings.

    Returns:
        The tracks kept, ordered by their first frame, then left to right.
    """
    open_tracks: list[tuple[int, dict[int, Face]]] = []  # (first frame, frame -> detection)
    closed: list[tuple[int, dict[int, Face]]] = []
    for frame, faces in enumerate(detections):
        if faces is None:
            continue
        still_open: list[tuple[int, dict[int, Face]]] = []
        for track in open_tracks:
            (closed if frame - max(track[1]) - 1 > options.max_gap else still_open).append(track)
        open_tracks = still_open
        pairs = []
        for i, (_, found) in enumerate(open_tracks):
            last_box = np.asarray(found[max(found)].box, dtype=np.float64)
            for j, face in enumerate(faces):
                score = _affinity(last_box, np.asarray(face.box, dtype=np.float64), options.min_iou)
                if score > 0:
                    pairs.append((score, i, j))
        used_tracks: set[int] = set()
        used_faces: set[int] = set()
        for _, i, j in sorted(pairs, reverse=True):
            if i not in used_tracks and j not in used_faces:
                open_tracks[i][1][frame] = faces[j]
                used_tracks.add(i)
                used_faces.add(j)
        open_tracks += [(frame, {frame: face}) for j, face in enumerate(faces) if j not in used_faces]
    searched = sum(faces is not None for faces in detections)
    min_track = min(options.min_track, max(searched, 1))
    kept = [track for track in closed + open_tracks if len(track[1]) >= min_track]
    tracks = [_finish(first, found, options.smooth) for first, found in kept]
    return sorted(tracks, key=lambda track: (track.first, float(track.boxes[0, 0])))


def select_tracks(tracks: Sequence[FaceTrack], *, index: int | None = None, largest: bool = False) -> list[FaceTrack]:
    """Every track, the ``index``-th from the left (by median box centre) or the one with the largest median box.

    Raises:
        ValueError: If both are given, or ``index`` is past the last track (the message counts them).

    Examples:
        >>> from ganimation_lib.faces import Face
        >>> small = Face((0, 0, 20, 20), 1.0, ((5, 7), (15, 7), (10, 11), (6, 15), (14, 15)))
        >>> big = Face((50, 0, 90, 40), 1.0, ((60, 14), (80, 14), (70, 22), (62, 30), (78, 30)))
        >>> tracks = track_faces([[small, big]] * 3)
        >>> [round(float(t.boxes[0, 0]), 3) for t in select_tracks(tracks, largest=True)]
        [50.0]
        >>> select_tracks(tracks, index=1)[0] is tracks[1]
        True
    """
    if index is not None and largest:
        raise ValueError("give either a face index or largest=True (--face or --largest), not both")
    if largest and tracks:
        areas = [float(np.median((t.boxes[:, 2] - t.boxes[:, 0]) * (t.boxes[:, 3] - t.boxes[:, 1]))) for t in tracks]
        return [tracks[int(np.argmax(areas))]]
    if index is not None:
        ordered = sorted(tracks, key=lambda t: float(np.median(t.boxes[:, 0] + t.boxes[:, 2])))
        if index >= len(ordered):
            raise ValueError(f"face {index} asked for, but {len(ordered)} face(s) were followed through the video")
        return [ordered[index]]
    return list(tracks)


def faces_per_frame(tracks: Sequence[FaceTrack], frames: int) -> list[list[Face]]:
    """The smoothed faces to edit in each of ``frames`` frames (an empty list where no track covers it)."""
    per_frame: list[list[Face]] = [[] for _ in range(frames)]
    for track in tracks:
        for frame in range(track.first, min(track.last, frames - 1) + 1):
            per_frame[frame].append(track.face(frame))
    return per_frame
