"""An independent AU regressor: reads the AUs a face shows, to judge a generator by what it draws.

The critic's AU head cannot do this job: the generator is trained to satisfy that very head, so it can
learn to fool it (an adversarial fit) without drawing the expression.
[`AURegressor`][ganimation_lib.evaluation.regressor.AURegressor] is a separate, small CNN trained only on real training
images ([`train_au_regressor`][ganimation_lib.evaluation.fit_regressor.train_au_regressor]), never on generated ones, so
a generator cannot have adapted to it.

A saved regressor is a directory like a saved generator (``config.json`` + ``model.safetensors``, the same
format with ``"model_class": "AURegressor"``), so loading it never runs code and a generator folder passed
by mistake is refused by name.

Examples:
    >>> import tempfile, torch
    >>> r = AURegressor(AURegressorConfig(image_size=32, width=8))
    >>> r(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 17])
    >>> same = AURegressor.from_pretrained(r.save_pretrained(tempfile.mkdtemp() + "/regressor"))
    >>> bool(torch.allclose(same(torch.ones(1, 3, 32, 32)), r.eval()(torch.ones(1, 3, 32, 32)), atol=1e-6))
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from torch import Tensor, nn

from ..config_mixin import ConfigMixin, check_int_range
from ..models.config import MAX_CONV_DIM, MAX_IMAGE_SIZE, MAX_NUM_AUS
from ..models.pretrained import PretrainedMixin

__all__ = ["AURegressor", "AURegressorConfig"]
# The head reads a fixed grid of positions: where a feature is (brow or mouth) says which AU it belongs to.
_GRID = 4


@dataclass(frozen=True)
class AURegressorConfig(ConfigMixin):
    """The architecture of an [`AURegressor`][ganimation_lib.evaluation.regressor.AURegressor].

    Attributes:
        image_size: Side of the square faces it reads (those of the generator it judges).
        num_aus: Length of the AU vector it predicts (normalised, like the generator's input).
        width: Channels of the first convolution; doubled by each stride-2 stage, up to ``8 * width``.
        depth: Number of stride-2 stages after the first (stride-2) convolution; the last feature map is
            pooled to a 4×4 grid, so ``image_size / 2**(depth + 1)`` should be at least 4.

    Examples:
        >>> AURegressorConfig(image_size=64).to_dict()
        {'image_size': 64, 'num_aus': 17, 'width': 16, 'depth': 3}
    """

    image_size: int = 128
    num_aus: int = 17
    width: int = 16
    depth: int = 3

    def __post_init__(self) -> None:
        owner = "AURegressorConfig"  # bounded to what can be built, like the other configs (models/config.py)
        check_int_range(owner, "image_size", self.image_size, 1, MAX_IMAGE_SIZE)
        check_int_range(owner, "num_aus", self.num_aus, 1, MAX_NUM_AUS)
        check_int_range(owner, "width", self.width, 1, MAX_CONV_DIM)
        check_int_range(owner, "depth", self.depth, 1, MAX_IMAGE_SIZE.bit_length() - 1)
        if self.image_size < 16:
            raise ValueError(f"AURegressorConfig.image_size={self.image_size} is too small; use 16 px or more")

    @classmethod
    def for_image_size(cls, image_size: int, **overrides: Any) -> AURegressorConfig:
        """The default regressor for ``image_size``: as many stages as leave a map of at least 4×4.

        Examples:
            >>> AURegressorConfig.for_image_size(32).depth, AURegressorConfig.for_image_size(128).depth
            (2, 4)
        """
        depth = 1
        while image_size >> (depth + 2) >= _GRID:
            depth += 1
        return cls(**{"image_size": image_size, "depth": depth, **overrides})


def _unit(channels_in: int, channels_out: int) -> list[nn.Module]:
    # GroupNorm, not BatchNorm: the prediction of a face never depends on the rest of its batch, train and
    # eval behave alike, and the state dict holds only float parameters.
    groups = max(1, min(8, channels_out // 4))
    return [
        nn.Conv2d(channels_in, channels_out, kernel_size=4, stride=2, padding=1),
        nn.GroupNorm(groups, channels_out),
        nn.LeakyReLU(0.2),
    ]


class AURegressor(nn.Module, PretrainedMixin):
    """A small CNN from a face in [-1, 1] to its normalised AUs (OpenFace intensity / 5).

    Stride-2 convolution units (conv, GroupNorm, LeakyReLU), a 4×4 average-pooled grid, a linear head.
    It shares nothing with the critic (architecture, weights or training signal).

    ``save_pretrained`` / ``from_pretrained`` come from
    [`PretrainedMixin`][ganimation_lib.models.pretrained.PretrainedMixin] (the saved-model format of the generator and
    the critic, ``"model_class": "AURegressor"``).

    Args:
        config: The architecture; ``None`` means ``AURegressorConfig()`` (128 px).
    """

    config_class: ClassVar[type[AURegressorConfig]] = AURegressorConfig

    def __init__(self, config: AURegressorConfig | None = None) -> None:
        super().__init__()
        self.config = config = AURegressorConfig() if config is None else config
        if not isinstance(config, AURegressorConfig):
            raise TypeError(f"config must be an AURegressorConfig, got {type(config).__name__}")
        layers: list[nn.Module] = _unit(3, config.width)
        channels = config.width
        for _ in range(config.depth):
            wider = min(channels * 2, config.width * 8)
            layers += _unit(channels, wider)
            channels = wider
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(_GRID)
        self.head = nn.Linear(channels * _GRID * _GRID, config.num_aus)

    @property
    def num_aus(self) -> int:
        """Length of the AU vector this regressor predicts."""
        return self.config.num_aus

    def forward(self, images: Tensor) -> Tensor:
        """Predict the normalised AUs (B, num_aus) of ``images`` (B, 3, image_size, image_size) in [-1, 1]."""
        size = self.config.image_size
        if images.dim() != 4 or images.shape[1] != 3 or tuple(images.shape[-2:]) != (size, size):
            raise ValueError(
                f"images must have shape (B, 3, {size}, {size}) for this AURegressor, got {tuple(images.shape)}; "
                f"resize the faces to {size} px or use a regressor trained at their size"
            )
        features = self.pool(self.features(images))
        out: Tensor = self.head(features.flatten(1))
        return out
