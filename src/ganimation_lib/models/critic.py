"""The GANimation critic: a PatchGAN WGAN critic that also regresses the AUs of its input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..config_mixin import ConfigMixin, check_bool, check_choice, check_int_range, is_finite_number, short_repr
from .blocks import init_official_
from .config import MAX_CONV_DIM, MAX_IMAGE_SIZE, MAX_NUM_AUS, WEIGHT_INITS, WeightInit
from .inputs import check_image_batch
from .pretrained import PretrainedMixin

__all__ = ["CRITIC_PRESETS", "Critic", "CriticConfig", "CriticOutput", "Discriminator"]

CRITIC_PRESETS: tuple[str, ...] = ("official", "replicate", "cyclegan")


@dataclass(frozen=True)
class CriticConfig(ConfigMixin):
    """Every choice that defines a GANimation critic.

    Every field is bounded to what can be built (``image_size`` <= 2048, ``conv_dim`` <= 1024, ``depth`` <= 11,
    ``num_aus`` <= 128; see [`ganimation_lib.models.config`][ganimation_lib.models.config]); anything else is a
    ``ValueError`` naming the field.

    Attributes:
        image_size: Side of the square images the critic judges; must be divisible by ``2**depth``,
            because the AU head's kernel spans the whole final feature map.
        num_aus: Number of AUs the regression head predicts.
        conv_dim: Filters of the first convolution; doubled by each further one.
        depth: Number of stride-2 4×4 convolutions in the trunk (official ``repeat_num``, 6 at 128 px).
        leaky_slope: Negative slope of the LeakyReLU after each trunk convolution (official 0.01).
        conv_bias: Bias on the trunk convolutions (both known codebases: yes). The heads never have one.
        weight_init: ``"official"`` (conv weights N(0, 0.02), biases 0) or ``"pytorch"``.
        input_downsample: 1 (official): the trunk sees the image as it is. 2 or 4: the image is first reduced
            by that factor with an anti-aliasing blur (``[1, 3, 3, 1]`` binomial, stride 2 per halving), so
            the critic and its AU head judge the face's shapes and cannot be moved by pixel-level patterns. At
            64 px and up a generator otherwise learns to steer the AU head with colour speckles instead of
            drawing the expression (``docs/training.md``). It adds no parameter; the score map shrinks by
            the same factor.
    """

    image_size: int = 128
    num_aus: int = 17
    conv_dim: int = 64
    depth: int = 6
    leaky_slope: float = 0.01
    conv_bias: bool = True
    weight_init: WeightInit = "official"
    input_downsample: int = 1

    def __post_init__(self) -> None:
        owner = "CriticConfig"
        # Bounded to what can be built (see models/config.py), and before 2**depth is computed.
        check_int_range(owner, "image_size", self.image_size, 1, MAX_IMAGE_SIZE)
        check_int_range(owner, "num_aus", self.num_aus, 1, MAX_NUM_AUS)
        check_int_range(owner, "conv_dim", self.conv_dim, 1, MAX_CONV_DIM)
        check_int_range(owner, "depth", self.depth, 1, MAX_IMAGE_SIZE.bit_length() - 1)
        check_bool(owner, "conv_bias", self.conv_bias)
        if self.input_downsample not in (1, 2, 4) or isinstance(self.input_downsample, bool):
            raise ValueError(f"CriticConfig.input_downsample={short_repr(self.input_downsample)} must be 1, 2 or 4")
        if self.image_size % self.input_downsample:
            raise ValueError(
                f"CriticConfig.image_size={self.image_size} is not divisible by input_downsample="
                f"{self.input_downsample}; use an even image size or input_downsample=1"
            )
        trunk_size = self.image_size // self.input_downsample
        reduced = f" (divided by input_downsample={self.input_downsample})" if self.input_downsample > 1 else ""
        if trunk_size % (2**self.depth) != 0:
            raise ValueError(
                f"CriticConfig.image_size={self.image_size}{reduced} is not divisible by 2**depth={2**self.depth}: "
                f"use an image size that is a multiple of "
                f"{2**self.depth * self.input_downsample} or a smaller depth "
                f"(for {self.image_size} px at most {_max_depth(trunk_size)})"
            )
        if not is_finite_number(self.leaky_slope) or not 0 <= self.leaky_slope <= 1:
            raise ValueError(f"CriticConfig.leaky_slope={short_repr(self.leaky_slope)} must be a number in [0, 1]")
        check_choice(owner, "weight_init", self.weight_init, WEIGHT_INITS)

    @property
    def final_size(self) -> int:
        """Side of the critic's score map (``image_size / input_downsample / 2**depth``)."""
        return (self.image_size // self.input_downsample) >> self.depth

    @classmethod
    def official(cls, **overrides: Any) -> CriticConfig:
        """albertpumarola/GANimation's discriminator (128 px, conv_dim 64, depth 6).

        Examples:
            >>> CriticConfig.official(image_size=32, depth=4).final_size
            2
        """
        return cls(**overrides)

    @classmethod
    def replicate(cls, **overrides: Any) -> CriticConfig:
        """donydchen/ganimation_replicate's discriminator: the same layers as official under other names."""
        return cls(**overrides)

    @classmethod
    def cyclegan(cls, **overrides: Any) -> CriticConfig:
        """The critic used with the CycleGAN-style generator: the official PatchGAN critic."""
        return cls(**overrides)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> CriticConfig:
        """Build a named preset (``"official"``, ``"replicate"`` or ``"cyclegan"``) with ``overrides``."""
        if name not in CRITIC_PRESETS:
            raise ValueError(f"unknown critic preset {name!r}; choose one of {list(CRITIC_PRESETS)}")
        return {"official": cls.official, "replicate": cls.replicate, "cyclegan": cls.cyclegan}[name](**overrides)


def _max_depth(image_size: int) -> int:
    depth = 0
    while image_size % 2 == 0 and image_size > 1:
        image_size //= 2
        depth += 1
    return depth


@dataclass
class CriticOutput:
    """What [`Critic`][ganimation_lib.models.critic.Critic] returns.

    Attributes:
        score: The WGAN critic's patch scores, (B, 1, h, w) with ``h = w = image_size / 2**depth``;
            higher means "more real".
        aus: The regressed AUs, (B, num_aus).
    """

    score: Tensor
    aus: Tensor


class Critic(nn.Module, PretrainedMixin):
    """The GANimation critic (WGAN-GP discriminator with an AU-regression head).

    A trunk of ``depth`` stride-2 4×4 convolutions with LeakyReLU (no normalisation, as WGAN-GP needs),
    then a critic head (3×3 conv → 1-channel score map) and an AU head (a convolution whose kernel spans
    the final feature map → ``num_aus`` values).

    Args:
        config: The architecture; ``None`` means ``CriticConfig()`` (the official preset at 128 px).

    Examples:
        >>> import torch
        >>> critic = Critic(CriticConfig(image_size=32, conv_dim=8, depth=4))
        >>> out = critic(torch.zeros(1, 3, 32, 32))
        >>> out.score.shape, out.aus.shape
        (torch.Size([1, 1, 2, 2]), torch.Size([1, 17]))
    """

    config_class: ClassVar[type[CriticConfig]] = CriticConfig

    def __init__(self, config: CriticConfig | None = None) -> None:
        super().__init__()
        self.config = config = CriticConfig() if config is None else config
        if not isinstance(config, CriticConfig):
            raise TypeError(f"config must be a CriticConfig, got {type(config).__name__}")
        layers: list[nn.Module] = []
        channels_in, channels = 3, config.conv_dim
        for _ in range(config.depth):
            layers.append(nn.Conv2d(channels_in, channels, 4, stride=2, padding=1, bias=config.conv_bias))
            layers.append(nn.LeakyReLU(config.leaky_slope, inplace=True))
            channels_in, channels = channels, channels * 2
        self.trunk = nn.Sequential(*layers)

        self.score_head = nn.Conv2d(channels_in, 1, 3, stride=1, padding=1, bias=False)
        self.au_head = nn.Conv2d(channels_in, config.num_aus, config.final_size, bias=False)
        if config.weight_init == "official":
            init_official_(self)

    @property
    def num_aus(self) -> int:
        """Number of AUs the regression head predicts."""
        return self.config.num_aus

    def check_inputs(self, images: Tensor) -> None:
        """Raise a ``ValueError`` naming the problem if ``images`` cannot be judged by this critic."""
        check_image_batch(images)
        size = self.config.image_size
        if tuple(images.shape[-2:]) != (size, size):
            raise ValueError(
                f"this Critic judges {size}x{size} images (CriticConfig.image_size), got "
                f"{images.shape[-2]}x{images.shape[-1]}; resize the images or build a critic for that size"
            )

    def forward(self, images: Tensor) -> CriticOutput:
        """Score ``images`` (B, 3, image_size, image_size) and regress their AUs."""
        self.check_inputs(images)
        x = images
        for _ in range(self.config.input_downsample.bit_length() - 1):
            # A fixed binomial low-pass, built here rather than held as a buffer: no state-dict key, and
            # models built on the meta device (checkpoint import) need nothing materialised.
            taps = torch.tensor([1.0, 3.0, 3.0, 1.0], device=x.device, dtype=x.dtype)
            kernel = (taps[:, None] * taps[None, :] / 64).expand(3, 1, 4, 4)
            padded = nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
            x = nn.functional.conv2d(padded, kernel, stride=2, groups=3)
        features = self.trunk(x)
        return CriticOutput(score=self.score_head(features), aus=torch.flatten(self.au_head(features), 1))


Discriminator = Critic
"""Alias of [`Critic`][ganimation_lib.models.critic.Critic] under the name the official code uses."""
