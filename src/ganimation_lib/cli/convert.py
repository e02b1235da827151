"""``ganimation convert SRC DST``: import an official / replicate / own checkpoint as a saved-model directory.

Examples:
    >>> import tempfile, torch
    >>> from ganimation_lib import Critic, CriticConfig
    >>> from ganimation_lib.cli import main
    >>> folder = tempfile.mkdtemp()
    >>> torch.save(Critic(CriticConfig(image_size=32, conv_dim=4, depth=4)).state_dict(), folder + "/net_D.pth")
    >>> main(["convert", folder + "/net_D.pth", folder + "/critic", "--quiet"])
    0
    >>> Critic.from_pretrained(folder + "/critic").config.image_size
    32
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..models.convert import import_checkpoint
from ..models.pretrained import CONFIG_NAME, WEIGHTS_NAME

__all__ = ["register", "run"]


def _au_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"--au-names {text!r} holds no names; pass e.g. AU01,AU02,AU04")
    return names


def register(subparsers: Any) -> None:
    """Add the ``convert`` sub-command."""
    parser = subparsers.add_parser(
        "convert",
        help="import an official/replicate/own checkpoint as a save_pretrained directory",
        description=(
            "Read SRC (a .pth/.pt file from albertpumarola/GANimation, donydchen/ganimation_replicate or this "
            "library, a .safetensors file, or a saved-model directory), infer its architecture from the tensor "
            f"shapes and write DST as a directory with {CONFIG_NAME} and {WEIGHTS_NAME}. The file is read with "
            "torch.load(weights_only=True): a pickle that would run code is refused."
        ),
    )
    parser.add_argument("src", metavar="SRC", type=Path, help="the checkpoint to import")
    parser.add_argument("dst", metavar="DST", type=Path, help="the directory to write")
    parser.add_argument(
        "--kind",
        choices=("generator", "critic"),
        default=None,
        help="which network to take (default: detect; needed when SRC holds both)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="the generator's training image size, which its weights do not record (default: 128)",
    )
    parser.add_argument(
        "--au-names",
        type=_au_names,
        default=None,
        help="comma-separated AU names in the order of the AU vector (default: the 17 OpenFace AUs when 17)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace the files of an existing DST")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Convert ``args.src`` into the saved-model directory ``args.dst``."""
    dst: Path = args.dst
    if dst.exists() and not args.overwrite and (not dst.is_dir() or any(dst.iterdir())):
        raise FileExistsError(
            f"{dst} already exists; pass --overwrite to replace its model files or choose another DST"
        )
    if args.image_size is not None and args.image_size < 1:
        raise ValueError(f"--image-size {args.image_size} must be a positive number of pixels, e.g. 128")
    imported = import_checkpoint(args.src, kind=args.kind, image_size=args.image_size)
    imported.model.save_pretrained(dst, au_names=args.au_names)
    if not args.quiet:
        print(f"read {args.src}: {imported.layout} {imported.kind}, {imported.config}")
        for note in imported.notes:
            print(f"  note: {note}")
        print(f"wrote {dst}/{CONFIG_NAME} and {dst}/{WEIGHTS_NAME}")
        print(f"load it with {type(imported.model).__name__}.from_pretrained({str(dst)!r})")
    return 0
