"""``ganimation export``: a saved folder or a checkpoint file in, an ONNX file that onnxruntime runs out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ganimation_lib import Critic, Generator
from ganimation_lib.cli import main
from tests.conftest import tiny_critic_config, tiny_generator_config

ort = pytest.importorskip("onnxruntime")


def _run(path: Path, batch: int, size: int, num_aus: int = 17) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    face = np.zeros((batch, 3, size, size), np.float32)
    return list(session.run(None, {"face": face, "aus": np.zeros((batch, num_aus), np.float32)}))


def test_export_a_saved_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = Generator(tiny_generator_config(conv_dim=4)).save_pretrained(tmp_path / "g")
    assert main(["export", str(folder), str(tmp_path / "g.onnx")]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "face (B, 3, H, W) in [-1, 1]" in out and "image, attention, color" in out
    image, attention, color = _run(tmp_path / "g.onnx", 2, 64)
    assert image.shape == color.shape == (2, 3, 64, 64) and attention.shape == (2, 1, 64, 64)


def test_export_a_checkpoint_file_with_its_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = Generator(tiny_generator_config(conv_dim=4, num_aus=2))
    torch.save(model.state_dict(), tmp_path / "net_G.pth")
    argv = ["export", str(tmp_path / "net_G.pth"), str(tmp_path / "g.onnx"), "--image-size", "32"]
    assert main([*argv, "--au-names", "AU12,AU26", "--fixed-size", "--fixed-batch", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    session = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [1, 3, 32, 32]
    assert session.get_modelmeta().custom_metadata_map["ganimation.au_names"] == '["AU12", "AU26"]'


def test_an_existing_output_needs_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = Generator(tiny_generator_config(conv_dim=4)).save_pretrained(tmp_path / "g")
    (tmp_path / "g.onnx").write_bytes(b"old")
    assert main(["export", str(folder), str(tmp_path / "g.onnx"), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err and (tmp_path / "g.onnx").read_bytes() == b"old"
    assert main(["export", str(folder), str(tmp_path / "g.onnx"), "--quiet", "--overwrite"]) == 0
    assert _run(tmp_path / "g.onnx", 1, 32)[0].shape == (1, 3, 32, 32)


def test_bad_paths_and_a_critic_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = Generator(tiny_generator_config(conv_dim=4)).save_pretrained(tmp_path / "g")
    assert main(["export", str(folder), str(tmp_path / "g.pt")]) == 2
    assert "ganimation export: error:" in (err := capsys.readouterr().err) and "must end with .onnx" in err
    critic = Critic(tiny_critic_config()).save_pretrained(tmp_path / "d")
    assert main(["export", str(critic), str(tmp_path / "d.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganimation export: error:") and "generator" in err.lower(), err
    assert main(["export", str(tmp_path / "missing"), str(tmp_path / "m.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.onnx"))


def test_without_the_extra_the_command_says_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Generator(tiny_generator_config(conv_dim=4)).save_pretrained(tmp_path / "g")
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert main(["export", str(folder), str(tmp_path / "g.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganimation export: error: exporting to ONNX needs the optional extra")
    assert "pip install 'ganimation_lib[onnx]'" in err


def test_importing_the_library_and_its_command_line_does_not_import_onnx() -> None:
    code = (
        "import sys; import ganimation_lib, ganimation_lib.models, ganimation_lib.cli; "
        "ganimation_lib.cli.build_parser(); print(sorted(m for m in ('onnx', 'onnxscript', 'onnxruntime') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
