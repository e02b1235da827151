"""AUDataset: validation, image loading, splits, flips and target sampling."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganimation_lib.aus import AU_NAMES
from ganimation_lib.data import AUDataset, AUSample, RandomOtherTarget, SyntheticFaces
from ganimation_lib.data.errors import DataFormatError
from ganimation_lib.data.labels import write_au_table, write_ids

SIZE = 32


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return SyntheticFaces(num_identities=3, items_per_identity=4, image_size=SIZE, seed=2).write(
        tmp_path_factory.mktemp("synthetic")
    )


def test_reads_what_synthetic_faces_write(synthetic_root: Path) -> None:
    faces = SyntheticFaces(num_identities=3, items_per_identity=4, image_size=SIZE, seed=2)
    data = AUDataset(synthetic_root, image_size=SIZE)
    assert len(data) == 12 and data.report.ok
    item = data[3]
    assert isinstance(item, AUSample) and item.name == "000003_id0.png"
    torch.testing.assert_close(item.aus, faces.aus_table[3], atol=1e-4, rtol=0)
    # PNG round trip is lossless, so the image is the renderer's picture.
    torch.testing.assert_close(item.image, faces.render_tensor(0, faces.aus_table[3]), atol=1e-6, rtol=0)
    raw = AUDataset(synthetic_root, image_size=SIZE, au_scale=1.0)
    torch.testing.assert_close(raw[3].aus, faces.aus_table[3] * 5, atol=5e-4, rtol=0)


def test_images_are_resized_and_centre_cropped_without_distortion(tmp_path: Path) -> None:
    # 80x40: red | green (middle half) | blue. A centre crop is all green; a squash would keep red and blue.
    array = np.zeros((40, 80, 3), dtype=np.uint8)
    array[:, :20] = (255, 0, 0)
    array[:, 20:60] = (0, 255, 0)
    array[:, 60:] = (0, 0, 255)
    (tmp_path / "imgs").mkdir()
    Image.fromarray(array).save(tmp_path / "imgs" / "wide.png")
    write_au_table(tmp_path / "aus.csv", {"wide.png": [1.0] * 17})
    image = AUDataset(tmp_path, image_size=16)[0].image
    assert image.shape == (3, 16, 16)
    torch.testing.assert_close(image[1], torch.ones(16, 16))  # green channel at +1 everywhere
    torch.testing.assert_close(image[0], -torch.ones(16, 16))


@pytest.fixture
def broken_root(tmp_path: Path) -> Path:
    """Four good items plus one of each validation problem."""
    images = tmp_path / "imgs"
    images.mkdir()
    for name in ("a.png", "b.png", "c.png", "d.png", "orphan.png"):
        Image.new("RGB", (8, 8), (10, 20, 30)).save(images / name)
    (images / "corrupt.png").write_bytes(b"not a png at all")
    rows = [f"{n},{','.join(['1.0'] * 17)}" for n in ("a.png", "b.png", "c.png", "d.png", "corrupt.png", "ghost.png")]
    rows.append("short.png," + ",".join(["1.0"] * 12))
    rows.append("nan.png," + ",".join(["nan"] * 17))
    (tmp_path / "aus.csv").write_text("file," + ",".join(AU_NAMES) + "\n" + "\n".join(rows) + "\n")
    return tmp_path


def test_validation_reports_counts_and_skips(broken_root: Path) -> None:
    with pytest.warns(UserWarning, match="2 bad rows.*1 rows without images.*1 images without rows"):
        data = AUDataset(broken_root, image_size=8)
    assert data.files == ("a.png", "b.png", "c.png", "d.png")
    report = data.report
    assert (report.bad_rows, report.rows_without_images) == (2, 1)
    assert (report.images_without_rows, report.unreadable_images) == (1, 1)
    assert report.examples["rows_without_images"] == ["ghost.png"]
    assert report.examples["images_without_rows"] == ["orphan.png"]
    assert report.examples["unreadable_images"] == ["corrupt.png"]
    assert "12 fields" not in str(report) and "13 fields" in str(report) and "NaN" in str(report)


def test_strict_validation_raises(broken_root: Path) -> None:
    with pytest.raises(DataFormatError, match="line 8"):  # the reader stops at the first bad row
        AUDataset(broken_root, image_size=8, strict=True)
    (broken_root / "aus.csv").write_text(
        "file," + ",".join(AU_NAMES) + "\n" + "\n".join(f"{n}.png,{','.join(['1'] * 17)}" for n in "wxyz") + "\n"
    )
    with pytest.raises(DataFormatError, match=r"4 rows without images.*6 images without rows"):
        AUDataset(broken_root, image_size=8, strict=True)


def test_no_usable_item_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "imgs" / "a.png")
    write_au_table(tmp_path / "aus.csv", {"b.png": [1.0] * 17})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataFormatError, match="no usable items"):
            AUDataset(tmp_path, image_size=8)
    with pytest.raises(FileNotFoundError, match="no AU labels"):
        AUDataset(tmp_path / "imgs", image_size=8)


def test_target_sampling_official_recipe(synthetic_root: Path) -> None:
    data = AUDataset(synthetic_root, image_size=SIZE)
    table = data.aus_table
    torch.manual_seed(0)
    sources = set()
    for _ in range(20):
        item = data[0]
        source = data.files.index(item.target_source)
        assert source != 0  # never its own target
        sources.add(source)
        noise = item.target_aus - table[source]
        assert float(noise.abs().max()) <= 0.1 + 1e-6 and float(noise.abs().max()) > 0
    assert len(sources) > 3
    clipped = AUDataset(synthetic_root, image_size=SIZE, target_sampler=RandomOtherTarget(noise=0.5, clip=(0, 1)))
    for i in range(len(clipped)):
        target = clipped[i].target_aus
        assert float(target.min()) >= 0 and float(target.max()) <= 1


def test_target_sampler_is_replaceable(synthetic_root: Path) -> None:
    def always_smile(index: int, table: torch.Tensor) -> tuple[torch.Tensor, int | None]:
        target = torch.zeros(table.shape[1])
        target[AU_NAMES.index("AU12")] = 1.0
        return target, None

    item = AUDataset(synthetic_root, image_size=SIZE, target_sampler=always_smile)[2]
    assert item.target_source == "" and float(item.target_aus.sum()) == 1.0
    generator_a = RandomOtherTarget(generator=torch.Generator().manual_seed(5))
    generator_b = RandomOtherTarget(generator=torch.Generator().manual_seed(5))
    a = AUDataset(synthetic_root, image_size=SIZE, target_sampler=generator_a)
    b = AUDataset(synthetic_root, image_size=SIZE, target_sampler=generator_b)
    assert all(torch.equal(a[i].target_aus, b[i].target_aus) for i in range(4))


def test_flip(synthetic_root: Path) -> None:
    plain = AUDataset(synthetic_root, image_size=SIZE)[1]
    flipped = AUDataset(synthetic_root, image_size=SIZE, flip=1.0)[1]
    torch.testing.assert_close(flipped.image, plain.image.flip(-1))
    torch.testing.assert_close(flipped.aus, plain.aus)
    assert not torch.equal(flipped.image, plain.image)
    torch.manual_seed(0)
    half = AUDataset(synthetic_root, image_size=SIZE, flip=True)
    flips = sum(torch.equal(half[1].image, flipped.image) for _ in range(40))
    assert 8 < flips < 32
    with pytest.raises(ValueError, match="probability"):
        AUDataset(synthetic_root, flip=1.5)


def test_fraction_split_is_seeded_disjoint_and_complete(synthetic_root: Path) -> None:
    train = AUDataset(synthetic_root, image_size=SIZE, split="train", test_fraction=0.25, split_seed=3)
    test = AUDataset(synthetic_root, image_size=SIZE, split="test", test_fraction=0.25, split_seed=3)
    assert len(test) == 3 and len(train) == 9
    assert not set(train.files) & set(test.files)
    assert (
        AUDataset(synthetic_root, image_size=SIZE, split="test", test_fraction=0.25, split_seed=3).files == test.files
    )
    other = AUDataset(synthetic_root, image_size=SIZE, split="test", test_fraction=0.25, split_seed=4)
    assert other.files != test.files


def test_ids_files_and_explicit_ids(synthetic_root: Path, tmp_path: Path) -> None:
    names = AUDataset(synthetic_root, image_size=SIZE).files
    chosen = AUDataset(synthetic_root, image_size=SIZE, ids=[names[0], names[5]])
    assert chosen.files == (names[0], names[5])
    ids_file = write_ids(tmp_path / "ids.csv", [Path(names[2]).stem])  # stems match too
    assert AUDataset(synthetic_root, image_size=SIZE, ids=ids_file).files == (names[2],)


def test_official_sample_with_its_ids_files(fixtures_dir: Path) -> None:
    root = fixtures_dir / "official_sample"
    everything = AUDataset(root, image_size=SIZE)
    assert len(everything) == 4 and everything.report.ok
    train = AUDataset(root, image_size=SIZE, split="train")
    test = AUDataset(root, image_size=SIZE, split="test")
    assert set(test.files) == {"N_0000001507_00202.jpg", "N_0000001939_00054.jpg"}
    assert set(train.files) == {"N_0000000437_00540.jpg", "N_0000000356_00190.jpg"}
    item = everything[0]
    assert item.image.shape == (3, SIZE, SIZE) and -1 <= float(item.image.min()) < float(item.image.max()) <= 1
    torch.testing.assert_close(item.aus[:4], torch.tensor([2.86, 2.27, 1.45, 1.1]) / 5)


def test_attributes_txt_fixture_as_a_dataset(fixtures_dir: Path) -> None:
    data = AUDataset(fixtures_dir / "attributes_txt", image_size=SIZE)
    assert len(data) == 41 and data.report.ok
    assert data.files[:2] == ("1.jpg", "3.jpg")


def test_argument_checks(synthetic_root: Path) -> None:
    with pytest.raises(ValueError, match="image_size"):
        AUDataset(synthetic_root, image_size=0)
    with pytest.raises(ValueError, match="au_scale"):
        AUDataset(synthetic_root, au_scale=0)
    with pytest.raises(ValueError, match="split"):
        AUDataset(synthetic_root, split="val")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="root"):
        AUDataset()
    with pytest.raises(IndexError):
        AUDataset(synthetic_root, image_size=SIZE)[12]


class _Sources(torch.utils.data.Dataset[int]):
    """Only the target sampling of a dataset: item i is the index its target came from."""

    def __init__(self, sampler: RandomOtherTarget) -> None:
        self.sampler, self.table = sampler, torch.rand(1000, 3)

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> int:
        source = self.sampler(index, self.table)[1]
        assert source is not None
        return source


def test_seeded_target_sampler_differs_between_dataloader_workers() -> None:
    # Every worker gets a copy of the sampler's generator in the same state; unless reseeded per worker,
    # worker 0 and worker 1 draw the same targets (and every epoch repeats them).
    from torch.utils.data import DataLoader

    def sources(loader_seed: int) -> list[list[int]]:
        data = _Sources(RandomOtherTarget(generator=torch.Generator().manual_seed(1)))
        loader = DataLoader(data, batch_size=4, num_workers=2, generator=torch.Generator().manual_seed(loader_seed))
        return [batch.tolist() for batch in loader]

    first, second = sources(0)
    assert first != second  # worker 0's batch and worker 1's batch
    assert sources(0) == [first, second]  # a seeded DataLoader still repeats exactly
    assert sources(1) != [first, second]  # and another epoch (another worker seed) differs


def test_fraction_split_is_stable_when_images_come_and_go(synthetic_root: Path, tmp_path: Path) -> None:
    # A permutation of the whole list reshuffled both parts when one image was added or became unreadable,
    # moving validation faces into training; a per-name rank moves at most the boundary.
    import shutil

    copy = Path(shutil.copytree(synthetic_root, tmp_path / "copy"))
    kwargs = {"image_size": SIZE, "test_fraction": 0.25, "split_seed": 3, "check_images": True}
    before = set(AUDataset(copy, split="test", **kwargs).files)  # type: ignore[arg-type]
    (copy / "imgs" / sorted(set(AUDataset(copy, image_size=SIZE).files) - before)[0]).write_bytes(b"broken")
    with pytest.warns(UserWarning, match="unreadable"):
        after = set(AUDataset(copy, split="test", **kwargs).files)  # type: ignore[arg-type]
    assert after == before  # 11 items: still round(11 * 0.25) = 3 test items, the same three


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    # OpenFace (OpenCV) measures a camera photo upright; the face the model trains on must be upright too.
    array = np.zeros((20, 40, 3), dtype=np.uint8)
    array[:, :20] = 255  # stored: white left half
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: white top half
    (tmp_path / "imgs").mkdir()
    Image.fromarray(array).save(tmp_path / "imgs" / "photo.jpg", exif=exif, quality=100)
    write_au_table(tmp_path / "aus.csv", {"photo.jpg": [1.0] * 17})
    image = AUDataset(tmp_path, image_size=8)[0].image
    assert float(image[:, :3].mean()) > 0.9 and float(image[:, 5:].mean()) < -0.9


def test_official_sample_with_an_au_subset(fixtures_dir: Path) -> None:
    data = AUDataset(fixtures_dir / "official_sample", image_size=SIZE, au_names=("AU12", "AU06"))
    assert len(data) == 4 and data.report.ok and data[0].aus.shape == (2,)


def test_a_truncated_image_is_counted_and_skipped_at_construction(tmp_path: Path) -> None:
    # Its header is intact, so Pillow's verify() passed it and the first epoch to reach it stopped fit.
    (tmp_path / "imgs").mkdir()
    photo = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "imgs" / "good.jpg", quality=90)
    data = (tmp_path / "imgs" / "good.jpg").read_bytes()
    (tmp_path / "imgs" / "cut.jpg").write_bytes(data[: len(data) // 2])
    write_au_table(tmp_path / "aus.csv", {"good.jpg": [1.0] * 17, "cut.jpg": [2.0] * 17})
    with pytest.warns(UserWarning, match=r"1 unreadable images \(e\.g\. cut\.jpg\)"):
        dataset = AUDataset(tmp_path, image_size=16)
    assert dataset.files == ("good.jpg",) and dataset.report.unreadable_images == 1
    assert [item.name for item in dataset] == ["good.jpg"]
    with pytest.raises(DataFormatError, match="unreadable"):
        AUDataset(tmp_path, image_size=16, strict=True)


def test_a_sixteen_bit_png_gives_the_item_of_its_eight_bit_version(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    grey = (np.arange(32 * 32) % 256).astype(np.uint8).reshape(32, 32)
    Image.fromarray(grey).save(tmp_path / "imgs" / "eight.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "imgs" / "deep.png")  # 16-bit grey PNG
    write_au_table(tmp_path / "aus.csv", {"eight.png": [1.0] * 17, "deep.png": [1.0] * 17})
    items = {item.name: item.image for item in AUDataset(tmp_path, image_size=16)}
    assert float((items["deep.png"] - items["eight.png"]).abs().max()) <= 2 / 255  # was nearly white
