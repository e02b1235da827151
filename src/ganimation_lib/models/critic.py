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
        au_trunk_conv_dim: ``None`` (official): the AU head reads the score's trunk. A number: the AU head
            gets a trunk of its own with this many first filters, so the AUs can be read at another resolution
            than the score is judged at, and an AU penalty
            ([`au_gradient_penalty`][ganimation_lib.losses.functional.au_gradient_penalty]) or learning rate
            (``TrainerConfig.au_lr_scale``) touches the AU reading only. The fast recipe at 64 px and up uses one
            at full resolution (``docs/training.md``).
        au_trunk_depth: Stride-2 convolutions of the AU trunk; ``None`` = ``depth``. Needs ``au_trunk_conv_dim``.
        au_trunk_input_downsample: 1, 2 or 4, as ``input_downsample``, for the AU trunk. Needs
            ``au_trunk_conv_dim``.
    """

    image_size: int = 128
    num_aus: int = 17
    conv_dim: int = 64
    depth: int = 6
    leaky_slope: float = 0.01
    conv_bias: bool = True
    weight_init: WeightInit = "official"
    input_downsample: int = 1
    au_trunk_conv_dim: int | None = None
    au_trunk_depth: int | None = None
    au_trunk_input_downsample: int = 1

    def __post_init__(self) -> None:
        owner = "CriticConfig"
        # Bounded to what can be built (see models/config.py), and before 2**depth is computed.
        check_int_range(owner, "image_size", self.image_size, 1, MAX_IMAGE_SIZE)
        check_int_range(owner, "num_aus", self.num_aus, 1, MAX_NUM_AUS)
        check_int_range(owner, "conv_dim", self.conv_dim, 1, MAX_CONV_DIM)
        check_int_range(owner, "depth", self.depth, 1, MAX_IMAGE_SIZE.bit_length() - 1)
        check_bool(owner, "conv_bias", self.conv_bias)
        _check_trunk(self.image_size, self.depth, self.input_downsample, "depth", "input_downsample")
        if self.au_trunk_conv_dim is None:
            for name, unset in (("au_trunk_depth", None), ("au_trunk_input_downsample", 1)):
                if getattr(self, name) != unset:
                    raise ValueError(
                        f"CriticConfig.{name}={short_repr(getattr(self, name))} describes a separate AU trunk, "
                        "but au_trunk_conv_dim is None (the AU head shares the score's trunk); set "
                        f"au_trunk_conv_dim too, or leave {name} at {unset}"
                    )
        else:
            check_int_range(owner, "au_trunk_conv_dim", self.au_trunk_conv_dim, 1, MAX_CONV_DIM)
            if self.au_trunk_depth is not None:
                check_int_range(owner, "au_trunk_depth", self.au_trunk_depth, 1, MAX_IMAGE_SIZE.bit_length() - 1)
            _check_trunk(
                self.image_size,
                self.au_depth,
                self.au_trunk_input_downsample,
                "au_trunk_depth",
                "au_trunk_input_downsample",
            )
        if not is_finite_number(self.leaky_slope) or not 0 <= self.leaky_slope <= 1:
            raise ValueError(f"CriticConfig.leaky_slope={short_repr(self.leaky_slope)} must be a number in [0, 1]")
        check_choice(owner, "weight_init", self.weight_init, WEIGHT_INITS)

    @property
    def final_size(self) -> int:
        """Side of the critic's score map (``image_size / input_downsample / 2**depth``)."""
        return (self.image_size // self.input_downsample) >> self.depth

    @property
    def separate_au_trunk(self) -> bool:
        """Whether the AU head reads a trunk of its own (``au_trunk_conv_dim`` is set)."""
        return self.au_trunk_conv_dim is not None

    @property
    def au_depth(self) -> int:
        """Stride-2 convolutions before the AU head (the AU trunk's, else the shared trunk's)."""
        return self.depth if self.au_trunk_depth is None else self.au_trunk_depth

    @property
    def au_final_size(self) -> int:
        """Side of the feature map the AU head's kernel spans.

        Examples:
            >>> config = CriticConfig(image_size=64, conv_dim=16, depth=3, input_downsample=2,
            ...                       au_trunk_conv_dim=32, au_trunk_depth=4)
            >>> config.final_size, config.au_final_size
            (4, 4)
        """
        if not self.separate_au_trunk:
            return self.final_size
        return (self.image_size // self.au_trunk_input_downsample) >> self.au_depth

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


def _check_trunk(image_size: int, depth: int, downsample: int, depth_name: str, downsample_name: str) -> None:
    """Raise a ``ValueError`` naming the fields unless a trunk of ``depth`` halvings fits ``image_size``."""
    if downsample not in (1, 2, 4) or isinstance(downsample, bool):
        raise ValueError(f"CriticConfig.{downsample_name}={short_repr(downsample)} must be 1, 2 or 4")
    if image_size % downsample:
        raise ValueError(
            f"CriticConfig.image_size={image_size} is not divisible by {downsample_name}="
            f"{downsample}; use an even image size or {downsample_name}=1"
        )
    trunk_size = image_size // downsample
    reduced = f" (divided by {downsample_name}={downsample})" if downsample > 1 else ""
    if trunk_size % (2**depth) != 0:
        raise ValueError(
            f"CriticConfig.image_size={image_size}{reduced} is not divisible by 2**{depth_name}={2**depth}: "
            f"use an image size that is a multiple of {2**depth * downsample} or a smaller {depth_name} "
            f"(for {image_size} px at most {_max_depth(trunk_size)})"
        )


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
    the final feature map → ``num_aus`` values). With ``CriticConfig.au_trunk_conv_dim`` the AU head reads a
    trunk of its own (``au_trunk``); the state-dict keys of a shared-trunk critic are the official ones.

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
        self.trunk, channels = _trunk(config, config.conv_dim, config.depth)
        self.score_head = nn.Conv2d(channels, 1, 3, stride=1, padding=1, bias=False)
        if config.au_trunk_conv_dim is not None:
            self.au_trunk, channels = _trunk(config, config.au_trunk_conv_dim, config.au_depth)
        self.au_head = nn.Conv2d(channels, config.num_aus, config.au_final_size, bias=False)
        if config.weight_init == "official":
            init_official_(self)

    def au_parameters(self) -> list[nn.Parameter]:
        """The parameters that only the AU regression uses: the AU head, and the AU trunk when separate.

        Examples:
            >>> shared = Critic(CriticConfig(image_size=32, conv_dim=8, depth=4))
            >>> len(shared.au_parameters())
            1
            >>> own = Critic(CriticConfig(image_size=32, conv_dim=8, depth=4, au_trunk_conv_dim=8))
            >>> len(own.au_parameters())
            9
        """
        own_trunk = list(self.au_trunk.parameters()) if self.config.separate_au_trunk else []
        return [*own_trunk, *self.au_head.parameters()]

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
        config = self.config
        features = self.trunk(_reduce(images, config.input_downsample))
        score = self.score_head(features)
        if config.separate_au_trunk:
            features = self.au_trunk(_reduce(images, config.au_trunk_input_downsample))
        return CriticOutput(score=score, aus=torch.flatten(self.au_head(features), 1))


def _trunk(config: CriticConfig, conv_dim: int, depth: int) -> tuple[nn.Sequential, int]:
    """``depth`` stride-2 4×4 convolutions with LeakyReLU from ``conv_dim`` filters, and the channels they end with."""
    layers: list[nn.Module] = []
    channels_in, channels = 3, conv_dim
    for _ in range(depth):
        layers.append(nn.Conv2d(channels_in, channels, 4, stride=2, padding=1, bias=config.conv_bias))
        layers.append(nn.LeakyReLU(config.leaky_slope, inplace=True))
        channels_in, channels = channels, channels * 2
    return nn.Sequential(*layers), channels_in


def _reduce(images: Tensor, factor: int) -> Tensor:
    """``images`` reduced ``factor`` times (1, 2 or 4) by the anti-aliased ``[1, 3, 3, 1]`` binomial, stride 2."""
    x = images
    for _ in range(factor.bit_length() - 1):
        # A fixed low-pass built here rather than held as a buffer: no state-dict key, and models built on
        # the meta device (checkpoint import) need nothing materialised.
        taps = torch.tensor([1.0, 3.0, 3.0, 1.0], device=x.device, dtype=x.dtype)
        kernel = (taps[:, None] * taps[None, :] / 64).expand(3, 1, 4, 4)
        if torch.compiler.is_compiling():
            # The border repeated by concatenation: the same values, but inductor mis-strides the compiled
            # backward of replicate padding on a CPU. Eager keeps F.pad: 10 % faster training at 64 px.
            rows = torch.cat([x[..., :1, :], x, x[..., -1:, :]], dim=-2)
            padded = torch.cat([rows[..., :1], rows, rows[..., -1:]], dim=-1)
        else:
            padded = nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
        x = nn.functional.conv2d(padded, kernel, stride=2, groups=3)
    return x


Discriminator = Critic
"""Alias of [`Critic`][ganimation_lib.models.critic.Critic] under the name the official code uses."""
