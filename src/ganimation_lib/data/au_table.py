"""The AU table CSV, this library's own label format: a ``file`` column, then one column per AU (raw 0-5).

It is written by [`prepare_openface`][ganimation_lib.data.prepare.prepare_openface] and
[`write`][ganimation_lib.data.synthetic.SyntheticFaces.write]:

    file,AU01,AU02,...,AU45
    0001.jpg,0.0000,1.2300,...,0.0000

Examples:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_au_table(folder / "aus.csv", {"a.jpg": [1.0] * 17, "b.jpg": [0.5] * 17})
    >>> table = read_au_table(folder / "aus.csv")
    >>> table.files, table.values.shape, float(table.values[1, 0])
    (('a.jpg', 'b.jpg'), (2, 17), 0.5)
"""

from __future__ import annotations

import contextlib
import csv
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..atomic_files import atomic_text
from ..aus import AU_NAMES, canonical_au_name, check_au_names
from .errors import DataFormatError
from .label_rows import AUTable, LabelRows
from .textfiles import csv_rows, open_text, parse_values

__all__ = ["AUTableWriter", "read_au_table", "write_au_table"]

# Header names accepted for the file column of an AU table (case-insensitive).
_FILE_COLUMNS = ("file", "filename", "file_name", "name", "image")


def read_au_table(path: str | Path, au_names: Sequence[str] | None = None, strict: bool = False) -> AUTable:
    """Read an AU table CSV (a ``file`` column + one column per AU, raw 0-5).

    Columns are found by name (``AU12`` or ``AU12_r``; ``_c`` presence columns are ignored), so their order
    does not matter and extra columns are allowed. Both ``,`` and ``, `` separators are accepted.

    Args:
        path: The CSV file.
        au_names: AUs to read, in this order (default: every AU column, in file order).
        strict: Raise on the first bad row instead of skipping it.

    Returns:
        The table; rows with text (anything but a plain decimal number, so ``0_1`` too), NaN, values outside
        [0, 5], the wrong number of fields or a repeated file name are skipped and listed in ``skipped``.

    Raises:
        DataFormatError: If the file is empty, not UTF-8 text, has no ``file`` column, no AU columns or lacks
            a requested AU (or, with ``strict``, has a bad row).
        FileNotFoundError: If ``path`` does not exist.
    """
    file_path = Path(path)
    with open_text(file_path) as handle:
        rows = csv_rows(handle, file_path)
        header_line = next(rows, None)
        if header_line is None:
            raise DataFormatError("is empty; expected a header 'file,AU01,AU02,...'", file_path)
        _, header = header_line
        names = [h.strip() for h in header]
        lowered = [n.lower() for n in names]
        file_column = next((lowered.index(c) for c in _FILE_COLUMNS if c in lowered), None)
        if file_column is None:
            raise DataFormatError(f"has no file column (one of {list(_FILE_COLUMNS)}); header is {names}", file_path, 1)
        columns: dict[str, int] = {}
        for position, name in enumerate(names):
            if position == file_column or name.lower().endswith("_c"):
                continue
            try:
                au = canonical_au_name(name)
            except ValueError:
                continue  # not an AU column (e.g. a confidence column): ignored
            if au in columns:
                raise DataFormatError(f"has two columns for {au}: {names[columns[au]]!r} and {name!r}", file_path, 1)
            columns[au] = position
        if not columns:
            raise DataFormatError(f"has no AU columns (named like 'AU12'); header is {names}", file_path, 1)
        wanted = tuple(columns) if au_names is None else check_au_names(au_names)
        missing = [au for au in wanted if au not in columns]
        if missing:
            raise DataFormatError(f"has no column for {missing}; it has {list(columns)}", file_path, 1)
        positions = [columns[au] for au in wanted]
        collected = LabelRows(file_path, wanted, strict)
        for line, fields in rows:
            if len(fields) != len(names):
                file = fields[file_column].strip() if len(fields) > file_column else ""
                collected.add(line, file, None, f"{len(fields)} fields, but the header has {len(names)}")
                continue
            file = fields[file_column].strip()
            if not file:
                collected.add(line, "", None, "empty file name")
                continue
            values, reason = parse_values([fields[p] for p in positions], wanted)
            collected.add(line, file, values, reason)
    return collected.table()


class AUTableWriter:
    """Writes an AU table one row at a time (constant memory), atomically.

    Use as a context manager: the file appears under its name only when the block ends without an exception.

    Args:
        path: Destination CSV.
        au_names: Column layout (default: the 17 OpenFace AUs).
        decimals: Digits after the point (OpenFace itself writes 2).

    Examples:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "aus.csv"
        >>> with AUTableWriter(target, au_names=("AU12",)) as writer:
        ...     writer.write("a.jpg", [3.5])
        >>> target.read_text().splitlines()
        ['file,AU12', 'a.jpg,3.5000']
    """

    def __init__(self, path: str | Path, au_names: Sequence[str] = AU_NAMES, decimals: int = 4) -> None:
        self.path = Path(path)
        self.au_names = check_au_names(au_names)
        self.decimals = decimals
        self.count = 0
        self._stack = contextlib.ExitStack()
        self._writer: Any = None

    def __enter__(self) -> AUTableWriter:
        handle = self._stack.enter_context(atomic_text(self.path))
        self._writer = csv.writer(handle, lineterminator="\n")
        self._writer.writerow(["file", *self.au_names])
        return self

    def write(self, file: str, values: Sequence[float] | NDArray[np.floating]) -> None:
        """Append one row of raw intensities.

        Raises:
            ValueError: If ``values`` has the wrong length or non-finite values, or ``file`` is empty.
        """
        if self._writer is None:
            raise ValueError("AUTableWriter.write called outside its 'with' block")
        row = [float(v) for v in values]
        if len(row) != len(self.au_names):
            raise ValueError(f"{file!r}: {len(row)} AU values, but the table has {len(self.au_names)} columns")
        if not file or any(not math.isfinite(v) for v in row):
            raise ValueError(f"row {file!r} needs a file name and finite values, got {row}")
        self._writer.writerow([file, *(f"{v:.{self.decimals}f}" for v in row)])
        self.count += 1

    def __exit__(self, *exc_info: object) -> None:
        self._writer = None
        self._stack.__exit__(*exc_info)  # type: ignore[arg-type]


def write_au_table(
    path: str | Path,
    rows: AUTable | Mapping[str, Sequence[float] | NDArray[np.floating]] | Iterable[tuple[str, Sequence[float]]],
    au_names: Sequence[str] = AU_NAMES,
) -> Path:
    """Write an AU table CSV atomically; ``rows`` maps file names to raw intensities (or is an AUTable).

    Returns:
        ``path``.

    Examples:
        >>> import tempfile, pathlib
        >>> p = write_au_table(pathlib.Path(tempfile.mkdtemp()) / "t.csv", [("x.png", [1, 2])], ("AU01", "AU02"))
        >>> p.read_text()
        'file,AU01,AU02\\nx.png,1.0000,2.0000\\n'
    """
    items: Iterator[tuple[str, Sequence[float] | NDArray[np.floating]]]
    if isinstance(rows, AUTable):
        au_names, items = rows.au_names, iter(zip(rows.files, rows.values, strict=True))
    elif isinstance(rows, Mapping):
        items = iter(rows.items())
    else:
        items = iter(rows)
    with AUTableWriter(path, au_names) as writer:
        for file, values in items:
            writer.write(file, values)
    return Path(path)
