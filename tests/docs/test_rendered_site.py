"""The docs site shows no reST markup: docstrings use Markdown cross-references, which mkdocstrings renders.

A Sphinx role (``:class:`Generator```) is not rendered by mkdocstrings: the page shows ":class:" followed by the
name in code. The docstrings link with ``[`Generator`][ganimation_lib.models.generator.Generator]`` instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "ganimation_lib"
ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj|const):`")
# What must not appear in a page's text outside code: roles, reST literals, and unresolved cross-references.
RAW_MARKUP = (":class:", ":meth:", ":func:", ":mod:", ":attr:", ":data:", ":exc:", "``", "][")


def _roles_by_file() -> dict[str, int]:
    counts = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        found = len(ROLE.findall(path.read_text(encoding="utf-8")))
        if found:
            counts[path.relative_to(PACKAGE).as_posix()] = found
    return counts


def test_docstrings_use_markdown_cross_references_not_sphinx_roles() -> None:
    counts = _roles_by_file()
    assert not counts, f"Sphinx roles (write [`Name`][module.Name] or `Name`) in {counts}"


class _TextOutsideCode(HTMLParser):
    """Collects the text of a page that is not inside <pre>, <code>, <script> or <style>."""

    SKIPPED = frozenset({"pre", "code", "script", "style"})

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


def raw_markup(html: str) -> dict[str, list[str]]:
    """Each piece of ``RAW_MARKUP`` in ``html``'s text outside code, with a little of the text around it."""
    parser = _TextOutsideCode()
    parser.feed(html)
    text = re.sub(r"\s+", " ", "".join(parser.parts))
    found: dict[str, list[str]] = {}
    for mark in RAW_MARKUP:
        for match in re.finditer(re.escape(mark), text):
            found.setdefault(mark, []).append(text[max(0, match.start() - 50) : match.end() + 30])
    return found


def test_the_check_finds_roles_and_literals_outside_code_only() -> None:
    page = (
        "<p>A :class:<code>~ganimation_lib.Generator</code> and ``x`` and [<code>Critic</code>][ganimation_lib.Critic]"
        "</p><pre><code>:meth:`ok` ``ok``</code></pre><p>a <code>``ok``</code> b</p>"
    )
    assert set(raw_markup(page)) == {":class:", "``", "]["}
    assert raw_markup("<p>Plain <a href='#x'><code>Generator</code></a> text.</p>") == {}


def test_the_built_site_shows_no_raw_markup(tmp_path: Path) -> None:
    pytest.importorskip("mkdocstrings")
    site = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    pages = sorted(site.rglob("*.html"))
    assert any(page.name == "index.html" and page.parent.name == "api" for page in pages)
    found = {str(page.relative_to(site)): marks for page in pages if (marks := raw_markup(page.read_text("utf-8")))}
    assert not found, f"raw reST markup in the built site: {found}"
