"""Target-AU sampling: which expression each training item is animated towards.

The official code (``albertpumarola/GANimation``, ``data/dataset_aus.py``) takes the AUs of a random other
item of the dataset and adds uniform noise in [-0.1, 0.1];
[`RandomOtherTarget`][ganimation_lib.data.target_sampling.RandomOtherTarget] does exactly that and is the default of
every dataset in this package. Any callable with the
[`TargetSampler`][ganimation_lib.data.target_sampling.TargetSampler] signature can replace it.

(Not to be confused with [`ganimation_lib.inference.expression_targets`][ganimation_lib.inference.expression_targets],
which turns what a *user* asks for, a preset, an ``{AU: intensity}`` dict or a vector, into the AUs of an edit.)
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import get_worker_info

__all__ = ["RandomOtherTarget", "TargetSampler"]


@runtime_checkable
class TargetSampler(Protocol):
    """Chooses the target AUs of one item.

    Called as ``sampler(index, table)`` where ``table`` is the dataset's (N, num_aus) float32 tensor of
    normalised AUs and ``index`` the item being loaded. Returns ``(target_aus, source)``: a (num_aus,) float32
    tensor and the index of the item whose AUs it came from, or ``None`` when the target was made up.
    """

    def __call__(self, index: int, table: Tensor) -> tuple[Tensor, int | None]:
        """Return the target AUs of item ``index`` and the index they came from (or ``None``)."""
        ...


class RandomOtherTarget:
    """The official recipe: the AUs of a random other item, plus uniform noise.

    Randomness comes from ``generator`` when given, else from PyTorch's global generator, which
    ``DataLoader`` seeds differently in each worker (so workers do not repeat each other's targets). Each
    ``DataLoader`` worker receives a copy of ``generator`` in the same state, so in a worker the copy is
    reseeded once from that state and the worker's seed: workers draw different targets, epochs (fresh
    workers) differ, and a ``DataLoader`` with a seeded ``generator=`` still repeats exactly.

    Args:
        noise: Half-width of the uniform noise added to every AU (official: 0.1). 0 disables it.
        clip: ``(low, high)`` to clamp the result to, or ``None`` to leave it as the official code does
            (values may then fall slightly below 0 or above 1).
        generator: Optional ``torch.Generator`` for reproducible targets.

    Examples:
        >>> table = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
        >>> sampler = RandomOtherTarget(noise=0.0, generator=torch.Generator().manual_seed(0))
        >>> sampler(0, table)
        (tensor([1., 1.]), 1)
    """

    def __init__(
        self,
        noise: float = 0.1,
        clip: tuple[float, float] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        if not math.isfinite(noise) or noise < 0:
            raise ValueError(f"noise must be a finite number >= 0 (official: 0.1), got {noise}")
        if clip is not None and not (len(clip) == 2 and clip[0] < clip[1]):
            raise ValueError(f"clip must be (low, high) with low < high, e.g. (0.0, 1.0), got {clip!r}")
        self.noise = float(noise)
        self.clip = clip
        self.generator = generator
        self._worker_seed: int | None = None  # the DataLoader worker seed the generator was reseeded for

    def _generator(self) -> torch.Generator | None:
        """``generator``, reseeded once per DataLoader worker so workers do not share one random stream."""
        if self.generator is None:
            return None
        info = get_worker_info()
        if info is not None and info.seed != self._worker_seed:
            own = int(torch.randint(2**62, (1,), generator=self.generator))
            mixed = np.random.SeedSequence([own, int(info.seed) % 2**64]).generate_state(2, np.uint32)
            self.generator.manual_seed(int(mixed[0]) << 32 | int(mixed[1]))
            self._worker_seed = int(info.seed)
        return self.generator

    def __call__(self, index: int, table: Tensor) -> tuple[Tensor, int | None]:
        """Return the AUs of a random item other than ``index`` (when there is one), with noise."""
        count = int(table.shape[0])
        if count == 0:
            raise ValueError("cannot sample a target from an empty AU table")
        generator = self._generator()
        if count == 1:
            source = 0
        else:
            # Draw among the count - 1 other items so an item is never its own target.
            source = int(torch.randint(count - 1, (1,), generator=generator))
            source += source >= index
        target = table[source].to(torch.float32).clone()
        if self.noise > 0:
            target += (torch.rand(target.shape, generator=generator) * 2 - 1) * self.noise
        if self.clip is not None:
            target.clamp_(self.clip[0], self.clip[1])
        return target, source

    def __repr__(self) -> str:
        return f"RandomOtherTarget(noise={self.noise}, clip={self.clip})"
