"""The global random states a training run draws from (torch CPU and CUDA, Python ``random``, NumPy).

A run owns them while it trains: seeded at its start
([`seed_global_rngs`][ganimation_lib.training.rng.seed_global_rngs]), saved in each checkpoint and put back on a resume
([`capture_rng_state`][ganimation_lib.training.rng.capture_rng_state] /
[`restore_rng_state`][ganimation_lib.training.rng.restore_rng_state]), so a resumed run repeats an uninterrupted one bit
for bit.

Examples:
    >>> import random
    >>> state = capture_rng_state()
    >>> first = random.random()
    >>> restore_rng_state(state)
    >>> random.random() == first
    True
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

__all__ = ["capture_rng_state", "restore_rng_state", "seed_global_rngs"]


def seed_global_rngs(seed: int) -> None:
    """Seed torch (CPU and every CUDA device), Python ``random`` and NumPy with ``seed``."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def capture_rng_state() -> dict[str, Any]:
    """Every global RNG state (torch CPU, each CUDA device, Python ``random``, NumPy) as safe-to-load values."""
    version, internal, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "name": str(np_name),
            "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "cached_gaussian": float(np_gauss),
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore the states that [`capture_rng_state`][ganimation_lib.training.rng.capture_rng_state] captured."""
    torch.set_rng_state(state["torch"].cpu())
    python = state["python"]
    random.setstate((python["version"], tuple(int(x) for x in python["state"].tolist()), python["gauss"]))
    n = state["numpy"]
    np.random.set_state(
        (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
