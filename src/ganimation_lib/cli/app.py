"""``ganimation app MODEL``: the interactive editor in the browser (a slider per AU, presets, animation).

MODEL is anything ``ganimation edit`` takes: a saved-model folder or a checkpoint file. The page opens on
http://127.0.0.1:7860 (this machine only; ``--host 0.0.0.0`` exposes it to the network) and runs offline: no
telemetry, no share link, no fonts or scripts from elsewhere. Without ``--photo`` it offers built-in synthetic
faces to edit. Needs ``pip install 'ganimation_lib[app]'`` (Gradio); with the ``faces`` extra it finds the faces
in a photo.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..app.extra import AppExtraMissingError, require_gradio
from .common import add_loading_arguments, load_generator, open_image
from .help_text import terminal_text

__all__ = ["register", "run"]


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--port {text!r} must be a number from 1 to 65535") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"--port {port} must be from 1 to 65535")
    return port


def register(subparsers: Any) -> None:
    """Add the ``app`` sub-command."""
    parser = subparsers.add_parser(
        "app",
        help="the interactive editor in the browser: a slider per AU, presets, animation (needs the app extra)",
        description=terminal_text(__doc__),
    )
    parser.add_argument(
        "model",
        metavar="MODEL",
        nargs="?",  # so that a missing MODEL gets a message that says what to pass, not argparse's bare one
        help="a saved model directory (save_pretrained) or a checkpoint file (.pth, ...)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="the address to bind (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=_port, default=7860, help="the port (default 7860)")
    parser.add_argument("--photo", metavar="IMAGE", default=None, help="a picture to open the page with")
    add_loading_arguments(parser)
    parser.set_defaults(func=run, app_usage=parser.format_usage())


def run(args: argparse.Namespace) -> int:
    """Load MODEL, build the page and serve it until interrupted."""
    if args.model is None:
        print(args.app_usage, end="", file=sys.stderr)
        raise ValueError(
            "say which model to edit with: ganimation app MODEL, where MODEL is a saved-model folder (ganimation "
            "demo writes one to demo_output/generator) or a checkpoint file"
        )
    try:
        require_gradio()  # before the model loads: a missing extra should not wait for it
    except AppExtraMissingError as error:  # an ImportError: said as a command-line error, exit code 2
        raise ValueError(str(error)) from None
    if args.photo is not None:
        open_image(args.photo)  # a typo or a file that is not an image is said now, not in the page
    generator = load_generator(args)

    from ..app.page import build_app
    from ..app.serve import launch_app

    blocks = build_app(generator, photo=args.photo)
    try:
        url = launch_app(blocks, host=args.host, port=args.port, block=False, quiet=True)
    except OSError as error:  # the port is taken, or the host is not an address of this machine
        raise ValueError(f"cannot serve on {args.host}:{args.port}: {error}; choose another --port or --host") from None
    print(f"ganimation app: serving {args.model} on {url} (Ctrl+C stops it)", flush=True)
    blocks.block_thread()  # until Ctrl+C, which closes the server
    return 0
