"""What the face tests share: one built-in finder per module and the fixture photos."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from ganimation_lib.faces import DlibFaceFinder


@pytest.fixture(scope="module")
def finder() -> DlibFaceFinder:
    """The built-in finder (its tests skip without the faces extra)."""
    return DlibFaceFinder()


@pytest.fixture
def open_photo(fixtures_dir: Path) -> Callable[[str], Image.Image]:
    """Open ``../shared/fixtures/photos/NAME`` as an RGB PIL image."""

    def opened(name: str) -> Image.Image:
        with Image.open(fixtures_dir / "photos" / name) as image:
            return image.convert("RGB")

    return opened
