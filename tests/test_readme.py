"""The README's usage example runs as written."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PROJECT_ROOT


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def test_readme_usage_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = _python_blocks((PROJECT_ROOT / "README.md").read_text(encoding="utf-8"))
    assert blocks, "the README must show a Python usage example"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})
    printed = capsys.readouterr().out
    assert "torch.Size([4, 1, 2, 2]) torch.Size([4, 17])" in printed
    assert printed.count("True") == 2
