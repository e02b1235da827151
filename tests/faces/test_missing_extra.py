"""Without the ``faces`` extra the library works, and asking for the built-in finder says what to install."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from ganimation_lib.cli import main
from ganimation_lib.faces import INSTALL_HINT, DlibFaceFinder, FacesExtraMissingError
from ganimation_lib.faces import dlib_finder as dlib_finder_module

UNSAFE = ("sudo", "--break-system-packages", "curl", "wget", "http", "--user", "--index-url", "--trusted-host")


@pytest.fixture
def no_dlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import dlib`` fails as it does where the extra is not installed (None in sys.modules blocks an import)."""
    monkeypatch.setitem(sys.modules, "dlib", None)


def _check_advice(message: str) -> None:
    assert INSTALL_HINT == "pip install 'ganimation_lib[faces]'"
    assert INSTALL_HINT in message
    assert not [word for word in UNSAFE if word in message], message


@pytest.mark.usefixtures("no_dlib")
def test_the_finder_without_dlib_says_what_to_install() -> None:
    with pytest.raises(FacesExtraMissingError) as raised:
        DlibFaceFinder()
    assert isinstance(raised.value, ImportError)  # what code that catches a missing optional import expects
    _check_advice(str(raised.value))
    assert "--box" in str(raised.value)


def test_the_finder_without_the_model_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("dlib")
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name == "face_recognition_models" else real(name, package)

    monkeypatch.setattr(dlib_finder_module.importlib.util, "find_spec", find_spec)
    with pytest.raises(FacesExtraMissingError) as raised:
        DlibFaceFinder()
    _check_advice(str(raised.value))
    assert "face-recognition-models" in str(raised.value)


@pytest.mark.usefixtures("no_dlib")
def test_the_command_without_dlib_exits_2_with_the_advice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 48)).save(photo)
    assert main(["faces", str(photo)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("ganimation faces: error: finding faces needs the optional extra")
    _check_advice(captured.err)


def test_importing_the_library_and_its_command_line_does_not_import_dlib() -> None:
    code = (
        "import sys; import ganimation_lib, ganimation_lib.faces, ganimation_lib.cli; "
        "ganimation_lib.cli.build_parser(); print('dlib' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_finder_options_are_checked_before_dlib_is_needed() -> None:
    with pytest.raises(ValueError, match="upsample"):
        DlibFaceFinder(upsample=-1)
    with pytest.raises(ValueError, match="landmarks"):
        DlibFaceFinder(landmarks="3-point")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="detect_size"):
        DlibFaceFinder(detect_size=40)
    with pytest.raises(ValueError, match="min_confidence"):
        DlibFaceFinder(min_confidence=float("nan"))
