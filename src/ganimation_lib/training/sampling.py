"""The order of the training data: the default sampler, resuming mid-epoch, and the batches of each epoch.

A checkpoint stores the position in the data as ``(epoch, batch_in_epoch)`` and, global over the processes,
``epoch_items``: the items of the epoch's order consumed by all ranks together.
[`EpochLoader`][ganimation_lib.training.sampling.EpochLoader] turns that position back into batches: for a dataset
with the default sampler, the epoch's order from ``epoch_items`` on, shared out over the ranks of this run (so a
checkpoint resumes at another world size in the same global order); for another sampler, a loader whose sampler skips
this rank's first batches ([`SkipSampler`][ganimation_lib.training.sampling.SkipSampler]); for the user's own
``DataLoader``, the loader replayed up to that batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from ..data.image_io import as_float_faces
from ..data.sample import AUSample
from .rng import capture_rng_state, restore_rng_state

__all__ = [
    "EpochLoader",
    "ResumableSampler",
    "SkipSampler",
    "TrainingData",
    "batches_per_epoch",
    "check_training_data",
    "to_device",
]

#: What [`Trainer.fit`][ganimation_lib.training.trainer.Trainer.fit] trains on.
TrainingData = Dataset[AUSample] | DataLoader[AUSample]


class SkipSampler(Sampler[int]):
    """Yields ``sampler``'s indices after the first ``start``: an epoch resumed in the middle.

    Args:
        sampler: Any sampler of known length (or a list of indices).
        start: How many indices to skip (``batch_in_epoch × batch_size`` for a resume).

    Examples:
        >>> list(SkipSampler([5, 3, 1, 0], start=1))
        [3, 1, 0]
    """

    def __init__(self, sampler: Iterable[int], start: int = 0) -> None:
        self.sampler = sampler
        self.start = start

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(iter(self.sampler), self.start, None)

    def __len__(self) -> int:
        # torch types Sampler without __len__; one that has none raises TypeError here, as len() would.
        return max(0, len(self.sampler) - self.start)  # type: ignore[arg-type]


class ResumableSampler(Sampler[int]):
    """Shuffles ``range(length)`` with a generator seeded by ``(seed, epoch)``; resumable and rank-aware.

    The order of an epoch depends only on ``seed`` and the epoch, never on the global RNG, so a resumed
    run sees the same batches. ``position`` starts the epoch's order after its first ``position`` items,
    consumed by all ranks together (the global data position of a checkpoint); ``start`` skips the first items
    of this rank's share (the skipping is [`SkipSampler`][ganimation_lib.training.sampling.SkipSampler]'s).
    With ``world_size > 1`` each rank takes every ``world_size``-th item of the rest (like ``DistributedSampler``,
    after dropping the tail so all ranks get the same count).

    Examples:
        >>> s = ResumableSampler(6, seed=0)
        >>> s.set_epoch(1)
        >>> full = list(s)
        >>> s.start = 4
        >>> list(s) == full[4:]
        True
        >>> halves = [ResumableSampler(6, seed=0, rank=r, world_size=2) for r in (0, 1)]
        >>> for half in halves:
        ...     half.set_epoch(1)
        ...     half.position = 2  # two items of the order consumed: the ranks share out the rest
        >>> [list(half) for half in halves] == [full[2::2], full[3::2]]
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
        self.position = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order to produce (and restart at its beginning)."""
        self.epoch = epoch
        self.start = 0
        self.position = 0

    def indices(self) -> list[int]:
        """This rank's whole order for the current epoch from ``position`` on (``start`` not applied)."""
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.length, generator=g).tolist()
        else:
            order = list(range(self.length))
        first = min(self.position, self.length)
        per_rank = (self.length - first) // self.world_size
        return order[first + self.rank : first + per_rank * self.world_size : self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(SkipSampler(self.indices(), self.start))

    def __len__(self) -> int:
        return max(0, (self.length - min(self.position, self.length)) // self.world_size - self.start)


def to_device(batch: AUSample, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """A batch's faces, AUs and target AUs as float32 on ``device`` (non-blocking copies to a GPU)."""
    if not isinstance(batch, AUSample):
        raise TypeError(
            f"training batches must be AUSample (image, aus, target_aus, target_source, name), got "
            f"{type(batch).__name__}; make the dataset yield AUSample items and keep the default collate_fn"
        )
    nb = device.type == "cuda"
    # uint8 faces travel as uint8 (a quarter of the bytes) and are scaled on the device.
    real = as_float_faces(batch.image.to(device, non_blocking=nb)).float()
    aus, target = (t.to(device, non_blocking=nb).float() for t in (batch.aus, batch.target_aus))
    return real, aus, target


def check_training_data(data: TrainingData, sampler: Sampler[int] | None, *, batch_size: int, world_size: int) -> None:
    """Refuse data the trainer cannot iterate (naming the fix) before anything is trained or restored."""
    if isinstance(data, DataLoader):
        if sampler is not None:
            raise ValueError(
                "fit(sampler=...) applies to a dataset; data is a DataLoader, which has its own sampler: pass the "
                "dataset instead, or build the DataLoader with that sampler"
            )
        return
    if not hasattr(data, "__len__") or not hasattr(data, "__getitem__"):
        raise TypeError(f"data must be a map-style Dataset or a DataLoader, got {type(data).__name__}")
    if len(data) // world_size < batch_size:
        raise ValueError(
            f"the training data has {len(data)} items, fewer than batch_size={batch_size} per process; "
            "lower TrainerConfig.batch_size or add data"
        )


def batches_per_epoch(
    data: TrainingData, sampler: Sampler[int] | None, *, batch_size: int, world_size: int
) -> int | None:
    """Batches in one epoch of this process (``None`` when the loader or sampler has no length)."""
    try:
        if isinstance(data, DataLoader):
            return len(data)
        if sampler is not None:
            return len(sampler) // batch_size  # type: ignore[arg-type]
    except TypeError:
        return None
    return (len(data) // world_size) // batch_size  # type: ignore[arg-type]


def _set_epoch(sampler: object, epoch: int) -> bool:
    set_epoch = getattr(sampler, "set_epoch", None)
    if callable(set_epoch):
        set_epoch(epoch)
        return True
    return False


@dataclass
class EpochLoader:
    """How one ``fit`` walks its training data: the batches of each epoch, from a saved position on.

    A dataset gets a fresh ``DataLoader`` (``drop_last``) per epoch over ``sampler`` (default: a seeded
    [`ResumableSampler`][ganimation_lib.training.sampling.ResumableSampler] sharded by rank), with ``set_epoch`` called
    and the first ``start`` batches skipped by [`SkipSampler`][ganimation_lib.training.sampling.SkipSampler]. A
    ``DataLoader`` is used as it is (a ``set_epoch`` of its sampler is called) and replayed up to ``start``: loading the
    skipped batches draws from the global RNG (base seed, random targets) as the uninterrupted run did before its
    checkpoint, so the RNG states are put back after the replay. Data the trainer cannot iterate is refused when the
    loader is made, naming the fix.

    Examples:
        >>> data = [AUSample(torch.zeros(3, 4, 4), torch.zeros(17), torch.zeros(17), "", str(i)) for i in range(6)]
        >>> loader = EpochLoader(data, batch_size=2)
        >>> loader.batches_per_epoch(), [b.name for b in loader.batches(epoch=0, start=1)]
        (3, [('3', '0'), ('1', '4')])
    """

    data: TrainingData
    sampler: Sampler[int] | None = None
    batch_size: int = 1
    seed: int = 0
    num_workers: int = 0
    rank: int = 0
    world_size: int = 1
    pin_memory: bool = False

    def __post_init__(self) -> None:
        check_training_data(self.data, self.sampler, batch_size=self.batch_size, world_size=self.world_size)

    def batches_per_epoch(self) -> int | None:
        """Batches in one epoch of this process (``None`` when the loader or sampler has no length)."""
        return batches_per_epoch(self.data, self.sampler, batch_size=self.batch_size, world_size=self.world_size)

    def batches_left(self, batch_in_epoch: int, epoch_items: int) -> int | None:
        """Batches this process still gets in the epoch at that position (``None``: unknown length).

        Examples:
            >>> data = [AUSample(torch.zeros(3, 4, 4), torch.zeros(17), torch.zeros(17), "", str(i)) for i in range(9)]
            >>> EpochLoader(data, batch_size=2).batches_left(0, 4)  # 4 items of 9 seen by a run at another size
            2
        """
        if self.shares_global_order():
            return (len(self.data) - min(epoch_items, len(self.data))) // self.world_size // self.batch_size  # type: ignore[arg-type]
        total = self.batches_per_epoch()
        return None if total is None else max(0, total - batch_in_epoch)

    def shares_global_order(self) -> bool:
        """Whether the default sampler shares out the epoch's global order (a mid-epoch resume at another world
        size continues it)."""
        return self.sampler is None and not isinstance(self.data, DataLoader)

    def batches(self, epoch: int, start: int = 0, items: int | None = None) -> Iterator[AUSample]:
        """The batches of ``epoch`` from batch ``start`` on, or (with the default sampler) after ``items`` items of
        the epoch's order consumed by all processes together (the global position; ``None``: ``start`` batches of
        every process)."""
        data, sampler = self.data, self.sampler
        if isinstance(data, DataLoader):
            # A DistributedSampler (or any sampler with set_epoch) inside the user's loader gets the epoch too.
            for inner in (data.sampler, getattr(data.batch_sampler, "sampler", None)):
                if _set_epoch(inner, epoch):
                    break
            if not start:
                return iter(data)
            rng = capture_rng_state()
            batches: Iterator[AUSample] = iter(data)
            for _ in itertools.islice(batches, start):
                pass
            restore_rng_state(rng)
            return batches
        if sampler is None:
            shared = ResumableSampler(len(data), seed=self.seed, rank=self.rank, world_size=self.world_size)  # type: ignore[arg-type]
            shared.set_epoch(epoch)
            shared.position = start * self.batch_size * self.world_size if items is None else items
            sampler, start = shared, 0
        else:
            _set_epoch(sampler, epoch)
        loader = DataLoader(
            data,
            batch_size=self.batch_size,
            sampler=SkipSampler(sampler, start * self.batch_size) if start else sampler,
            drop_last=True,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            # Its own generator, so creating a loader never draws from the global RNG; per rank, so the workers
            # of different ranks draw different random targets and flips.
            generator=torch.Generator().manual_seed(self.seed * 7919 + epoch + 104_729 * self.rank),
        )
        return iter(loader)
