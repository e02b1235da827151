"""Ctrl-C during training: finish the iteration, save a checkpoint, stop; a second Ctrl-C stops at once.

A ``KeyboardInterrupt`` raised in the middle of an iteration can leave one network updated and the other
not, or the optimizer half-way through its step, so no checkpoint can be trusted at that point. Inside
`stop_on_interrupt` the first ``SIGINT`` only asks the trainer to stop
([`request_stop`][ganimation_lib.training.trainer.Trainer.request_stop]): the iteration under way completes, ``fit``
returns with ``stop_reason == "stop_requested"`` and the checkpointing callback saves the state, atomically,
as at any other end of training. ``ganimation train`` runs ``fit`` this way.

DataLoader workers started by ``fork`` (Linux) inherit the handler and ignore the signal, so the batch
being loaded still arrives; with the ``spawn`` start method they stop and the interrupt surfaces as a
loader error instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["stop_on_interrupt"]


@contextlib.contextmanager
def stop_on_interrupt(trainer: Trainer, *, stream: TextIO | None = None) -> Iterator[None]:
    """Within the block, the first Ctrl-C stops ``trainer`` after its current iteration; the second raises.

    Outside the main thread (where Python cannot install signal handlers) the block runs unchanged.

    Args:
        trainer: The trainer whose ``fit`` runs in the block.
        stream: Where the one-line notice goes (default ``sys.stderr``).

    Examples:
        >>> from ganimation_lib import Trainer, TrainerConfig, GeneratorConfig, CriticConfig
        >>> trainer = Trainer(generator=GeneratorConfig(image_size=32, conv_dim=4, num_residual_blocks=0),
        ...                   critic=CriticConfig(image_size=32, conv_dim=4, depth=4),
        ...                   config=TrainerConfig(device="cpu"), progress=False)
        >>> with stop_on_interrupt(trainer):
        ...     signal.raise_signal(signal.SIGINT)  # as a Ctrl-C would
        ...     print(trainer.stop_requested)  # fit() would stop after this iteration
        True
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # installed from C: put Python's default back afterwards
        previous = signal.default_int_handler

    def handler(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:
            return  # a forked DataLoader worker: the main process decides
        if trainer.stop_requested:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        trainer.request_stop()
        print(
            "\nCtrl-C: stopping after this iteration and saving a checkpoint (Ctrl-C again to quit at once, "
            "without saving)",
            file=stream or sys.stderr,
            flush=True,
        )

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
