"""Following faces through frames (no video file, no PyAV): association, gaps, smoothing, choice; drive fitting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganimation_lib.faces import Face
from ganimation_lib.inference import TrackingOptions, fit_drive, track_faces
from ganimation_lib.inference.video_tracking import faces_per_frame, select_tracks, smooth_path


def _face(x: float, y: float = 40.0, size: float = 60.0) -> Face:
    """A face whose box's top-left corner is (x, y), landmarks placed inside it."""
    s = size
    marks = ((x + 0.3 * s, y + 0.4 * s), (x + 0.7 * s, y + 0.4 * s), (x + 0.5 * s, y + 0.55 * s),
             (x + 0.35 * s, y + 0.75 * s), (x + 0.65 * s, y + 0.75 * s))  # fmt: skip
    return Face((x, y, x + s, y + s), 1.0, marks)


def test_a_straight_path_is_kept_exactly_ends_included() -> None:
    truth = np.stack([np.linspace(0, 40, 25), np.linspace(10, -5, 25)], axis=1)
    assert np.allclose(smooth_path(truth, 3.0), truth, atol=1e-9)
    # A plain centred moving average pulls the ends in; the local linear fit does not (no lag at the ends).
    moving = np.convolve(np.pad(truth[:, 0], 3, mode="edge"), np.ones(7) / 7, mode="valid")
    assert abs(moving[0] - truth[0, 0]) > 1


def test_jitter_is_reduced_and_the_motion_kept() -> None:
    rng = np.random.default_rng(0)
    truth = 100 + 1.5 * np.arange(40)
    detections = [[_face(x + rng.normal(0, 2.0), 50 + rng.normal(0, 2.0))] for x in truth]
    (track,) = track_faces(detections, TrackingOptions(smooth=2.0))
    raw_error = np.abs(track.raw_boxes[:, 0] - truth)
    smooth_error = np.abs(track.boxes[:, 0] - truth)
    assert smooth_error.std() < 0.55 * raw_error.std()  # noise shrinks by about 0.38 at smooth=2
    assert abs(float(np.mean(track.boxes[:, 0] - truth))) < 0.5  # centred: no lag behind the moving face
    steps = np.abs(np.diff(track.landmarks, axis=0))
    assert steps.max() < 3.0 < np.abs(np.diff(np.array([d[0].landmarks for d in detections]), axis=0)).max()


def test_short_misses_are_bridged_and_long_ones_end_the_track() -> None:
    frames: list[list[Face]] = [[_face(10 + t)] for t in range(30)]
    for t in (5, 6):  # missed for 2 frames: bridged
        frames[t] = []
    for t in range(15, 25):  # missed for 10 frames: a new track starts after
        frames[t] = []
    tracks = track_faces(frames, TrackingOptions(max_gap=3, smooth=0))
    assert [(t.first, t.last, t.detections, t.bridged) for t in tracks] == [(0, 14, 13, 2), (25, 29, 5, 0)]
    assert tracks[0].face(5).box[0] == pytest.approx(15.0)  # interpolated between frames 4 and 7
    per_frame = faces_per_frame(tracks, 30)
    assert [len(f) for f in per_frame] == [1] * 15 + [0] * 10 + [1] * 5  # never extrapolated past a track
    with pytest.raises(IndexError, match="outside the track"):
        tracks[0].face(20)


def test_detect_every_bridges_the_frames_not_searched() -> None:
    frames = [[_face(10 + 2 * t)] if t % 3 == 0 or t == 10 else None for t in range(11)]
    (track,) = track_faces(frames, TrackingOptions(detect_every=3, max_gap=2, smooth=0))
    assert (track.first, track.last, track.detections) == (0, 10, 5)
    assert [round(track.face(t).box[0], 6) for t in range(11)] == [10.0 + 2 * t for t in range(11)]
    with pytest.raises(ValueError, match="max_gap=1 must be a whole number of frames >= detect_every - 1 = 2"):
        TrackingOptions(detect_every=3, max_gap=1)


def test_faces_keep_their_tracks_whatever_the_finders_order_and_false_detections_are_dropped() -> None:
    frames = []
    for t in range(12):
        pair = [_face(20 + t), _face(200 - t, size=80)]
        frames.append(pair[::-1] if t % 2 else pair)
    frames[4] = [*frames[4], _face(400, 300, size=30)]  # a one-frame false detection
    tracks = track_faces(frames, TrackingOptions(smooth=0))
    assert len(tracks) == 2
    left, right = sorted(tracks, key=lambda t: float(t.boxes[0, 0]))
    assert left.boxes[:, 0].tolist() == [20.0 + t for t in range(12)]
    assert right.boxes[:, 0].tolist() == [200.0 - t for t in range(12)]
    assert select_tracks(tracks, largest=True) == [right]
    assert select_tracks(tracks, index=0) == [left]
    with pytest.raises(ValueError, match="face 2 asked for, but 2 face"):
        select_tracks(tracks, index=2)
    assert len(track_faces(frames, TrackingOptions(smooth=0, min_track=1))) == 3


def test_options_are_checked() -> None:
    for bad in ({"detect_every": 0}, {"smooth": -1.0}, {"min_iou": 0.0}, {"min_track": 0}, {"max_gap": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TrackingOptions(**bad)


def test_fit_drive_hold_loop_stretch_exact() -> None:
    aus = torch.tensor([[0.0], [1.0], [2.0]])
    held, note = fit_drive(aus, 5, "hold")
    assert held.flatten().tolist() == [0, 1, 2, 2, 2] and note is not None and "last row is held for the last 2" in note
    cut, note = fit_drive(aus, 2)
    assert cut.flatten().tolist() == [0, 1] and note is not None and "first 2 rows" in note
    assert fit_drive(aus, 5, "loop")[0].flatten().tolist() == [0, 1, 2, 0, 1]
    assert fit_drive(aus, 5, "stretch")[0].flatten().tolist() == [0, 0.5, 1, 1.5, 2]
    assert fit_drive(aus, 3, "exact") == (aus, None)
    with pytest.raises(ValueError, match="the drive has 3 rows for 4 frames; give a drive of 4 rows"):
        fit_drive(aus, 4, "exact")
    with pytest.raises(ValueError, match="drive_fit='speed' must be one of hold, loop, stretch, exact"):
        fit_drive(aus, 4, "speed")  # type: ignore[arg-type]
