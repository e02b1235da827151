"""The accepted AU range: finite, >= 0 and <= MAX_AU (2.0 normalised, raw 10) everywhere a target enters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganimation_lib import Generator
from ganimation_lib.aus import aus_for
from ganimation_lib.cli import main
from ganimation_lib.inference import MAX_AU, Expression, animate, edit, read_drive, resolve_target
from tests.conftest import tiny_generator_config


@pytest.fixture
def generator() -> Generator:
    return Generator(tiny_generator_config()).eval()


def test_the_maximum_is_two_on_the_normalised_scale_and_exaggerated_presets_fit() -> None:
    assert MAX_AU == 2.0
    assert float(resolve_target("surprise:2", 17).max()) == pytest.approx(1.4)  # legitimate extrapolation
    assert float(resolve_target([MAX_AU] * 17, 17).max()) == MAX_AU


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_generator_forward_refuses_non_finite_aus(generator: Generator, value: float) -> None:
    aus = torch.zeros(1, 17)
    aus[0, 3] = value
    with pytest.raises(ValueError, match="NaN or infinite"):
        generator(torch.zeros(1, 3, 32, 32), aus)


@pytest.mark.parametrize(
    ("value", "message"),
    [(-0.1, "cannot be negative"), (2.5, "above the maximum 2"), (1e9, "above the maximum 2"), (float("inf"), "NaN")],
)
def test_edit_and_animate_refuse_out_of_range_vectors(generator: Generator, value: float, message: str) -> None:
    target = [0.0] * 17
    target[8] = value
    face = torch.zeros(3, 32, 32)
    with pytest.raises(ValueError, match=message):
        edit(generator, face, target)
    with pytest.raises(ValueError, match=message):
        animate(generator, face, [[0.0] * 17, target], frames_per_transition=2)
    with pytest.raises(ValueError, match=message):
        animate(generator, face, drive=torch.tensor([target]))


def test_a_preset_too_strong_names_the_largest_intensity(generator: Generator) -> None:
    with pytest.raises(ValueError, match=r"above the maximum 2 .*up to 2\.86"):
        Expression("happy", 1e9)
    with pytest.raises(ValueError, match="too strong"):
        edit(generator, torch.zeros(3, 32, 32), "happy:3")
    with pytest.raises(ValueError, match="above the maximum 2"):
        edit(generator, torch.zeros(3, 32, 32), aus_for("happy", intensity=1e9))


def test_driving_arrays_outside_the_range_are_refused() -> None:
    assert read_drive(np.full((2, 3), MAX_AU), 3).shape == (2, 3)
    with pytest.raises(ValueError, match=r"driving sequence has -0\.5 \(position 4\): .*cannot be negative"):
        read_drive(np.array([[0.0, 0.1, 0.2], [0.3, -0.5, 0.0]]), 3)


def test_ganimation_edit_with_an_absurd_intensity_exits_with_the_message(
    generator: Generator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = generator.save_pretrained(tmp_path / "model")
    photo, out = tmp_path / "face.png", tmp_path / "out.png"
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(photo)
    argv = ["edit", str(folder), str(photo), "--expression", "happy", "--intensity", "1e9", "-o", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "ganimation edit: error: expression intensity 1e+09 is too strong" in err and "maximum 2" in err
    assert not out.exists()
    assert main([*argv[:5], "--intensity", "-1", "-o", str(out)]) == 2
    assert ">= 0" in capsys.readouterr().err
