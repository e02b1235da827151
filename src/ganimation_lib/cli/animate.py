"""``ganimation animate``: animate the faces of a photo through expressions, or make them follow an AU sequence."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from ..faces.selection import NoFaceFoundError
from ..inference.animate import animate
from ..inference.expression_targets import EASINGS, Expression
from ..inference.writers import save_animation
from .common import add_common_arguments, face_options, load_generator, open_image

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``animate`` sub-command."""
    parser = subparsers.add_parser(
        "animate",
        help="animate the faces of a photo through expressions or along an AU sequence (GIF, MP4, PNG frames)",
        description="Animate the faces of a photo: ganimation animate MODEL IMAGE --keyframes neutral,happy,surprise "
        "-o out.gif. Every face the built-in finder finds (pip install 'ganimation_lib[faces]') moves through the "
        "same expressions; without the extra, or with --whole-image, the whole image is one face; --box picks one.",
    )
    add_common_arguments(parser)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--keyframes",
        metavar="NAME[:INTENSITY],...",
        help="expression presets to move through, e.g. neutral,happy:0.8,surprise",
    )
    what.add_argument(
        "--drive",
        metavar="FILE",
        help="an AU sequence to follow, one frame per row: an OpenFace sequence CSV or an attributes.txt",
    )
    parser.add_argument("--frames", type=int, default=None, help="frames per transition between keyframes (16)")
    parser.add_argument(
        "--easing", choices=list(EASINGS), default=None, help="interpolation between keyframes (linear)"
    )
    parser.add_argument("--intensity", type=float, default=None, help="intensity of keyframes given without one (1)")
    parser.add_argument("--smooth", type=int, default=0, help="moving-average window over time, in frames")
    parser.add_argument("--duration", type=float, default=80.0, help="milliseconds per frame")
    parser.add_argument("--loop", type=int, default=0, help="GIF repeats: 0 forever")
    parser.add_argument("--batch-size", type=int, default=16, help="frames per generator forward")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "-o", "--output", required=True, help="out.gif, out.mp4 (needs PyAV) or a folder name for PNG frames"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the model, render the frames in batches and write them."""
    output = Path(args.output)
    if output.suffix.lower() == ".mp4" and importlib.util.find_spec("av") is None:
        raise ValueError("MP4 output needs PyAV: pip install 'ganimation_lib[video]' (or write a .gif or a PNG folder)")
    if output.suffix.lower() not in ("", ".gif", ".mp4"):
        raise ValueError(f"-o {args.output}: use a .gif or .mp4 file, or a folder name (no suffix) for PNG frames")
    keyframes = None
    if args.keyframes is not None:
        names = [k.strip() for k in args.keyframes.split(",") if k.strip()]
        intensity = 1.0 if args.intensity is None else args.intensity
        keyframes = [Expression.parse(name, intensity=intensity) for name in names]
    else:
        ignored = [flag for flag, value in (("--frames", args.frames), ("--easing", args.easing),
                                            ("--intensity", args.intensity)) if value is not None]  # fmt: skip
        if ignored:
            raise ValueError(f"{', '.join(ignored)} shape keyframe animations; --drive plays one frame per row")
    drive = args.drive
    if drive is not None and not Path(drive).is_file():
        raise FileNotFoundError(f"--drive {drive} does not exist")
    image, where = open_image(args.image), face_options(args, "animate")  # cheap checks before the model loads
    generator = load_generator(args)
    try:
        frames = animate(
            generator,
            image,
            keyframes,
            frames_per_transition=16 if args.frames is None else args.frames,
            easing="linear" if args.easing is None else args.easing,
            drive=drive,
            smooth=args.smooth,
            box=where.box,
            faces=where.faces,
            finder=where.finder,
            face_index=where.face_index,
            largest=where.largest,
            min_face_size=where.min_face_size,
            feather=args.feather,
            batch_size=args.batch_size,
            progress=not args.quiet,
        )
    except NoFaceFoundError as error:
        print(f"ganimation animate: {args.image}: {error}", file=sys.stderr)
        return 1
    path = save_animation(frames, output, duration=args.duration, loop=args.loop)
    print(f"wrote {path} ({len(frames)} frames, {frames[0].size[0]}x{frames[0].size[1]})")
    return 0
