"""Exponential moving average of a network's weights (the generator's, for sampling and export)."""

from __future__ import annotations

import copy
from typing import Generic, TypeVar

import torch
from torch import Tensor, nn

__all__ = ["EMA"]

M = TypeVar("M", bound=nn.Module)


class EMA(Generic[M]):
    """Keeps ``shadow = decay·shadow + (1 − decay)·weights`` after each update, in float32.

    Buffers (if any) are copied, not averaged. The shadow is a full copy of the module in eval mode with
    gradients off, so it can be called, saved with ``save_pretrained`` or put in a sample grid directly.

    Args:
        module: The network to follow (its current weights start the average).
        decay: Weight of the past, in (0, 1); 0.999 averages over roughly the last 1,000 updates.

    Examples:
        >>> net = torch.nn.Linear(1, 1, bias=False)
        >>> ema = EMA(net, decay=0.5)
        >>> with torch.no_grad():
        ...     _ = net.weight.fill_(1.0)
        ...     _ = ema.shadow.weight.fill_(0.0)
        >>> ema.update(net)
        >>> float(ema.shadow.weight)
        0.5
    """

    def __init__(self, module: M, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"EMA decay={decay!r} must be in (0, 1), e.g. 0.999")
        self.decay = decay
        # The shadow has the module's type, so EMA(generator).shadow is a Generator to type checkers too.
        self.shadow: M = copy.deepcopy(module).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        """Move the shadow towards ``module``'s current weights."""
        for shadow, live in zip(self.shadow.parameters(), module.parameters(), strict=True):
            shadow.lerp_(live.detach().to(shadow.dtype), 1.0 - self.decay)
        for shadow_buf, live_buf in zip(self.shadow.buffers(), module.buffers(), strict=True):
            shadow_buf.copy_(live_buf)

    def state_dict(self) -> dict[str, Tensor]:
        """The shadow weights (a plain dict of tensors)."""
        return dict(self.shadow.state_dict())

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restore the shadow weights from [`state_dict`][ganimation_lib.training.ema.EMA.state_dict]."""
        self.shadow.load_state_dict(state)
