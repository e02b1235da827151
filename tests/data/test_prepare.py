"""prepare_openface / ganimation prepare: every input image accounted for, exactly."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganimation_lib.cli import main
from ganimation_lib.data.labels import read_au_table
from ganimation_lib.data.prepare import prepare_openface

from .openface_files import Row, aus, openface_csv


def _image(path: Path, colour: tuple[int, int, int] = (200, 150, 120)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), colour).save(path)
    return path


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """imgs/ with OpenFace CSVs in csvs/ and crops in crops/, with one of every problem."""
    images, csvs, crops = tmp_path / "raw", tmp_path / "csvs", tmp_path / "imgs"
    for i in range(5):  # good ones
        _image(images / f"good{i}.jpg")
        _image(crops / f"good{i}.png")
        openface_csv(csvs / f"good{i}.csv", [Row(aus(i / 2))], separator=", " if i % 2 else ",")
    _image(images / "noface.jpg")  # OpenFace wrote no CSV
    _image(crops / "noface.png")
    _image(images / "lost.jpg")  # a CSV whose only row failed
    openface_csv(csvs / "lost.csv", [Row(aus(1.0), frame=1, success=0)], mode="sequence")
    _image(images / "nocrop.jpg")  # CSV but no crop
    openface_csv(csvs / "nocrop.csv", [Row(aus(1.0))])
    _image(images / "crowd.jpg")  # three faces: first kept
    _image(crops / "crowd.png")
    openface_csv(csvs / "crowd.csv", [Row(aus(4.0), face=0, confidence=0.7), Row(aus(2.0), face=1),
                                      Row(aus(3.0), face=2, confidence=0.2)])  # fmt: skip
    _image(images / "blurry.jpg")  # only a low-confidence face
    _image(crops / "blurry.png")
    openface_csv(csvs / "blurry.csv", [Row(aus(1.0), confidence=0.3)])
    _image(images / "broken.jpg")  # crop is not an image
    (crops / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    openface_csv(csvs / "broken.csv", [Row(aus(1.0))])
    _image(images / "garbled.jpg")  # CSV with text where numbers go
    _image(crops / "garbled.png")
    (csvs / "garbled.csv").write_text("face,confidence," + ",".join(f"{a}_r" for a in ["AU01"]) + "\nx,y,z\n")
    (images / "notes.txt").write_text("not an image")  # ignored: not an image file
    return tmp_path


def test_summary_counts_every_image_exactly(messy: Path) -> None:
    seen: dict[str, str] = {}
    summary = prepare_openface(
        messy / "raw", csv_dir=messy / "csvs", crops=messy / "imgs", progress=False,
        on_image=lambda name, category: seen.__setitem__(name, category),
    )  # fmt: skip
    assert summary.total == 12
    assert (summary.kept, summary.no_face, summary.missing_crop) == (6, 2, 1)
    assert (summary.low_confidence, summary.unreadable, summary.bad_csv, summary.multiple_faces) == (1, 1, 1, 1)
    counts = summary.kept + summary.no_face + summary.missing_crop + summary.low_confidence
    assert counts + summary.unreadable + summary.bad_csv == summary.total
    assert seen["noface.jpg"] == seen["lost.jpg"] == "no_face" and seen["nocrop.jpg"] == "missing_crop"
    assert seen["blurry.jpg"] == "low_confidence" and seen["broken.jpg"] == "unreadable"
    assert seen["garbled.jpg"] == "bad_csv" and seen["crowd.jpg"] == "kept"
    assert "AU02_r" in summary.examples["bad_csv"][0]
    # The table sits next to the crops folder and names the crops.
    assert summary.output == (messy / "aus.csv").resolve()
    table = read_au_table(summary.output)
    assert table.files == ("crowd.png", "good0.png", "good1.png", "good2.png", "good3.png", "good4.png")
    np.testing.assert_allclose(table.values[0], aus(4.0))  # the first face, not the most confident
    np.testing.assert_allclose(table.values[1:, 0], [0.0, 0.5, 1.0, 1.5, 2.0])
    text = str(summary)
    assert "12 input images -> 6 rows" in text and "missing crop: 1" in text


def test_most_confident_face_and_threshold(messy: Path) -> None:
    summary = prepare_openface(
        messy / "raw", csv_dir=messy / "csvs", crops=messy / "imgs", progress=False,
        face_policy="most_confident", min_confidence=0.0, output=messy / "out" / "t.csv",
    )  # fmt: skip
    assert summary.kept == 7 and summary.low_confidence == 0  # blurry.jpg is kept at threshold 0
    table = read_au_table(messy / "out" / "t.csv")
    np.testing.assert_allclose(table.as_dict()["crowd.png"], aus(2.0))


def test_images_are_their_own_crops_when_no_crop_folder(tmp_path: Path) -> None:
    _image(tmp_path / "imgs" / "a.jpg")
    openface_csv(tmp_path / "imgs" / "a.csv", [Row(aus(1.0))])
    summary = prepare_openface(tmp_path / "imgs", progress=False)
    assert (summary.total, summary.kept, summary.missing_crop) == (1, 1, 0)
    assert read_au_table(tmp_path / "aus.csv").files == ("a.jpg",)


def test_progress_falls_back_without_tqdm(messy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes 'from tqdm import tqdm' raise ImportError
    stream = io.StringIO()
    prepare_openface(messy / "raw", csv_dir=messy / "csvs", crops=messy / "imgs", progress_stream=stream)
    assert stream.getvalue().splitlines()[-1] == "prepare: 12/12 images"


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing"):
        prepare_openface(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        prepare_openface(tmp_path / "empty", progress=False)
    _image(tmp_path / "one" / "a.jpg")
    with pytest.raises(ValueError, match="face policy"):
        prepare_openface(tmp_path / "one", face_policy="biggest", progress=False)  # type: ignore[arg-type]


def test_cli_prepare(messy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["prepare", str(messy / "raw"), "--csv-dir", str(messy / "csvs"), "--crops", str(messy / "imgs"),
                 "--quiet", "--face", "most_confident"])  # fmt: skip
    assert code == 0
    assert "12 input images -> 6 rows" in capsys.readouterr().out
    assert main(["prepare", str(messy / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_crops_are_found_whatever_the_case_of_their_extension(tmp_path: Path) -> None:
    # Crops were looked up as <stem>.jpg, <stem>.png, ... in lower case only: 'a.JPG' counted as missing.
    for stem, crop in (("a", "a.JPG"), ("b", "b.png"), ("c", "c.bmp")):
        _image(tmp_path / "raw" / f"{stem}.jpg")
        _image(tmp_path / "crops" / crop)
        openface_csv(tmp_path / "raw" / f"{stem}.csv", [Row(aus(1.0))])
    _image(tmp_path / "crops" / "c.jpg")  # two crops of one stem: .jpg is preferred, as before
    summary = prepare_openface(tmp_path / "raw", crops=tmp_path / "crops", progress=False)
    assert (summary.kept, summary.missing_crop) == (3, 0)
    assert read_au_table(summary.output).files == ("a.JPG", "b.png", "c.jpg")
