"""The picture grids: tiling (the same pixels as the hand-written layout it replaced) and the labelled header."""

from __future__ import annotations

import torch

from ganimation_lib.inference.visuals import tile_columns

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
    assert torch.equal(plain, _rgb([[W] * 10, [W, 1, 1, W, 2, 2, W, 3, 3, W], [W, 1, 1, W, 2, 2, W, 3, 3, W], [W] * 10]))
    first = tile_columns([_tiles(5)], pad=2, gaps=[1])
    expected = _rgb([[W] * 7, [W] * 7, [W, W, W, 5, 5, W, W], [W, W, W, 5, 5, W, W], [W] * 7, [W] * 7])
    assert torch.equal(first, expected)


def test_tiling_keeps_each_channel() -> None:
    tile = torch.zeros(1, 3, 1, 1, dtype=torch.uint8)
    tile[0, :, 0, 0] = torch.tensor([10, 20, 30], dtype=torch.uint8)
    grid = tile_columns([tile], pad=1)
    assert grid[:, 1, 1].tolist() == [10, 20, 30] and grid.shape == (3, 3, 3)
