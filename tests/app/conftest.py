"""What the editor's tests share: a tiny 32 px generator, saved, and synthetic face pictures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganimation_lib import Generator
from ganimation_lib.app.page import example_faces
from tests.conftest import tiny_generator_config


@pytest.fixture(scope="module")
def generator() -> Generator:
    """A tiny official-preset generator with random weights (the same ones in every run)."""
    torch.manual_seed(0)
    return Generator(tiny_generator_config()).eval()


@pytest.fixture(scope="module")
def saved_model(generator: Generator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``generator`` saved with ``save_pretrained``, as ``ganimation app`` loads it."""
    folder = tmp_path_factory.mktemp("model") / "generator"
    generator.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def face_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A neutral synthetic face, 64 px, written as a PNG."""
    return example_faces(tmp_path_factory.mktemp("faces"), count=1, size=64)[0]
