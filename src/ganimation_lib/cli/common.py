"""What the commands that run a generator share: the MODEL/IMAGE/box arguments, and loading both.

``ganimation edit`` and ``ganimation animate`` take the same arguments (`add_common_arguments`) and
load the same way (`load_generator`, `open_image`, `parse_box`); ``ganimation evaluate``
loads its generator with `load_generator` too.
"""

from __future__ import annotations

import argparse
import math

from PIL import Image

from ..data.image_io import open_image as open_upright
from ..devices import resolve_device
from ..models.convert import load_checkpoint
from ..models.generator import Generator

__all__ = ["add_common_arguments", "load_generator", "open_image", "parse_box"]


def parse_box(text: str | None) -> tuple[int, int, int, int] | None:
    """Parse ``--box LEFT,TOP,RIGHT,BOTTOM`` (pixels).

    Examples:
        >>> parse_box("10, 20,110,120"), parse_box("10.7,20,110,120.2")
        ((10, 20, 110, 120), (11, 20, 110, 120))
    """
    if text is None:
        return None
    message = f"--box {text!r} must be four pixel numbers LEFT,TOP,RIGHT,BOTTOM, e.g. --box 120,80,280,240"
    try:
        values = [float(p.strip()) for p in text.split(",")]
    except ValueError:
        raise ValueError(message) from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValueError(message)
    # Rounded like edit()'s own boxes (int() would truncate 10.7 to 10 where the library gives 11).
    left, top, right, bottom = (round(v) for v in values)
    return left, top, right, bottom


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """MODEL, IMAGE, the face box, device and checkpoint options."""
    parser.add_argument(
        "model", metavar="MODEL", help="a saved model directory (save_pretrained) or a checkpoint file (.pth, ...)"
    )
    parser.add_argument("image", metavar="IMAGE", help="the face (any image Pillow reads)")
    parser.add_argument(
        "--box",
        metavar="LEFT,TOP,RIGHT,BOTTOM",
        help="the face in a larger photo, in pixels; pixels outside it are left unchanged",
    )
    parser.add_argument(
        "--feather", type=float, default=0.1, help="blend width at the box edges, fraction of its side (0-0.5)"
    )
    parser.add_argument("--device", default="auto", help="'auto' (CUDA when available), 'cpu' or 'cuda:N'")
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="the model's training size, for checkpoint files that do not record it (default 128)",
    )


def load_generator(args: argparse.Namespace) -> Generator:
    """Load MODEL as a generator on ``--device`` (EMA weights when a training checkpoint holds them)."""
    device = resolve_device(args.device)
    model = load_checkpoint(args.model, kind="generator", map_location=device, image_size=args.image_size)
    if not isinstance(model, Generator):  # kind="generator" guarantees it; keeps the type checker honest
        raise ValueError(f"{args.model} does not hold a generator")
    return model


def open_image(path: str) -> Image.Image:
    """Open IMAGE fully (so the file is closed), upright, or say clearly that it is not an image.

    The library's `open_image`: a camera photo's EXIF orientation is
    applied, as image viewers do (``--box`` is given in the pixels a viewer shows, and the edited file,
    written without the tag, must look the same way up); 16-bit images keep their levels; images above
    50 megapixels and files that do not decode are refused with a ``ValueError`` naming the file.
    """
    return open_upright(path)
