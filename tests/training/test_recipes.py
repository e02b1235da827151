"""Recipes are complete presets: networks sized for the image size plus the training settings."""

from __future__ import annotations

import pytest

from ganimation_lib import CriticConfig, GeneratorConfig, TrainerConfig
from ganimation_lib.cli import build_parser
from ganimation_lib.cli.train import build_configs
from ganimation_lib.training.recipes import critic_depth_for, fast_networks, fast_trainer, recipe_configs


def _configs(*flags: str) -> tuple[TrainerConfig, GeneratorConfig, CriticConfig]:
    return build_configs(build_parser().parse_args(["train", "data", "--output", "out", *flags]))


def test_fast_recipe_at_64_px_needs_no_other_flag() -> None:
    trainer, generator, critic = _configs("--recipe", "fast", "--image-size", "64")
    expected_generator, expected_critic = fast_networks(64)
    assert generator == expected_generator and critic == expected_critic
    assert generator.au_modulation and generator.draw_downsample == 2 and generator.draw_upsample == "shuffle"
    assert critic.input_downsample == 2 and critic.final_size == 4
    assert trainer == fast_trainer(64) and trainer.loss_weights.color_smoothness == 10.0
    assert (trainer.n_critic, trainer.generator_lr, trainer.gradient_penalty_mode) == (1, 1e-3, "critic_step")
    # The AU reading: a full-resolution trunk of its own, smoothed, learning at a quarter of the critic's rate.
    assert (critic.au_trunk_conv_dim, critic.au_trunk_input_downsample, critic.au_final_size) == (32, 1, 4)
    assert trainer.loss_weights.au_gradient_penalty == 10.0 and trainer.au_lr_scale == 0.25
    assert trainer.ema_decay == 0.999  # the slower generator average where a 10-minute run settles
    # ...with more pressure towards the expression, and the warp's sub-pixel moves dropped when drawing.
    assert trainer.loss_weights.expression == 36.0 and generator.warp_threshold == 0.1


def test_fast_recipe_at_128_px_keeps_the_maps_it_was_measured_with() -> None:
    trainer, generator, critic = _configs("--recipe", "fast", "--image-size", "128")
    # The AU reading sees the face at 64 px, as at 64 px: reduced 2x, 4 halvings to a 4x4 map.
    assert (critic.au_trunk_input_downsample, critic.au_trunk_depth) == (2, 4)
    assert (critic.final_size, critic.au_final_size) == (4, 4)
    for size in (48, 96, 192, 256, 512):
        assert fast_networks(size)[1].au_trunk_input_downsample in (1, 2, 4)  # a valid config at every size
    assert generator.draw_downsample == 2 and trainer == fast_trainer(128)
    assert trainer.ema_decay == 0.99  # still learning at the end of a CPU run: a slower average would lag
    assert trainer.loss_weights.expression == 30.0 and generator.warp_threshold == 0.0  # not measured at 128 px


def test_the_au_reading_of_the_fast_recipe_can_be_switched_back_by_flags() -> None:
    trainer, _, critic = _configs(
        "--recipe",
        "fast",
        "--image-size",
        "64",
        "--critic-au-trunk-conv-dim",
        "none",
        "--critic-au-trunk-depth",
        "none",
        "--au-lr-scale",
        "1",
        "--weight-au-gradient-penalty",
        "0",
    )
    assert not critic.separate_au_trunk and critic.au_final_size == critic.final_size == 4
    assert trainer.au_lr_scale == 1.0 and trainer.loss_weights.au_gradient_penalty == 0.0


def test_fast_recipe_at_32_px_is_the_demo_recipe() -> None:
    trainer, generator, critic = _configs("--recipe", "fast", "--image-size", "32")
    assert generator == GeneratorConfig(image_size=32, conv_dim=16, num_residual_blocks=2, attention_bias=3.0)
    assert critic == CriticConfig(image_size=32, conv_dim=16, depth=4)
    assert trainer == TrainerConfig.fast() and trainer.au_lr_scale == 1.0


def test_flags_presets_and_config_sections_override_the_recipe() -> None:
    trainer, generator, critic = _configs(
        "--recipe",
        "fast",
        "--image-size",
        "64",
        "--generator-conv-dim",
        "24",
        "--weight-color-smoothness",
        "0",
        "--max-steps",
        "7",
    )
    assert generator.conv_dim == 24 and generator.au_modulation  # the rest of the recipe stays
    assert trainer.loss_weights.color_smoothness == 0.0 and trainer.max_steps == 7 and trainer.n_critic == 1
    _, generator, critic = _configs("--recipe", "fast", "--image-size", "64", "--generator-preset", "cyclegan")
    assert generator == GeneratorConfig.cyclegan(image_size=64)  # an explicit preset replaces the recipe's network
    assert critic == fast_networks(64)[1]


def test_official_recipe_is_exact_at_128_and_keeps_a_2x2_score_map_elsewhere() -> None:
    trainer, generator, critic = _configs()
    assert (trainer, generator, critic) == (TrainerConfig.official(), GeneratorConfig(), CriticConfig())
    _, generator, critic = _configs("--image-size", "64")
    assert generator == GeneratorConfig.official(image_size=64) and (critic.depth, critic.final_size) == (5, 2)
    assert recipe_configs("official", 128) == (GeneratorConfig(), CriticConfig(), TrainerConfig())


def test_recipe_errors_name_the_value() -> None:
    with pytest.raises(ValueError, match="unknown recipe 'slow'"):
        recipe_configs("slow")
    with pytest.raises(ValueError, match="image_size=3 cannot be halved"):
        critic_depth_for(3, 2)
