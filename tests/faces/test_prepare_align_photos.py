"""``ganimation prepare --align`` on the real photos of ../shared/fixtures, with the built-in finder and a stand-in
OpenFace: crops, manifest and report, crops aligned like the training data, and a dataset that train reads.

Skipped without the faces extra or the fixture photos.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganimation_lib.cli import main
from ganimation_lib.data import AUDataset, read_au_table, read_openface_csv
from ganimation_lib.faces import CANONICAL_FACE, DlibFaceFinder, align_folder, read_crop_manifest
from tests.data.openface_standin import write_openface_standin

pytest.importorskip("dlib", reason="the faces extra is not installed: pip install 'ganimation_lib[faces]'")
pytestmark = pytest.mark.fixtures

PHOTOS = ("0-f1-su-ph.jpg", "45-m7-di-ph.jpg", "single_face.jpg")
TINY = ["--image-size", "32", "--generator-conv-dim", "8", "--generator-num-residual-blocks", "1", "--critic-conv-dim",
        "8", "--critic-depth", "4", "--batch-size", "2", "--device", "cpu", "--no-progress"]  # fmt: skip


@pytest.fixture
def raw(fixtures_dir: Path, tmp_path: Path) -> Path:
    """The three fixture photos, one again in a subfolder, a group photo of two, a photo without a face."""
    folder = tmp_path / "raw"
    (folder / "sub").mkdir(parents=True)
    for name in PHOTOS:
        shutil.copy(fixtures_dir / "photos" / name, folder / name)
    shutil.copy(fixtures_dir / "photos" / "single_face.jpg", folder / "sub" / "single_face.jpg")
    left, right = (
        Image.open(fixtures_dir / "photos" / n).convert("RGB") for n in ("0-f1-su-ph.jpg", "single_face.jpg")
    )
    group = Image.new("RGB", (left.width + right.width + 60, max(left.height, right.height) + 40), (30, 90, 40))
    group.paste(left, (20, 20))
    group.paste(right, (40 + left.width, 10))
    group.save(folder / "group.png")
    Image.new("RGB", (400, 300), (120, 160, 200)).save(folder / "sky.png")  # a flat colour: no face
    return folder


def test_every_face_is_cropped_aligned_and_listed(raw: Path, tmp_path: Path, finder: DlibFaceFinder) -> None:
    out = tmp_path / "out"
    report = align_folder(raw, out, finder=finder, progress=False)
    assert (report.found, report.photos, report.faces_written) == (6, 6, 6)
    assert report.no_face == ["sky.png"] and report.several_faces == [("group.png", 2)] and not report.unreadable
    assert "sky.png" in str(report) and "group.png (2 faces)" in str(report)
    records = read_crop_manifest(out / "manifest.csv")
    crops = sorted(p.name for p in (out / "imgs").iterdir())
    assert sorted(r.crop for r in records) == crops and len(crops) == 6
    assert {"0-f1-su-ph_0.png", "45-m7-di-ph_0.png", "group_0.png", "group_1.png"} <= set(crops)
    assert {r.photo for r in records} == {*PHOTOS, "sub/single_face.jpg", "group.png"}
    assert len({r.crop for r in records if r.photo.endswith("single_face.jpg")}) == 2  # one stem, two names
    canonical = CANONICAL_FACE.points(128)[:2]
    for record in records:
        crop = Image.open(out / "imgs" / record.crop)
        assert crop.size == (128, 128)
        # In the photo's pixels the landmarks are where the finder put them; the crop maps them onto the canonical
        # places; and the finder, run again on the crop, finds the eyes there.
        assert np.abs(record.transform.apply(record.face.landmarks[:2]) - canonical).max() < 0.5
        if record.photo.startswith("45-"):
            continue  # the turned head: its far eye is placed 0.18 eye distances off (docs/faces.md)
        (again,) = finder(crop)
        assert np.abs(np.array(again.landmarks[:2]) - canonical).max() < 4.0, (record.crop, again.landmarks)


def test_the_largest_face_of_the_group(raw: Path, tmp_path: Path, finder: DlibFaceFinder) -> None:
    report = align_folder(raw, tmp_path / "out", finder=finder, largest=True, progress=False)
    assert report.faces_written == 5
    (group,) = [r for r in read_crop_manifest(tmp_path / "out" / "manifest.csv") if r.photo == "group.png"]
    assert (group.index, group.faces_in_photo) == (0, 2)  # the surprised face: 322 px against 187 px
    assert group.face.width > 300


def test_photos_to_a_training_set_with_openface_then_train(
    raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data set"  # a space: OpenFace gets its arguments as a list, not through a shell
    binary = write_openface_standin(tmp_path / "bin" / "FaceLandmarkImg", executable=True)
    assert main(["prepare", "--align", str(raw), str(out), "--openface-bin", str(binary), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "sky.png" in printed and "6 rows in" in printed and f"ganimation train {out}" in printed
    assert sorted(p.name for p in (out / "openface").glob("*.csv")) == sorted(
        p.with_suffix(".csv").name for p in (out / "imgs").iterdir()
    )
    table = read_au_table(out / "aus.csv")
    assert set(table.files) == {p.name for p in (out / "imgs").iterdir()} and len(table.files) == 6
    for name, values in zip(table.files, table.values, strict=True):  # each crop's AUs are its own CSV's
        (face,) = read_openface_csv(out / "openface" / Path(name).with_suffix(".csv").name).faces
        assert np.allclose(values, face.intensities)
    assert len({tuple(v) for v in table.values}) == 6
    data = AUDataset(out, image_size=32)
    assert len(data) == 6 and data[0].image.shape == (3, 32, 32) and float(data[0].aus.max()) <= 1.0
    run = tmp_path / "run"
    assert main(["train", str(out), "--output", str(run), "--max-steps", "2", "--val-fraction", "0", *TINY]) == 0
    assert (run / "generator" / "model.safetensors").is_file()


def test_a_failing_openface_is_an_error_with_its_output(
    raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = write_openface_standin(tmp_path / "FaceLandmarkImg", exit_code=1, stderr="Could not find the AU models\n")
    out = tmp_path / "out"
    assert main(["prepare", "--align", str(raw), str(out), "--openface-bin", str(binary), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "exited with status 1" in err and "Could not find the AU models" in err
    assert (out / "manifest.csv").is_file() and not (out / "aus.csv").exists()  # the crops are kept


@pytest.mark.parametrize("problem", ["missing", "not executable"])
def test_a_bad_openface_binary_is_refused_before_any_photo_is_read(
    problem: str, raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "FaceLandmarkImg"
    if problem == "not executable":
        write_openface_standin(binary, executable=False)
    out = tmp_path / "out"
    assert main(["prepare", "--align", str(raw), str(out), "--openface-bin", str(binary), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert ("does not exist" if problem == "missing" else "is not executable") in err
    assert not out.exists()
