"""``ganimation prepare``: build the AU table of a folder of face images, or a whole training set from raw photos.

Two modes:

* ``ganimation prepare FOLDER --csv-dir CSVS``: read OpenFace's per-image CSVs (``FaceLandmarkImg -aus``) and write
  ``aus.csv`` next to the image folder, accounting for every image: kept, no face, missing crop, low confidence,
  unreadable CSV or image.
* ``ganimation prepare --align RAW OUT``: find every face in every photo of RAW (subfolders included; files that
  cannot be decoded are counted and skipped), align each like the training crops and write it to ``OUT/imgs/``
  as ``<photo stem>_<face number>.png`` (``--size`` px, 128 by default), with ``OUT/manifest.csv`` (source
  photo, face number, box, confidence, landmarks, transform). It reports photos with no face and with several
  (all written, unless ``--largest`` or ``--face N``). With ``--openface-bin PATH`` it then runs OpenFace's
  ``FaceLandmarkImg -fdir OUT/imgs -out_dir OUT/openface -aus`` and writes ``OUT/aus.csv``, so that
  ``ganimation train OUT`` reads OUT as it is. Finding faces needs the optional extra
  ``pip install 'ganimation_lib[faces]'``.

Exit status: 0 when rows (or, without OpenFace, crops) were written, 1 when none was, 2 on an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..aus import AU_NAMES, check_au_names
from ..data.openface_runner import OpenFaceRunError, check_openface_binary, run_face_landmark_img
from ..data.prepare import prepare_openface
from ..faces.dlib_finder import DlibFaceFinder, FacesExtraMissingError
from ..faces.training_crops import IMAGES_FOLDER, align_folder
from .help_text import terminal_text

__all__ = ["register", "run"]

_POLICIES = ("first", "most_confident")
OPENFACE_FOLDER = "openface"


def _face(text: str) -> str | int:
    """``--face``: an OpenFace face policy, or a whole number (a photo's face, with --align)."""
    if text in _POLICIES:
        return text
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not one of {', '.join(_POLICIES)} or a face number N (with --align)"
        ) from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"the face number must be 0 or more (0 is the leftmost), got {number}")
    return number


def register(subparsers: Any) -> None:
    """Add the ``prepare`` sub-command."""
    parser = subparsers.add_parser(
        "prepare",
        help="write the AU table (aus.csv) of an image folder from OpenFace CSVs, or crop raw photos (--align)",
        description=terminal_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "folder", metavar="FOLDER", help="folder of input images (the ones OpenFace was run on); with --align, RAW"
    )
    parser.add_argument("out", metavar="OUT", nargs="?", help="with --align: the output folder (the training set)")
    parser.add_argument("--csv-dir", default=None, help="where OpenFace wrote <stem>.csv (default: FOLDER)")
    parser.add_argument("--crops", default=None, help="folder of face crops named <stem>.<ext> to train on")
    parser.add_argument("--output", default=None, help="AU table to write (default: aus.csv beside the images)")
    parser.add_argument("--min-confidence", type=float, default=0.5, help="drop faces below it (default 0.5)")
    parser.add_argument(
        "--face",
        type=_face,
        default=None,
        metavar="{first,most_confident,N}",
        help="which face of a multi-face OpenFace CSV: first (default) or most_confident (the default with "
        "--align: a crop is centred on its face); with --align, a number N crops only face N of each photo "
        "(0 is the leftmost; ganimation faces PHOTO lists them)",
    )
    parser.add_argument(
        "--aus", default=",".join(AU_NAMES), help="comma-separated AUs to write (default: the 17 OpenFace AUs)"
    )
    parser.add_argument("--no-verify", action="store_true", help="do not open images to find corrupt ones")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    align = parser.add_argument_group("from raw photos (--align RAW OUT)")
    align.add_argument(
        "--align", action="store_true", help="find, align and crop every face of the photos in RAW into OUT/imgs"
    )
    align.add_argument("--size", type=int, default=128, help="the crops' side in pixels (default 128)")
    align.add_argument("--largest", action="store_true", help="crop only the largest face of each photo")
    align.add_argument(
        "--min-face-size", type=float, default=0, metavar="PX", help="leave out faces narrower than PX pixels"
    )
    align.add_argument(
        "--upsample",
        type=int,
        default=1,
        help="times a photo is doubled before detection: 0 finds faces from about 80 px wide, 1 (default) from "
        "40 px, 2 from 20 px, each about four times slower",
    )
    align.add_argument("--no-recursive", action="store_true", help="read only the photos directly in RAW")
    align.add_argument(
        "--openface-bin",
        metavar="PATH",
        default=None,
        help="OpenFace's FaceLandmarkImg: run it over OUT/imgs (CSVs in OUT/openface) and write OUT/aus.csv",
    )
    parser.set_defaults(func=run)


def _au_names(args: argparse.Namespace) -> list[str]:
    return [name.strip() for name in args.aus.split(",") if name.strip()]


def run(args: argparse.Namespace) -> int:
    """Run ``prepare``; exit code 0 when at least one image was kept, 1 otherwise."""
    if args.align:
        return _run_align(args)
    if args.out is not None:
        raise ValueError(f"a second folder ({args.out!r}) is the output of --align RAW OUT; add --align, or drop it")
    for option in ("openface_bin", "largest", "no_recursive"):
        if getattr(args, option):
            raise ValueError(f"--{option.replace('_', '-')} goes with --align RAW OUT")
    if isinstance(args.face, int):
        raise ValueError(f"--face {args.face} (a photo's face) goes with --align; without it: first or most_confident")
    summary = prepare_openface(
        args.folder,
        csv_dir=args.csv_dir,
        crops=args.crops,
        output=args.output,
        au_names=_au_names(args),
        min_confidence=args.min_confidence,
        face_policy=args.face or "first",
        verify_images=not args.no_verify,
        progress=not args.quiet,
    )
    print(summary)
    return 0 if summary.kept else 1


def _run_align(args: argparse.Namespace) -> int:
    """``prepare --align RAW OUT [--openface-bin PATH]``."""
    if args.out is None:
        raise ValueError("--align needs two folders: the photos and the output, e.g. prepare --align raw/ data/")
    for option in ("csv_dir", "crops", "output"):
        if getattr(args, option) is not None:
            raise ValueError(
                f"--{option.replace('_', '-')} does not go with --align: the crops, CSVs and AU table are written "
                f"to OUT ({IMAGES_FOLDER}/, {OPENFACE_FOLDER}/, aus.csv)"
            )
    if args.largest and isinstance(args.face, int):
        raise ValueError("give either --face N or --largest, not both")
    au_names = check_au_names(_au_names(args))  # checked before the photos are read, not after
    out = Path(args.out)
    try:
        binary = None if args.openface_bin is None else check_openface_binary(args.openface_bin)
        finder = DlibFaceFinder(upsample=args.upsample)
    except (OpenFaceRunError, FacesExtraMissingError) as error:  # before any photo is read
        print(f"ganimation prepare: error: {error}", file=sys.stderr)
        return 2
    report = align_folder(
        args.folder,
        out,
        size=args.size,
        finder=finder,
        face_index=args.face if isinstance(args.face, int) else None,
        largest=args.largest,
        min_face_size=args.min_face_size,
        recursive=not args.no_recursive,
        progress=not args.quiet,
    )
    print(report)
    if not report.faces_written:
        return 1
    images, csvs = out / IMAGES_FOLDER, out / OPENFACE_FOLDER
    if binary is None:
        print(
            f"next: measure the AUs with OpenFace (FaceLandmarkImg -fdir {images} -out_dir {csvs} -aus), then "
            f"ganimation prepare {images} --csv-dir {csvs}; or rerun with --openface-bin PATH"
        )
        return 0
    print(f"running OpenFace over {report.faces_written} crops: {binary}")
    try:
        run_face_landmark_img(binary, images, csvs)
    except OpenFaceRunError as error:
        print(f"ganimation prepare: error: {error}", file=sys.stderr)
        return 2
    summary = prepare_openface(
        images,
        csv_dir=csvs,
        au_names=au_names,
        min_confidence=args.min_confidence,
        face_policy="most_confident" if args.face is None or isinstance(args.face, int) else args.face,
        verify_images=not args.no_verify,
        progress=not args.quiet,
    )
    print(summary)
    if summary.kept:
        print(f"the training set is ready: ganimation train {out}")
    return 0 if summary.kept else 1
