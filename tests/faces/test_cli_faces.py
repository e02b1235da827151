"""``ganimation faces``: one line per face with a box ``edit --box`` takes, a drawing, and a message when none."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganimation_lib.cli import build_parser, main
from ganimation_lib.cli.common import parse_box
from ganimation_lib.faces import DlibFaceFinder

# Sphinx roles, reST literals and Markdown cross-references belong to the docs site, not to a terminal.
MARKUP = re.compile(r":(?:class|meth|func|mod|attr|data|exc):|``|\]\[|`")


def test_help_is_plain_text_and_names_the_extra(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["faces", "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: ganimation faces")
    assert not MARKUP.findall(text), text
    assert "pip install 'ganimation_lib[faces]'" in text
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    assert "faces" in capsys.readouterr().out  # listed by ganimation --help


def test_prints_each_face_and_draws_them(
    fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("dlib", reason="the faces extra is not installed")
    photo = fixtures_dir / "photos" / "single_face.jpg"
    drawn_path = tmp_path / "drawn.png"
    assert main(["faces", str(photo), "--save", str(drawn_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{photo} (572x562): 1 face, left to right"
    match = re.fullmatch(r"face 0: box (\S+) \((\d+)x(\d+) px\), confidence (-?\d+\.\d\d)", lines[1])
    assert match, lines[1]
    with Image.open(photo) as image:
        original = image.convert("RGB")
    (face,) = DlibFaceFinder()(original)
    box = parse_box(match.group(1))  # what ganimation edit --box takes
    assert box == face.int_box()
    assert float(match.group(4)) == pytest.approx(face.confidence, abs=0.005)
    assert lines[2].startswith(f"wrote {drawn_path}")
    with Image.open(drawn_path) as image:
        drawn = np.asarray(image.convert("RGB"))
    before = np.asarray(original)
    assert drawn.shape == before.shape
    left, top, right, bottom = box
    outside = np.ones(before.shape[:2], dtype=bool)
    outside[top - 2 : bottom + 2, left - 2 : right + 2] = False  # the box's line and what is drawn inside it
    assert (drawn[outside] == before[outside]).all()  # PNG: the rest of the photo is unchanged
    assert (drawn[top, left:right] == (255, 0, 0)).all()  # the box's top edge is drawn


def test_says_so_when_no_face_is_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("dlib", reason="the faces extra is not installed")
    blank = tmp_path / "sky.png"
    Image.new("RGB", (200, 120), (90, 120, 200)).save(blank)
    drawn_path = tmp_path / "drawn.png"
    assert main(["faces", str(blank), "--save", str(drawn_path)]) == 1
    out = capsys.readouterr().out
    assert f"{blank} (200x120): no face found" in out
    assert "--upsample 2" in out and "--box" in out
    assert "at least 40 px wide" in out  # the detector's 80 px window, doubled once by the default --upsample 1
    assert drawn_path.is_file()  # the drawing is written all the same: the photo, nothing drawn


def test_refuses_options_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "face.png"
    Image.new("RGB", (32, 32)).save(image)
    assert main(["faces", str(image), "--upsample", "-1"]) == 2
    assert "--upsample must be 0 or more" in capsys.readouterr().err
    assert main(["faces", str(image), "--detect-size", "50"]) == 2
    assert "--detect-size must be 0 (full size) or at least 80" in capsys.readouterr().err


def test_a_missing_photo_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faces", str(tmp_path / "missing.jpg")]) == 2
    assert "missing.jpg" in capsys.readouterr().err
