"""The picture grids: tiling (the same pixels as the hand-written layout it replaced) and the labelled header."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganimation_lib import Generator, GeneratorConfig, SyntheticFaces
from ganimation_lib.aus import aus_for
from ganimation_lib.evaluation import evaluate, evaluation_grid, write_evaluation
from ganimation_lib.inference.grid_labels import add_header, column_lefts
from ganimation_lib.inference.visuals import make_sample_grid, tile_columns

W = 255  # the white padding


def _tiles(*values: int) -> torch.Tensor:
    """One column: a (len(values), 3, 2, 2) uint8 stack, tile ``i`` filled with ``values[i]``."""
    return torch.tensor(values, dtype=torch.uint8)[:, None, None, None].expand(-1, 3, 2, 2).contiguous()


def _rgb(rows: list[list[int]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.uint8)[None].expand(3, -1, -1)


def test_tiling_gives_the_layout_written_out_by_hand() -> None:
    grid = tile_columns([_tiles(1, 2), _tiles(11, 12)], pad=1, gaps=[0, 2])
    expected = _rgb(
        [
            [W, W, W, W, W, W, W, W, W],
            [W, 1, 1, W, W, W, 11, 11, W],
            [W, 1, 1, W, W, W, 11, 11, W],
            [W, W, W, W, W, W, W, W, W],
            [W, 2, 2, W, W, W, 12, 12, W],
            [W, 2, 2, W, W, W, 12, 12, W],
            [W, W, W, W, W, W, W, W, W],
        ]
    )
    assert grid.dtype == torch.uint8 and torch.equal(grid, expected)


def test_tiling_without_gaps_a_gap_first_and_a_single_tile() -> None:
    plain = tile_columns([_tiles(1), _tiles(2), _tiles(3)], pad=1)
    assert torch.equal(
        plain, _rgb([[W] * 10, [W, 1, 1, W, 2, 2, W, 3, 3, W], [W, 1, 1, W, 2, 2, W, 3, 3, W], [W] * 10])
    )
    first = tile_columns([_tiles(5)], pad=2, gaps=[1])
    expected = _rgb([[W] * 7, [W] * 7, [W, W, W, 5, 5, W, W], [W, W, W, 5, 5, W, W], [W] * 7, [W] * 7])
    assert torch.equal(first, expected)


def test_tiling_keeps_each_channel() -> None:
    tile = torch.zeros(1, 3, 1, 1, dtype=torch.uint8)
    tile[0, :, 0, 0] = torch.tensor([10, 20, 30], dtype=torch.uint8)
    grid = tile_columns([tile], pad=1)
    assert grid[:, 1, 1].tolist() == [10, 20, 30] and grid.shape == (3, 3, 3)


def _generator(size: int) -> Generator:
    return Generator(GeneratorConfig(image_size=size, conv_dim=8, num_residual_blocks=0)).eval()


def _ink(region: torch.Tensor) -> int:
    """Pixels of ``region`` (3, h, w) that are not white: text (or the group rule)."""
    return int((region < 200).any(dim=0).sum())


@pytest.mark.parametrize("size", [32, 64])
def test_the_labelled_sample_grid_has_a_header_with_text_over_every_column(size: int) -> None:
    g, faces = _generator(size), torch.rand(2, 3, size, size) * 2 - 1
    targets = [aus_for("happy"), aus_for("surprise")]
    plain = make_sample_grid(g, faces, targets)
    labelled = make_sample_grid(g, faces, targets, names=["happy", "surprise"], labelled=True)
    header = labelled.shape[1] - plain.shape[1]
    assert labelled.shape[2] == plain.shape[2] and 16 <= header <= 48  # two lines of 9-16 px text
    assert torch.equal(labelled[:, header:], plain)  # the tiles are untouched below the header
    strip = labelled[:, :header]
    assert strip.unique().numel() > 2  # anti-aliased text, not a uniform strip
    lefts = column_lefts(7, size, 2)
    group_line, cell_line = strip[:, : header // 2], strip[:, header // 2 :]
    for left in lefts:  # every column has its label ("input", "output", "attention"/"attn", "colour")
        assert _ink(cell_line[:, :, left : left + size]) > 10
    for first in (1, 4):  # each target's name sits over its three columns, nothing over the input column
        assert _ink(group_line[:, :, lefts[first] : lefts[first + 2] + size]) > 20
    assert _ink(group_line[:, :, : lefts[1]]) == 0


def test_names_default_to_numbered_targets_and_must_match_the_targets() -> None:
    g, faces = _generator(32), torch.zeros(1, 3, 32, 32)
    numbered = make_sample_grid(g, faces, [aus_for("happy"), aus_for("sad")], labelled=True)
    named = make_sample_grid(
        g, faces, [aus_for("happy"), aus_for("sad")], names=["target 1", "target 2"], labelled=True
    )
    assert torch.equal(numbered, named)
    with pytest.raises(ValueError, match="1 names for 2 targets"):
        make_sample_grid(g, faces, [aus_for("happy"), aus_for("sad")], names=["happy"], labelled=True)
    with pytest.raises(ValueError, match="labels for"):
        tile_columns([_tiles(1)] * 2, labels=["input"])


def _ink_width(header: torch.Tensor) -> int:
    """How many pixel columns of ``header`` (3, h, w) hold text."""
    return int((header < 200).any(dim=0).any(dim=0).sum())


def test_long_labels_take_their_short_form_only_where_they_do_not_fit() -> None:
    # "attention" is 33 px wide even at 8 px: over a 32 px tile it becomes "attn" (about 20 px at 9 px).
    small = add_header(torch.zeros(3, 36, 70, dtype=torch.uint8), 32, ["attention", "input"])
    assert small.shape[1] > 36
    assert 10 < _ink_width(small[:, : small.shape[1] - 36, :36]) <= 30
    # Over a 64 px tile it fits in full (about 59 px at 14 px).
    wide = add_header(torch.zeros(3, 68, 134, dtype=torch.uint8), 64, ["attention", "input"])
    assert 45 < _ink_width(wide[:, : wide.shape[1] - 68, :68]) <= 62


def test_the_files_written_by_the_evaluation_and_the_demo_are_labelled(tmp_path: Path) -> None:
    g = _generator(32)
    faces = SyntheticFaces(num_identities=3, items_per_identity=1, image_size=32)
    report = evaluate(g, faces)
    plain = evaluation_grid(report, g, faces)
    written = write_evaluation(report, g, faces, tmp_path)["grid"]
    picture = np.asarray(Image.open(written))
    assert picture.shape[0] > plain.shape[1] and picture.shape[1] == plain.shape[2]
    assert torch.equal(torch.from_numpy(picture.copy()).permute(2, 0, 1)[:, -plain.shape[1] :], plain)
