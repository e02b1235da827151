"""uint8 batches (``AUDataset(uint8_images=True)``): the same faces as the float items, converted on the device by
every consumer (training, validation, sample grids, evaluation), so training from them changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from ganimation_lib import Trainer
from ganimation_lib.data import AUDataset, SyntheticFaces, as_float_faces
from ganimation_lib.evaluation import evaluate
from ganimation_lib.models import Generator

from ..training.helpers import tiny_config, tiny_models

SIZE = 32


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return SyntheticFaces(num_identities=3, items_per_identity=2, image_size=40, seed=3).write(tmp_path / "data")


@pytest.mark.parametrize("cached", [False, True])
def test_the_items_are_the_float_items_bit_for_bit(root: Path, tmp_path: Path, cached: bool) -> None:
    cache = tmp_path / "cache" if cached else None
    plain = AUDataset(root, image_size=SIZE, decoded_cache=cache)
    floats = AUDataset(root, image_size=SIZE, flip=0.5, decoded_cache=cache)
    uint8s = AUDataset(root, image_size=SIZE, flip=0.5, decoded_cache=cache, uint8_images=True)
    flipped = 0
    for index in range(len(floats)):
        torch.manual_seed(index)  # the same flip and target draws for both
        expected = floats[index]
        torch.manual_seed(index)
        item = uint8s[index]
        assert item.image.dtype == torch.uint8 and item.image.shape == (3, SIZE, SIZE)
        assert item.image.is_contiguous()
        assert torch.equal(as_float_faces(item.image), expected.image)
        assert torch.equal(item.target_aus, expected.target_aus) and torch.equal(item.aus, expected.aus)
        flipped += not torch.equal(expected.image, plain[index].image)
    assert 0 < flipped < len(floats)  # the comparison covered flipped and unflipped faces


def test_loader_workers_deliver_uint8_batches(root: Path, tmp_path: Path) -> None:
    data = AUDataset(root, image_size=SIZE, decoded_cache=tmp_path / "cache", uint8_images=True)
    batch = next(iter(DataLoader(data, batch_size=4, num_workers=1)))
    assert batch.image.dtype == torch.uint8 and batch.image.shape == (4, 3, SIZE, SIZE)


def _trained(data: AUDataset, val: AUDataset, output: Path) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    torch.manual_seed(0)
    config = tiny_config(max_steps=3, validate_every=2, sample_every=2, checkpoint_every=0, num_validation_samples=2)
    trainer = Trainer(**tiny_models(), config=config, output_dir=output, progress=False)
    trainer.fit(data, val_data=val)
    weights = {**trainer.generator.state_dict(), **trainer.critic.state_dict(prefix="critic.")}
    return weights, trainer.validate()


def test_training_from_uint8_batches_is_training_from_float_batches(root: Path, tmp_path: Path) -> None:
    runs = {}
    for uint8 in (False, True):
        kwargs = {"image_size": SIZE, "flip": 0.5, "uint8_images": uint8}
        train = AUDataset(root, split="train", test_fraction=0.34, **kwargs)
        val = AUDataset(root, split="test", test_fraction=0.34, **kwargs)
        runs[uint8] = (_trained(train, val, tmp_path / f"run-{uint8}"), tmp_path / f"run-{uint8}")
    ((floats, float_metrics), float_dir), ((uint8s, uint8_metrics), uint8_dir) = runs[False], runs[True]
    assert float_metrics == uint8_metrics and "cycle_error" in float_metrics
    assert floats.keys() == uint8s.keys()
    assert all(torch.equal(floats[name], uint8s[name]) for name in floats)
    grids = sorted(p.relative_to(float_dir) for p in (float_dir / "samples").glob("*.png"))
    assert grids and grids == sorted(p.relative_to(uint8_dir) for p in (uint8_dir / "samples").glob("*.png"))
    assert all((float_dir / g).read_bytes() == (uint8_dir / g).read_bytes() for g in grids)


def test_evaluate_reads_uint8_datasets(root: Path) -> None:
    torch.manual_seed(0)
    generator = Generator(tiny_models()["generator"])
    floats = evaluate(generator, AUDataset(root, image_size=SIZE))
    uint8s = evaluate(generator, AUDataset(root, image_size=SIZE, uint8_images=True))
    assert floats.identity_error == uint8s.identity_error and floats.cycle_error == uint8s.cycle_error


def test_other_integer_images_are_refused_by_dtype() -> None:
    with pytest.raises(TypeError, match=r"uint8.*torch\.int32"):
        as_float_faces(torch.zeros(3, 4, 4, dtype=torch.int32))
