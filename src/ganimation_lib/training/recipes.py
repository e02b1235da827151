"""Named recipes: the networks *and* the training settings that were measured together.

A recipe is complete: ``recipe_configs("fast", image_size=64)`` gives a generator, a critic and a
[`TrainerConfig`][ganimation_lib.training.config.TrainerConfig] sized for 64 px, so
``ganimation train DATA --recipe fast --image-size 64`` needs no other flag. Explicit settings still win: pass
``generator=`` / ``critic=`` overrides (the CLI's ``--generator-*`` / ``--critic-*`` flags) or a preset.

* ``"official"``: albertpumarola/GANimation exactly (``GeneratorConfig.official``, ``CriticConfig.official``,
  ``TrainerConfig.official``), at any image size (the critic's depth follows the size so that its score map
  stays 2×2, as 6 at 128 px).
* ``"fast"``: the CPU-sized recipe measured on held-out synthetic faces (``docs/training.md``): small
  identity-start networks (`fast_networks`) and the
  [`TrainerConfig.fast`][ganimation_lib.training.config.TrainerConfig.fast] schedule and losses (`fast_trainer`).
"""

from __future__ import annotations

from typing import Any, Literal

from ..losses import LossWeights
from ..models.critic import CriticConfig
from ..models.generator import GeneratorConfig
from .config import TrainerConfig

__all__ = ["RECIPES", "RecipeName", "critic_depth_for", "fast_networks", "fast_trainer", "recipe_configs"]

RecipeName = Literal["official", "fast"]

#: The recipe names ``recipe_configs`` and ``ganimation train --recipe`` accept.
RECIPES: tuple[str, ...] = ("official", "fast")


def _settles_in_ten_minutes(image_size: int) -> bool:
    """Whether a 10-minute CPU run at ``image_size`` settles before its end, as at 64 px (measured there only).

    One predicate for the settings measured together there (``fast_networks``' warp threshold,
    ``fast_trainer``'s slower average and expression weight), so that they cannot drift apart. 32 px keeps the
    demo's recipe; from 128 px a run is still learning at its end.
    """
    return 32 < image_size <= 64


def critic_depth_for(image_size: int, final_size: int) -> int:
    """The critic depth (stride-2 convolutions) that brings ``image_size`` down to a score map of ``final_size``.

    For sizes that are not ``final_size`` times a power of two, the deepest depth that still divides the size
    and leaves a map of at least ``final_size`` (96 px, final 2: depth 5, a 3×3 map).

    Raises:
        ValueError: If ``image_size`` cannot be halved even once down to ``final_size``.

    Examples:
        >>> critic_depth_for(128, 2), critic_depth_for(64, 4), critic_depth_for(32, 2), critic_depth_for(96, 2)
        (6, 4, 4, 5)
    """
    depth, size = 0, image_size
    while size % 2 == 0 and size // 2 >= final_size:
        size //= 2
        depth += 1
    if depth == 0:
        raise ValueError(
            f"image_size={image_size} cannot be halved down to a {final_size}x{final_size} critic score map; "
            "use an even size of at least twice that, such as 32, 64 or 128"
        )
    return depth


def fast_networks(image_size: int = 64, num_aus: int = 17) -> tuple[GeneratorConfig, CriticConfig]:
    """The fast recipe's generator and critic for ``image_size``.

    Up to 32 px: the demo's networks (16 base channels, 2 residual blocks, identity start with attention bias
    3, a critic with 16 base channels and a 2×2 score map). From 64 px up the generator's features are also
    modulated by the AUs (``au_modulation``: the tiled input channels reach the centre of a larger face only
    weakly) and the critic judges the face through a 2× anti-aliased reduction (``input_downsample=2``, a 4×4
    score map), so its AU head cannot be steered by pixel-level speckles, and the generator warps the input
    (``warp_range=0.15``: brows, lids and mouth corners move with their own colours instead of being
    repainted by the colour head), paints with its colour head only a grey change of at most 0.5 around that
    warped face (``color_residual_around="warp"``, ``color_residual_grey``: it starts as the warped face, so the
    attention can open where the warp cannot draw, an open mouth, and no hue can be painted where it does),
    and it draws at half resolution (``draw_downsample=2``: the maps come from a
    network that sees the face at half size and are composed with the full-resolution input, so a CPU
    trains 2.5× more iterations in the same time), each head drawing one value for every full-size pixel
    (``draw_upsample="shuffle"``: a change finer than the reduced pixel, a lid's line, can be drawn). The
    critic's AU head reads the face at 64 px (full resolution at 64 px, reduced 2× at 128 px) on a trunk of
    its own (32 base channels, a 4×4 map), trained at a quarter of the critic's learning rate and smoothed
    against single pixels by
    [`fast_trainer`][ganimation_lib.training.recipes.fast_trainer]'s AU gradient penalty: a head that sees
    the fine detail and that speckles cannot steer. From 64 px up the generator may also register its faces
    (``face_registration``): when the training faces' framing varies from face to face (moved, turned, zoomed,
    with no landmarks to align them by) the Trainer registers them to a template of their own edges and the
    generator draws on registered faces; faces framed alike are drawn on as they are
    ([`register_training_data`][ganimation_lib.training.registered_data.register_training_data]). At 64 px,
    when drawing, the warp's moves are 0.1 px shorter and shorter ones vanish (``warp_threshold``): a move of a
    fraction of a pixel, which the generator makes all over the face against its critic, only softens it.
    Measured in ``docs/training.md``.

    Examples:
        >>> g, c = fast_networks(64)
        >>> g.conv_dim, g.au_modulation, g.warp_range, g.draw_downsample, c.input_downsample, c.final_size
        (16, True, 0.15, 2, 2, 4)
        >>> g.color_residual, g.color_residual_around, g.color_residual_grey, g.draw_upsample, g.face_registration
        (0.5, 'warp', True, 'shuffle', True)
        >>> c.au_trunk_conv_dim, c.au_trunk_depth, c.au_trunk_input_downsample, c.au_final_size
        (32, 4, 1, 4)
        >>> [(fast_networks(n)[0].au_modulation, fast_networks(n)[0].warp_threshold) for n in (32, 64, 128)]
        [(False, 0.0), (True, 0.1), (True, 0.0)]
    """
    large = image_size > 32
    generator = GeneratorConfig(
        image_size=image_size,
        num_aus=num_aus,
        conv_dim=16,
        num_residual_blocks=2,
        attention_bias=3.0,
        au_modulation=large,
        warp_range=0.15 if large else None,
        color_residual=0.5 if large else None,
        color_residual_around="warp" if large else "input",
        color_residual_grey=large,
        draw_downsample=2 if large else 1,
        draw_upsample="shuffle" if large else "bilinear",
        face_registration=large,
        # Measured at 64 px together with fast_trainer's expression weight (docs/fidelity-experiments.md).
        warp_threshold=0.1 if _settles_in_ten_minutes(image_size) else 0.0,
    )
    downsample = 2 if large else 1
    # The AU reading sees the face at 64 px (reduced 2x at 128 px, 4x from 256 px): at 128 px a full-resolution
    # trunk and its penalty's double backward made an iteration about five times slower.
    au_downsample = 4 if image_size >= 256 else 2 if image_size >= 128 else 1
    critic = CriticConfig(
        image_size=image_size,
        num_aus=num_aus,
        conv_dim=16,
        depth=critic_depth_for(image_size // downsample, 4 if large else 2),
        input_downsample=downsample,
        au_trunk_conv_dim=32 if large else None,
        au_trunk_depth=critic_depth_for(image_size // au_downsample, 4) if large else None,
        au_trunk_input_downsample=au_downsample,
    )
    return generator, critic


def fast_trainer(image_size: int = 64, **overrides: Any) -> TrainerConfig:
    """The fast recipe's [`TrainerConfig`][ganimation_lib.training.config.TrainerConfig] for ``image_size``:
    [`TrainerConfig.fast`][ganimation_lib.training.config.TrainerConfig.fast], and from 64 px up a colour-smoothness
    term (weight 10) against speckles where the attention opens, an AU gradient penalty (weight 10) on the
    critic's AU reading of real faces, and that reading's learning rate at a quarter of the critic's
    (``au_lr_scale=0.25``; it pairs with the separate AU trunk of
    [`fast_networks`][ganimation_lib.training.recipes.fast_networks]). At 64 px the generator average is
    slower (``ema_decay=0.999`` instead of 0.99): once a 10-minute run's drawing has settled (after about 1,500
    of its 3,000 iterations) the outputs on held-out faces wander from step to step, and the average over the
    last thousand steps is closer to their true pictures. That average draws less, so at 64 px the expression
    weighs 36 instead of 30. At 128 px a 10-minute CPU run is still learning at its end, where so slow an
    average lags; a long run there can pass ``ema_decay=0.999`` itself.

    Examples:
        >>> fast_trainer(64).loss_weights.color_smoothness, fast_trainer(32).loss_weights.color_smoothness
        (10.0, 0.0)
        >>> fast_trainer(64).ema_decay, fast_trainer(128).ema_decay, fast_trainer(32).ema_decay
        (0.999, 0.99, 0.99)
        >>> fast_trainer(64).loss_weights.au_gradient_penalty, fast_trainer(64).au_lr_scale
        (10.0, 0.25)
        >>> [fast_trainer(size).loss_weights.expression for size in (32, 64, 128)]
        [30.0, 36.0, 30.0]
    """
    base = TrainerConfig.fast()
    if image_size > 32:
        weights = {**base.loss_weights.to_dict(), "color_smoothness": 10.0, "au_gradient_penalty": 10.0}
        # At 64 px, where a 10-minute CPU run settles: a slower generator average, and more pressure towards the
        # expression, which the average and fast_networks' warp threshold keep clean. From 128 px up the preset's
        # own: a CPU run is still learning at its end, and an average over its last ~1,000 steps would lag it.
        settled: dict[str, Any] = {}
        if _settles_in_ten_minutes(image_size):
            weights["expression"] = 36.0
            settled = {"ema_decay": 0.999}
        base = TrainerConfig.fast(loss_weights=LossWeights(**weights), au_lr_scale=0.25, **settled)
    return TrainerConfig.from_dict({**base.to_dict(), **_plain(overrides)})


def _plain(overrides: dict[str, Any]) -> dict[str, Any]:
    """Overrides as ``TrainerConfig.from_dict`` takes them (a LossWeights object as its dict)."""
    weights = overrides.get("loss_weights")
    if isinstance(weights, LossWeights):
        return {**overrides, "loss_weights": weights.to_dict()}
    return overrides


def recipe_configs(
    name: str,
    image_size: int = 128,
    *,
    num_aus: int = 17,
    generator: dict[str, Any] | None = None,
    critic: dict[str, Any] | None = None,
    **trainer_overrides: Any,
) -> tuple[GeneratorConfig, CriticConfig, TrainerConfig]:
    """The three configs of recipe ``name`` at ``image_size``, with overrides applied on top.

    Args:
        name: ``"official"`` or ``"fast"`` (see the module docstring).
        image_size: Side of the training images.
        num_aus: Length of the AU vectors.
        generator: [`GeneratorConfig`][ganimation_lib.models.generator.GeneratorConfig] fields that replace the
            recipe's (e.g. ``{"conv_dim": 32}``).
        critic: [`CriticConfig`][ganimation_lib.models.critic.CriticConfig] fields that replace the recipe's.
        **trainer_overrides: [`TrainerConfig`][ganimation_lib.training.config.TrainerConfig] fields that replace
            the recipe's.

    Raises:
        ValueError: For an unknown recipe, or a field value the configs refuse.

    Examples:
        >>> g, c, t = recipe_configs("fast", 64, critic={"conv_dim": 32}, max_steps=10)
        >>> g.image_size, c.conv_dim, t.max_steps, t.n_critic
        (64, 32, 10, 1)
        >>> g, c, t = recipe_configs("official")
        >>> g == GeneratorConfig.official() and c == CriticConfig.official() and t == TrainerConfig.official()
        True
    """
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {list(RECIPES)}")
    if name == "fast":
        base_generator, base_critic = fast_networks(image_size, num_aus)
        trainer = fast_trainer(image_size, **trainer_overrides)
    else:
        base_generator = GeneratorConfig.official(image_size=image_size, num_aus=num_aus)
        base_critic = CriticConfig.official(
            image_size=image_size, num_aus=num_aus, depth=critic_depth_for(image_size, 2)
        )
        trainer = TrainerConfig.official(**trainer_overrides)
    generator_config = GeneratorConfig.from_dict({**base_generator.to_dict(), **(generator or {})})
    critic_config = CriticConfig.from_dict({**base_critic.to_dict(), **(critic or {})})
    return generator_config, critic_config, trainer
