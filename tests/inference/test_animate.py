"""animate: frame count and order, keyframe ends, driving sequences, batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ganimation_lib import Generator
from ganimation_lib.aus import aus_for
from ganimation_lib.inference import animate, animation_aus, edit
from tests.conftest import tiny_generator_config


@pytest.fixture
def generator() -> Generator:
    return Generator(tiny_generator_config())


@pytest.fixture
def face() -> torch.Tensor:
    return torch.rand(3, 40, 40) * 2 - 1


def test_frame_count_order_and_ends_match_the_keyframes(generator: Generator, face: torch.Tensor) -> None:
    keyframes = ["neutral", "happy", "surprise:0.7"]
    frames = animate(generator, face, keyframes, frames_per_transition=5, batch_size=4)
    assert len(frames) == 2 * 5 + 1
    path = animation_aus(17, keyframes, frames_per_transition=5)
    assert torch.equal(path[0], aus_for("neutral")) and torch.equal(path[5], aus_for("happy"))
    assert torch.allclose(path[-1], aus_for("surprise", intensity=0.7))
    # Every frame, in order, is the single edit towards its point on the path.
    for i in (0, 3, 5, 8, 10):
        assert torch.allclose(frames[i], edit(generator, face, path[i]), atol=1e-5), i
    assert not torch.allclose(frames[0], frames[-1])


def test_batched_frames_equal_one_at_a_time(generator: Generator, face: torch.Tensor) -> None:
    kwargs = {"frames_per_transition": 3, "easing": "ease"}
    batched = animate(generator, face, ["sad", "fear"], batch_size=16, **kwargs)  # type: ignore[arg-type]
    single = animate(generator, face, ["sad", "fear"], batch_size=1, **kwargs)  # type: ignore[arg-type]
    assert len(batched) == len(single) == 4
    for b, s in zip(batched, single, strict=True):
        assert torch.allclose(b, s, atol=1e-5)


def test_box_and_types_are_kept(generator: Generator) -> None:
    photo = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    frames = animate(generator, photo, ["neutral", "happy"], frames_per_transition=2, box=(30, 10, 60, 40))
    assert len(frames) == 3 and all(f.shape == photo.shape and f.dtype == np.uint8 for f in frames)
    assert all(np.array_equal(f[:, :30], photo[:, :30]) for f in frames)


def test_drive_tensor_and_smoothing(generator: Generator, face: torch.Tensor) -> None:
    drive = torch.rand(7, 17)
    assert len(animate(generator, face, drive=drive, smooth=3)) == 7
    assert torch.allclose(animation_aus(17, drive=drive), drive)
    with pytest.raises(ValueError, match="built for 17"):
        animate(generator, face, drive=torch.rand(7, 5))


def test_attributes_txt_drive_gives_one_frame_per_row(generator: Generator, fixtures_dir: Path) -> None:
    path = fixtures_dir / "attributes_txt" / "attributes.txt"
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    aus = animation_aus(17, drive=path)
    assert aus.shape == (len(rows), 17) == (41, 17)
    # Frame order: 1.jpg, 3.jpg, ... as the file lists them; values normalised from raw 0-5.
    assert torch.allclose(aus[0], torch.tensor([float(v) for v in rows[0][1:]]) / 5)
    assert torch.allclose(aus[-1], torch.tensor([float(v) for v in rows[-1][1:]]) / 5)
    frames = animate(generator, torch.zeros(3, 32, 32), drive=path, smooth=5, batch_size=16)
    assert len(frames) == 41


def test_keyframes_xor_drive(generator: Generator, face: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="not neither"):
        animate(generator, face)
    with pytest.raises(ValueError, match="not both"):
        animate(generator, face, ["happy"], drive=torch.zeros(2, 17))
    with pytest.raises(ValueError, match="non-empty sequence"):
        animate(generator, face, [])
    with pytest.raises(ValueError, match="unknown expression 'jolly'"):
        animate(generator, face, ["happy", "jolly"])
    with pytest.raises(ValueError, match="frames_per_transition"):
        animate(generator, face, ["happy", "sad"], frames_per_transition=0)
