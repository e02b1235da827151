"""Hostile config.json files: every field bounded, every JSON failure the library's error naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from ganimation_lib import Critic, CriticConfig, Generator, GeneratorConfig, LossWeights, TrainerConfig
from ganimation_lib.cli import main
from ganimation_lib.evaluation import AURegressorConfig
from ganimation_lib.models.convert import from_pretrained
from ganimation_lib.models.pretrained import CONFIG_NAME, CheckpointError
from tests.conftest import tiny_critic_config, tiny_generator_config


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    return Generator(tiny_generator_config()).save_pretrained(tmp_path / "model")


def _set_field(folder: Path, **fields: object) -> Path:
    path = folder / CONFIG_NAME
    document = json.loads(path.read_text())
    document["config"].update(fields)
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("conv_dim", 10**30),
        ("image_size", 400_000),
        ("num_residual_blocks", 1_000_000),
        ("num_aus", 10**9),
        ("down_kernel_size", 99),
        ("norm_affine", "yes"),
        ("attention_bias", 10**400),
    ],
)
def test_an_unbuildable_field_is_a_checkpoint_error_naming_file_and_field(
    saved: Path, field: str, value: object
) -> None:
    path = _set_field(saved, **{field: value})
    with pytest.raises(CheckpointError, match=rf"{CONFIG_NAME}: GeneratorConfig\.{field}=") as info:
        from_pretrained(saved)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
        ('{"a": ' + "9" * 5000 + "}", "a number with thousands of digits"),
    ],
)
def test_json_that_breaks_the_parser_is_a_checkpoint_error_naming_the_file(saved: Path, text: str, reason: str) -> None:
    (saved / CONFIG_NAME).write_text(text)
    with pytest.raises(CheckpointError, match=rf"{CONFIG_NAME} is not valid JSON \({reason}\)"):
        from_pretrained(saved)


def test_the_limits_are_documented_values_and_the_largest_ones_are_accepted() -> None:
    GeneratorConfig(image_size=2048, conv_dim=1024, num_residual_blocks=64, num_aus=128, down_kernel_size=7)
    CriticConfig(image_size=2048, conv_dim=1024, depth=11, num_aus=128)
    with pytest.raises(ValueError, match=r"GeneratorConfig\.image_size=2052 must be an integer from 1 to 2048"):
        GeneratorConfig(image_size=2052)
    with pytest.raises(ValueError, match=r"CriticConfig\.depth=1000000000000000000000000000000 must be an int"):
        CriticConfig(depth=10**30)  # refused before 2**depth is computed
    with pytest.raises(ValueError, match=r"CriticConfig\.leaky_slope=nan"):
        CriticConfig(leaky_slope=float("nan"))
    with pytest.raises(ValueError, match=r"AURegressorConfig\.width=2048"):
        AURegressorConfig(width=2048)


@pytest.mark.parametrize(
    ("field", "value"), [("seed", 2**70), ("num_workers", 10**6), ("max_steps", 10**30), ("max_time", 10**400)]
)
def test_trainer_config_fields_are_bounded(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"TrainerConfig\.{field}="):
        TrainerConfig(**{field: value})


def test_loss_weights_must_be_finite() -> None:
    for value in (float("inf"), 10**400):
        with pytest.raises(ValueError, match=r"LossWeights\.cycle=.* must be a finite number"):
            LossWeights(cycle=value)  # type: ignore[arg-type]


def test_a_critic_folder_with_a_huge_depth_is_refused(tmp_path: Path) -> None:
    folder = Critic(tiny_critic_config()).save_pretrained(tmp_path / "critic")
    _set_field(folder, depth=10**30)
    with pytest.raises(CheckpointError, match=r"CriticConfig\.depth="):
        from_pretrained(folder)


def test_the_cli_reports_hostile_config_files_by_name(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_field(saved, image_size=400_000)
    photo = tmp_path / "face.png"
    Image.new("RGB", (32, 32)).save(photo)
    argv = ["edit", str(saved), str(photo), "--expression", "happy", "-o", str(tmp_path / "o.png")]
    assert main(argv) == 2
    assert "GeneratorConfig.image_size=400000 must be an integer from 1 to 2048" in capsys.readouterr().err

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000)
    assert main(["train", str(tmp_path), "--output", str(tmp_path / "run"), "--config", str(deep)]) == 2
    assert f"{deep} is not valid JSON (nested too deeply)" in capsys.readouterr().err
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps({"generator": {"conv_dim": 10**30}}))
    assert main(["train", str(tmp_path), "--output", str(tmp_path / "run"), "--config", str(huge)]) == 2
    err = capsys.readouterr().err
    assert "GeneratorConfig.conv_dim=1000000000000000000000000000000 must be an integer from 1 to 1024" in err
    assert str(huge) in err
