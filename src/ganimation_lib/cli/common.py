"""What the commands that run a generator share: the MODEL/IMAGE/face arguments, and loading both.

``ganimation edit`` and ``ganimation animate`` take the same arguments (`add_common_arguments`) and
load the same way (`load_generator`, `open_image`, `parse_box`, `face_options`); ``ganimation evaluate``
loads its generator with `load_generator` too.

Which part of the image is edited: ``--box`` edits that box; ``--whole-image`` the whole image as one face (an
aligned crop); otherwise every face the built-in finder finds (``--face N``, ``--largest`` and
``--min-face-size`` choose among them). Without the ``faces`` extra that default falls back to the whole image,
as before faces were found, with a note that says what to install.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from typing import Literal, TypedDict

from PIL import Image

from ..data.image_io import open_image as open_upright
from ..devices import resolve_device
from ..faces.dlib_finder import INSTALL_HINT, DlibFaceFinder, FacesExtraMissingError
from ..faces.face import FaceFinder
from ..inference.face_box import parse_box_text
from ..models.convert import load_checkpoint
from ..models.generator import Generator

__all__ = [
    "FaceChoice",
    "FaceOptions",
    "add_common_arguments",
    "add_loading_arguments",
    "face_options",
    "load_generator",
    "open_image",
    "parse_box",
]


def parse_box(text: str | None) -> tuple[int, int, int, int] | None:
    """Parse ``--box LEFT,TOP,RIGHT,BOTTOM`` (pixels).

    Examples:
        >>> parse_box("10, 20,110,120"), parse_box("10.7,20,110,120.2")
        ((10, 20, 110, 120), (11, 20, 110, 120))
    """
    if text is None:
        return None
    return parse_box_text(
        text, f"--box {text!r} must be four pixel numbers LEFT,TOP,RIGHT,BOTTOM, e.g. --box 120,80,280,240"
    )


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """MODEL, IMAGE, the face box, device and checkpoint options."""
    parser.add_argument(
        "model", metavar="MODEL", help="a saved model directory (save_pretrained) or a checkpoint file (.pth, ...)"
    )
    parser.add_argument(
        "image", metavar="IMAGE", help="a photo (every face found is edited) or a face crop (any image Pillow reads)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--box",
        metavar="LEFT,TOP,RIGHT,BOTTOM",
        help="edit this face box as it is, in pixels, instead of finding the faces; pixels outside it are left "
        "unchanged",
    )
    where.add_argument(
        "--whole-image",
        action="store_true",
        help="edit the whole image as one face (an aligned crop like the training data) instead of finding faces",
    )
    parser.add_argument(
        "--face",
        type=int,
        default=None,
        metavar="N",
        help="edit only face N of those found (0 is the leftmost; ganimation faces IMAGE lists them)",
    )
    parser.add_argument("--largest", action="store_true", help="edit only the largest face found")
    parser.add_argument(
        "--min-face-size",
        type=float,
        default=0.0,
        metavar="PX",
        help="skip faces narrower than PX pixels (applied before --face and --largest)",
    )
    parser.add_argument(
        "--feather",
        type=float,
        default=0.1,
        help="blend width at the edges, as a fraction of the box's side or of the aligned face crop's (0-0.5)",
    )
    add_loading_arguments(parser)


def add_loading_arguments(parser: argparse.ArgumentParser) -> None:
    """``--device`` and ``--image-size``: how `load_generator` loads MODEL."""
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


class FaceChoice(TypedDict):
    """The keyword arguments of ``edit``/``animate``/``edit_video`` that choose among the faces found."""

    finder: FaceFinder | None
    face_index: int | None
    largest: bool
    min_face_size: float


@dataclass(frozen=True)
class FaceOptions:
    """Which part of the image to edit, as ``edit``/``animate`` take it: a box, found faces, or the whole image."""

    box: tuple[int, int, int, int] | None = None
    faces: Literal["auto"] | None = None
    finder: FaceFinder | None = None
    face_index: int | None = None
    largest: bool = False
    min_face_size: float = 0.0

    def choice(self) -> FaceChoice:
        """The face choice as keyword arguments (``**where.choice()``)."""
        return FaceChoice(
            finder=self.finder, face_index=self.face_index, largest=self.largest, min_face_size=self.min_face_size
        )


def face_options(args: argparse.Namespace, command: str) -> FaceOptions:
    """``--box``, ``--whole-image`` or the faces found (``--face``, ``--largest``, ``--min-face-size``).

    Without the ``faces`` extra, the default (no ``--box``, no ``--whole-image``) edits the whole image and
    prints a note saying so on stderr; a face choice then is an error naming what to install.

    Raises:
        ValueError: If a face choice is combined with ``--box`` or ``--whole-image``, is out of range, or needs
            the missing extra.
    """
    choice = [flag for flag, on in (("--face", args.face is not None), ("--largest", args.largest),
                                     ("--min-face-size", args.min_face_size != 0)) if on]  # fmt: skip
    box = parse_box(args.box)
    if choice and (box is not None or args.whole_image):
        raise ValueError(f"{', '.join(choice)} choose among the faces found; leave out --box and --whole-image")
    if args.face is not None and args.largest:
        raise ValueError("give --face N or --largest, not both")
    if args.face is not None and args.face < 0:
        raise ValueError(f"--face must be 0 or more (0 is the leftmost face), got {args.face}")
    if not math.isfinite(args.min_face_size) or args.min_face_size < 0:
        raise ValueError(f"--min-face-size must be a number of pixels >= 0, got {args.min_face_size}")
    if box is not None or args.whole_image:
        return FaceOptions(box=box)
    try:
        finder = DlibFaceFinder()
    except FacesExtraMissingError as error:
        if choice:
            raise ValueError(f"{', '.join(choice)} need the faces found: {error}") from None
        print(
            f"ganimation {command}: note: the faces extra is not installed, so the whole image is edited as one face "
            f"({INSTALL_HINT} finds the faces in a photo; --whole-image or --box says what to edit and silences "
            "this note)",
            file=sys.stderr,
        )
        return FaceOptions()
    return FaceOptions(
        faces="auto", finder=finder, face_index=args.face, largest=args.largest, min_face_size=args.min_face_size
    )
