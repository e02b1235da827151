"""``ganimation export MODEL OUT.onnx``: write a generator as an ONNX file, to run it without PyTorch.

MODEL is anything ``ganimation edit`` takes: a saved-model folder or a checkpoint file (official, replicate or
this library's; a training checkpoint gives its EMA weights). The file takes ``face`` (B, 3, H, W) in [-1, 1]
and ``aus`` (B, num_aus), OpenFace intensities divided by 5, and returns ``image``, ``attention`` and ``color``
(and ``flow`` for a warping generator); the AU names and scale, the ranges and the config are in its metadata.
Needs ``pip install 'ganimation_lib[onnx]'``.

Examples:
    >>> import tempfile
    >>> from ganimation_lib import Generator, GeneratorConfig
    >>> from ganimation_lib.cli import main
    >>> folder = tempfile.mkdtemp()
    >>> _ = Generator(GeneratorConfig(image_size=32, conv_dim=4, num_residual_blocks=1)).save_pretrained(folder + "/g")
    >>> main(["export", folder + "/g", folder + "/g.onnx", "--quiet"])
    0
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..models.onnx_contract import INPUT_NAMES, output_names_for
from ..models.onnx_export import DEFAULT_OPSET, OnnxExtraMissingError, export_onnx
from .common import load_generator
from .help_text import terminal_text

__all__ = ["register", "run"]


def _au_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"--au-names {text!r} holds no names; pass e.g. AU01,AU02,AU04")
    return names


def register(subparsers: Any) -> None:
    """Add the ``export`` sub-command."""
    parser = subparsers.add_parser(
        "export",
        help="write a generator as an ONNX file (onnxruntime, C++, mobile, browser)",
        description=terminal_text(__doc__.split("\n\nExamples:")[0]) if __doc__ else None,
    )
    parser.add_argument(
        "model", metavar="MODEL", help="a saved model directory (save_pretrained) or a checkpoint file (.pth, ...)"
    )
    parser.add_argument("output", metavar="OUT", type=Path, help="the ONNX file to write (ending in .onnx)")
    parser.add_argument(
        "--opset",
        type=int,
        default=DEFAULT_OPSET,
        help=f"the ONNX opset (default {DEFAULT_OPSET}, the lowest that works)",
    )
    parser.add_argument("--fixed-batch", action="store_true", help="batch size 1 only (default: any batch size)")
    parser.add_argument(
        "--fixed-size",
        action="store_true",
        help="only images of the model's training size (default: any H and W that are multiples of the "
        "downsampling step; a warping generator always has a fixed size)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="the model's training size, for checkpoint files that do not record it (default 128); also the size "
        "the graph is traced at",
    )
    parser.add_argument(
        "--au-names",
        type=_au_names,
        default=None,
        help="comma-separated AU names for the metadata, in vector order (default: the model's, or the 17 OpenFace "
        "AUs when it takes 17)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    parser.set_defaults(func=run, device="cpu")


def run(args: argparse.Namespace) -> int:
    """Export MODEL to ``args.output``."""
    output: Path = args.output
    if output.exists() and not args.overwrite:
        raise FileExistsError(f"{output} already exists; pass --overwrite to replace it or choose another OUT")
    generator = load_generator(args)
    try:
        path = export_onnx(
            generator,
            output,
            opset=args.opset,
            dynamic_batch=not args.fixed_batch,
            dynamic_size=False if args.fixed_size else None,
            au_names=args.au_names,
            overwrite=args.overwrite,
        )
    except OnnxExtraMissingError as error:  # an ImportError: said as a command-line error, exit code 2
        raise ValueError(str(error)) from None
    if not args.quiet:
        config = generator.config
        fixed = args.fixed_size or config.warp_range is not None
        size = f"{config.image_size}, {config.image_size}" if fixed else "H, W"
        print(f"wrote {path} (opset {args.opset}, {path.stat().st_size / 2**20:.1f} MiB)")
        face, aus = INPUT_NAMES
        print(f"  inputs: {face} (B, 3, {size}) in [-1, 1], {aus} (B, {config.num_aus}) = OpenFace intensity / 5")
        print(f"  outputs: {', '.join(output_names_for(config))}; the contract is in the metadata (ganimation.*)")
    return 0
