"""``ganimation --help`` and every sub-command's ``--help`` read as plain text, and say what the defaults do."""

from __future__ import annotations

import re

import pytest

from ganimation_lib.cli import build_parser
from ganimation_lib.cli.help_text import terminal_text
from ganimation_lib.training import TrainerConfig

COMMANDS = ("prepare", "synthetic", "convert", "train", "evaluate", "edit", "animate", "faces", "export", "app", "demo")
# Sphinx roles, reST literals and Markdown cross-references belong to the docs site, not to a terminal.
MARKUP = re.compile(r":(?:class|meth|func|mod|attr|data|exc):|``|\]\[")


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args([*argv, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


def test_every_sub_command_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    # The help lists each sub-command at the start of an indented line, under "COMMAND".
    section = _help(capsys).split("  COMMAND\n", 1)[1].split("\n\n", 1)[0]
    listed = re.findall(r"^    ([a-z-]+)", section, flags=re.MULTILINE)
    assert sorted(listed) == sorted(COMMANDS)


@pytest.mark.parametrize("command", [(), *((name,) for name in COMMANDS)], ids=["ganimation", *COMMANDS])
def test_help_shows_no_markup(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, *command)
    assert text.startswith("usage: ganimation")
    assert not MARKUP.findall(text), [line for line in text.splitlines() if MARKUP.search(line)]


def test_train_help_is_its_docstring_without_markup(capsys: pytest.CaptureFixture[str]) -> None:
    from ganimation_lib.cli import train

    assert train.__doc__ is not None and "``" in train.__doc__  # what the help has to strip
    text = _help(capsys, "train")
    assert "ganimation train: train on an image folder" in text
    assert "Every TrainerConfig field is a flag (--n-critic 5)" in " ".join(text.split())


def test_train_help_says_how_long_training_runs_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(_help(capsys, "train").split())
    epochs = text.split("--max-epochs MAX_EPOCHS")[-1].split("--max-time MAX_TIME")[0]  # the option, not the usage line
    assert "None" not in epochs
    official = TrainerConfig.official()
    assert official.limits(None) == (None, 30)  # what the help states: 20 + 10 = 30 epochs
    assert f"{official.lr_constant} + {official.lr_decay} = 30" in epochs
    assert TrainerConfig.fast().limits(None) == (None, None)  # and "--recipe fast counts steps: none"
    assert "--recipe fast" in epochs


def test_terminal_text_strips_cross_references_and_code_marks() -> None:
    text = "A [`Generator`][ganimation_lib.models.generator.Generator], ``{...,\n...}`` and `fit`."
    assert terminal_text(text) == "A Generator, {...,\n...} and fit."
