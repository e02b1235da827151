"""Atomic, ``weights_only``-safe training checkpoints: what a Trainer saves, how it is written, read and restored.

A checkpoint is a plain nested dict of tensors, numbers, strings, lists and dicts, so
``torch.load(path, weights_only=True)`` reads it: no pickled classes, nothing that runs code on load. It is
written to a temporary file in the same folder, flushed to disk and moved into place with ``os.replace``,
so a crash (even ``SIGKILL``) during a save leaves the previous checkpoint untouched.

Reading one back checks what a [`Trainer`][ganimation_lib.training.trainer.Trainer] would otherwise trip over with a
``KeyError`` or a ``RuntimeError`` halfway through restoring it: every entry it restores is there with the
right type, the network weights fit the configs stored with them, and none of them is NaN or infinite.

Examples:
    >>> import tempfile, pathlib
    >>> from ganimation_lib import CriticConfig, GeneratorConfig, Trainer
    >>> trainer = Trainer(generator=GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=1),
    ...                   critic=CriticConfig(image_size=32, conv_dim=8, depth=4), progress=False)
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> path = save_training_state(trainer.state_dict(), folder / "step-000000003.pt")
    >>> load_training_state(path)["step"]
    0
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ..atomic_files import atomic_binary, fsync_folder
from ..models.critic import CriticConfig
from ..models.generator import GeneratorConfig
from ..models.kinds import build_on_meta
from ..models.pretrained import CheckpointError, check_finite_weights, state_dict_mismatches
from ..models.safe_load import load_weights_only
from ..version import __version__
from .rng import capture_rng_state, restore_rng_state

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_PATTERN",
    "TRAINER_FORMAT",
    "capture_rng_state",
    "check_same_config",
    "check_trainer_state",
    "checkpoint_path",
    "latest_checkpoint",
    "list_checkpoints",
    "load_training_state",
    "prune_checkpoints",
    "restore_rng_state",
    "restore_trainer_state",
    "save_training_state",
    "trainer_state",
]

#: File names of step checkpoints: ``step-000001234.pt``.
CHECKPOINT_PATTERN = re.compile(r"^step-(\d+)\.pt$")
#: Version of the checkpoint layout [`trainer_state`][ganimation_lib.training.checkpoint.trainer_state] writes;
#: [`load_training_state`][ganimation_lib.training.checkpoint.load_training_state] checks the contents of checkpoints of
#: this format.
CHECKPOINT_FORMAT = 1
#: The same number under its older name.
TRAINER_FORMAT = CHECKPOINT_FORMAT
# What Trainer.load_state_dict restores: counters, and the entries that must be dicts.
_COUNTERS = ("step", "generator_step", "epoch", "batch_in_epoch", "nonfinite_streak")
_TABLES = ("generator", "critic", "generator_optimizer", "critic_optimizer", "generator_scaler", "critic_scaler", "rng")


def checkpoint_path(folder: str | os.PathLike[str], step: int) -> Path:
    """The path of the checkpoint for ``step`` in ``folder`` (zero-padded so names sort by step)."""
    return Path(folder) / f"step-{step:09d}.pt"


def save_training_state(state: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file + fsync + ``os.replace``) and return the path."""
    path = Path(path)
    with atomic_binary(path) as handle:
        torch.save(state, handle)
    fsync_folder(path.parent)
    return path


def load_training_state(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` (safe: no code runs on load).

    Raises:
        FileNotFoundError: if ``path`` does not exist (the message lists the checkpoints that do).
        CheckpointError: if the file is not a training checkpoint of this library: unreadable, truncated, or
            a pickle that asks to call a global while loading (named; nothing in it is executed); or, for a
            [`Trainer`][ganimation_lib.training.trainer.Trainer] checkpoint, an entry it restores is missing or of the
            wrong type, the network weights do not fit their stored configs, or a weight is NaN/inf (named:
            resuming would train on, and export, a network that outputs NaN).
    """
    path = Path(path)
    if path.is_dir():
        latest = latest_checkpoint(path)
        if latest is None:
            raise FileNotFoundError(f"no checkpoint (step-*.pt) in folder {path}")
        path = latest
    if not path.is_file():
        found = [p.name for p in list_checkpoints(path.parent)] if path.parent.is_dir() else []
        raise FileNotFoundError(f"checkpoint {path} does not exist; checkpoints in that folder: {found or 'none'}")
    state: dict[str, Any] = load_weights_only(
        path,
        map_location=map_location,
        what="training checkpoint",
        hint="A ganimation_lib training checkpoint holds only tensors, numbers, strings, lists and dicts, so this "
        "file was not written by its Trainer, or was altered: resume from another checkpoint",
        unreadable="it is corrupt or truncated: resume from another checkpoint (list_checkpoints)",
    )
    if not isinstance(state, dict) or "format" not in state:
        raise CheckpointError(f"{path} is not a ganimation_lib training checkpoint (no 'format' key)")
    if state["format"] == CHECKPOINT_FORMAT:
        check_trainer_state(state, str(path))
    return state


def check_trainer_state(state: dict[str, Any], source: str) -> None:
    """Raise a [`CheckpointError`][ganimation_lib.models.safe_load.CheckpointError] naming ``source`` unless ``state``
    holds what a Trainer restores.

    Checked: the counters are whole numbers >= 0; the networks, optimizers, scalers and RNG states are
    dicts; the generator, critic and EMA weights are tensors that fit the configs stored beside them (when
    stored: a custom network has none) and are finite; each optimizer state has parameter groups covering
    at least the network's parameters; the callbacks' states are dicts (``MetricsLogger``'s of numbers).

    Examples:
        >>> check_trainer_state({"format": 1}, "step-000000004.pt")
        Traceback (most recent call last):
        ...
        ganimation_lib.models.safe_load.CheckpointError: step-000000004.pt is not a complete ganimation_lib \
training checkpoint: it lacks ['step', 'generator_step', 'epoch', 'batch_in_epoch', 'nonfinite_streak', \
'generator', 'critic', 'generator_optimizer', 'critic_optimizer', 'generator_scaler', 'critic_scaler', 'rng', \
'ema']; resume from another checkpoint
    """
    missing = [key for key in (*_COUNTERS, *_TABLES, "ema") if key not in state]
    if missing:
        raise CheckpointError(
            f"{source} is not a complete ganimation_lib training checkpoint: it lacks {missing}; "
            "resume from another checkpoint"
        )
    for key in (*_COUNTERS, *(k for k in ("epoch_items", "world_size") if k in state)):  # the two: since 12-05
        value = state[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CheckpointError(f"{source}: {key!r} is {value!r}, not a whole number >= 0; the file was altered")
    for key in _TABLES:
        if not isinstance(state[key], dict):
            kind = type(state[key]).__name__
            raise CheckpointError(f"{source}: {key!r} is a {kind}, not a dict; the file was altered")
    if not isinstance(state["rng"].get("torch"), Tensor) or state["rng"]["torch"].dtype != torch.uint8:
        raise CheckpointError(f"{source}: the stored RNG state is not torch's (a uint8 tensor); the file was altered")
    networks = (("generator", "generator_config"), ("critic", "critic_config"), ("ema", "generator_config"))
    for key, config_key in networks:
        weights = state[key]
        if weights is None and key == "ema":
            continue
        if not isinstance(weights, dict) or not all(isinstance(v, Tensor) for v in weights.values()):
            raise CheckpointError(f"{source}: {key!r} is not a dict of tensors; the file was altered")
        parameters = _check_fits_config(weights, state.get(config_key), key, source)
        check_finite_weights(weights, source=f"{source} ({key})")
        if key != "ema":
            _check_optimizer(state[f"{key}_optimizer"], parameters, key, source)
    _check_callbacks(state.get("callbacks", {}), source)


def _check_optimizer(optimizer: dict[str, Any], parameters: int, key: str, source: str) -> None:
    """A torch optimizer state (``state`` and ``param_groups`` of parameter indices) for ``parameters``."""
    groups = optimizer.get("param_groups")
    if (
        isinstance(optimizer.get("state"), dict)
        and isinstance(groups, list)
        and all(isinstance(g, dict) and isinstance(g.get("params"), list) for g in groups)
        and sum(len(g["params"]) for g in groups) >= max(parameters, 1)
    ):
        return
    raise CheckpointError(
        f"{source}: the {key} optimizer state is not one of the {key}'s parameters ({parameters}); "
        "the file was altered or damaged: resume from another checkpoint"
    )


def _check_callbacks(callbacks: object, source: str) -> None:
    """Callback states are dicts; ``MetricsLogger``'s (its averaging window) maps names to numbers."""
    if not isinstance(callbacks, dict) or not all(isinstance(v, dict) for v in callbacks.values()):
        raise CheckpointError(f"{source}: the callbacks' states are not dicts; the file was altered")
    window = callbacks.get("MetricsLogger", {})
    for part, kind in (("sums", (int, float)), ("counts", int)):
        values = window.get(part, {})
        if not isinstance(values, dict) or not all(
            isinstance(v, kind) and not isinstance(v, bool) for v in values.values()
        ):
            raise CheckpointError(f"{source}: the MetricsLogger {part} are not numbers; the file was altered")


def _check_fits_config(weights: dict[str, Tensor], stored: object, key: str, source: str) -> int:
    """The weights have every tensor of the stored config's network, in its shape (extra ones are allowed:
    a subclass may add some). Returns the number of that network's parameters (0 without a config)."""
    if not stored:
        return 0  # a custom network without a config: nothing to compare with
    config_cls = CriticConfig if key == "critic" else GeneratorConfig
    try:
        config = config_cls.from_dict(dict(stored))  # type: ignore[call-overload]
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: the stored {key} config cannot be used: {error}") from None
    network = build_on_meta(config)
    expected = {name: tuple(tensor.shape) for name, tensor in network.state_dict().items()}
    problems = [p for p in state_dict_mismatches(expected, weights) if not p.startswith("unexpected")]
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems[:10]) + ("\n  - ..." if len(problems) > 10 else "")
        raise CheckpointError(
            f"{source}: the {key} weights do not fit the {config_cls.__name__} stored with them:\n{shown}\n"
            "the file was altered or damaged: resume from another checkpoint"
        )
    return sum(1 for _ in network.parameters())


def list_checkpoints(folder: str | os.PathLike[str]) -> list[Path]:
    """The step checkpoints in ``folder``, oldest first (temporary files of interrupted saves are ignored)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CHECKPOINT_PATTERN.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(folder: str | os.PathLike[str]) -> Path | None:
    """The newest step checkpoint in ``folder``, or ``None``."""
    found = list_checkpoints(folder)
    return found[-1] if found else None


def prune_checkpoints(
    folder: str | os.PathLike[str], keep: int, *, protect: str | os.PathLike[str] | None = None
) -> list[Path]:
    """Delete all but the newest ``keep`` step checkpoints; return the deleted paths.

    ``protect`` (the checkpoint just written) is never deleted and counts as one of the ``keep``: a run
    resumed from an older checkpoint, in a folder that still holds higher steps of the abandoned run, must
    not delete the state it has just saved because its step number is lower.
    """
    found = list_checkpoints(folder)
    kept = Path(protect).resolve() if protect is not None else None
    others = [p for p in found if p.resolve() != kept]
    room = keep - (1 if kept is not None and len(others) < len(found) else 0)
    doomed = others[: max(0, len(others) - room)]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def trainer_state(trainer: Trainer) -> dict[str, Any]:
    """The full training state of ``trainer`` as ``weights_only``-safe values (see ``docs/training.md``).

    Networks, EMA, optimizers and scalers as their state dicts; the position (step, epoch, batch in the
    epoch, and ``epoch_items``: the items of the epoch's order consumed by all processes, with the
    ``world_size`` they ran at) and the non-finite streak; every global RNG state (of this process: the
    [`Checkpointing`][ganimation_lib.training.callbacks.Checkpointing] callback adds the other ranks' as
    ``rank_rng``); the configs the networks and the recipe were built from; each callback's state under its
    ``state_key``.
    """
    gen_cfg: Any = getattr(trainer.generator, "config", None)
    crit_cfg: Any = getattr(trainer.critic, "config", None)
    return {
        "format": CHECKPOINT_FORMAT,
        "library_version": __version__,
        "step": trainer.step,
        "generator_step": trainer.generator_step,
        "epoch": trainer.epoch,
        "batch_in_epoch": trainer.batch_in_epoch,
        "epoch_items": trainer.epoch_items,
        "world_size": trainer.world_size,
        "nonfinite_streak": trainer.nonfinite_streak,
        "generator": trainer.generator.state_dict(),
        "critic": trainer.critic.state_dict(),
        "ema": trainer.ema.state_dict() if trainer.ema is not None else None,
        "generator_optimizer": trainer.generator_optimizer.state_dict(),
        "critic_optimizer": trainer.critic_optimizer.state_dict(),
        "generator_scaler": trainer.generator_scaler.state_dict(),
        "critic_scaler": trainer.critic_scaler.state_dict(),
        "rng": capture_rng_state(),
        "trainer_config": trainer.config.to_dict(),
        "generator_config": gen_cfg.to_dict() if hasattr(gen_cfg, "to_dict") else {},
        "critic_config": crit_cfg.to_dict() if hasattr(crit_cfg, "to_dict") else {},
        "callbacks": {cb.state_key: cb.state_dict() for cb in trainer.callbacks},
    }


def restore_trainer_state(trainer: Trainer, state: Mapping[str, Any]) -> None:
    """Restore [`trainer_state`][ganimation_lib.training.checkpoint.trainer_state] into ``trainer`` (networks,
    optimizers, scalers, EMA, position, RNG, callbacks).

    Raises:
        ValueError: For another checkpoint format, or networks built with other configs than the trainer's
            (see [`check_same_config`][ganimation_lib.training.checkpoint.check_same_config]).
    """
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"checkpoint format {state.get('format')!r} is not {CHECKPOINT_FORMAT}; it was written by "
            f"ganimation_lib {state.get('library_version', '?')} — use that version to resume it"
        )
    for name, module in (("generator", trainer.generator), ("critic", trainer.critic)):
        check_same_config(name, getattr(module, "config", None), state.get(f"{name}_config") or {})
    # Checked before anything is loaded, so a refused resume leaves the trainer as it was.
    saved_groups = len(state["critic_optimizer"]["param_groups"])
    if saved_groups != len(trainer.critic_optimizer.param_groups):
        raise ValueError(
            f"the checkpoint's critic optimizer has {saved_groups} parameter group(s), this trainer's has "
            f"{len(trainer.critic_optimizer.param_groups)}: TrainerConfig.au_lr_scale is "
            f"{trainer.config.au_lr_scale} here and was {'1' if saved_groups == 1 else 'not 1'} in the run; "
            "resume with the run's au_lr_scale (its run_config.json)"
        )
    trainer.generator.load_state_dict(state["generator"])
    trainer.critic.load_state_dict(state["critic"])
    if trainer.ema is not None:
        if state["ema"] is None:
            trainer.ema.shadow.load_state_dict(state["generator"])  # EMA switched on at resume: start here
        else:
            trainer.ema.load_state_dict(state["ema"])
    trainer.generator_optimizer.load_state_dict(state["generator_optimizer"])
    trainer.critic_optimizer.load_state_dict(state["critic_optimizer"])
    if state["generator_scaler"]:
        trainer.generator_scaler.load_state_dict(state["generator_scaler"])
    if state["critic_scaler"]:
        trainer.critic_scaler.load_state_dict(state["critic_scaler"])
    trainer.step = int(state["step"])
    trainer.generator_step = int(state["generator_step"])
    trainer.epoch = int(state["epoch"])
    trainer.batch_in_epoch = int(state["batch_in_epoch"])
    saved_config = state.get("trainer_config") or {}
    # Written before the global position was stored: one process at the run's batch size.
    saved_batch = int(saved_config.get("batch_size", trainer.config.batch_size))
    trainer.epoch_items = int(state.get("epoch_items", trainer.batch_in_epoch * saved_batch))
    changed = [k for k in ("batch_size", "seed") if k in saved_config and saved_config[k] != getattr(trainer.config, k)]
    if changed and trainer.batch_in_epoch:
        warnings.warn(
            f"resuming mid-epoch (batch {trainer.batch_in_epoch}) with another {' and '.join(changed)} than the "
            "checkpoint's: the rest of this epoch's order no longer continues the interrupted one (some items "
            "are seen twice or not at all)",
            stacklevel=3,  # the caller of Trainer.load_state_dict
        )
    trainer.nonfinite_streak = int(state["nonfinite_streak"])
    saved_callbacks = state.get("callbacks", {})
    for cb in trainer.callbacks:
        if cb.state_key in saved_callbacks:
            cb.load_state_dict(saved_callbacks[cb.state_key])
    restore_rng_state(state["rng"])


def check_same_config(name: str, config: Any, saved: Mapping[str, Any]) -> None:
    """Refuse to load a checkpoint whose network was built differently, naming the fields that differ.

    Examples:
        >>> from ganimation_lib import CriticConfig
        >>> check_same_config("critic", CriticConfig(conv_dim=8), CriticConfig(conv_dim=8).to_dict())  # same: fine
        >>> check_same_config("critic", CriticConfig(conv_dim=8), {**CriticConfig().to_dict(), "conv_dim": 16})
        Traceback (most recent call last):
        ...
        ValueError: the checkpoint's critic was built with a different config (conv_dim: checkpoint 16, this \
trainer 8); build the Trainer with the checkpoint's critic_config (ganimation train: the same --config/flags as \
the run that wrote it)
    """
    if not saved or not hasattr(config, "to_dict"):
        return

    def plain(value: Any) -> Any:
        return list(value) if isinstance(value, tuple) else value

    current = config.to_dict()
    differ = [k for k in sorted(set(current) | set(saved)) if plain(current.get(k)) != plain(saved.get(k))]
    if differ:
        detail = ", ".join(f"{k}: checkpoint {saved.get(k)!r}, this trainer {current.get(k)!r}" for k in differ)
        raise ValueError(
            f"the checkpoint's {name} was built with a different config ({detail}); build the Trainer with the "
            f"checkpoint's {name}_config (ganimation train: the same --config/flags as the run that wrote it)"
        )
