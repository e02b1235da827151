"""Editing videos: frame count, rate and size kept, faces followed smoothly, pixels away from them unchanged.

Videos are made in the tests; the lossless ones (FFV1 in .mkv) let "unchanged" mean bit for bit against the decoded
input. The detector test uses a fixture photo with a slow pan and zoom (skipped without the fixtures or the faces
extra); the others use a stand-in finder, so they need only PyAV (skipped without it).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from ganimation_lib import Generator
from ganimation_lib.cli import common as cli_common
from ganimation_lib.cli import main
from ganimation_lib.data.errors import DataFormatError
from ganimation_lib.faces import Face, alignment_transform, face_footprint
from ganimation_lib.faces.selection import NoFaceFoundError
from ganimation_lib.inference import (
    TrackingOptions,
    VideoExtraMissingError,
    edit_video,
    probe_video,
    read_frames,
    write_video,
)
from tests.conftest import tiny_generator_config

HAS_AV = importlib.util.find_spec("av") is not None
needs_av = pytest.mark.skipif(not HAS_AV, reason="needs PyAV (pip install 'ganimation_lib[video]')")
SIZE = 32  # the tiny generator's crop
Pixels = npt.NDArray[np.uint8]


def _frames(path: Path) -> list[Pixels]:
    return [np.asarray(frame) for frame in read_frames(path)]


def _noise_video(path: Path, count: int = 20, size: tuple[int, int] = (96, 72), fps: int = 10, **kw: object) -> Path:
    rng = np.random.default_rng(1)
    frames = [Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)) for _ in range(count)]
    write_video(frames, path, fps=fps, **kw)  # type: ignore[arg-type]
    return path


def _face_at(x: float, y: float = 16.0, s: float = 40.0) -> Face:
    marks = ((x + 0.3 * s, y + 0.35 * s), (x + 0.7 * s, y + 0.35 * s), (x + 0.5 * s, y + 0.55 * s),
             (x + 0.35 * s, y + 0.75 * s), (x + 0.65 * s, y + 0.75 * s))  # fmt: skip
    return Face((x, y, x + s, y + s), 1.0, marks)


class ScriptedFinder:
    """Stands in for a detector: frame n gets ``script[n]`` (a list of faces), in the order it is called."""

    def __init__(self, script: list[list[Face]]) -> None:
        self.script, self.calls = script, 0

    def __call__(self, image: Image.Image) -> list[Face]:
        self.calls += 1
        return list(self.script[self.calls - 1])


def _footprints(faces: list[Face], width: int, height: int, margin: int = 2) -> npt.NDArray[np.bool_]:
    inside = np.zeros((height, width), bool)
    for face in faces:
        region = face_footprint(alignment_transform(face, SIZE), SIZE, width, height)
        assert region is not None
        left, top, right, bottom = region
        inside[max(top - margin, 0) : bottom + margin, max(left - margin, 0) : right + margin] = True
    return inside


@pytest.fixture
def generator() -> Generator:
    return Generator(tiny_generator_config())


@needs_av
def test_faces_are_followed_bridged_and_frames_without_one_left_unchanged(generator: Generator, tmp_path: Path) -> None:
    src = _noise_video(tmp_path / "in.mkv", codec="ffv1")
    rng = np.random.default_rng(2)
    script = [[_face_at(20 + t + rng.normal(0, 1.5))] for t in range(20)]
    script[10] = script[11] = []  # missed for 2 frames: bridged
    script[16:] = [[], [], [], []]  # gone for the last 4: never extrapolated, left unchanged
    script[3] = [*script[3], _face_at(60, 30, 20)]  # a one-frame false detection: dropped
    report = edit_video(
        generator, src, tmp_path / "out.mkv", "happy", finder=ScriptedFinder(script), codec="ffv1",
        tracking=TrackingOptions(max_gap=3),
    )  # fmt: skip
    assert (report.frames, report.fps, report.width, report.height) == (20, Fraction(10), 96, 72)
    assert (report.faces, report.frames_edited, report.frames_untouched, report.frames_bridged) == (1, 16, 4, 2)
    assert "4 without a face left unchanged; 2 bridged over a missed face" in report.summary()
    before, after = _frames(src), _frames(report.path)
    assert len(after) == 20 and after[0].shape == (72, 96, 3)
    (track,) = report.tracks
    for n in range(20):
        if n >= 16:
            assert np.array_equal(before[n], after[n]), n
            continue
        inside = _footprints([track.face(n)], 96, 72)
        assert np.array_equal(before[n][~inside], after[n][~inside]), n  # lossless: bit for bit away from the face
        assert not np.array_equal(before[n][inside], after[n][inside]), n


@needs_av
def test_a_fixed_box_a_drive_and_the_default_mp4(generator: Generator, tmp_path: Path) -> None:
    src = _noise_video(tmp_path / "in.mp4", count=12, fps=12)
    info = probe_video(src)
    assert (info.frames, info.fps, info.width, info.height, info.codec) == (12, Fraction(12), 96, 72, "h264")
    drive = np.full((5, 17), 0.4, np.float32)
    report = edit_video(generator, src, tmp_path / "out.mp4", drive=drive, box=(30, 20, 70, 60), smooth=3)
    out = probe_video(report.path)
    assert (out.frames, out.fps, out.width, out.height) == (12, Fraction(12), 96, 72)
    assert report.drive_note == "the drive has 5 rows for 12 frames: its last row is held for the last 7"
    assert (report.faces, report.frames_edited, report.tracks) == (1, 12, ())
    with pytest.raises(ValueError, match="the drive has 5 rows for 12 frames; give a drive of 12 rows"):
        edit_video(generator, src, tmp_path / "x.mp4", drive=drive, drive_fit="exact", box=(30, 20, 70, 60))
    assert not (tmp_path / "x.mp4").exists()


@needs_av
def test_a_box_leaves_every_pixel_outside_it(generator: Generator, tmp_path: Path) -> None:
    src = _noise_video(tmp_path / "in.mkv", count=4, codec="ffv1")
    edit_video(generator, src, tmp_path / "out.mkv", "surprise", box=(30, 20, 70, 60), codec="ffv1")
    for before, after in zip(_frames(src), _frames(tmp_path / "out.mkv"), strict=True):
        outside = np.ones((72, 96), bool)
        outside[20:60, 30:70] = False
        assert np.array_equal(before[outside], after[outside]) and not np.array_equal(before, after)


@needs_av
def test_no_face_unreadable_videos_and_bad_arguments_are_said(generator: Generator, tmp_path: Path) -> None:
    src = _noise_video(tmp_path / "in.mkv", count=5, codec="ffv1")
    with pytest.raises(NoFaceFoundError, match=r"no face followed through its 5 frames \(0 faces found"):
        edit_video(generator, src, tmp_path / "o.mkv", "happy", finder=ScriptedFinder([[]] * 5))
    (tmp_path / "bad.mp4").write_bytes(b"not a video at all" * 20)
    with pytest.raises(DataFormatError, match=r"bad\.mp4: not a video PyAV can read"):
        edit_video(generator, tmp_path / "bad.mp4", tmp_path / "o.mp4", "happy", box=(0, 0, 10, 10))
    with pytest.raises(FileNotFoundError, match=r"missing\.mp4 does not exist"):
        probe_video(tmp_path / "missing.mp4")
    with pytest.raises(ValueError, match=r"use a \.mp4, \.mov, \.mkv file"):
        edit_video(generator, src, tmp_path / "o.gif", "happy")
    with pytest.raises(ValueError, match=r"give either target .* or drive .*, not both"):
        edit_video(generator, src, tmp_path / "o.mp4", "happy", drive=np.zeros((2, 17)))
    with pytest.raises(ValueError, match="faces must be 'auto', a sequence of Face objects or None, got 'all'"):
        edit_video(generator, src, tmp_path / "o.mp4", "happy", faces="all")  # type: ignore[arg-type]
    unused = ScriptedFinder([])
    for codec, crf in (("aac", 18), ("no-such-codec", 18), ("libx264", 52)):
        with pytest.raises(ValueError, match=r"(is not a video encoder of this PyAV build|crf=52 must be)"):
            edit_video(generator, src, tmp_path / "o.mp4", "happy", finder=unused, codec=codec, crf=crf)
    assert unused.calls == 0  # said before the video is read
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4", "in.mkv"]


@needs_av
def test_audio_is_reported_as_not_carried_over(generator: Generator, tmp_path: Path) -> None:
    import av

    src = tmp_path / "talk.mp4"
    with av.open(str(src), "w") as container:
        video, audio = container.add_stream("libx264", rate=10), container.add_stream("aac", rate=16000)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        for n in range(5):
            for packet in video.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * n, np.uint8))):
                container.mux(packet)
        samples = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        samples.sample_rate = 16000
        for packet in [*audio.encode(samples), *audio.encode(None), *video.encode(None)]:
            container.mux(packet)
    assert probe_video(src).has_audio
    report = edit_video(generator, src, tmp_path / "out.mp4", "happy", box=(10, 10, 40, 40))
    assert report.audio_dropped and "audio not carried over" in report.summary()
    assert not probe_video(report.path).has_audio


def test_without_pyav_the_error_says_what_to_install(
    generator: Generator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # import av now raises ImportError, as when it is not installed
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 100)
    with pytest.raises(VideoExtraMissingError, match=r"videos need PyAV: pip install 'ganimation_lib\[video\]'"):
        edit_video(generator, tmp_path / "clip.mp4", tmp_path / "out.mp4", "happy")
    model = generator.save_pretrained(tmp_path / "model")
    argv = ["animate", str(model), str(tmp_path / "clip.mp4"), "--expression", "happy", "-o", str(tmp_path / "o.mp4")]
    assert main(argv) == 2
    assert "pip install 'ganimation_lib[video]'" in capsys.readouterr().err


@pytest.mark.fixtures
@needs_av
def test_a_panning_zooming_photo_is_edited_with_a_smooth_crop(
    generator: Generator, fixtures_dir: Path, tmp_path: Path
) -> None:
    finder_module = pytest.importorskip("ganimation_lib.faces.dlib_finder")
    pytest.importorskip("dlib")
    finder = finder_module.DlibFaceFinder()
    with Image.open(fixtures_dir / "photos" / "single_face.jpg") as opened:
        photo = opened.convert("RGB")
    count, width, height = 30, 320, 240  # 2 s at 15 fps: a slow pan right and a zoom in by 1.23x

    def window(t: int) -> tuple[float, float, float, float]:
        u = t / (count - 1)
        w, cx, cy = 480 - 90 * u, 260 + 50 * u, 285 + 10 * u
        return cx - w / 2, cy - 0.375 * w, cx + w / 2, cy + 0.375 * w

    frames = [photo.resize((width, height), Image.Resampling.BICUBIC, box=window(t)) for t in range(count)]
    src = tmp_path / "pan.mkv"
    write_video(frames, src, fps=15, codec="ffv1")
    report = edit_video(generator, src, tmp_path / "out.mkv", "happy", finder=finder, codec="ffv1")
    assert (report.frames, report.fps, report.width, report.height) == (count, Fraction(15), width, height)
    assert (report.faces, report.frames_edited, report.frames_untouched) == (1, count, 0)
    (track,) = report.tracks

    def crop_corners(landmarks: Callable[[int], tuple[tuple[float, float], ...]]) -> npt.NDArray[np.float64]:
        corners = [(-0.5, -0.5), (127.5, -0.5), (-0.5, 127.5), (127.5, 127.5)]
        return np.array([alignment_transform(landmarks(t), 128).inverse().apply(corners) for t in range(count)])

    smooth = crop_corners(lambda t: track.face(t).landmarks)
    raw = crop_corners(lambda t: finder(frames[t])[0].landmarks)  # each frame on its own
    # The crop moves with the pan and zoom (about 2.3 px a frame at most) without jumping; frame by frame the
    # detector's landmarks make it jump (4.5 px, and 5.2 px of jitter in the second difference, measured).
    assert np.abs(np.diff(smooth, axis=0)).max() < 3.0
    assert np.abs(np.diff(smooth, 2, axis=0)).max() < 0.5
    assert np.abs(np.diff(raw, 2, axis=0)).max() > 4 * np.abs(np.diff(smooth, 2, axis=0)).max()
    before, after = _frames(src), _frames(report.path)
    for n in range(count):
        inside = _footprints([track.face(n)], width, height)
        assert np.array_equal(before[n][~inside], after[n][~inside]), n  # pixels away from the face: unchanged
        assert not np.array_equal(before[n][inside], after[n][inside]), n


@needs_av
def test_cli_edits_a_video(
    generator: Generator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _noise_video(tmp_path / "in.mp4", count=12, fps=12)
    model = str(generator.save_pretrained(tmp_path / "model"))
    monkeypatch.setattr(cli_common, "DlibFaceFinder", lambda: ScriptedFinder([[_face_at(20 + t)] for t in range(12)]))
    base = ["animate", model, str(src), "--device", "cpu", "--quiet"]
    assert main([*base, "--expression", "happy", "--intensity", "0.8", "-o", str(tmp_path / "out.mp4")]) == 0
    assert "wrote " in (printed := capsys.readouterr().out) and "12 frames, 96x72 at 12 fps; 1 face followed" in printed
    out = probe_video(tmp_path / "out.mp4")
    assert (out.frames, out.fps, out.width, out.height) == (12, Fraction(12), 96, 72)

    drive = tmp_path / "attributes.txt"
    drive.write_text("".join(f"{n}.jpg " + " ".join(["1.5"] * 17) + "\n" for n in range(20)))
    assert main([*base, "--drive", str(drive), "--box", "30,20,70,60", "-o", str(tmp_path / "d.mov")]) == 0
    assert "the drive has 20 rows for 12 frames: its first 12 rows are used" in capsys.readouterr().out
    assert probe_video(tmp_path / "d.mov").frames == 12

    for options, message in (
        (["--keyframes", "happy,sad", "-o", "k.mp4"], "--keyframes animates a photo; for a video give --expression"),
        (["--expression", "happy", "-o", "k.gif"], "a video is written as a .mp4, .mov, .mkv file"),
        (["--expression", "happy", "--duration", "40", "-o", "k.mp4"], "--duration cannot apply to this video edit"),
        (["--drive", str(drive), "--drive-fit", "exact", "--box", "0,0,9,9", "-o", "k.mp4"], "has 20 rows for 12"),
    ):
        assert main([*base, *[str(tmp_path / o) if o.startswith("k.") else o for o in options]]) == 2
        assert message in capsys.readouterr().err
    photo = tmp_path / "face.png"
    Image.new("RGB", (32, 32)).save(photo)
    assert main(["animate", model, str(photo), "--expression", "happy", "-o", str(tmp_path / "p.gif")]) == 2
    assert "--expression edit the frames of a video" in capsys.readouterr().err
    (tmp_path / "bad.mkv").write_bytes(b"\1" * 300)
    assert main(["animate", model, str(tmp_path / "bad.mkv"), "--expression", "happy", "-o", "x.mp4"]) == 2
    assert "bad.mkv: not a video PyAV can read" in capsys.readouterr().err
