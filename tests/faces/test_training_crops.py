"""``align_folder`` with a stand-in finder (no detector needed): names, the manifest, the report and its checks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ganimation_lib.cli import main
from ganimation_lib.data import DataFormatError
from ganimation_lib.face_layout import CANONICAL_FACE, read_face_crop
from ganimation_lib.faces import (
    INSTALL_HINT,
    Face,
    align_folder,
    alignment_transform,
    crop_face,
    read_crop_manifest,
)
from ganimation_lib.faces.crop_manifest import MANIFEST_COLUMNS
from ganimation_lib.inference import to_pil

# A photo's faces are drawn as bright squares on black; the stand-in finds each square and puts its landmarks on
# it, so which faces are found (and where) is decided by the picture, as with a real finder.
SQUARE = 40


def _face_at(left: int, top: int, side: int = SQUARE) -> Face:
    s = side / 40
    marks = ((12, 14), (28, 14), (20, 22), (14, 30), (26, 30))
    points = tuple((left + x * s, top + y * s) for x, y in marks)
    return Face((left, top, left + side, top + side), 1.0, points)  # type: ignore[arg-type]


def finder(image: Image.Image) -> list[Face]:
    grey = np.asarray(image.convert("L")) > 128
    faces = []
    for top, left in zip(*np.nonzero(grey), strict=True):
        if (left == 0 or not grey[top, left - 1]) and (top == 0 or not grey[top - 1, left]):
            side = int(grey[top, left:].argmin() or grey.shape[1] - left)
            faces.append(_face_at(int(left), int(top), side))
    return sorted(faces, key=lambda f: f.box)


def _photo(path: Path, *squares: tuple[int, int, int]) -> Path:
    image = Image.new("RGB", (160, 120))
    for left, top, side in squares:
        gradient = np.linspace(150, 255, side * side * 3).reshape(side, side, 3).astype(np.uint8)
        image.paste(Image.fromarray(gradient), (left, top))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    folder = tmp_path / "raw"
    _photo(folder / "one.png", (60, 40, 40))
    _photo(folder / "pair.jpg", (10, 20, 40), (90, 30, 60))
    _photo(folder / "empty.png")
    _photo(folder / "trip" / "one.jpg", (20, 20, 50))  # the same stem as one.png
    _photo(folder / "trip" / "ONE.bmp", (30, 30, 40))  # and again, in another case
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    (folder / "notes.txt").write_text("not a photo")
    _photo(folder / ".thumbnails" / "one.png", (60, 40, 40))  # hidden: skipped
    return folder


def test_crops_names_manifest_and_report(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = align_folder(raw, out, size=32, finder=finder, progress=False)
    assert (report.found, report.photos, report.faces_found, report.faces_written) == (6, 5, 5, 5)
    assert report.no_face == ["empty.png"]
    assert report.several_faces == [("pair.jpg", 2)]
    assert [name for name, _ in report.unreadable] == ["broken.jpg"] and "broken.jpg" in report.unreadable[0][1]
    names = sorted(p.name for p in (out / "imgs").iterdir())
    hashed = [n for n in names if n.lower().startswith("one-")]
    assert len(hashed) == 3 and len({n.split("_")[0].lower() for n in hashed}) == 3  # three photos, three names
    assert sorted(set(names) - set(hashed)) == ["pair_0.png", "pair_1.png"]
    records = read_crop_manifest(out / "manifest.csv")
    assert sorted(r.crop for r in records) == names
    by_crop = {r.crop: r for r in records}
    assert {r.photo for r in records} == {"one.png", "pair.jpg", "trip/one.jpg", "trip/ONE.bmp"}
    assert (by_crop["pair_1.png"].index, by_crop["pair_1.png"].faces_in_photo) == (1, 2)
    assert by_crop["pair_1.png"].face.int_box() == (90, 30, 150, 90)
    for record in records:  # the manifest's transform is the one that cut the crop
        photo = Image.open(raw / record.photo).convert("RGB")
        assert record.transform == alignment_transform(record.face, 32)
        expected = np.asarray(to_pil(crop_face(photo, record.transform, 32)), int)
        assert np.abs(np.asarray(Image.open(out / "imgs" / record.crop), int) - expected).max() == 0
    text = str(report)
    assert "no face found: 1\n    empty.png" in text and "pair.jpg (2 faces)" in text and "every face written" in text
    assert read_face_crop(out) == CANONICAL_FACE  # the layout, for `ganimation train` to record with the model


def test_names_do_not_depend_on_the_other_photos(raw: Path, tmp_path: Path) -> None:
    first = align_folder(raw, tmp_path / "a", size=32, finder=finder, progress=False)
    (raw / "pair.jpg").unlink()
    _photo(raw / "zzz" / "one.png", (60, 40, 40))
    second = align_folder(raw, tmp_path / "b", size=32, finder=finder, progress=False)
    assert first.faces_written == 5 and second.faces_written == 4
    a = {r.photo: r.crop for r in read_crop_manifest(tmp_path / "a" / "manifest.csv")}
    b = {r.photo: r.crop for r in read_crop_manifest(tmp_path / "b" / "manifest.csv")}
    for photo in ("one.png", "trip/one.jpg", "trip/ONE.bmp"):
        assert a[photo] == b[photo]
    assert len(set(b.values())) == len(b)


def test_a_unique_stem_keeps_its_plain_name(tmp_path: Path) -> None:
    _photo(tmp_path / "raw" / "sub" / "me.png", (60, 40, 40))
    align_folder(tmp_path / "raw", tmp_path / "out", size=32, finder=finder, progress=False)
    assert [p.name for p in (tmp_path / "out" / "imgs").iterdir()] == ["me_0.png"]


def test_face_choice_largest_index_and_min_size(raw: Path, tmp_path: Path) -> None:
    largest = align_folder(raw, tmp_path / "l", size=32, finder=finder, largest=True, progress=False)
    assert largest.faces_written == 4 and (tmp_path / "l" / "imgs" / "pair_1.png").exists()
    assert not (tmp_path / "l" / "imgs" / "pair_0.png").exists()
    assert "several faces (the largest face written)" in str(largest)
    second = align_folder(raw, tmp_path / "i", size=32, finder=finder, face_index=1, progress=False)
    assert [p.name for p in (tmp_path / "i" / "imgs").iterdir()] == ["pair_1.png"]
    assert sorted(photo for photo, _ in second.none_chosen) == ["one.png", "trip/ONE.bmp", "trip/one.jpg"]
    assert "face 1 was asked for, but 1 face is there" in second.none_chosen[0][1]
    wide = align_folder(raw, tmp_path / "w", size=32, finder=finder, min_face_size=45, progress=False)
    assert wide.faces_written == 2 and "from 45 px wide" in wide.choice


def test_not_recursive_reads_only_the_top_folder(raw: Path, tmp_path: Path) -> None:
    report = align_folder(raw, tmp_path / "out", size=32, finder=finder, recursive=False, progress=False)
    assert report.found == 4 and report.faces_written == 3


def test_an_output_inside_the_photo_folder_is_not_read_as_photos(raw: Path) -> None:
    report = align_folder(raw, raw / "dataset", size=32, finder=finder, progress=False)
    assert report.found == 6 and report.faces_written == 5


def test_an_output_with_crops_is_refused_before_anything_is_written(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    align_folder(raw, out, size=32, finder=finder, progress=False)
    before = sorted(p.name for p in (out / "imgs").iterdir())
    with pytest.raises(FileExistsError, match=r"already holds crops.*give a new output folder"):
        align_folder(raw, out, size=32, finder=finder, progress=False)
    assert sorted(p.name for p in (out / "imgs").iterdir()) == before


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"size": 0}, "size must be"),
        ({"size": 32.0}, "size must be"),
        ({"face_index": 0, "largest": True}, "either a face index or largest"),
        ({"face_index": -1}, "face index must be"),
        ({"min_face_size": -3}, "min_size"),
    ],
)
def test_bad_options_are_refused_before_any_photo_is_read(
    raw: Path, tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    def exploding(image: Image.Image) -> list[Face]:
        raise AssertionError("a photo was read")

    with pytest.raises(ValueError, match=message):
        align_folder(raw, tmp_path / "out", finder=exploding, progress=False, **options)
    assert not (tmp_path / "out").exists()


def test_a_folder_without_photos_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "notes.txt").write_text("")
    with pytest.raises(ValueError, match="no photos"):
        align_folder(tmp_path / "raw", tmp_path / "out", finder=finder, progress=False)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        align_folder(tmp_path / "nowhere", tmp_path / "out", finder=finder, progress=False)


def test_a_manifest_missing_a_column_or_with_a_bad_number_is_named(raw: Path, tmp_path: Path) -> None:
    align_folder(raw, tmp_path / "out", size=32, finder=finder, progress=False)
    manifest = tmp_path / "out" / "manifest.csv"
    header, first, *rest = manifest.read_text().splitlines()
    assert header.split(",") == list(MANIFEST_COLUMNS)
    manifest.write_text("\n".join([header, first.replace(first.split(",")[4], "nan", 1), *rest]) + "\n")
    with pytest.raises(DataFormatError, match=r"manifest\.csv, line 2: a number is not finite"):
        read_crop_manifest(manifest)
    manifest.write_text(header.replace(",ty", "") + "\n")
    with pytest.raises(DataFormatError, match="lacks the columns ty"):
        read_crop_manifest(manifest)


def test_the_command_without_the_faces_extra_says_what_to_install(
    raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib fails as without the extra
    assert main(["prepare", "--align", str(raw), str(tmp_path / "out"), "--quiet"]) == 2
    assert INSTALL_HINT in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--align", "RAW"], "--align needs two folders"),
        (["RAW", "OUT"], "is the output of --align RAW OUT"),
        (["RAW", "--openface-bin", "x"], "--openface-bin goes with --align"),
        (["RAW", "--largest"], "--largest goes with --align"),
        (["RAW", "--face", "1"], "--face 1 (a photo's face) goes with --align"),
        (["--align", "RAW", "OUT", "--csv-dir", "c"], "--csv-dir does not go with --align"),
        (["--align", "RAW", "OUT", "--face", "0", "--largest"], "either --face N or --largest"),
        (["--align", "RAW", "OUT", "--aus", "AU01,AU1"], "more than once"),
    ],
)
def test_the_command_refuses_options_that_do_not_fit(
    argv: list[str], message: str, raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = {"RAW": str(raw), "OUT": str(tmp_path / "out")}
    assert main(["prepare", *(paths.get(a, a) for a in argv)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_face_that_is_neither_a_policy_nor_a_number_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["prepare", "--align", "raw", "out", "--face", "left"])
    assert stop.value.code == 2
    assert "'left' is not one of first, most_confident or a face number" in capsys.readouterr().err
