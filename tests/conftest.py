"""Shared pytest fixtures: tiny model configs and the third-party fixtures folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganimation_lib import CriticConfig, GeneratorConfig

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = PROJECT_ROOT.parent / "shared" / "fixtures"


@pytest.fixture
def fixtures_dir() -> Path:
    """``../shared/fixtures`` (real third-party material); the test is skipped when it is absent."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"third-party fixtures not found at {SHARED_FIXTURES}")
    return SHARED_FIXTURES


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def tiny_generator_config(preset: str = "official", **overrides: object) -> GeneratorConfig:
    """A 32 px, 8-channel generator of the given preset: fast enough for every test."""
    kwargs: dict[str, object] = {"image_size": 32, "conv_dim": 8, "num_residual_blocks": 2, **overrides}
    return GeneratorConfig.from_preset(preset, **kwargs)


def tiny_critic_config(preset: str = "official", **overrides: object) -> CriticConfig:
    """A 32 px, 8-channel, depth-4 critic (2×2 score map) of the given preset."""
    kwargs: dict[str, object] = {"image_size": 32, "conv_dim": 8, "depth": 4, **overrides}
    return CriticConfig.from_preset(preset, **kwargs)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``gpu`` on machines without CUDA (CI has none; they run on a lent GPU machine)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
