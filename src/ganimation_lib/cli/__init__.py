"""The ``ganimation`` command line: one sub-command per module in this package.

Each sub-command module exposes ``register(subparsers)``, which adds its parser and sets ``func`` to a
function taking the parsed namespace and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import OutputWriteError
from ..version import __version__

__all__ = ["build_parser", "main"]

# Sub-command modules, in the order ``ganimation --help`` lists them.
_COMMANDS: tuple[str, ...] = (
    "prepare",
    "synthetic",
    "convert",
    "train",
    "evaluate",
    "faces",
    "edit",
    "animate",
    "export",
    "app",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``ganimation`` argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="ganimation",
        description="GANimation: prepare AU data, train, convert checkpoints, edit and animate faces.",
    )
    parser.add_argument("--version", action="version", version=f"ganimation_lib {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        module = importlib.import_module(f".{name}", __name__)
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"ganimation {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OutputWriteError as error:  # a full disk or a read-only folder: the message names path and cause
        print(f"ganimation {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"ganimation {args.command}: interrupted", file=sys.stderr)
        return 130
    return code
