"""The example notebooks are committed with their outputs (issue 14): check what a reader will see.

pytest also executes every notebook (``--nbmake``); these tests check the saved files, which nbmake does not:
that ``make notebooks`` was run and its outputs committed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXPECTED = ("01_quickstart", "02_openface_to_dataset", "03_your_photos", "04_swapping_parts")
MAX_BYTES = 1_500_000
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def problems(notebook: dict[str, Any]) -> list[str]:
    """What is missing or wrong in a saved notebook: code cells without outputs, errors, no picture."""
    found: list[str] = []
    images = 0
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code" or not "".join(cell["source"]).strip():
            continue
        outputs = cell.get("outputs", [])
        if not outputs:
            found.append(f"code cell {index} has no output")
        for output in outputs:
            if output["output_type"] == "error":
                found.append(f"code cell {index} has an error output: {output.get('ename')}")
            if (
                output["output_type"] == "stream"
                and output.get("name") == "stderr"
                and "Traceback" in "".join(output.get("text", ""))
            ):
                found.append(f"code cell {index} printed a traceback")
            images += any(kind in output.get("data", {}) for kind in ("image/png", "image/jpeg"))
    if images == 0:
        found.append("no image output")
    return found


def test_the_issue_names_every_notebook() -> None:
    assert tuple(path.stem for path in NOTEBOOKS) == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_saved_with_its_outputs(path: Path) -> None:
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size} bytes: keep the pictures small"
    assert problems(json.loads(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_saved_without_outputs_fails_the_check(path: Path) -> None:
    """The check above can fail: the same notebook with its outputs cleared (or an error added) is caught."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
    assert "no image output" in problems(notebook)
    assert any("has no output" in problem for problem in problems(notebook))
    errored = json.loads(path.read_text(encoding="utf-8"))
    first_code = next(cell for cell in errored["cells"] if cell["cell_type"] == "code")
    first_code["outputs"].append({"output_type": "error", "ename": "ValueError", "evalue": "", "traceback": []})
    assert any("error output" in problem for problem in problems(errored))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_metadata_is_free_of_run_details(path: Path) -> None:
    """``make notebooks`` strips timings and versions so that a rerun's diff shows only what changed."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert "version" not in notebook["metadata"].get("language_info", {})
    assert all("execution" not in cell.get("metadata", {}) for cell in notebook["cells"])


def test_photo_notebook_falls_back_without_the_shared_fixtures(tmp_path: Path) -> None:
    """On a fresh checkout without ../shared, 03_your_photos runs on its fallbacks and says so."""
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    checkout = tmp_path / "checkout"  # a repository root with no ../shared/fixtures next to it
    (checkout / "examples").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("", encoding="utf-8")
    notebook = nbformat.read(EXAMPLES / "03_your_photos.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(checkout / "examples")}}
    )
    client.execute()
    printed = "".join(
        "".join(output.get("text", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream"
    )
    assert "absent: using the fallbacks" in printed
    assert "fallback: a freshly initialised official generator" in printed
    assert "fallback: a synthetic face pasted onto" in printed
    assert problems(json.loads(nbformat.writes(notebook))) == []
