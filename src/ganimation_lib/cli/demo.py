"""``ganimation demo``: train a small GANimation on synthetic faces (CPU, a few minutes) and animate a face."""

from __future__ import annotations

import argparse
import os
from typing import Any

import torch

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo",
        help="train a small model on synthetic faces and animate it",
        description="Train a 32 px GANimation on built-in synthetic faces on CPU, then write a sample grid, a "
        "comparison with the true faces, an animated GIF and the trained generator.",
    )
    parser.add_argument("--output", default="demo_output", help="folder for the results (default demo_output)")
    parser.add_argument(
        "--time",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after this many seconds instead (the model then depends on the machine's speed)",
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="iterations to train (default: the measured recipe's, 1300)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for PyTorch (default: up to 2, the demo's measured setting)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print where everything is and the validation figures at the start and the end."""
    from ..demo import DEMO_STEPS, describe, run_demo

    threads = args.threads if args.threads is not None else min(2, os.cpu_count() or 1)
    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    if args.time is not None and args.time <= 0:
        raise ValueError(f"--time must be > 0 seconds, got {args.time}")
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    steps = args.steps if args.steps is not None or args.time is not None else DEMO_STEPS
    result = run_demo(args.output, max_steps=steps, max_time=args.time, seed=args.seed, progress=not args.no_progress)
    print(describe(result))
    return 0
