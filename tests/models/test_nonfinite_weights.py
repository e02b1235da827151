"""NaN/inf weights are refused at load, naming the file and the first such tensor, in every way a model loads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from ganimation_lib import Generator, GeneratorConfig, load_checkpoint
from ganimation_lib.cli import main
from ganimation_lib.models.convert import from_pretrained, key_map
from ganimation_lib.models.pretrained import WEIGHTS_NAME, CheckpointError
from tests.conftest import tiny_generator_config


def _poisoned_generator() -> tuple[Generator, str]:
    """A tiny generator with one NaN in a middle tensor (its name is returned)."""
    model = Generator(tiny_generator_config())
    names = list(model.state_dict())
    bad = names[len(names) // 2]
    with torch.no_grad():
        model.state_dict()[bad].view(-1)[0] = float("nan")
    return model, bad


def test_a_save_pretrained_folder_with_nan_weights_is_refused(tmp_path: Path) -> None:
    model, bad = _poisoned_generator()
    folder = model.save_pretrained(tmp_path / "model")
    with pytest.raises(CheckpointError, match=rf"{WEIGHTS_NAME} are not finite: {bad} holds 1 NaN/inf"):
        from_pretrained(folder)
    with pytest.raises(CheckpointError, match="not finite"):
        Generator.from_pretrained(folder)


def test_a_safetensors_file_with_inf_weights_is_refused(tmp_path: Path) -> None:
    model = Generator(tiny_generator_config())
    tensors = {k: v.clone().contiguous() for k, v in model.state_dict().items()}
    first = next(iter(tensors))
    tensors[first][0] = float("inf")
    save_file(tensors, str(tmp_path / "g.safetensors"))
    with pytest.raises(CheckpointError, match=rf"g\.safetensors are not finite: {first} holds"):
        load_checkpoint(tmp_path / "g.safetensors", image_size=32)


def test_an_official_checkpoint_with_nan_weights_is_refused_in_its_own_key_names(tmp_path: Path) -> None:
    config = GeneratorConfig.official(image_size=32, conv_dim=8, num_residual_blocks=1)
    ours = Generator(config).state_dict()
    official = {theirs: ours[name].clone() for name, theirs in key_map(config, "official").items()}
    official["img_reg.0.weight"].view(-1)[3] = float("-inf")
    torch.save(official, tmp_path / "net_G.pth")
    with pytest.raises(CheckpointError, match=r"net_G\.pth are not finite: img_reg\.0\.weight holds 1 NaN/inf"):
        load_checkpoint(tmp_path / "net_G.pth", image_size=32)


def test_ganimation_edit_refuses_nan_weights_instead_of_writing_a_black_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, _ = _poisoned_generator()
    folder = model.save_pretrained(tmp_path / "model")
    photo, out = tmp_path / "face.png", tmp_path / "out.png"
    Image.fromarray(np.full((32, 32, 3), 128, dtype=np.uint8)).save(photo)
    argv = ["edit", str(folder), str(photo), "--expression", "happy", "-o", str(out), "--device", "cpu"]
    assert main(argv) == 2
    assert "not finite" in capsys.readouterr().err and not out.exists()


def test_finite_weights_still_load(tmp_path: Path) -> None:
    model = Generator(tiny_generator_config())
    assert from_pretrained(model.save_pretrained(tmp_path / "model")).config == model.config
