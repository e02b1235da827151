"""Execute the example notebooks in place and save them with their outputs (``make notebooks``).

Each notebook runs in a fresh kernel with its own folder as the working directory, one thread and a fixed
hash seed (the notebooks seed torch themselves), so a rerun gives the same pictures. Volatile metadata
(execution timings, the Python version) is stripped so that a diff shows only what changed.

Usage: ``python examples/run_notebooks.py [NOTEBOOK ...]`` (default: every ``examples/*.ipynb``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbclient
import nbformat

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 600


def strip_volatile(notebook: nbformat.NotebookNode) -> None:
    """Drop what changes on every run without changing what the reader sees."""
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)


def run(path: Path) -> float:
    """Execute ``path`` in place; return the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    began = time.perf_counter()
    client = nbclient.NotebookClient(
        notebook, timeout=TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    seconds = time.perf_counter() - began
    strip_volatile(notebook)
    nbformat.write(notebook, path)
    return seconds


def main(argv: list[str]) -> int:
    # The kernel inherits this environment: stable hashing, and one thread so a run is repeatable and small.
    os.environ["PYTHONHASHSEED"] = "0"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    paths = [Path(a).resolve() for a in argv] or sorted(HERE.glob("*.ipynb"))
    for path in paths:
        seconds = run(path)
        size = path.stat().st_size
        print(f"{path.name}: executed in {seconds:.0f} s, {size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
