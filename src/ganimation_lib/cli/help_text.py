"""Help text for the terminal: module docstrings without their Markdown, and what an unset setting means.

The docstrings are written for the documentation site, where ``[`Name`][module.Name]`` is a link and backticks
mark code. A command whose ``--help`` shows its module docstring passes it through `terminal_text`, so the
terminal gets plain names instead of link syntax and backticks.
"""

from __future__ import annotations

import re

__all__ = ["UNSET_TRAINER_FIELDS", "terminal_text"]

# [`Name`][identifier] or [Name][identifier] (a cross-reference of mkdocs-autorefs), or [`Name`][] (the same, short).
_CROSS_REFERENCE = re.compile(r"\[`?([^\]`]+)`?\]\[[^\]\s]*\]")
# ``code`` (reST literal, also code in Markdown) or `code`.
_CODE = re.compile(r"``(.+?)``|`([^`]+)`", re.DOTALL)

#: What ``ganimation train`` does when a `TrainerConfig` field whose default is ``None`` is not given
#: (the help shows this instead of "default: None"); the run's length is decided by ``TrainerConfig.limits``.
UNSET_TRAINER_FIELDS: dict[str, str] = {
    "max_epochs": (
        "default: lr_constant + lr_decay epochs (20 + 10 = 30 in the official recipe) when neither --max-steps nor "
        "--max-time is given and lr_unit is 'epoch'; otherwise no epoch limit (--recipe fast counts steps: none)"
    ),
    "max_steps": "default: no step limit",
    "max_time": "default: no time limit (seconds)",
    "ema_decay": "default: none (no EMA of the generator)",
    "grad_clip": "default: none (no gradient clipping)",
}


def terminal_text(text: str | None) -> str:
    """``text`` with cross-references reduced to their names and code marks removed, for a terminal.

    Examples:
        >>> terminal_text("Every [`TrainerConfig`][ganimation_lib.training.config.TrainerConfig] field")
        'Every TrainerConfig field'
        >>> terminal_text("``ganimation train``: see `fit` and ``--max-epochs``.")
        'ganimation train: see fit and --max-epochs.'
        >>> terminal_text(None)
        ''
    """
    if not text:
        return ""
    plain = _CROSS_REFERENCE.sub(r"\1", text)
    return _CODE.sub(lambda match: match.group(1) or match.group(2), plain)
