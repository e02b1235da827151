"""The training logs' files: CSV rows appended whole, and the logs trimmed back on a resume.

A run killed while appending to ``logs/metrics.jsonl`` can leave a partial last line (no newline, cut-off
JSON). On a resume that line is dropped, as [`MetricsLogger`][ganimation_lib.training.callbacks.MetricsLogger]
drops every record logged after the checkpoint; a line that cannot be read elsewhere in the file (edited
by hand, say) is kept as it is, never a reason to stop the resume.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..atomic_files import append_whole, atomic_text

__all__ = ["append_csv_row", "trim_csv", "trim_jsonl"]


def _step_of(line: str) -> int | None:
    """The ``step`` of a JSON record line, or ``None`` when the line is not a readable record."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    step = record.get("step", 0) if isinstance(record, dict) else None
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def trim_jsonl(path: Path, step: int) -> int:
    """Remove the records of steps after ``step`` from the JSON-lines file ``path``, and a partial last line.

    The file is rewritten atomically, and only when something is removed. Blank lines are dropped.

    Args:
        path: The ``metrics.jsonl`` file (nothing happens when it does not exist).
        step: The step the run resumes from.

    Returns:
        How many lines were removed.

    Examples:
        >>> import tempfile
        >>> log = Path(tempfile.mkdtemp()) / "metrics.jsonl"
        >>> _ = log.write_text('{"step": 1}\\n{"step": 2}\\n{"step": 3, "loss": 0.')
        >>> trim_jsonl(log, 1), log.read_text()
        (2, '{"step": 1}\\n')
    """
    if not path.is_file():
        return 0
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    # The piece after the last newline is a line the crash cut off (or "" when the file ends cleanly).
    partial = lines.pop()
    kept = []
    for line in lines:
        if not line.strip():
            continue
        found = _step_of(line)
        if found is None or found <= step:
            kept.append(line)
    removed = len(lines) - len(kept) + (1 if partial.strip() else 0)
    if removed:
        with atomic_text(path, newline=None) as handle:
            handle.write("".join(line + "\n" for line in kept))
    return removed


def trim_csv(path: Path, step: int) -> int:
    """Remove the rows of steps after ``step`` from the CSV log ``path`` (rewritten atomically when needed).

    Examples:
        >>> import tempfile
        >>> log = Path(tempfile.mkdtemp()) / "train.csv"
        >>> _ = log.write_text("step,loss\\n1,0.5\\n2,0.4\\n")
        >>> trim_csv(log, 1), log.read_text().splitlines()
        (1, ['step,loss', '1,0.5'])
    """
    if not path.is_file():
        return 0
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    kept_rows = [row for row in rows if int(row.get("step") or 0) <= step]
    if len(kept_rows) < len(rows):
        with atomic_text(path) as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(kept_rows)
    return len(rows) - len(kept_rows)


def append_csv_row(path: Path, record: Mapping[str, Any], columns: Sequence[str] | None) -> list[str]:
    """Append ``record`` as one whole row to the CSV file ``path``; return the header now in use.

    ``columns`` is the header the caller last saw (``None``: read it from the file). A record with a new
    key (e.g. the first generator iteration's losses) rewrites the file atomically with the wider header,
    so a failed rewrite loses no row already logged; the row itself is appended whole or not at all.

    Examples:
        >>> import tempfile
        >>> log = Path(tempfile.mkdtemp()) / "train.csv"
        >>> header = append_csv_row(log, {"step": 1}, None)
        >>> append_csv_row(log, {"step": 2, "loss": 0.5}, header)
        ['step', 'loss']
        >>> log.read_text().splitlines()
        ['step,loss', '1,', '2,0.5']
    """
    if columns is None and path.exists():
        with open(path, encoding="utf-8", newline="") as handle:
            columns = next(csv.reader(handle), None)
    new = [k for k in record if columns is None or k not in columns]
    if columns is None or new:
        old_rows: list[dict[str, str]] = []
        if path.exists():
            with open(path, encoding="utf-8", newline="") as handle:
                old_rows = list(csv.DictReader(handle))
        columns = [*(columns or []), *new]
        with atomic_text(path) as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(old_rows)
    line = io.StringIO(newline="")
    csv.DictWriter(line, fieldnames=columns).writerow(dict(record))
    append_whole(path, line.getvalue().encode("utf-8"))
    return list(columns)
