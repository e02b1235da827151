"""An independent AU regressor: reads the AUs a face shows, to judge a generator by what it draws.

The critic's AU head cannot do this job: the generator is trained to satisfy that very head, so it can
learn to fool it (an adversarial fit) without drawing the expression. :class:`AURegressor` is a separate,
small CNN trained only on real training images (:func:`~ganimation_lib.evaluation.training.train_au_regressor`),
never on generated ones, so a generator cannot have adapted to it.

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

import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes
from torch import Tensor, nn
from typing_extensions import Self

from .._atomic import atomic_binary, atomic_text
from .._version import __version__
from ..aus import AU_NAMES
from ..models.config import MAX_CONV_DIM, MAX_IMAGE_SIZE, MAX_NUM_AUS, ConfigMixin, check_int_range, read_json
from ..models.pretrained import (
    CONFIG_NAME,
    FORMAT_VERSION,
    WEIGHTS_NAME,
    CheckpointError,
    PretrainedMixin,
    load_state_dict_checked,
)

__all__ = ["AURegressor", "AURegressorConfig"]

# The saved-model format of models/pretrained.py; "model_class" tells a regressor from a generator or critic.
_FORMAT = "ganimation_lib.pretrained"
_MODEL_CLASS = "AURegressor"
_KEYS = frozenset({"format", "format_version", "model_class", "library_version", "au_names", "save_id", "config"})
# The head reads a fixed grid of positions: where a feature is (brow or mouth) says which AU it belongs to.
_GRID = 4


@dataclass(frozen=True)
class AURegressorConfig(ConfigMixin):
    """The architecture of an :class:`AURegressor`.

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

    Args:
        config: The architecture; ``None`` means ``AURegressorConfig()`` (128 px).
    """

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

    def save_pretrained(self, directory: str | os.PathLike[str], *, au_names: Sequence[str] | None = None) -> Path:
        """Write ``config.json`` + ``model.safetensors`` to ``directory`` (each file atomically) and return it.

        Both files carry one random save id, so an interrupted overwrite is detected on load. ``au_names``
        defaults to ``self.au_names``, else the 17 OpenFace AUs when the regressor reads 17.
        """
        names = tuple(au_names) if au_names is not None else self.au_names
        if names is None and self.config.num_aus == len(AU_NAMES):
            names = AU_NAMES
        if names is not None and len(names) != self.config.num_aus:
            raise ValueError(f"au_names has {len(names)} names but the regressor reads {self.config.num_aus} AUs")
        target = Path(directory)
        if target.exists() and not target.is_dir():
            raise FileExistsError(f"{target} exists and is not a directory; choose another path for the regressor")
        target.mkdir(parents=True, exist_ok=True)
        save_id = uuid.uuid4().hex
        tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in self.state_dict().items()}
        metadata = {"format": "pt", "model_class": _MODEL_CLASS, "save_id": save_id, "library_version": __version__}
        document = {
            "format": _FORMAT,
            "format_version": FORMAT_VERSION,
            "model_class": _MODEL_CLASS,
            "library_version": __version__,
            "au_names": None if names is None else list(names),
            "save_id": save_id,
            "config": self.config.to_dict(),
        }
        # Weights first, config last: the config names the save id the weights must carry.
        with atomic_binary(target / WEIGHTS_NAME) as handle:
            handle.write(safetensors_bytes(tensors, metadata=metadata))
        with atomic_text(target / CONFIG_NAME, newline=None) as text:
            text.write(json.dumps(document, indent=2) + "\n")
        return target

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> Self:
        """Rebuild the regressor saved in ``directory``, in float32 and eval mode, without running code.

        Raises:
            FileNotFoundError: when the directory or one of its two files is missing.
            CheckpointError: when a file is corrupt, the folder holds another kind of model (a generator),
                or the weights do not fit the config.
        """
        folder = Path(directory)
        path = folder / CONFIG_NAME
        if not folder.is_dir() or not path.is_file():
            raise FileNotFoundError(
                f"{path} does not exist; pass a folder written by AURegressor.save_pretrained "
                "(`ganimation evaluate` saves one as OUTPUT/regressor)"
            )
        document = _read_config(path)
        config = _config_from(document, path)
        weights = folder / WEIGHTS_NAME
        if not weights.is_file():
            raise FileNotFoundError(f"{weights} is missing, so {folder} is not a complete saved regressor")
        try:
            with safe_open(str(weights), framework="pt", device="cpu") as handle:
                stored_id = (handle.metadata() or {}).get("save_id")
                tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 (not a dict)
        except (SafetensorError, OSError, ValueError) as error:
            raise CheckpointError(
                f"{weights} cannot be read as safetensors ({error}); the file is corrupt: save the regressor again"
            ) from error
        save_id = document.get("save_id")
        if isinstance(save_id, str) and stored_id is not None and stored_id != save_id:
            raise CheckpointError(
                f"{CONFIG_NAME} and {WEIGHTS_NAME} in {folder} come from different saves (e.g. an interrupted "
                "overwrite); save the regressor again"
            )
        with torch.device("meta"):
            model = cls(config)
        load_state_dict_checked(model, tensors, source=str(weights), hint="save the regressor again")
        names = document.get("au_names")
        model.au_names = tuple(str(n) for n in names) if isinstance(names, list) else None
        return model.to(map_location).eval()


def _read_config(path: Path) -> dict[str, Any]:
    document = read_json(path, error=CheckpointError, fix="save the regressor again")
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise CheckpointError(
            f"{path} is not a ganimation_lib model config; pass a folder written by AURegressor.save_pretrained"
        )
    kind = document.get("model_class")
    if kind != _MODEL_CLASS:
        raise CheckpointError(
            f"{path.parent} holds a {kind}, not an AURegressor; pass a regressor folder (`ganimation evaluate` "
            "saves one as OUTPUT/regressor), or leave the option out to train one"
        )
    version = document.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format_version={version!r}, which this ganimation_lib {__version__} cannot read; upgrade it"
        )
    unknown = sorted(set(document) - _KEYS)
    if unknown:
        raise CheckpointError(f"{path} has unknown entries {unknown}; upgrade ganimation_lib")
    return document


def _config_from(document: dict[str, Any], path: Path) -> AURegressorConfig:
    try:
        return AURegressorConfig.from_dict(document.get("config"))  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: {error}") from error
