"""What every AU label reader returns, and how it collects rows.

[`AUTable`][ganimation_lib.data.label_rows.AUTable] is the result of every reader,
[`SkippedRow`][ganimation_lib.data.label_rows.SkippedRow] one row it left out, and
[`LabelRows`][ganimation_lib.data.label_rows.LabelRows] the collector that decides which rows are kept. The readers
([`au_table`][ganimation_lib.data.au_table], [`official_labels`][ganimation_lib.data.official_labels],
[`openface`][ganimation_lib.data.openface]) parse text with `textfiles` and collect rows here, so they all keep, skip
and report rows the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from ..aus import AU_NAMES, AU_SCALE, check_au_names
from .errors import DataFormatError

__all__ = ["AUTable", "LabelRows", "SkippedRow"]


@dataclass(frozen=True)
class SkippedRow:
    """A row a reader left out, and why.

    Attributes:
        line: 1-based line number (or entry number for a pickle).
        file: The row's file name, when it could be read ("" otherwise).
        reason: What was wrong, e.g. ``"text 'abc' in AU12"``.
    """

    line: int
    file: str
    reason: str


@dataclass(frozen=True, eq=False)
class AUTable:
    """File names and their **raw** AU intensities (0-5), in a fixed AU layout.

    Attributes:
        files: One name per row (file names, or basenames for the official pickle).
        values: (len(files), len(au_names)) float64 raw intensities.
        au_names: The column layout.
        skipped: Rows the reader left out, with reasons.
        source: The file it was read from, if any.

    Examples:
        >>> t = AUTable(("a.jpg",), np.full((1, 2), 2.5), ("AU06", "AU12"))
        >>> t.normalised()
        tensor([[0.5000, 0.5000]])
        >>> t.select(("AU12",)).values.shape
        (1, 1)
    """

    files: tuple[str, ...]
    values: NDArray[np.float64]
    au_names: tuple[str, ...] = AU_NAMES
    skipped: tuple[SkippedRow, ...] = ()
    source: Path | None = None

    def __post_init__(self) -> None:
        if self.values.shape != (len(self.files), len(self.au_names)):
            raise ValueError(
                f"values has shape {self.values.shape}, expected ({len(self.files)}, {len(self.au_names)}) "
                "(one row per file, one column per AU)"
            )

    def __len__(self) -> int:
        return len(self.files)

    def as_dict(self) -> dict[str, NDArray[np.float64]]:
        """``{file: raw AU row}``."""
        return {name: self.values[i] for i, name in enumerate(self.files)}

    def select(self, au_names: Sequence[str]) -> AUTable:
        """The same rows with the columns ``au_names``, in that order.

        Raises:
            ValueError: If an AU of ``au_names`` is not a column of this table.
        """
        wanted = check_au_names(au_names)
        missing = [n for n in wanted if n not in self.au_names]
        if missing:
            raise ValueError(f"AU table has no column for {missing}; it has {list(self.au_names)}")
        columns = [self.au_names.index(n) for n in wanted]
        return AUTable(self.files, self.values[:, columns], wanted, self.skipped, self.source)

    def normalised(self, scale: float = AU_SCALE) -> Tensor:
        """(N, num_aus) float32 tensor of ``values / scale`` (default: raw / 5, i.e. [0, 1])."""
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a positive number (default 5), got {scale}")
        return torch.from_numpy((self.values / scale).astype(np.float32))


class LabelRows:
    """Collects a reader's parsed rows and the ones it skips, then builds the
    [`AUTable`][ganimation_lib.data.label_rows.AUTable].

    A repeated file name is skipped as a duplicate; with ``strict`` the first skipped row raises instead.

    Args:
        path: The file being read (named in errors and kept as the table's ``source``).
        au_names: The layout of the rows' values.
        strict: Raise [`DataFormatError`][ganimation_lib.data.errors.DataFormatError] on the first bad row.

    Examples:
        >>> rows = LabelRows(Path("aus.csv"), ("AU12",), strict=False)
        >>> rows.add(2, "a.jpg", [1.5], "")
        >>> rows.add(3, "a.jpg", [2.0], "")
        >>> rows.add(4, "b.jpg", None, "text 'x' in AU12")
        >>> table = rows.table()
        >>> table.files, [s.reason for s in table.skipped]
        (('a.jpg',), ["duplicate of an earlier row for 'a.jpg'", "text 'x' in AU12"])
    """

    def __init__(self, path: Path, au_names: tuple[str, ...], strict: bool) -> None:
        self.path = path
        self.au_names = au_names
        self.strict = strict
        self.files: list[str] = []
        self.values: list[list[float]] = []
        self.skipped: list[SkippedRow] = []
        self._seen: set[str] = set()

    def add(self, line: int, file: str, values: list[float] | None, reason: str) -> None:
        """Keep the row ``file`` with ``values``, or skip it for ``reason`` when ``values`` is ``None``."""
        if values is not None and file in self._seen:
            values, reason = None, f"duplicate of an earlier row for {file!r}"
        if values is None:
            if self.strict:
                raise DataFormatError(f"{reason} (file {file!r})" if file else reason, self.path, line)
            self.skipped.append(SkippedRow(line, file, reason))
            return
        self._seen.add(file)
        self.files.append(file)
        self.values.append(values)

    def table(self) -> AUTable:
        """The kept rows as an [`AUTable`][ganimation_lib.data.label_rows.AUTable], with the skipped ones in its
        ``skipped``."""
        array = np.asarray(self.values, dtype=np.float64).reshape(len(self.values), len(self.au_names))
        return AUTable(tuple(self.files), array, self.au_names, tuple(self.skipped), self.path)
