"""With a trained model (the demo's), editing towards the face's own AUs changes it little.

The demo (``make demo``) saves its generator to ``demo_output/generator`` with ``save_pretrained``; training
one here would take many minutes on two CPU cores, so these tests use that saved model and are skipped
when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ganimation_lib import Generator, SyntheticFaces
from ganimation_lib.aus import AU_NAMES, aus_for
from ganimation_lib.inference import animate, edit
from tests.conftest import PROJECT_ROOT

DEMO_MODEL = PROJECT_ROOT / "demo_output" / "generator"


@pytest.fixture(scope="module")
def demo_generator() -> Generator:
    if not (DEMO_MODEL / "config.json").is_file():
        pytest.skip(f"no trained demo model at {DEMO_MODEL}; run `make demo` first")
    return Generator.from_pretrained(DEMO_MODEL)


@pytest.fixture(scope="module")
def held_out_faces(demo_generator: Generator) -> SyntheticFaces:
    # Identities the demo never trained on (its training and validation seeds are small integers).
    return SyntheticFaces(num_identities=8, items_per_identity=1, image_size=demo_generator.config.image_size, seed=987)


def _change(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().mean())


def test_target_equal_to_source_changes_the_face_little(
    demo_generator: Generator, held_out_faces: SyntheticFaces
) -> None:
    same, other = [], []
    for i in range(len(held_out_faces)):
        face = held_out_faces[i]
        same.append(_change(edit(demo_generator, face.image, face.aus), face.image))
        # A clearly different expression: open the mouth if it is closed, else close everything.
        far = aus_for("surprise") if face.aus[AU_NAMES.index("AU26")] < 0.3 else aus_for("neutral")
        other.append(_change(edit(demo_generator, face.image, far), face.image))
    mean_same, mean_other = float(np.mean(same)), float(np.mean(other))
    assert mean_same < 0.02, f"own AUs changed the face by {mean_same:.4f} on average ([-1, 1] scale)"
    # The model must react more to another expression than to its own; how much more depends on how long
    # `make demo` trained (measured: 0.0107 vs 0.0136 after 421 CPU iterations, 0.0101 vs 0.0343 after 3,285).
    assert mean_same < mean_other, f"own AUs: {mean_same:.4f}, another expression: {mean_other:.4f}"


def test_trained_model_on_a_larger_photo_keeps_the_outside(
    demo_generator: Generator, held_out_faces: SyntheticFaces, tmp_path: Path
) -> None:
    size = demo_generator.config.image_size
    face = held_out_faces[0].image
    photo = torch.nn.functional.interpolate(face[None], scale_factor=3, mode="nearest")[0]
    box = (size, size, 2 * size, 2 * size)
    frames = animate(demo_generator, photo, ["neutral", "happy", "surprise"], frames_per_transition=4, box=box)
    assert len(frames) == 9 and all(f.shape == photo.shape for f in frames)
    outside = torch.ones(photo.shape[-2:], dtype=torch.bool)
    outside[size : 2 * size, size : 2 * size] = False
    assert all(torch.equal(f[:, outside], photo[:, outside]) for f in frames)
