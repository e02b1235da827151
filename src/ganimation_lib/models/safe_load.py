"""The one ``torch.load`` of the library: weights-only, and every failure as a :class:`CheckpointError`.

``torch.load(weights_only=True)`` rebuilds only tensors, containers and plain values: a pickle that asks to
call a function or build a class is refused before anything in it runs. Torch's own message for that
case advises re-running with ``weights_only=False``, which would run the file's code; this module never
passes that advice on. It names the refused global instead, says that nothing was executed, and how to
get a file that loads safely.

Examples:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.pt"
    >>> torch.save({"w": torch.ones(2)}, path)
    >>> load_weights_only(path)["w"].tolist()
    [1.0, 1.0]
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from .pretrained import CheckpointError

__all__ = ["DEFAULT_PICKLE_HINT", "load_weights_only", "refused_global"]

#: What :func:`load_weights_only` tells the user to do with a file that asks to run code.
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
