"""Training with face_registration: the template is built from the training faces, saved, restored and used."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from ganimation_lib import Generator, SyntheticFaces, Trainer
from ganimation_lib.models.registered import RegisteredGenerator, drawing_model
from ganimation_lib.models.registration import warp_with_maps
from ganimation_lib.training.registered_data import RegisteredFaces, register_training_data
from tests.training.helpers import tiny_config, tiny_models


def _faces(count: int = 8, seed: int = 0) -> SyntheticFaces:
    return SyntheticFaces(num_identities=count, items_per_identity=1, image_size=32, seed=seed, style="alternate")


def _trainer(output: Path | None = None, **config: object) -> Trainer:
    models = tiny_models()
    models["generator"] = models["generator"].replace(face_registration=True)
    return Trainer(**models, config=tiny_config(**config), output_dir=output, progress=False)


def test_a_fit_builds_the_template_and_trains_on_registered_faces(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path / "run", ema_decay=0.9)
    assert trainer.generator.registration is not None and not trainer.generator.registration.is_built
    trainer.fit(_faces(), val_data=_faces(4, seed=1))
    registration = trainer.generator.registration
    assert registration.is_built and int(registration.num_faces) == 8
    shadow = trainer.sampling_generator.registration  # the EMA copy validated and exported
    assert shadow is not None and torch.equal(shadow.templates, registration.templates)
    assert isinstance(drawing_model(trainer.sampling_generator), RegisteredGenerator)
    exported = Generator.from_pretrained(trainer.export(tmp_path / "generator"))
    assert exported.registration is not None and torch.equal(exported.registration.templates, registration.templates)
    assert {"cycle_error", "true_error"} <= set(trainer.last_validation)  # measured in the faces' own framing


def test_registered_items_are_the_faces_moved_by_their_maps() -> None:
    trainer = _trainer()
    faces = _faces()
    registered = register_training_data(trainer, faces)
    assert isinstance(registered, RegisteredFaces) and len(registered) == len(faces)
    assert trainer.generator.registration is not None
    maps = trainer.generator.registration.find(torch.stack([faces[i].image for i in range(len(faces))]))
    item = registered[3]
    assert torch.allclose(item.image, warp_with_maps(faces[3].image[None], maps[3:4])[0], atol=1e-6)
    assert torch.equal(item.aus, faces[3].aus) and item.name == faces[3].name
    assert not torch.allclose(item.image, faces[3].image, atol=0.05)  # the framing did move


def test_a_flipping_dataset_is_registered_unflipped_and_flipped_afterwards() -> None:
    trainer = _trainer()
    faces = _faces()
    flipping = copy.copy(faces)
    flipping.flip = 1.0  # type: ignore[attr-defined]
    registered = register_training_data(trainer, flipping)
    assert isinstance(registered, RegisteredFaces) and registered.flip == 1.0
    assert flipping.flip == 1.0  # type: ignore[attr-defined]  # the caller's dataset is left as it was
    unflipped = register_training_data(trainer, faces)
    assert torch.equal(registered[2].image, unflipped[2].image.flip(-1))


def test_a_resumed_run_keeps_its_template_and_ends_where_an_uninterrupted_one_does(tmp_path: Path) -> None:
    data = _faces()
    full = _trainer(tmp_path / "full", max_steps=4)
    full.fit(data)
    _trainer(tmp_path / "part", max_steps=2).fit(data)
    resumed = _trainer(tmp_path / "resumed", max_steps=4)
    assert resumed.generator.registration is not None
    built: list[int] = []
    build = resumed.generator.registration.build_template
    resumed.generator.registration.build_template = lambda *a, **k: built.append(1) or build(*a, **k)  # type: ignore[method-assign]
    resumed.fit(data, resume_from=tmp_path / "part" / "checkpoints")
    assert not built  # restored from the checkpoint, not built again
    for key, value in full.generator.state_dict().items():
        assert torch.equal(value, resumed.generator.state_dict()[key]), key


def test_a_data_loader_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="pass the dataset to fit"):
        register_training_data(_trainer(), DataLoader(_faces(), batch_size=2))


def test_faces_framed_alike_are_trained_on_as_they_are(capsys: pytest.CaptureFixture[str]) -> None:
    models = tiny_models()
    models["generator"] = models["generator"].replace(face_registration=True)
    trainer = Trainer(**models, config=tiny_config(), progress=True, default_callbacks=False)
    aligned = SyntheticFaces(num_identities=8, items_per_identity=1, image_size=32, seed=0)  # the tuned style
    assert register_training_data(trainer, aligned) is aligned
    assert trainer.generator.registration is not None and not trainer.generator.registration.is_built
    assert drawing_model(trainer.generator) is trainer.generator
    assert "framed alike" in capsys.readouterr().err


def test_the_framing_spread_tells_framed_faces_from_aligned_ones() -> None:
    from ganimation_lib.models.registration import FaceRegistration

    spreads = {}
    for style in ("default", "alternate"):
        data = SyntheticFaces(num_identities=24, items_per_identity=1, image_size=32, seed=2, style=style)
        spreads[style] = FaceRegistration(32).build_template(torch.stack([data[i].image for i in range(24)]))
    assert not spreads["default"].varies and spreads["alternate"].varies
    assert spreads["alternate"].rotation > 3 * spreads["default"].rotation


@pytest.mark.parametrize(("style", "builds"), [("default", [12]), ("alternate", [12, 24])])
def test_the_framing_is_read_from_a_few_faces_before_the_full_template_is_built(
    monkeypatch: pytest.MonkeyPatch, style: str, builds: list[int]
) -> None:
    from ganimation_lib.training import registered_data

    monkeypatch.setattr(registered_data, "SCREEN_FACES", 12)
    trainer = _trainer()
    registration = trainer.generator.registration
    assert registration is not None
    sizes: list[int] = []
    build = registration.build_template
    registration.build_template = lambda faces: sizes.append(len(faces)) or build(faces)  # type: ignore[method-assign]
    data = SyntheticFaces(num_identities=24, items_per_identity=1, image_size=32, seed=2, style=style)
    registered = register_training_data(trainer, data)
    assert sizes == builds  # faces framed alike stop after the screen; framed ones get the template of all 24
    assert registration.is_built == (style == "alternate")
    assert int(registration.num_faces) == (24 if style == "alternate" else 0)
    assert isinstance(registered, RegisteredFaces) == (style == "alternate")
