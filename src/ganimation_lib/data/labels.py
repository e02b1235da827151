"""AU label files: the AU table CSV, the official ``aus_openface.pkl``, ids files and ``attributes.txt``.

Every reader returns an :class:`AUTable` of **raw** OpenFace intensities (0-5); datasets normalise them.
Malformed files raise :class:`~ganimation_lib.data.errors.DataFormatError` (a ``ValueError``); malformed
*rows* are skipped and listed in :attr:`AUTable.skipped`, or raise with ``strict=True``.

The AU table is this library's own format, written by :func:`~ganimation_lib.data.prepare.prepare_openface`
and :meth:`~ganimation_lib.data.synthetic.SyntheticFaces.write`: a ``file`` column, then one column per
AU with raw intensities::

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
import importlib
import math
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from .._atomic import atomic_text
from ..aus import AU_NAMES, AU_SCALE, canonical_au_name, check_au_names
from .errors import DataFormatError, UnsafePickleError
from .textfiles import csv_rows, open_text, parse_values

__all__ = [
    "AUTable",
    "AUTableWriter",
    "SkippedRow",
    "read_attributes_txt",
    "read_au_table",
    "read_ids",
    "read_labels",
    "read_official_pickle",
    "write_attributes_txt",
    "write_au_table",
    "write_ids",
]

# Header names accepted for the file column of an AU table (case-insensitive).
_FILE_COLUMNS = ("file", "filename", "file_name", "name", "image")


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


# ------------------------------------------------------------------------------------------------- helpers


class _Rows:
    """Collects parsed rows and skipped ones for a reader."""

    def __init__(self, path: Path, au_names: tuple[str, ...], strict: bool) -> None:
        self.path = path
        self.au_names = au_names
        self.strict = strict
        self.files: list[str] = []
        self.values: list[list[float]] = []
        self.skipped: list[SkippedRow] = []
        self._seen: set[str] = set()

    def add(self, line: int, file: str, values: list[float] | None, reason: str) -> None:
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
        array = np.asarray(self.values, dtype=np.float64).reshape(len(self.values), len(self.au_names))
        return AUTable(tuple(self.files), array, self.au_names, tuple(self.skipped), self.path)


# --------------------------------------------------------------------------------------------- AU table


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
        collected = _Rows(file_path, wanted, strict)
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


# ---------------------------------------------------------------------------------- the official pickle

# The only globals a pickle of {name: float ndarray} needs (NumPy 1 and NumPy 2 spellings), plus
# _codecs.encode, which Python 3 writes into protocol-2 pickles to rebuild bytes (a pure str -> bytes function).
_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
    # Protocol 5 (Python 3.8+ default for numpy arrays) rebuilds them from a buffer; also a pure constructor.
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Refuses every global except the three needed to rebuild NumPy arrays, before anything runs."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_ALLOWED:
            raise UnsafePickleError(
                f"refused to load '{module}.{name}': this pickle asks to run code that an AU file never needs "
                "(only numpy arrays are allowed); it was not executed. If you trust the file, convert it to an "
                "AU table CSV yourself"
            )
        if module == "_codecs":
            import codecs

            return codecs.encode
        if name in ("_reconstruct", "_frombuffer"):
            # numpy.core is a deprecated alias of numpy._core in NumPy 2; import the real module directly.
            submodule = "multiarray" if name == "_reconstruct" else "numeric"
            try:
                real = importlib.import_module(f"numpy._core.{submodule}")
            except ImportError:  # NumPy 1
                real = importlib.import_module(f"numpy.core.{submodule}")
            return getattr(real, name)
        return np.ndarray if name == "ndarray" else np.dtype


def read_official_pickle(path: str | Path, au_names: Sequence[str] = AU_NAMES, strict: bool = False) -> AUTable:
    """Read the official GANimation ``aus_openface.pkl``: ``{basename: float array (17,)}`` of raw AUs.

    The file is a Python 2 protocol-2 pickle. It is read with an unpickler that allows only the globals needed
    to rebuild NumPy arrays (``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``, and
    ``_codecs.encode``, which Python 3 uses for bytes in protocol-2 pickles), so
    a tampered file cannot run code: anything else raises :class:`~ganimation_lib.data.errors.UnsafePickleError`
    before it is called.

    Args:
        path: The pickle.
        au_names: The layout of its arrays (the official order by default).
        strict: Raise on the first bad entry instead of skipping it.

    Returns:
        A table whose ``files`` are the pickle's keys (basenames, usually without extension), sorted.

    Raises:
        UnsafePickleError: If the pickle references anything but the NumPy globals above.
        DataFormatError: If it is not a pickle of a dict of names to arrays.
    """
    file_path = Path(path)
    names = check_au_names(au_names)
    with file_path.open("rb") as handle:
        try:
            data = _ArraysOnlyUnpickler(handle, encoding="latin1").load()
        except UnsafePickleError as error:
            raise UnsafePickleError(str(error), file_path) from None
        except Exception as error:  # a corrupt pickle can raise almost anything; report it as a format error
            raise DataFormatError(f"is not a readable pickle ({type(error).__name__}: {error})", file_path) from None
    if not isinstance(data, dict):
        raise DataFormatError(f"holds a {type(data).__name__}, expected a dict of name -> AU array", file_path)
    collected = _Rows(file_path, names, strict)
    for entry, key in enumerate(sorted(data, key=str), start=1):
        value = data[key]
        if isinstance(key, bytes):
            key = key.decode("latin1")
        if not isinstance(key, str) or not key:
            collected.add(entry, str(key), None, f"key {key!r} is not a file name")
            continue
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu" or value.shape != (len(names),):
            shape = getattr(value, "shape", type(value).__name__)
            collected.add(entry, key, None, f"value is {shape}, expected a numeric array of shape ({len(names)},)")
            continue
        values, reason = parse_values([repr(float(v)) for v in value], names)
        collected.add(entry, key, values, reason)
    return collected.table()


# ------------------------------------------------------------------------------------------------ ids files


def read_ids(path: str | Path) -> tuple[str, ...]:
    """Read ``train_ids.csv`` / ``test_ids.csv``: one file name per line (blank lines ignored).

    Raises:
        DataFormatError: If the file is not UTF-8 text.
    """
    with open_text(path) as handle:
        names = [line.split(",")[0].strip() for line in handle.read().splitlines()]
    return tuple(n for n in names if n)


def write_ids(path: str | Path, names: Iterable[str]) -> Path:
    """Write an ids file (one name per line) atomically and return ``path``."""
    with atomic_text(path) as handle:
        for name in names:
            if not name or "\n" in name:
                raise ValueError(f"ids must be non-empty single-line names, got {name!r}")
            handle.write(name + "\n")
    return Path(path)


# ---------------------------------------------------------------------------------------- attributes.txt


def read_attributes_txt(path: str | Path, au_names: Sequence[str] = AU_NAMES, strict: bool = False) -> AUTable:
    """Read the ``attributes.txt`` layout: per line a file name then ``len(au_names)`` raw intensities.

    Fields are separated by whitespace; lines starting with ``#`` and blank lines are ignored.

    Raises:
        DataFormatError: If the file is not UTF-8 text (or, with ``strict``, on a bad line).
    """
    file_path = Path(path)
    names = check_au_names(au_names)
    collected = _Rows(file_path, names, strict)
    with open_text(file_path) as handle:
        for line_number, line in enumerate(handle.read().splitlines(), start=1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if len(fields) != len(names) + 1:
                collected.add(line_number, fields[0], None, f"{len(fields) - 1} values, expected {len(names)}")
                continue
            values, reason = parse_values(fields[1:], names)
            collected.add(line_number, fields[0], values, reason)
    return collected.table()


def write_attributes_txt(path: str | Path, table: AUTable) -> Path:
    """Write ``table`` in the ``attributes.txt`` layout (2 decimals, as OpenFace) atomically."""
    with atomic_text(path, newline="\n") as handle:
        for file, values in zip(table.files, table.values, strict=True):
            if any(c.isspace() for c in file):
                raise ValueError(f"attributes.txt cannot hold file names with spaces: {file!r}")
            handle.write(" ".join([file, *(f"{v:.2f}" for v in values)]) + "\n")
    return Path(path)


def _read_official_layout(
    reader: Callable[[Path, Sequence[str], bool], AUTable], path: Path, au_names: Sequence[str] | None, strict: bool
) -> AUTable:
    """Read a file whose rows are the 17 official AUs and keep ``au_names`` of them (in that order).

    A file whose rows hold exactly ``len(au_names)`` values instead (a custom layout) is read as laid out
    by ``au_names``.
    """
    if au_names is None:
        return reader(path, AU_NAMES, strict)
    wanted = check_au_names(au_names)
    if wanted == AU_NAMES:
        return reader(path, AU_NAMES, strict)
    official = reader(path, AU_NAMES, False)
    if len(official) == 0 and official.skipped:
        return reader(path, wanted, strict)  # no row has 17 values: the file is laid out as au_names
    return (reader(path, AU_NAMES, True) if strict else official).select(wanted)


def read_labels(path: str | Path, au_names: Sequence[str] | None = None, strict: bool = False) -> AUTable:
    """Read any supported label file, chosen by extension: ``.csv`` AU table, ``.pkl`` official pickle,
    ``.txt`` attributes.txt.

    ``au_names`` are the AUs to read, in this order, from any of them (default: every AU of the file). The
    pickle and attributes.txt hold the 17 official AUs per row, of which ``au_names`` are picked; one whose
    rows hold exactly ``len(au_names)`` values is read as laid out by ``au_names``.

    Raises:
        ValueError: If the extension is none of those.
    """
    file_path = Path(path)
    suffix = file_path.suffix.lower()
    if suffix == ".csv":
        return read_au_table(file_path, au_names, strict)
    if suffix in (".pkl", ".pickle"):
        return _read_official_layout(read_official_pickle, file_path, au_names, strict)
    if suffix == ".txt":
        return _read_official_layout(read_attributes_txt, file_path, au_names, strict)
    raise ValueError(
        f"don't know how to read AU labels from {file_path.name!r}; use an AU table (.csv), the official "
        "pickle (.pkl) or attributes.txt (.txt)"
    )
