"""Synthetic faces: deterministic rendering, AUs that move the right region, identities apart from expressions."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganimation_lib.aus import AU_NAMES, aus_for, aus_from_dict
from ganimation_lib.data import AUSample
from ganimation_lib.data.synthetic import SyntheticFaces, contact_sheet, identity_from_name
from ganimation_lib.data.targets import RandomOtherTarget

SIZE = 32


@pytest.fixture(scope="module")
def faces() -> SyntheticFaces:
    return SyntheticFaces(num_identities=4, items_per_identity=8, image_size=SIZE, seed=3)


def _diff_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-row share of the absolute pixel difference between two (3, H, W) images."""
    rows = (a - b).abs().sum(dim=(0, 2))
    return rows / rows.sum()


def test_items_are_ausamples_in_the_documented_ranges(faces: SyntheticFaces) -> None:
    item = faces[5]
    assert isinstance(item, AUSample)
    assert item.image.shape == (3, SIZE, SIZE) and item.image.dtype == torch.float32
    assert float(item.image.min()) >= -1 and float(item.image.max()) <= 1
    assert item.aus.shape == (17,) and float(item.aus.min()) >= 0 and float(item.aus.max()) <= 1
    assert item.name == "synthetic/1" and faces.identity_of(5) == 1 == identity_from_name(item.name)
    assert len(faces) == 32


def test_rendering_is_deterministic_across_instances() -> None:
    a = SyntheticFaces(num_identities=3, items_per_identity=2, image_size=SIZE, seed=7)
    b = SyntheticFaces(num_identities=3, items_per_identity=2, image_size=SIZE, seed=7)
    torch.testing.assert_close(a.aus_table, b.aus_table)
    for i in range(len(a)):
        torch.testing.assert_close(a[i].image, b[i].image, rtol=0, atol=0)
    other = SyntheticFaces(num_identities=3, items_per_identity=2, image_size=SIZE, seed=8)
    assert not torch.equal(a.aus_table, other.aus_table)


@pytest.mark.parametrize(
    ("au", "rows"),
    [
        ("AU01", (0.2, 0.45)),  # brows
        ("AU02", (0.2, 0.45)),
        ("AU04", (0.25, 0.5)),
        ("AU05", (0.35, 0.55)),  # eyes
        ("AU45", (0.35, 0.55)),
        ("AU09", (0.3, 0.65)),  # nose wrinkles (and the brows it pulls down)
        ("AU12", (0.55, 0.9)),  # mouth corners
        ("AU15", (0.6, 0.9)),
        ("AU25", (0.6, 0.9)),  # mouth opening
        ("AU26", (0.6, 0.95)),
    ],
)
def test_one_au_changes_pixels_in_its_own_region(faces: SyntheticFaces, au: str, rows: tuple[float, float]) -> None:
    neutral = faces.render_tensor(2, torch.zeros(17))
    moved = faces.render_tensor(2, aus_from_dict({au: 5.0}))
    share = _diff_rows(neutral, moved)
    low, high = int(rows[0] * SIZE), int(rows[1] * SIZE) + 1
    assert float((neutral - moved).abs().mean()) > 0.005, f"{au} barely changes the face"
    assert float(share[low:high].sum()) > 0.9, f"{au} changed rows outside {rows}: {share.tolist()}"


def test_au_changes_are_continuous(faces: SyntheticFaces) -> None:
    neutral = faces.render_tensor(0, torch.zeros(17))
    changes = [
        float((faces.render_tensor(0, aus_from_dict({"AU26": v})) - neutral).abs().mean()) for v in (0.5, 2.5, 5.0)
    ]
    assert 0 < changes[0] < changes[1] < changes[2]
    # Brows rise gradually: small AU01 changes give small pixel changes, not a jump.
    step = float(
        (faces.render_tensor(0, aus_from_dict({"AU01": 2.6})) - faces.render_tensor(0, aus_from_dict({"AU01": 2.5})))
        .abs()
        .mean()
    )
    assert step < changes[2] / 5


def test_identity_seed_changes_looks_but_not_expressions() -> None:
    a = SyntheticFaces(num_identities=2, items_per_identity=4, image_size=SIZE, seed=1, identity_seed=10)
    b = SyntheticFaces(num_identities=2, items_per_identity=4, image_size=SIZE, seed=1, identity_seed=11)
    torch.testing.assert_close(a.aus_table, b.aus_table)
    assert not torch.equal(a[0].image, b[0].image)
    # The same AU edit lands in the same rows on both identities.
    for faces in (a, b):
        share = _diff_rows(faces.render_tensor(0, torch.zeros(17)), faces.render_tensor(0, aus_for("surprise")))
        assert float(share[: int(0.2 * SIZE)].sum()) < 0.05


def test_items_differ_in_expression_and_identity(faces: SyntheticFaces) -> None:
    table = faces.aus_table
    assert table.shape == (32, 17)
    assert int((table.sum(dim=1) > 0).sum()) >= 28  # almost every item has some expression
    assert len({tuple(row.tolist()) for row in table}) == 32
    assert not torch.equal(faces.render_tensor(0, table[0]), faces.render_tensor(1, table[0]))


def test_targets_follow_the_official_recipe(faces: SyntheticFaces) -> None:
    torch.manual_seed(1)
    for index in range(8):
        item = faces[index]
        source = [i for i in range(len(faces)) if faces.name_of(i) == item.target_source]
        assert source, item.target_source
        assert any(float((item.target_aus - faces.aus_table[i]).abs().max()) <= 0.1 + 1e-6 for i in source)
    quiet = SyntheticFaces(2, 2, image_size=SIZE, target_sampler=RandomOtherTarget(noise=0.0))
    target = quiet[0].target_aus
    assert any(torch.equal(target, row) for row in quiet.aus_table[1:])


def test_custom_au_subset() -> None:
    faces = SyntheticFaces(2, 2, image_size=SIZE, au_names=("AU12", "AU26"))
    assert faces[0].aus.shape == (2,)
    smile = faces.render_tensor(0, torch.tensor([1.0, 0.0]))
    assert not torch.equal(smile, faces.render_tensor(0, torch.zeros(2)))


def test_bad_inputs_raise_value_errors(faces: SyntheticFaces) -> None:
    with pytest.raises(ValueError, match=r"shape \(17,\)"):
        faces.render(0, torch.zeros(12))
    with pytest.raises(ValueError, match="NaN"):
        faces.render(0, torch.full((17,), float("nan")))
    with pytest.raises(ValueError, match="identity"):
        faces.render(-1, torch.zeros(17))
    with pytest.raises(ValueError, match="image_size"):
        SyntheticFaces(image_size=8)
    with pytest.raises(IndexError):
        faces[len(faces)]


def test_identity_cache_is_bounded() -> None:
    faces = SyntheticFaces(num_identities=10, items_per_identity=1, image_size=16, cache_size=3)
    first = faces.render_tensor(0, torch.zeros(17))
    for identity in range(10):
        faces.render(identity, torch.zeros(17))
    assert len(faces._cache) == 3
    torch.testing.assert_close(faces.render_tensor(0, torch.zeros(17)), first, rtol=0, atol=0)


def test_contact_sheet_has_one_cell_per_expression_and_identity(faces: SyntheticFaces) -> None:
    sheet = contact_sheet(faces, identities=(0, 1, 2), padding=2)
    assert sheet.size == (2 + 3 * (SIZE + 2), 2 + 8 * (SIZE + 2))
    assert len(AU_NAMES) == 17


def test_batches_through_a_dataloader_with_workers() -> None:
    from torch.utils.data import DataLoader

    faces = SyntheticFaces(num_identities=2, items_per_identity=4, image_size=16)
    batch = next(iter(DataLoader(faces, batch_size=4, num_workers=2)))
    assert isinstance(batch, AUSample) and batch.image.shape == (4, 3, 16, 16)
    torch.testing.assert_close(batch.aus, faces.aus_table[:4])
    assert list(batch.name) == ["synthetic/0", "synthetic/1", "synthetic/0", "synthetic/1"]


def test_cli_writes_a_contact_sheet_and_a_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    from ganimation_lib.cli import main

    sheet = tmp_path / "sheet.png"
    code = main(["synthetic", "--contact-sheet", str(sheet), "--size", "16", "--identities", "3", "--zoom", "2",
                 "--write", str(tmp_path / "data"), "--items-per-identity", "2"])  # fmt: skip
    assert code == 0
    with Image.open(sheet) as image:
        assert image.size == (2 * (2 + 3 * 18), 2 * (2 + 8 * 18))
    assert len(list((tmp_path / "data" / "imgs").glob("*.png"))) == 6
    assert (tmp_path / "data" / "aus.csv").read_text().startswith("file,AU01,")
    assert "contact sheet" in capsys.readouterr().out
    assert main(["synthetic"]) == 2
    assert "nothing to do" in capsys.readouterr().err


def test_render_batch_matches_single_renders(faces: SyntheticFaces) -> None:
    aus = torch.stack([aus_for("happy"), aus_for("sad")])
    batch = faces.render_batch(torch.tensor([1, 3]), aus)
    torch.testing.assert_close(batch[0], faces.render_tensor(1, aus[0]), rtol=0, atol=0)
    torch.testing.assert_close(batch[1], faces.render_tensor(3, aus[1]), rtol=0, atol=0)
    with pytest.raises(ValueError, match="one row per identity"):
        faces.render_batch([0], aus)
