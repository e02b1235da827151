"""Writers: GIF, MP4 (optional PyAV), PNG frames, the side-by-side view; all written atomically."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganimation_lib import Generator
from ganimation_lib.inference import (
    animate,
    attention_heatmap,
    edit_results,
    save_animation,
    save_frames,
    save_gif,
    save_image,
    save_mp4,
    side_by_side,
)
from tests.conftest import tiny_generator_config

HAS_AV = importlib.util.find_spec("av") is not None


def _frames(n: int = 5) -> list[torch.Tensor]:
    return [torch.full((3, 12, 16), -1 + 2 * i / (n - 1)) for i in range(n)]


def test_gif_is_written_and_reread_with_every_frame(tmp_path: Path) -> None:
    generator = Generator(tiny_generator_config())
    frames = animate(
        generator, Image.new("RGB", (40, 40), (200, 150, 120)), ["neutral", "happy", "sad"], frames_per_transition=4
    )
    path = save_gif(frames, tmp_path / "out.gif", duration=60, loop=0)
    with Image.open(path) as gif:
        assert gif.n_frames == len(frames) == 9
        assert gif.size == (40, 40)
        assert gif.info["loop"] == 0 and gif.info["duration"] == 60
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gif"]  # no temp files left


def test_gif_plays_once_without_loop(tmp_path: Path) -> None:
    with Image.open(save_gif(_frames(), tmp_path / "once.gif", loop=None)) as gif:
        assert "loop" not in gif.info and gif.n_frames == 5


def test_bad_frames(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        save_gif([], tmp_path / "x.gif")
    with pytest.raises(ValueError, match="same size"):
        save_gif([torch.zeros(3, 4, 4), torch.zeros(3, 5, 4)], tmp_path / "x.gif")
    with pytest.raises(ValueError, match="duration"):
        save_gif(_frames(), tmp_path / "x.gif", duration=0)
    with pytest.raises(ValueError, match=r"\.gif or \.mp4"):
        save_animation(_frames(), tmp_path / "x.avi")
    assert not list(tmp_path.iterdir())


def test_mp4_without_pyav_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # as if PyAV were not installed: importing it fails
    with pytest.raises(ImportError, match=r"pip install 'ganimation_lib\[video\]'"):
        save_mp4(_frames(), tmp_path / "x.mp4")
    with pytest.raises(ImportError, match="PyAV"):
        save_animation(_frames(), tmp_path / "x.mp4")
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(not HAS_AV, reason="needs PyAV (pip install 'ganimation_lib[video]')")
def test_mp4_with_pyav(tmp_path: Path) -> None:
    import av

    path = save_mp4(_frames(), tmp_path / "x.mp4", fps=10)
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 5


def test_png_frames_and_folder_dispatch(tmp_path: Path) -> None:
    paths = save_frames(_frames(3), tmp_path / "frames")
    assert [p.name for p in paths] == ["frame_0000.png", "frame_0001.png", "frame_0002.png"]
    assert Image.open(paths[0]).size == (16, 12)
    folder = save_animation(_frames(4), tmp_path / "more")
    assert len(list(folder.glob("*.png"))) == 4
    save_image(np.zeros((4, 4, 3), np.uint8), tmp_path / "one.png")
    with pytest.raises(ValueError, match="is a folder"):
        save_image(np.zeros((4, 4, 3), np.uint8), tmp_path / "more")


def test_side_by_side_has_four_panels() -> None:
    generator = Generator(tiny_generator_config())
    result = edit_results(generator, [np.zeros((50, 60, 3), np.uint8)], "happy", boxes=(10, 10, 40, 40))[0]
    view = side_by_side(result, height=64, gap=2)
    assert view.size == (4 * 64 + 3 * 2, 64)
    native = side_by_side(result, height=None, gap=0)
    assert native.size == (4 * 30, 30)
    left = np.asarray(native)[:, :30]
    assert np.array_equal(left, np.zeros((30, 30, 3), np.uint8))  # panel 1 is the input region


def test_heatmap_runs_from_black_to_bright() -> None:
    ramp = torch.linspace(1, 0, 5).reshape(1, 1, 5)
    heat = attention_heatmap(ramp)
    assert heat.shape == (3, 1, 5)
    brightness = heat.sum(dim=0)[0]
    assert (brightness.diff() > 0).all() and heat[:, 0, 0].eq(-1).all()


def test_written_files_get_ordinary_permissions(tmp_path: Path) -> None:
    # tempfile.mkstemp makes 0600 files; moved into place they would be unreadable to anyone else.
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    expected = plain.stat().st_mode & 0o777  # 0666 less this process's umask
    for path in (save_image(_frames(2)[0], tmp_path / "x.png"), save_gif(_frames(), tmp_path / "x.gif")):
        assert path.stat().st_mode & 0o777 == expected, path.name


def test_png_frames_refuse_to_mix_with_a_longer_earlier_animation(tmp_path: Path) -> None:
    save_frames(_frames(5), tmp_path / "frames")
    save_frames(_frames(5), tmp_path / "frames")  # the same length again: every file is replaced
    with pytest.raises(ValueError, match=r"frame_0003\.png and 1 more"):
        save_frames(_frames(3), tmp_path / "frames")  # would leave frame_0003/0004 of the old one behind
    assert len(list((tmp_path / "frames").iterdir())) == 5


def test_jpeg_is_written_at_high_quality(tmp_path: Path) -> None:
    # Pillow's defaults (quality 75, 4:2:0) visibly degraded a photo that ganimation edit changed only in a box.
    photo = np.random.default_rng(0).normal(128, 30, (64, 64, 3)).clip(0, 255).astype(np.uint8)
    back = np.asarray(Image.open(save_image(photo, tmp_path / "x.jpg"))).astype(float)
    default = tmp_path / "default.jpg"
    Image.fromarray(photo).save(default)
    assert np.abs(back - photo).mean() < 0.6 * np.abs(np.asarray(Image.open(default)).astype(float) - photo).mean()
