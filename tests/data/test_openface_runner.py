"""Running OpenFace's FaceLandmarkImg (a stand-in script here): the arguments it gets, and every way it can fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from ganimation_lib.data import (
    OpenFaceRunError,
    check_openface_binary,
    prepare_openface,
    read_openface_csv,
    run_face_landmark_img,
)
from ganimation_lib.data.openface_runner import LOG_NAME

from .openface_standin import write_openface_standin


@pytest.fixture
def images(tmp_path: Path) -> Path:
    # Spaces and a semicolon in the path: a shell would split or run them, an argument list does not.
    folder = tmp_path / "my crops; echo hacked" / "imgs"
    folder.mkdir(parents=True)
    for index, name in enumerate(("a_0.png", "b_0.png", "noface_0.png")):
        Image.new("RGB", (16, 16), (index * 60, 90, 120)).save(folder / name)
    return folder


def test_it_runs_fdir_out_dir_aus_and_the_csvs_make_an_au_table(images: Path, tmp_path: Path) -> None:
    binary = write_openface_standin(tmp_path / "FaceLandmarkImg")
    out = images.parent / "openface"
    assert run_face_landmark_img(binary, images, out) == out
    assert json.loads((out / "argv.json").read_text()) == ["-fdir", str(images), "-out_dir", str(out), "-aus"]
    assert sorted(p.name for p in out.glob("*.csv")) == ["a_0.csv", "b_0.csv"]
    assert "stand-in: processed" in (out / LOG_NAME).read_text()  # what it printed went to the log
    parsed = read_openface_csv(out / "a_0.csv")
    assert len(parsed.faces) == 1 and 0 <= min(parsed.faces[0].intensities) <= max(parsed.faces[0].intensities) <= 5
    summary = prepare_openface(images, csv_dir=out, progress=False)
    assert (summary.kept, summary.no_face, summary.output) == (2, 1, images.parent / "aus.csv")


def test_extra_arguments_are_passed_after_the_standard_ones(images: Path, tmp_path: Path) -> None:
    binary = write_openface_standin(tmp_path / "FaceLandmarkImg")
    run_face_landmark_img(binary, images, tmp_path / "csvs", extra_args=["-au_static", "-wild"])
    assert json.loads((tmp_path / "csvs" / "argv.json").read_text())[-3:] == ["-aus", "-au_static", "-wild"]


def test_a_missing_binary_says_what_to_give(images: Path, tmp_path: Path) -> None:
    with pytest.raises(OpenFaceRunError, match=r"does not exist; give the path of FaceLandmarkImg"):
        run_face_landmark_img(tmp_path / "nowhere" / "FaceLandmarkImg", images, tmp_path / "csvs")
    assert not (tmp_path / "csvs").exists()


def test_a_binary_that_is_not_executable_says_chmod(images: Path, tmp_path: Path) -> None:
    binary = write_openface_standin(tmp_path / "FaceLandmarkImg", executable=False)
    with pytest.raises(OpenFaceRunError, match=r"is not executable: make it so \(chmod \+x .*FaceLandmarkImg\)"):
        run_face_landmark_img(binary, images, tmp_path / "csvs")


def test_a_folder_is_not_a_binary(images: Path, tmp_path: Path) -> None:
    with pytest.raises(OpenFaceRunError, match="is a folder"):
        check_openface_binary(tmp_path)


def test_a_failing_binary_reports_its_status_and_error_output(images: Path, tmp_path: Path) -> None:
    lines = "".join(f"loading model {i}\n" for i in range(30)) + "Could not find the landmark model files\n"
    binary = write_openface_standin(tmp_path / "FaceLandmarkImg", exit_code=3, stderr=lines)
    with pytest.raises(OpenFaceRunError) as raised:
        run_face_landmark_img(binary, images, tmp_path / "csvs")
    message = str(raised.value)
    assert "exited with status 3" in message
    assert "Could not find the landmark model files" in message
    assert "loading model 29" in message and "loading model 5\n" not in message  # the tail, not all of it
    assert str(tmp_path / "csvs" / LOG_NAME) in message
    assert "Could not find the landmark model files" in (tmp_path / "csvs" / LOG_NAME).read_text()


def test_a_file_that_is_not_a_program_cannot_be_run(images: Path, tmp_path: Path) -> None:
    binary = tmp_path / "FaceLandmarkImg"
    binary.write_bytes(b"\x00\x01 not a program")
    binary.chmod(0o755)
    with pytest.raises(OpenFaceRunError, match="could not run the OpenFace binary"):
        run_face_landmark_img(binary, images, tmp_path / "csvs")


def test_a_bare_name_is_looked_up_on_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = write_openface_standin(tmp_path / "FaceLandmarkImg")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.chdir(tmp_path.parent)  # not found as a relative path
    assert check_openface_binary("FaceLandmarkImg") == binary


def test_a_missing_image_folder_is_named(tmp_path: Path) -> None:
    binary = write_openface_standin(tmp_path / "FaceLandmarkImg")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        run_face_landmark_img(binary, tmp_path / "nowhere", tmp_path / "csvs")


def test_a_binary_past_the_timeout_is_stopped(images: Path, tmp_path: Path) -> None:
    binary = tmp_path / "FaceLandmarkImg"
    binary.write_text("#!/bin/sh\nsleep 30\n")
    binary.chmod(0o755)
    with pytest.raises(OpenFaceRunError, match=r"ran past the timeout of 0\.3 s"):
        run_face_landmark_img(binary, images, tmp_path / "csvs", timeout=0.3)
