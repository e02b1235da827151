"""Reading weight files safely: the one ``torch.load`` of the library, safetensors, and what a file holds.

``torch.load(weights_only=True)`` rebuilds only tensors, containers and plain values: a pickle that asks to
call a function or build a class is refused before anything in it runs. Torch's own message for that
case advises re-running with ``weights_only=False``, which would run the file's code; this module never
passes that advice on. It names the refused global instead, says that nothing was executed, and how to
get a file that loads safely. Every failure is a [`CheckpointError`][ganimation_lib.models.safe_load.CheckpointError].

A training checkpoint of this library stores each network's weights under its kind (``"generator"``,
``"critic"``) and its config beside them under `CHECKPOINT_CONFIG_KEYS`, the generator's moving
average under `CHECKPOINT_EMA_KEY`: the Trainer writes these names, the converters read them.

Examples:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.pt"
    >>> torch.save({"w": torch.ones(2)}, path)
    >>> load_weights_only(path)["w"].tolist()
    [1.0, 1.0]
    >>> [where for where, _, _ in state_dict_candidates({"generator": {"w": torch.ones(1)}, "step": 3})]
    ['generator']
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

import torch
from safetensors import SafetensorError, safe_open
from torch import Tensor

__all__ = [
    "CHECKPOINT_CONFIG_KEYS",
    "CHECKPOINT_EMA_KEY",
    "DEFAULT_PICKLE_HINT",
    "CheckpointError",
    "StateDictCandidate",
    "is_state_dict",
    "load_weights_only",
    "read_checkpoint_file",
    "read_safetensors",
    "refused_global",
    "state_dict_candidates",
]

#: The entry of a training checkpoint holding the generator's moving average, the copy meant for inference.
CHECKPOINT_EMA_KEY = "ema"
#: Where a training checkpoint stores each network's config (``config.to_dict()``), beside its weights.
CHECKPOINT_CONFIG_KEYS: dict[str, str] = {"generator": "generator_config", "critic": "critic_config"}


class CheckpointError(ValueError):
    """Saved weights or a saved config cannot be loaded; the message says why and what to do."""


#: What [`load_weights_only`][ganimation_lib.models.safe_load.load_weights_only] tells the user to do with a file that
#: asks to run code.
DEFAULT_PICKLE_HINT = (
    "A weights file should hold only tensors: if you trust its origin, re-save just the state dict "
    "(torch.save(net.state_dict(), ...)) where it was made"
)


def refused_global(message: str) -> str | None:
    """The global (``module.name``) that torch's weights-only unpickler refused, from its message, or ``None``.

    Examples:
        >>> refused_global("WeightsUnpickler error: Unsupported global: GLOBAL os.system was not an allowed global")
        'os.system'
    """
    match = re.search(r"Unsupported global: GLOBAL (\S+)", message)
    return match.group(1) if match else None


def _unpickler_reason(message: str) -> str:
    """Torch's own reason without its advice (which may be to turn the protection off)."""
    match = re.search(r"WeightsUnpickler error:\s*([^\n]+)", message)
    reason = match.group(1) if match else "not a weights-only pickle"
    return reason.split(". ")[0][:200]


def load_weights_only(
    path: str | os.PathLike[str],
    *,
    map_location: str | torch.device = "cpu",
    what: str = "PyTorch checkpoint",
    hint: str = DEFAULT_PICKLE_HINT,
    unreadable: str = "it is corrupt or truncated, or not a file written by torch.save",
) -> Any:
    """``torch.load(path, weights_only=True)``, with the library's errors.

    Args:
        path: A file written by ``torch.save`` (zip or legacy serialisation).
        map_location: Where the tensors go.
        what: How messages name the file's kind, e.g. ``"training checkpoint"``.
        hint: What to do with a file that asks to call something while loading.
        unreadable: What to say about a file torch cannot read at all.

    Raises:
        CheckpointError: when the file asks to call a global (named; nothing was executed), holds other
            pickled objects, or is not a torch file at all. Torch's advice to load with
            ``weights_only=False`` is never repeated.
    """
    file = Path(path)
    try:
        return torch.load(file, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        refused = refused_global(str(error))
        if refused is None:
            # Corrupt data, or pickled objects built some other way: either way nothing was executed.
            raise CheckpointError(
                f"{file} is not a readable {what}: the weights-only unpickler rejected it "
                f"({_unpickler_reason(str(error))}); it is corrupt or holds pickled objects other "
                "than tensors, and nothing in it was executed"
            ) from None
        raise CheckpointError(
            f"refused to load {file}: it is a pickle that asks to call {refused} while loading, which could run "
            f"arbitrary code, so nothing in it was executed. {hint}"
        ) from None
    except Exception as error:
        # torch.load raises a zoo of exceptions for files that are not checkpoints: KeyError for text,
        # struct.error and IndexError for a truncated legacy file, ... Whatever it is, nothing was executed.
        text = str(error).split("\n")[0]
        detail = "" if "weights_only" in text else f": {text[:200]}"
        raise CheckpointError(
            f"{file} is not a readable {what} ({type(error).__name__}{detail}); {unreadable}"
        ) from None


def read_safetensors(path: str | os.PathLike[str], *, fix: str) -> tuple[dict[str, Tensor], dict[str, str]]:
    """The tensors (on CPU) and the metadata of a ``.safetensors`` file; a broken file is a
    [`CheckpointError`][ganimation_lib.models.safe_load.CheckpointError].

    Args:
        path: The file.
        fix: What to do about a corrupt or truncated file, ending the message.
    """
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            return {key: handle.get_tensor(key) for key in handle.keys()}, metadata  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} cannot be read as safetensors ({error}); {fix}") from error


def read_checkpoint_file(path: str | os.PathLike[str]) -> Any:
    """Read a ``.pth``/``.pt`` (zip or legacy torch serialisation) or ``.safetensors`` file safely, on CPU.

    Pickles are read with ``torch.load(weights_only=True)``: only tensors, containers and plain values
    are rebuilt, and a pickle that asks to call a function or build a class is refused before it runs.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        CheckpointError: when the file is refused (it would run code) or is not a checkpoint at all.
    """
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"checkpoint {file} does not exist; check the path")
    if file.is_dir():
        raise CheckpointError(f"{file} is a directory; pass a checkpoint file (or use load_checkpoint)")
    if file.suffix == ".safetensors":
        return read_safetensors(file, fix="the file is corrupt")[0]
    return load_weights_only(
        file,
        unreadable="pass a .pth/.pt file written by torch.save, a .safetensors file or a save_pretrained directory",
    )


def is_state_dict(value: object) -> bool:
    """True for a non-empty mapping of string keys to tensors (the weights of one network)."""
    return (
        isinstance(value, Mapping)
        and len(value) > 0
        and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in value.items())
    )


#: A state dict found in a checkpoint: where (``"models/generator"``), the weights, and the mapping holding them.
StateDictCandidate: TypeAlias = tuple[str, Mapping[str, Tensor], Mapping[str, Any]]


def state_dict_candidates(obj: object, path: str = "", depth: int = 0) -> list[StateDictCandidate]:
    """Every mapping of tensors inside a (training) checkpoint, with its path and the mapping that holds it.

    Nested mappings are searched four levels deep, so a ``{"models": {"generator": ...}}`` layout is found too;
    optimizer moments and RNG states are candidates as well, for the caller to recognise or skip.
    """
    found: list[StateDictCandidate] = []
    if isinstance(obj, Mapping) and depth < 4:
        for key, value in obj.items():
            where = f"{path}/{key}" if path else str(key)
            if is_state_dict(value):
                found.append((where, value, obj))
            else:
                found += state_dict_candidates(value, where, depth + 1)
    return found
