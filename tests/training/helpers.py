"""Tiny models and data for the training tests (32 px, 8 channels)."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from ganimation_lib import AUSample, CriticConfig, GeneratorConfig
from ganimation_lib.training import TrainerConfig


class RandomAUData(Dataset[AUSample]):
    """Random faces and AUs; targets drawn from the global RNG on each access, like the real datasets."""

    def __init__(self, length: int = 8, size: int = 32, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.images = torch.rand(length, 3, size, size, generator=g) * 2 - 1
        self.aus = torch.rand(length, 17, generator=g)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> AUSample:
        target = self.aus[int(torch.randint(len(self.aus), ()))] + torch.rand(17) * 0.1
        return AUSample(self.images[index], self.aus[index], target, "", f"item{index}")


def tiny_models() -> dict[str, Any]:
    return {
        "generator": GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=1),
        "critic": CriticConfig(image_size=32, conv_dim=8, depth=4),
    }


def tiny_config(**overrides: Any) -> TrainerConfig:
    base: dict[str, Any] = {"batch_size": 2, "n_critic": 2, "max_steps": 4, "device": "cpu", "log_every": 1}
    return TrainerConfig(**{**base, **overrides})


#: A tiny critic whose AU reading has a trunk of its own (the fast recipe's layout from 64 px up).
OWN_TRUNK = CriticConfig(image_size=32, conv_dim=8, depth=3, input_downsample=2, au_trunk_conv_dim=8, au_trunk_depth=3)
