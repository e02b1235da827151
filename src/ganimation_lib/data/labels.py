"""AU label files: any of them by extension ([`read_labels`][ganimation_lib.data.labels.read_labels]), and every reader
and writer in one place.

Every reader returns an [`AUTable`][ganimation_lib.data.label_rows.AUTable] of **raw** OpenFace intensities
(0-5); datasets normalise them. Malformed files raise [`DataFormatError`][ganimation_lib.data.errors.DataFormatError]
(a ``ValueError``); malformed *rows* are skipped and listed in ``AUTable.skipped``, or raise with
``strict=True``. The formats live in their own modules and are re-exported here:

* the AU table CSV, this library's own format ([`au_table`][ganimation_lib.data.au_table]);
* the official dataset's ``aus_openface.pkl``, ``attributes.txt`` and ids files
  ([`official_labels`][ganimation_lib.data.official_labels]);
* the table and row types every reader shares ([`label_rows`][ganimation_lib.data.label_rows]).

Examples:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_au_table(folder / "aus.csv", {"a.jpg": [1.0] * 17, "b.jpg": [0.5] * 17})
    >>> table = read_labels(folder / "aus.csv", ["AU12"])
    >>> table.files, table.au_names, float(table.values[1, 0])
    (('a.jpg', 'b.jpg'), ('AU12',), 0.5)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..aus import AU_NAMES, check_au_names
from .au_table import AUTableWriter as AUTableWriter
from .au_table import read_au_table as read_au_table
from .au_table import write_au_table as write_au_table
from .label_rows import AUTable as AUTable
from .label_rows import SkippedRow as SkippedRow
from .official_labels import read_attributes_txt as read_attributes_txt
from .official_labels import read_ids as read_ids
from .official_labels import read_official_pickle as read_official_pickle
from .official_labels import write_attributes_txt as write_attributes_txt
from .official_labels import write_ids as write_ids

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
