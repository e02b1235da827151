"""``ganimation demo``: train a small model on synthetic faces and write an animation (not built yet)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser("demo", help="train a small model on synthetic faces and animate it")
    parser.add_argument("--output", default="demo_output", help="folder for the grid and GIF")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Say plainly that the demo is not available yet."""
    print(
        "ganimation demo: not available yet. The demo needs the Trainer and the synthetic faces, which are "
        "still being built; until then see the README for what the library does today.",
        file=sys.stderr,
    )
    return 1
