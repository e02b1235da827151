"""The built-in callbacks (checkpoints, metric logs, sample grids, progress) and the set a Trainer adds.

[`Callback`][ganimation_lib.training.hooks.Callback] (re-exported here) and the order of its hooks are described in
[`hooks`][ganimation_lib.training.hooks]. Each callback keeps its own state (``state_dict``/``load_state_dict``), saved
in the training checkpoint. [`default_callbacks`][ganimation_lib.training.callbacks.default_callbacks] builds the
built-in set from a [`TrainerConfig`][ganimation_lib.training.config.TrainerConfig];
[`Checkpointing`][ganimation_lib.training.callbacks.Checkpointing] has the highest ``order``, so a checkpoint holds
every other callback's state after the step.

Callbacks know their rank (``trainer.rank``, ``trainer.is_main_process``): the built-in ones that write
files do so only on the main process, so the same list works under ``torchrun``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from torch import Tensor

from ..atomic_files import append_whole, remove_stale_temporaries
from ..data.image_io import as_float_faces
from ..errors import writing
from ..inference.visuals import make_sample_grid, save_image
from ..models.registered import drawing_model
from .checkpoint import CHECKPOINT_PATTERN, checkpoint_path, prune_checkpoints, save_training_state
from .config import TrainerConfig
from .hooks import Callback as Callback
from .hooks import arrange_callbacks as arrange_callbacks
from .logfiles import append_csv_row, trim_csv, trim_jsonl
from .progress import ProgressBar as ProgressBar
from .rng import capture_rng_state

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = [
    "Callback",
    "Checkpointing",
    "MetricsLogger",
    "ProgressBar",
    "SampleGrid",
    "arrange_callbacks",
    "default_callbacks",
    "make_sample_grid",
    "save_image",
]


# The files SampleGrid and MetricsLogger write atomically, whose temporary files a killed run may leave.
_SAMPLE_NAMES = re.compile(r"step-\d+\.png")
_LOG_NAMES = re.compile(r"(?:train|validation)\.csv|metrics\.jsonl")


class Checkpointing(Callback):
    """Saves the full training state every ``every`` iterations and at the end, keeping the newest ``keep``.

    Nothing is written when training fails (``on_exception``) or while steps are being skipped for a
    non-finite loss or gradient, so the last good checkpoint stays the newest one; nothing is written by a
    ``fast_dev_run``. Temporary files a killed save left (``.step-N.pt.<hex>.tmp``) are removed when the run
    starts and before each save. Each save is recorded as the trainer's ``last_checkpoint``. It runs after
    the other callbacks (``order`` 100), so a checkpoint holds their state after the step. Under several
    processes rank 0 writes it, with every rank's random state (``rank_rng``, gathered from the others), so a
    resume at the same world size continues each rank's draws.

    Args:
        folder: Where ``step-*.pt`` files go.
        every: Save every N iterations (0 = only at the end).
        keep: Number of checkpoints kept.
    """

    order: ClassVar[int] = 100

    def __init__(self, folder: str | Path, *, every: int = 1000, keep: int = 3) -> None:
        self.folder = Path(folder)
        self.every = every
        self.keep = keep
        self.last_saved: Path | None = None
        self._last_step = -1

    def save(self, trainer: Trainer) -> Path | None:
        """Write a checkpoint of the current state (main process only) and prune old ones.

        Under several processes every rank calls it at the same steps (its random state is gathered).
        """
        if trainer.config.fast_dev_run or trainer.step == self._last_step:
            return self.last_saved
        rank_rng = trainer.distributed.gather_objects(capture_rng_state())[1:] if trainer.distributed.enabled else []
        if not trainer.is_main_process:
            self._last_step = trainer.step
            return self.last_saved
        remove_stale_temporaries(self.folder, CHECKPOINT_PATTERN)
        state = trainer.state_dict()
        if rank_rng:
            state["rank_rng"] = rank_rng
        path = save_training_state(state, checkpoint_path(self.folder, trainer.step))
        self._last_step, self.last_saved = trainer.step, path
        trainer.last_checkpoint = path
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


class SampleGrid(Callback):
    """Writes ``samples/step-N.png`` (see [`make_sample_grid`][ganimation_lib.inference.visuals.make_sample_grid]) every
    ``every`` iterations and at the end.

    Uses the trainer's fixed validation faces and the sampling generator (the EMA when enabled). Temporary
    files a run killed while writing a grid left (``.step-N.<hex>.png``) are removed when a run starts.

    Args:
        folder: Output folder.
        every: Interval in iterations (0 = only at the end).
        targets: Target AU vectors, one column group each, or a mapping name → AU vector (the names head the
            groups); ``None`` = each face's own ``target_aus``.
        names: A name per target for the header; ``None``: the mapping's keys, else ``"target 1"``...
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        every: int = 1000,
        targets: Sequence[Tensor] | Mapping[str, Tensor] | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.every = every
        if isinstance(targets, Mapping):
            names = list(targets) if names is None else names
            targets = list(targets.values())
        self.targets = None if targets is None else list(targets)
        self.names = None if names is None else list(names)
        if self.names is not None and self.targets is not None and len(self.names) != len(self.targets):
            raise ValueError(f"{len(self.names)} names for {len(self.targets)} targets")
        self.written: list[Path] = []

    def write(self, trainer: Trainer) -> Path | None:
        """Write the grid for the current step (main process only)."""
        batch = trainer.fixed_batch
        if not trainer.is_main_process or batch is None:
            return None
        images = as_float_faces(batch.image.to(trainer.device))
        targets = self.targets if self.targets is not None else [batch.target_aus]
        names = self.names if self.targets is not None else ["training target"]
        model = trainer.sampling_generator
        was_training = model.training
        model.eval()
        try:
            grid = make_sample_grid(drawing_model(model), images, targets, names=names, labelled=True)
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
            trim_csv(self.folder / name, step)

    def _record(self, trainer: Trainer, kind: str, metrics: Mapping[str, float]) -> None:
        record = {"kind": kind, "step": trainer.step, "epoch": trainer.epoch, **metrics}
        jsonl = self.folder / "metrics.jsonl"
        with writing(jsonl, "the training log"):  # a whole line or none, also on a full disk
            append_whole(jsonl, (json.dumps(record) + "\n").encode("utf-8"))
        csv_path = self.folder / f"{kind}.csv"
        with writing(csv_path, "the training log"):  # a whole row or none, also on a full disk
            self._columns[csv_path.name] = append_csv_row(csv_path, record, self._columns.get(csv_path.name))
        if self._writer is not None:
            for name, value in metrics.items():
                self._writer.add_scalar(f"{kind}/{name}", value, trainer.step)

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
        """Restore [`state_dict`][ganimation_lib.training.callbacks.MetricsLogger.state_dict]."""
        self._sums = {str(k): float(v) for k, v in state.get("sums", {}).items()}
        self._counts = {str(k): int(v) for k, v in state.get("counts", {}).items()}

    def on_fit_end(self, trainer: Trainer) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def on_exception(self, trainer: Trainer, error: BaseException) -> None:
        self.on_fit_end(trainer)


def default_callbacks(
    output_dir: str | Path | None,
    config: TrainerConfig,
    *,
    progress: bool = True,
    sample_targets: Sequence[Tensor] | Mapping[str, Tensor] | None = None,
) -> list[Callback]:
    """The built-in callbacks of a [`Trainer`][ganimation_lib.training.trainer.Trainer], set up from its ``config``.

    With an ``output_dir``: [`Checkpointing`][ganimation_lib.training.callbacks.Checkpointing] (``checkpoints/``),
    [`MetricsLogger`][ganimation_lib.training.callbacks.MetricsLogger] (``logs/``) and
    [`SampleGrid`][ganimation_lib.training.callbacks.SampleGrid] (``samples/``, of ``sample_targets``, named when a
    mapping); with
    ``progress``, a [`ProgressBar`][ganimation_lib.training.progress.ProgressBar].

    Examples:
        >>> [type(cb).__name__ for cb in default_callbacks("run", TrainerConfig(), progress=False)]
        ['Checkpointing', 'MetricsLogger', 'SampleGrid']
    """
    built_in: list[Callback] = []
    if output_dir is not None:
        folder = Path(output_dir)
        built_in += [
            Checkpointing(folder / "checkpoints", every=config.checkpoint_every, keep=config.keep_checkpoints),
            MetricsLogger(folder / "logs", every=config.log_every),
            SampleGrid(folder / "samples", every=config.sample_every, targets=sample_targets),
        ]
    if progress:
        built_in.append(ProgressBar())
    return built_in
