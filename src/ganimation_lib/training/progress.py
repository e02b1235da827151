"""A progress display for training: a tqdm bar when tqdm is installed, else a line of text every few steps."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from .hooks import Callback

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["ProgressBar"]


class ProgressBar(Callback):
    """Shows the step, live losses and images/s: a tqdm bar when tqdm is installed, else a line every ``every``.

    Args:
        every: Refresh interval in iterations.
        stream: Where the text goes (default ``sys.stderr``).
        use_tqdm: ``None`` = tqdm when installed.
    """

    def __init__(self, *, every: int = 10, stream: TextIO | None = None, use_tqdm: bool | None = None) -> None:
        self.every = every
        self.stream = stream
        self.use_tqdm = use_tqdm
        self._bar: Any = None
        self._t0 = 0.0
        self._step0 = 0
        self._last: dict[str, float] = {}

    def on_fit_start(self, trainer: Trainer) -> None:
        if not trainer.is_main_process:
            return
        self._t0, self._step0 = time.perf_counter(), trainer.step
        use = self.use_tqdm
        if use is None or use:
            try:
                from tqdm.auto import tqdm
            except ImportError as error:
                if use:
                    raise ImportError("ProgressBar(use_tqdm=True) needs tqdm: pip install tqdm") from error
                return
            total = trainer.planned_steps
            self._bar = tqdm(
                total=total,
                initial=trainer.step,
                file=self.stream or sys.stderr,
                unit="it",
                dynamic_ncols=True,
                leave=True,
            )

    def _describe(self, trainer: Trainer) -> str:
        elapsed = max(time.perf_counter() - self._t0, 1e-9)
        rate = (trainer.step - self._step0) * trainer.config.batch_size * trainer.world_size / elapsed
        shown = {k: v for k, v in self._last.items() if k in {"critic/total", "generator/total", "nonfinite"}}
        parts = [f"{k.replace('/total', '')}={v:.3g}" for k, v in shown.items()]
        return " ".join([*parts, f"{rate:.1f} img/s"])

    def on_step_end(self, trainer: Trainer, metrics: Mapping[str, float]) -> None:
        self._last.update(metrics)  # a critic-only iteration keeps showing the last generator loss
        if "nonfinite" not in metrics:
            self._last.pop("nonfinite", None)  # shown for the skipped step only, not ever after
        if not trainer.is_main_process or trainer.step % self.every:
            return
        text = self._describe(trainer)
        if self._bar is not None:
            self._bar.n = trainer.step
            self._bar.set_postfix_str(text, refresh=True)
        else:
            print(f"step {trainer.step}: {text}", file=self.stream or sys.stderr, flush=True)

    def on_fit_end(self, trainer: Trainer) -> None:
        if self._bar is not None:
            self._bar.n = trainer.step
            self._bar.refresh()
            self._bar.close()
            self._bar = None

    def on_exception(self, trainer: Trainer, error: BaseException) -> None:
        self.on_fit_end(trainer)
