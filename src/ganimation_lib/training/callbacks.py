"""Callbacks: objects with ``on_*`` hooks that the :class:`~ganimation_lib.training.Trainer` calls.

Order of the hooks in one ``fit``: ``on_fit_start``; then per iteration ``on_phase_end`` for the critic
phase (and for the generator phase on generator iterations), then ``on_step_end``; ``on_validation_end``
after each validation; finally ``on_fit_end`` — or ``on_exception`` instead when training fails. Each
callback keeps its own state (``state_dict``/``load_state_dict``), saved in the training checkpoint.

Callbacks know their rank (``trainer.rank``, ``trainer.is_main_process``): the built-in ones that write
files do so only on the main process, so the same list works under ``torchrun``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import torch
from PIL import Image
from torch import Tensor

from .._atomic import append_whole, atomic_path, atomic_text, remove_stale_temporaries
from ..errors import writing
from .checkpoint import CHECKPOINT_PATTERN, checkpoint_path, prune_checkpoints, save_training_state
from .logfiles import trim_jsonl

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = [
    "Callback",
    "Checkpointing",
    "MetricsLogger",
    "ProgressBar",
    "SampleGrid",
    "make_sample_grid",
    "save_image",
]


# The files SampleGrid and MetricsLogger write atomically, whose temporary files a killed run may leave.
_SAMPLE_NAMES = re.compile(r"step-\d+\.png")
_LOG_NAMES = re.compile(r"(?:train|validation)\.csv|metrics\.jsonl")


class Callback:
    """Base class: every hook is a no-op; override the ones you need.

    ``metrics`` are plain ``{name: float}`` dicts. ``state_dict`` must return checkpoint-safe values
    (tensors, numbers, strings, lists, dicts); the key under which it is saved is ``state_key``
    (the class name by default; override it to use two instances of one class).

    Examples:
        >>> class CountSteps(Callback):
        ...     def __init__(self) -> None:
        ...         self.steps = 0
        ...     def on_step_end(self, trainer, metrics):
        ...         self.steps += 1
        ...     def state_dict(self):
        ...         return {"steps": self.steps}
        ...     def load_state_dict(self, state):
        ...         self.steps = state["steps"]
        >>> CountSteps().state_key
        'CountSteps'
    """

    @property
    def state_key(self) -> str:
        """The name of this callback's state in the checkpoint."""
        return type(self).__name__

    def on_fit_start(self, trainer: Trainer) -> None:
        """Called once before the first step (after a resume has been restored)."""

    def on_phase_end(self, trainer: Trainer, phase: str, metrics: Mapping[str, float]) -> None:
        """Called after each phase (``"critic"`` or ``"generator"``) with that phase's losses."""

    def on_step_end(self, trainer: Trainer, metrics: Mapping[str, float]) -> None:
        """Called after each iteration; ``trainer.step`` already counts it."""

    def on_validation_end(self, trainer: Trainer, metrics: Mapping[str, float]) -> None:
        """Called after each validation with its figures."""

    def on_fit_end(self, trainer: Trainer) -> None:
        """Called once when training ends normally (limits reached or time budget spent)."""

    def on_exception(self, trainer: Trainer, error: BaseException) -> None:
        """Called instead of ``on_fit_end`` when training raises."""

    def state_dict(self) -> dict[str, Any]:
        """This callback's state, saved in the training checkpoint."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""


class Checkpointing(Callback):
    """Saves the full training state every ``every`` iterations and at the end, keeping the newest ``keep``.

    Nothing is written when training fails (``on_exception``) or while steps are being skipped for a
    non-finite loss or gradient, so the last good checkpoint stays the newest one; nothing is written by a
    ``fast_dev_run``. Temporary files a killed save left (``.step-N.pt.<hex>.tmp``) are removed when the run
    starts and before each save.

    Args:
        folder: Where ``step-*.pt`` files go.
        every: Save every N iterations (0 = only at the end).
        keep: Number of checkpoints kept.
    """

    def __init__(self, folder: str | Path, *, every: int = 1000, keep: int = 3) -> None:
        self.folder = Path(folder)
        self.every = every
        self.keep = keep
        self.last_saved: Path | None = None
        self._last_step = -1

    def save(self, trainer: Trainer) -> Path | None:
        """Write a checkpoint of the current state (main process only) and prune old ones."""
        if not trainer.is_main_process or trainer.config.fast_dev_run or trainer.step == self._last_step:
            return self.last_saved
        remove_stale_temporaries(self.folder, CHECKPOINT_PATTERN)
        path = save_training_state(trainer.state_dict(), checkpoint_path(self.folder, trainer.step))
        self._last_step, self.last_saved = trainer.step, path
        prune_checkpoints(self.folder, self.keep, protect=path)
        return path

    def on_fit_start(self, trainer: Trainer) -> None:
        if trainer.is_main_process:
            remove_stale_temporaries(self.folder, CHECKPOINT_PATTERN)  # left by a run killed mid-save

    def on_step_end(self, trainer: Trainer, metrics: Mapping[str, float]) -> None:
        # No save in the middle of a run of non-finite steps: the newest checkpoint stays a good one.
        if self.every and trainer.step % self.every == 0 and trainer.nonfinite_streak == 0:
            self.save(trainer)

    def on_fit_end(self, trainer: Trainer) -> None:
        self.save(trainer)


def _to_uint8(images: Tensor) -> Tensor:
    """(B, C, H, W) in [-1, 1] (or [0, 1] for masks) -> (B, 3, H, W) uint8."""
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1) * 2 - 1
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


def save_image(image: Tensor, path: str | Path) -> Path:
    """Write a (3, H, W) uint8 tensor as a PNG, atomically."""
    path = Path(path)
    with atomic_path(path) as temporary:
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(temporary, format="PNG")
    return path


@torch.no_grad()
def make_sample_grid(generator: torch.nn.Module, images: Tensor, targets: Sequence[Tensor], pad: int = 2) -> Tensor:
    """A (3, H', W') uint8 grid: one row per face, ``input | (output, attention, colour) per target``.

    Args:
        generator: Called as ``generator(images, aus)`` and returning a ``GeneratorOutput``.
        images: (B, 3, H, W) faces in [-1, 1].
        targets: One (B, num_aus) or (num_aus,) AU tensor per target expression.
        pad: White pixels between tiles.

    Examples:
        >>> from ganimation_lib import Generator, GeneratorConfig
        >>> g = Generator(GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=0))
        >>> make_sample_grid(g, torch.zeros(2, 3, 32, 32), [torch.zeros(17)]).shape
        torch.Size([3, 70, 138])
    """
    b = images.shape[0]
    columns = [_to_uint8(images)]
    for target in targets:
        aus = target.to(images.device, images.dtype)
        aus = aus.expand(b, -1) if aus.dim() == 1 else aus
        out = generator(images, aus)
        columns += [_to_uint8(out.image), _to_uint8(out.attention), _to_uint8(out.color)]
    return tile_columns(columns, pad)


def tile_columns(columns: Sequence[Tensor], pad: int = 2) -> Tensor:
    """Lay out (B, 3, H, W) uint8 tile stacks as the columns of a white-padded (3, H', W') uint8 grid.

    Examples:
        >>> tile_columns([torch.zeros(2, 3, 4, 4, dtype=torch.uint8)] * 3, pad=1).shape
        torch.Size([3, 11, 16])
    """
    b, _, h, w = columns[0].shape
    grid = torch.full((3, b * (h + pad) + pad, len(columns) * (w + pad) + pad), 255, dtype=torch.uint8)
    for col, tiles in enumerate(columns):
        for row in range(b):
            y, x = pad + row * (h + pad), pad + col * (w + pad)
            grid[:, y : y + h, x : x + w] = tiles[row]
    return grid


class SampleGrid(Callback):
    """Writes ``samples/step-N.png`` (see :func:`make_sample_grid`) every ``every`` iterations and at the end.

    Uses the trainer's fixed validation faces and the sampling generator (the EMA when enabled). Temporary
    files a run killed while writing a grid left (``.step-N.<hex>.png``) are removed when a run starts.

    Args:
        folder: Output folder.
        every: Interval in iterations (0 = only at the end).
        targets: Target AU vectors, one column group each; ``None`` = each face's own ``target_aus``.
    """

    def __init__(self, folder: str | Path, *, every: int = 1000, targets: Sequence[Tensor] | None = None) -> None:
        self.folder = Path(folder)
        self.every = every
        self.targets = None if targets is None else list(targets)
        self.written: list[Path] = []

    def write(self, trainer: Trainer) -> Path | None:
        """Write the grid for the current step (main process only)."""
        batch = trainer.fixed_batch
        if not trainer.is_main_process or batch is None:
            return None
        images = batch.image.to(trainer.device)
        targets = self.targets if self.targets is not None else [batch.target_aus]
        model = trainer.sampling_generator
        was_training = model.training
        model.eval()
        try:
            grid = make_sample_grid(model, images, targets)
        finally:
            model.train(was_training)
        path = save_image(grid, self.folder / f"step-{trainer.step:09d}.png")
        self.written.append(path)
        return path

    def on_fit_start(self, trainer: Trainer) -> None:
        if trainer.is_main_process:
            remove_stale_temporaries(self.folder, _SAMPLE_NAMES)  # left by a run killed mid-write

    def on_step_end(self, trainer: Trainer, metrics: Mapping[str, float]) -> None:
        if self.every and trainer.step % self.every == 0:
            self.write(trainer)

    def on_fit_end(self, trainer: Trainer) -> None:
        if not self.written or self.written[-1].name != f"step-{trainer.step:09d}.png":
            self.write(trainer)


class MetricsLogger(Callback):
    """Appends metrics to ``metrics.jsonl`` and ``train.csv`` / ``validation.csv``; to TensorBoard when installed.

    Training metrics are logged every ``every`` iterations (averaged over them); validation figures
    every time validation runs. Temporary files a run killed while rewriting a log left
    (``.train.csv.<hex>.tmp``, ``.metrics.jsonl.<hex>.tmp``) are removed when a run starts.

    Args:
        folder: Output folder.
        every: Interval of training records in iterations.
        tensorboard: ``True`` to require TensorBoard, ``False`` to skip it, ``None`` to use it when installed.
    """

    def __init__(self, folder: str | Path, *, every: int = 50, tensorboard: bool | None = None) -> None:
        self.folder = Path(folder)
        self.every = every
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._writer: Any = None
        self._tensorboard = tensorboard
        self._columns: dict[str, list[str]] = {}

    def on_fit_start(self, trainer: Trainer) -> None:
        if not trainer.is_main_process:
            return
        with writing(self.folder, "the log folder"):
            self.folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.folder, _LOG_NAMES)  # left by a run killed mid-rewrite
        if trainer.step > 0:
            self._drop_after(trainer.step)
        if self._tensorboard is not False:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as error:
                if self._tensorboard:
                    raise ImportError(
                        "MetricsLogger(tensorboard=True) needs tensorboard: pip install tensorboard"
                    ) from error
                return
            # On a resume, TensorBoard drops what the interrupted run logged after the checkpoint too.
            purge = trainer.step + 1 if trainer.step > 0 else None
            self._writer = SummaryWriter(str(self.folder / "tensorboard"), purge_step=purge)

    def _drop_after(self, step: int) -> None:
        """Remove the records of steps after ``step``: what an interrupted run logged past its checkpoint,
        which the resumed run logs again."""
        trim_jsonl(self.folder / "metrics.jsonl", step)  # also drops a partial last line left by a crash
        for name in ("train.csv", "validation.csv"):
            path = self.folder / name
            if not path.is_file():
                continue
            with open(path, encoding="utf-8", newline="") as handle:
                reader = csv.DictReader(handle)
                columns = list(reader.fieldnames or [])
                rows = list(reader)
            kept_rows = [row for row in rows if int(row.get("step") or 0) <= step]
            if len(kept_rows) < len(rows):
                with atomic_text(path) as handle:
                    writer = csv.DictWriter(handle, fieldnames=columns)
                    writer.writeheader()
                    writer.writerows(kept_rows)

    def _record(self, trainer: Trainer, kind: str, metrics: Mapping[str, float]) -> None:
        record = {"kind": kind, "step": trainer.step, "epoch": trainer.epoch, **metrics}
        jsonl = self.folder / "metrics.jsonl"
        with writing(jsonl, "the training log"):  # a whole line or none, also on a full disk
            append_whole(jsonl, (json.dumps(record) + "\n").encode("utf-8"))
        with writing(self.folder / f"{kind}.csv", "the training log"):
            self._append_csv(self.folder / f"{kind}.csv", record)
        if self._writer is not None:
            for name, value in metrics.items():
                self._writer.add_scalar(f"{kind}/{name}", value, trainer.step)

    def _append_csv(self, path: Path, record: Mapping[str, Any]) -> None:
        columns = self._columns.get(path.name)
        if columns is None and path.exists():
            with open(path, encoding="utf-8", newline="") as handle:
                columns = next(csv.reader(handle), None)
        new = [k for k in record if columns is None or k not in columns]
        if columns is None or new:
            # A new column (e.g. the first generator iteration): rewrite the file with the wider header.
            old_rows: list[dict[str, str]] = []
            if path.exists():
                with open(path, encoding="utf-8", newline="") as handle:
                    old_rows = list(csv.DictReader(handle))
            columns = [*(columns or []), *new]
            with atomic_text(path) as handle:  # a failed rewrite must not lose the rows already logged
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                writer.writerows(old_rows)
        self._columns[path.name] = columns
        line = io.StringIO(newline="")
        csv.DictWriter(line, fieldnames=columns).writerow(dict(record))
        append_whole(path, line.getvalue().encode("utf-8"))  # a whole row or none, also on a full disk

    def on_step_end(self, trainer: Trainer, metrics: Mapping[str, float]) -> None:
        for name, value in metrics.items():
            self._sums[name] = self._sums.get(name, 0.0) + value
            self._counts[name] = self._counts.get(name, 0) + 1
        if trainer.is_main_process and trainer.step % self.every == 0:
            means = {k: self._sums[k] / self._counts[k] for k in self._sums}
            self._record(trainer, "train", means)
            self._sums.clear()
            self._counts.clear()

    def on_validation_end(self, trainer: Trainer, metrics: Mapping[str, float]) -> None:
        if trainer.is_main_process:
            self._record(trainer, "validation", metrics)

    def state_dict(self) -> dict[str, Any]:
        """The running sums of the current logging window, so a resumed run logs the same averages."""
        return {"sums": dict(self._sums), "counts": dict(self._counts)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self._sums = {str(k): float(v) for k, v in state.get("sums", {}).items()}
        self._counts = {str(k): int(v) for k, v in state.get("counts", {}).items()}

    def on_fit_end(self, trainer: Trainer) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def on_exception(self, trainer: Trainer, error: BaseException) -> None:
        self.on_fit_end(trainer)


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
