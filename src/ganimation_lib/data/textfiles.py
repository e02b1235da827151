"""Reading text label files: UTF-8 text, CSV records and strictly parsed numbers.

Shared by the AU-table, ``attributes.txt`` and OpenFace readers, so every one of them accepts and refuses
the same things.

Examples:
    >>> parse_number(" 0.25 "), parse_number("1e-3")
    (0.25, 0.001)
    >>> parse_number("0_1")  # Python's float() reads this as 1.0
    Traceback (most recent call last):
    ...
    ValueError: '0_1' is not a decimal number
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from ..aus import AU_SCALE
from .errors import DataFormatError

__all__ = ["csv_rows", "open_text", "parse_number", "parse_values"]

# What a CSV writer (OpenFace, NumPy, Python, a spreadsheet) writes for a number: ASCII digits with an
# optional sign, point and exponent, or nan/inf. float() accepts more: "0_1" (= 1.0, digit grouping in
# Python source), non-ASCII digits ("١"), which no such writer produces, so such text is a damaged field.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:nan|inf|infinity)", re.I)


def parse_number(text: str) -> float:
    """Parse a decimal number as CSV files write it (surrounding spaces allowed); NaN and inf pass.

    Raises:
        ValueError: If ``text`` is anything else, including what Python's ``float`` also accepts but no
            data file writes: underscores (``"0_1"``), non-ASCII digits.
    """
    stripped = text.strip()
    if _DECIMAL.fullmatch(stripped) is None:
        shown = stripped if len(stripped) <= 20 else stripped[:17] + "..."
        raise ValueError(f"{shown!r} is not a decimal number")
    return float(stripped)


def parse_values(
    fields: Sequence[str], names: Sequence[str], low: float = 0.0, high: float = AU_SCALE
) -> tuple[list[float] | None, str]:
    """Parse one row's AU fields; return ``(values, "")`` or ``(None, reason)``.

    A field is refused when it is not a decimal number (`parse_number`), is NaN or infinite, or lies
    outside ``[low, high]`` (OpenFace's raw intensity scale 0-5 by default).

    Examples:
        >>> parse_values(["1.5", "0"], ["AU01", "AU02"])
        ([1.5, 0.0], '')
        >>> parse_values(["1.5", "5.5"], ["AU01", "AU02"])
        (None, 'AU02 = 5.5 is outside the raw range [0, 5]')
    """
    values: list[float] = []
    for field, name in zip(fields, names, strict=True):
        text = field.strip()
        try:
            value = parse_number(text)
        except ValueError:
            shown = text if len(text) <= 20 else text[:17] + "..."
            return None, f"text {shown!r} in {name}"
        if not math.isfinite(value):
            return None, f"{name} is {text!r} (NaN or infinite)"
        if not low <= value <= high:
            return None, f"{name} = {value:g} is outside the raw range [{low:g}, {high:g}]"
        values.append(value)
    return values, ""


@contextlib.contextmanager
def open_text(path: str | Path) -> Iterator[TextIO]:
    """Open a text file as UTF-8 (a BOM is dropped), turning decoding problems into DataFormatError."""
    file_path = Path(path)
    try:
        raw = file_path.read_bytes()
    except IsADirectoryError:
        raise DataFormatError("is a folder, expected a file", file_path) from None
    if b"\x00" in raw:
        raise DataFormatError("contains NUL bytes: this is a binary file, not text", file_path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataFormatError(
            f"is not UTF-8 text (byte {error.start}: {raw[error.start : error.start + 1]!r}); re-save it as UTF-8",
            file_path,
        ) from None
    yield io.StringIO(text, newline="")


def csv_rows(handle: TextIO, path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for each non-empty CSV record; separators ``,`` and ``, `` both work."""
    reader = csv.reader(handle, skipinitialspace=True)
    try:
        for fields in reader:
            if fields and any(f.strip() for f in fields):
                yield reader.line_num, fields
    except csv.Error as error:
        raise DataFormatError(f"is not valid CSV: {error}", path, reader.line_num) from None
