"""``ganimation edit``/``animate`` without ``--box``: every face found is edited; --face, --largest, --min-face-size.

The finder is replaced by one that returns hand-built faces, so these tests need neither dlib nor a real face.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from ganimation_lib import Generator
from ganimation_lib.cli import common as cli_common
from ganimation_lib.cli import main
from ganimation_lib.faces import INSTALL_HINT, Face, alignment_transform, face_footprint
from tests.conftest import tiny_generator_config

WIDTH, HEIGHT, SIZE = 200, 100, 32
LEFT = Face((10, 10, 60, 60), 1.0, ((26, 30), (44, 30), (35, 38), (28, 48), (42, 48)))
RIGHT = Face((110, 5, 190, 85), 1.0, ((135, 35), (165, 35), (150, 48), (138, 63), (162, 63)))
FOUND: list[Face] = []


class FakeFinder:
    """Stands in for DlibFaceFinder: returns FOUND for any picture."""

    def __call__(self, image: Image.Image) -> list[Face]:
        assert image.size == (WIDTH, HEIGHT)
        return list(FOUND)


@pytest.fixture
def fake_finder(monkeypatch: pytest.MonkeyPatch) -> None:
    FOUND[:] = [LEFT, RIGHT]
    monkeypatch.setattr(cli_common, "DlibFaceFinder", FakeFinder)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return Generator(tiny_generator_config()).save_pretrained(tmp_path / "model")


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "group.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)).save(path)
    return path


def _inside(face: Face) -> npt.NDArray[np.bool_]:
    region = face_footprint(alignment_transform(face, SIZE), SIZE, WIDTH, HEIGHT)
    assert region is not None
    left, top, right, bottom = region
    mask = np.zeros((HEIGHT, WIDTH), bool)
    mask[top:bottom, left:right] = True
    return mask


def _edit(model_dir: Path, photo: Path, out: Path, *options: str) -> int:
    return main(
        ["edit", str(model_dir), str(photo), "--expression", "happy", "--device", "cpu", *options, "-o", str(out)]
    )


def _changed(photo: Path, out: Path) -> npt.NDArray[np.bool_]:
    before, after = np.asarray(Image.open(photo)), np.asarray(Image.open(out))
    assert after.shape == before.shape
    return np.asarray(before != after).any(axis=2)


@pytest.mark.usefixtures("fake_finder")
def test_without_a_box_every_face_is_edited(
    model_dir: Path, photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, view = tmp_path / "out.png", tmp_path / "view.png"
    assert _edit(model_dir, photo, out, "--side-by-side", str(view)) == 0
    assert f"wrote {out} (200x100; 2 faces edited)" in capsys.readouterr().out
    changed = _changed(photo, out)
    assert changed[_inside(LEFT)].any() and changed[_inside(RIGHT)].any()
    assert not changed[~(_inside(LEFT) | _inside(RIGHT))].any()
    with Image.open(view) as inspection:
        assert inspection.size[1] == 2 * 256 + 4  # a row per face


@pytest.mark.usefixtures("fake_finder")
@pytest.mark.parametrize(
    ("options", "edited", "kept"),
    [
        (["--face", "0"], LEFT, RIGHT),
        (["--face", "1"], RIGHT, LEFT),
        (["--largest"], RIGHT, LEFT),
        (["--min-face-size", "60"], RIGHT, LEFT),
    ],
)
def test_the_choice_flags_edit_the_face_they_name(
    model_dir: Path, photo: Path, tmp_path: Path, options: list[str], edited: Face, kept: Face
) -> None:
    out = tmp_path / "out.png"
    assert _edit(model_dir, photo, out, *options) == 0
    changed = _changed(photo, out)
    assert changed[_inside(edited)].any() and not changed[_inside(kept) & ~_inside(edited)].any()


@pytest.mark.usefixtures("fake_finder")
def test_no_face_found_is_a_message_and_status_1(
    model_dir: Path, photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    FOUND[:] = []
    out = tmp_path / "out.png"
    assert _edit(model_dir, photo, out) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"ganimation edit: {photo}: the 200x100 image: no face found")
    assert "--box" in err and "--whole-image" in err and "Traceback" not in err
    assert not out.exists()
    argv = ["animate", str(model_dir), str(photo), "--keyframes", "happy", "--quiet", "-o", str(tmp_path / "a.gif")]
    assert main(argv) == 1
    assert "ganimation animate" in capsys.readouterr().err and not (tmp_path / "a.gif").exists()
    FOUND[:] = [LEFT, RIGHT]
    assert _edit(model_dir, photo, out, "--face", "5") == 1
    assert "face 5 was asked for, but 2 faces are there" in capsys.readouterr().err


@pytest.mark.usefixtures("fake_finder")
def test_box_and_whole_image_still_work_as_before(model_dir: Path, photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    assert _edit(model_dir, photo, out, "--box", "80,20,120,60") == 0
    changed = _changed(photo, out)
    assert changed[20:60, 80:120].any() and not changed[:, :80].any() and not changed[:, 120:].any()
    assert _edit(model_dir, photo, out, "--whole-image") == 0
    assert _changed(photo, out)[:, :5].any()  # the whole image, its left edge included


@pytest.mark.usefixtures("fake_finder")
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--box", "0,0,50,50", "--face", "0"], "--face choose among the faces found"),
        (["--whole-image", "--largest"], "--largest choose among the faces found"),
        (["--face", "0", "--largest"], "not both"),
        (["--face", "-1"], "--face must be 0 or more"),
        (["--min-face-size", "-3"], "--min-face-size must be"),
    ],
)
def test_contradictory_choices_are_errors(
    model_dir: Path, photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    assert _edit(model_dir, photo, tmp_path / "out.png", *options) == 2
    assert message in capsys.readouterr().err


def test_box_and_whole_image_are_exclusive(model_dir: Path, photo: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stop:
        _edit(model_dir, photo, tmp_path / "out.png", "--box", "0,0,5,5", "--whole-image")
    assert stop.value.code == 2


@pytest.mark.usefixtures("fake_finder")
def test_animate_moves_every_face(model_dir: Path, photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "frames"
    argv = ["animate", str(model_dir), str(photo), "--keyframes", "neutral,surprise", "--frames", "2", "--quiet"]
    assert main([*argv, "-o", str(out)]) == 0
    frames = sorted(out.glob("frame_*.png"))
    assert len(frames) == 3
    changed = _changed(photo, frames[-1])
    assert changed[_inside(LEFT)].any() and changed[_inside(RIGHT)].any()
    assert not changed[~(_inside(LEFT) | _inside(RIGHT))].any()


def test_without_the_extra_the_whole_image_is_edited_with_a_note(
    model_dir: Path, photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib fails, as without the extra
    out = tmp_path / "out.png"
    assert _edit(model_dir, photo, out) == 0
    err = capsys.readouterr().err
    assert "note: the faces extra is not installed, so the whole image is edited" in err and INSTALL_HINT in err
    assert _changed(photo, out)[:, :5].any()  # the whole image
    assert _edit(model_dir, photo, out, "--whole-image") == 0
    assert capsys.readouterr().err == ""  # asked for: no note
    assert _edit(model_dir, photo, out, "--largest") == 2  # a face choice needs the finder
    err = capsys.readouterr().err
    assert err.startswith("ganimation edit: error: --largest need the faces found") and INSTALL_HINT in err
