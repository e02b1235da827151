"""Validation with an independent AU regressor: figures the generator cannot lower by fooling the critic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from ganimation_lib import AUSample, Critic, CriticConfig, Generator, GeneratorConfig, Trainer
from ganimation_lib.cli import main
from ganimation_lib.data.synthetic import SyntheticFaces
from ganimation_lib.evaluation import AURegressor, AURegressorConfig
from ganimation_lib.training.validation import validate

from .helpers import RandomAUData, tiny_config, tiny_models

REGRESSOR_FIGURES = {"regressor_expression_error", "regressor_input_error", "regressor_au_error"}


class ConstantReading(nn.Module):
    """Reads every face as the same AUs: its errors are known in closed form."""

    def __init__(self, value: float, num_aus: int = 17) -> None:
        super().__init__()
        self.value, self.num_aus = value, num_aus

    def forward(self, images: Tensor) -> Tensor:
        return torch.full((images.shape[0], self.num_aus), self.value)


class MeanBrightness(nn.Module):
    """Reads each face's mean pixel value as every AU: a reading that depends on the face."""

    def forward(self, images: Tensor) -> Tensor:
        return images.mean(dim=(1, 2, 3))[:, None].expand(-1, 17)


def held_out_batch() -> AUSample:
    g = torch.Generator().manual_seed(0)
    images, aus, target = torch.rand(3, 3, 32, 32, generator=g) * 2 - 1, torch.rand(3, 17), torch.rand(3, 17)
    return AUSample(images, aus, target, ["", "", ""], ["a", "b", "c"])


def test_the_regressor_figures_are_its_mean_absolute_errors() -> None:
    batch = held_out_batch()
    generator = Generator(GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=0))
    critic = Critic(CriticConfig(image_size=32, conv_dim=8, depth=4))
    reading = ConstantReading(0.25)
    figures = validate(generator, critic, batch, device=torch.device("cpu"), au_regressor=reading)
    assert set(figures) >= REGRESSOR_FIGURES
    assert figures["regressor_au_error"] == pytest.approx(float((0.25 - batch.aus).abs().mean()))
    assert figures["regressor_input_error"] == pytest.approx(float((0.25 - batch.target_aus).abs().mean()))
    # A constant reading cannot tell the generated faces from the inputs.
    assert figures["regressor_expression_error"] == pytest.approx(figures["regressor_input_error"])
    assert not REGRESSOR_FIGURES & set(validate(generator, critic, batch, device=torch.device("cpu")))


def test_the_regressor_reads_the_generated_faces_not_the_inputs() -> None:
    batch = held_out_batch()
    critic = Critic(CriticConfig(image_size=32, conv_dim=8, depth=4))
    # Attention near 1: the output is the input, so the reading of the output is the reading of the input.
    keeps = Generator(GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=0, attention_bias=30.0))
    same = validate(keeps, critic, batch, device=torch.device("cpu"), au_regressor=MeanBrightness())
    assert same["regressor_expression_error"] == pytest.approx(same["regressor_input_error"], abs=1e-6)
    # Attention near 0: the output is the colour map, another picture with another mean.
    paints = Generator(GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=0, attention_bias=-30.0))
    with torch.no_grad():
        paints.color_head.weight.zero_()  # colour tanh(0) = 0 everywhere: mean brightness 0
    other = validate(paints, critic, batch, device=torch.device("cpu"), au_regressor=MeanBrightness())
    expected = float((0.0 - batch.target_aus).abs().mean())
    assert other["regressor_expression_error"] == pytest.approx(expected, abs=1e-5)
    assert other["regressor_input_error"] == pytest.approx(same["regressor_input_error"])


def test_validate_leaves_the_regressor_in_the_mode_it_found() -> None:
    regressor = AURegressor(AURegressorConfig(image_size=32))
    regressor.train()
    generator = Generator(GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=0))
    critic = Critic(CriticConfig(image_size=32, conv_dim=8, depth=4))
    validate(generator, critic, held_out_batch(), device=torch.device("cpu"), au_regressor=regressor)
    assert regressor.training


def test_the_trainer_reports_the_regressor_figures() -> None:
    regressor = AURegressor(AURegressorConfig(image_size=32))
    trainer = Trainer(**tiny_models(), config=tiny_config(max_steps=2), progress=False, au_regressor=regressor)
    held_out = RandomAUData(length=3, seed=1)  # fewer than num_validation_samples: all three are validated
    figures = trainer.fit(RandomAUData(length=4), val_data=held_out)
    assert set(figures) >= REGRESSOR_FIGURES
    with torch.no_grad():  # the regressor's own error: its reading of the held-out faces against their AUs
        own = float((regressor.eval()(held_out.images) - held_out.aus).abs().mean())
    assert figures["regressor_au_error"] == pytest.approx(own, rel=1e-5)


def test_a_regressor_for_other_faces_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"reads 64 px faces with 17 AUs, but the generator works at 32 px"):
        Trainer(**tiny_models(), progress=False, au_regressor=AURegressor(AURegressorConfig(image_size=64)))
    with pytest.raises(ValueError, match=r"reads 32 px faces with 12 AUs"):
        Trainer(**tiny_models(), progress=False, au_regressor=AURegressor(AURegressorConfig(image_size=32, num_aus=12)))
    with pytest.raises(TypeError, match="au_regressor must be a torch module"):
        Trainer(**tiny_models(), progress=False, au_regressor="regressor/")  # type: ignore[arg-type]


def test_train_cli_loads_the_regressor_and_logs_its_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = SyntheticFaces(num_identities=3, items_per_identity=2, image_size=32).write(tmp_path / "data")
    saved = AURegressor(AURegressorConfig.for_image_size(32)).save_pretrained(tmp_path / "regressor")
    tiny = ["--image-size", "32", "--generator-conv-dim", "8", "--generator-num-residual-blocks", "1"]
    tiny += ["--critic-conv-dim", "8", "--critic-depth", "4", "--batch-size", "2", "--device", "cpu", "--no-progress"]
    run = [str(data), "--output", str(tmp_path / "run"), "--max-steps", "2", "--val-fraction", "0.34", *tiny]
    assert main(["train", *run, "--au-regressor", str(saved)]) == 0
    lines = (tmp_path / "run" / "logs" / "metrics.jsonl").read_text().splitlines()
    assert any(set(json.loads(line)) >= REGRESSOR_FIGURES for line in lines)

    missing = tmp_path / "no-regressor"
    assert main(["train", *run, "--output", str(tmp_path / "run2"), "--au-regressor", str(missing)]) == 2
    assert f"{missing} does not exist" in capsys.readouterr().err
