"""``ganimation faces``: find the faces in a photo, print their boxes and scores, and draw them if asked.

The boxes are printed as LEFT,TOP,RIGHT,BOTTOM in pixels, the form ``ganimation edit --box`` takes. It needs the
optional extra ``pip install 'ganimation_lib[faces]'``. Exit status: 0 when faces were found, 1 when none was,
2 on an error (such as the extra not being installed).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..faces.dlib_finder import DETECTOR_WINDOW, DlibFaceFinder, FacesExtraMissingError
from ..faces.drawing import draw_faces
from ..inference.writers import save_image
from .common import open_image
from .help_text import terminal_text

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``faces`` sub-command."""
    parser = subparsers.add_parser(
        "faces",
        help="find the faces in a photo and print their boxes",
        description=terminal_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("image", metavar="IMAGE", help="the photo (any image Pillow reads)")
    parser.add_argument("--save", metavar="PATH", help="also write the photo with boxes and landmarks drawn")
    parser.add_argument(
        "--upsample",
        type=int,
        default=1,
        help="times the photo is doubled before detection: 0 finds faces from about 80 px wide, 1 (default) "
        "from 40 px, 2 from 20 px, each about four times slower",
    )
    parser.add_argument(
        "--detect-size",
        type=int,
        default=1024,
        help="a photo whose longer side is above this many pixels is scaled down to it for detection (faster; "
        "the face sizes of --upsample are then in the scaled photo); 0 detects at full size (default 1024)",
    )
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=0.0,
        help="drop faces scoring below this (the detector's margin; clear faces score 1 or more; default 0)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Find the faces in IMAGE, print one line per face, and write the drawing if ``--save`` is given."""
    image = open_image(args.image)
    if args.upsample < 0:
        raise ValueError(f"--upsample must be 0 or more, got {args.upsample}")
    if args.detect_size < 0 or 0 < args.detect_size < DETECTOR_WINDOW:
        raise ValueError(
            f"--detect-size must be 0 (full size) or at least {DETECTOR_WINDOW} pixels, got {args.detect_size}"
        )
    detect_size = args.detect_size or None
    try:
        finder = DlibFaceFinder(upsample=args.upsample, min_confidence=args.min_confidence, detect_size=detect_size)
    except FacesExtraMissingError as error:
        print(f"ganimation faces: error: {error}", file=sys.stderr)
        return 2
    faces = finder(image)
    width, height = image.size
    smallest = finder.smallest_face(width, height)
    if faces:
        print(f"{args.image} ({width}x{height}): {len(faces)} face{'s' if len(faces) > 1 else ''}, left to right")
    else:
        print(
            f"{args.image} ({width}x{height}): no face found. The finder sees faces that look roughly towards the "
            f"camera and are at least {smallest} px wide here (--upsample {args.upsample}, --detect-size "
            f"{args.detect_size}); try --upsample 2 or --detect-size 0 for small faces, or give the face yourself "
            "with ganimation edit --box"
        )
    for index, face in enumerate(faces):
        left, top, right, bottom = face.int_box()
        print(
            f"face {index}: box {left},{top},{right},{bottom} ({right - left}x{bottom - top} px), "
            f"confidence {face.confidence:.2f}"
        )
    if args.save:
        path = save_image(draw_faces(image, faces), args.save)
        print(f"wrote {path} (boxes red, eyes green, nose yellow, mouth corners magenta; rings are estimated)")
    return 0 if faces else 1
