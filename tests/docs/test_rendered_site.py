"""The docs site renders the way readers see it.

* No reST markup: a Sphinx role (``:class:`Generator```) is not rendered by mkdocstrings: the page shows ":class:"
  followed by the name in code. The docstrings link with ``[`Generator`][ganimation_lib.models.generator.Generator]``.
* The API reference is a page of the top-level names (what ``from ganimation_lib import X`` gives), each linking to
  its one documented anchor, then one page per package, so no page's contents list is every name of the library
  (it was 403 entries long on the single API page).
* Code blocks wrap (``docs/stylesheets/extra.css``) instead of scrolling sideways.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import ganimation_lib

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


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built with ``mkdocs build --strict`` (a broken cross-reference or a missing page fails it)."""
    pytest.importorskip("mkdocstrings")
    built = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(built)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    return built


def test_the_built_site_shows_no_raw_markup(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert any(page.name == "index.html" and page.parent.name == "api" for page in pages)
    found = {str(page.relative_to(site)): marks for page in pages if (marks := raw_markup(page.read_text("utf-8")))}
    assert not found, f"raw reST markup in the built site: {found}"


class _Page(HTMLParser):
    """What a built page offers a reader: its element ids, the links of its text and its contents list.

    ``links`` are the ``(href, text)`` of the ``<a>`` elements inside ``<article>``; ``toc`` is the depth (1 =
    top level) of each entry of the first right-hand contents list (Material renders it twice, the second time
    inside the left navigation for small screens); ``stylesheets`` are the hrefs of ``<link rel="stylesheet">``.
    """

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []
        self.toc: list[int] = []
        self.stylesheets: list[str] = []
        self._open: list[str] = []  # the role of each open element: "toc", "article", "ul", "a" or ""
        self._in_toc = self._toc_done = False
        self._article = 0
        self._link: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "link" and found.get("rel") == "stylesheet":
            self.stylesheets.append(str(found.get("href")))
        if tag in self.VOID:
            return
        role = ""
        if tag == "nav" and "md-nav--secondary" in classes and not self._in_toc and not self._toc_done:
            role, self._in_toc = "toc", True
        elif tag == "article":
            role, self._article = "article", self._article + 1
        elif tag == "ul" and self._in_toc:
            role = "ul"
        elif tag == "a" and self._in_toc and "md-nav__link" in classes:
            self.toc.append(self._open.count("ul"))
        elif tag == "a" and self._article:
            role, self._link = "a", (str(found.get("href") or ""), [])
        self._open.append(role)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID or not self._open:
            return
        role = self._open.pop()
        if role == "toc":
            self._in_toc, self._toc_done = False, True
        elif role == "article":
            self._article -= 1
        elif role == "a" and self._link is not None:
            self.links.append((self._link[0], "".join(self._link[1]).strip()))
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._link[1].append(data)


def read_page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text("utf-8"))
    return page


def test_the_page_reader_sees_ids_links_and_the_contents_list() -> None:
    page = _Page()
    page.feed(
        '<link rel="stylesheet" href="s.css"><nav class="md-nav md-nav--secondary"><ul><li>'
        '<a class="md-nav__link" href="#a">a</a><nav><ul><li><a class="md-nav__link" href="#b">b</a></li></ul>'
        '</nav></li></ul></nav><nav class="md-nav md-nav--secondary"><ul><li><a class="md-nav__link">x</a></ul>'
        '</nav><article><h2 id="a">A</h2><p><a href="p/#b"><code>B</code></a></p></article>'
    )
    assert (page.toc, page.ids, page.links, page.stylesheets) == ([1, 2], {"a"}, [("p/#b", "B")], ["s.css"])


API_PAGE = "api/index.html"
# The packages of ganimation_lib whose API has its own page; the command line is documented by --help and the guides.
UNDOCUMENTED_PACKAGES = frozenset({"cli"})
PACKAGES = sorted(
    path.parent.name for path in PACKAGE.glob("*/__init__.py") if path.parent.name not in UNDOCUMENTED_PACKAGES
)
# The top-level names without a docstring of their own, linked to their module or not linked at all.
NOT_LINKED = frozenset({"__version__"})


def resolve(site: Path, page: Path, href: str) -> tuple[Path, str]:
    """The built file and the anchor that ``href``, found on ``page``, points at."""
    target, _, anchor = href.partition("#")
    if target.startswith("/"):  # 404.html links from the site's root
        path = (site / target.lstrip("/")).resolve()
    else:
        path = (page.parent / target).resolve() if target else page
    return (path / "index.html" if path.is_dir() else path), anchor


def test_the_api_index_links_every_top_level_name_to_its_documentation(site: Path) -> None:
    index = site / API_PAGE
    page = read_page(index)
    links = {text: href for href, text in page.links}
    unlinked = sorted(set(ganimation_lib.__all__) - NOT_LINKED - set(links))
    assert not unlinked, f"names of ganimation_lib.__all__ without a link on {API_PAGE}: {unlinked}"
    broken = {}
    for name in sorted(set(ganimation_lib.__all__) - NOT_LINKED):
        path, anchor = resolve(site, index, links[name])
        if not path.is_file() or anchor not in read_page(path).ids:
            broken[name] = links[name]
    assert not broken, f"links of the API index that lead nowhere: {broken}"
    text = index.read_text("utf-8")
    for name in NOT_LINKED:
        assert f"<code>{name}</code>" in text


def test_the_api_index_contents_list_is_short(site: Path) -> None:
    toc = read_page(site / API_PAGE).toc
    assert 3 <= len(toc) <= 12, f"{API_PAGE}'s contents list has {len(toc)} entries"


def test_the_api_has_one_page_per_package(site: Path) -> None:
    assert {"data", "evaluation", "inference", "losses", "models", "training"} <= set(PACKAGES)
    missing = {}
    for package in PACKAGES:
        path = site / "api" / package / "index.html"
        if not path.is_file():
            missing[package] = "no page"
            continue
        ids = read_page(path).ids
        modules = sorted(
            f"ganimation_lib.{package}.{module.stem}"
            for module in (PACKAGE / package).glob("*.py")
            if f"ganimation_lib.{package}.{module.stem}" in ids
        )
        if f"ganimation_lib.{package}" not in ids or not modules:
            missing[package] = "the package's overview or its modules are not on its page"
    assert not missing, missing
    nav = read_page(site / API_PAGE).links
    assert not [p for p in PACKAGES if not any(href.rstrip("/").endswith(p) for href, _ in nav)], (
        "the API index links every package page"
    )


def test_every_object_is_documented_on_one_page_only(site: Path) -> None:
    pages: dict[str, list[str]] = {}
    for path in sorted((site / "api").rglob("index.html")):
        for anchor in read_page(path).ids:
            if anchor.startswith("ganimation_lib"):
                pages.setdefault(anchor, []).append(str(path.relative_to(site)))
    assert len(pages) > 300, f"only {len(pages)} objects documented"
    twice = {anchor: where for anchor, where in pages.items() if len(where) > 1}
    assert not twice, f"documented on several pages (autorefs needs one anchor per object): {twice}"


# The old single API page listed 403 names, 66 of them at the top level, three levels deep (methods included).
MAX_TOC_ENTRIES = 100
MAX_TOC_TOP_LEVEL = 25
MAX_TOC_DEPTH = 2  # sections and their subsections; on API pages, modules and their members


def test_no_page_has_a_contents_list_of_every_name(site: Path) -> None:
    long = {}
    for path in sorted(site.rglob("*.html")):
        toc = read_page(path).toc
        if len(toc) > MAX_TOC_ENTRIES or toc.count(1) > MAX_TOC_TOP_LEVEL or max(toc, default=0) > MAX_TOC_DEPTH:
            long[str(path.relative_to(site))] = (len(toc), toc.count(1), max(toc, default=0))
    assert not long, f"(entries, top-level entries, depth) of contents lists too long to navigate: {long}"


def test_every_page_links_the_stylesheet_that_wraps_code(site: Path) -> None:
    css = (site / "stylesheets" / "extra.css").read_text("utf-8")
    rule = re.search(r"\.md-typeset pre > code \{([^}]*)\}", css)
    assert rule, "extra.css styles .md-typeset pre > code"
    assert re.search(r"white-space:\s*pre-wrap", rule.group(1)), "code blocks wrap"
    unlinked = []
    for path in sorted(site.rglob("*.html")):
        hrefs = read_page(path).stylesheets
        if not any(resolve(site, path, href)[0] == (site / "stylesheets" / "extra.css").resolve() for href in hrefs):
            unlinked.append(str(path.relative_to(site)))
    assert not unlinked, f"pages without stylesheets/extra.css: {unlinked}"
