"""What one [`Trainer.fit`][ganimation_lib.training.trainer.Trainer.fit] does around the iterations.

In order: check the data, collect the held-out batch, restore a checkpoint, register the training faces (a
generator with ``face_registration=True``), work out the limits, call
``on_fit_start``, validate at step 0, set the run's random states, then iterate epoch by epoch
([`train_step`][ganimation_lib.training.trainer.Trainer.train_step], validation when due, ``on_step_end``) until a
limit, ``max_time`` or [`request_stop`][ganimation_lib.training.trainer.Trainer.request_stop] ends the run; validate
once more and call ``on_fit_end`` (``on_exception`` when anything raises). The iteration itself is the trainer's.

Under several processes every rank runs this loop in step: each rank seeds its own random draws
([`rank_seed`][ganimation_lib.training.distributed.rank_seed]; a resume restores each rank's state from the checkpoint
when it was written at the same world size), the decision to stop is taken together (a limit of time or a Ctrl-C
seen by one rank stops all after the same iteration), and ``fit`` returns on every rank once rank 0 has written
its end-of-fit files.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch.utils.data import DataLoader, Dataset, Sampler

from ..data.sample import AUSample
from .checkpoint import latest_checkpoint, load_training_state
from .distributed import rank_seed
from .registered_data import register_training_data
from .rng import restore_rng_state, seed_global_rngs
from .sampling import EpochLoader, TrainingData
from .validation import HeldOut, collect_fixed_batch

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["run_fit"]


def run_fit(
    trainer: Trainer,
    data: TrainingData,
    *,
    val_data: Dataset[AUSample] | None = None,
    resume_from: str | Path | None = None,
    sampler: Sampler[int] | None = None,
    run_rng: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Train ``trainer`` on ``data`` until a limit; return the last validation figures.

    The arguments are [`Trainer.fit`][ganimation_lib.training.trainer.Trainer.fit]'s, plus ``run_rng``: the
    random states a previous ``fit`` of this trainer ended with, which a second ``fit`` continues from
    (a resume takes the checkpoint's instead; a new run seeds them with ``config.seed``).
    """
    cfg = trainer.config
    started = time.monotonic()
    if val_data is not None:
        trainer.held_out = HeldOut.collect(val_data, cfg.num_validation_samples, cfg.seed)
        trainer.fixed_batch = trainer.held_out.batch
    elif not isinstance(data, DataLoader):
        trainer.fixed_batch, _ = collect_fixed_batch(data, cfg.num_validation_samples, cfg.seed)
    if resume_from is not None:
        # Loaded on the CPU: the RNG states must stay CPU byte tensors; the networks and optimizers
        # copy their tensors to the training device themselves.
        state = load_training_state(resume_from, map_location="cpu")
        trainer.load_state_dict(state)
        run_rng = _rank_rng(trainer, state)
        path = Path(resume_from)
        trainer.last_checkpoint = latest_checkpoint(path) if path.is_dir() else path
    elif trainer.step == 0:
        run_rng = None  # a new run (even on a trainer that ran before) starts from the seed
    # A generator that registers faces trains on registered ones; the time counts against max_time (after the
    # resume, which restores its template).
    data = register_training_data(trainer, data)
    loader = EpochLoader(
        data,
        sampler,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        num_workers=cfg.num_workers,
        rank=trainer.rank,
        world_size=trainer.world_size,
        pin_memory=trainer.device.type == "cuda",
    )
    if resume_from is not None:
        _check_world_size(trainer, loader, state)

    max_steps, max_epochs = _limits(trainer, loader)
    trainer.planned_steps = max_steps
    trainer.stop_reason = ""
    for cb in trainer.callbacks:
        cb.on_fit_start(trainer)
    try:
        if val_data is not None and trainer.step == 0 and not cfg.fast_dev_run:
            trainer.validate()
        # The run's RNG states are set last, so whatever on_fit_start or the first validation draws
        # cannot shift a resumed run against an uninterrupted one.
        if run_rng is not None:
            restore_rng_state(run_rng)
        else:
            seed_global_rngs(rank_seed(cfg.seed, trainer.rank, trainer.step))
        _run_epochs(trainer, loader, max_steps, max_epochs, started)
        if val_data is not None and (cfg.validate_every == 0 or trainer.step % cfg.validate_every or cfg.fast_dev_run):
            trainer.validate()
    except BaseException as error:
        for cb in trainer.callbacks:
            cb.on_exception(trainer, error)
        raise
    finally:
        trainer.generator.requires_grad_(True)
        trainer.critic.requires_grad_(True)
    for cb in trainer.callbacks:
        cb.on_fit_end(trainer)
    trainer.distributed.barrier()  # rank 0's last checkpoint and grid are written when fit returns on any rank
    return trainer.last_validation


def _rank_rng(trainer: Trainer, state: dict[str, Any]) -> dict[str, Any] | None:
    """The random states this rank resumes with: rank 0's are ``state["rng"]``; another rank's are its own from
    ``state["rank_rng"]`` when the checkpoint was written at this world size, else ``None`` (it is reseeded)."""
    if trainer.rank == 0:
        return dict(state["rng"])
    saved = state.get("rank_rng")
    if state.get("world_size") == trainer.world_size and isinstance(saved, list) and len(saved) >= trainer.rank:
        mine = saved[trainer.rank - 1]
        if isinstance(mine, dict) and "torch" in mine:
            return mine
    return None


def _check_world_size(trainer: Trainer, loader: EpochLoader, state: dict[str, Any]) -> None:
    """Warn when a checkpoint written mid-epoch at another world size cannot continue the same global order."""
    saved = int(state.get("world_size", 1))
    if saved != trainer.world_size and state["batch_in_epoch"] and not loader.shares_global_order():
        warnings.warn(
            f"resuming mid-epoch (batch {state['batch_in_epoch']}) at world size {trainer.world_size} from a "
            f"checkpoint written at world size {saved} with your own sampler or DataLoader: each process skips "
            f"{state['batch_in_epoch']} of its batches, which does not continue the interrupted order; resume at "
            f"world size {saved}, from an epoch boundary, or with the default sampler",
            stacklevel=4,
        )


def _limits(trainer: Trainer, loader: EpochLoader) -> tuple[int | None, int | None]:
    """``(max_steps, max_epochs)`` from the config; an epoch limit counts the batches still to come from the
    trainer's position (at another world size than the checkpoint's, an epoch has another number of batches)."""
    cfg = trainer.config
    per_epoch = loader.batches_per_epoch()
    max_steps, max_epochs = cfg.limits(per_epoch)
    if max_epochs is None or per_epoch is None or cfg.fast_dev_run or trainer.epoch >= max_epochs:
        return max_steps, max_epochs
    left = loader.batches_left(trainer.batch_in_epoch, trainer.epoch_items)
    if left is None:
        return max_steps, max_epochs
    by_epochs = trainer.step + left + (max_epochs - trainer.epoch - 1) * per_epoch
    return (by_epochs if cfg.max_steps is None else min(cfg.max_steps, by_epochs)), max_epochs


_REASONS = ("", "max_steps", "max_time", "stop_requested")


def _stop_reason(trainer: Trainer, max_steps: int | None, started: float) -> str:
    """Why the run stops after the current iteration (``""``: it goes on); the same on every rank."""
    max_time = trainer.config.max_time
    reason = ""
    if max_steps is not None and trainer.step >= max_steps:
        reason = "max_steps"
    elif max_time is not None and time.monotonic() - started >= max_time:
        reason = "max_time"
    elif trainer.stop_requested:
        reason = "stop_requested"
    return _REASONS[trainer.distributed.max_int(_REASONS.index(reason))]


def _run_epochs(
    trainer: Trainer, loader: EpochLoader, max_steps: int | None, max_epochs: int | None, started: float
) -> None:
    """Iterate from the trainer's position until a limit; set ``trainer.stop_reason``."""
    cfg = trainer.config
    if max_steps is not None and trainer.step >= max_steps:  # e.g. resumed from the final checkpoint
        trainer.stop_reason = "max_steps"
        return
    validating = trainer.held_out is not None and bool(cfg.validate_every) and not cfg.fast_dev_run
    while max_epochs is None or trainer.epoch < max_epochs:
        for batch in loader.batches(trainer.epoch, start=trainer.batch_in_epoch, items=trainer.epoch_items):
            metrics = trainer.train_step(batch)
            trainer.batch_in_epoch += 1
            trainer.epoch_items += len(batch.image) * trainer.world_size
            if validating and trainer.step % cfg.validate_every == 0:
                trainer.validate()
            for cb in trainer.callbacks:
                cb.on_step_end(trainer, metrics)
            trainer.stop_reason = _stop_reason(trainer, max_steps, started)
            if trainer.stop_reason:
                return
        if trainer.batch_in_epoch == 0 and trainer.epoch_items == 0:
            raise ValueError("the data gave no batch in a whole epoch; check the dataset and batch size")
        trainer.epoch += 1
        trainer.batch_in_epoch = trainer.epoch_items = 0
    trainer.stop_reason = "max_epochs"
