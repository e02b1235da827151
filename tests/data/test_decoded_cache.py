"""The decoded-image cache: built once and reused, the same tensors, rebuilt when the data or the cache changes,
read by loader workers, written atomically."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

import ganimation_lib.data.dataset as dataset_module
from ganimation_lib.data import AUDataset, DecodedCache, SyntheticFaces, load_image

SIZE = 32


@pytest.fixture
def jpeg_root(tmp_path: Path) -> Path:
    """Six synthetic faces as 40 px JPEGs (decoded, cropped and resized to 32 px by the dataset)."""
    root = SyntheticFaces(num_identities=2, items_per_identity=3, image_size=40, seed=5).write(tmp_path / "data")
    labels = (root / "aus.csv").read_text(encoding="utf-8")
    for png in sorted((root / "imgs").glob("*.png")):
        Image.open(png).convert("RGB").save(png.with_suffix(".jpg"), quality=90)
        png.unlink()
    (root / "aus.csv").write_text(labels.replace(".png", ".jpg"), encoding="utf-8")
    return root


@pytest.fixture
def decode_count(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names the dataset decodes at full quality (``load_rgb``), recorded as it does."""
    calls: list[str] = []
    original = dataset_module.load_rgb

    def counting(path: str | Path, image_size: int) -> Image.Image:
        calls.append(Path(path).name)
        return original(path, image_size)

    monkeypatch.setattr(dataset_module, "load_rgb", counting)
    return calls


def _images(data: AUDataset) -> torch.Tensor:
    return torch.stack([data[i].image for i in range(len(data))])


def test_built_once_then_reused_without_decoding(jpeg_root: Path, tmp_path: Path, decode_count: list[str]) -> None:
    cache_dir = tmp_path / "cache"
    first = AUDataset(jpeg_root, image_size=SIZE, decoded_cache=cache_dir)
    assert sorted(decode_count) == sorted(first.files)  # each image decoded once, at construction
    decode_count.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a valid cache is opened silently
        second = AUDataset(jpeg_root, image_size=SIZE, decoded_cache=cache_dir)
    _images(second)
    assert decode_count == []  # neither the construction nor the items decoded anything
    assert second.decoded_cache is not None and len(second.decoded_cache) == len(second)
    assert len(list(cache_dir.glob("*.npy"))) == 1 and len(list(cache_dir.glob("*.json"))) == 1


def test_same_tensors_as_decoding_each_time(jpeg_root: Path, tmp_path: Path) -> None:
    plain = AUDataset(jpeg_root, image_size=SIZE)
    cached = AUDataset(jpeg_root, image_size=SIZE, decoded_cache=tmp_path / "cache")
    assert torch.equal(_images(plain), _images(cached))
    # and both are what load_image makes of the files
    files = torch.stack([load_image(plain.images_dir / name, SIZE) for name in plain.files])
    assert torch.equal(_images(plain), files)
    assert cached.files == plain.files and torch.equal(cached.aus_table, plain.aus_table)


def test_flips_still_apply_after_the_cache(jpeg_root: Path, tmp_path: Path) -> None:
    plain = AUDataset(jpeg_root, image_size=SIZE)
    always = AUDataset(jpeg_root, image_size=SIZE, flip=1.0, decoded_cache=tmp_path / "cache")
    assert torch.equal(always[2].image, plain[2].image.flip(-1))


def test_a_changed_image_makes_it_stale(jpeg_root: Path, tmp_path: Path, decode_count: list[str]) -> None:
    cache_dir = tmp_path / "cache"
    AUDataset(jpeg_root, image_size=SIZE, decoded_cache=cache_dir)
    victim = jpeg_root / "imgs" / AUDataset(jpeg_root, image_size=SIZE).files[1]
    Image.new("RGB", (40, 40), (250, 10, 10)).save(victim, quality=90)
    os.utime(victim, ns=(0, 10**18))  # a different mtime even on a coarse-clock file system
    decode_count.clear()
    with pytest.warns(UserWarning, match="stale"):
        rebuilt = AUDataset(jpeg_root, image_size=SIZE, decoded_cache=cache_dir)
    assert len(decode_count) == len(rebuilt)
    assert torch.equal(_images(rebuilt), _images(AUDataset(jpeg_root, image_size=SIZE)))
    assert rebuilt[1].image[0].mean() > 0.8  # the new red picture, not the old face


def test_another_size_or_split_gets_its_own_cache(jpeg_root: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    small = AUDataset(jpeg_root, image_size=16, decoded_cache=cache_dir)
    train = AUDataset(jpeg_root, image_size=SIZE, split="train", test_fraction=0.5, decoded_cache=cache_dir)
    assert small[0].image.shape == (3, 16, 16) and train[0].image.shape == (3, SIZE, SIZE)
    assert len(list(cache_dir.glob("*.npy"))) == 2


@pytest.mark.parametrize("damage", ["truncate", "garbage_index", "no_array", "other_array"])
def test_a_damaged_cache_is_rebuilt(jpeg_root: Path, tmp_path: Path, damage: str) -> None:
    cache_dir = tmp_path / "cache"
    built = AUDataset(jpeg_root, image_size=SIZE, decoded_cache=cache_dir).decoded_cache
    assert built is not None
    expected = _images(AUDataset(jpeg_root, image_size=SIZE))
    if damage == "truncate":
        with open(built.array_path, "rb+") as handle:
            handle.truncate(os.path.getsize(built.array_path) - 100)
    elif damage == "garbage_index":
        built.index_path.write_text("{not json", encoding="utf-8")
    elif damage == "no_array":
        built.array_path.unlink()
    else:  # a valid .npy of the right size but another shape
        np.save(built.array_path, np.zeros((len(expected) * SIZE, SIZE, 3), dtype=np.uint8))
    with pytest.warns(UserWarning, match="rebuilding"):
        again = AUDataset(jpeg_root, image_size=SIZE, decoded_cache=cache_dir)
    assert torch.equal(_images(again), expected)


def test_works_in_loader_workers(jpeg_root: Path, tmp_path: Path) -> None:
    data = AUDataset(jpeg_root, image_size=SIZE, decoded_cache=tmp_path / "cache")
    loader = DataLoader(data, batch_size=2, num_workers=2, persistent_workers=True)
    for _epoch in range(2):
        images = torch.cat([batch.image for batch in loader])
        assert torch.equal(images, _images(AUDataset(jpeg_root, image_size=SIZE)))


def test_pickling_carries_the_path_not_the_pixels(jpeg_root: Path, tmp_path: Path) -> None:
    import pickle

    cache = AUDataset(jpeg_root, image_size=SIZE, decoded_cache=tmp_path / "cache").decoded_cache
    assert cache is not None
    _ = cache[0]  # mapped in this process
    copy = pickle.loads(pickle.dumps(cache))
    assert len(pickle.dumps(cache)) < 2000 and np.array_equal(copy[3], cache[3])


def test_written_atomically_without_stray_files(jpeg_root: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    AUDataset(jpeg_root, image_size=SIZE, decoded_cache=cache_dir)
    assert sorted(p.suffix for p in cache_dir.iterdir()) == [".json", ".npy"]
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".")]


def test_a_failed_build_leaves_nothing_that_looks_valid(jpeg_root: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    names = AUDataset(jpeg_root, image_size=SIZE).files
    calls = 0

    def failing(path: Path) -> np.ndarray:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError("disk went away")
        return np.zeros((SIZE, SIZE, 3), dtype=np.uint8)

    with pytest.raises(OSError, match="disk went away"):
        DecodedCache.open_or_build(cache_dir, jpeg_root / "imgs", names, SIZE, failing)
    assert list(cache_dir.iterdir()) == []  # the temporary array was removed; no index was written


def test_a_decoder_of_the_wrong_shape_is_refused(jpeg_root: Path, tmp_path: Path) -> None:
    names = AUDataset(jpeg_root, image_size=SIZE).files
    with pytest.raises(ValueError, match=r"shape \(8, 8, 3\).*\(32, 32, 3\) uint8"):
        DecodedCache.open_or_build(
            tmp_path / "cache", jpeg_root / "imgs", names, SIZE, lambda path: np.zeros((8, 8, 3), np.uint8)
        )


def test_a_copied_dataset_folder_gets_its_own_cache(jpeg_root: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    AUDataset(jpeg_root, image_size=SIZE, decoded_cache=cache_dir)
    copy = shutil.copytree(jpeg_root, tmp_path / "copy")
    AUDataset(copy, image_size=SIZE, decoded_cache=cache_dir)
    assert len(list(cache_dir.glob("*.npy"))) == 2


def test_ganimation_train_decoded_cache_flag(tmp_path: Path) -> None:
    from ganimation_lib.cli import main

    root = SyntheticFaces(num_identities=3, items_per_identity=2, image_size=SIZE).write(tmp_path / "data")
    tiny = ["--image-size", "32", "--generator-conv-dim", "8", "--generator-num-residual-blocks", "1"]
    tiny += ["--critic-conv-dim", "8", "--critic-depth", "4", "--batch-size", "2", "--device", "cpu", "--no-progress"]
    cache_dir = tmp_path / "cache"
    args = [str(root), "--output", str(tmp_path / "run"), "--max-steps", "1", "--decoded-cache", str(cache_dir)]
    assert main(["train", *args, "--val-fraction", "0.34", *tiny]) == 0
    assert len(list(cache_dir.glob("*.npy"))) == 2  # the training and the held-out split


def test_builds_of_the_same_cache_at_once_all_succeed(jpeg_root: Path, tmp_path: Path) -> None:
    import threading
    import time

    names = AUDataset(jpeg_root, image_size=SIZE).files
    cache_dir = tmp_path / "cache"
    results: list[DecodedCache | BaseException] = []

    def slow(path: Path) -> np.ndarray:
        time.sleep(0.01)  # the builds overlap, as those of several ranks would
        return np.asarray(dataset_module.load_rgb(path, SIZE))

    def build() -> None:
        try:
            results.append(DecodedCache.open_or_build(cache_dir, jpeg_root / "imgs", names, SIZE, slow))
        except BaseException as error:  # reported by the assertion below
            results.append(error)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(result, DecodedCache) for result in results), results
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = AUDataset(jpeg_root, image_size=SIZE, decoded_cache=cache_dir)
    assert torch.equal(_images(again), _images(AUDataset(jpeg_root, image_size=SIZE)))
    assert sorted(p.suffix for p in cache_dir.iterdir()) == [".json", ".npy"]


def test_the_readability_check_trusts_the_cache_for_unchanged_files(
    jpeg_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    original = dataset_module.readable_image

    def counting(path: str | Path, draft_size: int | None = None) -> str | None:
        checked.append(Path(path).name)
        return original(path, draft_size)

    monkeypatch.setattr(dataset_module, "readable_image", counting)
    cache_dir = tmp_path / "cache"
    first = AUDataset(jpeg_root, image_size=SIZE, decoded_cache=cache_dir)
    assert sorted(checked) == sorted(first.files)  # no cache yet: every image checked
    checked.clear()
    AUDataset(jpeg_root, image_size=SIZE, decoded_cache=cache_dir)
    assert checked == []  # all decoded into the cache, unchanged since
    touched = jpeg_root / "imgs" / first.files[0]
    os.utime(touched, ns=(0, 10**18))
    # Changed files are checked again: the touched one passes, the corrupted one is skipped.
    (jpeg_root / "imgs" / first.files[1]).write_bytes(b"not a jpeg")
    with pytest.warns(UserWarning, match="1 unreadable images"):
        third = AUDataset(jpeg_root, image_size=SIZE, decoded_cache=cache_dir)
    assert sorted(checked) == sorted(first.files[:2]) and first.files[1] not in third.files
