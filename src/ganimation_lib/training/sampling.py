"""The Trainer's default sampler: a seeded shuffle per epoch that can start mid-epoch and shard by rank."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

__all__ = ["ResumableSampler"]


class ResumableSampler(Sampler[int]):
    """Shuffles ``range(length)`` with a generator seeded by ``(seed, epoch)``; resumable and rank-aware.

    The order of an epoch depends only on ``seed`` and the epoch, never on the global RNG, so a resumed
    run sees the same batches. ``start`` skips the first items of this rank's share (the data-order
    position saved in a checkpoint). With ``world_size > 1`` each rank takes every ``world_size``-th item
    (like ``DistributedSampler``, after dropping the tail so all ranks get the same count).

    Examples:
        >>> s = ResumableSampler(6, seed=0)
        >>> s.set_epoch(1)
        >>> full = list(s)
        >>> s.start = 4
        >>> list(s) == full[4:]
        True
    """

    def __init__(self, length: int, *, seed: int = 0, shuffle: bool = True, rank: int = 0, world_size: int = 1) -> None:
        if length < 1:
            raise ValueError(f"cannot sample from an empty dataset (length={length})")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank={rank} must be in [0, world_size={world_size})")
        self.length = length
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order to produce (and restart at its beginning)."""
        self.epoch = epoch
        self.start = 0

    def _indices(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.length, generator=g).tolist()
        else:
            order = list(range(self.length))
        per_rank = self.length // self.world_size
        return order[self.rank : per_rank * self.world_size : self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices()[self.start :])

    def __len__(self) -> int:
        return max(0, self.length // self.world_size - self.start)
