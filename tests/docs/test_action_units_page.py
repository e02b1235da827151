"""docs/action-units.md documents every AU of the vector and every expression preset, with its pictures.

An AU or preset added to ``ganimation_lib.aus`` without a line on the page fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ganimation_lib.aus import AU_DESCRIPTIONS, AU_NAMES, EXPRESSIONS

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE = DOCS / "action-units.md"


@pytest.fixture(scope="module")
def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def _table_rows(text: str, first_cell: str) -> list[str]:
    """The Markdown table rows whose first cell starts with ``first_cell``."""
    return [line for line in text.splitlines() if re.match(rf"\|\s*{re.escape(first_cell)}\b", line)]


@pytest.mark.parametrize("au", AU_NAMES)
def test_every_au_is_described_with_its_facs_name_and_openface_column(page: str, au: str) -> None:
    position = AU_NAMES.index(au)
    vector_rows = _table_rows(page, str(position))
    assert any(f"| {au} |" in row and f"`{au}_r`" in row for row in vector_rows), (
        f"{au} (position {position}) has no row with its OpenFace column `{au}_r` in the vector table of {PAGE}"
    )
    assert any(AU_DESCRIPTIONS[au] in row for row in vector_rows), f"{au}'s FACS name is missing from {PAGE}"
    assert _table_rows(page, f"{au} {AU_DESCRIPTIONS[au]}"), f"{au} has no row in 'What each AU moves' of {PAGE}"
    assert _table_rows(page, au), f"{au} has no row in the changed-pixel table of {PAGE}"


@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_every_preset_is_listed_with_its_aus(page: str, name: str) -> None:
    rows = _table_rows(page, name)
    assert rows, f"preset {name!r} has no row in {PAGE}"
    for au in EXPRESSIONS[name]:
        assert au in rows[0], f"preset {name!r}: {au} is missing from its row in {PAGE}"


def test_the_pictures_exist(page: str) -> None:
    pictures = re.findall(r"\]\((images/[^)]+\.png)\)", page)
    assert pictures, f"{PAGE} shows no picture"
    for picture in pictures:
        assert (DOCS / picture).is_file(), f"{PAGE} shows {picture}, which does not exist"
