"""Reading the training logs back on a resume, tolerating what a crash leaves behind.

A run killed while appending to ``logs/metrics.jsonl`` can leave a partial last line (no newline, cut-off
JSON). On a resume that line is dropped, as :class:`~ganimation_lib.training.callbacks.MetricsLogger`
drops every record logged after the checkpoint; a line that cannot be read elsewhere in the file (edited
by hand, say) is kept as it is, never a reason to stop the resume.
"""

from __future__ import annotations

import json
from pathlib import Path

from .._atomic import atomic_text

__all__ = ["trim_jsonl"]


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
