"""Counting what happened to each item and keeping a few examples: how the data package's reports are built.

[`DatasetReport`][ganimation_lib.data.dataset.DatasetReport] (what ``AUDataset`` skipped) and
[`PrepareSummary`][ganimation_lib.data.prepare.PrepareSummary] (where ``prepare`` put every image) both count items per
category and show a few names of each, so a user can find the files; they share this one way of doing it.

Examples:
    >>> from dataclasses import dataclass, field
    >>> @dataclass
    ... class Report(CountsWithExamples):
    ...     missing: int = 0
    ...     examples: dict[str, list[str]] = field(default_factory=dict)
    >>> report = Report()
    >>> for name in "abcdefg":
    ...     report.count("missing", name)
    >>> report.missing, report.examples
    (7, {'missing': ['a', 'b', 'c', 'd', 'e']})
"""

from __future__ import annotations

from typing import Final

__all__ = ["EXAMPLES_KEPT", "CountsWithExamples"]

#: How many examples each category keeps: enough to find the files, short enough for one line.
EXAMPLES_KEPT: Final[int] = 5


class CountsWithExamples:
    """Mixin for report dataclasses: one ``int`` field per category, and ``examples`` of each.

    The subclass declares the counters and ``examples: dict[str, list[str]]`` (a dataclass field, so it
    stays in the subclass's own field order).
    """

    examples: dict[str, list[str]]

    def count(self, category: str, example: str) -> None:
        """Add one to the counter ``category`` and keep ``example`` if it has fewer than 5 examples yet.

        Raises:
            AttributeError: If ``category`` is not a counter of this report.
        """
        setattr(self, category, getattr(self, category) + 1)
        shown = self.examples.setdefault(category, [])
        if len(shown) < EXAMPLES_KEPT:
            shown.append(example)
