"""The crop a model was trained on (``face_crop``) is saved with it and used when its faces are aligned."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ganimation_lib import Generator
from ganimation_lib.face_layout import CANONICAL_FACE, CanonicalFace
from ganimation_lib.faces import Face
from ganimation_lib.inference import edit_results
from ganimation_lib.models.safe_load import CheckpointError
from tests.conftest import tiny_generator_config

# A looser crop: the face smaller and lower than the official layout.
LOOSE = CanonicalFace(((0.35, 0.38), (0.65, 0.38), (0.5, 0.55), (0.375, 0.7), (0.625, 0.7)))


def _generator() -> Generator:
    torch.manual_seed(0)
    return Generator(tiny_generator_config()).eval()


def test_a_recorded_crop_is_saved_and_loaded(tmp_path: Path) -> None:
    generator = _generator()
    folder = generator.save_pretrained(tmp_path / "g", face_crop=LOOSE)
    assert json.loads((folder / "config.json").read_text())["face_crop"]["landmarks"][0] == [0.35, 0.38]
    loaded = Generator.from_pretrained(folder)
    assert loaded.face_crop == LOOSE
    again = loaded.save_pretrained(tmp_path / "again")  # the model's own crop is kept on a re-save
    assert Generator.from_pretrained(again).face_crop == LOOSE


def test_without_a_crop_nothing_is_written_and_none_is_loaded(tmp_path: Path) -> None:
    folder = _generator().save_pretrained(tmp_path / "g")
    assert "face_crop" not in json.loads((folder / "config.json").read_text())
    assert Generator.from_pretrained(folder).face_crop is None


@pytest.mark.parametrize(
    "bad", [{"landmarks": [[0.3, 0.3]]}, {"landmarks": "eyes"}, [1, 2], {"landmarks": [[0, 0]] * 5, "fit": [0]}]
)
def test_a_malformed_crop_in_config_json_is_refused(tmp_path: Path, bad: object) -> None:
    folder = _generator().save_pretrained(tmp_path / "g")
    document = json.loads((folder / "config.json").read_text())
    document["face_crop"] = bad
    (folder / "config.json").write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match=r"face crop|landmarks|fit"):
        Generator.from_pretrained(folder)


def test_faces_are_aligned_to_the_models_crop() -> None:
    photo = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    face = Face((20, 20, 76, 76), 1.0, ((38, 40), (58, 40), (48, 52), (40, 64), (56, 64)))
    generator = _generator()

    def model_input() -> torch.Tensor:
        return edit_results(generator, [photo], "happy", faces=[face])[0].input

    official = model_input()
    generator.face_crop = CANONICAL_FACE
    assert torch.equal(model_input(), official)  # recording the default changes nothing
    generator.face_crop = LOOSE
    assert not torch.equal(model_input(), official)
