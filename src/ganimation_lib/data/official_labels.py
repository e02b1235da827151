"""The official GANimation dataset's label files: ``aus_openface.pkl``, ``attributes.txt`` and the ids files.

The pickle and ``attributes.txt`` hold raw OpenFace intensities (0-5) of the 17 official AUs per row; the
ids files (``train_ids.csv``, ``test_ids.csv``) name the images of each split, one per line.

Examples:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "attributes.txt").write_text("a.jpg " + " ".join(["1.5"] * 17) + "\\n")
    >>> table = read_attributes_txt(folder / "attributes.txt")
    >>> table.files, float(table.values[0, 0])
    (('a.jpg',), 1.5)
    >>> read_ids(write_ids(folder / "train_ids.csv", ["a.jpg", "b.jpg"]))
    ('a.jpg', 'b.jpg')
"""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic_files import atomic_text
from ..aus import AU_NAMES, check_au_names
from .errors import DataFormatError, UnsafePickleError
from .label_rows import AUTable, LabelRows
from .textfiles import open_text, parse_values

__all__ = ["read_attributes_txt", "read_ids", "read_official_pickle", "write_attributes_txt", "write_ids"]

# --------------------------------------------------------------------------------- the official pickle

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
    a tampered file cannot run code: anything else raises
    [`UnsafePickleError`][ganimation_lib.data.errors.UnsafePickleError] before it is called.

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
    collected = LabelRows(file_path, names, strict)
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


# -------------------------------------------------------------------------------------- attributes.txt


def read_attributes_txt(path: str | Path, au_names: Sequence[str] = AU_NAMES, strict: bool = False) -> AUTable:
    """Read the ``attributes.txt`` layout: per line a file name then ``len(au_names)`` raw intensities.

    Fields are separated by whitespace; lines starting with ``#`` and blank lines are ignored.

    Raises:
        DataFormatError: If the file is not UTF-8 text (or, with ``strict``, on a bad line).
    """
    file_path = Path(path)
    names = check_au_names(au_names)
    collected = LabelRows(file_path, names, strict)
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
