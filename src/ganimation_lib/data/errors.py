"""Exceptions raised for malformed data files.

All are ``ValueError`` subclasses, so ``except ValueError`` (and the ``ganimation`` command line) catches them.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataFormatError", "UnsafePickleError"]


class DataFormatError(ValueError):
    """A data file (OpenFace CSV, AU table, ids file, pickle, attributes.txt) cannot be read as documented.

    Attributes:
        path: The offending file, when known.
        line: The 1-based line number of the problem, when known.

    Examples:
        >>> str(DataFormatError("no 'file' column", path="aus.csv", line=1))
        "aus.csv, line 1: no 'file' column"
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.line = line
        where = "" if path is None else f"{path}" + ("" if line is None else f", line {line}")
        super().__init__(f"{where}: {message}" if where else message)


class UnsafePickleError(DataFormatError):
    """A pickle asked to load something other than plain NumPy arrays; nothing from it was run."""
