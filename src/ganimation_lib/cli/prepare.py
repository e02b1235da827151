"""``ganimation prepare``: build the AU table of a folder of face images from OpenFace's CSVs."""

from __future__ import annotations

import argparse
from typing import Any

from ..aus import AU_NAMES
from ..data.prepare import prepare_openface

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``prepare`` sub-command."""
    parser = subparsers.add_parser(
        "prepare",
        help="write the AU table (aus.csv) of an image folder from OpenFace CSVs",
        description=(
            "Read OpenFace's per-image CSVs (FaceLandmarkImg -aus) and write aus.csv next to the image folder, "
            "accounting for every image: kept, no face, missing crop, low confidence, unreadable CSV or image."
        ),
    )
    parser.add_argument("folder", help="folder of input images (the ones OpenFace was run on)")
    parser.add_argument("--csv-dir", default=None, help="where OpenFace wrote <stem>.csv (default: FOLDER)")
    parser.add_argument("--crops", default=None, help="folder of face crops named <stem>.<ext> to train on")
    parser.add_argument("--output", default=None, help="AU table to write (default: aus.csv beside the images)")
    parser.add_argument("--min-confidence", type=float, default=0.5, help="drop faces below it (default 0.5)")
    parser.add_argument(
        "--face", choices=("first", "most_confident"), default="first", help="which face of a multi-face CSV"
    )
    parser.add_argument(
        "--aus", default=",".join(AU_NAMES), help="comma-separated AUs to write (default: the 17 OpenFace AUs)"
    )
    parser.add_argument("--no-verify", action="store_true", help="do not open images to find corrupt ones")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``prepare``; exit code 0 when at least one image was kept, 1 otherwise."""
    summary = prepare_openface(
        args.folder,
        csv_dir=args.csv_dir,
        crops=args.crops,
        output=args.output,
        au_names=[name.strip() for name in args.aus.split(",") if name.strip()],
        min_confidence=args.min_confidence,
        face_policy=args.face,
        verify_images=not args.no_verify,
        progress=not args.quiet,
    )
    print(summary)
    return 0 if summary.kept else 1
