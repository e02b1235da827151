"""Driving sequences: the AU rows, in frame order, that make one face mimic another's expressions.

Examples:
    >>> read_drive(torch.tensor([[0.0, 0.2], [0.4, 0.6]]), num_aus=2).shape
    torch.Size([2, 2])
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import torch
from torch import Tensor

from ..aus import AU_NAMES, AU_SCALE
from ..data.labels import read_labels
from ..data.openface import read_openface_csv
from .expression_targets import check_au_range

__all__ = ["DriveSource", "read_drive"]

#: A driving sequence: a file (OpenFace sequence CSV or ``attributes.txt``) or a (frames, num_aus) array.
DriveSource: TypeAlias = "str | os.PathLike[str] | Tensor | np.ndarray[Any, Any]"


def read_drive(source: DriveSource, num_aus: int, *, au_names: Sequence[str] = AU_NAMES) -> Tensor:
    """Return a driving sequence as a (frames, num_aus) float32 tensor of normalised AUs, in frame order.

    Args:
        source: A (frames, num_aus) tensor or array of normalised AUs, or a file of raw (0-5) intensities:
            an OpenFace sequence CSV (``FeatureExtraction`` output; frames where OpenFace lost the face are
            skipped, and of several faces in a frame the most confident is used), an ``attributes.txt``
            (``name AU...`` per line) or an AU table CSV (``file,AU01,...``). Rows of the last two are
            ordered by the frame number in their names (``2.jpg`` before ``10.jpg``).
        num_aus: The generator's AU count.
        au_names: The generator's AU layout: the columns taken from a file, in this order.

    Raises:
        ValueError: For a file that cannot be read as either format, no frames, the wrong AU count, or AU
            values outside the accepted range (see `MAX_AU`).
        FileNotFoundError: If the file does not exist.
    """
    if isinstance(source, (Tensor, np.ndarray)):
        aus = (
            source.detach().cpu().float()
            if isinstance(source, Tensor)
            else torch.from_numpy(np.asarray(source, dtype=np.float32))
        )
    else:
        aus = _read_file(Path(source), au_names)
    if aus.dim() != 2 or aus.shape[0] == 0:
        raise ValueError(
            f"a driving sequence must have shape (frames, num_aus) with frames >= 1, got {tuple(aus.shape)}"
        )
    if aus.shape[1] != num_aus:
        raise ValueError(
            f"the driving sequence has {aus.shape[1]} AUs per frame, but this Generator was built for {num_aus} "
            "(GeneratorConfig.num_aus); pass au_names= with the model's AU names"
        )
    check_au_range(aus, "the driving sequence")  # finite, >= 0, <= MAX_AU (the targets' accepted range)
    return aus.clone()


def _natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting ``2.jpg`` before ``10.jpg``: digit runs compare as numbers."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part)


def _is_openface_csv(path: Path) -> bool:
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    return "confidence" in (field.strip().lower() for field in header.split(","))


def _read_file(path: Path, au_names: Sequence[str]) -> Tensor:
    if not path.is_file():
        raise FileNotFoundError(f"driving sequence {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv" and _is_openface_csv(path):
        table = read_openface_csv(path, au_names)
        frames = table.frames()
        if not frames:
            raise ValueError(
                f"{path} has no frame where OpenFace tracked a face ({len(table.failed)} failed, "
                f"{len(table.skipped)} malformed rows); nothing to drive the animation with"
            )
        # One face per frame (the most confident when several are tracked), frames in number order.
        rows = [max(faces, key=lambda f: f.confidence).intensities for _, faces in sorted(frames.items())]
        raw = np.stack(rows)
    elif suffix in (".csv", ".txt"):
        labels = read_labels(path, au_names)
        if len(labels) == 0:
            reasons = "; ".join(f"line {s.line}: {s.reason}" for s in labels.skipped[:3])
            raise ValueError(f"{path} has no usable AU rows{f' ({reasons})' if reasons else ''}")
        order = sorted(range(len(labels)), key=lambda i: _natural_key(labels.files[i]))
        raw = labels.values[order]
    else:
        raise ValueError(
            f"cannot drive an animation from {path.name!r}: give an OpenFace sequence CSV (.csv), an "
            "attributes.txt (.txt) or an AU table (.csv)"
        )
    return torch.from_numpy((raw / AU_SCALE).astype(np.float32))
